"""What the `ammlab` command groups share: the services the entry point passes down through
click's context object (explicit wiring: nothing is set globally at import)."""

from __future__ import annotations

from typing import Any

import click

from sim.errors import SimError


class Group(click.Group):
    """A command group whose commands' `SimError`s end as one line (a `ClickException`), with
    no stack trace, however the group is invoked."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SimError as err:
            raise click.ClickException(str(err)) from err


def _service(name: str) -> Any:
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(dict) if ctx is not None else None
    return (obj or {}).get(name)


def network_resolver() -> Any:
    """`resolver(network) -> context manager of its RPC URL` for `--network` (Ape's, from
    `ammlab`), or None."""
    return _service("network_resolver")


def chain_reader() -> Any:
    """`reader(manifest or RPC URL, block) -> BookSnapshot` for `--book-from` (the keeper's,
    from `ammlab`), or None."""
    return _service("chain_reader")


scenario_options = [
    click.option("--paths", type=click.IntRange(min=1), default=None, help="Worlds (default: file)."),
    click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed (default: file)."),
    click.option(
        "--set", "overrides", multiple=True, metavar="DOTTED.PATH=VALUE",
        help="Override a scenario field; the value is parsed as a YAML scalar.",
    ),
]  # fmt: skip


def with_scenario_options(fn):
    """Add --paths, --seed and --set (in that order) to a command."""
    for opt in reversed(scenario_options):
        fn = opt(fn)
    return fn

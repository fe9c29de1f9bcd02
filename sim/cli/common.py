"""What the `ammlab` command groups share: the services the entry point passes down through
click's context object (explicit wiring: nothing is set globally at import)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
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


sweep_options = [
    click.option(
        "--replicates", type=click.IntRange(min=1), default=1, show_default=True,
        help="Runs per variant, seeds seed, seed+1, ...",
    ),
    click.option(
        "--workers", type=click.IntRange(min=1), default=None,
        help="Local worker processes (default: CPU count).",
    ),
    click.option(
        "--scheduler", default=None, metavar="tcp://HOST:PORT",
        help="Run on this Dask distributed scheduler instead.",
    ),
]  # fmt: skip


def with_sweep_options(fn):
    """Add --replicates, --workers and --scheduler (in that order) to a command."""
    for opt in reversed(sweep_options):
        fn = opt(fn)
    return fn


def run_sweep_with_progress(name: str, out_dir: Path, run: Callable[..., dict]) -> dict:
    """`run(report, planned)` (`sim.studies.sweep.run_sweep`'s callbacks) under a progress bar
    (on a terminal only), then its one-line summary; a sweep with failed runs ends as one line
    naming where their tracebacks are. Returns `run`'s result."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    bar = tqdm(total=0, unit="run", desc=name, disable=None)

    def planned(to_run: int, done: int) -> None:
        bar.reset(total=to_run)
        if done:
            bar.write(f"{done} run(s) already finished in {out_dir}: resuming")

    def report(res: dict[str, Any]) -> None:
        bar.update(1)
        if res["status"] != "ok":
            bar.write(f"{res['run_id']} failed ({res['seconds']:.1f} s): {res['error']}")

    try:
        r = run(report, planned)
    finally:
        bar.close()
    click.echo(f"{name}: {r['total']} runs, {r['skipped']} already done, {r['ok']} ok, "
               f"{r['failed']} failed in {time.perf_counter() - t0:.1f} s -> {out_dir}")  # fmt: skip
    return r


def raise_if_failed(r: dict, out_dir: Path) -> None:
    """A sweep's failed runs as one line: how many, where their tracebacks are, how to retry."""
    from sim.studies.sweep import FAILED

    if r["failed"]:
        raise click.ClickException(
            f"{r['failed']} run(s) failed; tracebacks and replay bundles in {out_dir / FAILED}; "
            "run the same command again to retry them"
        )

"""`ammlab sim run` (the fast engine or a chain), `ammlab sim replay`, `ammlab bench sim`.

Both backends go through `sim.run.run`. User errors (bad scenario, bad --set, no chain) end
as one line, no stack trace (the entry point prints `SimError`s).
"""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from sim.chain.node import DEFAULT_NETWORK
from sim.cli.common import Group, network_resolver, with_scenario_options
from sim.run import ChainOptions, run_file

CHAIN_ONLY = ("blocks", "network", "rpc", "bundle_dir", "check_every")


@click.group("sim", cls=Group)
def sim_group() -> None:
    """Agent-based simulation of AMM pools (fast engine, or the contracts on a chain)."""


@sim_group.command("run")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_scenario_options
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="Output folder (created).",
)  # fmt: skip
@click.option(
    "--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet",
    show_default=True, help="Table format of worlds/series.",
)  # fmt: skip
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option(
    "--backend", type=click.Choice(["fast", "chain"]), default="fast", show_default=True,
    help="fast: the batch engine; chain: the contracts on anvil with parity every block.",
)  # fmt: skip
@click.option("--blocks", type=int, default=None, help="chain: cut the run to N blocks.")
@click.option(
    "--network", default=None, metavar="ECOSYSTEM:NETWORK:PROVIDER",
    help=f"chain: Ape network of an anvil to run on (default: {DEFAULT_NETWORK} on the local "
    "upstream, as a plain anvil fork; the upstream is started if nothing answers).",
)  # fmt: skip
@click.option("--rpc", default=None, help="chain: RPC URL of a running anvil.")
@click.option(
    "--bundle-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="chain: where a replay bundle goes on divergence (default: OUT/bundles).",
)  # fmt: skip
@click.option("--check-every", type=int, default=1, show_default=True,
              help="chain: parity every N blocks.")  # fmt: skip
def run_cmd(scenario: Path, paths, seed, overrides, out_dir: Path, fmt: str, no_progress: bool,
            backend: str, blocks, network, rpc, bundle_dir, check_every) -> None:  # fmt: skip
    """Run SCENARIO (YAML) and write worlds, series and summary.json to --out.

    With --backend chain: one world through the deployed contracts on anvil (a fork of the
    local upstream unless --rpc/--network), stopping at the first divergence from the exact
    twin with a replay bundle.
    """
    ctx = click.get_current_context()
    given = {k for k in CHAIN_ONLY if ctx.get_parameter_source(k) is not ParameterSource.DEFAULT}
    opts = None
    if backend == "fast":
        if given:
            raise click.UsageError(f"--{sorted(given)[0].replace('_', '-')} needs --backend chain")
    else:
        if ctx.get_parameter_source("fmt") is not ParameterSource.DEFAULT:
            raise click.UsageError("--format applies to the fast backend only")
        if paths not in (None, 1):
            raise click.BadParameter("the chain backend runs one world: --paths 1",
                                     param_hint="--paths")  # fmt: skip
        if network and rpc:
            raise click.BadParameter("give --network or --rpc, not both", param_hint="--rpc")
        # Absolute: connecting Ape to --network moves the working directory to the checkout.
        out_dir = out_dir.resolve()
        opts = ChainOptions(
            network=network, rpc=rpc, resolver=network_resolver(),
            bundle_dir=bundle_dir.resolve() if bundle_dir else None, check_every=check_every,
            blocks=blocks,
            where=rpc or network or f"{DEFAULT_NETWORK} (plain anvil fork of the local upstream)",
        )  # fmt: skip
    out = run_file(scenario, out_dir, paths, seed, overrides, fmt, not no_progress, backend, opts)
    for name, m in out.headline.items():
        click.echo(f"{name}: {m['mean']:.6g} ± {m['se']:.2g} {m['unit']}")
    if out.chain is not None:
        _report_chain(out.chain, out_dir)


def _report_chain(ran, out_dir: Path) -> None:
    from sim.chain.backend import ParityError

    rep = ran.report
    click.echo(
        f"{rep.blocks} blocks, {rep.transactions} tx in {rep.seconds:.2f} s "
        f"({rep.transactions / max(rep.seconds, 1e-9):,.0f} tx/s, "
        f"{rep.blocks / max(rep.seconds, 1e-9):,.1f} blocks/s)"
    )
    for kind, g in rep.gas_summary().items():
        click.echo(f"gas {kind}: {g['count']} tx, mean {g['mean']:,.0f}")
    if rep.divergence is not None:
        raise click.ClickException(str(ParityError(rep.divergence, ran.bundle)))
    click.echo(f"parity: ok at every block; results in {out_dir}")


@sim_group.command("replay")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--rpc", default=None, help="RPC URL of an anvil to load it into (default: private).")
def replay_cmd(bundle: Path, rpc: str | None) -> None:
    """Re-run a replay BUNDLE to its block and show the divergence again."""
    from sim.chain.bundles import read_bundle, replay_bundle
    from sim.chain.parity import Divergence

    _, data = read_bundle(bundle)
    found = replay_bundle(bundle, rpc)
    recorded = Divergence(**data["divergence"])
    if found is None:
        raise click.ClickException(
            f"no divergence at block {recorded.block} any more (recorded: {recorded.describe()})"
        )
    click.echo(found.describe())
    if found != recorded:
        raise click.ClickException(f"a different divergence than recorded: {recorded.describe()}")
    click.echo("reproduced")


@click.group("bench", cls=Group)
def bench_group() -> None:
    """Benchmarks that print figures."""


@bench_group.command("sim")
@click.option("--quick", is_flag=True, help="Smaller runs (a smoke test of the benchmark).")
def bench_sim(quick: bool) -> None:
    """Benchmark the simulator: world-blocks per second and peak memory, as a markdown table."""
    from sim.engine.bench import main

    main(quick=quick)

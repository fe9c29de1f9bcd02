"""`ammlab demo`: the main job, end to end on the embedded defaults."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import click

from sim.chain import node
from sim.cli.chain import bring_up
from sim.errors import ChainError

SCENARIOS = node.PROJECT_ROOT / "scenarios"


@click.command("demo")
@click.option("--calls", default=20.0, show_default=True, type=click.FloatRange(0.1, 200),
              help="ATM calls the trader buys from the options pool before the keeper hedges.")  # fmt: skip
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--worlds", default=1000, show_default=True, type=click.IntRange(min=2),
              help="Worlds of the fast-engine study.")  # fmt: skip
@click.option("--hours", default=6, show_default=True, type=click.IntRange(1, 24),
              help="Simulated hours of the fast-engine study (12 s blocks).")  # fmt: skip
@click.option("--chain-blocks", default=300, show_default=True, type=click.IntRange(10, 10_000),
              help="Blocks of the parity run on the chain.")  # fmt: skip
@click.option("--out", "out_dir", default="runs/demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path, resolve_path=True))  # fmt: skip
@click.option("--keep-chain", is_flag=True, help="Leave the upstream running afterwards.")
@click.pass_context
def demo(
    ctx: click.Context, calls: float, seed: int, worlds: int, hours: int, chain_blocks: int,
    out_dir: Path, keep_chain: bool,
) -> None:  # fmt: skip
    """The main job, end to end on the embedded defaults.

    1. the local upstream chain (AMMLAB_UPSTREAM_RPC, default 127.0.0.1:8645; started with the
       mainnet preset if nothing answers there: the genuine Uniswap V2 and V3 at their mainnet
       addresses, ammlab's options pool and perp beside them), and on a fork of it the live
       keeper hedging an options book and its LP share on the genuine pools (the session the
       entry point hands in: `keeper.session.hedge_session`), every leg at the protocols' own
       quotes;
    2. the options study in the fast engine over many worlds (scenarios/options.yaml: options
       pool, constant-product venues, arbitrageurs, option traders, the keeper on the perp);
    3. the same scenario, one world, on a fork of the upstream through the real contracts
       (options pool, pools, perp, feed) with exact parity at every block;
    4. the HTML report of the study; prints where everything is.
    """
    from sim.atomic import atomic_write_text
    from sim.chain.backend import ParityError
    from sim.run import ChainOptions, run_file
    from sim.studies.report import build_report

    study = SCENARIOS / "options.yaml"
    url = node.upstream_url()
    session = (ctx.obj or {}).get("keeper_session")
    if session is None:
        raise ChainError("`demo` runs from the `ammlab` entry point, which brings the keeper")
    started = False
    click.echo(
        "[1/4] the mainnet preset (genuine Uniswap V2 and V3) and the keeper on a fork of it"
    )
    try:
        node.chain_id_of(url, timeout=1.0)
    except ChainError:
        if not node.is_local_url(url):
            raise
        click.echo(f"starting the local upstream chain at {url} with the mainnet preset...")
        port = urlparse(url).port or node.DEFAULT_PORT
        bring_up(port, Decimal(3000), load=None, deploy=True, preset="mainnet")
        started = True
    try:
        session(node.read_manifest(), click.echo, calls)

        click.echo(f"\n[2/4] options study in the fast engine: {worlds} worlds x {hours} h")
        out = run_file(
            study, out_dir / "study", paths=worlds, seed=seed,
            overrides=[f"blocks.n_blocks={hours * 300}"], progress=True,
        )  # fmt: skip
        for name, m in out.headline.items():
            click.echo(f"  {name}: {m['mean']:.6g} ± {m['se']:.2g} {m['unit']}")

        click.echo(
            f"\n[3/4] the study's scenario on a fork of the local chain: one world, "
            f"{chain_blocks} blocks, parity with the exact twins at every block"
        )
        ran = run_file(
            study, out_dir / "chain", seed=seed, backend="chain", progress=True,
            chain=ChainOptions(blocks=chain_blocks),
        ).chain  # fmt: skip
        rep = ran.report
        click.echo(f"  {rep.blocks} blocks, {rep.transactions} tx in {rep.seconds:.1f} s")
        for kind, g in rep.gas_summary().items():
            click.echo(f"  gas {kind}: {g['count']} tx, mean {g['mean']:,.0f}")
        if rep.divergence is not None:
            raise ParityError(rep.divergence, ran.bundle)
        click.echo("  parity: ok at every block")
    finally:
        if started and not keep_chain:
            node.stop_upstream()
            click.echo("local upstream stopped (pass --keep-chain to leave it running)")

    click.echo("\n[4/4] report")
    report = atomic_write_text(out_dir / "report.html", build_report(out_dir / "study"))
    click.echo(f"study: {out_dir / 'study'}\nchain run: {out_dir / 'chain'}\nreport: {report}")

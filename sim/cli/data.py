"""`ammlab data pull` (a chain's pool and feed events into Parquet), `ammlab study
fee-tiers` (a pulled pool's flow replayed at other fees) and the `study` group's other studies
(`ammlab study lp-ranges`, `sim.cli.lp_ranges`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sim.atomic import atomic_write_json
from sim.cli.common import Group
from sim.cli.lp_ranges import lp_ranges_cmd


@click.group("data", cls=Group)
def data_group() -> None:
    """Real history: pull pools' and feeds' events from an RPC."""


@data_group.command("pull")
@click.option("--rpc", required=True, help="JSON-RPC URL of any Ethereum node.")
@click.option(
    "--pool",
    "pools",
    multiple=True,
    metavar="ADDRESS",
    help="A Uniswap V2 pair or V3 pool (repeat for more).",
)
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    metavar="ADDRESS",
    help="A Chainlink-style aggregator (the contract emitting AnswerUpdated).",
)
@click.option("--from-block", type=int, required=True, help="First block.")
@click.option(
    "--to-block",
    type=int,
    default=None,
    help="Last block (default: the newest with --confirmations).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder (re-run the same command to resume or extend).",
)
@click.option(
    "--confirmations",
    type=int,
    default=12,
    show_default=True,
    help="Blocks below the head left unpulled.",
)
@click.option(
    "--reorg-window",
    type=int,
    default=128,
    show_default=True,
    help="Stored blocks whose hashes each run re-checks.",
)
@click.option(
    "--span",
    type=int,
    default=2000,
    show_default=True,
    help="Blocks per eth_getLogs before halving.",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def pull_cmd(rpc, pools, feeds, from_block, to_block, out, confirmations, reorg_window, span,
             progress) -> None:  # fmt: skip
    """Pull every event of the pools and feeds, and their blocks' timestamps, into OUT."""
    from sim.chain.history import PullSpec, pull

    r = pull(PullSpec(rpc, pools, feeds, from_block, to_block, out, confirmations,
                      reorg_window, span, progress))  # fmt: skip
    if r.repaired_from is not None:
        click.echo(f"reorg: blocks from {r.repaired_from} changed; rewrote them")
    rate = r.logs / r.seconds if r.seconds > 0 else 0.0
    click.echo(f"pulled blocks {from_block}..{r.to_block} into {out}: {len(r.fetched)} new "
               f"ranges, {r.logs} logs, {r.rows} rows, {r.seconds:.1f} s ({rate:,.0f} logs/s)")  # fmt: skip


@click.group("study", cls=Group)
def study_group() -> None:
    """Studies: on pulled history, and of simulated scenarios."""


study_group.add_command(lp_ranges_cmd)


@study_group.command("fee-tiers")
@click.option(
    "--source",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A folder of `ammlab data pull`.",
)
@click.option("--pool", default=None, help="The pool to replay (default: the only one).")
@click.option(
    "--reference",
    default=None,
    help="Feed or pool whose price marks the trades (default: the only feed).",
)
@click.option("--tiers", default="1,5,30,100", show_default=True, help="Fees, basis points.")
@click.option(
    "--block-time",
    type=float,
    default=None,
    help="Seconds per block (default: the chain's blocks; 12 through the engine).",
)
@click.option("--arbitrage", is_flag=True, help="Add an arbitrageur against the reference.")
@click.option(
    "--risky",
    default="auto",
    show_default=True,
    help="The pool's risky token: token0, token1, a symbol or address.",
)
@click.option(
    "--exact",
    is_flag=True,
    help="Replay a V3 pool on the integer twin instead of the fast engine (V2: always).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the study as JSON.",
)
def fee_tiers_cmd(source, pool, reference, tiers, block_time, arbitrage, risky, exact,
                  out) -> None:  # fmt: skip
    """Replay one pulled pool's flow at several fee tiers: LP fees, LVR and volume (a V2
    pair exactly, a V3 pool through the fast engine unless --exact)."""
    from sim.errors import ConfigError
    from sim.history.store import open_history
    from sim.studies.fee_tiers import fee_tier_study, format_table

    try:
        levels = [float(t) for t in tiers.split(",")]
    except ValueError as err:
        raise ConfigError(f"--tiers {tiers!r}: comma-separated basis points, e.g. 1,5,30") from err
    if arbitrage and block_time is None:
        block_time = 12.0
    h = open_history(source)
    study = fee_tier_study(h, pool, reference, levels, block_time, arbitrage, risky, exact)
    bt = study["block_time"]
    blocks = "the chain's blocks" if bt is None else f"{bt:g} s blocks"
    click.echo(f"pool {study['pool']} ({study['kind']}, recorded {study['recorded_bp']:g} bp), "
               f"{'fast engine' if study['engine'] == 'fast' else 'exact replay'}, {blocks}, "
               f"marked at {study['reference']}; money in the numeraire")  # fmt: skip
    click.echo(format_table(study))
    if out is not None:
        atomic_write_json(out, json.loads(json.dumps(study)))

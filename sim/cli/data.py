"""`ammlab data pull`: a chain's pool and feed events into Parquet (`sim.history`)."""

from __future__ import annotations

from pathlib import Path

import click

from sim.cli.common import Group


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

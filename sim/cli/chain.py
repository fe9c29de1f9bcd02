"""`ammlab chain up|down|dump|status` (the local upstream) and `ammlab fork session`."""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from sim.chain import node
from sim.cli.common import Group
from sim.errors import ChainError


def _decimal(_ctx, param, value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number", param=param) from None
    if number <= 0:
        raise click.BadParameter(f"must be positive (got {value})", param=param)
    return number


@click.group("chain", cls=Group)
def chain_group() -> None:
    """The local upstream chain (anvil, chain id 1): the stand-in for mainnet that forks read."""


def bring_up(port: int, price: Decimal, load: Path | None, deploy: bool) -> dict | None:
    """Start the upstream, then load a state dump or deploy the suite; returns the manifest."""
    from sim.chain.suite import SuiteSpec, deploy_suite

    record = node.start_upstream(port=port)
    try:
        node.export_upstream_url(record.url)
        manifest = None
        if load is not None:
            manifest = node.load_state(load, record.url).get("manifest")
        elif deploy:
            manifest = deploy_suite(record.url, SuiteSpec(price=price))
        if manifest is not None:
            node.write_manifest(manifest)
        return manifest
    except BaseException:
        node.stop_upstream()  # nothing left half-started
        raise


@chain_group.command("up")
@click.option("--port", default=node.DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--price", default="3000", show_default=True, callback=_decimal,
              help="Seed price of the pools and the feed, USDC per WETH.")  # fmt: skip
@click.option("--load", type=click.Path(exists=True, dir_okay=False, path_type=Path, resolve_path=True),
              help="Restore a state file written by `ammlab chain dump` instead of deploying.")  # fmt: skip
@click.option("--no-deploy", is_flag=True, help="Start an empty chain.")
def chain_up(port: int, price: Decimal, load: Path | None, no_deploy: bool) -> None:
    """Start the upstream anvil on 127.0.0.1 and deploy the suite on it."""
    if (url := os.environ.get(node.UPSTREAM_ENV)) and not node.is_local_url(url):
        raise ChainError(
            f"{node.UPSTREAM_ENV} points at a remote RPC ({url}): there is no local upstream "
            "to start; forks read that RPC directly (unset it to use the local stand-in)"
        )
    manifest = bring_up(port, price, load, deploy=not no_deploy)
    record = node.running_record()
    click.echo(f"upstream running at {record.url} (chain id 1, pid {record.pid}, log {record.log})")
    if manifest:
        click.echo(f"manifest: {node.manifest_path()}")
        for name, pool in manifest["pools"].items():
            click.echo(f"  {name}: {pool['address']} ({pool['fee_bps']} bp)")
        click.echo(
            f"  feed: {manifest['feed']['address']}  router: {manifest['router']['address']}"
        )


@chain_group.command("down")
@click.option("--dump", type=click.Path(dir_okay=False, path_type=Path, resolve_path=True),
              help="Save the chain state to this file before stopping.")  # fmt: skip
def chain_down(dump: Path | None) -> None:
    """Stop the upstream started by `ammlab chain up`."""
    record = node.running_record()
    if record is None:
        click.echo("no upstream started by ammlab is running")
        return
    if dump is not None:
        node.dump_state(dump, record.url, _manifest_or_none())
        click.echo(f"state saved to {dump}")
    node.stop_upstream()
    click.echo(f"upstream at {record.url} (pid {record.pid}) stopped")


def _manifest_or_none() -> dict | None:
    path = node.manifest_path()
    return node.read_manifest(path) if path.is_file() else None


@chain_group.command("dump")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path, resolve_path=True))
def chain_dump(path: Path) -> None:
    """Save the running upstream's state and manifest to PATH (reload with `chain up --load`)."""
    record = node.running_record()
    if record is None:
        raise ChainError(
            "no upstream started by ammlab is running: start it with `ammlab chain up`"
        )
    bundle = node.dump_state(path, record.url, _manifest_or_none())
    click.echo(f"state of chain {bundle['chain_id']} at block {bundle['block']} saved to {path}")


@chain_group.command("status")
def chain_status() -> None:
    """Report the upstream: process, RPC, chain id, block and the deployed suite."""
    record = node.running_record()
    url = node.upstream_url()
    if record is None:
        click.echo("upstream: not started by ammlab")
    else:
        click.echo(f"upstream: pid {record.pid}, {record.url}, log {record.log}")
    try:
        click.echo(
            f"rpc {url}: chain id {node.chain_id_of(url)}, block {node.block_number_of(url)}"
        )
    except ChainError:
        click.echo(f"rpc {url}: unreachable")
        return
    manifest = _manifest_or_none()
    if manifest is None:
        click.echo("manifest: none (run `ammlab chain up` to deploy)")
    else:
        pools = ", ".join(f"{n} {p['address']}" for n, p in manifest["pools"].items())
        click.echo(
            f"manifest: chain id {manifest['chain_id']}, block {manifest['block']}; pools {pools}"
        )


def fork_session(swaps: int, seed: int) -> None:
    """Run a swap session on a fork of the upstream and print the pools before and after."""
    from sim.chain.session import format_pool_table, load_suite, read_pool_state, run_swap_session

    manifest = node.read_manifest()
    node.check_upstream_reachable()  # a fork of nothing is no session: say how to start it
    with node.fork_of_upstream() as url:
        suite = load_suite(url, manifest)
        click.echo(f"fork of {node.upstream_url()} at block {suite.chain.w3.eth.block_number} "
                   f"(anvil on {url})")  # fmt: skip
        before = [read_pool_state(suite, name) for name in sorted(suite.pools)]
        records = run_swap_session(suite, swaps, seed)
        after = [read_pool_state(suite, name) for name in sorted(suite.pools)]
    gas = sum(r.gas_used for r in records) / max(len(records), 1)
    click.echo(f"{len(records)} swaps through the router, every amount out equal to the exact "
               f"twin's prediction (mean gas {gas:,.0f})")  # fmt: skip
    click.echo(format_pool_table(before, after))
    upstream_block = node.block_number_of(node.upstream_url())
    click.echo(f"upstream untouched: still at block {upstream_block}")


@click.group("fork", cls=Group)
def fork_group() -> None:
    """Sessions on a fork of the upstream (ethereum:mainnet-fork:foundry)."""


@fork_group.command("session")
@click.option("--swaps", default=20, show_default=True, type=click.IntRange(0, 100_000))
@click.option("--seed", default=0, show_default=True, type=int)
def fork_session_cmd(swaps: int, seed: int) -> None:
    """Random swaps on a fork, each checked against the exact twin."""
    fork_session(swaps, seed)

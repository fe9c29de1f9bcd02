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


def _optional_decimal(ctx, param, value: str | None) -> Decimal | None:
    return None if value is None else _decimal(ctx, param, value)


@click.group("chain", cls=Group)
def chain_group() -> None:
    """The local upstream chain (anvil, chain id 1): the stand-in for mainnet that forks read."""


PRESETS = ("suite", "mainnet")
"""What `chain up` deploys: ammlab's own suite (`sim.chain.suite`), or the mainnet preset
(`sim.chain.mainnet`: the genuine Uniswap V2/V3, WETH9, USDC-like token and ETH / USD feed at
their mainnet addresses, ammlab's options pool and perp beside them)."""


def bring_up(
    port: int,
    price: Decimal,
    load: Path | None,
    deploy: bool,
    preset: str = "suite",
    v2_depth: Decimal | None = None,
    v3_ranges: tuple[str, ...] = (),
) -> dict | None:
    """Start the upstream, then load a state dump or deploy `preset`; returns the manifest.

    `v2_depth` (WETH in the V2 pair) and `v3_ranges` (`FEE:WETH[:WIDTH]` positions, replacing
    the default ones) seed the mainnet preset; they are refused for the suite.
    """
    from sim.chain import mainnet
    from sim.chain.suite import SuiteSpec, deploy_suite

    if preset not in PRESETS:
        raise ChainError(f"--preset {preset}: use one of {', '.join(PRESETS)}")
    if preset != "mainnet" and (v2_depth is not None or v3_ranges):
        raise ChainError("--v2-depth and --v3-range seed the mainnet preset: add --preset mainnet")
    depths = mainnet.parse_v3_ranges(v3_ranges) if v3_ranges else mainnet.DEFAULT_V3_DEPTHS
    record = node.start_upstream(port=port)
    try:
        node.export_upstream_url(record.url)
        manifest = None
        if load is not None:
            manifest = node.load_state(load, record.url).get("manifest")
        elif deploy and preset == "mainnet":
            manifest = mainnet.place_mainnet_preset(
                record.url, price, v2_depth or mainnet.DEFAULT_V2_WETH_DEPTH, depths
            )
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
@click.option("--preset", type=click.Choice(PRESETS), default="suite", show_default=True,
              help="suite: ammlab's own contracts; mainnet: the genuine Uniswap V2/V3, WETH9, "
              "USDC and ETH / USD feed at their mainnet addresses (plus ammlab's options pool "
              "and perp).")  # fmt: skip
@click.option("--v2-depth", default=None, callback=_optional_decimal,
              help="Mainnet preset: WETH in the V2 WETH/USDC pair [default: 1000].")  # fmt: skip
@click.option("--v3-range", "v3_ranges", multiple=True, metavar="FEE:WETH[:WIDTH]",
              help="Mainnet preset: a V3 position, e.g. 500:200:0.1 (200 WETH over the price "
              "± 10 % in the 0.05 % pool) or 3000:100 (full range); repeatable, replaces the "
              "default positions.")  # fmt: skip
def chain_up(
    port: int, price: Decimal, load: Path | None, no_deploy: bool, preset: str,
    v2_depth: Decimal | None, v3_ranges: tuple[str, ...],
) -> None:  # fmt: skip
    """Start the upstream anvil on 127.0.0.1 and deploy the suite (or a preset) on it."""
    if (url := os.environ.get(node.UPSTREAM_ENV)) and not node.is_local_url(url):
        raise ChainError(
            f"{node.UPSTREAM_ENV} points at a remote RPC ({url}): there is no local upstream "
            "to start; forks read that RPC directly (unset it to use the local stand-in)"
        )
    manifest = bring_up(port, price, load, not no_deploy, preset, v2_depth, v3_ranges)
    record = node.running_record()
    click.echo(f"upstream running at {record.url} (chain id 1, pid {record.pid}, log {record.log})")
    if manifest:
        click.echo(f"manifest: {node.manifest_path()}")
        for line in describe_manifest(manifest):
            click.echo(f"  {line}")


def describe_manifest(manifest: dict) -> list[str]:
    """One line per contract a user trades or reads: pools with their fees, the feed, the
    routers (the suite's or the mainnet preset's, by the manifest's format)."""
    lines = []
    if manifest.get("format") == node.PRESET_FORMAT:
        for name, pair in manifest["uniswap_v2"]["pairs"].items():
            lines.append(f"Uniswap V2 {name}: {pair['address']} ({pair['fee_bps']} bp)")
        for name, pool in manifest["uniswap_v3"]["pools"].items():
            lines.append(f"Uniswap V3 {name}: {pool['address']} ({pool['fee'] / 100:g} bp)")
        v2, v3 = manifest["uniswap_v2"], manifest["uniswap_v3"]
        lines.append(f"UniswapV2Router02: {v2['router']['address']}  "
                     f"SwapRouter: {v3['swap_router']['address']}  "
                     f"QuoterV2: {v3['quoter_v2']['address']}")  # fmt: skip
    else:
        for name, pool in manifest["pools"].items():
            lines.append(f"{name}: {pool['address']} ({pool['fee_bps']} bp)")
        lines.append(f"router: {manifest['router']['address']}")
    lines.append(f"feed: {manifest['feed']['address']}")
    for part in ("options", "perp"):
        if manifest.get(part):
            lines.append(f"{part}: {manifest[part]['address']}")
    return lines


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
        kind = "mainnet preset" if manifest.get("format") == node.PRESET_FORMAT else "suite"
        click.echo(f"manifest ({kind}): chain id {manifest['chain_id']}, block {manifest['block']}")
        for line in describe_manifest(manifest):
            click.echo(f"  {line}")


def fork_session(swaps: int, seed: int) -> None:
    """Run a swap session on a fork of the upstream and print the pools before and after."""
    from sim.chain.session import format_pool_table, load_suite, read_pool_state, run_swap_session

    manifest = node.read_manifest()
    if manifest.get("format") == node.PRESET_FORMAT:
        raise ChainError(
            "`fork session` trades the suite's own pools; the upstream holds the mainnet preset: "
            "trade it with `ammlab keeper run --config keeper/mainnet.example.yaml`, or start "
            "the suite with `ammlab chain up`"
        )
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

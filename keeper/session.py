"""The main job's keeper session (`ammlab demo`, step 1): on a fork of the mainnet preset, a
trader buys calls from ammlab's options pool and the live keeper hedges that book and its V2 LP
share on the genuine Uniswap V2 pair and V3 pools (and ammlab's perp), with
keeper/mainnet.example.yaml as its config.

What it shows is what the keeper does anywhere: one tick reads the genuine pools, plans the
least-cost split, bounds each leg by the exact twins and sends it through the protocol's own
router; the session then holds every pool leg to the protocol's own quote (QuoterV2,
UniswapV2Router02) at the block the plan read, and reports the gas each leg used.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from keeper.config import load_keeper_config
from keeper.logs import KeeperLog
from keeper.runtime import Keeper
from keeper.strategy import HedgeState, plan_hedge
from keeper.venues.quotes import protocol_quotes
from sim.chain import node
from sim.chain.abi import encode_call
from sim.errors import ChainError

MAINNET_EXAMPLE = Path(__file__).with_name("mainnet.example.yaml")
ATM_STRIKE_ID = 3
"""The first board's at-the-money strike (`sim.chain.suite.BOARDS`)."""


def merged(base: dict, over: dict) -> dict:
    """`base` with `over` laid on it, mappings merged key by key."""
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value) if both else value
    return out


def _rpc(url: str, method: str, params: list) -> Any:
    with node.rpc_client(url, timeout=30) as client:
        return client.call(method, params)


def _send(url: str, sender: str, to: str, data: str) -> dict:
    """A transaction from one of the fork's unlocked accounts, mined and checked."""
    tx = _rpc(url, "eth_sendTransaction", [{"from": sender, "to": to, "data": data}])
    deadline = time.monotonic() + 30
    while (receipt := _rpc(url, "eth_getTransactionReceipt", [tx])) is None:
        if time.monotonic() > deadline:
            raise ChainError(f"{tx} was not mined on {url}")
        time.sleep(0.02)
    if receipt["status"] != "0x1":
        raise ChainError(f"demo transaction {tx} to {to} reverted")
    return receipt


def _trader_buys_calls(url: str, manifest: dict, calls: float) -> None:
    trader, options = manifest["accounts"]["trader"], manifest["options"]["address"]
    usdc = manifest["tokens"]["USDC"]["address"]
    _send(url, trader, usdc, encode_call("approve(address,uint256)", ["address", "uint256"],
                                      [options, 2**256 - 1]))  # fmt: skip
    now = int(_rpc(url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    _send(url, trader, options, encode_call(
        "openPosition(uint256,bool,bool,uint256,uint256,uint256)",
        ["uint256", "bool", "bool", "uint256", "uint256", "uint256"],
        [ATM_STRIKE_ID, True, True, int(calls * 10**18), 10**15, now + 3600],
    ))  # fmt: skip


def session_config(url: str, manifest: dict, home: Path) -> dict:
    """keeper/mainnet.example.yaml, live on `url`, with the preset's options pool as the book
    and its perp as a venue capped at 3 WETH (the rest goes to the pools)."""
    cfg = yaml.safe_load(MAINNET_EXAMPLE.read_text())
    return merged(cfg, {
        "dry_run": False, "rpc_url": url, "journal_path": str(home / "journal.sqlite"),
        "addresses": {"options_pool": manifest["options"]["address"]},
        "venues": {"perp": {"enabled": True, "address": manifest["perp"]["address"],
                            "max_position_base": 3.0, "margin_quote": 100_000}},
        "policy": {"min_delay": 0},
    })  # fmt: skip


def hedge_session(manifest: dict, echo: Callable[[str], Any], calls: float = 20.0) -> dict:
    """Fork the upstream (the mainnet preset), sell `calls` ATM calls to a trader, let the
    live keeper hedge once; echo what it did; returns a summary (legs, quotes checked)."""
    if manifest.get("format") != node.PRESET_FORMAT:
        raise ChainError("the keeper session needs the mainnet preset upstream (`ammlab chain "
                         "up --preset mainnet`)")  # fmt: skip
    upstream = node.upstream_url()
    head = node.block_number_of(upstream)
    with tempfile.TemporaryDirectory() as tmp, _fork(upstream, Path(tmp)) as url:
        echo(f"fork of {upstream} at block {head} (anvil on {url})")
        home = Path(tmp)
        cfg = load_keeper_config(None, **session_config(url, manifest, home))
        with Keeper(cfg, manifest, rpc_url=url, log=KeeperLog(stream=None), home=home) as keeper:
            keeper.start()  # approvals and perp margin, journaled
            before = _net(keeper)
            _trader_buys_calls(url, manifest, calls)
            due = _net(keeper)
            echo(f"  a trader buys {calls:g} ATM calls from the options pool: the keeper's net "
                 f"delta {before:+.2f} -> {due:+.2f} WETH (options book + its V2 LP share)")  # fmt: skip
            result = keeper.tick()
            legs = result.plan.legs
            quotes = protocol_quotes(url, legs, result.snapshot.block,
                                     manifest["uniswap_v3"]["quoter_v2"]["address"],
                                     manifest["uniswap_v2"]["router"]["address"])  # fmt: skip
            after = _net(keeper)
            echo(f"  the keeper hedges {sum(leg.size for leg in legs):+.3f} WETH in {len(legs)} "
                 f"legs (net delta {due:+.2f} -> {after:+.2f}):")  # fmt: skip
            quoted = {q.venue: q for q in quotes}
            for leg, done in zip(legs, result.legs, strict=True):
                gas = "-"
                if done.tx_hash:
                    receipt = _rpc(url, "eth_getTransactionReceipt", [done.tx_hash])
                    gas = f"{int(receipt['gasUsed'], 16):,}"
                q = quoted.get(leg.venue)
                check = (f"twin {q.what} {q.twin:,} {'=' if q.equal else '!='} "
                         f"{'QuoterV2' if q.kind == 'univ3' else 'Router02'}" if q else "")  # fmt: skip
                echo(f"    {leg.venue:<16} {leg.kind:<5} {leg.size:+8.3f} WETH at "
                     f"{leg.expected_price:9.2f}  {done.status:<6} gas {gas:>8}  {check}")  # fmt: skip
            if not all(q.equal for q in quotes):
                raise ChainError("a twin's quote differs from the protocol's: see above")
            echo(f"  every pool leg's twin quote equals the protocol's own ({len(quotes)} checked)")
    echo(f"upstream untouched: still at block {node.block_number_of(upstream)}")
    return {"legs": [(leg.venue, leg.kind, leg.size) for leg in legs], "quotes": len(quotes),
            "net_delta": (due, after)}  # fmt: skip


@contextmanager
def _fork(upstream: str, home: Path) -> Iterator[str]:
    """A plain anvil forking `upstream` for the session, keeping its history (the quotes are
    asked at the block the plan read, after its legs were mined)."""
    record = node.start_upstream(port=node.free_port(), home=home,
                                 extra_args=("--fork-url", upstream))  # fmt: skip
    try:
        yield record.url
    finally:
        node.stop_upstream(home)


def _net(keeper: Keeper) -> float:
    snap = keeper.reader.read()
    return plan_hedge(snap, keeper.policy, HedgeState(), keeper.cfg, mode="paused",
                      baseline_base=keeper.baseline).net_delta  # fmt: skip

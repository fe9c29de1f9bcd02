"""A block mined between the keeper's gas estimate and its transaction, on every venue kind:
the hedge still lands, within its gas limit.

Each case hedges on one venue kind (ammlab's pool through Router.vy on a fork of the suite;
the genuine V2 pair through Router02, the genuine 0.05 % V3 pool through SwapRouter, the perp
on forks of the mainnet preset). The fork mines every block at the same timestamp (as a chain
mining faster than its clock does, or every venue touched in the latest block), so the
keeper's first tick leaves each venue touched at that timestamp and its second tick's
estimate skips the once-per-timestamp paths. Between the estimate and the send (the
manager's `signed` stage) the test mines a block 12 s later; on the V3 pool an LP mints
narrow positions there, putting initialised ticks between the price and the keeper's limit.

Each leg's gas needed on inclusion is compared with what the old rule (estimate × 1.25 at the
block the keeper estimated on) allowed, and must be within the limit the keeper set
(`keeper.venues.gas`). Two kinds run out under the old rule in every run: the perp (its funding
index and the keeper's position's `lastFundingIndex` go from zero to non-zero once time has
passed with a skew) and the V3 pool (each new tick is a crossing the estimate never saw); the
pairs' cumulative-price path (written only once time has passed) comes close to the old 25 %
and past it in some runs, by how large the plan's leg is.
"""

from __future__ import annotations

import math

import pytest
from mainnet_market import Market, keeper_config, mainnet_preset, preset_fork, write_config
from test_keeper_chaos import (  # noqa: F401, F811 - fixtures (_no_stray_keepers autouse)
    Suite,
    _no_stray_keepers,
    chaos_suite,
    fork_node,
)
from test_keeper_chaos import keeper_config as suite_keeper_config
from test_keeper_mainnet import SHALLOW_V3

from keeper.config import load_keeper_config
from keeper.logs import KeeperLog
from keeper.runtime import Keeper
from sim.chain.abi import encode_call
from sim.venues.univ3.v3math import get_tick_at_sqrt_ratio

pytestmark = [pytest.mark.chain, pytest.mark.fork, pytest.mark.slow]

MAX = 2**256 - 1
OLD_MULTIPLIER = 1.25
_MINT = ("mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,"
         "uint256))")  # fmt: skip
_MINT_TYPES = ["(address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,"
               "uint256)"]  # fmt: skip


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    with mainnet_preset(tmp_path_factory.mktemp("gas-preset"), SHALLOW_V3) as chain:
        yield chain


class BlockBetween:
    """The manager's stage hook: at `signed` (gas limit set, nothing sent), note what the old
    rule would have allowed, mine a block 12 s later (with `in_between` run in it), and note
    the gas the transaction needs now: the estimate on the state and timestamp it lands on
    (blocks keep that timestamp), which counts the gas a nested call must be forwarded and the
    refunds it only gets back at the end, unlike the receipt's gas used."""

    def __init__(self, rpc, in_between=None):
        self.rpc = rpc
        self.in_between = in_between
        self.old_limit: dict[int, int] = {}
        self.needed: dict[int, int] = {}

    def __call__(self, stage: str, intent) -> None:
        if stage != "signed" or intent.kind != "hedge":
            return
        call = {"from": intent.account, "to": intent.to, "data": intent.data}
        estimate = int(self.rpc("eth_estimateGas", call, "latest"), 16)
        self.old_limit[intent.id] = math.ceil(estimate * OLD_MULTIPLIER)
        head = self.rpc("eth_getBlockByNumber", "latest", False)
        self.rpc("evm_setNextBlockTimestamp", hex(int(head["timestamp"], 16) + 12))
        if self.in_between is not None:
            self.in_between(intent)
        else:
            self.rpc("evm_mine")
        self.needed[intent.id] = int(self.rpc("eth_estimateGas", call, "latest"), 16)


def same_timestamp_blocks(rpc) -> None:
    """Every block from now on at the latest block's timestamp (until a test sets another)."""
    rpc("anvil_setBlockTimestampInterval", 0)


def gas_of_hedges(keeper: Keeper, rpc, hook: BlockBetween) -> list[tuple[str, int, int, int]]:
    """(venue kind, old limit, gas needed on inclusion, limit set) of each hedge leg the hook
    saw; each mined within its limit."""
    rows = []
    for intent_id, old in hook.old_limit.items():
        intent = keeper.journal.intent(intent_id)
        (attempt,) = keeper.journal.attempts(intent_id)
        receipt = rpc("eth_getTransactionReceipt", attempt.tx_hash)
        assert intent.status == "mined", (intent.meta["kind"], intent.error, receipt)
        assert hook.needed[intent_id] <= attempt.gas_limit
        rows.append((intent.meta["kind"], old, hook.needed[intent_id], attempt.gas_limit))
    assert rows, "no hedge leg went through the block-between hook"
    return rows


def mint_in_the_path(market: Market, manifest: dict, intent, positions: int = 6) -> None:
    """An LP (the trader) mints `positions` one-spacing-wide positions of the 0.05 % pool
    between its price and the keeper's leg's price limit: new initialised ticks in the path."""
    manager = manifest["uniswap_v3"]["position_manager"]["address"]
    for token in (market.weth, market.usdc):
        market.send(market.trader, token, encode_call("approve(address,uint256)",
                    ["address", "uint256"], [manager, MAX]))  # fmt: skip
    tick = market.call(market.v3[500], "slot0()", [], [], ["uint160", "int24"])[1]
    limit_tick = get_tick_at_sqrt_ratio(intent.meta["sqrt_price_limit_x96"])
    spacing = 10
    down = limit_tick < tick  # USDC (token0) in: the price tick falls to the limit
    edge = (tick // spacing) * spacing if down else (tick // spacing + 1) * spacing
    for k in range(positions):
        lo, hi = (edge - (k + 1) * spacing, edge - k * spacing) if down else (
            edge + k * spacing, edge + (k + 1) * spacing)  # fmt: skip
        if (lo < limit_tick) if down else (hi > limit_tick):
            break
        # Below the price a position holds WETH (token1) only; above it, USDC only.
        a0, a1 = (0, 10**16) if down else (30 * 10**6, 0)
        params = (market.usdc, market.weth, 500, lo, hi, a0, a1, 0, 0, market.trader,
                  market.now() + 600)  # fmt: skip
        market.send(market.trader, manager, encode_call(_MINT, _MINT_TYPES, [params]))


def preset_keeper(tmp_path, url, manifest, kind: str) -> Keeper:
    only = {"univ2": ("uniswap_v2",), "univ3": ("uniswap_v3_5bp",), "perp": ()}[kind]
    cfg = keeper_config(tmp_path, url, manifest, perp=10.0 if kind == "perp" else 0.0,
                        only=only)  # fmt: skip
    return Keeper(load_keeper_config(write_config(tmp_path, cfg)), manifest, rpc_url=url,
                  log=KeeperLog(stream=None), home=tmp_path / "h")  # fmt: skip


@pytest.mark.parametrize("kind", ["univ2", "univ3", "perp"])
def test_a_block_between_estimate_and_send_on_genuine_venues_and_the_perp(preset, tmp_path, kind):
    with preset_fork(preset, tmp_path) as (node, market, manifest):
        same_timestamp_blocks(market.rpc)
        market.transmit(3000)
        market.buy_calls(3, 6.0)
        with preset_keeper(tmp_path, node.url, manifest, kind) as keeper:
            first = keeper.tick()
            assert [r.status for r in first.legs] and all(
                r.status == "mined" for r in first.legs
            ), first.legs
            market.buy_calls(3, 4.0)
            between = None
            if kind == "univ3":
                between = lambda intent: mint_in_the_path(market, manifest, intent)  # noqa: E731
            hook = BlockBetween(market.rpc, between)
            keeper.txm.on_stage = hook
            second = keeper.tick()
            assert second.legs and {leg.kind for leg in second.plan.legs} == {kind}
            rows = gas_of_hedges(keeper, market.rpc, hook)
    report(rows)
    if kind in ("perp", "univ3"):
        assert any(needed > old for _, old, needed, _ in rows), rows  # the old rule ran out


def test_a_block_between_estimate_and_send_on_ammlabs_pool(chaos_suite, fork_node, tmp_path):  # noqa: F811
    _, manifest, manifest_path, _ = chaos_suite
    node, suite = fork_node, Suite(fork_node, chaos_suite[1])
    same_timestamp_blocks(node.rpc)
    cfg = suite_keeper_config(tmp_path, node, manifest_path, venues={
        "perp": {"enabled": False}, "cpmm": [{"name": "venue_a"}]})  # fmt: skip
    with Keeper(load_keeper_config(cfg), manifest, rpc_url=node.url, log=KeeperLog(stream=None),
                home=tmp_path / "home") as keeper:  # fmt: skip
        keeper.start()
        suite.transmit(3000)
        suite.buy_calls(3, 6.0)
        first = keeper.tick()
        assert first.legs and all(r.status == "mined" for r in first.legs), first.legs
        suite.buy_calls(3, 4.0)
        hook = BlockBetween(node.rpc)
        keeper.txm.on_stage = hook
        second = keeper.tick()
        assert second.legs and {leg.kind for leg in second.plan.legs} == {"cpmm"}
        rows = gas_of_hedges(keeper, node.rpc, hook)
    report(rows)


def report(rows) -> None:
    for kind, old, used, limit in rows:
        print(f"GAS {kind}: old limit {old}, needed {used}, limit set {limit}")

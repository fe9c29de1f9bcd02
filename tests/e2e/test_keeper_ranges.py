"""The live keeper keeps a concentrated position in range and hedged on the mainnet preset
(genuine Uniswap V3 pool, SwapRouter and NonfungiblePositionManager at their mainnet
addresses), exactly once under kill -9 at every step of a move.

The keeper holds a ±1 % position in the 0.05 % WETH/USDC pool (minted from its own account)
and hedges on the preset's perp. Trades earn the pool fees while the keeper watches; then the
price is pushed 3 % up (the oracle follows): the range policy moves the range, as one journaled
rebalance of four transactions (decreaseLiquidity, collect, the swap to the new ratio, mint),
each at the exact twins' amounts (the manager's and the pool's events say so), and the hedge
follows the new position's delta.

kill -9 of `ammlab keeper run --live` with each step's transaction in the mempool, then a
restart: that transaction lands, the remaining steps finish, every step lands once, nothing is
left in the old position or the manager, and the keeper holds the new one.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from eth_abi import decode
from eth_utils import keccak
from mainnet_market import Market, keeper_config, mainnet_preset, preset_fork, write_config
from test_keeper_chaos import (  # noqa: F401 - _no_stray_keepers is an autouse fixture
    KeeperProcess,
    _no_stray_keepers,
    set_up_keeper,
)

from keeper.config import KeeperConfigError, load_keeper_config
from keeper.journal import Journal
from keeper.logs import KeeperLog
from keeper.ranges import NPM_POSITION
from keeper.runtime import Keeper
from keeper.strategy import HedgeState, plan_hedge
from keeper.txmanager import CHAOS_ENV
from sim.chain.abi import encode_call
from sim.chain.mainnet import V3Range

pytestmark = [pytest.mark.chain, pytest.mark.fork, pytest.mark.slow]

POOL = "uniswap_v3_5bp"
BAND = 1.0
MAX = 2**256 - 1
INCREASE = "0x" + keccak(text="IncreaseLiquidity(uint256,uint128,uint256,uint256)").hex()
DECREASE = "0x" + keccak(text="DecreaseLiquidity(uint256,uint128,uint256,uint256)").hex()
COLLECT = "0x" + keccak(text="Collect(uint256,address,uint256,uint256)").hex()
SWAP = "0x" + keccak(text="Swap(address,address,int256,int256,uint160,uint128,int24)").hex()
DEPTHS = {500: (V3Range(Decimal(100)), V3Range(Decimal(100), Decimal("0.1")))}


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    with mainnet_preset(tmp_path_factory.mktemp("ranges-preset"), DEPTHS) as chain:
        yield chain


@pytest.fixture
def fork(preset, tmp_path):
    with preset_fork(preset, tmp_path) as chain:
        yield chain


def npm(manifest) -> str:
    return manifest["uniswap_v3"]["position_manager"]["address"]


def mint_for_keeper(market: Market, manifest, width: float = 0.01, weth: float = 4.0) -> int:
    """The keeper mints a ±`width` position around the 0.05 % pool's price from its own
    account; returns the token id."""
    manager, pool = npm(manifest), market.v3[500]
    for token in (market.weth, market.usdc):
        market.send(market.keeper, token, encode_call("approve(address,uint256)",
                    ["address", "uint256"], [manager, MAX]))  # fmt: skip
    tick = market.call(pool, "slot0()", [], [], ["uint160", "int24"])[1]
    span = math.log1p(width) / math.log(1.0001)
    lower, upper = math.floor((tick - span) / 10) * 10, math.ceil((tick + span) / 10) * 10
    params = (market.usdc, market.weth, 500, lower, upper, 500_000 * 10**6, int(weth * 1e18),
              0, 0, market.keeper, market.now() + 600)  # fmt: skip
    receipt = market.send(market.keeper, manager, encode_call(
        "mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,"
        "uint256))", ["(address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,"
                      "address,uint256)"], [params]))  # fmt: skip
    (log,) = [g for g in receipt["logs"] if g["topics"][0] == INCREASE]
    return int(log["topics"][1], 16)


def position(market: Market, manifest, token: int) -> tuple:
    return market.call(npm(manifest), "positions(uint256)", ["uint256"], [token], NPM_POSITION)


def pool_price(market: Market) -> float:
    """USDC per WETH of the 0.05 % pool (token0 USDC, token1 WETH)."""
    sqrt_price = market.call(market.v3[500], "slot0()", [], [], ["uint160"])[0]
    return 10**12 / (sqrt_price / 2**96) ** 2


def range_config(tmp_path, url, manifest, token: int, **policy) -> dict:
    """Live on `url`: the position in the 0.05 % pool, recentred when the price leaves it,
    hedged on the perp (the pool takes no hedge: a tiny per-order cap)."""
    cfg = keeper_config(tmp_path, url, manifest, options=False, perp=200.0, only=(POOL,))
    cfg["venues"]["univ3"][0]["max_order_base"] = 1e-9
    cfg["addresses"]["v3_position_manager"] = npm(manifest)
    cfg["range"] = {"pool": POOL, "position_id": token, "slippage_bps": 100,
                    "deadline_s": 3600,
                    "policy": {"kind": "recentre", "horizon": 86400.0, **policy}}  # fmt: skip
    # The tests jump the clock by minutes between the keeper's plan and its send: deadlines
    # an hour long, and the oracle's deviation guard wide (the pools move together here).
    cfg["execution"]["deadline_s"] = 3600
    cfg["safety"]["guards"] |= {"oracle_max_deviation_bps": 1000}
    return cfg


def transmit_later(market: Market, seconds: int) -> None:
    """Time passes and the feed reports the pool's price in that same block (a keeper process
    watching never sees a stale feed: the perp refuses trades on one)."""
    market.rpc("evm_setNextBlockTimestamp", hex(market.now() + seconds))
    market.transmit(pool_price(market))


def swap(market: Market, token_in: str, amount_in: int, price_up: float = 0.0) -> None:
    """The trader's swap on the 0.05 % pool (`Market.swap_v3`) with a gas limit of its own:
    anvil estimates gas at the pending block's timestamp, and a swap mined in a block where
    the pool's oracle writes a fresh observation needs more than that estimate."""
    market._approve_trader()
    token_out = market.usdc if token_in == market.weth else market.weth
    limit = 0
    if price_up:
        sqrt_price = market.call(market.v3[500], "slot0()", [], [], ["uint160"])[0]
        limit = int(sqrt_price / math.sqrt(1 + price_up))  # USDC is token0: its price falls
        amount_in = market.balance(market.usdc, market.trader)
    params = (token_in, token_out, 500, market.trader, market.now() + 600, amount_in, 0, limit)
    data = encode_call(
        "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
        ["(address,address,uint24,address,uint256,uint256,uint256,uint160)"], [params],
    )  # fmt: skip
    tx = market.rpc("eth_sendTransaction", {"from": market.trader, "to": market.swap_router,
                                            "data": data, "gas": hex(1_000_000)})  # fmt: skip
    receipt = None
    while receipt is None:
        receipt = market.rpc("eth_getTransactionReceipt", tx)
    assert receipt["status"] == "0x1", receipt


def earn_fees_then_leave_the_range(market: Market) -> None:
    """Trades across the range while time passes (the keeper's fee estimate has something to
    see), then the price pushed 3 % up and the oracle following it."""
    for _ in range(3):
        swap(market, market.usdc, 200_000 * 10**6)
        swap(market, market.weth, 60 * 10**18)
        transmit_later(market, 300)
    swap(market, market.usdc, 0, price_up=0.03)
    transmit_later(market, 12)


def step_events(market: Market, tx_hashes: list[str]) -> dict[str, tuple]:
    """The manager's and the pool's events of a move's transactions, by kind."""
    found = {}
    for tx in tx_hashes:
        for g in market.rpc("eth_getTransactionReceipt", tx)["logs"]:
            topic = g["topics"][0]
            data = bytes.fromhex(g["data"][2:])
            if topic == DECREASE:
                found["decrease"] = decode(["uint128", "uint256", "uint256"], data)
            elif topic == COLLECT:
                found["collect"] = decode(["address", "uint256", "uint256"], data)[1:]
            elif topic == SWAP:
                found["swap"] = decode(["int256", "int256", "uint160", "uint128", "int24"], data)
            elif topic == INCREASE:
                found["mint"] = (int(g["topics"][1], 16),
                                 *decode(["uint128", "uint256", "uint256"], data))  # fmt: skip
    return found


def range_steps(journal_path) -> dict[str, list]:
    with Journal(journal_path) as journal:
        steps: dict[str, list] = {}
        for i in journal.intents():
            if i.kind.startswith("range_"):
                steps.setdefault(i.kind.removeprefix("range_"), []).append(i)
        return steps, journal.rebalances()


def net_delta(keeper: Keeper) -> float:
    snap = keeper.reader.read()
    return plan_hedge(snap, keeper.policy, HedgeState(), keeper.cfg, mode="paused",
                      baseline_base=keeper.baseline).net_delta  # fmt: skip


# --------------------------------------------------------------------------- the move


def test_the_keeper_moves_its_range_at_the_twins_amounts_and_stays_hedged(fork, tmp_path):
    node, market, manifest = fork
    market.transmit(pool_price(market))
    token = mint_for_keeper(market, manifest)
    cfg = load_keeper_config(write_config(tmp_path, range_config(tmp_path, node.url, manifest,
                                                                 token)))  # fmt: skip
    with Keeper(cfg, manifest, rpc_url=node.url, log=KeeperLog(stream=None),
                home=tmp_path / "h") as keeper:  # fmt: skip
        first = keeper.tick()
        assert first.snapshot.position.token_id == token
        assert abs(net_delta(keeper)) <= BAND  # the position's delta hedged on the perp
        earn_fees_then_leave_the_range(market)
        keeper.tick()  # sees the fees and the price: a move of the range
        steps, (reb,) = range_steps(cfg.journal_path)
        assert reb.status == "done" and reb.token_id == token, reb
        mined = {k: [i for i in v if i.status == "mined"] for k, v in steps.items()}
        assert {k: len(v) for k, v in mined.items()} == {"decrease": 1, "collect": 1,
                                                         "swap": 1, "mint": 1}  # fmt: skip
        # Each step did exactly what the twins planned (same block: automine).
        hashes = [keeper.journal.attempts(v[0].id)[-1].tx_hash for v in mined.values()]
        events = step_events(market, hashes)
        dec, col, swp, mnt = (mined[k][0].meta for k in ("decrease", "collect", "swap", "mint"))
        assert events["decrease"] == (dec["liquidity"], dec["amount0"], dec["amount1"])
        assert events["collect"] == (col["amount0"], col["amount1"])
        paid_out = -min(events["swap"][0], events["swap"][1])
        assert paid_out == swp["amount_out"]
        new, liquidity, used0, used1 = events["mint"]
        assert new == reb.new_token_id and liquidity == mnt["liquidity"]
        # Nothing left behind: the old token is empty; what the mint did not take is dust.
        old = position(market, manifest, token)
        assert old[7] == 0 and old[10] == 0 and old[11] == 0
        left0, left1 = mnt["amount0_desired"] - used0, mnt["amount1_desired"] - used1
        price = pool_price(market)
        assert (left0 / 1e6 + left1 / 1e18 * price) < 1e-3 * (used0 / 1e6 + used1 / 1e18 * price)
        # The keeper holds the new token, in range, and its delta is hedged.
        owner = market.call(npm(manifest), "ownerOf(uint256)", ["uint256"], [new], ["address"])
        assert owner[0].lower() == market.keeper.lower()
        tick = market.call(market.v3[500], "slot0()", [], [], ["uint160", "int24"])[1]
        now = position(market, manifest, new)
        assert now[5] <= tick < now[6] and now[7] == liquidity
        assert keeper.ranges.token_id == new
        keeper.tick()
        assert abs(net_delta(keeper)) <= BAND


# --------------------------------------------------------------------------- exactly once


@pytest.mark.parametrize(
    "stage, step",
    [("signed", "decrease"), ("signed", "collect"), ("signed", "swap"), ("signed", "mint"),
     ("sent", "swap")],
    ids=lambda v: v,
)  # fmt: skip
def test_kill_9_at_each_step_then_restart_finishes_the_move_once(fork, tmp_path, stage, step):
    """The live keeper finds the price out of its range, starts the move, and is killed with
    that step's transaction signed (journaled, not sent) or sent; restarted, it sends that
    very transaction (or finds it mined), then the rest: one of each step lands."""
    node, market, manifest = fork
    market.transmit(pool_price(market))
    token = mint_for_keeper(market, manifest)
    # A fresh process has seen no fees yet: the trigger alone moves the range (no gate).
    cfg_path = write_config(tmp_path, range_config(tmp_path, node.url, manifest, token,
                                                   min_gain_ratio=0.0))  # fmt: skip
    home = tmp_path / "home"
    set_up_keeper(cfg_path, manifest, node.url, home)
    earn_fees_then_leave_the_range(market)
    start, nonce0 = node.head(), node.nonce(market.keeper)
    frozen = KeeperProcess(cfg_path, home, **{CHAOS_ENV: f"{stage}:range_{step}"})
    frozen.wait_line(f"CHAOS stopped at {stage}", timeout=60)
    frozen.kill()
    journal = cfg_path.parent / "journal.sqlite"
    steps, (reb,) = range_steps(journal)
    assert reb.status == "open" and steps[step][-1].status == stage

    with node.mining():
        restarted = KeeperProcess(cfg_path, home, blocks=8)
        assert restarted.finish() == 0, restarted.lines()[-15:]
    steps, (reb,) = range_steps(journal)
    assert reb.status == "done", (reb, restarted.lines()[-15:])
    for kind in ("decrease", "collect", "swap", "mint"):
        assert [i.status for i in steps[kind]].count("mined") == 1, (kind, steps[kind])
    with Journal(journal) as j:  # the killed step's journaled transaction is the one that landed
        crashed = steps[step][0]
        assert crashed.status == "mined" and j.attempts(crashed.id)[-1].status == "mined"
    landed = node.txs_from(market.keeper, npm(manifest), start)
    assert len(landed) == 3 and all(t["status"] == "0x1" for t in landed), landed  # dec, col, mint
    swaps = node.txs_from(market.keeper, market.swap_router, start)
    assert len(swaps) == 1 and swaps[0]["status"] == "0x1", swaps
    old = position(market, manifest, token)
    assert old[7] == 0 and old[10] == 0 and old[11] == 0  # no double withdrawal, nothing stranded
    new = position(market, manifest, reb.new_token_id)
    tick = market.call(market.v3[500], "slot0()", [], [], ["uint160", "int24"])[1]
    assert new[7] > 0 and new[5] <= tick < new[6]
    # No nonce gap: every transaction of the keeper since the start landed once.
    perp = node.txs_from(market.keeper, manifest["perp"]["address"], start)
    assert node.nonce(market.keeper) == nonce0 + len(landed) + len(swaps) + len(perp)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "case, words",
    [("not-owned", ["range.position_id", "not the keeper"]),
     ("width", ["range.policy.width", "tick spacing"])],
)  # fmt: skip
def test_a_position_not_the_keepers_or_a_width_below_the_spacing_is_one_line(
    preset, tmp_path, case, words
):
    url, manifest, _ = preset
    market = Market(url, manifest)
    token = manifest["uniswap_v3"]["pools"]["weth_usdc_500"]["positions"][0]["token_id"]
    policy = {"width": 0.0001} if case == "width" else {}
    cfg = range_config(tmp_path, url, manifest, token, **policy)
    nonce = market.nonce(market.keeper)
    if case == "width":  # the width is checked after ownership: a token the keeper owns
        snapshot = market.rpc("evm_snapshot")
        cfg["range"]["position_id"] = mint_for_keeper(market, manifest)
        nonce = market.nonce(market.keeper)
    try:
        config = load_keeper_config(write_config(tmp_path, cfg))
        with pytest.raises(KeeperConfigError) as err, Keeper(
            config, manifest, rpc_url=url, log=KeeperLog(stream=None), home=tmp_path / "h"
        ) as keeper:  # fmt: skip
            keeper.tick()
        message = str(err.value)
        assert "\n" not in message and all(w in message for w in words), message
        assert market.nonce(market.keeper) == nonce
    finally:
        if case == "width":
            market.rpc("evm_revert", snapshot)


# --------------------------------------------------------------------------- guards


@pytest.mark.parametrize("case", ["stale-oracle", "pool-off-oracle"])
def test_a_stale_oracle_or_a_pool_off_it_moves_no_range(fork, tmp_path, case):
    """The price leaves the range, but the oracle is two hours old, or reports a price 3 %
    from the pool's: the keeper journals no move and sends nothing to the position manager
    or the router. Once the oracle follows the pool again (and the kill switch's oracle
    hysteresis has lifted), the same keeper moves."""
    node, market, manifest = fork
    market.transmit(pool_price(market))
    token = mint_for_keeper(market, manifest)
    cfg = load_keeper_config(write_config(tmp_path, range_config(
        tmp_path, node.url, manifest, token, min_gain_ratio=0.0)))  # fmt: skip
    with Keeper(cfg, manifest, rpc_url=node.url, log=KeeperLog(stream=None),
                home=tmp_path / "h") as keeper:  # fmt: skip
        keeper.tick()
        before = pool_price(market)
        start = node.head()
        swap(market, market.usdc, 0, price_up=0.03)
        if case == "stale-oracle":
            market.rpc("evm_setNextBlockTimestamp", hex(market.now() + 7200))
            market.rpc("evm_mine")
        else:
            transmit_later(market, 12)  # the pool's price: then the old one, fresh
            market.transmit(before)
        keeper.tick()
        assert keeper.ranges.last["decision"].blocked[0], keeper.ranges.last
        _, rebalances = range_steps(cfg.journal_path)
        assert rebalances == []
        assert node.txs_from(market.keeper, npm(manifest), start) == []
        assert node.txs_from(market.keeper, market.swap_router, start) == []
        transmit_later(market, 12)  # the oracle follows the pool: the range guard lifts
        modes = []
        while not range_steps(cfg.journal_path)[1] and len(modes) < 6:
            modes.append(keeper.tick().mode)
            transmit_later(market, 12)
        # A stale oracle also put the kill switch in reduce-only (no move either) until three
        # sane checks; the pool off the oracle stayed inside the hedge guard's 10 %.
        waits = 2 if case == "stale-oracle" else 0
        assert modes == ["reduce_only"] * waits + ["running"], modes
        _, (reb,) = range_steps(cfg.journal_path)
        assert reb.status == "done" and keeper.ranges.token_id == reb.new_token_id

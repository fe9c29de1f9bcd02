"""Pure parts of the history puller and reader (missing ranges, part names, config refusals),
and a V3 pool's flow through the fast engine on a folder made from the integer twin's events."""

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim.chain.history import missing
from sim.engine.core import Engine, EngineHooks
from sim.errors import ConfigError
from sim.history import v3
from sim.history.replay import replay
from sim.history.schema import (
    BLOCKS,
    EVENTS,
    FORMAT,
    MANIFEST,
    TABLES,
    chunk_file,
    parse_chunk_file,
)
from sim.history.store import HistoryError, open_history
from sim.scenario import scenario_from_dict
from sim.studies.fee_tiers import fee_tier_study
from sim.venues.univ3.batch import V3Batch
from sim.venues.univ3.twin import UniswapV3Pool
from sim.venues.univ3.v3math import MIN_SQRT_RATIO, get_sqrt_ratio_at_tick


@pytest.mark.parametrize(
    "chunks, expect",
    [
        ([], [(0, 99)]),
        ([(0, 99)], []),
        ([(10, 19), (30, 39)], [(0, 9), (20, 29), (40, 99)]),
        ([(0, 49), (50, 200)], []),
        ([(-5, 3), (97, 120)], [(4, 96)]),
    ],
    ids=["nothing", "all", "holes", "beyond", "overlapping-ends"],
)
def test_missing_ranges(chunks, expect):
    assert missing(0, 99, chunks) == expect


def test_part_names_round_trip_and_topics_are_the_known_ones():
    assert parse_chunk_file(chunk_file("v2_sync", 7, 1234).split("/")[1]) == (7, 1234)
    assert parse_chunk_file(".000-001.parquet.tmp") is None
    topics = {e.signature: e.topic0 for e in EVENTS}
    # Uniswap V2 Sync, V3 Swap and Chainlink AnswerUpdated as every explorer shows them
    assert topics["Sync(uint112,uint112)"].startswith("0x1c411e9a96e07124")
    assert topics["Swap(address,address,int256,int256,uint160,uint128,int24)"].startswith(
        "0xc42079f94a6350d7"
    )
    assert topics["AnswerUpdated(int256,uint256,uint256)"].startswith("0x0559884fd3a460db")


@pytest.mark.parametrize(
    "price",
    [{"kind": "replay"}, {"kind": "replay", "path": "a.csv", "source": "d"}],
    ids=["neither", "both"],
)
def test_price_replay_takes_a_csv_or_a_pulled_folder(price):
    with pytest.raises(ConfigError, match="exactly one of 'path'"):
        scenario_from_dict({"price": price})


def test_a_folder_without_a_pull_is_refused_in_one_line(tmp_path):
    with pytest.raises(HistoryError) as err:
        open_history(tmp_path)
    assert "ammlab data pull" in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------- V3 flow, no chain

WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
POOL = "0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640"
OWNERS = ("0x" + "11" * 20, "0x" + "22" * 20)
OWNER_A = OWNERS[0]
T0 = 1_700_000_000
ALL = 2**128 - 1


def synthetic_pull(folder: Path, risky_first: bool, blocks: int = 80, seed: int = 1) -> Path:
    """A pulled folder (the format `ammlab data pull` writes) of one 5 bp WETH/USDC V3 pool
    whose events come from the integer twin: its Initialize, then every 12 s a few calls of
    every kind the replay takes (exact-in, exact-out and price-limited swaps, mints, partial
    and full burns, collects of all or part, flashes). `risky_first`: WETH is token0 (else
    token1, as on mainnet)."""
    rng = np.random.default_rng(seed)
    tokens = [(WETH, 18, "WETH"), (USDC, 6, "USDC")]
    if not risky_first:
        tokens.reverse()
    pool = UniswapV3Pool(500, 10, POOL)
    raw = 3000e6 / 1e18 if risky_first else 1e18 / 3000e6  # token1 per token0, base units
    rows: dict[str, list[dict]] = {}
    log = [0]

    def emit(table: str, block: int, **fields) -> None:
        log[0] += 1
        rows.setdefault(table, []).append({
            "block_number": block, "block_timestamp": T0 + 12 * block, "block_hash": "0x00",
            "transaction_hash": "0x00", "transaction_index": 0, "log_index": log[0],
            "address": POOL, **fields})  # fmt: skip

    def mint(block: int, owner: str, lower: int, upper: int, liquidity: int) -> None:
        a0, a1 = pool.mint(owner, lower, upper, liquidity, T0 + 12 * block)
        emit("v3_mint", block, sender=owner, owner=owner, tickLower=lower, tickUpper=upper,
             amount=liquidity, amount0=a0, amount1=a1)  # fmt: skip

    pool.initialize(int(math.sqrt(raw) * 2**96), T0 + 12)
    emit("v3_initialize", 1, sqrtPriceX96=pool.sqrt_price_x96, tick=pool.tick)
    mint(1, OWNERS[0], -887270, 887270, 5 * 10**15)
    for b in range(2, blocks + 1):
        ts = T0 + 12 * b
        for _ in range(rng.poisson(3)):
            kind = rng.choice(["in", "out", "limit", "mint", "burn", "collect", "flash"],
                              p=[0.25, 0.15, 0.1, 0.2, 0.15, 0.1, 0.05])  # fmt: skip
            live = [k for k, p in pool.positions.items() if p.liquidity > 0]
            if kind in ("in", "out", "limit"):
                zero_for_one = bool(rng.random() < 0.5)
                weth = float(rng.lognormal(0.0, 1.0))
                weth_in = zero_for_one == risky_first
                size = int(weth * 1e18) if weth_in else int(weth * 3000e6)
                limit = 4295128740 if zero_for_one else 1461446703485210103287513844580810376
                if kind == "out":
                    size = -(int(weth * 3000e6) if weth_in else int(weth * 1e18))
                elif kind == "limit":
                    size *= 50
                    limit = pool.sqrt_price_x96 * (9990 if zero_for_one else 10010) // 10000
                a0, a1 = pool.swap(zero_for_one, size, limit, ts)
                emit("v3_swap", b, sender=OWNERS[1], recipient=OWNERS[1], amount0=a0,
                     amount1=a1, sqrtPriceX96=pool.sqrt_price_x96, liquidity=pool.liquidity,
                     tick=pool.tick)  # fmt: skip
            elif kind == "mint":
                at = pool.tick // 10 * 10
                lower, upper = (
                    at - 10 * int(rng.integers(1, 60)),
                    at + 10 * int(rng.integers(1, 60)),
                )
                mint(
                    b, OWNERS[int(rng.integers(2))], lower, upper, int(rng.integers(1, 10)) * 10**15
                )
            elif kind == "burn" and live:
                key = live[int(rng.integers(len(live)))]
                held = pool.positions[key].liquidity
                amount = held if rng.random() < 0.4 else held // 3
                a0, a1 = pool.burn(*key, amount, ts)
                emit("v3_burn", b, owner=key[0], tickLower=key[1], tickUpper=key[2],
                     amount=amount, amount0=a0, amount1=a1)  # fmt: skip
            elif kind == "collect" and pool.positions:
                key = list(pool.positions)[int(rng.integers(len(pool.positions)))]
                want = ALL if rng.random() < 0.5 else 10**5
                a0, a1 = pool.collect(*key, want, want)
                emit("v3_collect", b, owner=key[0], recipient=key[0], tickLower=key[1],
                     tickUpper=key[2], amount0=a0, amount1=a1)  # fmt: skip
            elif kind == "flash" and pool.liquidity > 0:
                paid = (int(rng.integers(1, 10**15)), int(rng.integers(1, 10**5)))  # WETH, USDC
                paid0, paid1 = paid if risky_first else paid[::-1]
                v3._flash(pool, paid0, paid1)
                emit("v3_flash", b, sender=OWNERS[1], recipient=OWNERS[1], amount0=0,
                     amount1=0, paid0=paid0, paid1=paid1)  # fmt: skip
    folder.mkdir(parents=True)
    for table, data in rows.items():
        event = TABLES[table]
        cols = {c: [r[c] for r in data] for c in data[0]}
        for f in event.fields:
            if f.wide:
                cols[f.name] = [str(v) for v in cols[f.name]]
        (folder / table).mkdir()
        pq.write_table(pa.table(cols), folder / chunk_file(table, 1, blocks))
    (folder / BLOCKS).mkdir()
    numbers = list(range(1, blocks + 1))
    pq.write_table(pa.table({"number": numbers, "timestamp": [T0 + 12 * b for b in numbers]}),
                   folder / chunk_file(BLOCKS, 1, blocks))  # fmt: skip
    token = [{"address": a, "decimals": d, "symbol": s} for a, d, s in tokens]
    (folder / MANIFEST).write_text(json.dumps({
        "format": FORMAT, "chunks": [[1, blocks]], "anchor_timestamp": None,
        "sources": {POOL: {"kind": "v3", "fee": 500, "tick_spacing": 10, "token0": token[0],
                           "token1": token[1], "initial": None}}}))  # fmt: skip
    return folder


def _v3_scenario(folder: Path, n_blocks: int, **flow) -> dict:
    return {
        "paths": 2, "agents": [], "blocks": {"n_blocks": n_blocks, "block_time": 12},
        "price": {"kind": "replay", "source": str(folder), "address": POOL},
        "v3_pools": [{"name": "v3pool", "fee": 500}],
        "flow": {"kind": "replay", "source": str(folder), "v3_pool": "v3pool", **flow},
    }  # fmt: skip


@pytest.mark.parametrize("risky_first", [True, False], ids=["weth-token0", "weth-token1"])
def test_v3_flow_through_the_engine_equals_the_exact_replay_at_every_block(tmp_path, risky_first):
    """The engine's float pool after every block against the exact replay's integer pool (the
    recorded one, checked against every event): the tick exactly, the price and the in-range
    liquidity to 1e-9 (the bound of tests/e2e/test_history.py's V3 check)."""
    folder = synthetic_pull(tmp_path / "h", risky_first)
    h = open_history(folder)
    kinds = {t for t in TABLES if t.startswith("v3_") and h.rows(t)}
    assert {"v3_swap", "v3_mint", "v3_burn", "v3_collect", "v3_flash"} <= kinds
    exact = replay(h, POOL).states
    t0 = h.time_origin()
    times = [h.timestamps[b] - t0 for b, _ in exact]
    side = 0 if risky_first else 1
    checked = []

    def end_block(ctx) -> None:
        pool = ctx.markets["v3_pools"]["v3pool"]
        state = exact[np.searchsorted(times, ctx.time[0], side="right") - 1][1]
        sqrt_raw = state["sqrtPriceX96"] / 2**96
        s = sqrt_raw * 1e6 if side == 0 else 1 / sqrt_raw * 1e6  # sqrt(10**12)
        tick = state["tick"] if side == 0 else -state["tick"] - 1
        assert (pool.tick == tick).all(), (ctx.block, pool.tick, tick)
        np.testing.assert_allclose(pool.s, s, rtol=1e-9)
        np.testing.assert_allclose(pool.L, state["liquidity"] / 1e12, rtol=1e-9)
        checked.append(ctx.block)

    sc = scenario_from_dict(_v3_scenario(folder, math.ceil(times[-1] / 12)))
    worlds = Engine(sc, hooks=EngineHooks(end_block=end_block)).run().worlds
    assert len(set(checked)) == sc.blocks.n_blocks > 70
    assert worlds["flow.refused"][0] == 0 and worlds["flow.swaps"][0] == len(h.rows("v3_swap"))


@pytest.mark.parametrize("tier", [1, 30, 100])
def test_v3_counterfactuals_through_the_engine_equal_the_exact_replay(tmp_path, tier):
    """The fee-tier study at another fee, with the arbitrageur against the recorded price:
    the engine's pool and the exact replay's take the same trades (counts equal) and book the
    same money to float rounding (relative to the volume traded)."""
    h = open_history(synthetic_pull(tmp_path / "h", risky_first=False))
    fast, exact = (fee_tier_study(h, POOL, POOL, [tier], 12.0, True, exact=e)["rows"][0]
                   for e in (False, True))  # fmt: skip
    assert fast["swaps"] == exact["swaps"] and fast["refused"] == exact["refused"]
    assert exact["arb_profit"] > 0
    for key in ("fees", "lvr", "volume", "arb_profit"):
        assert abs(fast[key] - exact[key]) <= 1e-9 * exact["volume"], key


@pytest.mark.parametrize(
    "flow, pool, says",
    [
        ({"pool": "pool"}, {}, "give pool (a V2 pair's flow) or v3_pool"),
        ({"fee": 100, "v3_pool": None}, {}, "flow.fee: only for a V3 pool's flow"),
        ({}, {"positions": [{"full_range": True}]}, "v3_pools.v3pool.positions: the pool a"),
        ({}, {"price_offset_bps": 5.0}, "v3_pools.v3pool.price_offset_bps: the pool a"),
        ({"v3_pool": "other"}, {}, "flow: no v3_pools entry named 'other'"),
    ],
    ids=["both-pools", "fee-for-v2", "positions", "offset", "unknown-pool"],
)
def test_bad_v3_flow_settings_are_refused_in_one_line(tmp_path, flow, pool, says):
    folder = synthetic_pull(tmp_path / "h", risky_first=True, blocks=3)
    data = _v3_scenario(folder, 2, **flow)
    data["v3_pools"][0].update(pool)
    with pytest.raises((ConfigError, HistoryError)) as err:
        Engine(scenario_from_dict(data)).run()
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_v3_pool_pulled_mid_life_is_refused(tmp_path):
    folder = synthetic_pull(tmp_path / "h", risky_first=True, blocks=3)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["sources"][POOL]["initial"] = {"sqrt_price_x96": str(2**96)}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(HistoryError, match="pull from the block of its Initialize"):
        Engine(scenario_from_dict(_v3_scenario(folder, 2))).run()


def test_the_float_pool_s_replay_operations_match_the_twin():
    """`V3Batch`'s operations for a replayed flow against the integer twin, each one operation
    on the same state (tolerances of tests/sim/test_univ3_batch.py: under a base unit per
    rounding, 1e-12 relative): setting positions' liquidity up, part-way down and to zero pays
    what the pool's mint and burn do; a flash raises the fee growth and the in-range positions'
    fees owed as the pool's flash does, and a collect pays them; the input of an exact output
    across an initialised tick is the pool's, within its roundings per step."""
    rel = 1e-12
    twin = UniswapV3Pool(500, 10)
    tick0 = -200_000
    twin.initialize(get_sqrt_ratio_at_tick(tick0) + 12345, T0)
    pool = V3Batch("p", 1, 500, 10, 3, price_scale=1.0)  # base units, canonical = the twin's
    pool.s[:] = twin.sqrt_price_x96 / 2**96
    pool.tick[:] = twin.tick
    ranges = [(tick0 - 600, tick0 + 400), (tick0 - 100, tick0 + 50), (tick0 - 2000, tick0 - 1000)]
    held = [10**18, 3 * 10**17, 2 * 10**17]

    def one(v) -> np.ndarray:
        return np.array([v])

    def same(exact: int, approx: float, units: float = 1.0) -> None:
        assert abs(approx - exact) <= units + rel * abs(exact), (exact, approx)

    def same_state() -> None:
        assert pool.s[0] == pytest.approx(twin.sqrt_price_x96 / 2**96, rel=rel)
        assert pool.L[0] == pytest.approx(twin.liquidity, rel=rel)
        assert int(pool.tick[0]) == twin.tick

    def set_liquidity(j: int, liquidity: int) -> tuple[float, float]:
        x, y = pool.set_liquidity_raw(j, one(ranges[j][0]), one(ranges[j][1]), one(liquidity))
        held[j] = liquidity
        return float(x[0]), float(y[0])

    for j, liquidity in enumerate(list(held)):
        a0, a1 = twin.mint(OWNER_A, *ranges[j], liquidity, T0)
        x, y = set_liquidity(j, liquidity)
        same(a0, x)
        same(a1, y)
    same_state()
    # a flash's fees, then every position poked and collected
    fg0, fg1 = twin.fee_growth_global0_x128, twin.fee_growth_global1_x128
    v3._flash(twin, 10**12, 10**6)
    pool.flash_raw(one(1e12), one(1e6))
    assert pool.fee_growth[0, 0] == pytest.approx((twin.fee_growth_global0_x128 - fg0) / 2**128,
                                                  rel=rel)  # fmt: skip
    assert pool.fee_growth[0, 1] == pytest.approx((twin.fee_growth_global1_x128 - fg1) / 2**128,
                                                  rel=rel)  # fmt: skip
    for j, (lower, upper) in enumerate(ranges):
        twin.burn(OWNER_A, lower, upper, 0, T0)
        c0, c1 = twin.collect(OWNER_A, lower, upper, ALL, ALL)
        x, y = pool.collect_raw(j, one(np.inf), one(np.inf))
        same(c0, float(x[0]))
        same(c1, float(y[0]))
        assert (c0 > 0) == (j < 2)  # the third range is below the price: nothing
    assert pool.collect_raw(0, one(np.inf), one(np.inf))[0][0] == 0.0
    # more liquidity, part of it back, a range closed
    a0, a1 = twin.mint(OWNER_A, *ranges[0], 10**17, T0)
    x, y = set_liquidity(0, held[0] + 10**17)
    same(a0, x)
    same(a1, y)
    a0, a1 = twin.burn(OWNER_A, *ranges[1], held[1] // 3, T0)
    x, y = set_liquidity(1, held[1] - held[1] // 3)
    same(a0, -x)
    same(a1, -y)
    a0, a1 = twin.burn(OWNER_A, *ranges[2], held[2], T0)
    x, y = set_liquidity(2, 0)
    same(a0, -x)
    same(a1, -y)
    assert pool.nk[0] == 4 and pool.pL[0, 2] == 0.0
    same_state()
    # an exact output of the numeraire (token1) for the risky asset, across tick0 - 100
    out = 5 * 10**11
    twin_in, twin_out = twin.copy().swap(True, -out, MIN_SQRT_RATIO + 1, T0)
    need, fills = pool.input_for_output(one(float(out)), one(-1))
    assert fills[0] and twin_out == -out
    # <= 3 steps (the tick, the end, a word edge), each rounding its input and fee up and its
    # output down, by under a unit each: a unit of the output is worth 1/P of the input
    rate = (2**96 / twin.sqrt_price_x96) ** 2
    same(twin_in, float(need[0]), units=3 * (2 + rate))
    twin.swap(True, -out, MIN_SQRT_RATIO + 1, T0)
    used, paid = pool.swap_raw(need, one(-1))
    assert twin.tick < tick0 - 100 and paid[0] == pytest.approx(out, rel=1e-9)
    assert pool.s[0] == pytest.approx(twin.sqrt_price_x96 / 2**96, rel=1e-9)
    assert int(pool.tick[0]) == twin.tick and pool.L[0] == pytest.approx(twin.liquidity, rel=rel)
    # an output beyond what the liquidity holds is refused
    assert not pool.input_for_output(one(1e30), one(-1))[1][0]


def test_a_replayed_flow_is_never_run_by_a_fused_kernel():
    """The fused kernels model the arbitrageur alone: a scenario with a replayed flow (whatever
    else it holds) must take the general path, which runs the flow."""
    from sim.engine.fused import is_fusable
    from sim.scenario import scenario_from_dict

    plain = scenario_from_dict({})
    assert is_fusable(plain)
    with_flow = plain.model_copy(update={"flow": object()})
    assert not is_fusable(with_flow)

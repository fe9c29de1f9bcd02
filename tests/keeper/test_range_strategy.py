"""The live keeper's concentrated position without a chain: the fees a token is owed equal the
position manager's own `collect` on the twins, the canonical view is the same whichever token
the base is, a move's swap leaves its holdings in the new range's ratio at the price it leaves
(the exact twin's quotes), a mint's minimum amounts are the twin's, and the journal keeps one
move open at a time with its steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from keeper.journal import Journal
from keeper.journal_records import JournalError, intent_key
from keeper.ranges import Canon, PositionSnapshot, plan_mint, plan_swap, target_ratio
from keeper.venues.v3 import V3PoolSnapshot
from sim.venues.univ3.periphery import (
    PositionManager,
    amounts_for_liquidity,
    quote_exact_input_single,
)
from sim.venues.univ3.twin import UniswapV3Pool
from sim.venues.univ3.v3math import MAX_SQRT_RATIO, MIN_SQRT_RATIO, Q96, get_sqrt_ratio_at_tick

E18, E6 = 10**18, 10**6
T0 = 1_700_000_000
A, B = "0x" + "aa" * 20, "0x" + "bb" * 20
"""Addresses for the encoded calls (tokens, router, manager, recipient)."""


def _pool(base0: bool) -> tuple[UniswapV3Pool, PositionManager]:
    """A 0.05 % pool at 3,000 quote per base (18/6 decimals) with a full-range and a ±10 %
    position, and the manager's token 3 on ±2 % (tokens 1 and 2 the others')."""
    pool = UniswapV3Pool(500, address="pool")
    raw = 3000 * E6 / E18  # quote base units per base base unit
    price = raw if base0 else 1 / raw
    pool.initialize(int(math.sqrt(price) * Q96), T0)
    npm = PositionManager("npm")
    t = pool.tick
    for lo, hi, weth in ((-887270, 887270, 1000), (t - 950, t + 950, 1000),
                         (t - 200, t + 200, 10)):  # fmt: skip
        base, quote = weth * E18, weth * 3000 * E6  # the same value of each, either order
        a0, a1 = (base, quote) if base0 else (quote, base)
        npm.mint(pool, "p", lo // 10 * 10, hi // 10 * 10, a0, a1, 0, 0, T0)
    return pool, npm


def _snapshot(pool: UniswapV3Pool, base0: bool) -> V3PoolSnapshot:
    words = sorted(pool.tick_bitmap)
    ticks = tuple((t, i.liquidity_gross, i.liquidity_net) for t, i in sorted(pool.ticks.items()))
    return V3PoolSnapshot(
        name="v3", address="pool", fee=500, tick_spacing=10, base_is_token0=base0,
        sqrt_price_x96=pool.sqrt_price_x96, tick=pool.tick, fee_protocol=0, unlocked=True,
        liquidity=pool.liquidity, ticks=ticks,
        bitmap=tuple((w, pool.tick_bitmap[w]) for w in words), word_lo=words[0],
        word_hi=words[-1], balance0=pool.balance0, balance1=pool.balance1, tick_cumulative=0,
        twap_tick_cumulative=None, twap_window_s=0, base_decimals=18, quote_decimals=6,
    )  # fmt: skip


def _position(pool: UniswapV3Pool, npm: PositionManager, token: int) -> PositionSnapshot:
    p = npm.positions[token]
    return PositionSnapshot(
        token_id=token, owner="keeper", pool="v3", tick_lower=p.tick_lower,
        tick_upper=p.tick_upper, liquidity=p.liquidity,
        fee_growth_inside0_last_x128=p.fee_growth_inside0_last_x128,
        fee_growth_inside1_last_x128=p.fee_growth_inside1_last_x128,
        tokens_owed0=p.tokens_owed0, tokens_owed1=p.tokens_owed1,
        fee_growth_global0_x128=pool.fee_growth_global0_x128,
        fee_growth_global1_x128=pool.fee_growth_global1_x128,
        lower_info=pool.tick_info(p.tick_lower), upper_info=pool.tick_info(p.tick_upper),
    )  # fmt: skip


def _trade(pool: UniswapV3Pool, rng, n: int = 12) -> None:
    for k in range(n):
        zero_for_one = bool(rng.integers(0, 2))
        amount = int(rng.uniform(0.5, 3.0) * (10**17 if k % 2 else 10**9))
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        pool.swap(zero_for_one, amount, limit, T0 + k)


@pytest.mark.parametrize("base0", [True, False], ids=["base-token0", "base-token1"])
def test_owed_fees_are_what_the_manager_collects(base0):
    pool, npm = _pool(base0)
    _trade(pool, np.random.default_rng(1))
    pos = _position(pool, npm, 3)
    owed = pos.owed(pool.tick)
    assert sum(owed) > 0
    collected = npm.copy().collect(pool.copy(), 3, 2**128 - 1, 2**128 - 1, T0 + 99)
    assert owed == collected


def test_the_canonical_view_does_not_depend_on_which_token_is_the_base():
    views = []
    for base0 in (True, False):
        pool, npm = _pool(base0)
        snap, pos = _snapshot(pool, base0), _position(pool, npm, 3)
        c = Canon.of(snap)
        lower, upper = c.range(pos.tick_lower, pos.tick_upper)
        views.append((snap.price, c.tick(snap.tick), lower, upper, pos.liquidity))
    (p0, t0, l0, u0, q0), (p1, t1, l1, u1, q1) = views
    assert p0 == pytest.approx(3000.0, rel=1e-9) and p1 == pytest.approx(3000.0, rel=1e-9)
    assert abs(t0 - t1) <= 1 and abs(l0 - l1) <= 10 and abs(u0 - u1) <= 10
    # (The liquidities differ: each orientation rounds its range to the spacing its own way.)
    assert q0 > 0 and q1 > 0


def test_the_swap_leaves_the_holdings_in_the_new_ranges_ratio():
    """The price sits above the new range's centre: the budget, all quote, sells quote for
    base until what is left matches the range at the price the swap itself leaves."""
    pool, _npm = _pool(True)
    snap = _snapshot(pool, True)
    lower, upper = (snap.tick - 300) // 10 * 10, (snap.tick + 300) // 10 * 10
    budget0, budget1 = 0, 2_000_000 * E6  # base is token0; all quote
    plan = plan_swap(snap, budget0, budget1, lower, upper, A, B, 0.01, T0, 3000.0,
                     A, B)  # fmt: skip
    m = plan.meta
    assert m["zero_for_one"] is False and m["amount_out_min"] < m["amount_out"]
    out, sqrt_after, _ = quote_exact_input_single(pool.copy(), False, m["amount_in"],
                                                  snap.edge(False))  # fmt: skip
    assert out == m["amount_out"]
    x0, x1 = budget0 + out, budget1 - m["amount_in"]
    p = (sqrt_after / Q96) ** 2
    share = x0 * p / (x0 * p + x1)
    assert share == pytest.approx(target_ratio(sqrt_after, lower, upper), abs=1e-9)
    # Sized at the price now instead, the same swap would leave 10 % of its value idle.
    naive = target_ratio(snap.sqrt_price_x96, lower, upper)
    assert abs(naive - share) > 1e-3
    assert get_sqrt_ratio_at_tick(lower) < m["sqrt_price_limit_x96"]


def test_a_mint_asks_the_twins_amounts_and_minimums():
    pool, _npm = _pool(False)
    snap = _snapshot(pool, False)
    lower, upper = (snap.tick - 200) // 10 * 10, (snap.tick + 200) // 10 * 10
    plan = plan_mint(snap, 10**12, 10**20, lower, upper, A, B, 0.01, T0, 3000.0,
                     A, B)  # fmt: skip
    m = plan.meta
    a0, a1 = amounts_for_liquidity(snap.sqrt_price_x96, lower, upper, m["liquidity"])
    assert (m["amount0_min"], m["amount1_min"]) == (math.floor(a0 * 0.99), math.floor(a1 * 0.99))
    minted = PositionManager("npm").mint(pool.copy(), "p", lower, upper, 10**12, 10**20,
                                         m["amount0_min"], m["amount1_min"], T0)  # fmt: skip
    assert minted[1] == m["liquidity"]
    assert plan_mint(snap, 0, 0, lower, upper, A, B, 0.01, T0, 3000.0, A, B) is None


def test_the_journal_keeps_one_move_open_with_its_steps(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        reb = j.start_rebalance("k1", "v3", 7, -10, 10, {"carry": [0, 0]})
        assert j.start_rebalance("k1", "v3", 7, -10, 10) == reb  # the same move, not a second
        with pytest.raises(JournalError, match="still open"):
            j.start_rebalance("k2", "v3", 7, -20, 20)
        step = j.record_intent(intent_key("range:1:decrease", 5, "npm"), account="a",
                               chain_id=1, to="npm", kind="range_decrease",
                               meta={"rebalance": reb.id, "step": "decrease"})  # fmt: skip
        j.record_intent(intent_key("hedge", 5, "perp"), account="a", chain_id=1, to="perp")
        assert [i.id for i in j.rebalance_steps(reb.id)] == [step.id]
        done = j.finish_rebalance(reb.id, "done", 8, meta={"left": [1, 2]})
        assert (done.status, done.new_token_id, done.meta) == (
            "done", 8, {"carry": [0, 0], "left": [1, 2]})  # fmt: skip
        with pytest.raises(JournalError, match="not open"):
            j.finish_rebalance(reb.id, "abandoned")
        assert j.start_rebalance("k2", "v3", 8, -20, 20).status == "open"


@pytest.mark.parametrize(
    "section, field",
    [({"pool": "v3", "position_id": 1, "policy": {"kind": "recentre", "trigger": 2}},
      "range.policy.recentre.trigger"),
     ({"pool": "v3", "position_id": 0}, "range.position_id"),
     ({"pool": "v3", "position_id": 1, "policy": {"kind": "vol_width", "k": -1}},
      "range.policy.vol_width.k")],
    ids=["trigger", "position-id", "k"],
)  # fmt: skip
def test_a_range_parameter_out_of_range_is_one_line_naming_it(section, field):
    from keeper.config import KeeperConfigError, load_keeper_config

    with pytest.raises(KeeperConfigError) as err:
        load_keeper_config(range=section)
    assert field in str(err.value) and "\n" not in str(err.value)

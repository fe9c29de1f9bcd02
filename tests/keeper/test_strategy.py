"""The keeper's pure strategy on hand-built snapshots: book, each policy's decision, venue
choice, caps, worst-price bounds, kill-switch modes, and the WETH/USDC token graph."""

from __future__ import annotations

import math

import numpy as np
import pytest

from keeper.config import load_keeper_config
from keeper.reader import MarketSnapshot, PerpSnapshot, PoolSnapshot, option_positions
from keeper.strategy import (
    HedgeState,
    build_venues,
    hedge_position,
    perp_fill_price,
    plan_hedge,
    route_venues,
    token_graph,
)
from sim.decisions.book import compute_book
from sim.decisions.hedging import DeltaBand, FixedInterval, NoHedge, WhalleyWilmott
from sim.venues.cpmm.twin import get_amount_in, get_amount_out
from sim.venues.options.twin import Board, Strike

E18 = 10**18
NOW = 1_700_000_000
DAY = 86_400


def pool(name, fee, weth, price=3000.0, lp=0.0):
    return PoolSnapshot(
        name=name, address="0x" + name.encode().hex().ljust(40, "0")[:40], fee_bps=fee,
        base_is_token0=True, reserve_base=int(weth * E18), reserve_quote=int(weth * price * 1e6),
        block_timestamp_last=NOW, price0_cumulative=0, price1_cumulative=0,
        total_supply=10**6, lp_balance=int(lp * 10**6), base_decimals=18, quote_decimals=6,
    )  # fmt: skip


def snapshot(calls_sold=10.0, perp_size=0.0, keeper_weth=100.0, perp_skew=0.0, pools=None,
             base_fee_gwei=1.0, lp=0.0) -> MarketSnapshot:  # fmt: skip
    """The pool is short `calls_sold` ATM 30-day calls (traders bought them)."""
    boards = {1: Board(NOW + 30 * DAY, 8 * 10**17, 4 * E18, False, False, 0, [1])}
    strikes = {1: Strike(1, 3000 * E18, E18, int(calls_sold * E18), 0, 0, 0)}
    perp = PerpSnapshot(
        address="0x" + "ab" * 20, size=int(perp_size * E18), margin=100_000 * 10**6,
        last_price=3000 * E18, last_funding_index=0, skew=int((perp_skew + perp_size) * E18),
        skew_scale=50_000 * E18, taker_fee_bps=8, max_funding_rate=10**16, funding_rate=0,
        oracle_price=3000 * E18, quote_decimals=6,
    )  # fmt: skip
    return MarketSnapshot(
        block=100, block_hash="0x" + "11" * 32, timestamp=NOW,
        base_fee_wei=int(base_fee_gwei * 1e9), oracle_answer=3000 * 10**8, oracle_decimals=8,
        oracle_updated_at=NOW, base_decimals=18, quote_decimals=6, keeper="0x" + "cd" * 20,
        keeper_base=int(keeper_weth * E18), keeper_quote=10**12, keeper_native_wei=10**20,
        pools=tuple(pools if pools is not None else
                    (pool("venue_a", 30, 1000, lp=lp), pool("venue_b", 5, 400))),
        boards=boards, strikes=strikes, perp=perp,
    )  # fmt: skip


def cfg(**over):
    base = {"policy": {"kind": "delta_band", "band": 1.0, "min_delay": 300, "override": 5}}
    return load_keeper_config(**{**base, **over})


def plan(snap, c=None, state=None, mode="running"):
    c = c or cfg()
    state = state or HedgeState()
    return plan_hedge(snap, c.policy, state, c, mode=mode, baseline_base=100.0)


# --------------------------------------------------------------------------- book


def test_book_is_the_pool_side_of_traders_positions():
    snap = snapshot(calls_sold=10)
    pos = option_positions(snap.boards, snap.strikes)
    assert pos.size.tolist() == [-10.0] and pos.is_call.tolist() == [True]
    assert pos.iv.tolist() == [pytest.approx(0.8)]
    p = plan(snap)
    assert -6.0 < float(p.book.delta) < -5.0  # short ten ~0.54-delta calls
    assert float(p.book.gamma) < 0 and float(p.book.vega) < 0
    assert float(p.book.delta_quote) == pytest.approx(float(p.book.delta) * 3000)


def test_lp_shares_and_hedges_enter_the_book():
    snap = snapshot(calls_sold=0, lp=0.001, perp_size=1.5, keeper_weth=102.0)  # 0.1 % of venue_a
    p = plan(snap)
    assert float(p.book.delta) == pytest.approx(1.0)  # 0.001 x 1000 WETH
    assert float(p.book.gamma) == pytest.approx(-1.0 / 6000)
    assert hedge_position(snap, 100.0) == pytest.approx(3.5)
    assert p.net_delta == pytest.approx(4.5)


# --------------------------------------------------------------------------- policies


def test_delta_band_hedges_to_zero_outside_the_band():
    p = plan(snapshot(calls_sold=10))
    assert p.reason == "policy: hedge"
    assert p.order == pytest.approx(-float(p.book.delta))
    assert sum(leg.size for leg in p.legs) == pytest.approx(p.order, abs=1e-12)


def test_delta_band_holds_inside_the_band_and_within_the_delay():
    assert plan(snapshot(calls_sold=1.5)).legs == ()  # |delta| ~0.8 < 1
    recent = HedgeState(last_hedge_time=NOW - 60)
    assert plan(snapshot(calls_sold=4), state=recent).legs == ()  # 2.2 > band, < override
    assert plan(snapshot(calls_sold=12), state=recent).legs  # beyond the override: at once


def test_fixed_interval_trades_only_when_due():
    c = cfg(policy={"kind": "fixed_interval", "interval": 3600})
    assert plan(snapshot(), c, HedgeState(NOW - 100)).legs == ()
    assert plan(snapshot(), c, HedgeState(NOW - 3600)).legs


def test_whalley_wilmott_trades_to_the_band_edge():
    c = cfg(policy={"kind": "whalley_wilmott", "risk_aversion": 1e-3})
    p = plan(snapshot(calls_sold=10), c)
    half = float(c.policy.band(p.inputs)[0])
    assert 0 < half < abs(float(p.book.delta))
    assert p.net_delta + p.order == pytest.approx(-half)  # net delta ends on the band's edge


def test_no_hedge_never_trades():
    assert plan(snapshot(calls_sold=30), cfg(policy={"kind": "none"})).legs == ()


@pytest.mark.parametrize("policy", [DeltaBand(), FixedInterval(), WhalleyWilmott(), NoHedge()],
                         ids=lambda p: p.kind)  # fmt: skip
def test_plan_uses_from_book_like_the_simulator(policy):
    snap = snapshot(calls_sold=8)
    c = cfg()
    p = plan_hedge(snap, policy, HedgeState(), c, baseline_base=100.0)
    book = compute_book(3000.0, NOW, option_positions(snap.boards, snap.strikes), 0.0, 1.0)
    assert float(p.inputs.book_delta[0]) == pytest.approx(float(book.delta))
    decision = policy.decide(p.inputs)
    assert np.array_equal(decision.trade, p.decision.trade)


def test_cost_rate_prices_the_expected_rehedge_on_the_route():
    """The policy's cost rate is that of the re-hedge −net delta on the venues that would take
    it (`sim.decisions.routing`'s definition): the perp's alone when it is the only venue, the split's
    legs weighted when the pools are in; no funding, so the horizon leaves it unchanged."""
    snap = snapshot(calls_sold=10, perp_skew=100)  # a 0.2 % premium, inside the guards
    perp_only = cfg(venues={"cpmm": [], "perp": {"funding_horizon_s": 0}})
    p = plan(snap, perp_only)
    order = -p.net_delta
    (venue,) = build_venues(snap, perp_only, order > 0, 100.0)
    assert venue.capacity(order > 0) > abs(order)
    rate = float(p.inputs.cost_rate[0])
    assert rate == pytest.approx(venue.cost_rate(order), rel=1e-12)
    week = cfg(venues={"cpmm": [], "perp": {"funding_horizon_s": 7 * DAY}})
    assert float(plan(snap, week).inputs.cost_rate[0]) == pytest.approx(rate, rel=1e-12)
    both = plan(snap)
    rates = [v.cost_rate(order) for v in build_venues(snap, cfg(), order > 0, 100.0)]
    assert min(rates) <= float(both.inputs.cost_rate[0]) <= max(rates)


# --------------------------------------------------------------------------- venues


def test_the_deep_cheap_perp_takes_a_normal_hedge():
    p = plan(snapshot(calls_sold=10))
    assert [leg.venue for leg in p.legs] == ["perp"]
    assert p.legs[0].kind == "perp" and p.legs[0].size > 0


def test_perp_position_cap_spills_to_the_pools():
    c = cfg(venues={"perp": {"max_position_base": 3.0}},
            safety={"guards": {"max_slippage_bps": 150}})  # fmt: skip
    p = plan(snapshot(calls_sold=10), c)
    sizes = {leg.venue: leg.size for leg in p.legs}
    assert sizes["perp"] == pytest.approx(3.0)
    assert set(sizes) - {"perp"} and sum(sizes.values()) == pytest.approx(p.order, abs=1e-9)


def test_a_skewed_perp_loses_to_the_pools():
    p = plan(snapshot(calls_sold=4, perp_skew=2_000))  # 4 % premium on the perp
    assert p.legs and all(leg.kind == "cpmm" for leg in p.legs)


def test_gas_price_decides_between_split_and_single_venue():
    # A 20 bp skew premium on the perp: the 5 bp pool is worth a small leg only when gas is cheap.
    cheap = plan(snapshot(calls_sold=10, perp_skew=100, base_fee_gwei=0.0))
    dear = plan(snapshot(calls_sold=10, perp_skew=100, base_fee_gwei=5_000.0))
    assert len(cheap.legs) > len(dear.legs) == 1


def test_per_tick_cap_and_dust():
    c = cfg(execution={"max_order_base": 2.0})
    p = plan(snapshot(calls_sold=10), c)
    assert p.order == pytest.approx(2.0) and any("capped" in n for n in p.notes)
    c = cfg(execution={"min_order_base": 50.0})
    assert plan(snapshot(calls_sold=10), c).legs == ()


def test_no_depth_within_the_slippage_bound_sends_nothing():
    c = cfg(venues={"perp": {"enabled": False}}, safety={"guards": {"max_slippage_bps": 1}})
    p = plan(snapshot(calls_sold=10), c)
    assert p.legs == () and "depth" in p.reason


# --------------------------------------------------------------------------- worst prices


def test_pool_buy_is_exact_out_with_amount_in_max_from_the_twin():
    c = cfg(venues={"perp": {"enabled": False}}, execution={"slippage_bps": 50},
            safety={"guards": {"max_slippage_bps": 200}})  # fmt: skip
    snap = snapshot(calls_sold=4)
    p = plan(snap, c)
    for leg in p.legs:
        ps = snap.pool(leg.venue)
        assert leg.amount_out == leg.size_wei > 0
        assert leg.amount_in == get_amount_in(leg.amount_out, ps.reserve_quote, ps.reserve_base,
                                              int(ps.fee_bps))  # fmt: skip
        assert leg.amount_limit == math.ceil(leg.amount_in * 1.005)
        assert leg.deadline == NOW + c.execution.deadline_s


def test_pool_sell_is_exact_in_with_amount_out_min_from_the_twin():
    c = cfg(venues={"perp": {"enabled": False}}, safety={"guards": {"max_slippage_bps": 200}})
    snap = snapshot(calls_sold=0, keeper_weth=104.0)  # 4 WETH of stale hedge to sell
    p = plan(snap, c)
    assert p.order == pytest.approx(-4.0)
    for leg in p.legs:
        ps = snap.pool(leg.venue)
        assert leg.size < 0 and leg.amount_in == -leg.size_wei
        out = get_amount_out(leg.amount_in, ps.reserve_base, ps.reserve_quote, int(ps.fee_bps))
        assert leg.amount_out == out and leg.amount_limit == math.floor(out * (1 - 0.003))


@pytest.mark.parametrize("calls, keeper_weth", [(10, 100.0), (0, 104.0)], ids=["buy", "sell"])
def test_perp_acceptable_price_brackets_the_fill(calls, keeper_weth):
    snap = snapshot(calls_sold=calls, keeper_weth=keeper_weth)
    p = plan(snap)
    (leg,) = p.legs
    fill = perp_fill_price(snap.perp.venue_state(), leg.size_wei)
    if leg.size > 0:
        assert leg.acceptable_price == math.ceil(fill * 1.003) > fill
    else:
        assert leg.acceptable_price == math.floor(fill * 0.997) < fill


# --------------------------------------------------------------------------- modes, graph


def test_kill_switch_modes():
    snap = snapshot(calls_sold=10, perp_size=-2.0)  # the hedge is short, the book wants long
    assert plan(snap, mode="paused").legs == ()
    reduce = plan(snap, mode="reduce_only")
    assert reduce.order == pytest.approx(2.0)  # only back to zero, never beyond
    flat = plan(snapshot(calls_sold=0, perp_size=3.0), mode="flatten")
    assert flat.order == pytest.approx(-3.0)


def test_token_graph_routes_weth_usdc_through_every_venue():
    g = token_graph(snapshot())
    buy = route_venues(g, "USDC", "WETH")
    assert set(buy) == {"venue_a", "venue_b", "perp"}
    assert buy[-1] == "venue_a"  # 30 bp is the worst marginal rate
    assert route_venues(g, "WETH", "DAI") == []


def test_build_venues_respects_the_slippage_bound():
    snap = snapshot()
    c = cfg(safety={"guards": {"max_slippage_bps": 50}})
    for v in build_venues(snap, c, True):
        if v.name.startswith("venue"):
            size = v.capacity(True)
            marginal = (v.cost(size + 1e-6) - v.cost(size - 1e-6)) / 2e-6
            assert marginal == pytest.approx(3000 * 1.005, rel=1e-4)


def test_a_forecast_band_on_the_chain_keeper_scales_as_in_the_simulator():
    """A delta band of 1 with a forecast whose scale is 3 (ForecastInputs' `band_scale`)
    holds a net delta of 2.2 that the plain band of 1 hedges, as a band of 3 does."""
    from keeper.learned import ForecastInputs

    snap = snapshot(calls_sold=4)  # |net delta| ~2.2
    forecast = {"reference_vol": 1e-6, "band_max": 3.0}
    c = cfg(policy={"kind": "delta_band", "band": 1.0, "min_delay": 0, "forecast": forecast})
    inputs = ForecastInputs(c.policy.forecast)
    features = inputs.features(snap)
    assert features == {"band_scale": 3.0}
    scaled = plan_hedge(snap, c.policy, HedgeState(), c, baseline_base=100.0, features=features)
    assert scaled.reason == "policy: hold" and float(scaled.inputs.band_scale[0]) == 3.0
    plain = cfg(policy={"kind": "delta_band", "band": 1.0, "min_delay": 0})
    assert plan(snap, plain).reason == "policy: hedge"
    wide = cfg(policy={"kind": "delta_band", "band": 3.0, "min_delay": 0})
    assert plan(snap, wide).reason == "policy: hold"

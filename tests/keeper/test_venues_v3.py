"""The `univ3` venue kind without a chain: routing's piecewise closed form (`V3Venue`) against
the exact V3 twin's QuoterV2 maths, and the keeper's V3 legs (amounts, worst prices, the
window of ticks read), on pools minted in the twin with many initialised ticks, in both
token orders (the base token0 or token1)."""

from __future__ import annotations

import math

import pytest

from keeper.venues.v3 import V3PoolSnapshot, initialized_ticks, plan_leg, routing_venue
from sim.decisions.routing import CpmmVenue, Leg, split_order
from sim.venues.univ3.periphery import quote_exact_input_single, quote_exact_output_single
from sim.venues.univ3.twin import UniswapV3Pool
from sim.venues.univ3.v3math import get_sqrt_ratio_at_tick, get_tick_at_sqrt_ratio

PRICE = 3000.0
NOW = 1_700_000_000
RANGES = [(None, 20_000), (0.1, 80_000), (0.02, 120_000), (0.005, 160_000), (0.05, 80_000),
          (0.3, 40_000)]  # fmt: skip
"""(half-width around the price or None for the full range, liquidity in whole-token units
√(base·quote)): some 9,000 WETH of virtual depth at the price, ticks every few percent."""


def make_pool(base_is_token0: bool, fee: int = 500) -> tuple[UniswapV3Pool, int, int]:
    """A WETH/USDC-like pool at PRICE with the RANGES minted; (pool, decimals0, decimals1)."""
    d0, d1 = (18, 6) if base_is_token0 else (6, 18)
    raw = PRICE * 10.0 ** (d1 - d0) if base_is_token0 else 10.0 ** (d1 - d0) / PRICE
    pool = UniswapV3Pool(fee)
    sqrt_price = int(math.sqrt(raw) * 2**96)
    pool.initialize(sqrt_price, NOW)
    spacing = pool.tick_spacing
    for width, liquidity in RANGES:
        if width is None:
            lo, hi = -887270 // spacing * spacing, 887270 // spacing * spacing
        else:
            centre = get_tick_at_sqrt_ratio(sqrt_price)
            half = int(math.log(1 + width) / math.log(1.0001))
            lo, hi = (centre - half) // spacing * spacing, (centre + half) // spacing * spacing
        pool.mint("lp", lo, hi, liquidity * 10 ** ((d0 + d1) // 2), NOW)
    return pool, d0, d1


def snapshot_of(pool: UniswapV3Pool, base_is_token0: bool, d0: int, d1: int,
                words: int = 2) -> V3PoolSnapshot:  # fmt: skip
    """What the reader would see of `pool`: the words around the tick and their ticks."""
    spacing = pool.tick_spacing
    centre = (pool.tick // spacing) >> 8
    lo, hi = centre - words, centre + words
    bitmap = {w: pool.bitmap_word(w) for w in range(lo, hi + 1)}
    ticks = initialized_ticks(bitmap, spacing)
    bd, qd = (d0, d1) if base_is_token0 else (d1, d0)
    return V3PoolSnapshot(
        name="v3", address="0x" + "88" * 20, fee=pool.fee, tick_spacing=spacing,
        base_is_token0=base_is_token0, sqrt_price_x96=pool.sqrt_price_x96, tick=pool.tick,
        fee_protocol=0, unlocked=True, liquidity=pool.liquidity,
        ticks=tuple((t, pool.tick_info(t).liquidity_gross, pool.tick_info(t).liquidity_net)
                    for t in ticks),
        bitmap=tuple(bitmap.items()), word_lo=lo, word_hi=hi, balance0=pool.balance0,
        balance1=pool.balance1, tick_cumulative=0, twap_tick_cumulative=None, twap_window_s=0,
        base_decimals=bd, quote_decimals=qd,
    )  # fmt: skip


@pytest.fixture(params=[False, True], ids=["base-token1", "base-token0"])
def v3(request):
    base0 = request.param
    pool, d0, d1 = make_pool(base0)
    return pool, snapshot_of(pool, base0, d0, d1)


def exact_cost(pool: UniswapV3Pool, snap: V3PoolSnapshot, q: float) -> float:
    """Quote paid (negative: received) for q base, by the twin's QuoterV2 maths."""
    wei = int(round(abs(q) * 10**snap.base_decimals))
    buy = q > 0
    zero_for_one = snap.base_is_token0 != buy
    if buy:
        paid, _, _ = quote_exact_output_single(pool, zero_for_one, wei)
        return paid / 10**snap.quote_decimals
    got, _, _ = quote_exact_input_single(pool, zero_for_one, wei)
    return -got / 10**snap.quote_decimals


def test_the_ticks_read_are_many(v3):
    _, snap = v3
    assert len(snap.ticks) >= 10  # the fills below cross several


@pytest.mark.parametrize("q", [0.01, 1.0, 20.0, 80.0, 250.0, -0.01, -1.0, -20.0, -80.0, -250.0])
def test_piecewise_cost_equals_the_twin_across_ticks(v3, q):
    """Equal up to floats (1e-9) and the pool's integer rounding (up by a unit of quote per
    step, a step per tick crossed, and in the fee)."""
    pool, snap = v3
    venue = routing_venue(snap, 0.0, math.inf)
    assert venue.price == pytest.approx(PRICE, rel=1e-9)
    units = (len(snap.ticks) + 4) / 10**snap.quote_decimals
    assert venue.cost(q) == pytest.approx(exact_cost(pool, snap, q), rel=1e-9, abs=units)


@pytest.mark.parametrize("buy", [True, False], ids=["buy", "sell"])
@pytest.mark.parametrize("move", [0.001, 0.01, 0.04])
def test_inverse_marginal_lands_the_pool_at_that_marginal_price(v3, buy, move):
    """After trading inverse_marginal(λ) the twin's price is λ·(1 − fee) (buy) or λ/(1 − fee)
    (sale): the marginal cost the water-filling equalises."""
    pool, snap = v3
    venue = routing_venue(snap, 0.0, math.inf)
    lam = PRICE * (1 + move) / (1 - venue.fee) if buy else PRICE * (1 - move) * (1 - venue.fee)
    size = venue.inverse_marginal(lam, buy)
    wei = int(size * 10**snap.base_decimals)
    zero_for_one = snap.base_is_token0 != buy
    quote = quote_exact_output_single if buy else quote_exact_input_single
    _, sqrt_after, _ = quote(pool, zero_for_one, wei)
    d0, d1 = snap.decimals01
    raw = (sqrt_after / 2**96) ** 2 * 10.0 ** (d0 - d1)
    after = raw if snap.base_is_token0 else 1 / raw
    assert after == pytest.approx(PRICE * (1 + move if buy else 1 - move), rel=1e-6)


def test_capacity_ends_where_the_ticks_read_end(v3):
    pool, snap = v3
    narrow = snapshot_of(pool, snap.base_is_token0, *snap.decimals01, words=1)
    wide, small = routing_venue(snap, 0.0, math.inf), routing_venue(narrow, 0.0, math.inf)
    for buy in (True, False):
        assert 0 < small.capacity(buy) < wide.capacity(buy)
        assert math.isinf(small.cost((1 if buy else -1) * small.capacity(buy) / 0.98))


@pytest.mark.parametrize("q", [3.0, 60.0, -3.0, -60.0])
def test_leg_amounts_are_the_quoters_and_its_bounds_face_the_trade(v3, q):
    pool, snap = v3
    tol = 0.003
    leg = plan_leg(snap, Leg("v3", q, 0.0, 0.0), tol, NOW + 120, "0xBASE", "0xQUOTE", 150_000)
    wei = int(round(abs(q) * 10**snap.base_decimals))
    buy = q > 0
    zero_for_one = snap.base_is_token0 != buy
    if buy:
        paid, sqrt_after, _ = quote_exact_output_single(pool, zero_for_one, wei)
        assert (leg.amount_out, leg.amount_in) == (wei, paid)
        assert leg.amount_limit == math.ceil(paid * (1 + tol))
        assert (leg.token_in, leg.token_out) == ("0xQUOTE", "0xBASE")
    else:
        got, sqrt_after, _ = quote_exact_input_single(pool, zero_for_one, wei)
        assert (leg.amount_in, leg.amount_out) == (wei, got)
        assert leg.amount_limit == math.floor(got * (1 - tol))
    # The price limit lies beyond the twin's price after the trade, by the tolerance.
    ratio = (leg.sqrt_price_limit_x96 / sqrt_after) ** 2
    assert ratio == pytest.approx(1 - tol if zero_for_one else 1 + tol, rel=1e-9)
    assert leg.fee_pips == snap.fee and leg.kind == "univ3"
    assert leg.expected_cost_quote == pytest.approx(exact_cost(pool, snap, q), rel=1e-12)


def test_a_leg_beyond_the_ticks_read_is_cut_to_what_they_fill(v3):
    pool, snap = v3
    narrow = snapshot_of(pool, snap.base_is_token0, *snap.decimals01, words=1)
    capacity = routing_venue(narrow, 0.0, math.inf).capacity(True) / 0.99
    leg = plan_leg(narrow, Leg("v3", 2 * capacity, 0.0, 0.0), 0.003, NOW, "b", "q", 1)
    assert leg.size == pytest.approx(capacity, rel=1e-6)
    zero_for_one = not snap.base_is_token0
    edge = get_sqrt_ratio_at_tick(narrow.tick_lo if zero_for_one else narrow.tick_hi)
    _, sqrt_after, _ = quote_exact_output_single(pool, zero_for_one, leg.amount_out, edge)
    assert sqrt_after == pytest.approx(edge, rel=1e-9)


@pytest.mark.parametrize("order", [40.0, -40.0])
def test_the_split_equalises_marginal_prices_across_v2_and_v3(v3, order):
    """Least cost across a 30 bp constant-product pool and the 5 bp V3 pool: both legs end at
    the same marginal price, and moving a little size between them costs more."""
    pool, snap = v3
    v3_venue = routing_venue(snap, 0.0, math.inf)
    v2_venue = CpmmVenue("v2", 1000.0, 3_000_000.0, 30, max_buy_fraction=0.5)
    route = split_order(order, [v2_venue, v3_venue])
    legs = {leg.venue: leg.size for leg in route.legs}
    assert set(legs) == {"v2", "v3"} and sum(legs.values()) == pytest.approx(order)
    buy = order > 0

    def marginal(venue, size, h=1e-6):
        return (venue.cost(size + h) - venue.cost(size - h)) / (2 * h)

    assert marginal(v2_venue, legs["v2"]) == pytest.approx(marginal(v3_venue, legs["v3"]), rel=1e-5)
    for shift in (-0.5, 0.5):
        moved = v2_venue.cost(legs["v2"] + shift) + v3_venue.cost(legs["v3"] - shift)
        assert moved > route.total_cost
    assert abs(legs["v3"]) > abs(legs["v2"]) if buy else True  # the cheaper fee takes more

"""The policies' cost rate (`sim.decisions.routing`): one definition, vectorised for the simulator's
worlds and scalar for the keeper's venues, equal to what a small trade really costs on the
exact integer twins, and free of funding. The constant-product cost is one arithmetic formula
that floats, numpy arrays and torch tensors (differentiably, for learned hedging) share."""

import numpy as np
import pytest
import torch

from sim.decisions.routing import (
    CpmmVenue,
    PerpVenue,
    cpmm_cost,
    cpmm_cost_rate,
    cpmm_rate,
    cpmm_trade_cost,
    perp_cost_rate,
    route_cost_rate,
    trade_cost_rate,
)
from sim.venues.cpmm import batch as cpmm_vec
from sim.venues.cpmm.twin import get_amount_in, get_amount_out
from sim.venues.perp.batch import PerpBatch, VecParams
from sim.venues.perp.twin import WAD, PerpMarket, PerpParams, VenueState
from sim.venues.pricefeed.twin import PriceFeed

X = np.array([1000.0, 250.0, 4000.0, 1000.0])
Y = X * np.array([3000.0, 3100.0, 2950.0, 3000.0])
ORDERS = [-40.0, -0.5, 0.5, 25.0]


@pytest.mark.parametrize("q", ORDERS)
def test_pool_rate_vectorised_equals_the_venues(q):
    rates = cpmm_cost_rate(X, Y, 30.0, np.full(4, q))
    for w in range(4):
        assert rates[w] == CpmmVenue("p", X[w], Y[w], 30).cost_rate(q)


@pytest.mark.parametrize("q", [-2.0, -0.01, 0.01, 2.0])
def test_pool_rate_is_the_integer_twins_realised_cost(q):
    """Swap q on the router's exact maths (6-decimal quote, 18-decimal base): what was paid
    beyond q at the pool's mid, per notional, is the rate (to the twin's rounding)."""
    x, y, fee = 1000 * 10**18, 3_000_000 * 10**6, 30
    size = int(abs(q) * 1e18)
    if q > 0:
        paid = get_amount_in(size, y, x, fee) / 1e6
    else:
        paid = -get_amount_out(size, x, y, fee) / 1e6
    mid = 3000.0
    realised = (paid - q * mid) / (abs(q) * mid)
    rate = CpmmVenue("p", 1000.0, 3_000_000.0, fee).cost_rate(q)
    unit = 1e-6 / (abs(q) * mid)  # one quote unit of the twin's floor, per notional
    assert rate == pytest.approx(realised, abs=2 * unit)
    # First order: fee plus |q| / x.
    assert rate == pytest.approx(0.003 + abs(q) / 1000.0, rel=0.02)


def _batch(skews):
    params = PerpParams(skew_scale=50_000 * WAD, taker_fee_bps=7, max_funding_rate=10**17)
    batch = PerpBatch(len(skews), 1, VecParams.from_params(params))
    batch.long_oi[:] = np.maximum(skews, 0.0)
    batch.short_oi[:] = np.maximum(-np.asarray(skews), 0.0)
    return params, batch


@pytest.mark.parametrize("q", ORDERS + [0.0])
def test_perp_rate_vectorised_equals_the_venues(q):
    """The agent's call (the batch's float fill) and the keeper's venue (the integer fill
    from the market's public figures) give the same rate for the same state and order."""
    skews = [0.0, 300.0, -2_000.0, 900.0]
    params, batch = _batch(skews)
    price = np.array([2500.0, 2500.0, 3100.0, 1999.0])
    rates = perp_cost_rate(
        lambda s: batch.fill_price(price, s), batch.p.taker_fee, batch.p.skew_scale, np.full(4, q)
    )
    for w in range(4):
        state = VenueState(int(price[w] * WAD), int(skews[w] * WAD), params.skew_scale, 7,
                           params.max_funding_rate)  # fmt: skip
        assert rates[w] == pytest.approx(PerpVenue("perp", state).cost_rate(q), rel=1e-9)


@pytest.mark.parametrize("q", [-3.0, -0.25, 0.25, 3.0])
@pytest.mark.parametrize("skew", [0, 2_000, -1_500])
def test_perp_rate_is_the_twins_realised_cost(q, skew):
    """Trade q on the exact twin from a fresh account after another account has set the skew:
    fee plus fill beyond the mid (the fill at size 0), per notional, is the venue's rate."""
    feed = PriceFeed(8, "ETH / USD", "tx", "owner")
    feed.transmit("tx", 3000 * 10**8, 0)
    params = PerpParams(skew_scale=50_000 * WAD, taker_fee_bps=8)
    market = PerpMarket(feed=feed, params=params)
    for who in ("whale", "alice"):
        market.balances[who] = 10**15
        market.deposit_margin(who, 10**14, 0)
    if skew:
        market.modify_position("whale", skew * WAD, 10**30 if skew > 0 else 0, 0)
    venue = PerpVenue("perp", market.venue_state(0), funding_horizon_s=86_400)
    mid = market.fill_price(0, 0) / WAD
    trade = market.modify_position("alice", int(q * WAD), 10**30 if q > 0 else 0, 0)
    realised = (trade.fee / 1e6 + q * (trade.fill_price / WAD - mid)) / (abs(q) * mid)
    unit = 1e-6 / (abs(q) * mid)  # the fee's ceiling to a quote unit, per notional
    assert venue.cost_rate(q) == pytest.approx(realised, abs=2 * unit)
    # First order: fee plus |q| / (2 skew_scale), whatever the skew premium.
    assert venue.cost_rate(q) == pytest.approx(8e-4 + abs(q) / 100_000, rel=0.01)


def test_funding_is_in_the_routing_cost_not_in_the_rate():
    state = VenueState(3000 * WAD, 5_000 * WAD, 50_000 * WAD, 8, 10**17, 6)
    held = PerpVenue("perp", state, funding_horizon_s=7 * 86_400)
    flat = PerpVenue("perp", state)
    assert held.cost(2.0) > flat.cost(2.0) + 1.0  # a week of funding on a long into the skew
    assert held.cost_rate(2.0) == flat.cost_rate(2.0)


def test_zero_order_is_the_fee_and_the_rate_never_negative():
    # The fee is taken from the input: buying costs f / (1 - f) of the notional at mid.
    assert CpmmVenue("p", 1000.0, 3e6, 30).cost_rate(0.0) == pytest.approx(0.003 / 0.997)
    state = VenueState(3000 * WAD, -20_000 * WAD, 50_000 * WAD, 8, 10**16, 6)
    venue = PerpVenue("perp", state)
    assert venue.cost_rate(0.0) == pytest.approx(8e-4, rel=1e-5)
    # A buy into a short skew fills below the oracle (a premium gained), still a cost at mid.
    assert all(venue.cost_rate(q) > 0 for q in (-50.0, -1.0, 1.0, 50.0, 5_000.0))


def test_trade_cost_rate_is_the_cost_beyond_mid_per_notional():
    assert trade_cost_rate(1010.0, 1.0, 1000.0) == pytest.approx(0.01)
    assert trade_cost_rate(-990.0, -1.0, 1000.0) == pytest.approx(0.01)
    assert np.isinf(CpmmVenue("p", 10.0, 3e4, 30).cost_rate(10.0))  # no such buy


def test_route_rate_is_one_venues_rate_or_the_legs_weighted():
    a = CpmmVenue("a", 1000.0, 3e6, 30)
    b = CpmmVenue("b", 400.0, 1.2e6, 5)
    assert route_cost_rate(12.0, [a]) == a.cost_rate(12.0)
    assert route_cost_rate(-12.0, [b]) == b.cost_rate(-12.0)
    rate = route_cost_rate(30.0, [a, b])
    assert b.cost_rate(30.0) > rate > b.cost_rate(1e-6)  # splitting beats one venue
    assert route_cost_rate(5.0, [CpmmVenue("c", 1000.0, 3e6, 30, max_order=0.0)]) == 0.0


# ------------------------------------------------- the constant-product cost on every array type

QS = np.array([-300.0, -40.0, -0.5, -1e-7, 0.0, 1e-7, 0.5, 25.0, 900.0])
XS = np.array([1000.0, 250.0, 4000.0, 1000.0, 1000.0, 1000.0, 5000.0, 1000.0, 1000.0])
YS = XS * np.linspace(1900.0, 3100.0, len(XS))
FEES = np.array([30.0, 5.0, 20.0, 30.0, 1.0, 30.0, 100.0, 0.0, 30.0])


def test_pool_cost_is_the_float_twins_router_maths_bit_for_bit():
    buy = QS > 0
    want = np.where(
        buy,
        cpmm_vec.get_amount_in(np.where(buy, QS, 0.0), YS, XS, FEES),
        -cpmm_vec.get_amount_out(np.where(buy, 0.0, -QS), XS, YS, FEES),
    )
    np.testing.assert_array_equal(cpmm_cost(XS, YS, FEES, QS), want)
    np.testing.assert_array_equal(cpmm_trade_cost(XS, YS, FEES, QS), want)
    assert cpmm_trade_cost(10.0, 3e4, 30, 10.0) == np.inf  # the whole reserve: no such buy


@pytest.mark.parametrize("q", [-50.0, -2.0, -0.01, 0.01, 2.0, 50.0])
def test_pool_cost_is_the_integer_twins_and_first_order_fee_plus_impact(q):
    """On the router's exact integer maths the quote paid differs by its floors only; beyond
    the trade's value at mid it is fee + impact, f |q| S + S q² / x to first order."""
    x, y, fee = 1000 * 10**18, 3_000_000 * 10**6, 30
    size = int(round(abs(q) * 1e18))
    paid = get_amount_in(size, y, x, fee) if q > 0 else -get_amount_out(size, x, y, fee)
    cost = cpmm_cost(1000.0, 3e6, 30.0, q)
    assert cost == pytest.approx(paid / 1e6, abs=2e-6)  # one quote unit of the twin's floor
    first_order = 0.003 * abs(q) * 3000.0 + 3000.0 * q * q / 1000.0
    assert cost - q * 3000.0 == pytest.approx(first_order, rel=0.06)


def test_pool_cost_and_rate_on_floats_numpy_and_torch_agree():
    t = [torch.tensor(a, dtype=torch.float64) for a in (XS, YS, FEES, QS)]
    for fn in (cpmm_cost, cpmm_rate):
        on_numpy = fn(XS, YS, FEES, QS)
        np.testing.assert_array_equal(fn(*t).numpy(), on_numpy)
        floats = [
            fn(float(a), float(b), float(c), float(d))
            for a, b, c, d in zip(XS, YS, FEES, QS, strict=True)
        ]
        assert all(isinstance(v, float) for v in floats)
        np.testing.assert_array_equal(floats, on_numpy)
    # The array form the keeper agent and the keeper use is the same rate.
    np.testing.assert_array_equal(cpmm_cost_rate(XS, YS, FEES, QS), cpmm_rate(XS, YS, FEES, QS))
    assert cpmm_rate(1000.0, 3e6, 30.0, 0.0) == pytest.approx(0.003 / 0.997, rel=1e-6)


@pytest.mark.parametrize("fn", [cpmm_cost, cpmm_rate])
def test_pool_cost_and_rate_are_differentiable_in_torch(fn):
    """The gradient autograd gives matches central finite differences in every argument
    (away from q = 0, where the fee puts a kink), and is finite at q = 0 too."""
    away = QS != 0
    values = [a[away] for a in (XS, YS, FEES, QS)]
    args = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in values]
    fn(*args).sum().backward()
    for i, a in enumerate(values):
        # Central differences with a step relative to each argument (sizes span 1e-7 to 3e6);
        # q's step stays below |q| so that it never crosses the kink at 0.
        h = 1e-5 * np.maximum(np.abs(a), 1.0)
        if i == 3:
            h = np.minimum(h, 0.5 * np.abs(a))
        up, down = list(values), list(values)
        up[i], down[i] = a + h, a - h
        numeric = (fn(*up) - fn(*down)) / (2 * h)
        grad = args[i].grad.numpy()
        assert np.all(np.isfinite(grad))
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-12, err_msg=f"argument {i}")
    q = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    fn(torch.full((3,), 1000.0), torch.full((3,), 3e6), torch.full((3,), 30.0), q).sum().backward()
    assert torch.all(torch.isfinite(q.grad))
    # d cost / dq at a small buy is the marginal price, y / x / (1 − f) to first order.
    q = torch.tensor(1e-6, dtype=torch.float64, requires_grad=True)
    cpmm_cost(1000.0, 3e6, 30.0, q).backward()
    assert q.grad.item() == pytest.approx(3000.0 / 0.997, rel=1e-6)

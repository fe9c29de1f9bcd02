"""PerpVenue: the perp's costs from sim.venues.perp.twin's formulas, its marginal inversion, and routing."""

import math

import pytest

from sim.decisions.routing import CpmmVenue, PerpVenue, RoutingError, split_order
from sim.venues.perp.twin import WAD, PerpMarket, PerpParams, VenueState, hedge_cost
from sim.venues.pricefeed.twin import PriceFeed

STATE = VenueState(3000 * WAD, 200 * WAD, 50_000 * WAD, 8, 10**16, 6)


@pytest.mark.parametrize(
    "q", [0.5, 3.0, -0.5, -7.25], ids=["buy-small", "buy", "sell-small", "sell"]
)
def test_cost_is_hedge_cost_plus_notional(q):
    venue = PerpVenue("perp", STATE, funding_horizon_s=3600)
    c = hedge_cost(STATE, int(q * WAD), 3600, 0, 0)
    assert venue.cost(q) == pytest.approx(q * 3000 + (c.fee + c.impact + c.expected_funding) / 1e6)


def test_cost_equals_what_the_twin_takes_from_a_fresh_account():
    feed = PriceFeed(8, "ETH / USD", "tx", "owner")
    feed.transmit("tx", 3000 * 10**8, 0)
    market = PerpMarket(feed=feed, params=PerpParams(skew_scale=50_000 * WAD, taker_fee_bps=8))
    market.balances["alice"] = 10**12
    market.deposit_margin("alice", 10**11, 0)
    venue = PerpVenue("perp", market.venue_state(0))
    trade = market.modify_position("alice", 2 * WAD, 10**30, 0)
    taken = 10**11 - market.equity("alice", 0)
    assert venue.cost(2.0) - 2.0 * 3000 == pytest.approx(taken / 1e6, abs=2e-6)
    assert trade.fee > 0


@pytest.mark.parametrize("buy", [True, False], ids=["buy", "sell"])
@pytest.mark.parametrize("horizon", [0, 86_400], ids=["no-funding", "day-funding"])
def test_inverse_marginal_inverts_the_numerical_marginal(buy, horizon):
    venue = PerpVenue("perp", STATE, funding_horizon_s=horizon)
    h = 1e-2
    for size in (1.0, 25.0, 400.0):
        if buy:
            marginal = (venue.cost(size + h) - venue.cost(size - h)) / (2 * h)
        else:
            marginal = -(venue.cost(-size - h) - venue.cost(-size + h)) / (2 * h)
        assert venue.inverse_marginal(marginal, buy) == pytest.approx(size, rel=2e-3, abs=2e-3)


def test_caps_bound_capacity_and_routing_spills_to_pools():
    perp = PerpVenue("perp", STATE, max_long=2.0, max_short=math.inf, max_order=10.0)
    pool = CpmmVenue("pool", 1000.0, 3_000_000.0, 5)
    assert perp.capacity(True) == 2.0 and perp.capacity(False) == 10.0
    route = split_order(5.0, [perp, pool])
    sizes = {leg.venue: leg.size for leg in route.legs}
    assert sizes["perp"] == pytest.approx(2.0) and sizes["pool"] == pytest.approx(3.0)
    with pytest.raises(RoutingError):
        split_order(50.0, [PerpVenue("perp", STATE, max_long=1.0)])


def test_cheap_perp_takes_the_order_and_gas_keeps_tiny_pool_legs_out():
    perp = PerpVenue("perp", STATE._replace(skew=0), gas_quote=0.5)
    pool = CpmmVenue("pool", 400.0, 1_200_000.0, 30, gas_quote=0.5)
    route = split_order(3.0, [perp, pool])
    assert [leg.venue for leg in route.legs] == ["perp"]

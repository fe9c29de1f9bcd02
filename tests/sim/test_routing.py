"""Order splitting across venues against brute-force minimisation and the exact twin."""

import math

import numpy as np
import pytest

from sim.decisions.routing import CpmmVenue, RoutingError, split_order
from sim.venues.cpmm.twin import get_amount_in, get_amount_out


def pools(gas=0.0):
    return [
        CpmmVenue("a30", 1000.0, 3_000_000.0, 30, gas_quote=gas),
        CpmmVenue("b05", 400.0, 1_200_000.0, 5, gas_quote=gas),
    ]


def brute_force(q, venues, n=20_001):
    """Best two-venue split on a fine grid (gas included)."""
    a, b = venues
    best = math.inf
    for frac in np.linspace(0.0, 1.0, n):
        qa, qb = q * frac, q * (1 - frac)
        try:
            total = a.cost(qa) + b.cost(qb) + a.gas_quote * (qa != 0) + b.gas_quote * (qb != 0)
        except ZeroDivisionError:
            continue
        if qa > a.capacity(True) or qb > b.capacity(True):
            continue
        best = min(best, total)
    return best


@pytest.mark.parametrize(
    "q", [5.0, 40.0, -5.0, -40.0], ids=["buy-small", "buy-large", "sell-small", "sell-large"]
)
@pytest.mark.parametrize("gas", [0.0, 25.0], ids=["no-gas", "gas"])
def test_split_is_no_worse_than_brute_force(q, gas):
    venues = pools(gas)
    route = split_order(q, venues)
    assert route.size == pytest.approx(q, rel=1e-12)
    assert route.total_cost <= brute_force(q, venues) + 1e-6 * abs(route.total_cost)


def test_without_gas_marginal_costs_are_equal():
    route = split_order(30.0, pools())
    assert len(route.legs) == 2
    venues = {v.name: v for v in pools()}
    h = 1e-6
    marginals = [
        (venues[leg.venue].cost(leg.size + h) - venues[leg.venue].cost(leg.size - h)) / (2 * h)
        for leg in route.legs
    ]
    assert marginals[0] == pytest.approx(marginals[1], rel=1e-7)


def test_gas_sends_a_small_order_to_one_venue():
    route = split_order(0.5, pools(gas=20.0))
    assert len(route.legs) == 1


def test_cpmm_venue_cost_is_the_twin_to_rounding():
    v = CpmmVenue("a", 1000.0, 3_000_000.0, 30)
    q = 3.7
    twin_in = get_amount_in(int(q * 1e18), 3_000_000 * 10**6, 1000 * 10**18, 30) / 1e6
    assert v.cost(q) == pytest.approx(twin_in, rel=1e-9)
    twin_out = get_amount_out(int(q * 1e18), 1000 * 10**18, 3_000_000 * 10**6, 30) / 1e6
    assert -v.cost(-q) == pytest.approx(twin_out, rel=1e-9)


def test_caps_are_respected_and_shortfall_is_an_error():
    capped = [
        CpmmVenue("a", 1000.0, 3_000_000.0, 30, max_order=10.0),
        CpmmVenue("b", 400.0, 1_200_000.0, 5, max_order=10.0),
    ]
    route = split_order(20.0, capped)
    assert all(abs(leg.size) <= 10.0 + 1e-9 for leg in route.legs)
    with pytest.raises(RoutingError, match="no venue split can buy 25"):
        split_order(25.0, capped)


def test_zero_order_is_an_empty_route():
    assert split_order(0.0, pools()).legs == ()

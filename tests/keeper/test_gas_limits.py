"""The per-method gas-limit rule (`keeper.venues.gas`): never below estimate × multiplier,
each method's worst-path allowance, V3 crossings bounded by the ticks between price and
limit on both sides."""

from __future__ import annotations

import pytest

from keeper.venues import gas
from keeper.venues.base import LegPlan
from sim.venues.univ3.v3math import get_sqrt_ratio_at_tick


def _leg(kind: str, limit: int = 0) -> LegPlan:
    return LegPlan(venue="v", kind=kind, size=1.0, size_wei=10**18, expected_cost_quote=3000.0,
                   gas_quote=1.0, expected_price=3000.0, deadline=0,
                   sqrt_price_limit_x96=limit)  # fmt: skip


@pytest.mark.parametrize(
    ("estimate", "next_estimate", "allowance", "want"),
    [
        (100_000, 100_000, 0, 125_000),  # no allowance: the old rule
        (100_000, 100_000, 10_000, 125_000),  # a small allowance stays under the old rule
        (100_000, 110_000, 60_000, 170_000),  # the next block's path + the allowance
        (100_001, 0, 0, 125_002),  # rounded up
    ],
    ids=["old-rule", "old-rule-wins", "worst-path-wins", "ceil"],
)
def test_the_limit_is_the_larger_of_the_old_rule_and_next_block_plus_allowance(
    estimate, next_estimate, allowance, want
):
    assert gas.gas_limit(estimate, next_estimate, 1.25, allowance) == want


def test_the_perp_covers_the_funding_path_and_the_zeroable_slots():
    # the leg: 97,363 estimated, 121,704 allowed, all of it used
    assert gas.perp_allowance() == gas.FUNDING_PATH + 3 * (20_000 - 100)
    assert gas.gas_limit(97_363, 97_363, 1.25, gas.perp_allowance()) > 97_363 + 45_000
    assert gas.leg_allowance(_leg("perp")) == gas.perp_allowance()


@pytest.mark.parametrize("kind", ["cpmm", "univ2"])
def test_a_pair_swap_covers_both_cumulative_prices_set_from_zero(kind):
    assert gas.leg_allowance(_leg(kind)) == 2 * (2_100 + 20_000)


@pytest.mark.parametrize(
    ("tick", "limit_tick", "spacing", "crossings"),
    [(0, 0, 10, 1), (0, -95, 10, 21), (0, 100, 10, 21), (5, -55, 60, 3), (-120, 0, 60, 5)],
    ids=["no-move", "down-5bp-pool", "up-5bp-pool", "within-one-30bp-spacing", "up-two-30bp"],
)
def test_v3_crossings_count_usable_ticks_within_the_span_on_both_sides(
    tick, limit_tick, spacing, crossings
):
    price, limit = get_sqrt_ratio_at_tick(tick), get_sqrt_ratio_at_tick(limit_tick)
    assert gas.v3_crossings(price, limit, spacing) == crossings
    allowance = gas.leg_allowance(_leg("univ3", limit), price, spacing)
    assert allowance == gas.OBSERVATION_PATH + crossings * gas.TICK_CROSS


def test_range_steps_swap_like_a_v3_leg_mint_two_fresh_ticks_and_nothing_else():
    price, limit = get_sqrt_ratio_at_tick(0), get_sqrt_ratio_at_tick(-95)
    meta = {"sqrt_price_limit_x96": limit}
    assert gas.range_step_allowance("swap", meta, price, 10) == gas.v3_allowance(21)
    assert gas.range_step_allowance("mint", {}, price, 10) == 2 * gas.TICK_INIT
    assert gas.range_step_allowance("decrease", {}, price, 10) == 0
    assert gas.range_step_allowance("collect", {}, price, 10) == 0


def test_the_guards_price_the_same_rule_on_the_planned_gas():
    assert gas.planned_limit(150_000, 1.25, 0) == 187_500
    assert gas.planned_limit(150_000, 1.25, 100_000) == 250_000

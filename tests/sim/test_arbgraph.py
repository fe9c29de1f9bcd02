"""Cycle detection, closed-form sizing, and execution on the exact integer twins."""

import numpy as np
import pytest

from sim.decisions.arbgraph import (
    CexLeg,
    Plan,
    Pool,
    add_edge,
    build_graph,
    find_cycle,
    plan,
)
from sim.venues.cpmm.twin import get_amount_out


def consistent_pools(fee=30):
    # WETH = 3000 USDC, WBTC = 60000 USDC = 20 WETH, all pools at those prices
    return [
        Pool("weth-usdc", "WETH", "USDC", 1000.0, 3_000_000.0, fee),
        Pool("wbtc-usdc", "WBTC", "USDC", 50.0, 3_000_000.0, fee),
        Pool("wbtc-weth", "WBTC", "WETH", 50.0, 1000.0, fee),
    ]


PRICES = {"USDC": 1.0, "WETH": 3000.0, "WBTC": 60_000.0}


def best_plan(pools: list[Pool]) -> Plan | None:
    """The profitable cycle among `pools`, sized (None if there is none)."""
    cycle = find_cycle(build_graph(pools))
    return None if cycle is None else plan(cycle)


def test_consistent_prices_have_no_cycle():
    assert find_cycle(build_graph(consistent_pools())) is None


def test_a_mispricing_inside_the_fee_band_is_not_an_arbitrage():
    pools = consistent_pools(fee=30)
    pools[2] = Pool("wbtc-weth", "WBTC", "WETH", 50.0, 1000.0 * 1.004, 30)  # 0.4 % < 3 fees
    assert find_cycle(build_graph(pools)) is None


def test_a_mispricing_beyond_the_fees_is_found_and_sized_optimally():
    pools = consistent_pools(fee=5)
    pools[2] = Pool("wbtc-weth", "WBTC", "WETH", 50.0, 1030.0, 5)  # WBTC dear in WETH there
    opp = best_plan(pools)
    assert opp is not None and opp.profit > 0
    cycle = opp.cycle
    assert cycle.marginal_rate() > 1
    assert len(cycle.hops) == 3
    # the closed-form input beats a fine grid of inputs
    grid = np.linspace(0, 4 * opp.amount_in, 4001)[1:]
    best_grid = max(cycle.output(x) - x for x in grid)
    assert opp.profit >= best_grid - 1e-12 * abs(best_grid)
    # Möbius form equals hop-by-hop evaluation
    a, b, c = cycle.mobius()
    for x in (0.01, opp.amount_in, 10 * opp.amount_in):
        assert a * x / (b + c * x) == pytest.approx(cycle.output(x), rel=1e-12)


def test_the_best_pool_per_direction_is_used():
    pools = consistent_pools(fee=30) + [Pool("weth-usdc-5bp", "WETH", "USDC", 10.0, 30_000.0, 5)]
    graph = build_graph(pools)
    assert graph["WETH"]["USDC"]["pool"].name == "weth-usdc-5bp"


def test_executing_the_cycle_on_exact_twins_realises_the_predicted_profit():
    pools = consistent_pools(fee=30)
    pools[0] = Pool("weth-usdc", "WETH", "USDC", 1000.0, 3_150_000.0, 30)  # WETH dear at 3150
    opp = best_plan(pools)
    assert opp is not None
    decimals = {"USDC": 6, "WETH": 18, "WBTC": 8}
    amount = int(opp.amount_in * 10 ** decimals[opp.cycle.start])
    for hop in opp.cycle.hops:
        r_in, r_out = hop.pool.reserves(hop.token_in)
        amount = get_amount_out(
            amount,
            int(r_in * 10 ** decimals[hop.token_in]),
            int(r_out * 10 ** decimals[hop.token_out]),
            int(hop.pool.fee_bps),
        )
    realised = amount / 10 ** decimals[opp.cycle.start] - opp.amount_in
    # each hop floors its output: at most one unit of its token, valued in the start token
    start_price = PRICES[opp.cycle.start]
    floor_loss = sum(
        10.0 ** -decimals[h.token_out] * PRICES[h.token_out] / start_price for h in opp.cycle.hops
    )
    assert opp.profit - 2 * floor_loss <= realised <= opp.profit


def _with_reference_legs(pools, prices):
    graph = build_graph(pools)
    for tok in ("WETH", "WBTC"):
        for a, b, rate in ((tok, "USDC", prices[tok]), ("USDC", tok, 1.0 / prices[tok])):
            add_edge(graph, a, b, rate, CexLeg(f"cex:{tok}", rate, 0.0))
    return graph


def test_a_reference_leg_both_ways_is_not_a_cycle_and_hides_none():
    # p and 1/p round to a two-hop cycle of weight ±1e-16: without the slack, Bellman-Ford
    # reports it as negative in place of the cycle through the mispriced pool
    rng = np.random.default_rng(0)
    for _ in range(200):
        px = {"WETH": float(rng.uniform(1e3, 5e3)), "WBTC": float(rng.uniform(2e4, 9e4))}
        assert find_cycle(_with_reference_legs([], px)) is None
        ratio = px["WBTC"] / px["WETH"]
        pool = Pool("wbtc-weth", "WBTC", "WETH", 50.0, 50.0 * ratio * 1.004, 30.0)  # 40 bp
        cycle = find_cycle(_with_reference_legs([pool], px))
        assert cycle is not None and "wbtc-weth" in [h.pool.name for h in cycle.hops]
        assert plan(cycle) is not None

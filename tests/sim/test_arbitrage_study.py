"""Cross-protocol arbitrage study: no arbitrage without volatility, the exact accounting
identity (options pool included), LVR = sigma^2/8 for one pool without fees, closed-form
sizing with reference legs, and the directions the study reports (gas, oracle latency, fee
tier; the options pool's loss against oracle latency) at k standard errors."""

import math

import numpy as np
import pytest
from pydantic import ValidationError

from sim.decisions.arbgraph import Pool, find_cycle
from sim.stats import mean_se
from sim.studies.arbitrage import (
    ArbStudyConfig,
    PoolSpec,
    _graph,
    markdown_table,
    one_at_a_time,
    run_study,
    run_study_point,
    simulate_world,
)

SHORT = {"worlds": 6, "horizon": 2 * 3600.0, "options": False}  # options: their own test


def paired(a: ArbStudyConfig, b: ArbStudyConfig, metric: str) -> tuple[float, float]:
    """Mean and SE of metric(b) - metric(a) world by world (same seeds: common random numbers)."""
    d = np.array(
        [simulate_world(b, w)[metric] - simulate_world(a, w)[metric] for w in range(a.worlds)]
    )
    return mean_se(d)


def test_no_volatility_no_arbitrage():
    cfg = ArbStudyConfig(**{**SHORT, "options": True}, sigma_per_day={"WETH": 0.0, "WBTC": 0.0})
    s = run_study_point(cfg)
    assert s["arb_volume"]["mean"] == 0 and s["cycles"]["mean"] == 0 and s["lvr"]["mean"] == 0


def test_arbitrage_profit_is_lvr_minus_fees_exactly():
    cfg = ArbStudyConfig(worlds=2, horizon=1800.0, cex_fee_bps=2.0, oracle_latency=300.0)
    for w in range(2):
        m = simulate_world(cfg, w)
        gross = m["arb_profit"] + m["arb_gas"]
        assert gross > 0 and m["options_cycles"] > 0 and m["perp_loss"] > 0
        # what the arbitrageur executes is what it planned, options pool included
        assert m["plan_error"] <= 1e-9 * gross
        assert abs(m["identity_error"]) <= 1e-9 * gross * cfg.horizon / 86400
        assert m["lp_loss"] == pytest.approx(m["lvr"] - m["fees"])


def test_one_pool_without_fee_loses_sigma_squared_over_8():
    sigma = 0.05
    cfg = ArbStudyConfig(
        worlds=12,
        horizon=6 * 3600.0,
        fee_tier_bps=0.0,
        gas_gwei=0.0,
        perp=False,
        options=False,
        pools=[PoolSpec(name="p", token0="WETH", token1="USDC")],
        sigma_per_day={"WETH": sigma, "WBTC": 0.04},
    )
    s = run_study_point(cfg)["pool.p.lvr_rate"]
    theory = sigma**2 / 8
    assert abs(s["mean"] - theory) < 3 * s["se"], (s, theory)


def test_a_reference_leg_closes_the_cycle_and_the_sizing_is_optimal():
    px = {"USDC": 1.0, "WETH": 3000.0, "WBTC": 60000.0}
    cheap = Pool("p", "WETH", "USDC", 1000.0, 2_950_000.0, 30.0)  # WETH at 2950 in the pool
    cycle = find_cycle(_graph([cheap], px, 0.0))
    assert cycle is not None and len(cycle.hops) == 2
    a, b, c = cycle.mobius()
    x = (math.sqrt(a * b) - b) / c

    def profit(v):
        return a * v / (b + c * v) - v

    grid = np.linspace(0, 4 * x, 4001)[1:]
    assert profit(x) >= max(profit(v) for v in grid) - 1e-9
    # buys WETH in the pool with USDC, sells it at the reference price
    names = [h.pool.name for h in cycle.hops]
    assert "p" in names and "cex:WETH" in names


def test_gas_cuts_the_cycles_and_latency_feeds_the_perp():
    base = ArbStudyConfig(**SHORT)
    d, se = paired(base, base.model_copy(update={"gas_gwei": 200.0}), "cycles")
    assert d < -3 * se and d < 0
    d, se = paired(
        base.model_copy(update={"oracle_latency": 0.0}),
        base.model_copy(update={"oracle_latency": 300.0}),
        "perp_loss",
    )
    assert d > 3 * se and d > 0


def test_the_options_pool_pays_for_oracle_latency_and_not_without_it():
    base = ArbStudyConfig(worlds=2, horizon=1800.0)
    fresh = base.model_copy(update={"oracle_latency": 0.0})
    lagged = base.model_copy(update={"oracle_latency": 300.0})
    for w in range(2):
        # an oracle at the reference: the forward's fees keep it out of every cycle
        assert simulate_world(fresh, w)["options_volume"] == 0
        # 300 s behind: arbitraged through its forwards, its LPs lose more than its fees
        m = simulate_world(lagged, w)
        assert m["options_cycles"] > 0 and m["options_fees"] > 0
        assert m["options_lvr"] > m["options_fees"] and m["options_loss"] > 0
        assert 0 < m["options_volume"] < m["arb_volume"]
        assert 0 < m["options_profit"] < m["arb_profit"]


def test_a_board_that_expires_within_the_horizon_is_refused_by_name():
    with pytest.raises(ValidationError, match="options_pool.expiry_days"):
        ArbStudyConfig(horizon=7 * 86400.0)
    ArbStudyConfig(horizon=7 * 86400.0, options=False)  # no options pool, no board


def test_a_higher_fee_tier_means_less_arbitrage_volume_on_the_tier_pools():
    base = ArbStudyConfig(**SHORT)
    d, se = paired(base, base.model_copy(update={"fee_tier_bps": 100.0}), "pool.weth_usdc_t.volume")
    assert d < -3 * se and d < 0


def test_the_study_table_has_a_row_per_point_with_units():
    levels = {"gas_gwei": [0.0, 10.0], "options_pool.spot_price_fee": [0.003]}
    points = one_at_a_time({"worlds": 2, "horizon": 1800.0}, levels)
    assert [p["factor"] for p in points] == ["baseline", "gas_gwei", "options_pool.spot_price_fee"]
    res = run_study(points, workers=2)
    assert all(r["status"] == "ok" for r in res)
    assert res[2]["config"]["options_pool"]["spot_price_fee"] == 0.003  # a nested factor
    lines = markdown_table(res).splitlines()
    assert len(lines) == 2 + 3
    assert lines[0].startswith("| varied | value | arb volume |") and "options LP loss" in lines[0]
    assert lines[2].startswith("| baseline |  | ") and "±" in lines[2]
    assert lines[3].startswith("| gas price | 0 gwei | ")
    assert lines[4].startswith("| options spot fee | 0.003 | ")
    with pytest.raises(ValueError, match="unknown study factor"):
        one_at_a_time({}, {"colour": [1.0]})

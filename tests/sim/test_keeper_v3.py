"""The keeper agent with a concentrated position (scenarios/keeper_v3.yaml): the position's
delta is hedged (the net delta stays in the band), a range move conserves value up to its
swap's fees and impact, recentring keeps the price in range longer than a static range and
hedging cuts the P&L's spread (both at k standard errors over common-random-number worlds),
`none` holds the tokens, and a forecast-scaled band is the band it scales to."""

import math
from pathlib import Path

import numpy as np
import pytest

from sim.agents.keeper_range import RangeBook
from sim.engine.core import Engine
from sim.scenario import load_scenario
from sim.venues.univ3.kernels import P_FEE0, P_FEE1

SCEN = Path(__file__).resolve().parents[2] / "scenarios"
K = "keeper.keeper."
KSE = 4.0


def _run(*over: str, paths: int = 60, blocks: int = 600, sigma: float = 0.2):
    """keeper_v3.yaml, short and volatile (agents: 0 arb3, 1 noise3, 2 liquidator, 3 keeper)."""
    sc = load_scenario(
        SCEN / "keeper_v3.yaml",
        [f"paths={paths}", f"blocks.n_blocks={blocks}", f"price.sigma_per_day={sigma}", *over],
    )
    return Engine(sc).run()


def test_the_positions_delta_is_hedged_to_the_band():
    r = _run("agents.3.policy={kind: delta_band, band: 0.5, min_delay: 0, override: 5}", paths=20)
    w = r.worlds
    assert np.all(w[K + "max_abs_net_delta"] <= 0.5 + 1e-9)
    assert np.all(w[K + "n_trades"] > 10)  # the position's gamma moves its delta all the time
    assert np.all(w[K + "n_rebalances"] >= 0) and w[K + "n_rebalances"].sum() > 0


def test_a_range_move_keeps_the_value_but_its_swaps_fees_and_impact(monkeypatch):
    seen = []
    move = RangeBook.move

    def spy(self, ctx, d, active, pay_gas):
        pool = self.pool(ctx)
        before = self.value(ctx)
        m0 = self.m["rebalance_fees"] + self.m["rebalance_impact"]
        move(self, ctx, d, active, pay_gas)
        paid = self.m["rebalance_fees"] + self.m["rebalance_impact"] - m0
        after = self.value(ctx)
        owed = pool.pacc[:, self.slot, P_FEE0] * ctx.ref + pool.pacc[:, self.slot, P_FEE1]
        if active:
            seen.append((before, after, paid, d.rebalance, owed))

    monkeypatch.setattr(RangeBook, "move", spy)
    _run(paths=20, sigma=0.4)
    assert sum(int(go.sum()) for *_, go, _o in seen) >= 10
    for before, after, paid, go, owed in seen:
        assert np.all(owed[go] == 0.0)  # collected into the move
        np.testing.assert_allclose(after[go], (before - paid)[go], rtol=1e-10)
        np.testing.assert_array_equal(after[~go], before[~go])


def test_recentring_keeps_the_price_in_range_longer_than_a_static_range():
    """Same seed, same price paths (common random numbers): the paired difference."""
    static = _run("agents.3.range_policy={kind: static}", paths=60, blocks=1200).worlds
    moved = _run("agents.3.range_policy={kind: recentre}", paths=60, blocks=1200).worlds
    d = moved[K + "time_in_range"] - static[K + "time_in_range"]
    assert d.mean() > KSE * d.std(ddof=1) / math.sqrt(d.size)
    assert np.all(static[K + "n_rebalances"] == 0) and moved[K + "n_rebalances"].mean() > 1
    cost = moved[K + "rebalance_cost"]
    parts = moved[K + "rebalance_gas"] + moved[K + "rebalance_fees"] + moved[K + "rebalance_impact"]
    np.testing.assert_allclose(cost, parts)
    assert np.all(moved[K + "rebalance_fees"] >= 0) and np.all(moved[K + "rebalance_gas"] >= 0)


def test_hedging_the_position_cuts_the_spread_of_its_pnl():
    hedged = _run(paths=80).summary
    bare = _run("agents.3.policy={kind: none}", "agents.3.start_hedged=false", paths=80).summary
    h, b = hedged[K + "pnl_std"], bare[K + "pnl_std"]
    assert h["mean"] + KSE * h["se"] < b["mean"] - KSE * b["se"]


def test_none_holds_the_tokens_and_earns_nothing():
    w = _run("agents.3.range_policy={kind: none}", paths=10).worlds
    for col in ("lp_fees", "lp_lvr", "time_in_range", "n_rebalances", "rebalance_cost"):
        assert np.all(w[K + col] == 0.0), col
    # Hold: the inventory's P&L is the tokens' value change, hedged away by the perp.
    assert np.all(np.abs(w[K + "inventory_pnl"]) > 0)


def test_a_forecast_band_at_its_cap_is_the_wider_band():
    """σ̂ far above a tiny reference vol: the scale is band_max = 3, so a band of 1 with the
    forecast decides exactly as a band of 3 without it."""
    fb = "forecast: {reference_vol: 1.0e-6, band_max: 3.0}"
    a = _run(f"agents.3.policy={{kind: delta_band, band: 1.0, min_delay: 0, {fb}}}", paths=10)
    b = _run("agents.3.policy={kind: delta_band, band: 3.0, min_delay: 0}", paths=10)
    for col in ("pnl", "n_trades", "band_outside_frac", "max_abs_net_delta"):
        np.testing.assert_array_equal(a.worlds[K + col], b.worlds[K + col], err_msg=col)


@pytest.mark.parametrize("policy", ["periodic", "vol_width"])
def test_every_policy_runs_and_accounts(policy):
    w = _run(f"agents.3.range_policy={{kind: {policy}, interval: 3600}}"
             if policy == "periodic" else f"agents.3.range_policy={{kind: {policy}}}",
             paths=10).worlds  # fmt: skip
    assert np.all(np.isfinite(w[K + "pnl"]))
    assert np.all((w[K + "time_in_range"] >= 0) & (w[K + "time_in_range"] <= 1))

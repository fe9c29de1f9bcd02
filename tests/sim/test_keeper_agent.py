"""The keeper agent: one policy code path with the fork keeper, degenerate cases, hedging
against no hedging at k standard errors, exact tracking without costs, the scenarios' CLI."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from keeper.strategy import cost_rate as strategy_cost_rate
from sim.agents import keeper as keeper_agent
from sim.agents.keeper import KeeperAgent
from sim.decisions.routing import CpmmVenue
from sim.decisions.routing import PerpVenue as RoutingPerp
from sim.engine.core import Engine
from sim.results import parquet_available
from sim.run import run_file as run_to_dir
from sim.scenario import load_scenario
from sim.venues.perp.twin import WAD, VenueState

SCEN = Path(__file__).resolve().parents[2] / "scenarios"
FMT = "parquet" if parquet_available() else "csv"
K = "keeper.keeper."

ZERO_COST = [
    "perps.0.taker_fee_bps=0",
    "perps.0.skew_scale=1e12",
    "perps.0.max_funding_rate=0",
    "agents.3.pay_gas=false",
]


def _lp(*over: str, paths: int = 40, blocks: int = 300):
    """keeper_lp.yaml, small; agents: 0 arb, 1 noise, 2 liquidator, 3 keeper."""
    return load_scenario(
        SCEN / "keeper_lp.yaml", [f"paths={paths}", f"blocks.n_blocks={blocks}", *over]
    )


def _opts(*over: str, paths: int = 20, blocks: int = 200):
    """keeper_options.yaml, small; agents: 0 arb, 1 keeper."""
    return load_scenario(
        SCEN / "keeper_options.yaml", [f"paths={paths}", f"blocks.n_blocks={blocks}", *over]
    )


@pytest.mark.parametrize(
    "policy",
    [
        ["agents.3.policy={kind: delta_band, band: 0.01}"],
        ["agents.3.policy={kind: fixed_interval, interval: 12}"],
    ],
    ids=["delta_band", "fixed_interval"],
)
@pytest.mark.parametrize("venue", ["perp", "pool"])
def test_no_volatility_no_trades(policy, venue):
    """sigma = 0, no noise flow: the LP's delta never moves, so a hedged keeper never trades.
    Holding the perp hedge still pays funding (the keeper is the whole skew)."""
    sc = _lp(
        "price.sigma_per_day=0",
        "agents.1.rate_per_block=0",
        f"agents.3.venue={venue}",
        *policy,
        paths=6,
        blocks=150,
    )
    w = Engine(sc).run().worlds
    assert np.all(w[K + "n_trades"] == 0)
    for key in ("fees", "impact", "gas"):
        assert np.all(w[K + key] == 0), key
    np.testing.assert_allclose(w[K + "cost"], w[K + "funding"])
    np.testing.assert_allclose(w[K + "pnl"], -w[K + "funding"], atol=1e-6)


def test_no_hedge_costs_nothing_and_risks_more_than_a_band():
    """Same seeds, same paths: NoHedge pays nothing but its P&L spreads wider than DeltaBand's
    (difference of the two standard deviations beyond 3 standard errors)."""
    none = Engine(_lp("agents.3.policy={kind: none}", "agents.3.start_hedged=false")).run()
    band = Engine(_lp("agents.3.start_hedged=false")).run()
    wn, wb = none.worlds, band.worlds
    for key in ("cost", "fees", "impact", "gas", "funding", "n_trades"):
        assert np.all(wn[K + key] == 0), key
    assert wb[K + "n_trades"].min() > 0
    sn, sb = none.summary[K + "pnl_std"], band.summary[K + "pnl_std"]
    assert sn["mean"] - sb["mean"] > 3 * math.hypot(sn["se"], sb["se"])
    # The same price paths: the inventory legs agree world by world.
    np.testing.assert_allclose(wn[K + "inventory_pnl"], wb[K + "inventory_pnl"], rtol=1e-6)


@pytest.mark.parametrize("book", ["lp", "options"])
def test_fixed_interval_one_block_without_costs_tracks_delta(book):
    if book == "lp":
        sc = _lp(
            *ZERO_COST,
            "agents.3.policy={kind: fixed_interval, interval: 12}",
            paths=10,
            blocks=120,
        )
    else:
        over = [o.replace("agents.3", "agents.1") for o in ZERO_COST]
        sc = _opts(*over, "agents.1.policy={kind: fixed_interval, interval: 12}", paths=10)
    w = Engine(sc).run().worlds
    # The LP's delta moves only in blocks where the pool trades; options' in every block.
    least = 0.2 if book == "lp" else 0.9
    assert np.all(w[K + "n_trades"] > least * sc.blocks.n_blocks)
    assert np.all(w[K + "failed_trades"] == 0)
    np.testing.assert_allclose(w[K + "max_abs_net_delta"], 0.0, atol=1e-9)
    np.testing.assert_allclose(w[K + "fees"], 0.0, atol=1e-12)


def test_decisions_are_the_policy_on_the_same_inputs(monkeypatch):
    """Spy on the agent: every block's decision equals calling the configured policy directly
    on the inputs it built with HedgeInputs.from_book, and the venue then holds the target."""
    seen = []
    calls = {"from_book": 0}
    real_from_book = keeper_agent.HedgeInputs.from_book.__func__

    def spy_from_book(cls, *args, **kwargs):
        calls["from_book"] += 1
        return real_from_book(cls, *args, **kwargs)

    monkeypatch.setattr(keeper_agent.HedgeInputs, "from_book", classmethod(spy_from_book))
    monkeypatch.setattr(KeeperAgent, "record", lambda self, x, d: seen.append((x, d)))
    monkeypatch.setenv("AMMLAB_SIM_THREADS", "1")
    sc = _opts("agents.1.policy.min_delay=0", paths=16, blocks=120)
    Engine(sc).run()
    assert len(seen) == calls["from_book"] == sc.blocks.n_blocks
    policy = sc.agents[1].policy
    traded = 0
    for (x, d), (x_next, _) in zip(seen, seen[1:], strict=False):
        direct = policy.decide(x)
        np.testing.assert_array_equal(direct.trade, d.trade)
        np.testing.assert_array_equal(direct.target_hedge, d.target_hedge)
        np.testing.assert_allclose(x_next.hedge[d.trade], d.target_hedge[d.trade], rtol=1e-12)
        traded += int(d.trade.sum())
    assert traded > 0


@pytest.mark.parametrize("venue", ["perp", "pool"])
def test_cost_rate_is_the_fork_keepers_for_the_same_state_and_order(monkeypatch, venue):
    """At each block the agent prices its expected re-hedge; the fork keeper's strategy
    (`keeper.strategy.cost_rate` on `sim.decisions.routing` venues built from the same state, as
    `build_venues` builds them from a snapshot) gives the same rate, world by world."""
    seen = []
    real = KeeperAgent.cost_rate

    def spy(self, ctx, q):
        rate = real(self, ctx, q)
        if venue == "perp":
            v = self._perp(ctx)
            b = v.batch
            state = (v.mark(ctx.ref).copy(), b.skew.copy(), b.p)
        else:
            pool = ctx.pools[self.cfg.venue]
            state = (pool.x.copy(), pool.y.copy(), pool.fee_bps)
        seen.append((state, np.array(q, copy=True), rate))
        return rate

    monkeypatch.setattr(KeeperAgent, "cost_rate", spy)
    sc = _lp(f"agents.3.venue={venue}", "agents.3.start_hedged=false", paths=6, blocks=40)
    Engine(sc).run()
    checked = 0
    for state, q, rate in seen[:: len(seen) // 6]:
        for w in range(q.size):
            if venue == "perp":
                price, skew, p = state
                vs = VenueState(int(round(price[w] * WAD)), int(round(skew[w] * WAD)),
                                int(round(p.skew_scale * WAD)), int(round(p.taker_fee * 1e4)),
                                int(round(p.max_funding_rate * WAD)))  # fmt: skip
                v = RoutingPerp("perp", vs, funding_horizon_s=3600)
            else:
                x, y, fee = state
                v = CpmmVenue("pool", x[w], y[w], fee)
            assert rate[w] == pytest.approx(strategy_cost_rate([v], [v], q[w]), rel=1e-9)
            checked += 1
    assert checked >= 20 and np.ptp(np.concatenate([r for _, _, r in seen])) > 0


@pytest.mark.parametrize("name", ["keeper_lp", "keeper_options"])
def test_keeper_scenarios_run_from_the_cli(tmp_path, name):
    run_to_dir(SCEN / f"{name}.yaml", tmp_path, paths=8, overrides=["blocks.n_blocks=60"], fmt=FMT)
    m = json.loads((tmp_path / "summary.json").read_text())["metrics"]
    for key in ("pnl", "pnl_std", "pnl_cvar95", "cost", "n_trades", "max_abs_net_delta"):
        assert K + key in m, key
        assert m[K + key]["unit"], key
        assert m[K + key]["mean"] is not None, key
    assert K + "band_outside_frac" in m
    assert m[K + "pnl_cvar95"]["mean"] <= m[K + "pnl"]["mean"]

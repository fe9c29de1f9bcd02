"""The perp in the engine: scheduled gaps, the venue's mark and funding, traders, liquidators,
and the cascade stress scenario's solvency."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sim.engine.core import Engine, ScheduledJumps
from sim.engine.fused import is_fusable
from sim.errors import ConfigError
from sim.processes import GBM, ScheduledJump
from sim.results import parquet_available
from sim.run import run_file as run_to_dir
from sim.scenario import load_scenario, scenario_from_dict
from sim.stats import mean_se
from sim.streams import WorldStreams
from sim.venues.perp.config import PerpConfig
from sim.venues.perp.venue import PerpVenue
from sim.venues.pricefeed.batch import ChainlinkFeed
from sim.venues.pricefeed.config import OracleConfig

SCEN = Path(__file__).resolve().parents[2] / "scenarios"
FMT = "parquet" if parquet_available() else "csv"
GAP_BLOCK = 900  # cascade.yaml: the -30 % gap at 10,800 s of 12 s blocks


def test_scheduled_jump_multiplies_the_path_once():
    base = GBM(3, 2000.0, 0.0, 0.0, WorldStreams(1, 2, 3))
    proc = ScheduledJumps(base, [ScheduledJump(time=36.0, move=-0.3)])
    dt = np.full(3, 12.0)
    prices = [proc.step(dt).copy() for _ in range(5)]
    np.testing.assert_allclose(prices[1], 2000.0)  # t = 24 s
    np.testing.assert_allclose(prices[2], 1400.0)  # t = 36 s: the gap lands
    np.testing.assert_allclose(prices[4], 1400.0)  # and only once


def test_jump_or_perp_leaves_the_fused_path():
    ref = load_scenario(SCEN / "reference.yaml")
    assert is_fusable(ref)
    with_perp = ref.model_copy(deep=True)
    with_perp.perps = [PerpConfig()]
    assert not is_fusable(with_perp)
    jumped = ref.model_copy(deep=True)
    jumped.price.scheduled_jumps = [ScheduledJump(time=1.0, move=0.1)]
    assert not is_fusable(jumped)


@pytest.mark.parametrize(
    "perp, msg",
    [
        ({"oracle": "nope"}, "unknown oracle"),
        ({"maintenance_margin_bps": 2000}, "invalid margin ratios"),
        ({"skew_scale": 0}, "skew_scale"),
    ],
    ids=["unknown-oracle", "margin-ratios", "zero-skew-scale"],
)
def test_bad_perp_config_is_rejected_with_its_field(perp, msg):
    with pytest.raises(ConfigError, match=msg):
        scenario_from_dict({"perps": [perp]})


def test_agent_on_unknown_perp_is_rejected():
    with pytest.raises(ConfigError, match="unknown perp"):
        scenario_from_dict({"agents": [{"kind": "liquidator", "perp": "perp"}]})


def test_mark_follows_the_feed_with_its_latency():
    cfg = OracleConfig(deviation_bps=50, latency_blocks=2)
    ref = np.full(2, 2000.0)
    feed = ChainlinkFeed(cfg, ref, WorldStreams(0, 1, 2))
    venue = PerpVenue(PerpConfig(oracle="feed"), 2, {"t": 1}, feed)
    moved = np.full(2, 1400.0)
    marks = []
    for block in range(4):
        feed.step(block, np.full(2, 12.0 * (block + 1)), moved)
        marks.append(venue.mark(moved)[0])
    assert marks == [2000.0, 2000.0, 1400.0, 1400.0]


def test_funding_accrues_with_the_skew():
    """A lone long of size s pays s * rate * price * elapsed / day, rate = s / K * max rate."""
    cfg = PerpConfig(skew_scale=1000.0, max_funding_rate=0.1, taker_fee_bps=0)
    venue = PerpVenue(cfg, 2, {"t": 1}, None)
    price = np.full(2, 2000.0)
    venue.batch.deposit(0, 1e6)
    ok, *_ = venue.trade(0, np.array([100.0, -50.0]), price, np.zeros(2), book=True)
    assert ok.all()
    t = np.full(2, 43_200.0)  # half a day
    owed = venue.unsettled_funding(0, price, t)
    size = np.array([100.0, -50.0])
    np.testing.assert_allclose(owed, size * (size / 1000.0 * 0.1) * 2000.0 * 0.5)
    ok, _fee, _impact, funding = venue.trade(0, -size, price, t, book=True)
    assert ok.all()
    np.testing.assert_allclose(funding, owed)
    np.testing.assert_allclose(venue.m["funding_paid"], owed)


@pytest.fixture(scope="module")
def cascade():
    sc = load_scenario(SCEN / "cascade.yaml", ["paths=48", "blocks.n_blocks=1000"])
    return Engine(sc).run()


def test_cascade_liquidates_and_the_fund_absorbs_the_loss(cascade):
    w = cascade.worlds
    p = "perp.perp."
    assert cascade.path == "general"
    # The gap liquidates in (almost) every world, and some accounts go below zero equity.
    assert np.mean(w[p + "liquidations"] > 0) > 0.9
    assert w[p + "deficit"].mean() > 0
    np.testing.assert_allclose(w[p + "liquidations"], w["agent.liquidator.n_tx"])
    # The books balance to round-off, and the fund covers every deficit: no bad debt, and
    # the market can pay every account its equity.
    scale = w[p + "insurance_fund"].max()
    np.testing.assert_allclose(w[p + "identity_error"], 0.0, atol=1e-9 * scale)
    assert np.all(w[p + "bad_debt"] == 0)
    assert np.all(w[p + "solvent"] == 1)
    assert np.all(w[p + "net_assets"] > 0)


def test_cascade_money_is_conserved(cascade):
    """Traders' flows + liquidators' rewards + the fund's change = what positions still owe:
    sum(equity - margin) = sum(equity) - balance + fund - bad debt."""
    w = cascade.worlds
    p = "perp.perp."
    traders = sum(w[f"agent.{a}.pnl"] + w[f"agent.{a}.gas"] for a in ("momentum", "contrarian"))
    rewards = w["agent.liquidator.pnl"] + w["agent.liquidator.gas"]
    np.testing.assert_allclose(rewards, w[p + "liquidation_rewards"], rtol=1e-12)
    # With no negative equity left at the end, sum(equity) = balance - net_assets.
    lhs = traders + rewards + w[p + "fund_change"]
    rhs = -w[p + "net_assets"] + w[p + "insurance_fund"] - w[p + "bad_debt"]
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-6)


def test_without_the_gap_few_liquidations(cascade):
    sc = load_scenario(
        SCEN / "cascade.yaml",
        ["paths=48", "blocks.n_blocks=1000", "price.scheduled_jumps.0.move=0.0"],
    )
    calm = Engine(sc).run().worlds["perp.perp.liquidations"]
    gap = cascade.worlds["perp.perp.liquidations"]
    se = math.hypot(mean_se(calm)[1], mean_se(gap)[1])
    assert gap.mean() - calm.mean() > 4 * se


def test_cascade_summary_reports_the_perp(tmp_path):
    run_to_dir(
        SCEN / "cascade.yaml",
        tmp_path,
        paths=8,
        overrides=[f"blocks.n_blocks={GAP_BLOCK + 20}"],
        fmt=FMT,
    )
    m = json.loads((tmp_path / "summary.json").read_text())["metrics"]
    for key in ("liquidations", "liquidation_volume", "insurance_fund", "bad_debt", "solvent"):
        assert f"perp.perp.{key}" in m, key
        assert m[f"perp.perp.{key}"]["unit"], key
    assert m["perp.perp.liquidations"]["mean"] > 0
    assert m["perp.perp.funding_paid"]["mean"] != 0


@pytest.mark.parametrize("name", ["cascade", "keeper_options"])
def test_perp_results_do_not_depend_on_chunking(name):
    over = ["paths=12", "blocks.n_blocks=120", "price.sigma_per_day=0.3"]
    if name == "cascade":
        over.append("price.scheduled_jumps.0.time=600")
    a = Engine(load_scenario(SCEN / f"{name}.yaml", [*over, "metrics.chunk_worlds=12"])).run()
    b = Engine(load_scenario(SCEN / f"{name}.yaml", [*over, "metrics.chunk_worlds=5"])).run()
    for k in a.worlds:
        np.testing.assert_array_equal(a.worlds[k], b.worlds[k], err_msg=k)

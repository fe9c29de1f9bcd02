"""The cross-protocol arbitrage study as scenarios on the engine: the exact accounting identity
in every world (options pool included) and its agreement with the venues' own books, the
executed profit equal to the planned one, LVR = σ²/8 for one pool without fees (at k SE), no
arbitrage without volatility, and the study's directions (gas, oracle latency, fee tier) at k
standard errors on common random numbers, with the table and JSON the command writes."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from sim.engine.core import Engine
from sim.errors import ConfigError
from sim.run import load
from sim.scenario import scenario_from_dict
from sim.studies.arbitrage import (
    BASELINE,
    STUDY_FILE,
    design,
    factor_curves,
    markdown_table,
    one_at_a_time,
    parse_levels,
    run_study,
)

K = 3.0
A = "graph_arb.arb."


def baseline(paths: int, blocks: int, *sets: str):
    return load(BASELINE, paths=paths, overrides=[f"blocks.n_blocks={blocks}", *sets])


def test_profit_is_lvr_minus_fees_exactly_and_every_book_agrees():
    # 30 min, the oracle 300 s behind (the perp and the options pool are arbitraged), and
    # a fee on the reference legs
    sc = baseline(2, 150, "oracles.0.latency_blocks=25", "agents.0.cex_fee_bps=2")
    w = Engine(sc).run().worlds
    days = w["days"]
    gross = w[A + "gross"] * days
    assert (gross > 0).all() and (w[A + "options_cycles"] > 0).all()
    assert (w[A + "perp_loss"] > 0).all() and (w[A + "cex_fees"] > 0).all()
    # what it executed is what it planned, options pool included
    assert (w[A + "plan_error"] <= 1e-9 * gross).all()
    assert (np.abs(w[A + "identity_error"]) <= 1e-9 * gross).all()
    np.testing.assert_allclose(w[A + "lp_loss"], w[A + "lvr"] - w[A + "fees"])
    # the ledger's pool books, the perp's and the options pool's own accounts, its P&L
    pools = [p.name for p in sc.pools]
    for mine, theirs in (
        ("lvr", [f"{p}.lvr" for p in pools]),
        ("fees", [f"{p}.fees" for p in pools]),
        ("perp_lvr", ["oracle_perp.perp.lvr"]),
        ("perp_fees", ["oracle_perp.perp.fees"]),
        ("options_fees", ["options.options.fees"]),
        ("profit", ["agent.arb.pnl"]),
        ("gas", ["agent.arb.gas"]),
    ):
        np.testing.assert_allclose(w[A + mine] * days, sum(w[c] for c in theirs), rtol=1e-9)
    # the options LPs lose more than the forwards' fees to a 300 s-old oracle
    assert (w[A + "options_lvr"] > w[A + "options_fees"]).all()
    assert (w[A + "options_volume"] > 0).all() and (w[A + "options_volume"] < w[A + "volume"]).all()
    assert (w[A + "options_profit"] > 0).all() and (w[A + "options_profit"] < w[A + "profit"]).all()


def test_without_oracle_latency_nobody_trades_the_options_pool():
    w = Engine(baseline(2, 150, "oracles.0.latency_blocks=0")).run().worlds
    assert (w[A + "options_volume"] == 0).all() and (w[A + "cycles"] > 0).all()
    assert (w[A + "perp_loss"] == 0).all()


def test_no_volatility_no_arbitrage():
    sets = ("price.assets.0.sigma_per_day=0", "price.assets.1.sigma_per_day=0")
    w = Engine(baseline(2, 50, *sets)).run().worlds
    for m in ("cycles", "volume", "lvr", "options_volume"):
        assert (w[A + m] == 0).all(), m


@pytest.mark.statistical
def test_one_pool_without_fee_loses_sigma_squared_over_8():
    sigma = 0.05
    sc = scenario_from_dict(
        {
            "paths": 8,
            "seed": 3,
            "price": {"kind": "gbm", "s0": 3000.0, "sigma_per_day": sigma},
            "blocks": {"n_blocks": 900},
            "gas": {"base_fee_gwei": 0.0},
            "pools": [{"name": "p", "fee_bps": 0}],
            "agents": [{"kind": "graph_arbitrageur", "name": "arb"}],
        }
    )
    s = Engine(sc).run().summary["p.lvr_rate"]
    theory = sigma**2 / 8
    assert abs(s["mean"] - theory) < K * s["se"], (s, theory)


def test_a_board_expiring_within_the_run_is_refused_by_name():
    with pytest.raises(ConfigError, match="options_pools.options.boards: a board expiring"):
        baseline(1, 60_000)


def _paired(out, study, factor, metric):
    """Mean and SE of metric(level) - metric(baseline), world by world."""
    rid = {p["factor"]: p["run_id"] for p in study["points"]}
    a, b = (
        pd.read_parquet(out / "runs" / rid[f] / "worlds.parquet")[metric]
        for f in ("baseline", factor)
    )
    d = (b - a).to_numpy()
    return d.mean(), d.std(ddof=1) / math.sqrt(d.size)


def test_the_study_s_directions_table_and_json(tmp_path):
    d = design(BASELINE, 0.5, ["options_pools=[]"])  # the options pool: its own tests above
    levels = parse_levels(["gas_gwei=200", "oracle_latency=300", "fee_tier_bps=100"])
    points = one_at_a_time(d, levels)
    assert [p["factor"] for p in points] == [
        "baseline",
        "gas_gwei",
        "oracle_latency",
        "fee_tier_bps",
    ]
    out = tmp_path / "study"
    study = run_study(d, points, out, worlds=6, seed=2, workers=2)
    assert json.loads((out / STUDY_FILE).read_text()) == study
    assert all(p["status"] == "ok" for p in study["points"]) and study["counts"]["ok"] == 4
    mean, se = _paired(out, study, "gas_gwei", A + "cycles")
    assert mean < -K * se and mean < 0
    mean, se = _paired(out, study, "oracle_latency", A + "perp_loss")
    assert mean > K * se and mean > 0
    mean, se = _paired(out, study, "fee_tier_bps", "weth_usdc_t.volume")
    assert mean < -K * se and mean < 0
    lines = markdown_table(study).splitlines()
    assert len(lines) == 2 + 4 and lines[0].startswith("| varied | value | arb volume |")
    assert lines[2].startswith("| baseline |  | ") and "±" in lines[2]
    assert lines[3].startswith("| gas price | 200 gwei | ")
    assert lines[4].startswith("| oracle latency | 300 s | ")
    curves = {c[0]: c[2] for c in factor_curves(study)}
    assert curves == {
        "gas price": [10.0, 200.0],
        "oracle latency": [12.0, 300.0],
        "fee tier": [30.0, 100.0],
    }
    # the same command again resumes: nothing left to run
    again = run_study(d, points, out, worlds=6, seed=2, workers=1)
    assert again["counts"]["skipped"] == 4 and again["points"] == study["points"]
    with pytest.raises(ConfigError, match="holds a study of 6 worlds"):
        run_study(d, points, out, worlds=4, seed=2, workers=1)


def test_bad_study_options_are_one_line():
    with pytest.raises(ConfigError, match="--levels colour: not a study factor"):
        parse_levels(["colour=1,2"])
    with pytest.raises(ConfigError, match="--set seed: the study sets it"):
        design(BASELINE, 1.0, ["seed=4"])
    with pytest.raises(ConfigError, match="pools.9"):
        design(BASELINE, 1.0, ["pools.9.fee_bps=3"])

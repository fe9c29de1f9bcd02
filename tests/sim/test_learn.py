"""Learned hedging: the tiny trained model beats no hedging, Learned.decide's contract, the
model file, reproducibility, the evaluation's accounting and standard errors, the forecaster."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pydantic import TypeAdapter

from sim.hedging import FixedInterval, HedgeInputs, Learned, NoHedge, PolicyConfig
from sim.learn.cli import learn
from sim.learn.config import LearnConfig, load_config
from sim.learn.evaluate import (
    Score,
    evaluate,
    paired_difference,
    run_policy,
    stat_se,
    summarise,
)
from sim.learn.forecast import band_scale, fit_forecaster
from sim.learn.model import BandModel, ModelFileError
from sim.learn.paths import simulate_market
from sim.learn.train import BandNet, delta_hedged_pnl, train

TINY = "scenarios/learn/tiny.yaml"
K = 3.0  # standard errors


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def cfg() -> LearnConfig:
    return load_config(TINY)


@pytest.fixture(scope="module")
def model_path(cfg, tmp_path_factory):
    path = tmp_path_factory.mktemp("learn") / "tiny.json"
    train(cfg, seed=3).save(path)
    return path


def test_importing_hedging_and_deciding_never_imports_torch(model_path):
    code = (
        "import sys, numpy as np; from sim.hedging import Learned, HedgeInputs;"
        f"p = Learned(model=r'{model_path}');"
        "p.decide(HedgeInputs.single(now=0., spot=2000., book_delta=-25., book_gamma=-0.2,"
        " hedge=20., last_hedge_time=-1e9, cost_rate=0.001));"
        "print('torch' in sys.modules, 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_tiny_model_beats_no_hedge_on_variance_held_out(cfg, model_path):
    mp = simulate_market(cfg, cfg.market("gbm"), 400, seed=cfg.evaluate.seed)
    learned = run_policy(
        Learned(model=model_path), mp, cfg.venue.gas, {"realised_vol": np.full(mp.spot.shape, 0.8)}
    )
    none = run_policy(NoHedge(), mp, cfg.venue.gas)
    d, se = paired_difference(learned.pnl, none.pnl, "pnl_std", n_boot=300)
    assert d < -K * se, (d, se)


def _inputs(w: int, rng: np.random.Generator) -> HedgeInputs:
    return HedgeInputs(
        now=rng.uniform(0, 20000, w),
        spot=rng.uniform(1800, 2200, w),
        book_delta=rng.uniform(-40, 10, w),
        book_gamma=rng.uniform(-0.3, 0.0, w),
        hedge=rng.uniform(-10, 40, w),
        last_hedge_time=np.full(w, -np.inf),
        cost_rate=rng.uniform(5e-4, 3e-3, w),
    )


def test_learned_decide_is_batch_shaped_and_deterministic(model_path):
    pol = Learned(model=model_path)
    x = _inputs(64, np.random.default_rng(1))
    rv = np.linspace(0.4, 1.6, 64)
    a = pol.decide(x, {"realised_vol": rv})
    b = pol.decide(x, {"realised_vol": rv})
    assert a.target_hedge.shape == a.trade.shape == (64,)
    np.testing.assert_array_equal(a.target_hedge, b.target_hedge)
    np.testing.assert_array_equal(a.trade, b.trade)
    # Each world alone (the keeper runtime's case) decides as in the batch.
    for i in (0, 17, 63):
        one = HedgeInputs.single(**{k: getattr(x, k)[i] for k in x.__dataclass_fields__})
        d = pol.decide(one, {"realised_vol": rv[i]})
        assert d.target_hedge.shape == (1,)
        assert d.target_hedge[0] == pytest.approx(a.target_hedge[i], rel=1e-12, abs=1e-12)
        assert d.trade[0] == a.trade[i]
    # Without extra features (the keeper agent's plain decide(x)) it still decides: defaults.
    c = pol.decide(x)
    assert c.target_hedge.shape == (64,) and np.all(np.isfinite(c.target_hedge))
    # A band policy: it trades to the band's edge only when outside, never past delta neutral.
    moved = a.trade
    assert np.all(a.target_hedge[~moved] == x.hedge[~moved])
    gap_before = np.abs(x.hedge + x.book_delta)
    gap_after = np.abs(a.target_hedge + x.book_delta)
    assert np.all(gap_after[moved] <= gap_before[moved] + 1e-9)


def test_learned_is_a_policy_config(model_path):
    pol = TypeAdapter(PolicyConfig).validate_python({"kind": "learned", "model": str(model_path)})
    assert isinstance(pol, Learned) and pol.model == model_path


def test_model_file_round_trips_and_matches_torch(cfg, model_path):
    text = model_path.read_text()
    m = BandModel.from_json(text)
    assert m.to_json() == text
    assert len(text) < 300_000
    net = BandNet(len(m.mean) + 2, cfg.train.network.hidden, cfg.train.network.layers)
    with torch.no_grad():
        for lin, (w, b) in zip(
            [x for x in net.mlp if isinstance(x, torch.nn.Linear)], m.layers, strict=True
        ):
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
    z = np.random.default_rng(0).normal(size=(50, len(m.mean) + 2))
    np.testing.assert_allclose(net(torch.from_numpy(z)).detach().numpy(), m.forward(z), atol=1e-12)


def test_bad_model_file_is_one_clear_error(tmp_path):
    p = tmp_path / "m.json"
    p.write_text('{"format": "other"}')
    with pytest.raises(ModelFileError, match="ammlab learn train"):
        BandModel.load(p)


def test_same_seed_same_model_bytes(cfg):
    small = cfg.model_copy(update={"train": cfg.train.model_copy(update={"steps": 5})})
    a, b, c = train(small, seed=11), train(small, seed=11), train(small, seed=12)
    assert a.to_json() == b.to_json()
    assert a.to_json() != c.to_json()


def test_costless_hedging_every_step_is_the_delta_hedged_pnl(cfg):
    free = cfg.model_copy(
        update={"venue": cfg.venue.model_copy(update={"fee_bps": 0.0, "tvl": 1e30, "gas": 0.0})}
    )
    mp = simulate_market(free, free.market("gbm"), 50, seed=5)
    pm = run_policy(FixedInterval(interval=1.0), mp, 0.0)
    np.testing.assert_allclose(pm.pnl, delta_hedged_pnl(mp), rtol=1e-9, atol=1e-6)
    assert np.all(pm.cost < 1e-12) and np.all(pm.max_abs_delta < 1e-9)


@pytest.mark.parametrize("stat", ["mean", "std", "cvar95"])
def test_standard_errors_match_replication(stat):
    """The SE of each statistic against the spread of the statistic over independent samples
    (fat-tailed P&L, Student t with 5 degrees of freedom)."""
    rng = np.random.default_rng(42)
    reps, n = 400, 1000
    x = rng.standard_t(5, size=(reps, n)) * 100.0
    est, ses = zip(*(stat_se(row, stat) for row in x), strict=True)
    spread = np.std(est, ddof=1)
    # The SE of a standard deviation estimated from 400 replications is ~ spread / sqrt(800).
    assert np.mean(ses) == pytest.approx(spread, rel=4.0 / math.sqrt(2 * reps) + 0.05)


def test_summary_uses_direct_formulas():
    rng = np.random.default_rng(0)
    pnl = rng.normal(size=500)
    from sim.learn.evaluate import PathMetrics

    pm = PathMetrics(pnl, np.abs(pnl), np.ones(500), np.abs(pnl))
    s = summarise(pm, Score(unit=1.0))
    assert s["pnl_mean"] == pytest.approx((pnl.mean(), pnl.std(ddof=1) / math.sqrt(500)))
    assert s["pnl_std"][0] == pytest.approx(pnl.std(ddof=1))
    worst = np.sort(pnl)[:25]
    assert s["cvar95"][0] == pytest.approx(worst.mean(), abs=0.05)
    assert s["score"][0] == pytest.approx(pnl.mean() - pnl.var(ddof=1))
    assert s["trades"] == (1.0, 0.0)


def test_verdict_is_computed_from_the_numbers(cfg, model_path):
    from sim.learn.evaluate import default_policies

    ev = evaluate(cfg, default_policies(cfg, model_path), learned="learned", n_paths=200)
    assert {r["policy"] for r in ev.rows} == {
        "fixed_interval",
        "delta_band",
        "whalley_wilmott",
        "learned",
    }
    t = ev.meta["tally"]["score"]
    assert sum(t.values()) == len(cfg.evaluate.markets)
    if t["better"] == len(cfg.evaluate.markets):
        assert "WINS" in ev.overall
    elif not t["better"]:
        assert "DOES NOT WIN" in ev.overall
    md = ev.to_markdown()
    assert md.count("| learned |") == len(cfg.evaluate.markets) and "**Verdict:**" in md


def test_band_scale():
    assert band_scale(0.8, 0.8) == 1.0
    np.testing.assert_allclose(band_scale(np.array([0.1, 1.2, 10.0]), 0.8), [0.5, 1.5, 3.0])
    assert band_scale(1.6, 0.8, power=0.5) == pytest.approx(math.sqrt(2))


def test_forecaster_band_widens_the_learned_band(model_path):
    x = _inputs(16, np.random.default_rng(2))
    pol = Learned(model=model_path)
    from sim.learn.policy import learned_bounds

    lo1, hi1 = learned_bounds(pol, x, {"forecast_vol": 0.8})
    lo2, hi2 = learned_bounds(pol, x, {"forecast_vol": 1.6})
    np.testing.assert_allclose(hi2 - lo2, 2.0 * (hi1 - lo1))


def test_forecaster_is_compared_honestly_with_the_naive_baseline(cfg):
    longer = cfg.model_copy(
        update={"grid": cfg.grid.model_copy(update={"horizon": 4 * 86400.0, "dt": 1800.0})}
    )
    f = fit_forecaster(longer, seed=1, n_paths=40, horizon=12)
    r = f.report
    assert all(math.isfinite(r[k]) for k in ("r2_model", "r2_naive", "r2_model_se", "r2_naive_se"))
    assert r["n_test"] > 1000
    d, se = r["r2_model"] - r["r2_naive"], math.hypot(r["r2_model_se"], r["r2_naive_se"])
    expected = "beats" if d > 2 * se else "does not beat" if d > -2 * se else "is worse than"
    assert r["verdict"].startswith(f"forecaster {expected} ")


def test_cli_train_and_evaluate(tmp_path):
    runner = CliRunner()
    model = tmp_path / "m.json"
    r = runner.invoke(learn, ["train", TINY, "--seed", "1", "--out", str(model), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "trained in" in r.output and model.exists()
    out = tmp_path / "eval"
    r = runner.invoke(learn, ["evaluate", str(model), TINY, "--out", str(out), "--paths", "100"])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "comparison.json").read_text())
    assert doc["overall"] and len(doc["rows"]) == 2 * 4
    assert (out / "comparison.md").read_text().startswith("| market | policy |")
    r = runner.invoke(learn, ["evaluate", str(tmp_path / "missing.json"), TINY])
    assert r.exit_code != 0 and "cannot read" in r.output and "Traceback" not in r.output


def test_stress_window_multiplies_volatility(cfg):
    mp = simulate_market(cfg, cfg.market("stress"), 2000, seed=9)
    r = np.diff(np.log(mp.spot), axis=1)
    s = cfg.market("stress").stress
    t = mp.time[:-1]
    inside = (t >= s.at - s.before) & (t < s.at + s.after)
    ratio = r[:, inside].std() / r[:, ~inside].std()
    assert ratio == pytest.approx(s.vol_mult, rel=0.03)
    assert np.allclose(mp.fee[:, :-1][:, inside], cfg.venue.fee_bps / 1e4 * s.cost_mult)

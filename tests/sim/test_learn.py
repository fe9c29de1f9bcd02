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

from sim.cli.learn import learn
from sim.decisions.book import OptionPositions
from sim.decisions.hedging import FixedInterval, HedgeInputs, NoHedge
from sim.decisions.policies import PolicyConfig
from sim.errors import ConfigError
from sim.learn.book import BookSnapshot, Leg, apply_book, book_mismatch
from sim.learn.config import LearnConfig, load_config
from sim.learn.evaluate import (
    Score,
    evaluate,
    paired_difference,
    run_policy,
    summarise,
)
from sim.learn.features import LearnedFeatures, features_along
from sim.learn.forecast import band_scale, fit_forecaster
from sim.learn.model import BandModel, ModelFileError
from sim.learn.paths import simulate_market
from sim.learn.policy import Learned
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
        "import sys, numpy as np; from sim.learn.policy import Learned; from sim.decisions.hedging import HedgeInputs;"
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
    # The cost is the pool's quote less the trade's value at spot: rounding of ~1e4 quote.
    assert np.all(np.abs(pm.cost) < 1e-9) and np.all(pm.max_abs_delta < 1e-9)


@pytest.mark.parametrize("market", ["gbm", "stress"])
def test_training_and_evaluation_charge_the_same_costs(cfg, model_path, market):
    """Training's differentiable rollout (torch) and evaluation's `run_policy` (numpy), the
    same model on the same paths without gas (the one cost training smooths): the same P&L.
    Both price a pool trade, and the cost rate the network sees, with `sim.decisions.routing`'s
    `cpmm_cost` / `cpmm_rate`; the stress market's wider fee and thinner pool included."""
    from sim.learn.evaluate import policy_features
    from sim.learn.train import exogenous_along, rollout

    m = BandModel.load(model_path)
    mp = simulate_market(cfg, cfg.market(market), 64, seed=21)
    net = BandNet(len(m.mean) + 2, cfg.train.network.hidden, cfg.train.network.layers)
    with torch.no_grad():
        linears = [x for x in net.mlp if isinstance(x, torch.nn.Linear)]
        for lin, (w, b) in zip(linears, m.layers, strict=True):
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
    exo = exogenous_along(m, mp, features_along(m, mp.spot))
    data = {k: torch.from_numpy(getattr(mp, k)) for k in ("spot", "delta", "value", "fee", "depth")}
    data["z"] = torch.from_numpy((exo - m.mean) / m.std)
    with torch.no_grad():
        trained = rollout(net, data, m.unit, 0.0, 1.0).numpy()
    pol = Learned(model=model_path)
    evaluated = run_policy(pol, mp, 0.0, policy_features(pol, mp))
    assert np.mean(evaluated.trades) > 3 and np.all(evaluated.cost > 0)  # costs were charged
    np.testing.assert_allclose(trained, evaluated.pnl, rtol=1e-9, atol=1e-6)


def test_learns_pool_is_the_keepers_pool(cfg):
    """The venue of `sim.learn` (fee fraction, base reserve `depth`, quote reserve depth·S)
    priced as the keeper prices a pool with those reserves (`CpmmVenue`), and its cost rate
    is the simulator's keeper agent's (`cpmm_cost_rate`)."""
    from sim.decisions.routing import CpmmVenue, cpmm_cost_rate
    from sim.learn.paths import pool_cost, pool_rate

    mp = simulate_market(cfg, cfg.market("stress"), 4, seed=2)
    for k in (0, 12, 23):  # before and inside the stress window
        for w, q in enumerate((-30.0, -0.2, 0.7, 45.0)):
            f, x, s = mp.fee[w, k], mp.depth[w, k], mp.spot[w, k]
            venue = CpmmVenue("pool", x, x * s, f * 1e4)
            assert pool_cost(f, x, s, q) == pytest.approx(venue.cost(q) - q * s, rel=1e-12)
            assert pool_rate(f, x, s, q) == venue.cost_rate(q)
            assert pool_rate(f, x, s, q) == cpmm_cost_rate(x, x * s, f * 1e4, q)
            # First order: fee plus |q| / x (the pool's depth in base); second order ~ f, |q|/x.
            first = pytest.approx(f + abs(q) / x, rel=2 * abs(q) / x + 2 * f)
            assert pool_rate(f, x, s, q) == first


def test_a_fee_of_the_whole_input_is_refused(cfg):
    with pytest.raises(ValueError, match=r"markets.stress.stress.cost_mult: .* 10000 bps"):
        LearnConfig.model_validate(
            cfg.model_dump() | {"venue": cfg.venue.model_dump() | {"fee_bps": 2500.0}}
        )


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
    doc = json.loads((out / "policy_comparison.json").read_text())
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


# --------------------------------------------------------------------------- a chain's book


def _book(as_of: float = 1.7e9, **over) -> BookSnapshot:
    legs = (
        Leg("call", 3000.0, as_of + 14 * 86400, -12.0, 0.8),
        Leg("put", 2700.0, as_of + 14 * 86400, -6.0, 0.84),
        Leg("call", 3300.0, as_of - 60.0, -3.0, 0.8),  # expired before the as-of
    )
    return BookSnapshot(as_of, 3000.0, over.pop("legs", legs), over.pop("lp_base", 2.0),
                        "chain 1 block 42, options pool 0xabc")  # fmt: skip


def test_a_chain_book_becomes_times_to_expiry_at_its_as_of(cfg):
    book = _book()
    c = apply_book(cfg, book)
    assert [(o.type, o.strike, o.expiry, o.size) for o in c.options] == [
        ("call", 3000.0, 14 * 86400.0, -12.0),
        ("put", 2700.0, 14 * 86400.0, -6.0),
    ]
    assert (c.time_origin, c.grid.s0, c.lp_base) == (1.7e9, 3000.0, 2.0)
    # The paths run on the chain's clock: the book's Greeks at the as-of are the chain's.
    from sim.decisions.book import compute_book

    mp = simulate_market(c, c.market("gbm"), 3, seed=1)
    assert mp.time[0] == 1.7e9
    live = compute_book(3000.0, 1.7e9, book.positions(), 2.0 * np.ones(1), 1.0)
    assert mp.delta[0, 0] == pytest.approx(float(live.delta[0]), rel=1e-12)
    with pytest.raises(ConfigError, match="no live option leg"):
        apply_book(cfg, _book(legs=book.legs[2:]))


def test_book_mismatch_names_what_differs():
    book = _book()
    now = book.as_of + 600
    assert book_mismatch(book, book.positions(), now, 2.0, 3000.0) is None
    opts = book.positions()

    def with_(**kw):
        fields = {k: getattr(opts, k).copy() for k in ("size", "strike", "expiry", "is_call", "iv")}
        for k, (i, v) in kw.items():
            fields[k][i] = v
        return OptionPositions(**fields)

    # Sizes within the tolerance, the expired leg closed: the same book.
    assert book_mismatch(book, with_(size=(0, -12.5), expiry=(2, 0.0)), now, 2.0, 3000.0) is None
    assert "live size -14, trained for -12" in book_mismatch(
        book, with_(size=(0, -14.0)), now, 2.0, 3000.0
    )
    assert "trained put 2700" in book_mismatch(book, with_(strike=(1, 2600.0)), now, 2.0, 3000.0)
    moved = book_mismatch(book, with_(expiry=(0, book.as_of + 7 * 86400)), now, 2.0, 3000.0)
    assert "call 3000" in moved and "not" in moved
    extra = OptionPositions(*(np.append(getattr(opts, k), v) for k, v in
                              (("size", -1.0), ("strike", 3500.0), ("expiry", now + 99),
                               ("is_call", True), ("iv", 0.8))))  # fmt: skip
    assert "call 3500" in book_mismatch(book, extra, now, 2.0, 3000.0)
    # The LP part at another spot: x √(s0/S).
    assert book_mismatch(book, opts, now, 2.0 * math.sqrt(3000 / 3300), 3300.0) is None
    assert "LP base" in book_mismatch(book, opts, now, 0.0, 3000.0)
    # A sim-clock model on a chain's clock: every expiry differs.
    sim_book = BookSnapshot.from_config(load_config(TINY))
    assert "every leg it was trained for expired by now" in book_mismatch(
        sim_book, opts, now, 0.0, 3000.0
    )


def test_train_for_a_book_file_stores_it_and_evaluate_checks_it(tmp_path):
    book_file = _book().save(tmp_path / "book.json")
    model = tmp_path / "m.json"
    runner = CliRunner()
    r = runner.invoke(learn, ["train", TINY, "--seed", "1", "--out", str(model), "--quiet",
                              "--book-from", str(book_file)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "as of 1700000000, spot 3000" in r.output
    m = BandModel.load(model)
    assert m.time_origin == 1.7e9 and m.book.source.startswith("chain 1 block 42")
    assert [leg.expiry for leg in m.book.legs] == [1.7e9 + 14 * 86400] * 2
    np.testing.assert_array_equal(m.expiries, [1.7e9 + 14 * 86400] * 2)
    assert m.book.lp_base == 2.0 and m.book.spot == 3000.0
    # The scenario's own book is another one: refused in one line; its book is accepted.
    r = runner.invoke(learn, ["evaluate", str(model), TINY, "--no-tune", "--paths", "20"])
    assert r.exit_code != 0 and "another book" in r.output and len(r.output.splitlines()) == 1
    r = runner.invoke(learn, ["evaluate", str(model), TINY, "--no-tune", "--paths", "20",
                              "--book-from", str(model)])  # fmt: skip
    assert r.exit_code == 0, r.output
    r = runner.invoke(learn, ["train", TINY, "--out", str(model), "--book-from", "nowhere"])
    assert r.exit_code != 0 and "--book-from nowhere" in r.output and "Traceback" not in r.output


def test_old_model_files_read_with_their_config_book(cfg, model_path):
    doc = json.loads(model_path.read_text())
    for k in ("book", "time_origin", "rv_window", "fee"):
        doc.pop(k)
    doc["format"] = "ammlab.learn.ntb/1"
    old = BandModel.from_json(json.dumps(doc))
    assert old.book == BookSnapshot.from_config(cfg)
    assert (old.rv_window, old.fee) == (cfg.train.rv_window, cfg.venue.fee_bps / 1e4)


# --------------------------------------------------------------------------- features


def test_the_same_price_history_gives_the_same_features(cfg, tmp_path):
    """Training's features on whole paths equal what a keeper computes from prices as they
    come (observations between grid times, the oldest beyond the lookback dropped), on a
    chain's clock, for the band model's features with flow and the forecaster's."""
    c = apply_book(
        cfg.model_copy(
            update={"train": cfg.train.model_copy(
                update={"network": cfg.train.network.model_copy(update={"use_flow": True})})}
        ),
        _book(),
    )  # fmt: skip
    from sim.learn.train import skeleton

    path = skeleton(c).save(tmp_path / "skeleton.json")
    m = BandModel.load(path)
    rng = np.random.default_rng(7)
    n, steps = 3, 200  # past the forecaster's lookback (146)
    spot = 3000.0 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, steps + 1)), axis=1))
    whole = features_along(m, spot, vol_feats=True)
    lf = LearnedFeatures(Learned(model=path, forecaster=tmp_path / "unused.pkl"), n)
    assert lf.length == 146
    t0 = m.time_origin
    for k in range(steps + 1):
        g = t0 + k * m.dt
        lf.observe(g, spot[:, k])
        got = lf.features()
        for key in ("realised_vol", "flow", "vol_features"):
            np.testing.assert_allclose(got[key], whole[key][:, k], rtol=1e-9, atol=1e-12,
                                       err_msg=f"{key} at step {k}")  # fmt: skip
        # Prices between grid times do not leak into the features of the last grid time.
        lf.observe(g + 0.5 * m.dt, spot[:, k] * rng.uniform(0.9, 1.1, n))
        np.testing.assert_array_equal(lf.features()["realised_vol"], got["realised_vol"])
    # A price seen between grid times stands for the next grid time it precedes.
    one = LearnedFeatures(Learned(model=path), 1)
    one.observe(t0 - 10, 100.0)
    one.observe(t0 + m.dt + 5, 110.0)
    one.observe(t0 + 3 * m.dt, 121.0)
    np.testing.assert_array_equal(one.history(), [100.0, 100.0, 110.0, 121.0])


def _keeper_scenario(model, *over: str):
    """keeper_options.yaml, small; agents: 0 arb, 1 keeper (reading the feed) on `model`."""
    from sim.scenario import load_scenario

    return load_scenario(
        "scenarios/keeper_options.yaml",
        ["paths=3", "blocks.n_blocks=1200",
         f"agents.1.policy={{kind: learned, model: '{model}'}}", *over],
    )  # fmt: skip


def test_the_sim_keeper_agent_feeds_the_spot_history_through_the_same_features(
    model_path, monkeypatch
):
    """The simulator's keeper agent with a learned policy: its features at the end equal
    `features_along` of the feed's whole price history sampled on the model's grid (the
    agent keeps only the lookback); a model for another book is refused in one line."""
    from sim.agents.keeper import KeeperAgent
    from sim.engine.core import Engine, EngineHooks

    monkeypatch.setenv("AMMLAB_SIM_THREADS", "1")  # one chunk: one agent, blocks in order
    tiny_leg = "agents.1.options=[{type: call, strike: 2000.0, expiry: 172800.0, size: -50.0}]"
    sc = _keeper_scenario(model_path, tiny_leg)
    agents, seen = [], []

    def make(*args):
        from sim.engine.core import make_agents

        out = make_agents(*args)
        agents.extend(a for a in out if isinstance(a, KeeperAgent))
        return out

    def end_block(ctx):
        seen.append((ctx.time.copy(), ctx.feeds["feed"].price().copy()))

    Engine(sc, hooks=EngineHooks(agents=make, end_block=end_block)).run()
    (agent,) = agents
    m = agent.learned.model
    times = np.array([t for t, _ in seen])  # (B, N)
    prices = np.array([p for _, p in seen])
    grid = np.arange(1, int(times[-1, 0] // m.dt) + 1) * m.dt  # from the first block on
    assert len(grid) > agent.learned.length  # the agent dropped the oldest
    at = np.array([np.flatnonzero(times[:, 0] <= g)[-1] for g in grid])
    sampled = prices[at].T  # (N, J): the last price at or before each grid time
    want = features_along(m, sampled)["realised_vol"][:, -1]
    np.testing.assert_allclose(agent.learned.features()["realised_vol"], want, rtol=1e-9)
    assert np.all(want != m.iv)  # a real history, not the default

    with pytest.raises(ConfigError, match="keeper keeper: .* another book .*call 2200") as err:
        Engine(_keeper_scenario(model_path)).run()
    assert "\n" not in str(err.value)

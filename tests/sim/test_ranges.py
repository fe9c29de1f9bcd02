"""Range policies and a concentrated position's Greeks, without an engine: the Greeks against
the periphery's integer LiquidityAmounts and finite differences, the expected time in range
against quadrature and Monte Carlo, each policy's rule and its gain-versus-cost gate, the
guards, batch against one world, and bad input refused in one line naming the field."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from sim.decisions.book import (
    V3Positions,
    compute_book,
    cpmm_lp_greeks,
    v3_position_greeks,
)
from sim.decisions.hedging import DeltaBand, ForecastBand, HedgeInputs, WhalleyWilmott
from sim.decisions.ranges import (
    FeeIncome,
    NoRange,
    Periodic,
    RangeInputs,
    Recentre,
    StaticRange,
    VolWidth,
    expected_time_in_range,
    min_width,
    plan_move,
    range_ticks,
    range_width,
    recentred,
    sqrt_at,
    tokens_per_liquidity,
)
from sim.errors import ConfigError
from sim.processes import YEAR
from sim.scenario import load_scenario
from sim.venues.univ3.config import LIQUIDITY_SCALE, LN_TICK, PRICE_SCALE, usable_ticks
from sim.venues.univ3.periphery import amounts_for_liquidity
from sim.venues.univ3.v3math import Q96

SCEN = Path(__file__).resolve().parents[2] / "scenarios"
DAY = 86400.0


# --------------------------------------------------------------------------- Greeks


@pytest.mark.parametrize("tick", [-200_310, -200_000, -199_650, -199_000], ids=str)
def test_position_delta_is_the_periphery_amount0(tick):
    """delta = the base the position holds: LiquidityAmounts.getAmountsForLiquidity in base
    units (18/6 decimals, liquidity units = whole · 1e12), below, inside and above the range."""
    lower, upper, liq = -200_300, -199_700, 3.7e5
    s = math.exp(tick * 0.5 * LN_TICK) * math.sqrt(PRICE_SCALE) * 1.000003
    pos = V3Positions.from_ticks(np.array([liq]), np.array([lower]), np.array([upper]))
    g = v3_position_greeks(pos, s)
    x96 = int(s / math.sqrt(PRICE_SCALE) * Q96)
    a0, a1 = amounts_for_liquidity(x96, lower, upper, int(liq * LIQUIDITY_SCALE))
    assert g["delta"] == pytest.approx(a0 / 1e18, rel=1e-9, abs=1e-12)
    assert g["quote"] == pytest.approx(a1 / 1e6, rel=1e-9, abs=1e-9)
    assert g["value"] == pytest.approx(a0 / 1e18 * s * s + a1 / 1e6, rel=1e-9)


def test_position_gamma_is_the_derivative_of_its_delta_and_zero_outside():
    pos = V3Positions.from_ticks(np.array([2e5, 1e5]), np.array([-200_400, -200_100]),
                                 np.array([-199_600, -199_900]))  # fmt: skip
    for p in (2000.0, 2050.0, 2150.0, 1900.0):
        s, h = math.sqrt(p), 1e-3
        g = v3_position_greeks(pos, s)
        up, down = (v3_position_greeks(pos, math.sqrt(p + e))["value"] for e in (h, -h))
        assert g["delta"] == pytest.approx((up - down) / (2 * h), rel=1e-6)
        dl = [v3_position_greeks(pos, math.sqrt(p + e))["delta"] for e in (h, -h)]
        assert g["gamma"] == pytest.approx((dl[0] - dl[1]) / (2 * h), rel=1e-5, abs=1e-12)
    far = v3_position_greeks(pos, math.sqrt(10_000.0))
    assert far["gamma"] == 0.0 and far["delta"] == 0.0


def test_full_range_position_is_the_constant_product_pool():
    lo, hi = usable_ticks(10)
    p, liq = 2345.0, 1e6
    g = v3_position_greeks(V3Positions.from_ticks(np.array([liq]), lo, hi), math.sqrt(p))
    x = liq / math.sqrt(p)
    cp = cpmm_lp_greeks(x, 1.0, p)
    assert g["delta"] == pytest.approx(cp["delta"], rel=1e-9)
    assert g["gamma"] == pytest.approx(cp["gamma"], rel=1e-9)


def test_concentrated_gamma_is_many_times_the_full_ranges_for_the_same_value():
    p = 2000.0
    s = math.sqrt(p)
    lo, hi = range_ticks(np.array(p), 0.05, 10)
    x1, y1 = tokens_per_liquidity(sqrt_at(lo), sqrt_at(hi), s)
    narrow = V3Positions.from_ticks(np.array([1e6 / (x1 * p + y1)]), lo, hi)
    flo, fhi = usable_ticks(10)
    fx, fy = tokens_per_liquidity(sqrt_at(flo), sqrt_at(fhi), s)
    full = V3Positions.from_ticks(np.array([1e6 / (fx * p + fy)]), flo, fhi)
    ratio = v3_position_greeks(narrow, s)["gamma"] / v3_position_greeks(full, s)["gamma"]
    assert ratio > 15  # ±5 %: about 1 / (1 - 1.05**-0.5) ≈ 41 times the liquidity


def test_book_adds_positions_and_base_held_only_when_given():
    plain = compute_book(2000.0, 0.0, None, 10.0, 0.5)
    again = compute_book(2000.0, 0.0, None, 10.0, 0.5, v3=None, base_held=None)
    assert plain.delta.tobytes() == again.delta.tobytes()
    pos = V3Positions.from_ticks(np.array([1e5]), -200_300, -199_700)
    s = math.sqrt(2010.0)
    book = compute_book(2000.0, 0.0, None, 10.0, 0.5, v3=pos, v3_sqrt_price=s, base_held=3.0)
    g = v3_position_greeks(pos, s)
    assert book.delta == pytest.approx(5.0 + g["delta"] + 3.0)
    assert book.gamma == pytest.approx(plain.gamma + g["gamma"])


# --------------------------------------------------------------------------- time in range


@pytest.mark.parametrize("x0", [-0.3, -0.05, 0.0, 0.02, 0.2], ids=str)
def test_expected_time_in_range_matches_quadrature(x0):
    a, b, sigma, h = -0.04, 0.06, 0.9, 3 * DAY
    s = sigma / math.sqrt(YEAR)

    def inside(t):
        return norm.cdf((b - x0) / (s * math.sqrt(t))) - norm.cdf((a - x0) / (s * math.sqrt(t)))

    want, _err = integrate.quad(inside, 0.0, h, limit=200, points=[1.0, 60.0, 3600.0])
    got = expected_time_in_range(a, b, x0, sigma, h)
    assert got == pytest.approx(want, rel=1e-7, abs=1e-6)


def test_expected_time_in_range_matches_monte_carlo_within_4_se():
    rng = np.random.default_rng(3)
    a, b, sigma, h, steps, n = -0.03, 0.05, 1.2, DAY, 2000, 4000
    dt = h / steps
    path = np.cumsum(rng.normal(0, sigma * math.sqrt(dt / YEAR), (n, steps)), axis=1)
    occ = ((path >= a) & (path < b)).sum(axis=1) * dt
    want = expected_time_in_range(a, b, 0.0, sigma, h)
    se = occ.std(ddof=1) / math.sqrt(n)
    # The discrete grid misses crossings between steps: its bias is far below the SE here.
    assert abs(occ.mean() - want) < 4 * se


def test_expected_time_in_range_degenerate_cases():
    assert expected_time_in_range(-1.0, 1.0, 0.0, 0.0, DAY) == DAY
    assert expected_time_in_range(0.1, 1.0, 0.0, 0.0, DAY) == 0.0
    assert expected_time_in_range(-50.0, 50.0, 0.0, 2.0, DAY) == pytest.approx(DAY)
    assert expected_time_in_range(0.5, 0.6, 0.0, 0.01, DAY) == pytest.approx(0.0, abs=1e-9)


# --------------------------------------------------------------------------- range maths


def test_range_ticks_hold_the_price_on_the_spacing():
    p = np.array([1234.5, 2000.0, 3999.0])
    for w, sp in ((0.0005, 10), (0.01, 60), (0.3, 200)):
        lo, hi = range_ticks(p, w, sp)
        t = np.log(p / PRICE_SCALE) / LN_TICK
        assert np.all(lo % sp == 0) and np.all(hi % sp == 0)
        assert np.all((lo <= t) & (t < hi)) and np.all(hi - lo >= sp)
        assert np.all(range_width(lo, hi) >= w - 1e-12)


def test_recentred_keeps_the_span_and_centres_the_price():
    lo, hi = recentred(np.array([2100.0]), np.array([-200_300]), np.array([-199_700]), 10)
    assert hi[0] - lo[0] == 600 and lo[0] % 10 == 0
    t = math.log(2100.0 / PRICE_SCALE) / LN_TICK
    assert abs((lo[0] + hi[0]) / 2 - t) <= 5


def test_fee_income_converges_to_a_constant_rate():
    f = FeeIncome(window=600.0)
    rate, liq, spot = 2.5, 1e6, 2000.0  # numeraire per second
    for t in range(0, 12_000, 12):
        g1 = rate * t / liq  # per unit of liquidity, all in the quote
        got = f.observe(np.array([float(t)]), np.zeros(1), np.array([g1]), spot, liq)
    assert got[0] == pytest.approx(rate, rel=1e-6)
    assert FeeIncome(600.0).observe(np.array([0.0]), np.zeros(1), np.zeros(1), 1.0, 1.0)[0] == 0


# --------------------------------------------------------------------------- policies


def _inputs(w=1, tick=-199_800, price_tick=None, gas=10.0, fee=5.0, swap_rate=0.0005, **kw):
    """Inputs of a ±5 %-ish position on [-200 300, -199 700) in a pool that earns `fee` per
    second, with the pool at `tick` (or price_tick's price)."""
    t = tick if price_tick is None else price_tick
    s = np.broadcast_to(np.exp((t + 0.5) * 0.5 * LN_TICK) * math.sqrt(PRICE_SCALE), (w,))

    def swap_cost(amount, direction):
        value = np.where(direction > 0, amount, amount * s * s)
        return value * swap_rate

    base = dict(
        now=np.full(w, 10 * DAY), spot=s * s, sqrt_price=s, tick=np.full(w, tick),
        lower=np.full(w, -200_300), upper=np.full(w, -199_700), liquidity=np.full(w, 2e5),
        base_idle=np.zeros(w), quote_idle=np.zeros(w), pool_liquidity=np.full(w, 1e6),
        fee_income=np.full(w, fee), sigma=np.full(w, 0.8), last_rebalance=np.zeros(w),
        gas=np.full(w, gas), oracle_age=np.zeros(w), tick_spacing=10, swap_cost=swap_cost,
    )  # fmt: skip
    base.update(kw)
    return RangeInputs(**base)


def test_static_and_none_never_move():
    x = _inputs(tick=-199_000)  # far above the range
    for policy in (StaticRange(), NoRange()):
        assert not policy.decide(x).rebalance.any()
    assert not NoRange.opens and StaticRange.opens


def test_recentre_moves_out_of_range_when_the_fees_pay_for_it():
    x = _inputs(tick=-199_500)  # above the range
    d = Recentre().decide(x)
    assert d.rebalance[0] and d.gain[0] > d.cost[0] > 0
    assert d.upper[0] - d.lower[0] == 600  # the span kept
    assert d.lower[0] <= -199_500 < d.upper[0]
    assert d.swap_direction[0] == 1  # above the range it holds quote only: sells some
    # In range nothing is due; a trigger band inside the range moves earlier.
    assert not Recentre().decide(_inputs(tick=-199_760)).rebalance[0]
    assert Recentre(trigger=0.5).decide(_inputs(tick=-199_760)).rebalance[0]


def test_a_move_that_does_not_pay_its_cost_is_not_made():
    x = _inputs(tick=-199_500, gas=1e9)
    d = Recentre().decide(x)
    assert not d.rebalance[0] and d.cost[0] > d.gain[0]
    assert not Recentre().decide(_inputs(tick=-199_500, fee=0.0)).rebalance[0]
    cheap = _inputs(tick=-199_500)
    ratio = Recentre().decide(cheap).gain[0] / Recentre().decide(cheap).cost[0]
    assert not Recentre(min_gain_ratio=2 * ratio).decide(cheap).rebalance[0]


def test_guards_stop_a_move_on_a_pool_off_the_oracle_or_a_stale_oracle():
    x = _inputs(tick=-199_500)
    off = _inputs(tick=-199_500, spot=x.spot * 1.02)
    d = Recentre(max_deviation_bps=100).decide(off)
    assert not d.rebalance[0] and d.blocked[0]
    stale = _inputs(tick=-199_500, oracle_age=np.array([7200.0]))
    d = Recentre(max_oracle_age=3600).decide(stale)
    assert not d.rebalance[0] and d.blocked[0]
    assert Recentre().decide(x).rebalance[0] and not Recentre().decide(x).blocked[0]


def test_min_delay_and_periodic():
    x = _inputs(tick=-199_500, last_rebalance=np.array([10 * DAY - 60]))
    assert not Recentre(min_delay=120).decide(x).rebalance[0]
    assert Recentre(min_delay=30).decide(x).rebalance[0]
    near = _inputs(tick=-199_620, last_rebalance=np.array([9 * DAY]))
    assert Periodic(interval=DAY).decide(near).rebalance[0]
    assert not Periodic(interval=2 * DAY).decide(near).rebalance[0]


def test_vol_width_sets_k_sigma_root_horizon():
    policy = VolWidth(k=2.0, vol_horizon=DAY)
    sigma = np.array([0.4, 0.8, 1.6])
    want = np.expm1(2.0 * sigma * math.sqrt(DAY / YEAR))
    np.testing.assert_allclose(policy.target_width(sigma), want)
    # A calm spell: the target width is a third of the range's, beyond the tolerance, and the
    # narrower range's extra liquidity earns more than the move costs: narrow, price in range.
    x = _inputs(tick=-200_000, sigma=np.array([0.1]))
    d = policy.decide(x)
    assert d.rebalance[0]
    want = policy.target_width(0.1)  # widened outwards to the spacing, by a tick each side
    assert want <= range_width(d.lower, d.upper)[0] <= np.expm1(np.log1p(want) + 10 * LN_TICK)
    # Within the tolerance, nothing is due while the price is in the range.
    assert not policy.decide(_inputs(tick=-200_000, sigma=np.array([0.55]))).rebalance[0]
    # Widening earns fees only where the current range is out of the price's way: the gate
    # weighs fees, not risk (the hedge carries the gamma). In range at a high σ̂ the wider
    # range's thinner liquidity earns less than the narrow one's share while it lasts...
    wide = policy.decide(_inputs(tick=-200_000, sigma=np.array([6.0])))
    assert not wide.rebalance[0] and wide.gain[0] < 0
    # ... while 12 % above the range, at σ̂ = 100 %, the price is not coming back soon.
    out = policy.decide(_inputs(tick=-198_500, sigma=np.array([1.0])))
    assert out.rebalance[0] and range_width(out.lower, out.upper)[0] > 0.1


def test_batch_decisions_equal_one_world_decisions():
    rng = np.random.default_rng(5)
    w = 64
    ticks = rng.integers(-200_800, -199_200, w)
    s = np.exp((ticks + 0.5) * 0.5 * LN_TICK) * math.sqrt(PRICE_SCALE)
    cols = dict(
        tick=ticks, sqrt_price=s, spot=s * s * rng.uniform(0.995, 1.005, w),
        fee_income=rng.uniform(0, 20, w), sigma=rng.uniform(0.2, 3, w),
        gas=rng.uniform(0, 500, w), last_rebalance=rng.uniform(0, 10 * DAY, w),
    )  # fmt: skip
    x = _inputs(w, **cols)
    for policy in (Recentre(trigger=0.7), VolWidth(), Periodic(interval=DAY)):
        d = policy.decide(x)
        for i in range(0, w, 7):
            one = _inputs(1, **{k: v[i : i + 1] for k, v in cols.items()})
            o = policy.decide(one)
            assert o.rebalance[0] == d.rebalance[i]
            assert (o.lower[0], o.upper[0]) == (d.lower[i], d.upper[i])
            assert o.gain[0] == pytest.approx(d.gain[i], rel=1e-12, abs=1e-9)


def test_plan_move_turns_the_tokens_into_the_new_ratio():
    x = _inputs(tick=-199_500, swap_rate=0.0)
    lo, hi = np.array([-199_800]), np.array([-199_200])
    amount, direction, cost, liq = plan_move(x, lo, hi)
    s = x.sqrt_price
    xa, ya = tokens_per_liquidity(sqrt_at(x.lower), sqrt_at(x.upper), s)
    base, quote = x.liquidity * xa, x.liquidity * ya
    p = s * s
    base_after = base + np.where(direction > 0, amount / p, -amount)
    quote_after = quote - np.where(direction > 0, amount, -amount * p)
    x1, y1 = tokens_per_liquidity(sqrt_at(lo), sqrt_at(hi), s)
    assert cost[0] == 0.0
    assert base_after[0] == pytest.approx(liq[0] * x1[0], rel=1e-9)
    assert quote_after[0] == pytest.approx(liq[0] * y1[0], rel=1e-9)


# --------------------------------------------------------------------------- forecast bands


def test_band_policies_scale_by_the_forecast_only_when_configured():
    x = HedgeInputs(
        now=np.zeros(3), spot=np.full(3, 2000.0), book_delta=np.array([0.0, 0.0, 0.0]),
        book_gamma=np.full(3, -0.05), hedge=np.array([1.5, 1.5, 1.5]),
        last_hedge_time=np.full(3, -np.inf), cost_rate=np.full(3, 5e-4),
        band_scale=np.array([0.5, 1.0, 2.0]),
    )  # fmt: skip
    fb = ForecastBand(reference_vol=0.8)
    assert DeltaBand(band=1.0).decide(x).trade.tolist() == [True, True, True]
    assert DeltaBand(band=1.0, forecast=fb).decide(x).trade.tolist() == [True, True, False]
    ww, wwf = WhalleyWilmott(), WhalleyWilmott(forecast=fb)
    np.testing.assert_allclose(wwf.band(x), ww.band(x) * x.band_scale)
    plain = HedgeInputs(**{k: getattr(x, k) for k in x.__dataclass_fields__ if k != "band_scale"})
    assert plain.band_scale.tolist() == [1.0, 1.0, 1.0]


# --------------------------------------------------------------------------- bad input


def test_min_width_is_one_spacing():
    for sp in (10, 60, 200):
        lo, hi = range_ticks(np.array([2000.0]), min_width(sp), sp)
        assert 2 * math.log1p(min_width(sp)) / LN_TICK == pytest.approx(sp)
        assert hi[0] - lo[0] >= sp


@pytest.mark.parametrize(
    "override, field",
    [
        ("agents.3.v3.width=0.0001", "agents.keeper.v3.width"),
        ("agents.3.range_policy={kind: recentre, width: 0.0002}", "agents.keeper.range_policy.width"),
        ("agents.3.range_policy={kind: vol_width, min_width: 0.0001}",
         "agents.keeper.range_policy.min_width"),
        ("agents.3.range_policy={kind: recentre, trigger: 2}", "range_policy.recentre.trigger"),
        ("agents.3.range_policy={kind: vol_width, min_width: 0.5, max_width: 0.1}",
         "max_width"),
        ("agents.3.range_policy={kind: sideways}", "agents.3.keeper.range_policy"),
        ("agents.3.v3.pool=nope", "unknown V3 pool 'nope'"),
    ],
    ids=["v3-width", "recentre-width", "min-width", "trigger", "widths", "kind", "pool"],
)  # fmt: skip
def test_bad_range_config_is_refused_in_one_line_naming_the_field(override, field):
    with pytest.raises(ConfigError) as err:
        load_scenario(SCEN / "keeper_v3.yaml", [override])
    msg = str(err.value)
    assert field in msg and "\n" not in msg and len(msg) < 400, msg


def _forecaster(path: Path) -> Path:
    """A forecaster file of one hand-made tree: σ̂ = 0.5 below rv_long 1.0, else 2.0."""
    from sim.learn.forecast import FEATURES, BoostedTrees, Forecaster

    tree = {"feature": [FEATURES.index("rv_long"), 0, 0], "threshold": [1.0, 0.0, 0.0],
            "missing_left": [True, False, False], "left": [1, -1, -1], "right": [2, -1, -1],
            "value": [0.0, 0.5, 2.0]}  # fmt: skip
    trees = BoostedTrees._from_trees(0.0, len(FEATURES), [tree])
    Forecaster(trees, horizon=12, dt=600.0, fee=5e-4, iv=0.8, report={}).save(path)
    return path


def test_vol_forecast_is_the_forecasters_prediction_on_the_grid_history(tmp_path):
    from sim.decisions.hedging import VolSource
    from sim.learn.features import VolForecast
    from sim.learn.forecast import load_cached, vol_features

    f = load_cached(_forecaster(tmp_path / "f.json"))
    rng = np.random.default_rng(2)
    n, steps = 4, 200
    vols = np.array([0.3, 0.6, 1.5, 3.0])[:, None] * math.sqrt(f.dt / YEAR)
    spot = 2000.0 * np.exp(np.cumsum(rng.normal(0, 1, (n, steps + 1)) * vols, axis=1))
    vf = VolForecast(VolSource(forecaster=tmp_path / "f.json"), n)
    for k in range(steps + 1):
        vf.observe(k * f.dt + 3.0, spot[:, k])  # a block 3 s after each grid time
    want = f.predict(vol_features(spot[:, -146:], f.dt, f.fee, f.iv)[:, -1])
    np.testing.assert_array_equal(vf.sigma(), want)
    assert set(want) == {0.5, 2.0}


def test_vol_forecast_without_a_forecaster_is_the_trailing_realised_vol():
    from sim.decisions.hedging import VolSource
    from sim.learn.features import VolForecast

    rng = np.random.default_rng(4)
    n, sigma, src = 400, 0.9, VolSource(grid_dt=300.0, window=144)
    r = rng.normal(0, sigma * math.sqrt(src.grid_dt / YEAR), (n, 300))
    spot = 2000.0 * np.exp(np.cumsum(r, axis=1))
    vf = VolForecast(src, n)
    assert np.all(vf.sigma() == src.default_vol)
    for k in range(300):
        vf.observe(k * src.grid_dt, spot[:, k])
    est = vf.sigma()
    want = np.sqrt((r[:, -144:] ** 2).sum(axis=1) / (144 * src.grid_dt / YEAR))
    np.testing.assert_allclose(est, want, rtol=1e-12)
    # Within 4 SE, allowing the square root's bias, about σ / (4 · window).
    assert abs(est.mean() - sigma) < 4 * est.std(ddof=1) / math.sqrt(n) + sigma / (4 * 144)


def test_counting_lvr_stops_a_move_whose_fees_do_not_cover_its_lvr():
    """Out of range, a recentred range earns fees but also LVR again; with LVR counted and
    fees below it (σ̂ high, fee income low) the move is not made."""
    x = _inputs(tick=-199_500, fee=0.5, sigma=np.array([3.0]))
    assert Recentre().decide(x).rebalance[0]
    d = Recentre(count_lvr=True).decide(x)
    assert not d.rebalance[0] and d.gain[0] < 0
    # LVR of a range at σ̂: σ̂² L √P / 4 per unit time in range, times the time in range.
    from sim.decisions.ranges import expected_lvr

    lo, hi = np.array([-199_800]), np.array([-199_200])
    occ = expected_time_in_range(lo * LN_TICK, hi * LN_TICK,
                                 2 * np.log(x.sqrt_price / math.sqrt(PRICE_SCALE)), 3.0, DAY)  # fmt: skip
    want = 9.0 / YEAR * 2e5 * x.sqrt_price / 4 * occ
    np.testing.assert_allclose(expected_lvr(x, lo, hi, np.array([2e5]), DAY), want)

"""sim.venues.options.bs: the integer twin and the float64 engine against published Black–Scholes
values, a 50-digit reference, put–call parity and finite differences. No chain needed (the
twin's equality with the contract is tests/contracts/test_black_scholes.py).
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

import numpy as np
import pytest

from sim.errors import Revert
from sim.venues.options import bs

WAD = 10**18
DAY = 86_400
HALF_WEI = Decimal("0.5") / WAD

# Error bounds documented in contracts/BlackScholes.vy (beyond the 0.5 wei output rounding).
PRICE_REL = Decimal("1e-16")
DELTA_ABS = Decimal("1e-18")
GREEK_REL = Decimal("1e-15")
GREEK_SPOT = Decimal("1e-25")


def _wad(x: Decimal | float | str) -> int:
    return int((Decimal(x) * WAD).to_integral_value())


def _tau(t_years: float) -> int:
    return round(t_years * bs.YEAR)


# --- published values ----------------------------------------------------------------------

# Hull, "Options, Futures, and Other Derivatives", Example 15.6 (S=42, K=40, r=10 %,
# sigma=20 %, T=0.5): call 4.76, put 0.81.
HULL = (42, 40, 0.10, 0.5, 0.20)

# E. G. Haug, "The Complete Guide to Option Pricing Formulas" (McGraw-Hill 1998), pp. 2-8, 24,
# 27, as used in QuantLib's test-suite/europeanoption.cpp (EuropeanOptionTest::testValues,
# tolerance 1e-4). Columns: is_call, strike, spot, q, r, t, vol, value. A dividend yield q is
# handled exactly by pricing on the spot S e^{-qT} (same r), the Black–Scholes–Merton identity.
HAUG_VALUES = [
    (True, 65.00, 60.00, 0.00, 0.08, 0.25, 0.30, 2.1334),
    (False, 95.00, 100.00, 0.05, 0.10, 0.50, 0.20, 2.4648),
    (False, 19.00, 19.00, 0.10, 0.10, 0.75, 0.28, 1.7011),
    (True, 19.00, 19.00, 0.10, 0.10, 0.75, 0.28, 1.7011),
    (True, 1.60, 1.56, 0.08, 0.06, 0.50, 0.12, 0.0291),
    (False, 70.00, 75.00, 0.05, 0.10, 0.50, 0.35, 4.0870),
    (True, 100.00, 90.00, 0.10, 0.10, 0.10, 0.15, 0.0205),
    (True, 100.00, 100.00, 0.10, 0.10, 0.10, 0.15, 1.8734),
    (True, 100.00, 110.00, 0.10, 0.10, 0.10, 0.15, 9.9413),
    (True, 100.00, 90.00, 0.10, 0.10, 0.10, 0.25, 0.3150),
    (True, 100.00, 100.00, 0.10, 0.10, 0.10, 0.25, 3.1217),
    (True, 100.00, 110.00, 0.10, 0.10, 0.10, 0.25, 10.3556),
    (True, 100.00, 90.00, 0.10, 0.10, 0.10, 0.35, 0.9474),
    (True, 100.00, 100.00, 0.10, 0.10, 0.10, 0.35, 4.3693),
    (True, 100.00, 110.00, 0.10, 0.10, 0.10, 0.35, 11.1381),
    (True, 100.00, 90.00, 0.10, 0.10, 0.50, 0.15, 0.8069),
    (True, 100.00, 100.00, 0.10, 0.10, 0.50, 0.15, 4.0232),
    (True, 100.00, 110.00, 0.10, 0.10, 0.50, 0.15, 10.5769),
    (True, 100.00, 90.00, 0.10, 0.10, 0.50, 0.25, 2.7026),
    (True, 100.00, 100.00, 0.10, 0.10, 0.50, 0.25, 6.6997),
    (True, 100.00, 110.00, 0.10, 0.10, 0.50, 0.25, 12.7857),
    (True, 100.00, 90.00, 0.10, 0.10, 0.50, 0.35, 4.9329),
    (True, 100.00, 100.00, 0.10, 0.10, 0.50, 0.35, 9.3679),
    (True, 100.00, 110.00, 0.10, 0.10, 0.50, 0.35, 15.3086),
    (False, 100.00, 90.00, 0.10, 0.10, 0.10, 0.15, 9.9210),
    (False, 100.00, 100.00, 0.10, 0.10, 0.10, 0.15, 1.8734),
    (False, 100.00, 110.00, 0.10, 0.10, 0.10, 0.15, 0.0408),
    (False, 100.00, 90.00, 0.10, 0.10, 0.10, 0.25, 10.2155),
    (False, 100.00, 100.00, 0.10, 0.10, 0.10, 0.25, 3.1217),
    (False, 100.00, 110.00, 0.10, 0.10, 0.10, 0.25, 0.4551),
    (False, 100.00, 90.00, 0.10, 0.10, 0.10, 0.35, 10.8479),
    (False, 100.00, 100.00, 0.10, 0.10, 0.10, 0.35, 4.3693),
    (False, 100.00, 110.00, 0.10, 0.10, 0.10, 0.35, 1.2376),
    (False, 100.00, 90.00, 0.10, 0.10, 0.50, 0.15, 10.3192),
    (False, 100.00, 100.00, 0.10, 0.10, 0.50, 0.15, 4.0232),
    (False, 100.00, 110.00, 0.10, 0.10, 0.50, 0.15, 1.0646),
    (False, 100.00, 90.00, 0.10, 0.10, 0.50, 0.25, 12.2149),
    (False, 100.00, 100.00, 0.10, 0.10, 0.50, 0.25, 6.6997),
    (False, 100.00, 110.00, 0.10, 0.10, 0.50, 0.25, 3.2734),
    (False, 100.00, 90.00, 0.10, 0.10, 0.50, 0.35, 14.4452),
    (False, 100.00, 100.00, 0.10, 0.10, 0.50, 0.35, 9.3679),
    (False, 100.00, 110.00, 0.10, 0.10, 0.50, 0.35, 5.7963),
    (True, 40.00, 42.00, 0.08, 0.04, 0.75, 0.35, 5.0975),
]

# Same source (QuantLib EuropeanOptionTest::testGreekValues, Haug pp. 11-16), the rows without
# a dividend yield: gamma and vega (per 1.0 of vol) of K=60, S=55, r=10 %, T=0.75, vol=30 %.
HAUG_GREEKS = [
    ("gamma", True, 60.0, 55.0, 0.10, 0.75, 0.30, 0.0278),
    ("gamma", False, 60.0, 55.0, 0.10, 0.75, 0.30, 0.0278),
    ("vega", True, 60.0, 55.0, 0.10, 0.75, 0.30, 18.9358),
    ("vega", False, 60.0, 55.0, 0.10, 0.75, 0.30, 18.9358),
]


def test_hull_example():
    s, k, r, t, v = HULL
    f = bs.bs_price_greeks(s, k, t, v, r, np.array([True, False]))
    assert np.round(f["price"], 2).tolist() == [4.76, 0.81]
    args = (s * WAD, k * WAD, _tau(t), _wad(str(v)), _wad(str(r)))
    assert round(bs.bs_price_int(*args, True) / WAD, 2) == 4.76
    assert round(bs.bs_price_int(*args, False) / WAD, 2) == 0.81


@pytest.mark.parametrize("row", HAUG_VALUES, ids=lambda r: f"{'C' if r[0] else 'P'}{r[1:7]}")
def test_haug_values(row):
    is_call, k, s, q, r, t, v, value = row
    fwd_spot = Decimal(str(s)) * (-Decimal(str(q)) * Decimal(str(t))).exp()
    f = bs.bs_price_greeks(float(fwd_spot), k, t, v, r, is_call)
    assert abs(float(f["price"]) - value) <= 1e-4
    p = bs.bs_price_int(_wad(fwd_spot), _wad(str(k)), _tau(t), _wad(str(v)), _wad(str(r)), is_call)
    assert abs(p / WAD - value) <= 1e-4


@pytest.mark.parametrize("row", HAUG_GREEKS, ids=lambda r: f"{r[0]}-{'C' if r[1] else 'P'}")
def test_haug_greeks(row):
    name, is_call, k, s, r, t, v, value = row
    f = bs.bs_price_greeks(s, k, t, v, r, is_call)
    assert abs(float(f[name]) - value) <= 1e-4
    g = bs.bs_greeks_int(_wad(str(s)), _wad(str(k)), _tau(t), _wad(str(v)), _wad(str(r)), is_call)
    assert abs(getattr(g, name) / WAD - value) <= 1e-4


# --- against the 50-digit reference --------------------------------------------------------


def _grid() -> list[tuple]:
    spots = [10**12, 1_500 * WAD, 10**30]
    ratios = ["0.2", "0.5", "0.9", "1", "1.1", "2", "5"]
    taus = [3_600, DAY, 7 * DAY, 90 * DAY, bs.YEAR, 2 * bs.YEAR]
    vols = [10**16, 10**17, 6 * 10**17, 2 * WAD, 5 * WAD]
    rates = [0, 5 * 10**16, -WAD, WAD]
    out = []
    for s, m, t, v, r, c in itertools.product(spots, ratios, taus, vols, rates, (True, False)):
        out.append((s, _wad(Decimal(s) * Decimal(m)) // WAD, t, v, r, c))
    return out


def _random(n: int, seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = int(10 ** rng.uniform(12, 30))
        k = min(max(int(s * 10 ** rng.uniform(-0.699, 0.699)), (s + 4) // 5), 5 * s)
        t = int(rng.integers(bs.TAU_MIN, bs.TAU_MAX, endpoint=True))
        v = int(10 ** rng.uniform(16, math.log10(5e18)))
        r = 0 if rng.random() < 0.5 else int(rng.integers(-WAD, WAD, endpoint=True))
        out.append((s, k, t, v, r, bool(rng.random() < 0.5)))
    return out


def _reference(o: tuple) -> dict[str, Decimal]:
    s, k, t, v, r, c = o
    return bs.reference_price_greeks(
        Decimal(s) / WAD,
        Decimal(k) / WAD,
        Decimal(t) / bs.YEAR,
        Decimal(v) / WAD,
        Decimal(r) / WAD,
        c,
    )


def _check_against_reference(o: tuple) -> None:
    g = bs.bs_greeks_int(*o)
    ref = _reference(o)
    s = Decimal(o[0]) / WAD
    if ref["price"] > s * Decimal("1e-6"):
        err = abs(Decimal(g.price) / WAD - ref["price"]) - HALF_WEI
        assert err <= PRICE_REL * ref["price"], o
    assert abs(Decimal(g.delta) / WAD - ref["delta"]) <= HALF_WEI + DELTA_ABS, o
    for name, scale in (("gamma", s), ("vega", 1 / s), ("theta", 1 / s)):
        err = abs(Decimal(getattr(g, name)) / WAD - ref[name]) - HALF_WEI
        assert err <= GREEK_REL * abs(ref[name]) + GREEK_SPOT / scale, (name, o)


@pytest.mark.slow
def test_against_reference_grid():
    """5,040 grid points: spot x strike/spot x tau x vol x rate x call/put, edges included."""
    for o in _grid():
        _check_against_reference(o)


def test_against_reference_random():
    for o in _random(1_000, seed=11):
        _check_against_reference(o)


def test_price_only_equals_greeks_price():
    for o in _random(300, seed=3):
        assert bs.bs_price_int(*o) == bs.bs_greeks_int(*o).price


# --- put-call parity and finite differences ------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_put_call_parity_integer(seed):
    """C - P = S - K e^{-rT} to 2 wei, with the twin's own ray e^{-rT} (exact when r = 0)."""
    for s, k, t, v, r, _ in _random(300, seed):
        call = bs.bs_price_int(s, k, t, v, r, True)
        put = bs.bs_price_int(s, k, t, v, r, False)
        if min(call, put) == 0:
            continue  # a price clamped at 0 cannot carry the identity
        _, _, _, df = bs._d1(s, k, t, v, r)
        forward = s - bs._ray_to_wad(k * df // WAD)
        assert abs((call - put) - forward) <= 2
        if r == 0:
            assert abs((call - put) - (s - k)) <= 2


def test_put_call_parity_float():
    rng = np.random.default_rng(5)
    s = 10 ** rng.uniform(0, 4, 1000)
    k = s * 10 ** rng.uniform(-0.699, 0.699, 1000)
    t, v, r = rng.uniform(0.01, 2, 1000), rng.uniform(0.01, 5, 1000), rng.uniform(-0.1, 0.2, 1000)
    c = bs.bs_price_greeks(s, k, t, v, r, True)["price"]
    p = bs.bs_price_greeks(s, k, t, v, r, False)["price"]
    assert np.all(np.abs((c - p) - (s - k * np.exp(-r * t))) <= 1e-12 * (s + k))


@pytest.mark.parametrize(
    "o",
    [
        (1_500 * WAD, 1_500 * WAD, 30 * DAY, 8 * 10**17, 0, True),
        (1_500 * WAD, 1_800 * WAD, 7 * DAY, 6 * 10**17, 5 * 10**16, False),
        (42 * WAD, 40 * WAD, bs.YEAR // 2, 2 * 10**17, 10**17, True),
        (100 * WAD, 70 * WAD, bs.YEAR, 3 * WAD, -(10**17), False),
    ],
)
def test_greeks_match_finite_differences(o):
    """Central differences of the integer price (bumps large enough that 1 wei is noise)."""
    s, k, t, v, r, c = o
    g = bs.bs_greeks_int(*o)
    price = bs.bs_price_int
    hs = s // 10_000
    delta = (price(s + hs, k, t, v, r, c) - price(s - hs, k, t, v, r, c)) / (2 * hs)
    gamma = (
        (price(s + hs, k, t, v, r, c) - 2 * price(s, k, t, v, r, c) + price(s - hs, k, t, v, r, c))
        / hs**2
        * WAD
    )
    hv = v // 10_000
    vega = (price(s, k, t, v + hv, r, c) - price(s, k, t, v - hv, r, c)) / (2 * hv)
    ht = 60
    theta = (price(s, k, t - ht, v, r, c) - price(s, k, t + ht, v, r, c)) / (2 * ht) * bs.YEAR / WAD
    assert delta == pytest.approx(g.delta / WAD, rel=1e-7, abs=1e-9)
    assert gamma == pytest.approx(g.gamma / WAD, rel=1e-5)
    assert vega == pytest.approx(g.vega / WAD, rel=1e-7)
    assert theta == pytest.approx(g.theta / WAD, rel=1e-5)


# --- float64 engine ----------------------------------------------------------------------------


def test_float_engine_against_reference():
    """float64 with scipy's ndtr: price <= 1e-9 relative (where > 1e-6 spot; cancellation in
    S N(d1) - K N(d2) at small vol sqrt(T) costs digits), delta <= 1e-13, Greeks <= 1e-9."""
    opts = _random(400, seed=17)
    s, k, t, v, r, c = (np.array(col, dtype=object) for col in zip(*opts, strict=True))
    f = bs.bs_price_greeks(
        (s / WAD).astype(float),
        (k / WAD).astype(float),
        (t / bs.YEAR).astype(float),
        (v / WAD).astype(float),
        (r / WAD).astype(float),
        c.astype(bool),
    )
    for i, o in enumerate(opts):
        ref = _reference(o)
        sp = float(Decimal(o[0]) / WAD)
        if float(ref["price"]) > 1e-6 * sp:
            assert f["price"][i] == pytest.approx(float(ref["price"]), rel=1e-9)
        assert abs(f["delta"][i] - float(ref["delta"])) <= 1e-13
        for name, scale in (("gamma", sp), ("vega", 1 / sp), ("theta", 1 / sp)):
            assert abs(f[name][i] - float(ref[name])) <= 1e-9 * abs(float(ref[name])) + 1e-15 / (
                scale
            ), (name, o)


def test_float_engine_broadcasts():
    spot = np.linspace(80, 120, 5)[:, None]  # (5, 1)
    vol = np.array([0.2, 0.5, 1.0])  # (3,)
    out = bs.bs_price_greeks(spot, 100.0, 0.25, vol, 0.01, is_call=False)
    assert set(out) >= {"price", "delta", "gamma", "vega", "theta"}
    for arr in out.values():
        assert arr.shape == (5, 3)
    assert np.all(out["delta"] < 0) and np.all(out["gamma"] > 0) and np.all(out["vega"] > 0)


# --- primitives ------------------------------------------------------------------------------


def test_primitives_exact_points():
    assert bs.ln_wad(WAD) == 0
    assert bs.exp_wad(0) == WAD
    assert bs.ncdf_wad(0) == WAD // 2
    assert bs.npdf_wad(0) == 398942280401432678
    assert bs.sqrt_wad(4 * WAD) == 2 * WAD
    assert bs.ncdf_wad(-12 * WAD) == 0 and bs.ncdf_wad(12 * WAD) == WAD


def test_primitives_against_reference():
    rng = np.random.default_rng(23)
    for x in (int(10 ** rng.uniform(0, 47)) for _ in range(300)):
        ref = (Decimal(x) / WAD).ln()
        assert abs(Decimal(bs.ln_wad(x)) / WAD - ref) <= HALF_WEI + Decimal("1e-23")
    for x in (int(rng.uniform(-60, 100) * WAD) for _ in range(300)):
        ref = (Decimal(x) / WAD).exp()
        assert abs(Decimal(bs.exp_wad(x)) / WAD - ref) <= HALF_WEI + ref * Decimal("1e-22")
    for x in (int(rng.uniform(-13, 13) * WAD) for _ in range(300)):
        ref = bs.reference_ncdf(Decimal(x) / WAD)
        assert abs(Decimal(bs.ncdf_wad(x)) / WAD - ref) <= HALF_WEI + Decimal("1e-19")
        xd = Decimal(x) / WAD
        ref_pdf = (-xd * xd / 2).exp() / (2 * bs._PI).sqrt()
        assert abs(Decimal(bs.npdf_wad(x)) / WAD - ref_pdf) <= HALF_WEI + Decimal("1e-22")


def test_ncdf_symmetry_exact():
    """N(x) + N(-x) = 1 exactly in ray: region 1 truncates toward zero, the tails share one
    value, so put and call prices obey parity to the wei."""
    rng = np.random.default_rng(29)
    for x in (int(rng.uniform(-13, 13) * bs.RAY) for _ in range(2000)):
        assert bs._ncdf_ray(x, False)[0] + bs._ncdf_ray(-x, False)[0] == bs.RAY


@pytest.mark.parametrize(
    "fn,arg,reason",
    [
        (bs.ln_wad, 0, "bs: ln of zero"),
        (bs.ln_wad, 2**160, "bs: ln input too large"),
        (bs.exp_wad, 100 * WAD + 1, "bs: exp overflow"),
        (bs.sqrt_wad, 2**196, "bs: sqrt input too large"),
        (bs.ncdf_wad, 10**30 + 1, "bs: cdf input out of range"),
        (bs.npdf_wad, -(10**30) - 1, "bs: cdf input out of range"),
    ],
)
def test_primitive_reverts(fn, arg, reason):
    with pytest.raises(Revert, match=reason):
        fn(arg)


@pytest.mark.parametrize(
    "index,value,reason",
    [
        (0, 10**12 - 1, "bs: spot out of range"),
        (1, 500 * WAD + 1, "bs: strike out of range"),
        (2, 3_599, "bs: time out of range"),
        (3, 5 * WAD + 1, "bs: vol out of range"),
        (4, -WAD - 1, "bs: rate out of range"),
    ],
)
def test_domain_reverts(index, value, reason):
    args = [100 * WAD, 100 * WAD, 30 * DAY, WAD // 2, 0, True]
    args[index] = value
    with pytest.raises(Revert, match=reason):
        bs.bs_greeks_int(*args)

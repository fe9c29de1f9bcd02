"""sim.stats: exact small cases, then each standard error against what it claims to measure."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from sim.stats import CVAR_ALPHA, cvar, cvar_se, finite, mean_se, std_se, summarise_worlds

K = 4.0
"""Statistical checks pass within K standard errors of the check's own Monte Carlo error (those
standard errors come from `sim.stats` too, whose formulas the exact cases pin down)."""


def test_mean_and_its_standard_error_on_four_numbers():
    # s² = (1.5² + 0.5² + 0.5² + 1.5²) / 3 = 5/3, SE = s / √4.
    assert mean_se([1.0, 2.0, 3.0, 4.0]) == pytest.approx((2.5, math.sqrt(5 / 3) / 2), rel=1e-15)


@pytest.mark.parametrize(
    "x, want",
    [([], (math.nan, math.nan)), ([7.0], (7.0, math.nan))],
    ids=["no samples", "one sample"],
)
def test_what_is_not_defined_is_nan(x, want):
    assert mean_se(x) == pytest.approx(want, nan_ok=True)
    assert std_se(x) == pytest.approx((math.nan, math.nan), nan_ok=True)
    if not x:
        assert cvar_se(x) == pytest.approx((math.nan, math.nan), nan_ok=True)
    else:
        assert cvar_se(x) == pytest.approx((7.0, math.nan), nan_ok=True)


def test_worlds_without_a_value_are_left_out_and_not_counted():
    assert finite([1.0, math.nan, 3.0, math.inf, -math.inf]).tolist() == [1.0, 3.0]
    # Two worlds left, 1 and 3: mean 2, s = √2, SE = √2 / √2.
    assert summarise_worlds([1.0, math.nan, 3.0, math.inf]) == pytest.approx(
        {"mean": 2.0, "se": 1.0, "n": 2}, rel=1e-15
    )
    assert summarise_worlds([math.nan])["n"] == 0


def test_standard_deviation_and_both_of_its_standard_errors():
    # x = 0, 0, 0, 4: mean 1, s² = (1 + 1 + 1 + 9) / 3 = 4, m₄ = (1 + 1 + 1 + 81) / 4 = 21.
    x = [0.0, 0.0, 0.0, 4.0]
    assert std_se(x) == pytest.approx((2.0, math.sqrt((21 - 16) / 4) / (2 * 2)), rel=1e-15)
    assert std_se(x, normal=True) == pytest.approx((2.0, 2.0 / math.sqrt(6)), rel=1e-15)
    assert std_se([3.0, 3.0, 3.0]) == (0.0, 0.0)  # a constant sample: no spread, no error


def test_cvar_is_the_mean_of_the_worst_fraction():
    # 0..99 at α = 5 %: q = 0.05 · 99 = 4.95, CVaR = mean of 0, 1, 2, 3, 4 = 2.
    x = np.arange(100.0)
    value, se = cvar_se(x, 0.05)
    assert value == pytest.approx(2.0, rel=1e-12)
    tail = np.minimum(x - 4.95, 0.0)
    sd = math.sqrt((np.sum(tail**2) - 100 * tail.mean() ** 2) / 99)
    assert se == pytest.approx(sd / (0.05 * math.sqrt(100)), rel=1e-12)


def test_vectorised_cvar_is_the_same_number_row_by_row():
    x = np.random.default_rng(3).standard_t(3, size=(5, 7, 333))
    got = cvar(x)
    assert got.shape == (5, 7)
    for i, j in np.ndindex(5, 7):
        assert got[i, j] == cvar_se(x[i, j])[0]  # bit for bit


@pytest.mark.statistical
@pytest.mark.parametrize("dist", ["normal", "student_t5"])
def test_cvar_standard_error_matches_the_bootstrap(dist):
    """Hong and Liu's SE against the bootstrap's (the spread of the CVaR over B resamples),
    within K SEs of the bootstrap's own estimate."""
    rng = np.random.default_rng(11)
    n, b = 20_000, 1_000
    x = rng.standard_normal(n) if dist == "normal" else rng.standard_t(5, n)
    _, se = cvar_se(x)
    boot, boot_se = std_se(cvar(x[rng.integers(0, n, size=(b, n))]))
    assert abs(se - boot) <= K * boot_se


@pytest.mark.statistical
def test_cvar_intervals_cover_the_true_value_at_their_level():
    """±1.96 SE intervals around the CVaR of N(0, 1) samples cover its true value,
    −φ(z_α) / α, in 95 % of R samples, within K binomial SEs."""
    rng = np.random.default_rng(7)
    r, n = 2_000, 2_000
    true = -norm.pdf(norm.ppf(CVAR_ALPHA)) / CVAR_ALPHA
    covered = 0
    for row in rng.standard_normal((r, n)):
        value, se = cvar_se(row)
        covered += abs(value - true) <= norm.ppf(0.975) * se
    assert abs(covered / r - 0.95) <= K * math.sqrt(0.95 * 0.05 / r)


@pytest.mark.statistical
@pytest.mark.parametrize("stat", [mean_se, std_se, cvar_se], ids=["mean", "std", "cvar"])
def test_standard_errors_match_replication(stat):
    """Each SE, averaged over R independent fat-tailed samples (Student t with 5 degrees of
    freedom), against the spread of its estimate over them, within K SEs of their difference."""
    rng = np.random.default_rng(42)
    reps, n = 400, 1000
    x = rng.standard_t(5, size=(reps, n)) * 100.0
    est, ses = zip(*(stat(row) for row in x), strict=True)
    spread, spread_se = std_se(est)
    mean, mean_err = mean_se(ses)
    assert abs(mean - spread) <= K * math.hypot(spread_se, mean_err)


@pytest.mark.statistical
def test_the_normal_theory_standard_error_understates_fat_tails():
    """Why `std_se` defaults to the delta method: for Student t(5) (kurtosis 9) the normal
    theory SE falls short of the spread of the estimate by more than K SEs."""
    rng = np.random.default_rng(5)
    reps, n = 400, 1000
    x = rng.standard_t(5, size=(reps, n))
    est, ses = zip(*(std_se(row, normal=True) for row in x), strict=True)
    spread, spread_se = std_se(est)
    mean, mean_err = mean_se(ses)
    assert spread - mean > K * math.hypot(spread_se, mean_err)

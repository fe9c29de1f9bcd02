"""Estimates over independent samples (worlds, paths) with their standard errors: the one place.

Every mean ± SE, standard deviation ± SE and CVaR ± SE the simulator reports comes from here
(the engine's summary, the keeper agent's cross-world statistics, the arbitrage study, the
report, the learned-hedging evaluation, the forecaster's grouped R² error). For n samples x_i
with sample mean x̄ and sample standard deviation s (ddof = 1):

    mean      x̄,                                 SE  s / √n
    std       s,                                 SE  √((m₄ − s⁴) / n) / (2 s)  (delta method on
                                                     s², m₄ the fourth central moment: valid
                                                     for fat tails), or s / √(2 (n − 1)) under
                                                     normality (`std_se(normal=True)`)
    CVaR_α    q + E[min(X − q, 0)] / α,          SE  sd(min(X − q, 0)) / (α √n)
              (the mean of the worst fraction α of X, q its α-quantile; Hong and Liu 2009,
              "Simulating sensitivities of conditional value at risk", the asymptotic variance
              of this estimator)

A standard error is NaN where it is not defined (fewer than two samples); an estimate is NaN
on no samples. The functions take the sample as given; `finite` drops the worlds that have no
value (NaN) first where a caller's convention says so.

Why written here rather than taken from SciPy: `scipy.stats.sem` is the mean's SE alone (the
same s / √n); SciPy has no CVaR, nor its SE, nor the delta-method SE of a standard deviation.
Keeping the three on one numpy basis keeps every reported number the same to the bit whichever
caller computes it, and the engine's import free of `scipy.stats`.
"""

from __future__ import annotations

import math

import numpy as np

CVAR_ALPHA = 0.05
"""The reported CVaR's tail fraction (CVaR 95 %: the mean of the worst 5 %)."""


def finite(x) -> np.ndarray:
    """x as a flat float64 array without its NaN and ±inf entries (worlds with no value)."""
    v = np.asarray(x, dtype=np.float64).ravel()
    return v[np.isfinite(v)]


def mean_se(x) -> tuple[float, float]:
    """(x̄, s / √n) of the samples x (n,)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    mean = float(x.mean()) if n else math.nan
    se = float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return mean, se


def summarise_worlds(x) -> dict[str, float | int]:
    """{"mean", "se", "n"} of the finite entries of x: mean ± SE over the worlds that have a
    value (NaN worlds left out; `n` counts the others)."""
    v = finite(x)
    mean, se = mean_se(v)
    return {"mean": mean, "se": se, "n": int(v.size)}


def std_se(x, *, normal: bool = False) -> tuple[float, float]:
    """(s, SE of s) of the samples x (n,), s the sample standard deviation (ddof = 1).

    The SE is the delta method's √((m₄ − s⁴) / n) / (2 s), valid whatever the tails (0 when
    s = 0); with `normal`, s / √(2 (n − 1)), exact to first order for normal samples only
    (it understates the error of fat-tailed samples: for Student t with 5 degrees of freedom
    by about half).
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n < 2:
        return (math.nan, math.nan)
    s = float(x.std(ddof=1))
    if normal:
        return s, s / math.sqrt(2 * (n - 1))
    if s == 0:
        return s, 0.0
    m4 = float(np.mean((x - x.mean()) ** 4))
    return s, math.sqrt(max(m4 - s**4, 0.0) / n) / (2.0 * s)


def _quantile_tail(x: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """q, the α-quantile over the last axis of x (numpy's linear interpolation), shape
    (..., 1), and min(x − q, 0), shape (..., n)."""
    q = np.quantile(x, alpha, axis=-1, keepdims=True)
    return q, np.minimum(x - q, 0.0)


def cvar(x, alpha: float = CVAR_ALPHA):
    """CVaR_α over the last axis of x (..., n): q + E[min(x − q, 0)] / α, the mean of the worst
    fraction α of x, q its α-quantile. Shape (...,); vectorised for bootstrap replicates."""
    q, tail = _quantile_tail(np.asarray(x, dtype=np.float64), alpha)
    return q[..., 0] + tail.mean(axis=-1) / alpha


def cvar_se(x, alpha: float = CVAR_ALPHA) -> tuple[float, float]:
    """(CVaR_α, its SE sd(min(x − q, 0)) / (α √n)) of the samples x (n,) (Hong and Liu 2009)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n == 0:
        return (math.nan, math.nan)
    q, tail = _quantile_tail(x, alpha)
    value = float(q[0]) + float(tail.mean()) / alpha
    se = float(tail.std(ddof=1)) / (alpha * math.sqrt(n)) if n > 1 else math.nan
    return value, se

"""Volatility forecasting from simulated paths, and the band scale a forecast implies.

Features at step k use returns up to k only (no look-ahead):
    rv_short, rv_mid, rv_long   realised vol over the last 6, 36 and 144 steps, annualised
    bv_long                     bipower variation vol over 144 steps (jump-robust), annualised
    jump_share                  max(rv_long² − bv_long², 0) / rv_long²: share of variance from jumps
    max_abs_ret                 largest |log return| over the last 36 steps, in units of rv_long
    flow                        arbitrage flow of a constant-product pool with fee f (its price
                                held inside the fee band around spot, starting at spot 36 steps
                                back), annualised, 36 steps
Every feature depends on the last LOOKBACK grid prices only, so a keeper that keeps that many
(`sim.learn.features`) computes exactly what training computed on the whole path.
Target: realised vol over the next `horizon` steps, annualised.
Naive baseline: the realised vol over the last `horizon` steps.

The model is scikit-learn's HistGradientBoostingRegressor; R² is reported out of sample on
held-out seeds, for both the model and the baseline, whatever the outcome.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.learn.config import LearnConfig
from sim.learn.paths import realised_vol, simulate_market
from sim.processes import YEAR

FEATURES = ["rv_short", "rv_mid", "rv_long", "bv_long", "jump_share", "max_abs_ret", "flow"]
LONG, MID, SHORT = 144, 36, 6
LOOKBACK = LONG + 2
"""Grid prices `vol_features` reads at a step: LONG + 1 returns (bipower pairs need one more)."""


def band_scale(
    forecast_vol: np.ndarray | float,
    implied_vol: np.ndarray | float,
    power: float = 1.0,
    lo: float = 0.5,
    hi: float = 3.0,
) -> np.ndarray:
    """Multiplier of a no-trade band from a volatility forecast: clip((σ_f / σ_imp)^p, lo, hi).

    With p = 1 the band grows with the forecast volatility so that the expected number of band
    crossings per unit time, ∝ (Γ S σ / H)², stays what it is at the implied vol: a keeper widens
    its band before a volatile spell instead of paying for more trades. A heuristic, not an
    optimum; `sim.learn.evaluate` measures it. Shapes broadcast.
    """
    ratio = np.asarray(forecast_vol, float) / np.asarray(implied_vol, float)
    return np.clip(np.power(np.maximum(ratio, 0.0), power), lo, hi)


def _window_sum(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Causal sums of the last min(k, w) entries of x (N, T) at k = 0..T, and counts."""
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)
    k = np.arange(x.shape[1] + 1)
    lo = np.maximum(k - w, 0)
    return c[:, k] - c[:, lo], k - lo


def pool_flow(spot: np.ndarray, fee: float, window: int = MID) -> np.ndarray:
    """Mean per-step |change| of a constant-product pool's log price kept by arbitrage inside
    the fee band [ln S − γ, ln S + γ], γ = −ln(1 − f), over the last m = min(k, window) steps
    at step k, the pool starting at spot m steps back (so step k reads m + 1 prices only);
    0 at k = 0. Shape (N, T + 1) -> (N, T + 1)."""
    gamma = -math.log(1.0 - fee)
    ls = np.log(spot)
    k = np.arange(spot.shape[1])
    lo = np.maximum(k - window, 0)
    p = ls[:, lo]
    total = np.zeros_like(ls)
    for i in range(1, window + 1):
        # All steps at once: the i-th move of each step's window (none past the step itself).
        at = np.minimum(lo + i, k)
        q = np.clip(p, ls[:, at] - gamma, ls[:, at] + gamma)
        total += np.abs(q - p)
        p = q
    return total / np.maximum(k - lo, 1)


def vol_features(
    spot: np.ndarray, dt: float, fee: float = 0.003, default: float = 0.8
) -> np.ndarray:
    """Forecaster inputs at every step, (N, T + 1, len(FEATURES)); see the module docstring."""
    r = np.diff(np.log(spot), axis=1)
    ann = YEAR / dt
    cols = {}
    for name, w in (("rv_short", SHORT), ("rv_mid", MID), ("rv_long", LONG)):
        cols[name] = realised_vol(spot, dt, w, default)
    a = np.abs(r)
    bp = np.zeros_like(a)
    bp[:, 1:] = a[:, 1:] * a[:, :-1]
    s, m = _window_sum(bp, LONG)
    with np.errstate(invalid="ignore", divide="ignore"):
        bv = np.sqrt(np.maximum(s, 0.0) * (math.pi / 2) / np.maximum(m, 1) * ann)
    cols["bv_long"] = np.where(m > 1, bv, default)
    rv2 = cols["rv_long"] ** 2
    cols["jump_share"] = np.maximum(rv2 - cols["bv_long"] ** 2, 0.0) / np.maximum(rv2, 1e-12)
    mx = np.zeros_like(spot)
    for k in range(1, spot.shape[1]):
        mx[:, k] = a[:, max(k - MID, 0) : k].max(axis=1)
    cols["max_abs_ret"] = mx / (np.maximum(cols["rv_long"], 1e-6) * math.sqrt(dt / YEAR))
    cols["flow"] = pool_flow(spot, fee, MID) * ann
    return np.stack([cols[n] for n in FEATURES], axis=-1)


def future_vol(spot: np.ndarray, dt: float, horizon: int) -> np.ndarray:
    """Realised vol over steps k..k+horizon, annualised, (N, T + 1 − horizon)."""
    r2 = np.diff(np.log(spot), axis=1) ** 2
    c = np.concatenate([np.zeros((spot.shape[0], 1)), np.cumsum(r2, axis=1)], axis=1)
    n = spot.shape[1] - horizon
    return np.sqrt((c[:, horizon : horizon + n] - c[:, :n]) / (horizon * dt / YEAR))


@dataclass
class Dataset:
    X: np.ndarray
    y: np.ndarray
    naive: np.ndarray
    market: np.ndarray


def make_dataset(
    cfg: LearnConfig,
    markets: list[str],
    n_paths: int,
    seed: int,
    horizon: int = 36,
    stride: int = 6,
) -> Dataset:
    """Samples (features at k, future vol over the next `horizon` steps) every `stride` steps
    from k = horizon on (so the baseline has a full window), over `n_paths` per market."""
    xs, ys, nv, mk = [], [], [], []
    fee = cfg.venue.fee_bps / 1e4
    iv = float(np.mean([o.iv for o in cfg.options]))
    for name in markets:
        mp = simulate_market(cfg, cfg.market(name), n_paths, seed)
        feats = vol_features(mp.spot, cfg.grid.dt, fee, iv)
        fut = future_vol(mp.spot, cfg.grid.dt, horizon)
        last = realised_vol(mp.spot, cfg.grid.dt, horizon, iv)
        ks = np.arange(horizon, fut.shape[1], stride)
        xs.append(feats[:, ks].reshape(-1, len(FEATURES)))
        ys.append(fut[:, ks].ravel())
        nv.append(last[:, ks].ravel())
        mk.append(np.full(ys[-1].size, name))
    return Dataset(np.concatenate(xs), np.concatenate(ys), np.concatenate(nv), np.concatenate(mk))


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    return float(1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


def r2_se(y: np.ndarray, pred: np.ndarray, groups: int = 20) -> float:
    """Standard error of R² from `groups` contiguous blocks (blocks follow paths, so samples
    of one path stay together)."""
    idx = np.array_split(np.arange(y.size), groups)
    vals = [r2(y[i], pred[i]) for i in idx]
    return float(np.std(vals, ddof=1) / math.sqrt(groups))


@dataclass
class Forecaster:
    """A fitted volatility forecaster and its out-of-sample report."""

    model: object
    horizon: int
    dt: float
    fee: float
    iv: float
    report: dict

    def predict(self, feats: np.ndarray) -> np.ndarray:
        """Forecast vol from features (..., len(FEATURES))."""
        f = np.asarray(feats, float)
        return self.model.predict(f.reshape(-1, f.shape[-1])).reshape(f.shape[:-1])

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(pickle.dumps(self))
        return p

    @staticmethod
    def load(path: str | Path) -> Forecaster:
        # A pickle: load only forecasters you trained yourself.
        return pickle.loads(Path(path).read_bytes())


_CACHE: dict[tuple[str, int], Forecaster] = {}


def load_cached(path: str | Path) -> Forecaster:
    p = Path(path).resolve()
    key = (str(p), p.stat().st_mtime_ns)
    if key not in _CACHE:
        _CACHE[key] = Forecaster.load(p)
    return _CACHE[key]


def fit_forecaster(
    cfg: LearnConfig,
    seed: int,
    n_paths: int = 200,
    horizon: int = 36,
    markets: list[str] | None = None,
    test_seed: int | None = None,
) -> Forecaster:
    """Fit on `seed`'s paths, report R² (model and naive, with block SEs) on `test_seed`'s."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    markets = markets or [m.name for m in cfg.markets]
    train = make_dataset(cfg, markets, n_paths, seed, horizon)
    test = make_dataset(
        cfg, markets, n_paths, test_seed if test_seed is not None else seed + 7919, horizon
    )
    model = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.1, random_state=seed)
    model.fit(train.X, train.y)
    pred = model.predict(test.X)
    report = {
        "horizon_steps": horizon,
        "n_train": int(train.y.size),
        "n_test": int(test.y.size),
        "r2_model": r2(test.y, pred),
        "r2_model_se": r2_se(test.y, pred),
        "r2_naive": r2(test.y, test.naive),
        "r2_naive_se": r2_se(test.y, test.naive),
        "by_market": {},
    }
    for name in markets:
        i = test.market == name
        report["by_market"][name] = {
            "r2_model": r2(test.y[i], pred[i]),
            "r2_naive": r2(test.y[i], test.naive[i]),
        }
    d = report["r2_model"] - report["r2_naive"]
    se = math.hypot(report["r2_model_se"], report["r2_naive_se"])
    report["verdict"] = (
        f"forecaster {'beats' if d > 2 * se else 'does not beat' if d > -2 * se else 'is worse than'} "
        f"the naive last-realised-vol baseline: R² {report['r2_model']:.3f} vs "
        f"{report['r2_naive']:.3f} (difference {d:+.3f} ± {se:.3f})"
    )
    iv = float(np.mean([o.iv for o in cfg.options]))
    return Forecaster(model, horizon, cfg.grid.dt, cfg.venue.fee_bps / 1e4, iv, report)

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

The forecaster file (`FORMAT`) is one JSON document: the settings, the report and the fitted
trees as plain arrays, read back into `BoostedTrees`, which predicts bit for bit what the
fitted estimator predicts (`fit_forecaster` checks it on the test set before returning). Plain
data rather than pickle, because unpickling a file runs whatever code it names; and rather than
skops, because skops would still rebuild scikit-learn's private objects (a list of trusted types
to keep in step with each scikit-learn release) and add a dependency, while a gradient-boosted
regressor is only a constant plus a sum of trees: as arrays it loads without scikit-learn and
predicts in a numba kernel, like the band model's numpy inference. A file that is not in
`FORMAT` (a pickle of the old format included) is refused in one line, never unpickled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

from sim.atomic import atomic_write_text
from sim.errors import ConfigError, SimError
from sim.learn.config import LearnConfig
from sim.learn.paths import realised_vol, simulate_market
from sim.processes import YEAR
from sim.stats import mean_se

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
    return mean_se([r2(y[i], pred[i]) for i in idx])[1]


FORMAT = "ammlab.learn.forecaster/1"


class ForecasterFileError(ConfigError):
    """A forecaster file is missing, unreadable or not in `FORMAT`."""


@njit(cache=True, nogil=True)
def _predict_trees(x, baseline, roots, feature, threshold, missing_left, left, right, value, out):
    for i in range(x.shape[0]):
        # scikit-learn's order of float additions: zeros, + baseline, + each tree in turn.
        acc = 0.0
        acc += baseline
        for t in range(roots.size):
            node = roots[t]
            while left[node] >= 0:
                v = x[i, feature[node]]
                if math.isnan(v):
                    node = left[node] if missing_left[node] else right[node]
                elif v <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            acc += value[node]
        out[i] = acc


_TREE_ARRAYS = {  # a tree's arrays in the file: (numpy kinds its JSON list may parse to, what)
    "feature": ("i", "integers"),
    "threshold": ("if", "numbers"),
    "missing_left": ("b", "booleans"),
    "left": ("i", "integers"),
    "right": ("i", "integers"),
    "value": ("if", "numbers"),
}


@dataclass(frozen=True)
class BoostedTrees:
    """Gradient-boosted regression trees: prediction = baseline + Σ_t tree_t(x).

    A split sends x to the left child when x[feature] <= threshold, a missing (NaN) x[feature]
    to the side `missing_left` says; a leaf's `value` is the tree's output. The nodes of every
    tree lie in flat arrays (n_nodes,), tree t's from `roots[t]`; `left`/`right` index those
    arrays, −1 at a leaf, and a child always comes after its parent (so a walk ends).
    """

    baseline: float
    n_features: int
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    @classmethod
    def from_sklearn(cls, model) -> BoostedTrees:
        """The trees of a fitted HistGradientBoostingRegressor (squared error, numeric features).

        scikit-learn has no public accessor for them: this reads the private `_predictors` and
        `_baseline_prediction`, which is why `fit_forecaster` compares the predictions.
        """
        if model.loss != "squared_error" or model.is_categorical_ is not None:
            raise ValueError("only a squared-error regressor on numeric features is supported")
        trees = []
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            leaf = nodes["is_leaf"].astype(bool)
            trees.append(
                {
                    "feature": nodes["feature_idx"],
                    "threshold": nodes["num_threshold"],
                    "missing_left": nodes["missing_go_to_left"].astype(bool),
                    "left": np.where(leaf, -1, nodes["left"]),
                    "right": np.where(leaf, -1, nodes["right"]),
                    "value": nodes["value"],
                }
            )
        return cls._from_trees(float(model._baseline_prediction[0, 0]), model.n_features_in_, trees)

    @classmethod
    def _from_trees(cls, baseline: float, n_features: int, trees: list[dict]) -> BoostedTrees:
        sizes = [len(t["left"]) for t in trees]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)

        def flat(name: str, dtype, shift: bool = False) -> np.ndarray:
            parts = [np.asarray(t[name], dtype) for t in trees]
            if shift:  # tree-local child indices to flat ones; leaves stay −1
                parts = [np.where(p >= 0, p + s, -1) for p, s in zip(parts, starts, strict=True)]
            return np.ascontiguousarray(np.concatenate(parts), dtype)

        return cls(
            baseline=baseline,
            n_features=n_features,
            roots=starts,
            feature=flat("feature", np.intp),
            threshold=flat("threshold", np.float64),
            missing_left=flat("missing_left", np.bool_),
            left=flat("left", np.intp, shift=True),
            right=flat("right", np.intp, shift=True),
            value=flat("value", np.float64),
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions (N,) from X (N, n_features)."""
        x = np.ascontiguousarray(X, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"X has shape {x.shape}, expected (N, {self.n_features})")
        out = np.empty(x.shape[0])
        _predict_trees(
            x, self.baseline, self.roots, self.feature, self.threshold, self.missing_left,
            self.left, self.right, self.value, out,
        )  # fmt: skip
        return out

    def to_dict(self) -> dict:
        ends = [*self.roots[1:], self.left.size]
        trees = []
        for start, end in zip(self.roots, ends, strict=True):
            sl = slice(start, end)
            trees.append(
                {
                    "feature": self.feature[sl].tolist(),
                    "threshold": self.threshold[sl].tolist(),
                    "missing_left": self.missing_left[sl].tolist(),
                    "left": np.where(self.left[sl] >= 0, self.left[sl] - start, -1).tolist(),
                    "right": np.where(self.right[sl] >= 0, self.right[sl] - start, -1).tolist(),
                    "value": self.value[sl].tolist(),
                }
            )
        return {"baseline": self.baseline, "trees": trees}

    @classmethod
    def from_dict(cls, d: dict, n_features: int) -> BoostedTrees:
        """Trees from `to_dict`'s form, checked so that a walk can neither leave the arrays nor
        loop. Raises ValueError saying what is wrong."""
        baseline = d["baseline"]
        if type(baseline) not in (int, float) or not math.isfinite(baseline):
            raise ValueError("baseline is not a finite number")
        if not isinstance(d["trees"], list) or not d["trees"]:
            raise ValueError("trees is not a non-empty list")
        trees = []
        for k, tree in enumerate(d["trees"]):
            arrays = {}
            for name, (kinds, what) in _TREE_ARRAYS.items():
                a = np.asarray(tree[name])
                if a.ndim != 1 or a.size == 0 or a.dtype.kind not in kinds:
                    raise ValueError(f"tree {k}: {name} is not a list of {what}")
                arrays[name] = a
            n = arrays["left"].size
            if any(a.size != n for a in arrays.values()):
                raise ValueError(f"tree {k}: its arrays differ in length")
            left, right, i = arrays["left"], arrays["right"], np.arange(n)
            leaf = left == -1
            inner = ~leaf
            if (
                np.any(leaf != (right == -1))
                or np.any((left[inner] <= i[inner]) | (left[inner] >= n))
                or np.any((right[inner] <= i[inner]) | (right[inner] >= n))
                or np.any((arrays["feature"][inner] < 0) | (arrays["feature"][inner] >= n_features))
                or np.any(np.isnan(arrays["threshold"][inner]))
                or not np.all(np.isfinite(arrays["value"][leaf]))
            ):
                raise ValueError(f"tree {k}: not a tree of the {n_features} features")
            trees.append(arrays)
        return cls._from_trees(float(baseline), n_features, trees)


@dataclass
class Forecaster:
    """A fitted volatility forecaster and its out-of-sample report."""

    model: BoostedTrees
    horizon: int
    dt: float
    fee: float
    iv: float
    report: dict

    def predict(self, feats: np.ndarray) -> np.ndarray:
        """Forecast vol from features (..., len(FEATURES))."""
        f = np.asarray(feats, float)
        return self.model.predict(f.reshape(-1, f.shape[-1])).reshape(f.shape[:-1])

    def to_json(self) -> str:
        doc = {
            "format": FORMAT,
            "features": FEATURES,
            "horizon": self.horizon,
            "dt": self.dt,
            "fee": self.fee,
            "iv": self.iv,
            "report": self.report,
            "model": self.model.to_dict(),
        }
        # Python's float repr round-trips exactly; a split that sends only missing values right
        # has threshold Infinity, which Python's json writes and reads.
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))

    def save(self, path: str | Path) -> Path:
        return atomic_write_text(path, self.to_json())

    @classmethod
    def from_json(cls, data: bytes, where: str = "forecaster") -> Forecaster:
        """Parse a forecaster file's bytes; ForecasterFileError, in one line, when they are not
        `FORMAT`. Never unpickles: the old pickle files are refused like any other bytes."""
        redo = f"refit it with `ammlab learn forecast CONFIG --out {where}`"
        try:
            d = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            # Protocol 2+ pickles start with PROTO (0x80): name the old format to explain why.
            what = "a pickle (the old format, not loaded: unpickling runs code)"
            if not data.startswith(b"\x80"):
                what = f"not JSON ({err})"
            raise ForecasterFileError(f"forecaster {where}: {what}; {redo}") from err
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            found = d.get("format") if isinstance(d, dict) else None
            raise ForecasterFileError(
                f"forecaster {where}: format {found!r}, this ammlab reads {FORMAT!r}; {redo}"
            )
        if d.get("features") != FEATURES:
            raise ForecasterFileError(
                f"forecaster {where}: fitted on features {d.get('features')}, this ammlab "
                f"computes {FEATURES}; {redo}"
            )
        try:
            horizon = d["horizon"]
            if not isinstance(horizon, int) or horizon < 1 or not isinstance(d["report"], dict):
                raise ValueError("horizon or report is not valid")
            return cls(
                model=BoostedTrees.from_dict(d["model"], len(FEATURES)),
                horizon=horizon,
                dt=float(d["dt"]),
                fee=float(d["fee"]),
                iv=float(d["iv"]),
                report=d["report"],
            )
        except KeyError as err:
            raise ForecasterFileError(f"forecaster {where}: no {err} in it; {redo}") from err
        except (TypeError, ValueError) as err:
            raise ForecasterFileError(f"forecaster {where}: {err}; {redo}") from err

    @classmethod
    def load(cls, path: str | Path) -> Forecaster:
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as err:
            raise ForecasterFileError(f"forecaster {p}: cannot read it ({err})") from err
        return cls.from_json(data, str(p))


_CACHE: dict[tuple[str, int, int], Forecaster] = {}


def load_cached(path: str | Path) -> Forecaster:
    """`Forecaster.load`, memoised on (resolved path, mtime, size): a policy predicts every
    block and must not re-read the file."""
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError as err:
        raise ForecasterFileError(f"forecaster {p}: cannot read it ({err})") from err
    key = (str(p), st.st_mtime_ns, st.st_size)
    if key not in _CACHE:
        _CACHE[key] = Forecaster.load(p)
    return _CACHE[key]


def check_grid(cfg: LearnConfig, horizon: int = 36) -> None:
    """Raise ConfigError unless the config's grid holds a `horizon`-step window behind and
    ahead of a sample (what the forecaster learns from)."""
    if cfg.grid.n_steps <= 2 * horizon:
        raise ConfigError(
            f"grid: {cfg.grid.n_steps} steps of {cfg.grid.dt:g} s are too few for the "
            f"forecaster, which needs more than {2 * horizon} (a {horizon}-step window behind "
            "and ahead of each sample): lengthen grid.horizon, or leave the forecaster out "
            "(--no-forecaster)"
        )


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
    check_grid(cfg, horizon)
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
    trees = BoostedTrees.from_sklearn(model)
    if trees.predict(test.X).tobytes() != pred.tobytes():
        raise SimError(
            "forecaster: its trees as plain data do not predict what scikit-learn's estimator "
            "does (has its internal layout changed?); use the scikit-learn in requirements.lock"
        )
    iv = float(np.mean([o.iv for o in cfg.options]))
    return Forecaster(trees, horizon, cfg.grid.dt, cfg.venue.fee_bps / 1e4, iv, report)

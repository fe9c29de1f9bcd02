"""The extra state of a learned policy, from a price history: one definition for training,
evaluation, the simulator's keeper agent and the chain keeper.

`features_along` maps spot prices on the model's grid (a price every `dt` seconds) to the
features a `sim.learn.policy.Learned` policy takes beyond `HedgeInputs`, at every grid step:

    realised_vol   realised vol over the last `rv_window` steps (`sim.learn.paths`)
    flow           arbitrage flow of the venue's pool (`sim.learn.forecast`); only for models
                   trained with it. It is computed from the spot history, as in training, where
                   the pool moves only by arbitrage: a chain pool's own reserves also move with
                   noise traders' orders, a flow the network never saw.
    vol_features   the forecaster's inputs (`sim.learn.forecast.FEATURES`), when asked

Training and evaluation call it on whole simulated paths. A keeper sees prices as they come:
`LearnedFeatures` keeps the grid history (the price at each grid time origin + j·dt is the last
observation at or before it) for the last `lookback` grid times, enough for every feature, and
calls `features_along` on it: the same price history gives the same features on both sides.
Between grid times the features stay those of the last grid time passed (training decides on
the grid only).

`VolForecast` is the same grid history feeding a volatility estimate σ̂ alone: a forecaster's
prediction, or the trailing realised vol without one (`sim.decisions.hedging.VolSource`). It is
what feeds the band policies' `ForecastBand` and the range policies' widths, in the
simulator's keeper agent and the chain keeper alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.learn.forecast import FEATURES, LOOKBACK, band_scale, vol_features
from sim.learn.forecast import load_cached as load_forecaster
from sim.learn.model import BandModel, load_cached
from sim.learn.paths import realised_vol

if TYPE_CHECKING:
    from sim.decisions.hedging import ForecastBand, VolSource
    from sim.learn.policy import Learned

EPS_S = 1e-6
"""An observation within this many seconds of a grid time counts as at it."""


def features_along(
    m: BandModel, spot: np.ndarray, vol_feats: bool = False
) -> dict[str, np.ndarray]:
    """Extra features at every grid step of `spot`.

    Shape:
        spot: (N, K + 1), column k the price at grid time k (column 0: where the history
            starts). Returns realised_vol and flow (N, K + 1), vol_features (N, K + 1, F).
    """
    out = {"realised_vol": realised_vol(spot, m.dt, m.rv_window, m.iv)}
    if m.use_flow or vol_feats:
        vf = vol_features(spot, m.dt, m.fee, m.iv)
        if m.use_flow:
            out["flow"] = vf[..., FEATURES.index("flow")]
        if vol_feats:
            out["vol_features"] = vf
    return out


class GridHistory:
    """Prices of N worlds on a grid (a price every `dt` seconds from `origin`), observed in
    time order: the price at each grid time is the last observation at or before it. Each
    world's history is `values[i, :count[i]]`, the oldest dropped beyond `length`; worlds may
    observe at different times (Poisson blocks), so counts may differ."""

    def __init__(self, origin: float, dt: float, length: int, n: int = 1):
        self.origin = origin
        self.dt = dt
        self.n = n
        self.length = length
        self.values = np.full((n, self.length), np.nan)
        self.count = np.zeros(n, dtype=int)
        self.next_j: np.ndarray | None = None
        self.last_t = np.full(n, -np.inf)
        self.last_v = np.full(n, np.nan)
        self._dirty = np.ones(n, dtype=bool)

    def _grid(self, j: np.ndarray) -> np.ndarray:
        return self.origin + j * self.dt

    def observe(self, t: np.ndarray | float, price: np.ndarray | float) -> None:
        """Spot `price` observed at clock time `t` (both broadcast to (N,)). Observations
        older than a world's last one are ignored."""
        t = np.broadcast_to(np.asarray(t, dtype=float), (self.n,)).copy()
        v = np.broadcast_to(np.asarray(price, dtype=float), (self.n,)).copy()
        if self.next_j is None:
            self.next_j = np.ceil((t - self.origin) / self.dt - EPS_S / self.dt)
            self.last_v = v.copy()  # nothing earlier is known
        fresh = t >= self.last_t
        while True:
            g = self._grid(self.next_j)
            due = fresh & (t >= g - EPS_S)
            if not due.any():
                break
            self._push(due, np.where(t - g <= EPS_S, v, self.last_v))
            self.next_j = np.where(due, self.next_j + 1, self.next_j)
        self.last_t = np.where(fresh, t, self.last_t)
        self.last_v = np.where(fresh, v, self.last_v)

    def _push(self, where: np.ndarray, value: np.ndarray) -> None:
        full = where & (self.count == self.length)
        if full.any():
            self.values[full, :-1] = self.values[full, 1:]
            self.count[full] -= 1
        idx = np.flatnonzero(where)
        self.values[idx, self.count[idx]] = value[idx]
        self.count[idx] += 1
        self._dirty |= where

    def history(self, i: int = 0) -> np.ndarray:
        """World i's grid history, oldest first, (count,)."""
        return self.values[i, : self.count[i]].copy()

    def by_count(self, todo: np.ndarray):
        """(rows, history) per distinct history length among the worlds `todo`: history is
        (len(rows), count), or the last observation as a one-price history before the first
        grid time."""
        for c in np.unique(self.count[todo]):
            rows = np.flatnonzero(todo & (self.count == c))
            yield rows, (self.values[rows, :c] if c > 0 else self.last_v[rows, None])


class LearnedFeatures(GridHistory):
    """Features of a `Learned` policy for N worlds (the keeper: one) from prices observed in
    time order (see the module docstring and `GridHistory`)."""

    def __init__(self, policy: Learned, n: int = 1):
        self.model = load_cached(policy.model)
        self.vol_feats = policy.forecaster is not None
        m = self.model
        super().__init__(m.time_origin, m.dt, m.lookback(self.vol_feats), n)
        self._cache: dict[str, np.ndarray] | None = None

    def features(self) -> dict[str, np.ndarray]:
        """The features now, arrays (N,) ((N, F) for vol_features). Before the first grid
        time the last observation stands in as a one-price history (training's step 0)."""
        if self._cache is not None and not self._dirty.any():
            return self._cache
        todo = self._dirty if self._cache is not None else np.ones(self.n, dtype=bool)
        out = self._cache
        for rows, hist in self.by_count(todo):
            f = {k: v[:, -1] for k, v in features_along(self.model, hist, self.vol_feats).items()}
            if out is None:
                out = {k: np.zeros((self.n, *v.shape[1:])) for k, v in f.items()}
            for k, v in f.items():
                out[k][rows] = v
        self._cache = out
        self._dirty[:] = False
        return out


class VolForecast(GridHistory):
    """σ̂, annualised, for N worlds from prices observed in time order (module docstring):
    with a forecaster, its prediction from `sim.learn.forecast.vol_features` on its own grid
    (its `dt`, fee and IV); without one, the realised vol over the last `window` grid steps.
    The grid starts at clock time `origin` (the simulator's clock starts at 0; a chain keeper
    passes the chain time its simulator counterpart's 0 stands for)."""

    def __init__(self, source: VolSource, n: int = 1, origin: float = 0.0):
        self.source = source
        self.forecaster = None if source.forecaster is None else load_forecaster(source.forecaster)
        if self.forecaster is not None:
            super().__init__(origin, self.forecaster.dt, LOOKBACK, n)
        else:
            super().__init__(origin, source.grid_dt, source.window + 1, n)
        self._sigma = np.full(n, source.default_vol)

    def sigma(self) -> np.ndarray:
        """σ̂ now, annualised, (N,): recomputed for the worlds whose grid moved on."""
        if not self._dirty.any():
            return self._sigma.copy()
        f, src = self.forecaster, self.source
        for rows, hist in self.by_count(self._dirty):
            if f is not None:
                feats = vol_features(hist, f.dt, f.fee, f.iv)[:, -1]
                self._sigma[rows] = f.predict(feats)
            else:
                self._sigma[rows] = realised_vol(hist, src.grid_dt, src.window, src.default_vol)[
                    :, -1
                ]
        self._dirty[:] = False
        return self._sigma.copy()

    def band_scale(self, cfg: ForecastBand) -> np.ndarray:
        """The band multiplier of `cfg` at σ̂ now (`sim.learn.forecast.band_scale`), (N,)."""
        return band_scale(self.sigma(), cfg.reference_vol, cfg.power, cfg.band_min, cfg.band_max)

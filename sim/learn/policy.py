"""`sim.hedging.Learned.decide`: the band model's decision on `HedgeInputs` (numpy only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from sim.hedging import HedgeDecision, HedgeInputs, _decision
from sim.learn.forecast import band_scale
from sim.learn.model import load_cached

if TYPE_CHECKING:
    from sim.hedging import Learned


def learned_bounds(
    cfg: Learned, x: HedgeInputs, features: Mapping[str, np.ndarray | float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) hedge bounds, base units, (W,). See `Learned` for `features`."""
    f = dict(features or {})
    m = load_cached(cfg.model)
    iv = f.get("implied_vol")
    exo = m.exogenous(
        x.spot, x.now, x.book_delta, x.book_gamma, f.get("realised_vol"), iv, f.get("flow")
    )
    lo, hi = m.band(exo, x.book_delta, x.hedge, x.cost_rate)
    forecast = f.get("forecast_vol")
    if forecast is None and cfg.forecaster is not None and "vol_features" in f:
        from sim.learn.forecast import load_cached as load_forecaster

        forecast = load_forecaster(cfg.forecaster).predict(np.asarray(f["vol_features"]))
    if forecast is not None:
        scale = band_scale(
            forecast, m.iv if iv is None else iv, cfg.band_power, cfg.band_min, cfg.band_max
        )
        centre = -x.book_delta
        lo, hi = centre + (lo - centre) * scale, centre + (hi - centre) * scale
    return lo, hi


def learned_decide(
    cfg: Learned, x: HedgeInputs, features: Mapping[str, np.ndarray | float] | None = None
) -> HedgeDecision:
    lo, hi = learned_bounds(cfg, x, features)
    target = np.clip(x.hedge, lo, hi)
    return _decision(x, (x.hedge < lo) | (x.hedge > hi), target)

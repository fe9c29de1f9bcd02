"""The learned hedging policy: `Learned`, a trained band model as a keeper policy, and its
decision on `HedgeInputs` (numpy only: deciding never imports torch)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from sim.decisions.book import OptionPositions
from sim.decisions.hedging import HedgeDecision, HedgeInputs, PolicyBase, _decision
from sim.errors import ConfigError
from sim.learn.book import book_mismatch
from sim.learn.forecast import band_scale
from sim.learn.model import load_cached


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


class Learned(PolicyBase):
    """A trained no-transaction-band network (`sim.learn`): trade only when the hedge leaves the
    band the network puts around the delta-neutral hedge, and then only to its edge.

    The model file (`ammlab learn train`) is read on the first decide() and cached; inference
    is numpy, so neither importing this module nor deciding imports torch.

    A model is trained for one book (`sim.learn.book`): the keeper and the simulator's keeper
    agent refuse it, in one line, when the book they hold is another one (a leg added or
    missing, another strike or expiry, a size more than `book_tolerance` apart).

    Extra features beyond `HedgeInputs` go in `features`, a mapping of arrays of shape (W,)
    (or scalars), computed from the price history by `sim.learn.features` (training, the
    keeper agent and the keeper alike); each has a default when absent:
        realised_vol: recent realised volatility, annualised (default: the book's IV);
        implied_vol: the book's implied volatility (default: the IV the model was trained at);
        flow: pool arbitrage flow, annualised log-price units (default 0; used only by models
            trained with it);
        forecast_vol: forecast volatility for the band scale (default: from `vol_features`
            through `forecaster`, else no scaling);
        vol_features: (W, F) inputs of `forecaster` (see `sim.learn.forecast.FEATURES`).
    """

    kind: Literal["learned"] = "learned"
    model: Path = Field(description="Model file written by `ammlab learn train`.")
    forecaster: Path | None = Field(
        None, description="Volatility forecaster (`ammlab learn forecast`) that scales the band."
    )
    band_power: float = Field(
        1.0, ge=0, description="Band scale = (forecast vol / implied vol) ** band_power."
    )
    band_min: float = Field(0.5, gt=0, description="Lowest band scale.")
    band_max: float = Field(3.0, gt=0, description="Highest band scale.")
    book_tolerance: float = Field(
        0.05,
        ge=0,
        description="Largest relative difference of a leg's size (and of the LP base) from the "
        "book the model was trained for; beyond it the model is refused.",
    )

    def decide(
        self, x: HedgeInputs, features: Mapping[str, np.ndarray | float] | None = None
    ) -> HedgeDecision:
        return learned_decide(self, x, features)


def check_model_book(
    policy: Learned,
    live: OptionPositions,
    now: np.ndarray | float,
    lp_base: np.ndarray | float = 0.0,
    spot: np.ndarray | float | None = None,
    who: str = "the keeper",
) -> None:
    """Raise ConfigError, in one line, when `policy` (a `sim.learn.policy.Learned`) was trained for
    another book than `live` (`book_mismatch`). Batched inputs ((N, P) legs, (N,) scalars)
    are checked on world 0."""

    def first(x):
        a = np.asarray(x, dtype=float)
        return float(a.reshape(-1)[0]) if a.size else 0.0

    one = OptionPositions(
        *(np.asarray(a)[0] if np.ndim(a) == 2 else np.asarray(a) for a in
          (live.size, live.strike, live.expiry, live.is_call, live.iv))
    )  # fmt: skip
    why = book_mismatch(
        load_cached(policy.model).book, one, first(now), first(lp_base),
        None if spot is None else first(spot), policy.book_tolerance,
    )  # fmt: skip
    if why is not None:
        raise ConfigError(
            f"{who}: {policy.model} was trained for another book ({why}); train one for this "
            "book (`ammlab learn train CONFIG --book-from SOURCE`)"
        )

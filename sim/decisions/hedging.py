"""Hedging policies: pure, batch-shaped decisions of the keeper.

One code path for simulation, fork and live: the simulator's keeper agent calls a policy with
arrays over its worlds, the keeper runtime calls the same policy with arrays of one world.
Policies only decide a target hedge; routing, guards and sending live in the keeper. The
static policies are here; the learned one is `sim.learn.policy.Learned`, and `sim.decisions.policies`
names them all for configs.

Conventions (every array has shape (W,), one entry per world):
    book_delta: the inventory's delta excluding hedges, in base units (e.g. WETH); the
        options pool short a call has negative delta, an LP position positive delta.
    hedge: base units currently held as hedge across venues (perp size + spot).
    net delta = book_delta + hedge; a policy returns the hedge position it wants.

A band policy (delta band, Whalley–Wilmott) may take a volatility forecast (`ForecastBand`):
its half-width is multiplied by `HedgeInputs.band_scale`, which the caller computes from the
forecast with the learned policy's rule (`sim.learn.forecast.band_scale`, through
`sim.learn.features.VolForecast`), so the forecaster feeds every band, not only the learned one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sim.decisions.book import Book


@dataclass(frozen=True)
class HedgeInputs:
    """What a policy sees, for W worlds at once.

    Attributes:
        now: time, seconds. Shape (W,).
        spot: reference spot price, quote per base. Shape (W,).
        book_delta: inventory delta without hedges, base units. Shape (W,).
        book_gamma: inventory gamma, base units per (quote/base). Shape (W,).
        hedge: current hedge position, base units. Shape (W,).
        last_hedge_time: time of the last hedge trade, seconds (-inf if none). Shape (W,).
        cost_rate: proportional cost of hedging now, as a fraction of traded notional
            (fee + marginal impact, from the venue cost model). Shape (W,).
        band_scale: multiplier of a band policy's half-width from a volatility forecast
            (`ForecastBand`; 1 where none is given). Shape (W,).
    """

    now: np.ndarray
    spot: np.ndarray
    book_delta: np.ndarray
    book_gamma: np.ndarray
    hedge: np.ndarray
    last_hedge_time: np.ndarray
    cost_rate: np.ndarray
    band_scale: np.ndarray = None  # type: ignore[assignment] - filled with ones below

    def __post_init__(self) -> None:
        if self.band_scale is None:
            object.__setattr__(self, "band_scale", np.ones(np.shape(self.now)))

    @property
    def net_delta(self) -> np.ndarray:
        return self.book_delta + self.hedge

    @classmethod
    def single(cls, **scalars: float) -> HedgeInputs:
        """Inputs for one world (the keeper runtime's case) from scalars."""
        return cls(**{k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in scalars.items()})

    @classmethod
    def from_book(
        cls,
        book: Book,
        now: np.ndarray | float,
        hedge: np.ndarray | float,
        last_hedge_time: np.ndarray | float,
        cost_rate: np.ndarray | float,
        band_scale: np.ndarray | float | None = None,
    ) -> HedgeInputs:
        """The one way to turn a book into policy inputs, for the simulator and the keeper.

        `book` comes from `sim.decisions.book.compute_book` (without hedges); every argument broadcasts
        to the book's worlds shape, and one world becomes shape (1,).
        """
        shape = np.shape(np.atleast_1d(book.delta))

        def arr(x: np.ndarray | float) -> np.ndarray:
            return np.broadcast_to(np.asarray(x, dtype=float), shape).astype(float)

        return cls(
            now=arr(now),
            spot=arr(book.spot),
            book_delta=arr(book.delta),
            book_gamma=arr(book.gamma),
            hedge=arr(hedge),
            last_hedge_time=arr(last_hedge_time),
            cost_rate=arr(cost_rate),
            band_scale=None if band_scale is None else arr(band_scale),
        )


@dataclass(frozen=True)
class HedgeDecision:
    """Target hedge per world and whether to trade there now. Shapes (W,)."""

    target_hedge: np.ndarray
    trade: np.ndarray

    @property
    def order(self) -> np.ndarray:
        """Signed base units to buy (positive) or sell where trading, else 0."""
        return np.where(self.trade, self.target_hedge, 0.0)


class Policy(Protocol):
    def decide(self, x: HedgeInputs) -> HedgeDecision: ...


def _decision(x: HedgeInputs, trade: np.ndarray, target: np.ndarray) -> HedgeDecision:
    trade = trade & (target != x.hedge)
    return HedgeDecision(np.where(trade, target, x.hedge), trade)


class PolicyBase(BaseModel):
    """A policy's configuration; `decide(HedgeInputs) -> HedgeDecision` makes it a policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class VolSource(BaseModel):
    """Where a volatility estimate σ̂ comes from (`sim.learn.features.VolForecast`): a
    forecaster file, or, without one, the trailing realised volatility (the forecaster's naive
    baseline), both from the spot price sampled on a grid."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    forecaster: Path | None = Field(
        None,
        description="Volatility forecaster (`ammlab learn forecast`); None: trailing realised vol.",
    )
    grid_dt: float = Field(
        300.0, gt=0, description="Seconds between grid prices without a forecaster (a "
        "forecaster brings the grid it was fitted on).",
    )  # fmt: skip
    window: int = Field(144, ge=2, description="Grid steps of the trailing realised vol.")
    default_vol: float = Field(
        0.8, gt=0, description="Annualised vol assumed before the history holds a return."
    )


class ForecastBand(VolSource):
    """Scale a band policy's half-width by a volatility forecast σ̂:
    clip((σ̂ / reference_vol) ** power, band_min, band_max) (`sim.learn.forecast.band_scale`,
    the learned policy's rule)."""

    reference_vol: float = Field(
        gt=0, description="Annualised vol at which the band is as configured (scale 1)."
    )
    power: float = Field(1.0, ge=0, description="Exponent of the vol ratio.")
    band_min: float = Field(0.5, gt=0, description="Lowest band scale.")
    band_max: float = Field(3.0, gt=0, description="Highest band scale.")


def _scaled(policy, x: HedgeInputs, half_width):
    """A band policy's half-width, times the forecast's scale where it takes one."""
    if policy.forecast is None:
        return half_width
    return half_width * x.band_scale


class FixedInterval(PolicyBase):
    """Re-hedge to zero net delta every `interval` seconds (the textbook discrete hedger)."""

    kind: Literal["fixed_interval"] = "fixed_interval"
    interval: float = Field(3600.0, gt=0, description="Seconds between hedges.")

    def decide(self, x: HedgeInputs) -> HedgeDecision:
        due = x.now - x.last_hedge_time >= self.interval
        return _decision(x, due, -x.book_delta)


class DeltaBand(PolicyBase):
    """Lyra's hedger rule: re-hedge to zero when |net delta| leaves a band, at most once per
    `min_delay` seconds, unless the drift exceeds `override` (then at once)."""

    kind: Literal["delta_band"] = "delta_band"
    band: float = Field(1.0, gt=0, description="Tolerated |net delta|, base units.")
    min_delay: float = Field(300.0, ge=0, description="Seconds between hedges within the rule.")
    override: float = Field(5.0, gt=0, description="|net delta| that hedges regardless of delay.")
    forecast: ForecastBand | None = Field(
        None, description="Scale the band by a volatility forecast (None: fixed band)."
    )

    def half_width(self, x: HedgeInputs) -> np.ndarray | float:
        """The band now, base units: `band`, scaled by the forecast where it takes one."""
        return _scaled(self, x, self.band)

    def decide(self, x: HedgeInputs) -> HedgeDecision:
        drift = np.abs(x.net_delta)
        rested = x.now - x.last_hedge_time >= self.min_delay
        trade = (drift > self.half_width(x)) & (rested | (drift > self.override))
        return _decision(x, trade, -x.book_delta)


def whalley_wilmott_band(
    spot: np.ndarray, gamma: np.ndarray, cost_rate: np.ndarray, risk_aversion: float
) -> np.ndarray:
    """Half-width of the Whalley–Wilmott no-trade band around the delta-neutral hedge.

    H = (3/2 · k · S · Γ² / γ)^(1/3) (Whalley & Wilmott 1997), with k the proportional cost
    rate, S spot (quote/base), Γ gamma (base per quote/base) and γ the absolute risk aversion
    (1/quote). H is in base units. Shapes broadcast.
    """
    return np.cbrt(1.5 * cost_rate * spot * gamma**2 / risk_aversion)


class WhalleyWilmott(PolicyBase):
    """Trade only when net delta leaves the Whalley–Wilmott band, and then only to its edge."""

    kind: Literal["whalley_wilmott"] = "whalley_wilmott"
    risk_aversion: float = Field(1e-3, gt=0, description="Absolute risk aversion γ, 1/quote.")
    min_delay: float = Field(0.0, ge=0, description="Seconds between hedges.")
    forecast: ForecastBand | None = Field(
        None, description="Scale the band by a volatility forecast (None: the formula's band)."
    )

    def band(self, x: HedgeInputs) -> np.ndarray:
        h = whalley_wilmott_band(x.spot, x.book_gamma, x.cost_rate, self.risk_aversion)
        return _scaled(self, x, h)

    def decide(self, x: HedgeInputs) -> HedgeDecision:
        half_width = self.band(x)
        net = x.net_delta
        outside = np.abs(net) > half_width
        rested = x.now - x.last_hedge_time >= self.min_delay
        target = np.clip(net, -half_width, half_width) - x.book_delta
        return _decision(x, outside & rested, target)


class NoHedge(PolicyBase):
    """Never hedge: the baseline every hedger must beat on variance."""

    kind: Literal["none"] = "none"

    def decide(self, x: HedgeInputs) -> HedgeDecision:
        return _decision(x, np.zeros_like(x.hedge, dtype=bool), x.hedge)

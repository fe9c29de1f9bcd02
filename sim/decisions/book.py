"""The book: net Greeks of an inventory of options, constant-product LP shares and hedges.

Pure numpy, shared by the keeper runtime (one world, many positions) and the simulator's
keeper agent (many worlds). Units: base = the risky asset (WETH), quote = the numeraire (USDC),
prices in quote per base, time in seconds. Option Greeks come from the one Black–Scholes
implementation, `sim.venues.options.bs.bs_price_greeks`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.processes import YEAR
from sim.venues.options.bs import bs_price_greeks


@dataclass(frozen=True)
class OptionPositions:
    """Option positions held by the book, P of them. Arrays of shape (P,) or (W, P).

    Attributes:
        size: contracts on one unit of base each; positive when the book is long.
        strike: quote per base.
        expiry: expiry time, seconds (same clock as `now`).
        is_call: True for calls, False for puts.
        iv: implied volatility used to value each position, annualised (0.8 = 80 %).
    """

    size: np.ndarray
    strike: np.ndarray
    expiry: np.ndarray
    is_call: np.ndarray
    iv: np.ndarray

    @classmethod
    def empty(cls) -> OptionPositions:
        z = np.zeros(0)
        return cls(z, z, z, z.astype(bool), z)


@dataclass(frozen=True)
class Book:
    """Net Greeks of the inventory. Each field has the worlds' shape (W,) (or () for one).

    delta: base units (dV/dS); gamma: base per (quote/base) (d²V/dS²); vega: quote per 1.0 of
    vol (dV/dσ, all options' IVs moved together); theta: quote per year (dV/dt).
    """

    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray
    spot: np.ndarray

    @property
    def delta_quote(self) -> np.ndarray:
        """Cash delta: quote value gained per 100 % move of spot, Δ·S."""
        return self.delta * self.spot

    @property
    def gamma_quote(self) -> np.ndarray:
        """Cash gamma: change of cash delta per 1 % move of spot, Γ·S²/100."""
        return self.gamma * self.spot**2 / 100.0


def option_greeks(
    positions: OptionPositions, spot: np.ndarray | float, now: np.ndarray | float, rate: float = 0.0
) -> dict[str, np.ndarray]:
    """Summed price and Greeks of the positions; sums over the last (position) axis.

    Expired positions (expiry <= now) contribute nothing: settlement is not this function's job.

    Shape:
        spot, now: () or (W,); positions: (P,) or (W, P). Returns arrays of shape () or (W,).
    """
    spot = np.asarray(spot, dtype=float)[..., None]
    now = np.asarray(now, dtype=float)[..., None]
    tau = (positions.expiry - now) / YEAR
    live = tau > 0
    g = bs_price_greeks(
        spot, positions.strike, np.where(live, tau, 1.0), positions.iv, rate, positions.is_call
    )
    weight = np.where(live, positions.size, 0.0)
    return {k: np.sum(weight * g[k], axis=-1) for k in ("price", "delta", "gamma", "vega", "theta")}


def cpmm_lp_greeks(
    reserve_base: np.ndarray | float, lp_share: np.ndarray | float, spot: np.ndarray | float
) -> dict[str, np.ndarray]:
    """Delta and gamma of an LP share of a constant-product pool kept at `spot` by arbitrage.

    The position is worth V(S) = share · 2·sqrt(k·S); dV/dS = share · x (the base reserve) and
    d²V/dS² = −share · x / (2S): long delta, short gamma (the source of LVR). No vega or theta.
    """
    x = np.asarray(reserve_base, dtype=float) * np.asarray(lp_share, dtype=float)
    return {"delta": x, "gamma": -x / (2.0 * np.asarray(spot, dtype=float))}


def compute_book(
    spot: np.ndarray | float,
    now: np.ndarray | float,
    options: OptionPositions | None = None,
    lp_reserve_base: np.ndarray | float = 0.0,
    lp_share: np.ndarray | float = 0.0,
    rate: float = 0.0,
) -> Book:
    """Net Greeks of options + LP shares, without hedges (the policy adds those).

    Shape:
        spot, now, lp_*: () or (W,); options arrays (P,) or (W, P).
    """
    spot_arr = np.asarray(spot, dtype=float)
    opt = option_greeks(options or OptionPositions.empty(), spot_arr, now, rate)
    lp = cpmm_lp_greeks(lp_reserve_base, lp_share, spot_arr)
    return Book(
        delta=opt["delta"] + lp["delta"],
        gamma=opt["gamma"] + lp["gamma"],
        vega=opt["vega"],
        theta=opt["theta"],
        spot=spot_arr,
    )

"""The book: net Greeks of an inventory of options, constant-product LP shares, concentrated
(Uniswap V3) positions and hedges.

Pure numpy, shared by the keeper runtime (one world, many positions) and the simulator's
keeper agent (many worlds). Units: base = the risky asset (WETH), quote = the numeraire (USDC),
prices in quote per base, time in seconds. Option Greeks come from the one Black–Scholes
implementation, `sim.venues.options.bs.bs_price_greeks`; a concentrated position's from the V3
pool's token amounts (`v3_position_greeks`, the float form of the periphery's
LiquidityAmounts, `sim.venues.univ3.periphery.get_amounts_for_liquidity`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.processes import YEAR
from sim.venues.options.bs import bs_price_greeks
from sim.venues.univ3.config import LN_TICK, PRICE_SCALE


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


@dataclass(frozen=True)
class V3Positions:
    """Concentrated-liquidity positions of the book, P of them, in the V3 simulator's canonical
    orientation (token0 = base; `sim.venues.univ3.config`). Arrays of shape (P,) or (W, P).

    Attributes:
        liquidity: whole-unit liquidity L (sqrt(base · quote) in whole tokens; the pool's
            integer liquidity is L · `sim.venues.univ3.config.LIQUIDITY_SCALE`).
        sqrt_lower, sqrt_upper: square roots of the range's bound prices, sqrt(quote per base).
    """

    liquidity: np.ndarray
    sqrt_lower: np.ndarray
    sqrt_upper: np.ndarray

    @classmethod
    def from_ticks(
        cls,
        liquidity: np.ndarray | float,
        tick_lower: np.ndarray | int,
        tick_upper: np.ndarray | int,
        price_scale: float = PRICE_SCALE,
    ) -> V3Positions:
        """Positions on canonical tick ranges [tick_lower, tick_upper): a tick t's price is
        price_scale · 1.0001**t (the float twin's `sqrt_at_tick`)."""
        half, root = 0.5 * LN_TICK, np.sqrt(price_scale)
        return cls(
            np.asarray(liquidity, dtype=float),
            np.exp(np.asarray(tick_lower, dtype=float) * half) * root,
            np.exp(np.asarray(tick_upper, dtype=float) * half) * root,
        )


def v3_position_greeks(
    positions: V3Positions, sqrt_price: np.ndarray | float
) -> dict[str, np.ndarray]:
    """Value, delta and gamma of concentrated positions at pool sqrt price s = sqrt(P), summed
    over the last (position) axis.

    A position of liquidity L on [s_a, s_b) holds x = L (1/c − 1/s_b) base and
    y = L (c − s_a) quote with c = clip(s, s_a, s_b) (Uniswap's LiquidityAmounts), so
    V(P) = x P + y, delta dV/dP = x (the base it holds, as for any constant-function pool) and,
    inside the range, gamma d²V/dP² = dx/dP = −L / (2 s³) (short gamma, the source of LVR; a
    full range gives the constant-product pool's −x / (2P)); outside the range the position is
    one token only and its gamma is 0.

    Shape:
        sqrt_price: () or (W,); positions (P,) or (W, P). Returns arrays of shape () or (W,).
    """
    s = np.asarray(sqrt_price, dtype=float)[..., None]
    sa, sb, liq = positions.sqrt_lower, positions.sqrt_upper, positions.liquidity
    c = np.clip(s, sa, sb)
    x = liq * ((sb - c) / (c * sb))
    y = liq * (c - sa)
    inside = (s > sa) & (s < sb)
    gamma = np.where(inside, -liq / (2.0 * s**3), 0.0)
    return {
        "value": np.sum(x * s * s + y, axis=-1),
        "delta": np.sum(x, axis=-1),
        "gamma": np.sum(gamma, axis=-1),
        "base": np.sum(x, axis=-1),
        "quote": np.sum(y, axis=-1),
    }


def compute_book(
    spot: np.ndarray | float,
    now: np.ndarray | float,
    options: OptionPositions | None = None,
    lp_reserve_base: np.ndarray | float = 0.0,
    lp_share: np.ndarray | float = 0.0,
    rate: float = 0.0,
    v3: V3Positions | None = None,
    v3_sqrt_price: np.ndarray | float | None = None,
    base_held: np.ndarray | float | None = None,
) -> Book:
    """Net Greeks of options + LP shares + concentrated positions + base held outright,
    without hedges (the policy adds those).

    `v3` positions are valued at their pool's sqrt price `v3_sqrt_price` (default sqrt(spot));
    `base_held` counts base tokens held beside them (fees owed, a rebalance's leftovers),
    delta 1 each.

    Shape:
        spot, now, lp_*, v3_sqrt_price, base_held: () or (W,); options arrays (P,) or (W, P);
        v3 arrays (Q,) or (W, Q).
    """
    spot_arr = np.asarray(spot, dtype=float)
    if options is None or np.size(options.size) == 0:
        # What option_greeks sums over no position, without pricing an empty book each block.
        zero = np.zeros(np.broadcast_shapes(np.shape(spot_arr), np.shape(now)))
        opt = {k: zero for k in ("delta", "gamma", "vega", "theta")}
    else:
        opt = option_greeks(options, spot_arr, now, rate)
    lp = cpmm_lp_greeks(lp_reserve_base, lp_share, spot_arr)
    delta = opt["delta"] + lp["delta"]
    gamma = opt["gamma"] + lp["gamma"]
    # Added only when given, so a book without them is the same floats as before they existed.
    if v3 is not None:
        s = np.sqrt(spot_arr) if v3_sqrt_price is None else v3_sqrt_price
        g = v3_position_greeks(v3, s)
        delta = delta + g["delta"]
        gamma = gamma + g["gamma"]
    if base_held is not None:
        delta = delta + np.asarray(base_held, dtype=float)
    return Book(
        delta=delta,
        gamma=gamma,
        vega=opt["vega"],
        theta=opt["theta"],
        spot=spot_arr,
    )

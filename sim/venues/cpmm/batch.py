"""Vectorised float twin of the constant-product pool (Uniswap V2 pair semantics).

One `CpmmBatch` holds the same pool in every world of a batch as float64 arrays. The formulas
are those of `sim.venues.cpmm.twin` (the exact integer twin) without the floors, written once
(`get_amount_out`, `get_amount_in`; `amount_out_f` is the first compiled for numba kernels):

    amount_in_with_fee = amount_in * (10000 - fee_bps)
    amount_out = amount_in_with_fee * r_out / (r_in * 10000 + amount_in_with_fee)

so they agree with it to the rounding of the integer twin (relative error about 1/amount).

Token 0 ("x") is the risky asset, token 1 ("y") the numeraire; prices are numeraire per risky.

Two fee modes:
    fee_to_reserves=True   V2: the whole input stays in the reserves, so k grows with fees.
    fee_to_reserves=False  the fee is paid out to LPs on the side (`fees_x`, `fees_y`) and the
                           reserves stay on the curve x*y = k; this is the model of Milionis,
                           Moallemi and Roughgarden (2023) used by the validation tests.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from sim.venues.cpmm.config import TwapConfig

BPS = 10_000.0


def get_amount_out(amount_in, reserve_in, reserve_out, fee_bps):
    """Uniswap V2 getAmountOut in floats, without the floor: the output for `amount_in` into a
    pool holding `reserve_in` / `reserve_out`, fee `fee_bps` on the input (basis points).

    The one float definition of the V2 price. Arithmetic operators only, so floats, numpy
    arrays (shapes broadcast) and torch tensors (differentiably: learned hedging trains through
    `sim.decisions.routing.cpmm_cost`) all run this same code; numba kernels run it too, as
    `amount_out_f` (below). Equal to the integer twin (`sim.venues.cpmm.twin.get_amount_out`)
    up to its floor.
    """
    a = amount_in * (BPS - fee_bps)
    return a * reserve_out / (reserve_in * BPS + a)


amount_out_f = njit(cache=True, inline="always")(get_amount_out)
"""`get_amount_out` compiled by numba, for the kernels (`swap_f`, the arbitrageurs, the fused
engine). It is the same Python source, not a second formula: a numba kernel can only call a
compiled function, and compiling the one above for scalars inlines it into each kernel, while
the plain function keeps working on numpy arrays and torch tensors, which numba cannot take."""


def get_amount_in(amount_out, reserve_in, reserve_out, fee_bps):
    """Uniswap V2 getAmountIn in floats, without the floor and the +1: the input that buys
    `amount_out` (< reserve_out). Arithmetic operators only, like `get_amount_out`."""
    return reserve_in * amount_out * BPS / ((reserve_out - amount_out) * (BPS - fee_bps))


@njit(cache=True, inline="always")
def optimal_arb_input(x: float, y: float, price: float, fee_bps: float) -> tuple[float, int]:
    """Closed-form profit-maximising arbitrage against a reference price.

    Buying risky with input dy gives out = g*dy*x/(y + g*dy), g = 1 - f. Setting
    d(out)/d(dy) = 1/price gives y + g*dy = sqrt(g*x*y*price), i.e. the trade that moves the
    pool's marginal price to the edge of its fee band, price*(1-f) on the curve. The sell side is
    the mirror image.

    Args:
        x: risky reserve.
        y: numeraire reserve.
        price: reference price, numeraire per risky.
        fee_bps: pool fee on the input, basis points.

    Returns:
        (amount_in, direction): direction +1 means numeraire in / risky out, -1 risky in /
        numeraire out, 0 no profitable trade (amount_in is then 0).
    """
    g = (BPS - fee_bps) / BPS
    # Compare p*g > y/x (buy risky) and p < g*y/x (sell risky) without dividing; the 1e-12
    # margin keeps rounding dust (a pool left one ulp past the band edge) from trading.
    if price * g * x > y * (1.0 + 1e-12):
        return (math.sqrt(g * x * y * price) - y) / g, 1
    if price * x * (1.0 + 1e-12) < g * y:
        return (math.sqrt(g * x * y / price) - x) / g, -1
    return 0.0, 0


@njit(cache=True, inline="always")
def swap_f(
    amount_in: float, direction: int, x: float, y: float, fee_bps: float, fee_to_reserves: bool
) -> tuple[float, float, float, float, float]:
    """Apply one swap; returns (new_x, new_y, amount_out, fee_x, fee_y).

    fee_x/fee_y is the fee part of the input (f * amount_in) in its token; when
    fee_to_reserves it is also inside new_x/new_y, otherwise it is paid out on the side.
    """
    f = fee_bps / BPS
    if direction > 0:
        out = amount_out_f(amount_in, y, x, fee_bps)
        fee = f * amount_in
        ny = y + amount_in if fee_to_reserves else y + amount_in - fee
        return x - out, ny, out, 0.0, fee
    out = amount_out_f(amount_in, x, y, fee_bps)
    fee = f * amount_in
    nx = x + amount_in if fee_to_reserves else x + amount_in - fee
    return nx, y - out, out, fee, 0.0


class CpmmBatch:
    """The same constant-product pool in N worlds.

    Attributes:
        x, y: reserves, shape (N,).
        fees_x, fees_y: fees paid out on the side (only when not fee_to_reserves), shape (N,).
        shares: LP share supply, shape (N,); starts at sqrt(x*y) like V2's first mint.
        fee_bps: fee on the input in basis points.
        fee_to_reserves: V2 semantics (True) or fees paid on the side (False).
        cum_price, last_time: V2-style price0CumulativeLast (numeraire per risky times seconds)
            and the time it was last updated, shape (N,).
        tokens: (token 0, token 1) names when the pool is on another pair than the risky asset
            against the numeraire (x holds token 0, y token 1, prices are token 1 per token
            0); None for that pair.
    """

    def __init__(
        self,
        name: str,
        x: np.ndarray,
        y: np.ndarray,
        fee_bps: float,
        fee_to_reserves: bool = True,
        tokens: tuple[str, str] | None = None,
    ):
        self.name = name
        self.tokens = tokens
        self.x = np.asarray(x, dtype=np.float64).copy()
        self.y = np.asarray(y, dtype=np.float64).copy()
        n = self.x.shape[0]
        self.fee_bps = float(fee_bps)
        self.fee_to_reserves = bool(fee_to_reserves)
        self.fees_x = np.zeros(n)
        self.fees_y = np.zeros(n)
        self.shares = np.sqrt(self.x * self.y)
        self.cum_price = np.zeros(n)
        self.last_time = np.zeros(n)

    @property
    def n(self) -> int:
        return self.x.shape[0]

    def price(self) -> np.ndarray:
        """Marginal (mid) price y/x, numeraire per risky, shape (N,)."""
        return self.y / self.x

    def value(self, ref_price: np.ndarray, quote_price: np.ndarray | None = None) -> np.ndarray:
        """Mark-to-market value of the reserves plus side fees at the reference price, (N,);
        `quote_price` prices token 1 (None: the numeraire, worth 1)."""
        if quote_price is None:
            return (self.x + self.fees_x) * ref_price + self.y + self.fees_y
        return (self.x + self.fees_x) * ref_price + (self.y + self.fees_y) * quote_price

    def accumulate(self, now: np.ndarray) -> None:
        """Advance the cumulative price to `now` (V2 `_update`: the pre-block price times dt)."""
        self.cum_price += self.price() * (now - self.last_time)
        self.last_time = now.copy()

    def swap(
        self, amount_in: np.ndarray, direction: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Swap in every world where direction != 0 and amount_in > 0.

        Args:
            amount_in: input amounts, shape (N,), in the input token.
            direction: +1 numeraire in / risky out, -1 risky in / numeraire out, 0 no trade.

        Returns:
            (amount_out, fee_x, fee_y), each shape (N,): the output paid and the fee part of
            the input in its token (zero where no trade).
        """
        return _swap_batch(
            self.x,
            self.y,
            self.fees_x,
            self.fees_y,
            np.asarray(amount_in, dtype=np.float64),
            np.asarray(direction, dtype=np.int64),
            self.fee_bps,
            self.fee_to_reserves,
        )

    def mint(self, value_frac: np.ndarray) -> np.ndarray:
        """Deposit proportionally, growing reserves by `value_frac`; returns new shares (N,)."""
        minted = self.shares * value_frac
        self.x *= 1.0 + value_frac
        self.y *= 1.0 + value_frac
        self.fees_x *= 1.0 + value_frac
        self.fees_y *= 1.0 + value_frac
        self.shares += minted
        return minted

    def burn(self, share_amount: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Burn shares pro rata; returns the (x, y) paid out, including side fees, (N,) each."""
        frac = np.where(self.shares > 0, share_amount / self.shares, 0.0)
        out_x = (self.x + self.fees_x) * frac
        out_y = (self.y + self.fees_y) * frac
        self.x *= 1.0 - frac
        self.y *= 1.0 - frac
        self.fees_x *= 1.0 - frac
        self.fees_y *= 1.0 - frac
        self.shares -= share_amount
        return out_x, out_y


@njit(cache=True, nogil=True)
def _swap_batch(x, y, fees_x, fees_y, amount_in, direction, fee_bps, fee_to_reserves):
    """In-place batch swap; returns (amount_out, fee_x, fee_y), each (N,)."""
    n = x.shape[0]
    out = np.zeros(n)
    fx = np.zeros(n)
    fy = np.zeros(n)
    for i in range(n):
        d = direction[i]
        a = amount_in[i]
        if d == 0 or not a > 0.0:
            continue
        nx, ny, o, f_x, f_y = swap_f(a, d, x[i], y[i], fee_bps, fee_to_reserves)
        x[i] = nx
        y[i] = ny
        out[i] = o
        fx[i] = f_x
        fy[i] = f_y
        if not fee_to_reserves:
            fees_x[i] += f_x
            fees_y[i] += f_y
    return out, fx, fy


class Twap:
    """TWAP of a pool's mid price over the last `window_blocks` blocks.

    Read from the pool's V2-style cumulative price: (cum(t) - cum(t - w)) / (time(t) - time(t - w)).
    Until the window is full it averages since the start.

    Shape:
        value: (N,)
    """

    def __init__(self, cfg: TwapConfig, pool: CpmmBatch):
        self.cfg = cfg
        self.name = cfg.name
        self.pool = pool
        w = cfg.window_blocks + 1
        self._cum = np.zeros((w, pool.n))
        self._time = np.zeros((w, pool.n))
        self._i = 0
        self._filled = 1
        self._cum[0] = pool.cum_price
        self._time[0] = pool.last_time
        self.value = pool.price().copy()

    def price(self) -> np.ndarray:
        """The TWAP, (N,)."""
        return self.value

    def update(self) -> None:
        """Take this block's cumulative snapshot (call after `pool.accumulate`)."""
        w = self._cum.shape[0]
        self._i = (self._i + 1) % w
        self._cum[self._i] = self.pool.cum_price
        self._time[self._i] = self.pool.last_time
        self._filled = min(self._filled + 1, w)
        j = (self._i - self._filled + 1) % w
        span = self._time[self._i] - self._time[j]
        self.value = np.where(
            span > 0,
            (self._cum[self._i] - self._cum[j]) / np.where(span > 0, span, 1.0),
            self.value,
        )

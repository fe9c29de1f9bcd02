"""Split a hedge order across venues at least total cost (fees + price impact + gas).

Each venue's cost of trading q base units, c(q) (quote paid; negative when quote is received),
is convex with a kink at 0 (the fee band). Without fixed costs the optimum equalises marginal
costs across the venues used — water-filling on the marginal price λ, solved by bisection.
Gas is a fixed cost per venue used, so every subset of venues is tried (venues are few) and
the cheapest total wins. Caps (per-order limits, depth) bound each venue's share.

Venues implement `cost`, `inverse_marginal` and `capacity`; the constant-product venue here
uses the float twin's formulas (`sim.pools.cpmm_vec`); the perpetual future (`PerpVenue`)
prices with the perp twin's cost model (`sim.perp.hedge_cost`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Protocol

from sim.errors import SimError
from sim.perp import DAY, WAD, VenueState, hedge_cost
from sim.pools.cpmm_vec import BPS, amount_in_f, amount_out_f


class RoutingError(SimError):
    """No split can fill the order (not enough depth under the caps)."""


class Venue(Protocol):
    name: str
    gas_quote: float
    """Quote cost of the one transaction that trades on this venue."""

    def cost(self, q: float) -> float:
        """Quote paid to buy q > 0 base, or minus quote received to sell -q > 0 base."""
        ...

    def inverse_marginal(self, lam: float, buy: bool) -> float:
        """Size |q| >= 0 on side `buy` at which the marginal cost per unit reaches `lam`."""
        ...

    def capacity(self, buy: bool) -> float:
        """Largest |q| this venue takes on that side (depth and per-order cap)."""
        ...


@dataclass(frozen=True)
class CpmmVenue:
    """A constant-product pool seen as a hedging venue. Amounts in whole tokens (floats).

    Marginal cost of buying q base: x·y / ((x−q)²·g) with g = 1 − fee; of selling s base the
    marginal proceeds are g·x·y / (x + g·s)². Both are inverted in closed form.
    """

    name: str
    reserve_base: float
    reserve_quote: float
    fee_bps: float
    gas_quote: float = 0.0
    max_order: float = math.inf
    """Per-order cap on |q|, base units."""
    max_buy_fraction: float = 0.5
    """Never buy more than this share of the base reserve in one order (depth guard)."""

    @property
    def _g(self) -> float:
        return (BPS - self.fee_bps) / BPS

    def cost(self, q: float) -> float:
        if q > 0:
            return amount_in_f(q, self.reserve_quote, self.reserve_base, self.fee_bps)
        if q < 0:
            return -amount_out_f(-q, self.reserve_base, self.reserve_quote, self.fee_bps)
        return 0.0

    def inverse_marginal(self, lam: float, buy: bool) -> float:
        x, y, g = self.reserve_base, self.reserve_quote, self._g
        if buy:
            size = x - math.sqrt(x * y / (lam * g)) if lam > 0 else 0.0
        else:
            size = (math.sqrt(g * x * y / lam) - x) / g if lam > 0 else math.inf
        return min(max(size, 0.0), self.capacity(buy))

    def capacity(self, buy: bool) -> float:
        depth = self.max_buy_fraction * self.reserve_base if buy else math.inf
        return min(depth, self.max_order)


@dataclass(frozen=True)
class Leg:
    venue: str
    size: float
    """Signed base units traded on this venue."""
    cost: float
    """Quote paid (negative when received), gas excluded."""
    gas: float


@dataclass(frozen=True)
class Route:
    legs: tuple[Leg, ...]

    @property
    def size(self) -> float:
        return sum(leg.size for leg in self.legs)

    @property
    def total_cost(self) -> float:
        """Quote paid including gas (negative: net quote received)."""
        return sum(leg.cost + leg.gas for leg in self.legs)

    @property
    def average_price(self) -> float:
        """Quote per base before gas."""
        size = self.size
        return sum(leg.cost for leg in self.legs) / size if size else math.nan


def _water_fill(q: float, venues: tuple[Venue, ...], buy: bool) -> list[float] | None:
    """Sizes |q_i| summing to |q| with equal marginal cost, or None if capacity is short."""
    need = abs(q)
    if sum(v.capacity(buy) for v in venues) < need * (1 - 1e-12):
        return None

    def filled(lam: float) -> float:
        return sum(v.inverse_marginal(lam, buy) for v in venues)

    # Marginal cost rises with size when buying and proceeds fall when selling: bracket λ.
    lo, hi = 1e-300, 1.0
    if buy:
        while filled(hi) < need:
            lo, hi = hi, hi * 2.0
    else:
        while filled(lo) < need:
            lo /= 2.0
            if lo < 1e-300:
                return None
        hi = max(lo * 2.0, 1.0)
        while filled(hi) > need:
            lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        too_much = filled(mid) > need
        if buy == too_much:
            hi = mid
        else:
            lo = mid
        if hi / lo - 1.0 < 1e-15:
            break
    sizes = [v.inverse_marginal(hi if buy else lo, buy) for v in venues]
    scale = need / sum(sizes) if sum(sizes) > 0 else 0.0  # remove bisection residue exactly
    return [s * scale for s in sizes]


def split_order(q: float, venues: list[Venue] | tuple[Venue, ...]) -> Route:
    """The cheapest split of a signed order of q base units (buy q > 0, sell q < 0).

    Raises:
        RoutingError: if no subset of venues has the depth under its caps.
    """
    if q == 0 or not math.isfinite(q):
        if q == 0:
            return Route(())
        raise RoutingError(f"order size must be finite (got {q})")
    buy = q > 0
    best: Route | None = None
    for k in range(1, len(venues) + 1):
        for subset in itertools.combinations(venues, k):
            sizes = _water_fill(q, subset, buy)
            if sizes is None or any(s == 0 for s in sizes):
                continue  # a subset with an idle venue is a smaller subset, tried already
            sign = 1.0 if buy else -1.0
            legs = tuple(
                Leg(v.name, sign * s, v.cost(sign * s), v.gas_quote)
                for v, s in zip(subset, sizes, strict=True)
            )
            route = Route(legs)
            if best is None or route.total_cost < best.total_cost:
                best = route
    if best is None:
        caps = ", ".join(f"{v.name} {v.capacity(buy):g}" for v in venues)
        raise RoutingError(
            f"no venue split can {'buy' if buy else 'sell'} {abs(q):g} base: capacities {caps}"
        )
    return best


@dataclass(frozen=True)
class PerpVenue:
    """The perpetual future (`contracts/PerpMarket.vy`) seen as a hedging venue.

    Costs come from `sim.perp.hedge_cost` on the market's public figures (`VenueState`): the
    fill price from the skew premium, the taker fee, and the funding a position of that size
    pays over `funding_horizon_s` at the post-trade skew. The cost of buying q base is
    ``q * oracle + fee + impact + expected_funding`` (quote units, floats of whole tokens),
    which is what the trade takes from a fresh account's equity marked at the oracle.

    Marginal cost, with P the oracle, s the skew, K the skew scale, f the fee rate and
    c = P * m * T / (K * DAY) (m the max funding rate, T the horizon; the rate's clamp at
    |skew| = K ignored): buying q, ``P (1 + f)(1 + (s + q) / K) + c (s + 2q)``; selling u,
    marginal proceeds ``P (1 - f)(1 + (s - u) / K) + c (s - 2u)``. Both are linear in the size
    and inverted in closed form.
    """

    name: str
    state: VenueState
    gas_quote: float = 0.0
    funding_horizon_s: int = 0
    max_order: float = math.inf
    """Per-order cap on |q|, base units."""
    max_long: float = math.inf
    """Most base units this venue may buy now (e.g. a position cap less the current size)."""
    max_short: float = math.inf
    """Most base units this venue may sell now."""

    def _f(self, x: int) -> float:
        return x / WAD

    def cost(self, q: float) -> float:
        if q == 0:
            return 0.0
        s = self.state
        size = int(round(q * WAD))
        c = hedge_cost(s, size, self.funding_horizon_s, 0, 0)
        qs = 10**s.quote_decimals
        return size * s.price / WAD / WAD + (c.fee + c.impact + c.expected_funding) / qs

    def _linear(self, buy: bool) -> tuple[float, float]:
        """(a, b) with the marginal cost (buy) or proceeds (sell) a + b * size, or a - b * size."""
        s = self.state
        price, skew, scale = self._f(s.price), self._f(s.skew), self._f(s.skew_scale)
        fee = s.taker_fee_bps / BPS
        c = price * self._f(s.max_funding_rate) * self.funding_horizon_s / (scale * DAY)
        side = 1.0 + fee if buy else 1.0 - fee
        return price * side * (1.0 + skew / scale) + c * skew, price * side / scale + 2.0 * c

    def inverse_marginal(self, lam: float, buy: bool) -> float:
        a, b = self._linear(buy)
        size = (lam - a) / b if buy else (a - lam) / b
        return min(max(size, 0.0), self.capacity(buy))

    def capacity(self, buy: bool) -> float:
        s = self.state
        if not buy:
            # A sell fills at a positive price only while u < 2 (skew_scale + skew): stay at half.
            depth = self._f(s.skew_scale) * 2.0 + self._f(s.skew) * 2.0
            return max(min(self.max_order, self.max_short, depth * 0.5), 0.0)
        return max(min(self.max_order, self.max_long), 0.0)

"""Split a hedge order across venues at least total cost (fees + price impact + gas).

Each venue's cost of trading q base units, c(q) (quote paid; negative when quote is received),
is convex with a kink at 0 (the fee band). Without fixed costs the optimum equalises marginal
costs across the venues used — water-filling on the marginal price λ, solved by bisection.
Gas is a fixed cost per venue used, so every subset of venues is tried (venues are few) and
the cheapest total wins. Caps (per-order limits, depth) bound each venue's share.

Venues implement `cost`, `inverse_marginal` and `capacity`; the constant-product venue here
prices with `cpmm_cost` (the float twin's formulas, `sim.venues.cpmm.batch`, written once for
floats, numpy arrays and torch tensors); the perpetual future (`PerpVenue`) prices with the
perp twin's cost model (`sim.venues.perp.twin.hedge_cost`); a Uniswap V3 pool (`V3Venue`) with
the piecewise closed form of its fill: between two initialised ticks the pool is a constant
product with virtual reserves (liquidity L: base L/√P, quote L·√P), so a fill that crosses
ticks is a sum of closed-form pieces, and the marginal price (the pool's price after the trade,
over or times 1 − fee) inverts piece by piece. Floats suffice here: the split only has to be
cheapest; each leg is then priced to the wei by the V3 twin (QuoterV2's maths).

The hedging policies' cost rate (`HedgeInputs.cost_rate`, the k of Whalley–Wilmott) is defined
here once, for the keeper runtime and the simulator's keeper agent alike:

    rate(q) = (cost(q) − q · mid) / (|q| · mid),

the fee and price impact of the trade `q` about to be made (the re-hedge −net delta) as a
fraction of its notional at the venue's mid (the marginal price of a vanishing trade before
fees: y / x for a pool, the perp's fill price at size 0, oracle × (1 + skew / skew_scale)).
Why these choices:
* Whalley–Wilmott's band is derived for a proportional cost paid on each trade (buy at
  S (1 + k), sell at S (1 − k)), so k is the cost of the trade at hand, at its size: impact
  grows with it, and the band widens with the cost it saves.
* Against the mid, the rate is the half-spread plus impact: never negative and the same on
  both sides to first order. A venue's premium to the oracle (a perp's skew premium, a pool
  inside its arbitrage band) is a price level, paid back when the position is unwound at the
  same premium, not a cost of trading more often; a round trip cancels it.
* Expected funding is left out: it is a carry cost of holding the hedge, paid on the position
  whether it is rebalanced often or not, so it does not belong in a per-trade cost that sets
  how often to trade. It does belong in choosing where to hold the hedge, so `PerpVenue.cost`
  (what `split_order` minimises) includes the funding over `funding_horizon_s`.
Gas, a fixed cost per transaction, is not proportional and stays out of the rate too.

`trade_cost_rate` is that formula on arrays; `cpmm_cost_rate` and `perp_cost_rate` apply it to
each venue kind's twin (the float router maths, and the twin's fill price passed in), shaped
(N,) for the agent's worlds or scalar for the keeper's venues (`CpmmVenue.cost_rate`,
`PerpVenue.cost_rate`, and `route_cost_rate` across a split).

The constant-product cost and rate (`cpmm_cost`, `cpmm_rate`) use arithmetic operators only, so
the same code runs on floats, numpy arrays and torch tensors, differentiably: learned hedging
(`sim.learn`) trains and evaluates on it, and the simulator's keeper agent and the keeper price
a pool trade with it (`cpmm_cost_rate`, `CpmmVenue`) — one formula for all four.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sim.errors import SimError
from sim.venues.cpmm.batch import BPS, get_amount_in, get_amount_out
from sim.venues.perp.twin import DAY, WAD, VenueState, hedge_cost, tdiv

PROBE = 1e-9
"""At q = 0 the cost rate is its limit, taken at a trade of PROBE × the venue's depth (the base
reserve, or the skew scale) on the buy side: the fee to first order."""


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

    def cost_rate(self, q: float) -> float:
        """The policies' cost rate of trading q here (`trade_cost_rate`)."""
        ...


# --------------------------------------------------------------------------- cost rate


def trade_cost_rate(cost, q, mid):
    """(cost − q · mid) / (|q| · mid): fee + impact of trading signed `q` base for `cost`
    quote (paid; negative when received) as a fraction of its notional at the venue's `mid`.
    The one definition of the policies' cost rate (see the module docstring); q != 0.
    Arithmetic only (floats, numpy arrays, torch tensors); shapes broadcast."""
    return (cost - q * mid) / (abs(q) * mid)


def _probe(q, depth):
    """q, or PROBE × depth where q == 0 (the rate's limit at q = 0); arithmetic only."""
    return q + (q == 0) * (PROBE * depth)


def cpmm_cost(x, y, fee_bps, q):
    """Quote paid to trade signed `q` base on a constant-product pool with base reserve `x`,
    quote reserve `y` and fee `fee_bps` on the input (negative: quote received), g = 1 − fee:

        buy q > 0:    getAmountIn(q)   =  y q / ((x − q) g)
        sell u = −q:  −getAmountOut(u) = −g u y / (x + g u)

    the float twin's router maths (`sim.venues.cpmm.batch.get_amount_in` / `get_amount_out`,
    the one definition), equal to the exact integer twin (`sim.venues.cpmm.twin`) up to its
    floors.

    Arithmetic operators only, so floats, numpy arrays and torch tensors (differentiably) all
    go through this one formula: the sides are split as buy = (|q| + q) / 2 and
    sell = (|q| − q) / 2, each exactly |q| or 0, with no branch. Defined for q < x (a buy of the
    whole base reserve has no price; `cpmm_trade_cost` maps those to inf). Shapes broadcast.
    """
    a = abs(q)
    buy = (a + q) * 0.5
    sell = (a - q) * 0.5
    return get_amount_in(buy, y, x, fee_bps) - get_amount_out(sell, x, y, fee_bps)


def cpmm_rate(x, y, fee_bps, q):
    """The cost rate (`trade_cost_rate`) of trading signed `q` on a constant-product pool,
    mid y / x, `cpmm_cost` priced; at q = 0 its limit on the buy side (≈ fee / (1 − fee)).
    Arithmetic only like `cpmm_cost` (floats, numpy arrays, torch tensors); q < x."""
    q = _probe(q, x)
    return trade_cost_rate(cpmm_cost(x, y, fee_bps, q), q, y / x)


def cpmm_trade_cost(x, y, fee_bps, q) -> np.ndarray:
    """`cpmm_cost` on arrays, 0 at q = 0, inf where a buy takes the whole base reserve (no
    such trade). Shapes broadcast."""
    q = np.asarray(q, dtype=float)
    possible = q < x
    return np.where(possible, cpmm_cost(x, y, fee_bps, np.where(possible, q, 0.0)), np.inf)


def cpmm_cost_rate(x, y, fee_bps, q) -> np.ndarray:
    """`cpmm_rate` on arrays: the cost rate of trading `q` on a constant-product pool (mid
    y / x); inf where a buy takes the whole base reserve (no such trade). Shapes broadcast."""
    q = np.asarray(q, dtype=float)
    possible = q < x
    return np.where(possible, cpmm_rate(x, y, fee_bps, np.where(possible, q, 0.0)), np.inf)


def perp_trade_cost(q, fill, taker_fee) -> np.ndarray:
    """Quote the perp takes for trading `q` at `fill`: q · fill plus the taker fee
    |q| · fill · taker_fee (`PerpMarket.modify_position`), valued at the fill."""
    q = np.asarray(q, dtype=float)
    return q * fill + np.abs(q) * fill * taker_fee


def perp_cost_rate(
    fill_price: Callable[[np.ndarray], np.ndarray], taker_fee, skew_scale, q
) -> np.ndarray:
    """The cost rate of trading `q` on the perp, given its twin's `fill_price(size)` (the
    batch's, or the integer twin's for one market): mid is the fill at size 0. Funding is
    not in it (see the module docstring). Shapes broadcast."""
    q = _probe(np.asarray(q, dtype=float), skew_scale)
    fill = fill_price(q)
    return trade_cost_rate(perp_trade_cost(q, fill, taker_fee), q, fill_price(np.zeros_like(q)))


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

    @property
    def mid(self) -> float:
        return self.reserve_quote / self.reserve_base

    def cost(self, q: float) -> float:
        return float(cpmm_trade_cost(self.reserve_base, self.reserve_quote, self.fee_bps, q))

    def cost_rate(self, q: float) -> float:
        return float(cpmm_cost_rate(self.reserve_base, self.reserve_quote, self.fee_bps, q))

    def inverse_marginal(self, lam: float, buy: bool) -> float:
        x, y, g = self.reserve_base, self.reserve_quote, self._g
        if buy:
            size = x - math.sqrt(x * y / (lam * g)) if lam > 0 else 0.0
        else:
            size = (math.sqrt(g * x * y) / math.sqrt(lam) - x) / g if lam > 0 else math.inf
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
class V3Venue:
    """A Uniswap V3 pool seen as a hedging venue: piecewise constant product (module docstring).

    Amounts in whole tokens, prices in quote per base. `up` holds the pieces a buy of base
    walks through from `price` (each: the price where it ends, and its liquidity L in
    √(base·quote) units, so that a piece from Ps to Pe holds L·|1/√Ps − 1/√Pe| base and
    L·|√Pe − √Ps| quote); `down` the pieces a sale walks through. The last piece of each side
    ends where the pool's ticks were read (`from_ticks`): beyond it nothing is known, so the
    venue's capacity stops there. The fee is charged on the input: a buy pays quote / (1 − fee),
    a sale puts base × (1 − fee) into the curve.
    """

    name: str
    price: float
    fee: float
    """Fraction of the input (the pool's fee in pips / 1e6)."""
    up: tuple[tuple[float, float], ...] = ()
    down: tuple[tuple[float, float], ...] = ()
    gas_quote: float = 0.0
    max_order: float = math.inf
    """Per-order cap on |q|, base units."""

    @classmethod
    def from_ticks(cls, name: str, *, sqrt_price_x96: int, liquidity: int,
                   liquidity_net: dict[int, int], tick: int, tick_lo: int, tick_hi: int,
                   fee_pips: int, base_is_token0: bool, decimals0: int, decimals1: int,
                   **caps: float) -> V3Venue:  # fmt: skip
        """The venue from the pool's state: its price and in-range liquidity, and the
        `liquidity_net` of every initialised tick in [tick_lo, tick_hi] (where the ticks were
        read). Raw prices (token1 base units per token0 base unit) become quote per base."""
        scale = 10.0 ** (decimals0 - decimals1)
        l_unit = 10.0 ** ((decimals0 + decimals1) / 2)

        def human(raw: float) -> float:
            return raw * scale if base_is_token0 else 1.0 / (raw * scale)

        def pieces(ticks: list[int], end: int, sign: int) -> tuple[tuple[float, float], ...]:
            out, active = [], liquidity
            for t in [*ticks, end]:
                out.append((human(1.0001**t), active / l_unit))
                active += sign * liquidity_net.get(t, 0)
            return tuple(out)

        above = sorted(t for t in liquidity_net if tick < t < tick_hi)
        below = sorted((t for t in liquidity_net if tick_lo < t <= tick), reverse=True)
        raw_up, raw_down = pieces(above, tick_hi, 1), pieces(below, tick_lo, -1)
        up, down = (raw_up, raw_down) if base_is_token0 else (raw_down, raw_up)
        price = human((sqrt_price_x96 / 2**96) ** 2)
        return cls(name, price, fee_pips / 1e6, up, down, **caps)

    @property
    def mid(self) -> float:
        return self.price

    def _walk(self, buy: bool, base: float = math.inf, until: float | None = None):
        """(base, quote) moved into (sale) or out of (buy) the curve from `price`, fee
        excluded, stopping at `base` or at the price `until`, whichever comes first."""
        moved = quote = 0.0
        s = math.sqrt(self.price)
        for end, liq in self.up if buy else self.down:
            if until is not None and (end >= until if buy else end <= until):
                end = until
            e = math.sqrt(end)
            piece = liq * abs(1 / s - 1 / e)
            if moved + piece >= base and liq > 0:
                inv = 1 / s - (base - moved) / liq if buy else 1 / s + (base - moved) / liq
                return base, quote + liq * abs(1 / inv - s)
            moved, quote, s = moved + piece, quote + liq * abs(e - s), e
            if until is not None and end == until:
                break
        return moved, quote

    def cost(self, q: float) -> float:
        if q == 0:
            return 0.0
        buy = q > 0
        net = abs(q) if buy else abs(q) * (1 - self.fee)
        moved, quote = self._walk(buy, net)
        if moved < net * (1 - 1e-12):
            return math.inf  # beyond the ticks read: no price known
        return quote / (1 - self.fee) if buy else -quote

    def cost_rate(self, q: float) -> float:
        q = _probe(q, self.capacity(True) or 1.0)
        return trade_cost_rate(self.cost(q), q, self.price)

    def inverse_marginal(self, lam: float, buy: bool) -> float:
        target = lam * (1 - self.fee) if buy else lam / (1 - self.fee)
        if (target <= self.price) if buy else (target >= self.price or target <= 0):
            return 0.0
        net, _ = self._walk(buy, until=target)
        return min(net if buy else net / (1 - self.fee), self.capacity(buy))

    def capacity(self, buy: bool) -> float:
        """What the pieces read hold (a sale's gross input), 99 % of it: the last wei of a
        piece is where the integer pool and these floats may disagree."""
        net, _ = self._walk(buy)
        depth = net if buy else net / (1 - self.fee)
        return min(0.99 * depth, self.max_order)


def perp_fill_price(state: VenueState, size: int) -> int:
    """`fillPrice(size)` of the perp (wad) from its public figures, as
    `sim.venues.perp.twin.PerpMarket.fill_price` (oracle × (1 + mean of the premia before and after))."""
    return state.price + tdiv(state.price * (2 * state.skew + size), 2 * state.skew_scale)


@dataclass(frozen=True)
class PerpVenue:
    """The perpetual future (`contracts/PerpMarket.vy`) seen as a hedging venue.

    Costs come from the market's public figures (`VenueState`) through the twin: the fill
    price from the skew premium (`perp_fill_price`), the taker fee, and the funding a position
    of that size pays over `funding_horizon_s` at the post-trade skew (`sim.venues.perp.twin.hedge_cost`).
    The cost of buying q base is ``q * fill + fee + expected_funding`` (quote units, floats of
    whole tokens), which is what the trade takes from a fresh account's equity marked at the
    oracle, plus the funding. The policies' cost rate (`cost_rate`) leaves the funding out.

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

    def fill(self, q: float) -> float:
        """Fill price of trading q base, quote per base (the integer twin's, as a float)."""
        return perp_fill_price(self.state, int(round(q * WAD))) / WAD

    @property
    def mid(self) -> float:
        return self.fill(0.0)

    @property
    def _fee_rate(self) -> float:
        return self.state.taker_fee_bps / BPS

    def trade_cost(self, q: float) -> float:
        """Quote paid for q base at the fill, taker fee included, funding excluded."""
        return float(perp_trade_cost(q, self.fill(q), self._fee_rate))

    def cost(self, q: float) -> float:
        if q == 0:
            return 0.0
        s = self.state
        funding = hedge_cost(s, int(round(q * WAD)), self.funding_horizon_s, 0, 0).expected_funding
        return self.trade_cost(q) + funding / 10**s.quote_decimals

    def cost_rate(self, q: float) -> float:
        fill = np.vectorize(self.fill, otypes=[float])
        return float(perp_cost_rate(fill, self._fee_rate, self._f(self.state.skew_scale), q))

    def _linear(self, buy: bool) -> tuple[float, float]:
        """(a, b) with the marginal cost (buy) or proceeds (sell) a + b * size, or a - b * size."""
        s = self.state
        price, skew, scale = self._f(s.price), self._f(s.skew), self._f(s.skew_scale)
        fee = self._fee_rate
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


def route_cost_rate(q: float, venues: list[Venue] | tuple[Venue, ...]) -> float:
    """The cost rate of the trade the keeper would make for an order of q base across
    `venues` (those of q's side): the notional-weighted rate of `split_order`'s legs, the
    order cut to the venues' capacity. With one venue it is that venue's `cost_rate(q)`, the
    simulator agent's. 0.0 where no venue can take any of it (nothing to price; the plan then
    reports no depth)."""
    if q == 0:
        rates = [v.cost_rate(0.0) for v in venues if v.capacity(True) > 0]
        return min(rates) if rates else 0.0
    buy = q > 0
    capacity = sum(v.capacity(buy) for v in venues)
    if capacity <= 0:
        return 0.0
    size = math.copysign(min(abs(q), capacity * (1 - 1e-9)), q)
    try:
        route = split_order(size, venues)
    except RoutingError:
        return 0.0
    by_name = {v.name: v for v in venues}
    weighted = sum(abs(leg.size) * by_name[leg.venue].cost_rate(leg.size) for leg in route.legs)
    return weighted / abs(route.size)

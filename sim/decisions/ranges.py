"""Range policies: where a concentrated-liquidity (Uniswap V3) position should sit, as pure,
batch-shaped decisions of the keeper.

One code path for simulation and chain, as for hedging (`sim.decisions.hedging`): the
simulator's keeper agent calls a policy with arrays over its worlds, the live keeper with
arrays of one world. A policy only decides: move the range or not, and to which ticks; the
caller executes (decreaseLiquidity, collect, the swap to the new token ratio, mint) and hedges
what the position leaves. `sim.decisions.policies` names the policies for configs.

Policies (`kind`):
    none        no position at all: the keeper holds the tokens (the hold baseline);
    static      the range opened at the start, never moved;
    recentre    a fixed width, recentred on the pool price when the price leaves the range or
                a trigger band inside it;
    vol_width   the width from volatility, log half-width k·σ̂·√horizon (σ̂ the forecaster's
                forecast, `sim.learn.features.VolForecast`), re-set when the price leaves the
                trigger band or the target width moves beyond a tolerance;
    periodic    a fixed width, recentred every `interval` seconds.

Every move is weighed before it fires: it goes ahead only where its expected gain, the fees
the new range earns over `horizon` seconds beyond what the current one would (net of the
ranges' expected LVR with `count_lvr`), exceeds its cost
(`min_gain_ratio` times): the gas of its four transactions plus the swap to the new token
ratio (fee and price impact, priced by the caller's twin of the pool). Expected fees of a range
are the pool's fee income F (numeraire per second, estimated from its fee growth by
`FeeIncome`) times the position's share of the liquidity in range, L / (L_others + L), times
the expected time the price spends in the range over the horizon (`expected_time_in_range`,
driftless log price with volatility σ̂). Two guards stop a move whatever it would earn: the
pool's price off the oracle's by more than `max_deviation_bps` (a pool pushed off by a trade
in flight: rebalancing there sells at a manipulated price) and an oracle older than
`max_oracle_age` seconds.

Conventions: canonical orientation of the V3 simulator (token0 = base, the risky asset; a
tick t is the price price_scale · 1.0001**t in quote per base, `sim.venues.univ3.config`);
liquidity in whole units; amounts in whole tokens; money in the numeraire (quote); time in
seconds; every array has shape (W,).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator
from scipy.special import ndtr

from sim.decisions.hedging import PolicyBase, VolSource
from sim.processes import YEAR
from sim.venues.univ3.config import LN_TICK, PRICE_SCALE, usable_ticks

_NORM = 1.0 / np.sqrt(2.0 * np.pi)


# --------------------------------------------------------------------------- range maths


def min_width(spacing: int) -> float:
    """The smallest relative half-width w whose range [P/(1+w), P(1+w)] spans one tick
    spacing: 2·ln(1+w) = spacing · ln(1.0001)."""
    return float(np.expm1(0.5 * spacing * LN_TICK))


def check_width(width: float, spacing: int, field: str, pool: str = "") -> None:
    """Refuse a relative half-width narrower than one tick spacing, in one line.

    Raises:
        ValueError: naming `field`, the width in ticks and the least width allowed.
    """
    least = min_width(spacing)
    if width < least:
        ticks = 2.0 * np.log1p(width) / LN_TICK
        where = f" of pool '{pool}'" if pool else ""
        raise ValueError(
            f"{field}: {width:g} gives a range {ticks:.3g} ticks wide, below the tick spacing"
            f"{where} ({spacing} ticks); use at least {least:.6g}"
        )


def range_ticks(
    price: np.ndarray, width: np.ndarray | float, spacing: int, price_scale: float = PRICE_SCALE
) -> tuple[np.ndarray, np.ndarray]:
    """Canonical ticks of [P / (1 + w), P (1 + w)] around each price P, widened outwards to
    multiples of `spacing`, inside the usable range and at least one spacing wide
    (`sim.venues.univ3.config.width_ticks`, per world). Shapes broadcast; int64 out."""
    lo, hi = usable_ticks(spacing)
    p = np.asarray(price, dtype=float) / price_scale
    w = 1.0 + np.asarray(width, dtype=float)
    lower = np.floor(np.log(p / w) / LN_TICK / spacing).astype(np.int64) * spacing
    upper = np.ceil(np.log(p * w) / LN_TICK / spacing).astype(np.int64) * spacing
    lower = np.clip(lower, lo, hi - spacing)
    upper = np.maximum(np.minimum(upper, hi), lower + spacing)
    return lower, upper


def recentred(
    price: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    spacing: int,
    price_scale: float = PRICE_SCALE,
) -> tuple[np.ndarray, np.ndarray]:
    """The range [lower, upper) moved, its span in ticks kept, so that its centre is the
    nearest multiple-of-spacing placement to the price's tick (rounding the width afresh each
    move would widen it by up to a spacing a time). Shapes broadcast; int64 out."""
    lo, hi = usable_ticks(spacing)
    span = np.asarray(upper, dtype=np.int64) - np.asarray(lower, dtype=np.int64)
    centre = np.log(np.asarray(price, dtype=float) / price_scale) / LN_TICK
    new = np.rint((centre - 0.5 * span) / spacing).astype(np.int64) * spacing
    new = np.clip(new, lo, hi - span)
    return new, new + span


def range_width(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Relative half-width w of a tick range: (1 + w)² = 1.0001**(upper − lower)."""
    return np.expm1(0.5 * (np.asarray(upper) - np.asarray(lower)) * LN_TICK)


def tokens_per_liquidity(
    sqrt_lower: np.ndarray, sqrt_upper: np.ndarray, sqrt_price: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(base, quote) held by one unit of liquidity on [s_a, s_b) at sqrt price s (Uniswap's
    LiquidityAmounts in floats, as `sim.decisions.book.v3_position_greeks`)."""
    c = np.clip(sqrt_price, sqrt_lower, sqrt_upper)
    return (sqrt_upper - c) / (c * sqrt_upper), c - sqrt_lower


def sqrt_at(tick: np.ndarray, price_scale: float = PRICE_SCALE) -> np.ndarray:
    """sqrt(price) of canonical tick(s), whole units (the float twin's `sqrt_at_tick`)."""
    return np.exp(np.asarray(tick, dtype=float) * (0.5 * LN_TICK)) * np.sqrt(price_scale)


def _occupation(a: np.ndarray, sigma: np.ndarray, horizon: float) -> np.ndarray:
    """∫_0^H Φ(a / (σ √t)) dt in closed form: with c = a/σ,
    (H + c²) Φ(c/√H) + c √H φ(c/√H) − c² 1{c > 0} (each term's derivative in t sums to
    Φ(c/√t)); for σ = 0, H 1{a > 0} (and H/2 at a = 0, the limit)."""
    pos = sigma > 0
    c = np.where(pos, a / np.where(pos, sigma, 1.0), 0.0)
    r = np.sqrt(horizon)
    z = c / r
    out = (horizon + c * c) * ndtr(z) + c * r * _NORM * np.exp(-0.5 * z * z) - c * c * (c > 0)
    still = horizon * np.where(a > 0, 1.0, np.where(a < 0, 0.0, 0.5))
    return np.where(pos, out, still)


def expected_time_in_range(
    log_lower: np.ndarray,
    log_upper: np.ndarray,
    log_price: np.ndarray,
    sigma: np.ndarray,
    horizon: float,
) -> np.ndarray:
    """E ∫_0^H 1{ln P_t ∈ [ln P_a, ln P_b)} dt, seconds, for a driftless log price
    ln P_t = ln P_0 + σ W_t (σ annualised, H seconds): ∫_0^H [Φ((b − x)/(σ√t)) −
    Φ((a − x)/(σ√t))] dt, by `_occupation`'s closed form. Shapes broadcast."""
    s = np.asarray(sigma, dtype=float) / np.sqrt(YEAR)
    x = np.asarray(log_price, dtype=float)
    return _occupation(np.asarray(log_upper) - x, s, horizon) - _occupation(
        np.asarray(log_lower) - x, s, horizon
    )


class FeeIncome:
    """Estimate of a pool's fee income F, numeraire per second, for N worlds: from the pool's
    fee growth per unit of liquidity (feeGrowthGlobal, both tokens) between observations,
    valued at spot and times the liquidity in range, smoothed exponentially over `window`
    seconds. Before two observations the estimate is 0 (no move pays for itself yet)."""

    def __init__(self, window: float, n: int = 1):
        self.window = window
        self.rate = np.zeros(n)
        self.last_t = np.full(n, np.nan)
        self.last_g0 = np.zeros(n)
        self.last_g1 = np.zeros(n)

    def observe(self, now, growth0, growth1, spot, liquidity) -> np.ndarray:
        """Fee growth per unit of whole liquidity now (base, quote), spot and the pool's
        liquidity in range (whole units), (N,) each; returns F (N,)."""
        now = np.asarray(now, dtype=float)
        dt = now - self.last_t
        seen = np.isfinite(dt) & (dt > 0)
        earned = ((growth0 - self.last_g0) * spot + (growth1 - self.last_g1)) * liquidity
        inst = np.where(seen, earned / np.where(seen, dt, 1.0), 0.0)
        alpha = np.where(seen, -np.expm1(-np.where(seen, dt, 0.0) / self.window), 0.0)
        self.rate = self.rate + alpha * (inst - self.rate)
        fresh = ~(dt <= 0)  # NaN (first) or later
        self.last_t = np.where(fresh, now, self.last_t)
        self.last_g0 = np.where(fresh, growth0, self.last_g0)
        self.last_g1 = np.where(fresh, growth1, self.last_g1)
        return self.rate.copy()


# --------------------------------------------------------------------------- inputs, decision


SwapCost = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""swap_cost(amount_in, direction) -> numeraire lost (fee + impact) by selling `amount_in` of
the base (direction −1) or quote (+1) on the rebalance's venue, against its value at spot."""


@dataclass(frozen=True)
class RangeInputs:
    """What a range policy sees, for W worlds at once (module docstring for units).

    Attributes:
        now: time, seconds. spot: the oracle's (or reference) price, quote per base.
        sqrt_price: the pool's sqrt price, sqrt(quote per base). tick: its current tick (int).
        lower, upper: the position's canonical ticks (int); liquidity: its liquidity (0: none
            open).
        base_idle, quote_idle: tokens held beside the position that a rebalance re-deposits
            (fees owed, earlier leftovers).
        pool_liquidity: the pool's liquidity in range, whole units (the position's included).
        fee_income: the pool's fee income F, numeraire per second (`FeeIncome`).
        sigma: volatility forecast σ̂, annualised.
        last_rebalance: time of the last open or move, seconds (−inf: never).
        gas: numeraire cost of a rebalance's transactions (decrease, collect, swap, mint).
        oracle_age: seconds since the spot price was last updated (0 for the reference).
        tick_spacing: the pool's tick spacing; price_scale: price of tick 0.
        swap_cost: prices the swap to the new token ratio (`SwapCost`).
    """

    now: np.ndarray
    spot: np.ndarray
    sqrt_price: np.ndarray
    tick: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    liquidity: np.ndarray
    base_idle: np.ndarray
    quote_idle: np.ndarray
    pool_liquidity: np.ndarray
    fee_income: np.ndarray
    sigma: np.ndarray
    last_rebalance: np.ndarray
    gas: np.ndarray
    oracle_age: np.ndarray
    tick_spacing: int
    swap_cost: SwapCost
    price_scale: float = PRICE_SCALE

    @property
    def price(self) -> np.ndarray:
        return self.sqrt_price * self.sqrt_price

    @property
    def in_range(self) -> np.ndarray:
        return (self.liquidity > 0) & (self.lower <= self.tick) & (self.tick < self.upper)


@dataclass(frozen=True)
class RangeDecision:
    """Per world: whether to move the range now and where, the move's swap, and the figures it
    was weighed on. Shapes (W,).

    Attributes:
        rebalance: move now. lower, upper: the new canonical ticks (the current ones where not).
        swap_amount, swap_direction: the swap to the new token ratio after the withdrawal:
            sell `swap_amount` of the base (direction −1) or the quote (+1); 0 where none.
        gain: expected extra fees over the horizon, numeraire. cost: gas + the swap's cost.
        blocked: the guards refused (pool off the oracle, stale oracle) where a move was due.
    """

    rebalance: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    swap_amount: np.ndarray
    swap_direction: np.ndarray
    gain: np.ndarray
    cost: np.ndarray
    blocked: np.ndarray


def plan_move(
    x: RangeInputs, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The swap that turns everything the position and the idle tokens hold into the token
    ratio of [lower, upper) at the pool price, and the liquidity left after its cost.

    Value V = X P + Y of the tokens X, Y after the withdrawal (the position's tokens at the
    pool price P plus the idle ones); the new range holds a share φ = x₁P / (x₁P + y₁) of its
    value in the base (x₁, y₁ per unit of liquidity), so the surplus token is sold: the base
    X − φV/P where positive, else the quote Y − (1 − φ)V.

    Returns:
        (amount, direction, cost, liquidity): the swap (direction −1 base in, +1 quote in,
        0 none), its cost (`RangeInputs.swap_cost`) and the liquidity (V − cost) buys.
    """
    s, p = x.sqrt_price, x.price
    xa, ya = tokens_per_liquidity(
        sqrt_at(x.lower, x.price_scale), sqrt_at(x.upper, x.price_scale), s
    )
    base = x.liquidity * xa + x.base_idle
    quote = x.liquidity * ya + x.quote_idle
    value = base * p + quote
    x1, y1 = tokens_per_liquidity(sqrt_at(lower, x.price_scale), sqrt_at(upper, x.price_scale), s)
    unit = x1 * p + y1
    surplus = base - value * (x1 * p / unit) / p
    direction = np.where(surplus > 0, -1, np.where(surplus < 0, 1, 0)).astype(np.int64)
    amount = np.where(surplus > 0, surplus, -surplus * p)
    cost = np.where(direction != 0, x.swap_cost(amount, direction), 0.0)
    liquidity = np.maximum(value - cost, 0.0) / unit
    return amount, direction, cost, liquidity


def expected_fees(
    x: RangeInputs,
    lower: np.ndarray,
    upper: np.ndarray,
    liquidity: np.ndarray,
    horizon: float,
) -> np.ndarray:
    """Fees a position of `liquidity` on [lower, upper) earns over `horizon` seconds in
    expectation: F · L / (L_others + L) · E[time in range] (module docstring); L_others is
    the pool's liquidity in range without the current position's."""
    others = np.maximum(x.pool_liquidity - np.where(x.in_range, x.liquidity, 0.0), 0.0)
    total = others + liquidity
    share = np.where(total > 0, liquidity / np.where(total > 0, total, 1.0), 0.0)
    return x.fee_income * share * _occupation_of(x, lower, upper, horizon)


def _occupation_of(x: RangeInputs, lower, upper, horizon: float) -> np.ndarray:
    return expected_time_in_range(
        lower * LN_TICK, upper * LN_TICK, 2.0 * np.log(x.sqrt_price / np.sqrt(x.price_scale)),
        x.sigma, horizon,
    )  # fmt: skip


def expected_lvr(
    x: RangeInputs, lower: np.ndarray, upper: np.ndarray, liquidity: np.ndarray, horizon: float
) -> np.ndarray:
    """LVR a position of `liquidity` on [lower, upper) loses over `horizon` seconds in
    expectation: σ̂² L √P / 4 per unit time while in range (Milionis, Moallemi, Roughgarden,
    Zhang 2022, for x(P) = L (1/√P − 1/√P_b)), at the pool's price now, times the expected
    time in range. Numeraire."""
    rate = (x.sigma**2 / YEAR) * liquidity * x.sqrt_price / 4.0
    return rate * _occupation_of(x, lower, upper, horizon)


# --------------------------------------------------------------------------- policies


class RangePolicyBase(PolicyBase):
    """What every range policy weighs a move with (module docstring)."""

    horizon: float = Field(86400.0, gt=0, description="Seconds over which a move's fees are weighed.")  # fmt: skip
    min_gain_ratio: float = Field(
        1.0, ge=0, description="Move only where expected gain > this × the move's cost "
        "(0: no such test, the trigger alone decides).",
    )  # fmt: skip
    min_delay: float = Field(0.0, ge=0, description="Seconds between moves.")
    max_deviation_bps: float = Field(
        100.0, gt=0, description="Guard: no move while the pool's price is further than this "
        "from the oracle's, basis points.",
    )  # fmt: skip
    max_oracle_age: float = Field(
        3600.0, gt=0, description="Guard: no move on an oracle price older than this, seconds."
    )
    fee_window: float = Field(
        3600.0, gt=0, description="Seconds over which the pool's fee income is averaged."
    )
    count_lvr: bool = Field(
        False, description="Weigh each range's expected LVR against its fees (`expected_lvr`); "
        "off: fees alone, the keeper's hedge bearing the position's gamma.",
    )  # fmt: skip
    vol: VolSource = Field(
        default_factory=VolSource, description="Where σ̂ comes from (the move's expected time "
        "in range; `vol_width`'s width).",
    )  # fmt: skip

    opens: ClassVar[bool] = True
    """Whether the keeper opens a position at all (`none` does not)."""

    def target(self, x: RangeInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(want, lower, upper): where this policy wants to move, before weighing the move."""
        no = np.zeros(np.shape(x.now), dtype=bool)
        return no, x.lower, x.upper

    def decide(self, x: RangeInputs) -> RangeDecision:
        want, lower, upper = self.target(x)
        want = want & (x.liquidity > 0) & ((lower != x.lower) | (upper != x.upper))
        rested = x.now - x.last_rebalance >= self.min_delay
        off = np.abs(x.price / x.spot - 1.0) * 1e4 > self.max_deviation_bps
        stale = x.oracle_age > self.max_oracle_age
        blocked = want & (off | stale)
        go = want & rested & ~blocked
        zero = np.zeros(np.shape(x.now))
        if not go.any():
            none = np.zeros(np.shape(x.now), dtype=np.int64)
            return RangeDecision(go, x.lower, x.upper, zero, none, zero, zero, blocked)
        amount, direction, swap_cost, liquidity = plan_move(x, lower, upper)
        gain = expected_fees(x, lower, upper, liquidity, self.horizon) - expected_fees(
            x, x.lower, x.upper, x.liquidity, self.horizon
        )
        if self.count_lvr:
            gain = gain - (
                expected_lvr(x, lower, upper, liquidity, self.horizon)
                - expected_lvr(x, x.lower, x.upper, x.liquidity, self.horizon)
            )
        cost = x.gas + swap_cost
        if self.min_gain_ratio > 0:
            go = go & (gain > self.min_gain_ratio * cost)
        return RangeDecision(
            go,
            np.where(go, lower, x.lower),
            np.where(go, upper, x.upper),
            np.where(go, amount, 0.0),
            np.where(go, direction, 0),
            np.where(want, gain, 0.0),
            np.where(want, cost, 0.0),
            blocked,
        )


def _moved(x: RangeInputs, width: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The range around the pool price: of relative half-width `width`, or (None) the current
    range's span in ticks, recentred."""
    if width is None:
        return recentred(x.price, x.lower, x.upper, x.tick_spacing, x.price_scale)
    return range_ticks(x.price, width, x.tick_spacing, x.price_scale)


def triggered(x: RangeInputs, trigger: float) -> np.ndarray:
    """The pool's tick outside the range, or further from its centre than `trigger` × its
    half-width (trigger 1: only outside)."""
    centre = 0.5 * (x.lower + x.upper)
    half = 0.5 * (x.upper - x.lower)
    outside = (x.tick < x.lower) | (x.tick >= x.upper)
    return outside | (np.abs(x.tick - centre) > trigger * half)


class NoRange(RangePolicyBase):
    """No position: the keeper holds the tokens it would deposit (the hold baseline)."""

    kind: Literal["none"] = "none"
    opens: ClassVar[bool] = False


class StaticRange(RangePolicyBase):
    """The range opened at the start, never moved."""

    kind: Literal["static"] = "static"


class Recentre(RangePolicyBase):
    """A fixed width, recentred on the pool price when the price leaves the range or the
    trigger band inside it."""

    kind: Literal["recentre"] = "recentre"
    width: float | None = Field(
        None, gt=0, description="Relative half-width of the new range (None: the current one's)."
    )
    trigger: float = Field(
        1.0, gt=0, le=1, description="Recentre beyond this fraction of the half-width from the "
        "centre (1: only when the price leaves the range).",
    )  # fmt: skip

    def target(self, x: RangeInputs):
        lower, upper = _moved(x, self.width)
        return triggered(x, self.trigger), lower, upper


class VolWidth(RangePolicyBase):
    """The width from volatility: log half-width k · σ̂ · √(vol_horizon), re-set when the
    price leaves the trigger band or the target width is off the current one by more than
    `width_tolerance` (relative)."""

    kind: Literal["vol_width"] = "vol_width"
    k: float = Field(2.0, gt=0, description="Half-widths in standard deviations of the log price.")
    vol_horizon: float = Field(
        86400.0, gt=0, description="Seconds whose price move the half-width covers."
    )
    min_width: float | None = Field(
        None, gt=0, description="Narrowest relative half-width (None: one tick spacing)."
    )
    max_width: float = Field(1.0, gt=0, description="Widest relative half-width.")
    width_tolerance: float = Field(
        0.5, gt=0, description="Re-set when target / current width leaves [1/(1+t), 1+t]."
    )
    trigger: float = Field(
        1.0, gt=0, le=1, description="Recentre beyond this fraction of the half-width."
    )

    @model_validator(mode="after")
    def _widths(self) -> VolWidth:
        if self.min_width is not None and self.min_width > self.max_width:
            raise ValueError(
                f"max_width: {self.max_width:g} is below min_width {self.min_width:g}; "
                "raise it or lower min_width"
            )
        return self

    def target_width(self, sigma: np.ndarray | float, spacing: int = 1) -> np.ndarray:
        """Relative half-width for σ̂ (annualised): e^(k σ̂ √(vol_horizon / YEAR)) − 1,
        clipped to [min_width (default: one `spacing`), max_width]."""
        h = self.k * np.asarray(sigma, dtype=float) * np.sqrt(self.vol_horizon / YEAR)
        least = min_width(spacing) if self.min_width is None else self.min_width
        return np.clip(np.expm1(h), least, max(self.max_width, least))

    def target(self, x: RangeInputs):
        want_w = self.target_width(x.sigma, x.tick_spacing)
        ratio = want_w / range_width(x.lower, x.upper)
        off = (ratio > 1.0 + self.width_tolerance) | (ratio < 1.0 / (1.0 + self.width_tolerance))
        lower, upper = range_ticks(x.price, want_w, x.tick_spacing, x.price_scale)
        return triggered(x, self.trigger) | off, lower, upper


class Periodic(RangePolicyBase):
    """A fixed width, recentred every `interval` seconds."""

    kind: Literal["periodic"] = "periodic"
    interval: float = Field(21600.0, gt=0, description="Seconds between recentrings.")
    width: float | None = Field(
        None, gt=0, description="Relative half-width of the new range (None: the current one's)."
    )

    def target(self, x: RangeInputs):
        lower, upper = _moved(x, self.width)
        return x.now - x.last_rebalance >= self.interval, lower, upper

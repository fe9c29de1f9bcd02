"""Pre-trade guards: pure checks that each return a `Verdict` with its reason.

The keeper gathers a fresh `GuardInputs` (oracle answer, pool cumulative prices, gas price,
balance, the journal's notional over the last hour) just before it signs, and calls
`run_guards`. Nothing here reads the chain or the clock: the same inputs give the same answer,
so the checks are unit-tested without a chain and can be re-run as often as needed.

Actions, by severity: `allow` < `reduce_only` (the oracle cannot be trusted: only trades that
shrink the position may go; the kill switch is told) < `refuse` (this trade must not be sent).

TWAP: a Uniswap-V2 pool accumulates `price0CumulativeLast += UQ112x112(reserve1 / reserve0) *
elapsed` (mod 2**256) with `blockTimestampLast` mod 2**32 (see sim/venues/cpmm/twin.py). The average
price of token0 in token1 between two observations is the difference of the cumulatives over
the difference of the times; the counterfactual cumulative "now" adds the current reserves'
price for the seconds since the pool's last update (Uniswap's `currentCumulativePrices`).
A Uniswap V3 pool accumulates its tick instead (`tickCumulative += tick × elapsed`, int56,
read with `observe`): the mean tick over a window gives the geometric mean price 1.0001**tick
(`v3_tick_price`; OracleLibrary.consult's average).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from keeper.safety_config import GuardLimits
from sim.venues.cpmm.twin import encode_price

Action = Literal["allow", "reduce_only", "refuse"]
_SEVERITY = {"allow": 0, "reduce_only": 1, "refuse": 2}

Q112 = 2**112
UINT32 = 2**32
UINT256 = 2**256


@dataclass(frozen=True)
class Verdict:
    """One guard's answer: `action` is what the keeper must do, `reason` why (one line)."""

    guard: str
    action: Action
    reason: str

    @property
    def ok(self) -> bool:
        return self.action == "allow"


def _allow(guard: str, reason: str) -> Verdict:
    return Verdict(guard, "allow", reason)


# --------------------------------------------------------------------------- TWAP maths


@dataclass(frozen=True)
class CumulativeObservation:
    """A pool's cumulative price at a time: `price0_cumulative` (UQ112x112 seconds) at
    `timestamp` (seconds, full width or mod 2**32)."""

    price0_cumulative: int
    timestamp: int


def current_cumulative(
    price0_cumulative_last: int,
    reserve0: int,
    reserve1: int,
    block_timestamp_last: int,
    now: int,
) -> CumulativeObservation:
    """The pool's price0 cumulative as if it were updated at `now` (counterfactual).

    Args:
        price0_cumulative_last: `price0CumulativeLast()`.
        reserve0, reserve1: `getReserves()`[0:2].
        block_timestamp_last: `getReserves()`[2] (mod 2**32).
        now: the current block timestamp, seconds.
    """
    elapsed = (now - block_timestamp_last) % UINT32
    cumulative = price0_cumulative_last
    if elapsed and reserve0 and reserve1:
        cumulative = (cumulative + encode_price(reserve1, reserve0) * elapsed) % UINT256
    return CumulativeObservation(cumulative, now)


def twap_price0(
    start: CumulativeObservation,
    end: CumulativeObservation,
    decimals0: int = 0,
    decimals1: int = 0,
) -> float:
    """Time-weighted average price of token0 in token1 (human units) from `start` to `end`.

    Differences wrap (mod 2**256 and mod 2**32) exactly as the pool's counters do.
    Raises ValueError when no time elapsed.
    """
    elapsed = (end.timestamp - start.timestamp) % UINT32
    if elapsed == 0:
        raise ValueError("TWAP over zero seconds: take observations at different times")
    raw = ((end.price0_cumulative - start.price0_cumulative) % UINT256) / elapsed / Q112
    return raw * 10 ** (decimals0 - decimals1)


def twap_price(
    start: CumulativeObservation,
    end: CumulativeObservation,
    decimals0: int,
    decimals1: int,
    base_is_token0: bool,
) -> float:
    """TWAP of the base asset in quote units (inverting price0 when the base is token1).

    The inverse of an average is not the average of the inverse; over a short window the gap
    is second order in the price's variation, far inside any deviation bound used here.
    """
    p0 = twap_price0(start, end, decimals0, decimals1)
    return p0 if base_is_token0 else 1.0 / p0


def v3_tick_price(tick: float, decimals0: int, decimals1: int, base_is_token0: bool) -> float:
    """The base's price in quote (human units) at a V3 tick (or mean tick): token0 costs
    1.0001**tick token1 in base units; inverted when the base is token1."""
    p0 = 1.0001**tick * 10 ** (decimals0 - decimals1)
    return p0 if base_is_token0 else 1.0 / p0


# --------------------------------------------------------------------------- guards


def check_oracle_fresh(updated_at: float, now: float, max_age_s: float) -> Verdict:
    """The oracle's last answer is at most `max_age_s` old (else reduce-only)."""
    age = now - updated_at
    if age > max_age_s:
        return Verdict(
            "oracle_stale",
            "reduce_only",
            f"oracle answer is {age:.0f} s old (max {max_age_s:.0f} s)",
        )
    if age < -60:
        return Verdict(
            "oracle_stale", "reduce_only", f"oracle answer is {-age:.0f} s in the future"
        )
    return _allow("oracle_stale", f"oracle answer is {age:.0f} s old")


def deviation_bps(price: float, reference: float) -> float:
    """|price / reference - 1| in basis points."""
    if reference <= 0:
        return float("inf")
    return abs(price / reference - 1.0) * 1e4


def check_oracle_deviation(
    oracle_price: float, reference_price: float, max_bps: float, source: str = "pool TWAP"
) -> Verdict:
    """The oracle agrees with `source` (the pools' TWAP, or another feed) within `max_bps`."""
    if oracle_price <= 0:
        return Verdict(
            "oracle_deviation", "reduce_only", f"oracle answer {oracle_price} is not positive"
        )
    dev = deviation_bps(oracle_price, reference_price)
    if dev > max_bps:
        return Verdict(
            "oracle_deviation",
            "reduce_only",
            f"oracle {oracle_price:.6g} deviates {dev:.0f} bps from the {source} "
            f"{reference_price:.6g} (max {max_bps:.0f} bps)",
        )
    return _allow("oracle_deviation", f"oracle within {dev:.0f} bps of the {source}")


def check_notional_per_hedge(notional: float, limit: float) -> Verdict:
    if abs(notional) > limit:
        return Verdict(
            "notional_per_hedge",
            "refuse",
            f"hedge notional {abs(notional):,.0f} exceeds the per-hedge cap {limit:,.0f}",
        )
    return _allow("notional_per_hedge", f"notional {abs(notional):,.0f} within {limit:,.0f}")


def check_notional_per_hour(used_last_hour: float, notional: float, limit: float) -> Verdict:
    """`used_last_hour`: `Journal.notional_since(now - 3600)` (this intent excluded)."""
    total = used_last_hour + abs(notional)
    if total > limit:
        return Verdict(
            "notional_per_hour",
            "refuse",
            f"{used_last_hour:,.0f} traded in the last hour + {abs(notional):,.0f} exceeds the "
            f"hourly cap {limit:,.0f}",
        )
    return _allow("notional_per_hour", f"{total:,.0f} of {limit:,.0f} this hour")


def slippage_bps(reference_price: float, execution_price: float, is_buy: bool) -> float:
    """Shortfall of the execution price against the reference, in bps (negative: better).

    Buying base, paying more than the reference is slippage; selling, receiving less is.
    """
    if reference_price <= 0:
        return float("inf")
    ratio = execution_price / reference_price - 1.0
    return (ratio if is_buy else -ratio) * 1e4


def check_slippage(
    reference_price: float, execution_price: float, is_buy: bool, max_bps: float
) -> Verdict:
    slip = slippage_bps(reference_price, execution_price, is_buy)
    if slip > max_bps:
        side = "buy" if is_buy else "sell"
        return Verdict(
            "slippage",
            "refuse",
            f"{side} at {execution_price:.6g} against {reference_price:.6g} slips {slip:.0f} bps "
            f"(max {max_bps:.0f} bps)",
        )
    return _allow("slippage", f"slippage {slip:.1f} bps")


def check_gas_price(gas_price_wei: int, max_gwei: float) -> Verdict:
    """`gas_price_wei`: what the transaction would pay per gas now (base fee + tip)."""
    gwei = gas_price_wei / 1e9
    if gwei > max_gwei:
        return Verdict(
            "gas_price", "refuse", f"gas price {gwei:.1f} gwei is above the cap {max_gwei:.1f} gwei"
        )
    return _allow("gas_price", f"gas price {gwei:.1f} gwei")


def check_native_balance(balance_wei: int, gas_cost_wei: int, min_wei: int) -> Verdict:
    """After paying `gas_cost_wei` the account keeps at least `min_wei` for later gas."""
    left = balance_wei - gas_cost_wei
    if left < min_wei:
        return Verdict(
            "native_balance",
            "refuse",
            f"balance {balance_wei / 1e18:.4f} ETH less gas {gas_cost_wei / 1e18:.4f} leaves "
            f"{left / 1e18:.4f} ETH, below the minimum {min_wei / 1e18:.4f}: fund the keeper",
        )
    return _allow("native_balance", f"{left / 1e18:.4f} ETH left after gas")


# --------------------------------------------------------------------------- all together


@dataclass(frozen=True)
class GuardInputs:
    """Fresh state for one hedge, gathered just before signing.

    Attributes:
        now: current block timestamp, seconds.
        notional: the hedge's notional, quote units.
        used_last_hour: notional of other intents in the last hour (from the journal).
        oracle_price, oracle_updated_at: the feed's answer (quote per base) and its time.
        reference_price: an independent price (pool TWAP from `twap_price`, or another feed);
            None skips the deviation check.
        execution_price: expected price of the hedge trade (quote per base), checked against
            the oracle; None skips the slippage check (e.g. a plain transfer).
        is_buy: whether the hedge buys the base asset.
        gas_price_wei: base fee + tip the transaction would pay.
        gas_cost_wei: gas limit x max fee of the transaction.
        native_balance_wei: the keeper account's ETH balance.
    """

    now: float
    notional: float
    used_last_hour: float
    oracle_price: float
    oracle_updated_at: float
    reference_price: float | None
    execution_price: float | None
    is_buy: bool
    gas_price_wei: int
    gas_cost_wei: int
    native_balance_wei: int


@dataclass(frozen=True)
class GuardReport:
    verdicts: tuple[Verdict, ...] = field(default_factory=tuple)

    @property
    def action(self) -> Action:
        """The most severe action of all verdicts."""
        return max((v.action for v in self.verdicts), key=_SEVERITY.__getitem__, default="allow")

    @property
    def ok(self) -> bool:
        return self.action == "allow"

    @property
    def objections(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.ok)

    @property
    def reason(self) -> str:
        """One line: every objection, most severe first (empty when allowed)."""
        worst = sorted(self.objections, key=lambda v: -_SEVERITY[v.action])
        return "; ".join(f"{v.guard}: {v.reason}" for v in worst)


def run_guards(x: GuardInputs, limits: GuardLimits) -> GuardReport:
    """Every guard on `x`. `report.action` is what the keeper must do with this hedge:
    `allow`; `reduce_only` (send only if it shrinks the position, and tell the kill switch);
    `refuse` (journal the refusal, do not send)."""
    verdicts = [
        check_oracle_fresh(x.oracle_updated_at, x.now, limits.oracle_max_age_s),
        check_notional_per_hedge(x.notional, limits.max_notional_per_hedge_quote),
        check_notional_per_hour(x.used_last_hour, x.notional, limits.max_notional_per_hour_quote),
        check_gas_price(x.gas_price_wei, limits.max_gas_price_gwei),
        check_native_balance(x.native_balance_wei, x.gas_cost_wei, limits.min_native_balance_wei),
    ]
    if x.reference_price is not None:
        verdicts.append(
            check_oracle_deviation(
                x.oracle_price, x.reference_price, limits.oracle_max_deviation_bps
            )
        )
    if x.execution_price is not None:
        verdicts.append(
            check_slippage(x.oracle_price, x.execution_price, x.is_buy, limits.max_slippage_bps)
        )
    return GuardReport(tuple(verdicts))

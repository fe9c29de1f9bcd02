"""Gas limits that survive a block change: per method, the worst path it can take in the
next blocks, on top of the gas estimate.

Why an estimate alone runs out. `eth_estimateGas` at `latest` runs the call in the latest
block's context: its timestamp, its state. The transaction lands in a later block, and every
contract the keeper trades has paths that only a later block takes, or that another
transaction in between can open:

* once per timestamp: the perp accrues funding only when `block.timestamp` differs from
  `lastFundingTime` (PerpMarket `_accrue_funding`: two SSTOREs and a log); a V2 pair and
  ammlab's pool add to their cumulative prices only when time has passed since the last
  update (`_update`: two SSTOREs); a V3 pool writes an oracle observation on the first swap of
  a block. A venue another transaction touched in the latest block is estimated without that
  path, and pays it on inclusion.
* zero to non-zero: an SSTORE that sets a zero slot costs 20,000 gas against 2,900 for a
  non-zero one (EIP-2200/2929). The perp's funding index stays 0 while its skew has been 0;
  another trader opening the first skew makes the keeper's next trade write it, and the
  keeper's position's `lastFundingIndex`, from zero. A trader closing the last position on
  one side zeroes that side's open interest; liquidations can drain the insurance fund.
* tick crossings: a V3 swap crosses every initialised tick between its start price and where
  it stops, each one a cold tick read and three writes (`Tick.cross`). Another swap moving the
  price, or an LP minting a position in between, changes how many the keeper's swap crosses.

The rule (`gas_limit`): the larger of the estimate × `gas_limit_multiplier` (the old rule,
never less) and the next-block estimate + the method's allowance. The next-block estimate is
`eth_estimateGas` with a block override one second later (anvil and geth take it; where a node
refuses the override, the plain estimate), so the once-per-timestamp paths are in it; the
allowance (`allowance`) covers what the keeper cannot see from here: the slots another
transaction can zero and the ticks another one can put in the way, each counted at its
worst. A limit above what the transaction uses costs nothing on chain (only gas used is
paid); the guards count the limit's cost against the keeper's ETH (`planned_limit`).

Gas figures are the Berlin/London schedule (EIP-2929, EIP-2200, EIP-3529), the same on every
chain the keeper runs on.
"""

from __future__ import annotations

import math

from keeper.venues.base import LegPlan
from sim.venues.univ3.v3math import get_tick_at_sqrt_ratio

SSTORE_SET = 20_000
"""An SSTORE from zero to non-zero (EIP-2200)."""
SSTORE_RESET = 2_900
"""An SSTORE from non-zero to another value, slot already warm (EIP-2929)."""
COLD_SLOAD = 2_100
"""The first read of a slot in a transaction (EIP-2929)."""
WARM_ACCESS = 100
"""A later read, or an SSTORE that leaves the slot as it is."""
LOG_WORD = 8 * 32
"""A log's data, per 32-byte word (8 gas a byte)."""
LOG_BASE = 375 + 375
"""LOG1: the base cost and its one topic."""

FUNDING_PATH = SSTORE_SET + SSTORE_RESET + LOG_BASE + 3 * LOG_WORD + 4 * COLD_SLOAD
"""PerpMarket `_accrue_funding` when time has passed: `fundingIndex` written (from zero at
worst), `lastFundingTime` written, `FundingAccrued(index, rate, timestamp)` logged, the funding
rate's four reads (open interests, cap, skew scale) counted cold."""
PERP_ZEROABLE_SLOTS = 3
"""Slots of a `modifyPosition` another transaction can leave at zero before the keeper's
trade sets them: the position's `lastFundingIndex` (zero while the index was), the open
interest of the trade's side (the last position there closed), the insurance fund
(drained by liquidations)."""
CUMULATIVE_PATH = 2 * (COLD_SLOAD + SSTORE_SET)
"""A V2 pair's or ammlab pool's `_update` when time has passed: `price0CumulativeLast` and
`price1CumulativeLast` read and written, from zero at worst (a pair whose time never passed)."""
OBSERVATION_PATH = COLD_SLOAD + SSTORE_SET + 4 * COLD_SLOAD
"""A V3 pool's first swap in a block: `observations.write` reads the last observation and
writes the next (a fresh slot at worst), with the slot0 fields it needs."""
TICK_CROSS = 4 * COLD_SLOAD + 2 * SSTORE_SET + SSTORE_RESET + COLD_SLOAD + 4_000
"""One initialised tick crossed by a V3 swap: `Tick.cross` reads the tick's four slots cold
and writes its fee growths outside (from zero at worst: a tick initialised above the price
starts them at zero) and its packed oracle slot; the bitmap word that finds it (cold); the
swap step's maths (`computeSwapStep` and `getSqrtRatioAtTick`, about 4,000)."""


def perp_allowance() -> int:
    """`modifyPosition`: the funding path (once per timestamp) and the slots another trader
    can zero (`PERP_ZEROABLE_SLOTS`), each at an SSTORE from zero against a no-op one."""
    return FUNDING_PATH + PERP_ZEROABLE_SLOTS * (SSTORE_SET - WARM_ACCESS)


def pair_allowance() -> int:
    """A swap through ammlab's Router.vy or UniswapV2Router02 on one pair: the pair's
    cumulative-price path. The router's two token transfers move the keeper's balances and the
    pair's, which no one else can zero in between (the pair keeps its reserves)."""
    return CUMULATIVE_PATH


def v3_crossings(sqrt_price_x96: int, sqrt_price_limit_x96: int, tick_spacing: int) -> int:
    """The most initialised ticks a swap from the price the keeper read to its limit can
    cross, whatever is minted or traded in between: every usable tick (a multiple of the
    spacing) within the span between them, counted on both sides of the price read, since a
    move the keeper's way before inclusion (up to the same span) makes its swap start further
    back."""
    span = abs(
        get_tick_at_sqrt_ratio(sqrt_price_limit_x96) - get_tick_at_sqrt_ratio(sqrt_price_x96)
    )
    return 2 * math.ceil(span / tick_spacing) + 1


def v3_allowance(crossings: int) -> int:
    """An exact-input or exact-output single swap through SwapRouter: the oracle observation
    of a block's first swap, and `crossings` ticks crossed at their worst (`TICK_CROSS`)."""
    return OBSERVATION_PATH + crossings * TICK_CROSS


def leg_allowance(leg: LegPlan, sqrt_price_x96: int = 0, tick_spacing: int = 0) -> int:
    """The allowance of a hedge leg by its venue kind (a V3 leg needs the pool's price and
    tick spacing as read when it was planned)."""
    if leg.kind == "perp":
        return perp_allowance()
    if leg.kind == "univ3":
        return v3_allowance(v3_crossings(sqrt_price_x96, leg.sqrt_price_limit_x96, tick_spacing))
    return pair_allowance()


TICK_INIT = 4 * SSTORE_SET + SSTORE_SET
"""A tick a mint initialises: its four slots set from zero (`Tick.update`) and its bitmap
word from zero (`TickBitmap.flipTick`)."""


def range_step_allowance(step: str, meta: dict, sqrt_price_x96: int, tick_spacing: int) -> int:
    """A step of a range move through NonfungiblePositionManager or SwapRouter: the swap is a
    V3 swap (`v3_allowance` to its `sqrt_price_limit_x96`); the mint may find both of its
    ticks uninitialised (another LP's position there removed in between: `TICK_INIT` each);
    decrease and collect take no path a later block opens (a burn or collect writes no oracle
    observation and only the keeper's own position's slots), so none."""
    if step == "swap":
        limit = int(meta["sqrt_price_limit_x96"])
        return v3_allowance(v3_crossings(sqrt_price_x96, limit, tick_spacing))
    if step == "mint":
        return 2 * TICK_INIT
    return 0


def gas_limit(estimate: int, next_estimate: int, multiplier: float, allowance: int) -> int:
    """The transaction's gas limit: max(estimate × multiplier, next-block estimate +
    allowance), gas units (module docstring)."""
    return max(math.ceil(estimate * multiplier), next_estimate + allowance)


def planned_limit(gas_units: int, multiplier: float, allowance: int) -> int:
    """The same rule on the gas units a leg was planned at, for the guards' gas cost before
    anything is estimated."""
    return gas_limit(gas_units, gas_units, multiplier, allowance)

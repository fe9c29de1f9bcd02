"""Uniswap v3-core 1.0.1's maths libraries in Python integers, result for result.

Each function is named after its Solidity counterpart (``FullMath.mulDiv`` is `mul_div`) and
fails where the library fails, raising `sim.errors.Revert` with the library's reason: ``'T'``
and ``'R'`` from TickMath, ``'LS'``/``'LA'`` from LiquidityMath and ``''`` for the bare
``require``\\ s (FullMath overflow, SafeCast, SqrtPriceMath bounds), which revert without data.
Solidity 0.7 does not check arithmetic, so the code wraps exactly where the library relies on
wrap-around and nowhere else.

Units: sqrt prices are Q64.96 (``sqrt(token1/token0) * 2**96``, uint160), liquidity is
``sqrt(x*y)`` in base units (uint128), token amounts are base units, fees are pips
(millionths: 3000 = 0.3 %), ticks are log base 1.0001 of the price (int24).
"""

from __future__ import annotations

from functools import lru_cache

from sim.errors import Revert

Q96 = 1 << 96
"""FixedPoint96.Q96: one in Q64.96."""
Q128 = 1 << 128
"""FixedPoint128.Q128: one in X128 fee growth."""
UINT128_MAX = (1 << 128) - 1
UINT160_MAX = (1 << 160) - 1
UINT256_MAX = (1 << 256) - 1
INT128_MIN = -(1 << 127)
INT128_MAX = (1 << 127) - 1
INT256_MAX = (1 << 255) - 1

MIN_TICK = -887272
"""TickMath.MIN_TICK: the lowest tick, price 1.0001**-887272 ~ 2**-128."""
MAX_TICK = 887272
"""TickMath.MAX_TICK."""
MIN_SQRT_RATIO = 4295128739
"""TickMath.MIN_SQRT_RATIO = get_sqrt_ratio_at_tick(MIN_TICK), Q64.96."""
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342
"""TickMath.MAX_SQRT_RATIO = get_sqrt_ratio_at_tick(MAX_TICK), Q64.96."""

_NO_REASON = ""
"""A bare ``require`` reverts with empty data: the reason string the chain reports is ''."""


# --- FullMath, UnsafeMath, BitMath ---------------------------------------------------------


def mul_div(a: int, b: int, denominator: int) -> int:
    """FullMath.mulDiv: ``floor(a * b / denominator)`` with a 512-bit product.

    Raises:
        Revert: ``''`` when the denominator is 0 or the result does not fit in uint256.
    """
    if denominator <= 0:
        raise Revert(_NO_REASON)
    result = a * b // denominator
    if result > UINT256_MAX:
        raise Revert(_NO_REASON)
    return result


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """FullMath.mulDivRoundingUp: ``ceil(a * b / denominator)``.

    Raises:
        Revert: ``''`` when the denominator is 0 or the result does not fit in uint256.
    """
    if denominator <= 0:
        raise Revert(_NO_REASON)
    result, remainder = divmod(a * b, denominator)
    if result > UINT256_MAX:
        raise Revert(_NO_REASON)
    if remainder:
        if result == UINT256_MAX:
            raise Revert(_NO_REASON)
        result += 1
    return result


def div_rounding_up(x: int, y: int) -> int:
    """UnsafeMath.divRoundingUp: ``ceil(x / y)``; the EVM's ``div`` gives 0 for ``y == 0``."""
    if y == 0:
        return 0
    return -(-x // y)


def most_significant_bit(x: int) -> int:
    """BitMath.mostSignificantBit: index of the highest set bit of a non-zero uint256."""
    if x <= 0:
        raise Revert(_NO_REASON)
    return x.bit_length() - 1


def least_significant_bit(x: int) -> int:
    """BitMath.leastSignificantBit: index of the lowest set bit of a non-zero uint256."""
    if x <= 0:
        raise Revert(_NO_REASON)
    return (x & -x).bit_length() - 1


# --- SafeCast, LiquidityMath ----------------------------------------------------------------


def to_uint160(y: int) -> int:
    """SafeCast.toUint160."""
    if y > UINT160_MAX:
        raise Revert(_NO_REASON)
    return y


def to_int128(y: int) -> int:
    """SafeCast.toInt128."""
    if not INT128_MIN <= y <= INT128_MAX:
        raise Revert(_NO_REASON)
    return y


def to_int256(y: int) -> int:
    """SafeCast.toInt256 of a uint256."""
    if y > INT256_MAX:
        raise Revert(_NO_REASON)
    return y


def add_delta(x: int, y: int) -> int:
    """LiquidityMath.addDelta: a uint128 liquidity plus a signed int128 delta.

    Raises:
        Revert: ``'LS'`` when the result would go below 0, ``'LA'`` above uint128.
    """
    z = x + y
    if y < 0:
        if z < 0:
            raise Revert("LS")
    elif z > UINT128_MAX:
        raise Revert("LA")
    return z


# --- TickMath -------------------------------------------------------------------------------

# ratio factors sqrt(1.0001)**-(2**i) in Q128.128, bit i of |tick| selecting factor i.
_TICK_FACTORS = (
    (0x2, 0xFFF97272373D413259A46990580E213A),
    (0x4, 0xFFF2E50F5F656932EF12357CF3C7FDCC),
    (0x8, 0xFFE5CACA7E10E4E61C3624EAA0941CD0),
    (0x10, 0xFFCB9843D60F6159C9DB58835C926644),
    (0x20, 0xFF973B41FA98C081472E6896DFB254C0),
    (0x40, 0xFF2EA16466C96A3843EC78B326B52861),
    (0x80, 0xFE5DEE046A99A2A811C461F1969C3053),
    (0x100, 0xFCBE86C7900A88AEDCFFC83B479AA3A4),
    (0x200, 0xF987A7253AC413176F2B074CF7815E54),
    (0x400, 0xF3392B0822B70005940C7A398E4B70F3),
    (0x800, 0xE7159475A2C29B7443B29C7FA6E889D9),
    (0x1000, 0xD097F3BDFD2022B8845AD8F792AA5825),
    (0x2000, 0xA9F746462D870FDF8A65DC1F90E061E5),
    (0x4000, 0x70D869A156D2A1B890BB3DF62BAF32F7),
    (0x8000, 0x31BE135F97D08FD981231505542FCFA6),
    (0x10000, 0x9AA508B5B7A84E1C677DE54F3E99BC9),
    (0x20000, 0x5D6AF8DEDB81196699C329225EE604),
    (0x40000, 0x2216E584F5FA1EA926041BEDFE98),
    (0x80000, 0x48A170391F7DC42444E8FA2),
)


@lru_cache(maxsize=1 << 16)
def get_sqrt_ratio_at_tick(tick: int) -> int:
    """TickMath.getSqrtRatioAtTick: ``sqrt(1.0001**tick) * 2**96``, rounded up, Q64.96.

    Memoised: a swap asks for the same few boundary ticks over and over.

    Raises:
        Revert: ``'T'`` when ``|tick| > MAX_TICK``.
    """
    abs_tick = -tick if tick < 0 else tick
    if abs_tick > MAX_TICK:
        raise Revert("T")
    ratio = (
        0xFFFCB933BD6FAD37AA2D162D1A594001
        if abs_tick & 0x1
        else 0x100000000000000000000000000000000
    )
    for bit, factor in _TICK_FACTORS:
        if abs_tick & bit:
            ratio = (ratio * factor) >> 128
    if tick > 0:
        ratio = UINT256_MAX // ratio
    # Q128.128 to Q64.96, rounding up so that get_tick_at_sqrt_ratio inverts it.
    return (ratio >> 32) + (1 if ratio & 0xFFFFFFFF else 0)


def get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """TickMath.getTickAtSqrtRatio: the greatest tick whose sqrt ratio is <= `sqrt_price_x96`.

    Args:
        sqrt_price_x96: Q64.96, ``MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO``.

    Raises:
        Revert: ``'R'`` outside that range.
    """
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise Revert("R")
    ratio = sqrt_price_x96 << 32
    msb = ratio.bit_length() - 1
    r = ratio >> (msb - 127) if msb >= 128 else ratio << (127 - msb)
    log_2 = (msb - 128) << 64
    # 14 bits of the fractional part of log2 by repeated squaring, as the library does.
    for shift in range(63, 49, -1):
        r = (r * r) >> 127
        f = r >> 128
        log_2 |= f << shift
        r >>= f
    log_sqrt10001 = log_2 * 255738958999603826347141
    tick_low = (log_sqrt10001 - 3402992956809132418596140100660247210) >> 128
    tick_hi = (log_sqrt10001 + 291339464771989622907027621153398088495) >> 128
    if tick_low == tick_hi:
        return tick_low
    return tick_hi if get_sqrt_ratio_at_tick(tick_hi) <= sqrt_price_x96 else tick_low


# --- SqrtPriceMath --------------------------------------------------------------------------


def get_next_sqrt_price_from_amount0_rounding_up(
    sqrt_px96: int, liquidity: int, amount: int, add: bool
) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromAmount0RoundingUp: price after adding/removing token0.

    ``L * sqrtP / (L +- amount * sqrtP)``, rounded up, Q64.96.
    """
    if amount == 0:
        return sqrt_px96
    numerator1 = liquidity << 96
    product = amount * sqrt_px96
    if add:
        if product <= UINT256_MAX:
            denominator = numerator1 + product
            if denominator <= UINT256_MAX:
                return mul_div_rounding_up(numerator1, sqrt_px96, denominator) & UINT160_MAX
        # The checked add reverts; the uint160 cast truncates silently.
        denominator = numerator1 // sqrt_px96 + amount
        if denominator > UINT256_MAX:
            raise Revert(_NO_REASON)
        return div_rounding_up(numerator1, denominator) & UINT160_MAX
    if product > UINT256_MAX or numerator1 <= product:
        raise Revert(_NO_REASON)
    return to_uint160(mul_div_rounding_up(numerator1, sqrt_px96, numerator1 - product))


def get_next_sqrt_price_from_amount1_rounding_down(
    sqrt_px96: int, liquidity: int, amount: int, add: bool
) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromAmount1RoundingDown: ``sqrtP +- amount / L``, Q64.96."""
    if add:
        if amount <= UINT160_MAX:
            quotient = (amount << 96) // liquidity
        else:
            quotient = mul_div(amount, Q96, liquidity)
        result = sqrt_px96 + quotient
        if result > UINT256_MAX:
            raise Revert(_NO_REASON)
        return to_uint160(result)
    if amount <= UINT160_MAX:
        quotient = div_rounding_up(amount << 96, liquidity)
    else:
        quotient = mul_div_rounding_up(amount, Q96, liquidity)
    if sqrt_px96 <= quotient:
        raise Revert(_NO_REASON)
    return sqrt_px96 - quotient


def get_next_sqrt_price_from_input(
    sqrt_px96: int, liquidity: int, amount_in: int, zero_for_one: bool
) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromInput: price after `amount_in` (base units) goes in."""
    if sqrt_px96 <= 0 or liquidity <= 0:
        raise Revert(_NO_REASON)
    if zero_for_one:
        return get_next_sqrt_price_from_amount0_rounding_up(sqrt_px96, liquidity, amount_in, True)
    return get_next_sqrt_price_from_amount1_rounding_down(sqrt_px96, liquidity, amount_in, True)


def get_next_sqrt_price_from_output(
    sqrt_px96: int, liquidity: int, amount_out: int, zero_for_one: bool
) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromOutput: price after `amount_out` (base units) leaves."""
    if sqrt_px96 <= 0 or liquidity <= 0:
        raise Revert(_NO_REASON)
    if zero_for_one:
        return get_next_sqrt_price_from_amount1_rounding_down(
            sqrt_px96, liquidity, amount_out, False
        )
    return get_next_sqrt_price_from_amount0_rounding_up(sqrt_px96, liquidity, amount_out, False)


def get_amount0_delta(
    sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int, round_up: bool
) -> int:
    """SqrtPriceMath.getAmount0Delta (unsigned): ``L * (1/sqrtA - 1/sqrtB)`` in token0 base units."""
    if sqrt_ratio_a_x96 > sqrt_ratio_b_x96:
        sqrt_ratio_a_x96, sqrt_ratio_b_x96 = sqrt_ratio_b_x96, sqrt_ratio_a_x96
    if sqrt_ratio_a_x96 <= 0:
        raise Revert(_NO_REASON)
    numerator1 = liquidity << 96
    numerator2 = sqrt_ratio_b_x96 - sqrt_ratio_a_x96
    if round_up:
        return div_rounding_up(
            mul_div_rounding_up(numerator1, numerator2, sqrt_ratio_b_x96), sqrt_ratio_a_x96
        )
    return mul_div(numerator1, numerator2, sqrt_ratio_b_x96) // sqrt_ratio_a_x96


def get_amount1_delta(
    sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int, round_up: bool
) -> int:
    """SqrtPriceMath.getAmount1Delta (unsigned): ``L * (sqrtB - sqrtA)`` in token1 base units."""
    if sqrt_ratio_a_x96 > sqrt_ratio_b_x96:
        sqrt_ratio_a_x96, sqrt_ratio_b_x96 = sqrt_ratio_b_x96, sqrt_ratio_a_x96
    if round_up:
        return mul_div_rounding_up(liquidity, sqrt_ratio_b_x96 - sqrt_ratio_a_x96, Q96)
    return mul_div(liquidity, sqrt_ratio_b_x96 - sqrt_ratio_a_x96, Q96)


def get_amount0_delta_signed(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int) -> int:
    """SqrtPriceMath.getAmount0Delta (int128 liquidity): owed to the pool (> 0, rounded up) when
    liquidity is added, paid out (< 0, rounded down) when it is removed."""
    if liquidity < 0:
        return -to_int256(get_amount0_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, -liquidity, False))
    return to_int256(get_amount0_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity, True))


def get_amount1_delta_signed(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int) -> int:
    """SqrtPriceMath.getAmount1Delta (int128 liquidity), signed like `get_amount0_delta_signed`."""
    if liquidity < 0:
        return -to_int256(get_amount1_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, -liquidity, False))
    return to_int256(get_amount1_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity, True))


# --- SwapMath -------------------------------------------------------------------------------


def compute_swap_step(
    sqrt_ratio_current_x96: int,
    sqrt_ratio_target_x96: int,
    liquidity: int,
    amount_remaining: int,
    fee_pips: int,
) -> tuple[int, int, int, int]:
    """SwapMath.computeSwapStep: one step of a swap towards `sqrt_ratio_target_x96`.

    Args:
        sqrt_ratio_current_x96: price now, Q64.96.
        sqrt_ratio_target_x96: price the step may not pass, Q64.96 (below current: zero for one).
        liquidity: active liquidity.
        amount_remaining: input still to spend (>= 0, exact input) or output still wanted
            (< 0, exact output), base units.
        fee_pips: the pool fee in millionths of the input.

    Returns:
        ``(sqrt_ratio_next_x96, amount_in, amount_out, fee_amount)``: the price reached (Q64.96),
        the input less fee, the output and the fee, base units.
    """
    zero_for_one = sqrt_ratio_current_x96 >= sqrt_ratio_target_x96
    exact_in = amount_remaining >= 0
    amount_in = amount_out = 0
    if exact_in:
        amount_remaining_less_fee = mul_div(amount_remaining, 1_000_000 - fee_pips, 1_000_000)
        if zero_for_one:
            amount_in = get_amount0_delta(
                sqrt_ratio_target_x96, sqrt_ratio_current_x96, liquidity, True
            )
        else:
            amount_in = get_amount1_delta(
                sqrt_ratio_current_x96, sqrt_ratio_target_x96, liquidity, True
            )
        if amount_remaining_less_fee >= amount_in:
            sqrt_ratio_next_x96 = sqrt_ratio_target_x96
        else:
            sqrt_ratio_next_x96 = get_next_sqrt_price_from_input(
                sqrt_ratio_current_x96, liquidity, amount_remaining_less_fee, zero_for_one
            )
    else:
        if zero_for_one:
            amount_out = get_amount1_delta(
                sqrt_ratio_target_x96, sqrt_ratio_current_x96, liquidity, False
            )
        else:
            amount_out = get_amount0_delta(
                sqrt_ratio_current_x96, sqrt_ratio_target_x96, liquidity, False
            )
        if -amount_remaining >= amount_out:
            sqrt_ratio_next_x96 = sqrt_ratio_target_x96
        else:
            sqrt_ratio_next_x96 = get_next_sqrt_price_from_output(
                sqrt_ratio_current_x96, liquidity, -amount_remaining, zero_for_one
            )

    reached_target = sqrt_ratio_target_x96 == sqrt_ratio_next_x96
    if zero_for_one:
        if not (reached_target and exact_in):
            amount_in = get_amount0_delta(
                sqrt_ratio_next_x96, sqrt_ratio_current_x96, liquidity, True
            )
        if not (reached_target and not exact_in):
            amount_out = get_amount1_delta(
                sqrt_ratio_next_x96, sqrt_ratio_current_x96, liquidity, False
            )
    else:
        if not (reached_target and exact_in):
            amount_in = get_amount1_delta(
                sqrt_ratio_current_x96, sqrt_ratio_next_x96, liquidity, True
            )
        if not (reached_target and not exact_in):
            amount_out = get_amount0_delta(
                sqrt_ratio_current_x96, sqrt_ratio_next_x96, liquidity, False
            )

    # Rounding may give one unit more than asked for; the step never pays out more.
    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining
    if exact_in and sqrt_ratio_next_x96 != sqrt_ratio_target_x96:
        # The whole remainder is spent: what the price move did not take is fee.
        fee_amount = amount_remaining - amount_in
    else:
        fee_amount = mul_div_rounding_up(amount_in, fee_pips, 1_000_000 - fee_pips)
    return sqrt_ratio_next_x96, amount_in, amount_out, fee_amount


# --- Tick ---------------------------------------------------------------------------------


def tick_spacing_to_max_liquidity_per_tick(tick_spacing: int) -> int:
    """Tick.tickSpacingToMaxLiquidityPerTick: uint128 max over the number of usable ticks."""
    min_tick = _sdiv(MIN_TICK, tick_spacing) * tick_spacing
    max_tick = _sdiv(MAX_TICK, tick_spacing) * tick_spacing
    num_ticks = (max_tick - min_tick) // tick_spacing + 1
    return UINT128_MAX // num_ticks


def _sdiv(a: int, b: int) -> int:
    """Solidity's signed division: truncates towards zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q

"""v3-periphery 1.4.4 on the twin: LiquidityAmounts, PoolTicksCounter, QuoterV2 and the
NonfungiblePositionManager's position accounting.

`quote_exact_input_single` / `quote_exact_output_single` return what QuoterV2's functions of the
same name return for the same trade on the same pool state (amount, sqrtPriceX96After,
initializedTicksCrossed; not the gas estimate), and fail where they fail, with the quoter's
reason: the pool's reason string re-raised, or ``'Unexpected error'`` for a revert without one.

Units: sqrt prices Q64.96, liquidity as the pool's, amounts in base units.
"""

from __future__ import annotations

from typing import NamedTuple

from sim.errors import Revert
from sim.venues.univ3.twin import UniswapV3Pool
from sim.venues.univ3.v3math import (
    MAX_SQRT_RATIO,
    MIN_SQRT_RATIO,
    Q96,
    Q128,
    UINT128_MAX,
    UINT256_MAX,
    get_sqrt_ratio_at_tick,
    mul_div,
    to_int256,
)

# --- LiquidityAmounts -----------------------------------------------------------------------


def _to_uint128(x: int) -> int:
    if x > UINT128_MAX:
        raise Revert("")
    return x


def get_liquidity_for_amount0(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, amount0: int) -> int:
    """LiquidityAmounts.getLiquidityForAmount0: ``amount0 * sqrtA * sqrtB / (sqrtB - sqrtA)``."""
    if sqrt_ratio_a_x96 > sqrt_ratio_b_x96:
        sqrt_ratio_a_x96, sqrt_ratio_b_x96 = sqrt_ratio_b_x96, sqrt_ratio_a_x96
    intermediate = mul_div(sqrt_ratio_a_x96, sqrt_ratio_b_x96, Q96)
    return _to_uint128(mul_div(amount0, intermediate, sqrt_ratio_b_x96 - sqrt_ratio_a_x96))


def get_liquidity_for_amount1(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, amount1: int) -> int:
    """LiquidityAmounts.getLiquidityForAmount1: ``amount1 / (sqrtB - sqrtA)``."""
    if sqrt_ratio_a_x96 > sqrt_ratio_b_x96:
        sqrt_ratio_a_x96, sqrt_ratio_b_x96 = sqrt_ratio_b_x96, sqrt_ratio_a_x96
    return _to_uint128(mul_div(amount1, Q96, sqrt_ratio_b_x96 - sqrt_ratio_a_x96))


def get_liquidity_for_amounts(
    sqrt_ratio_x96: int, sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, amount0: int, amount1: int
) -> int:
    """LiquidityAmounts.getLiquidityForAmounts: the most liquidity `amount0` and `amount1` buy
    in the range [sqrtA, sqrtB] at price sqrtP (what NonfungiblePositionManager mints)."""
    if sqrt_ratio_a_x96 > sqrt_ratio_b_x96:
        sqrt_ratio_a_x96, sqrt_ratio_b_x96 = sqrt_ratio_b_x96, sqrt_ratio_a_x96
    if sqrt_ratio_x96 <= sqrt_ratio_a_x96:
        return get_liquidity_for_amount0(sqrt_ratio_a_x96, sqrt_ratio_b_x96, amount0)
    if sqrt_ratio_x96 < sqrt_ratio_b_x96:
        return min(
            get_liquidity_for_amount0(sqrt_ratio_x96, sqrt_ratio_b_x96, amount0),
            get_liquidity_for_amount1(sqrt_ratio_a_x96, sqrt_ratio_x96, amount1),
        )
    return get_liquidity_for_amount1(sqrt_ratio_a_x96, sqrt_ratio_b_x96, amount1)


def get_amount0_for_liquidity(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int) -> int:
    """LiquidityAmounts.getAmount0ForLiquidity (rounded down)."""
    if sqrt_ratio_a_x96 > sqrt_ratio_b_x96:
        sqrt_ratio_a_x96, sqrt_ratio_b_x96 = sqrt_ratio_b_x96, sqrt_ratio_a_x96
    return (
        mul_div(liquidity << 96, sqrt_ratio_b_x96 - sqrt_ratio_a_x96, sqrt_ratio_b_x96)
        // sqrt_ratio_a_x96
    )


def get_amount1_for_liquidity(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int) -> int:
    """LiquidityAmounts.getAmount1ForLiquidity (rounded down)."""
    if sqrt_ratio_a_x96 > sqrt_ratio_b_x96:
        sqrt_ratio_a_x96, sqrt_ratio_b_x96 = sqrt_ratio_b_x96, sqrt_ratio_a_x96
    return mul_div(liquidity, sqrt_ratio_b_x96 - sqrt_ratio_a_x96, Q96)


def get_amounts_for_liquidity(
    sqrt_ratio_x96: int, sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int
) -> tuple[int, int]:
    """LiquidityAmounts.getAmountsForLiquidity: the tokens `liquidity` is worth at sqrtP
    (rounded down; the pool's mint rounds up, its burn down)."""
    if sqrt_ratio_a_x96 > sqrt_ratio_b_x96:
        sqrt_ratio_a_x96, sqrt_ratio_b_x96 = sqrt_ratio_b_x96, sqrt_ratio_a_x96
    if sqrt_ratio_x96 <= sqrt_ratio_a_x96:
        return get_amount0_for_liquidity(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity), 0
    if sqrt_ratio_x96 < sqrt_ratio_b_x96:
        return (
            get_amount0_for_liquidity(sqrt_ratio_x96, sqrt_ratio_b_x96, liquidity),
            get_amount1_for_liquidity(sqrt_ratio_a_x96, sqrt_ratio_x96, liquidity),
        )
    return 0, get_amount1_for_liquidity(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity)


def liquidity_for_amounts(
    sqrt_price_x96: int, tick_lower: int, tick_upper: int, amount0: int, amount1: int
) -> int:
    """`get_liquidity_for_amounts` for a tick range: liquidity that `amount0`, `amount1` (base
    units) buy in [tick_lower, tick_upper] at `sqrt_price_x96` (Q64.96)."""
    return get_liquidity_for_amounts(
        sqrt_price_x96,
        get_sqrt_ratio_at_tick(tick_lower),
        get_sqrt_ratio_at_tick(tick_upper),
        amount0,
        amount1,
    )


def amounts_for_liquidity(
    sqrt_price_x96: int, tick_lower: int, tick_upper: int, liquidity: int
) -> tuple[int, int]:
    """`get_amounts_for_liquidity` for a tick range: ``(amount0, amount1)`` base units."""
    return get_amounts_for_liquidity(
        sqrt_price_x96,
        get_sqrt_ratio_at_tick(tick_lower),
        get_sqrt_ratio_at_tick(tick_upper),
        liquidity,
    )


# --- PoolTicksCounter -----------------------------------------------------------------------


def _sdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def count_initialized_ticks_crossed(pool: UniswapV3Pool, tick_before: int, tick_after: int) -> int:
    """PoolTicksCounter.countInitializedTicksCrossed, quirks included (it divides ticks by the
    spacing truncating towards zero, and counts within [before, after] bitmap positions).

    Returns:
        The uint32 count QuoterV2 reports as ``initializedTicksCrossed``.
    """
    spacing = pool.tick_spacing
    bitmap = pool.tick_bitmap
    compressed_before = _sdiv(tick_before, spacing)
    compressed_after = _sdiv(tick_after, spacing)
    word_pos, bit_pos = compressed_before >> 8, compressed_before & 0xFF
    word_pos_after, bit_pos_after = compressed_after >> 8, compressed_after & 0xFF

    tick_after_initialized = (
        bitmap.get(word_pos_after, 0) >> bit_pos_after & 1 == 1
        and tick_after % spacing == 0
        and tick_before > tick_after
    )
    tick_before_initialized = (
        bitmap.get(word_pos, 0) >> bit_pos & 1 == 1
        and tick_before % spacing == 0
        and tick_before < tick_after
    )
    if word_pos < word_pos_after or (word_pos == word_pos_after and bit_pos <= bit_pos_after):
        word_lower, bit_lower, word_higher, bit_higher = (
            word_pos,
            bit_pos,
            word_pos_after,
            bit_pos_after,
        )
    else:
        word_lower, bit_lower, word_higher, bit_higher = (
            word_pos_after,
            bit_pos_after,
            word_pos,
            bit_pos,
        )

    full = (1 << 256) - 1
    mask = (full << bit_lower) & full
    crossed = 0
    while word_lower <= word_higher:
        if word_lower == word_higher:
            mask &= full >> (255 - bit_higher)
        crossed += (bitmap.get(word_lower, 0) & mask).bit_count()
        word_lower += 1
        mask = full
    crossed -= tick_after_initialized + tick_before_initialized
    return crossed & 0xFFFFFFFF


# --- QuoterV2 -------------------------------------------------------------------------------


def _quote(
    pool: UniswapV3Pool,
    zero_for_one: bool,
    amount_specified: int,
    sqrt_price_limit_x96: int,
    amount_out_cached: int,
) -> tuple[int, int, int]:
    """The pool's swap up to the quoter's callback, which reverts with the result."""
    if sqrt_price_limit_x96 == 0:
        sqrt_price_limit_x96 = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    try:
        if amount_specified == 0:
            raise Revert("AS")
        if not pool.unlocked:
            raise Revert("LOK")
        price = pool.sqrt_price_x96
        if not (
            MIN_SQRT_RATIO < sqrt_price_limit_x96 < price
            if zero_for_one
            else price < sqrt_price_limit_x96 < MAX_SQRT_RATIO
        ):
            raise Revert("SPL")
        amount0, amount1, sqrt_price_after, tick_after, *_ = pool.swap_steps(
            zero_for_one, amount_specified, sqrt_price_limit_x96
        )
        if -amount0 > pool.balance0 or -amount1 > pool.balance1:
            raise Revert("TF")
        # The quoter's callback: swaps entirely within zero liquidity are not supported.
        if amount0 <= 0 and amount1 <= 0:
            raise Revert("")
        if amount0 > 0:
            to_pay, received = amount0, -amount1
        else:
            to_pay, received = amount1, -amount0
        if amount_specified < 0 and amount_out_cached != 0 and received != amount_out_cached:
            raise Revert("")
    except Revert as err:
        # parseRevertReason: a reason string is re-raised; anything shorter is 'Unexpected error'.
        raise Revert(err.reason or "Unexpected error") from err
    amount = received if amount_specified > 0 else to_pay
    return amount, sqrt_price_after, count_initialized_ticks_crossed(pool, pool.tick, tick_after)


def quote_exact_input_single(
    pool: UniswapV3Pool, zero_for_one: bool, amount_in: int, sqrt_price_limit_x96: int = 0
) -> tuple[int, int, int]:
    """QuoterV2.quoteExactInputSingle on the twin, the pool left unchanged.

    Args:
        pool: the pool twin.
        zero_for_one: token0 in (tokenIn < tokenOut).
        amount_in: exact input, base units.
        sqrt_price_limit_x96: Q64.96 limit; 0 for none.

    Returns:
        ``(amount_out, sqrt_price_x96_after, initialized_ticks_crossed)``.
    """
    return _quote(pool, zero_for_one, to_int256(amount_in), sqrt_price_limit_x96, 0)


def quote_exact_output_single(
    pool: UniswapV3Pool, zero_for_one: bool, amount_out: int, sqrt_price_limit_x96: int = 0
) -> tuple[int, int, int]:
    """QuoterV2.quoteExactOutputSingle on the twin; without a price limit a trade that cannot be
    filled in full fails ('Unexpected error'), as on chain.

    Returns:
        ``(amount_in, sqrt_price_x96_after, initialized_ticks_crossed)``.
    """
    cached = amount_out if sqrt_price_limit_x96 == 0 else 0
    return _quote(pool, zero_for_one, -to_int256(amount_out), sqrt_price_limit_x96, cached)


# --- NonfungiblePositionManager ----------------------------------------------------------------


class ManagedPosition(NamedTuple):
    """``positions(tokenId)`` of the NonfungiblePositionManager, the fields the twin keeps."""

    pool: str
    tick_lower: int
    tick_upper: int
    liquidity: int
    fee_growth_inside0_last_x128: int
    fee_growth_inside1_last_x128: int
    tokens_owed0: int
    tokens_owed1: int


class PositionManager:
    """NonfungiblePositionManager's position accounting (v3-periphery 1.4.4) on pool twins:
    `mint`, `decrease_liquidity` and `collect`, with token ids from 1 in mint order.

    The manager owns every pool position it creates (key: its `address`), so positions of
    several tokens on one range share the pool's position; each token keeps its own liquidity,
    fee growth snapshot and tokens owed, as the contract does. A call that reverts raises
    `Revert` with the contract's reason and leaves the pool and the manager unchanged. The
    caller checks ownership ('Not approved') and deadlines.

    Attributes:
        address: the manager's address (the owner of its pool positions).
        next_id: the token id the next mint gets.
        positions: token id -> `ManagedPosition`.
    """

    def __init__(self, address: str = "npm"):
        self.address = address
        self.next_id = 1
        self.positions: dict[int, ManagedPosition] = {}

    def mint(
        self,
        pool: UniswapV3Pool,
        pool_name: str,
        tick_lower: int,
        tick_upper: int,
        amount0_desired: int,
        amount1_desired: int,
        amount0_min: int,
        amount1_min: int,
        timestamp: int,
    ) -> tuple[int, int, int, int]:
        """``mint(params)``: the liquidity the desired amounts buy at the pool's price
        (LiquidityAmounts), minted to the manager; the payer pays what the pool asks.

        Returns:
            ``(token_id, liquidity, amount0, amount1)``.

        Raises:
            Revert: the pool's reason, or ``'Price slippage check'``.
        """
        liquidity = liquidity_for_amounts(
            pool.sqrt_price_x96, tick_lower, tick_upper, amount0_desired, amount1_desired
        )
        saved = pool.copy()
        amount0, amount1 = pool.mint(self.address, tick_lower, tick_upper, liquidity, timestamp)
        if amount0 < amount0_min or amount1 < amount1_min:
            pool.restore(saved)
            raise Revert("Price slippage check")
        inside = pool.position(self.address, tick_lower, tick_upper)
        token_id = self.next_id
        self.next_id += 1
        self.positions[token_id] = ManagedPosition(
            pool_name, tick_lower, tick_upper, liquidity,
            inside.fee_growth_inside0_last_x128, inside.fee_growth_inside1_last_x128, 0, 0,
        )  # fmt: skip
        return token_id, liquidity, amount0, amount1

    def decrease_liquidity(
        self,
        pool: UniswapV3Pool,
        token_id: int,
        liquidity: int,
        amount0_min: int,
        amount1_min: int,
        timestamp: int,
    ) -> tuple[int, int]:
        """``decreaseLiquidity(params)``: burn `liquidity` in the pool; the tokens it frees and
        the token's fees so far become its tokens owed (collect them with `collect`).

        Returns:
            ``(amount0, amount1)`` freed by the burn, base units.
        """
        pos = self.positions[token_id]
        if liquidity <= 0 or pos.liquidity < liquidity:
            raise Revert("")
        saved = pool.copy()
        amount0, amount1 = pool.burn(
            self.address, pos.tick_lower, pos.tick_upper, liquidity, timestamp
        )
        if amount0 < amount0_min or amount1 < amount1_min:
            pool.restore(saved)
            raise Revert("Price slippage check")
        inside = pool.position(self.address, pos.tick_lower, pos.tick_upper)
        fees0, fees1 = _fees_since(pos, inside)
        self.positions[token_id] = pos._replace(
            liquidity=pos.liquidity - liquidity,
            fee_growth_inside0_last_x128=inside.fee_growth_inside0_last_x128,
            fee_growth_inside1_last_x128=inside.fee_growth_inside1_last_x128,
            tokens_owed0=(pos.tokens_owed0 + amount0 + fees0) & UINT128_MAX,
            tokens_owed1=(pos.tokens_owed1 + amount1 + fees1) & UINT128_MAX,
        )
        return amount0, amount1

    def collect(
        self,
        pool: UniswapV3Pool,
        token_id: int,
        amount0_max: int,
        amount1_max: int,
        timestamp: int,
    ) -> tuple[int, int]:
        """``collect(params)``: poke the pool position (a zero burn) when the token has
        liquidity, credit its fees, then pay out up to the maxima of its tokens owed.

        Returns:
            ``(amount0, amount1)`` paid by the pool, base units.
        """
        if amount0_max <= 0 and amount1_max <= 0:
            raise Revert("")
        pos = self.positions[token_id]
        saved = pool.copy()
        owed0, owed1 = pos.tokens_owed0, pos.tokens_owed1
        if pos.liquidity > 0:
            pool.burn(self.address, pos.tick_lower, pos.tick_upper, 0, timestamp)
            inside = pool.position(self.address, pos.tick_lower, pos.tick_upper)
            fees0, fees1 = _fees_since(pos, inside)
            owed0 = (owed0 + fees0) & UINT128_MAX
            owed1 = (owed1 + fees1) & UINT128_MAX
            pos = pos._replace(
                fee_growth_inside0_last_x128=inside.fee_growth_inside0_last_x128,
                fee_growth_inside1_last_x128=inside.fee_growth_inside1_last_x128,
            )
        take0, take1 = min(amount0_max, owed0), min(amount1_max, owed1)
        try:
            amount0, amount1 = pool.collect(
                self.address, pos.tick_lower, pos.tick_upper, take0, take1
            )
        except Revert:
            pool.restore(saved)
            raise
        self.positions[token_id] = pos._replace(
            tokens_owed0=owed0 - take0, tokens_owed1=owed1 - take1
        )
        return amount0, amount1

    def copy(self) -> PositionManager:
        """An independent copy (positions are immutable tuples)."""
        new = PositionManager(self.address)
        new.next_id = self.next_id
        new.positions = dict(self.positions)
        return new


def _fees_since(pos: ManagedPosition, inside) -> tuple[int, int]:
    """Fees a token earned since its snapshot: the growth inside times its liquidity, Q128
    (the manager's uint128 casts wrap)."""
    g0 = (inside.fee_growth_inside0_last_x128 - pos.fee_growth_inside0_last_x128) & UINT256_MAX
    g1 = (inside.fee_growth_inside1_last_x128 - pos.fee_growth_inside1_last_x128) & UINT256_MAX
    return (
        mul_div(g0, pos.liquidity, Q128) & UINT128_MAX,
        mul_div(g1, pos.liquidity, Q128) & UINT128_MAX,
    )

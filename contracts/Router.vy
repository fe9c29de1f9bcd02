# pragma version ~=0.4.3
"""
@title ammlab router
@notice Stateless periphery for any `ConstantProductPool` (or Uniswap V2 pair with a
        `feeBps()` view): user-facing swaps and liquidity with deadlines and slippage
        bounds, plus the pricing views (`getAmountOut`, `getAmountIn`, `quote`) that
        Uniswap V2's library computes, generalised to a fee in basis points. With
        `feeBps == 30` every amount equals UniswapV2Library's.
        Tokens are pulled with `transferFrom` from the caller straight into the pool,
        so the caller approves this router (LP tokens too, for `removeLiquidity`).
        Units: token amounts in base units, LP amounts in LP wei, fees in basis points,
        deadlines in seconds since the epoch (compared with block.timestamp).
@custom:revert-strings "router: ..."
"""

from ethereum.ercs import IERC20


interface IPool:
    def token0() -> address: view
    def token1() -> address: view
    def feeBps() -> uint256: view
    def getReserves() -> (uint112, uint112, uint32): view
    def mint(to: address) -> uint256: nonpayable
    def burn(to: address) -> (uint256, uint256): nonpayable
    def swap(amount0Out: uint256, amount1Out: uint256, to: address, data: Bytes[1024]): nonpayable
    def transferFrom(owner: address, to: address, amount: uint256) -> bool: nonpayable


# @dev Basis points in one unit of input.
FEE_DENOMINATOR: constant(uint256) = 10_000


@deploy
def __init__():
    pass


@external
def swapExactTokensForTokens(
    pool: address,
    tokenIn: address,
    amountIn: uint256,
    amountOutMin: uint256,
    to: address,
    deadline: uint256,
) -> uint256:
    """
    @notice Sell exactly `amountIn` of `tokenIn` for at least `amountOutMin` of the
            pool's other token, sent to `to`.
    @return The output amount, in base units of the other token.
    """
    assert block.timestamp <= deadline, "router: expired"
    zero_for_one: bool = self._direction(pool, tokenIn)
    reserve_in: uint256 = 0
    reserve_out: uint256 = 0
    reserve_in, reserve_out = self._reserves(pool, zero_for_one)
    amount_out: uint256 = self._get_amount_out(
        amountIn, reserve_in, reserve_out, staticcall IPool(pool).feeBps()
    )
    assert amount_out >= amountOutMin, "router: insufficient output amount"
    self._pull(tokenIn, pool, amountIn)
    self._swap(pool, zero_for_one, amount_out, to)
    return amount_out


@external
def swapTokensForExactTokens(
    pool: address,
    tokenIn: address,
    amountOut: uint256,
    amountInMax: uint256,
    to: address,
    deadline: uint256,
) -> uint256:
    """
    @notice Buy exactly `amountOut` of the pool's other token, sent to `to`, for at
            most `amountInMax` of `tokenIn`.
    @return The input amount pulled from the caller, in base units of `tokenIn`.
    """
    assert block.timestamp <= deadline, "router: expired"
    zero_for_one: bool = self._direction(pool, tokenIn)
    reserve_in: uint256 = 0
    reserve_out: uint256 = 0
    reserve_in, reserve_out = self._reserves(pool, zero_for_one)
    amount_in: uint256 = self._get_amount_in(
        amountOut, reserve_in, reserve_out, staticcall IPool(pool).feeBps()
    )
    assert amount_in <= amountInMax, "router: excessive input amount"
    self._pull(tokenIn, pool, amount_in)
    self._swap(pool, zero_for_one, amountOut, to)
    return amount_in


@external
def addLiquidity(
    pool: address,
    amount0Desired: uint256,
    amount1Desired: uint256,
    amount0Min: uint256,
    amount1Min: uint256,
    to: address,
    deadline: uint256,
) -> (uint256, uint256, uint256):
    """
    @notice Deposit token0 and token1 at the pool's current ratio (any ratio if the
            pool is empty), at most the desired amounts and at least the minimums, and
            mint LP tokens to `to`.
    @return (amount0, amount1, liquidity): deposited base units and LP wei minted.
    """
    assert block.timestamp <= deadline, "router: expired"
    reserve0: uint112 = 0
    reserve1: uint112 = 0
    ts: uint32 = 0
    reserve0, reserve1, ts = staticcall IPool(pool).getReserves()
    amount0: uint256 = amount0Desired
    amount1: uint256 = amount1Desired
    if reserve0 != 0 or reserve1 != 0:
        amount1_optimal: uint256 = self._quote(
            amount0Desired, convert(reserve0, uint256), convert(reserve1, uint256)
        )
        if amount1_optimal <= amount1Desired:
            assert amount1_optimal >= amount1Min, "router: insufficient amount1"
            amount1 = amount1_optimal
        else:
            amount0_optimal: uint256 = self._quote(
                amount1Desired, convert(reserve1, uint256), convert(reserve0, uint256)
            )
            # amount1Desired < quote(amount0Desired) implies this, as in Uniswap V2.
            assert amount0_optimal <= amount0Desired
            assert amount0_optimal >= amount0Min, "router: insufficient amount0"
            amount0 = amount0_optimal
    self._pull(staticcall IPool(pool).token0(), pool, amount0)
    self._pull(staticcall IPool(pool).token1(), pool, amount1)
    liquidity: uint256 = extcall IPool(pool).mint(to)
    return (amount0, amount1, liquidity)


@external
def removeLiquidity(
    pool: address,
    liquidity: uint256,
    amount0Min: uint256,
    amount1Min: uint256,
    to: address,
    deadline: uint256,
) -> (uint256, uint256):
    """
    @notice Burn `liquidity` LP wei of the caller's and send both tokens to `to`.
    @return (amount0, amount1) received, in base units.
    """
    assert block.timestamp <= deadline, "router: expired"
    assert extcall IPool(pool).transferFrom(msg.sender, pool, liquidity), "router: transfer failed"
    amount0: uint256 = 0
    amount1: uint256 = 0
    amount0, amount1 = extcall IPool(pool).burn(to)
    assert amount0 >= amount0Min, "router: insufficient amount0"
    assert amount1 >= amount1Min, "router: insufficient amount1"
    return (amount0, amount1)


@pure
@external
def getAmountOut(amountIn: uint256, reserveIn: uint256, reserveOut: uint256, feeBps: uint256) -> uint256:
    """
    @notice Largest output for `amountIn` that passes the pool's fee-adjusted K check:
            floor(in * (10_000 - fee) * rOut / (rIn * 10_000 + in * (10_000 - fee))).
    """
    return self._get_amount_out(amountIn, reserveIn, reserveOut, feeBps)


@pure
@external
def getAmountIn(amountOut: uint256, reserveIn: uint256, reserveOut: uint256, feeBps: uint256) -> uint256:
    """
    @notice Input that buys `amountOut`: floor(rIn * out * 10_000 /
            ((rOut - out) * (10_000 - fee))) + 1 (Uniswap V2's conservative +1).
    """
    return self._get_amount_in(amountOut, reserveIn, reserveOut, feeBps)


@pure
@external
def quote(amountA: uint256, reserveA: uint256, reserveB: uint256) -> uint256:
    """
    @notice Amount of B worth `amountA` of A at the reserves' ratio, no fee:
            floor(amountA * reserveB / reserveA).
    """
    return self._quote(amountA, reserveA, reserveB)


@pure
@internal
def _get_amount_out(amount_in: uint256, reserve_in: uint256, reserve_out: uint256, fee_bps: uint256) -> uint256:
    assert amount_in > 0, "router: insufficient input amount"
    assert reserve_in > 0 and reserve_out > 0, "router: insufficient liquidity"
    assert fee_bps < FEE_DENOMINATOR, "router: invalid fee"
    amount_in_with_fee: uint256 = amount_in * unsafe_sub(FEE_DENOMINATOR, fee_bps)
    return amount_in_with_fee * reserve_out // (reserve_in * FEE_DENOMINATOR + amount_in_with_fee)


@pure
@internal
def _get_amount_in(amount_out: uint256, reserve_in: uint256, reserve_out: uint256, fee_bps: uint256) -> uint256:
    assert amount_out > 0, "router: insufficient output amount"
    assert reserve_in > 0 and reserve_out > 0, "router: insufficient liquidity"
    assert amount_out < reserve_out, "router: insufficient liquidity"
    assert fee_bps < FEE_DENOMINATOR, "router: invalid fee"
    numerator: uint256 = reserve_in * amount_out * FEE_DENOMINATOR
    denominator: uint256 = unsafe_sub(reserve_out, amount_out) * unsafe_sub(FEE_DENOMINATOR, fee_bps)
    return numerator // denominator + 1


@pure
@internal
def _quote(amount_a: uint256, reserve_a: uint256, reserve_b: uint256) -> uint256:
    assert amount_a > 0, "router: insufficient amount"
    assert reserve_a > 0 and reserve_b > 0, "router: insufficient liquidity"
    return amount_a * reserve_b // reserve_a


@view
@internal
def _direction(pool: address, token_in: address) -> bool:
    """
    @dev True when selling token0 for token1.
    """
    if token_in == staticcall IPool(pool).token0():
        return True
    assert token_in == staticcall IPool(pool).token1(), "router: invalid token"
    return False


@view
@internal
def _reserves(pool: address, zero_for_one: bool) -> (uint256, uint256):
    """
    @dev (reserve_in, reserve_out) for the swap direction, in base units.
    """
    reserve0: uint112 = 0
    reserve1: uint112 = 0
    ts: uint32 = 0
    reserve0, reserve1, ts = staticcall IPool(pool).getReserves()
    if zero_for_one:
        return (convert(reserve0, uint256), convert(reserve1, uint256))
    return (convert(reserve1, uint256), convert(reserve0, uint256))


@internal
def _pull(token: address, pool: address, amount: uint256):
    assert extcall IERC20(token).transferFrom(
        msg.sender, pool, amount, default_return_value=True
    ), "router: transfer failed"


@internal
def _swap(pool: address, zero_for_one: bool, amount_out: uint256, to: address):
    if zero_for_one:
        extcall IPool(pool).swap(0, amount_out, to, b"")
    else:
        extcall IPool(pool).swap(amount_out, 0, to, b"")

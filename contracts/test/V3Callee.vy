# pragma version ~=0.4.3
"""
@title Uniswap V3 pool caller (test helper)
@notice Calls a Uniswap V3 pool's `mint` and `swap` and pays what the pool's callbacks ask
        for out of this contract's own token balances, less an optional `shortfall` (base
        units) so that the tests can provoke the pool's 'M0', 'M1' and 'IIA' checks. Positions
        belong to the `recipient` passed to `mint`, who burns and collects on the pool
        directly. Any caller may use it and any contract may call its callbacks: it holds test
        tokens only. Not for deployment.
@custom:revert-strings none of its own: the pool's revert data is passed up unchanged.
"""

from ethereum.ercs import IERC20


interface IUniswapV3Pool:
    def token0() -> address: view
    def token1() -> address: view
    def mint(recipient: address, tickLower: int24, tickUpper: int24, amount: uint128, data: Bytes[32]) -> (uint256, uint256): nonpayable
    def swap(recipient: address, zeroForOne: bool, amountSpecified: int256, sqrtPriceLimitX96: uint160, data: Bytes[32]) -> (int256, int256): nonpayable


@external
def mint(pool: address, recipient: address, tickLower: int24, tickUpper: int24, amount: uint128, shortfall: uint256) -> (uint256, uint256):
    """
    @notice Add `amount` liquidity to `recipient`'s position in [tickLower, tickUpper).
    @param shortfall Base units the callback pays short of each owed token amount.
    @return The token0 and token1 amounts the pool asked for, base units.
    """
    return extcall IUniswapV3Pool(pool).mint(recipient, tickLower, tickUpper, amount, abi_encode(shortfall))


@external
def swap(pool: address, recipient: address, zeroForOne: bool, amountSpecified: int256, sqrtPriceLimitX96: uint160, shortfall: uint256) -> (int256, int256):
    """
    @notice Swap on `pool`, the output going to `recipient`.
    @param amountSpecified Exact input (> 0) or exact output (< 0), base units.
    @param sqrtPriceLimitX96 Price limit, Q64.96.
    @param shortfall Base units the callback pays short of the owed input.
    @return The pool's token0 and token1 balance changes, base units.
    """
    return extcall IUniswapV3Pool(pool).swap(recipient, zeroForOne, amountSpecified, sqrtPriceLimitX96, abi_encode(shortfall))


@external
def uniswapV3MintCallback(amount0Owed: uint256, amount1Owed: uint256, data: Bytes[32]):
    """
    @notice Pool callback of `mint`: pay the owed amounts less the shortfall.
    """
    shortfall: uint256 = abi_decode(data, uint256)
    self._pay(staticcall IUniswapV3Pool(msg.sender).token0(), amount0Owed, shortfall)
    self._pay(staticcall IUniswapV3Pool(msg.sender).token1(), amount1Owed, shortfall)


@external
def uniswapV3SwapCallback(amount0Delta: int256, amount1Delta: int256, data: Bytes[32]):
    """
    @notice Pool callback of `swap`: pay the positive delta less the shortfall.
    """
    shortfall: uint256 = abi_decode(data, uint256)
    if amount0Delta > 0:
        self._pay(staticcall IUniswapV3Pool(msg.sender).token0(), convert(amount0Delta, uint256), shortfall)
    if amount1Delta > 0:
        self._pay(staticcall IUniswapV3Pool(msg.sender).token1(), convert(amount1Delta, uint256), shortfall)


@internal
def _pay(token: address, owed: uint256, shortfall: uint256):
    if owed > shortfall:
        extcall IERC20(token).transfer(msg.sender, owed - shortfall)

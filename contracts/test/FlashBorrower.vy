# pragma version ~=0.4.3
"""
@title Flash-swap borrower (test helper)
@notice Borrows from a pool with `swap(..., data)` and, inside `uniswapV2Call`, pays
        back the amounts named in `data` (base units of token0 / token1), optionally
        re-entering the pool first to prove the reentrancy lock. Not for deployment.
@custom:revert-strings "borrower: ..."
"""

from ethereum.ercs import IERC20


interface IPool:
    def token0() -> address: view
    def token1() -> address: view
    def sync(): nonpayable
    def swap(amount0Out: uint256, amount1Out: uint256, to: address, data: Bytes[1024]): nonpayable


# @dev Arguments of the last callback, for the tests to inspect.
lastSender: public(address)
lastAmount0: public(uint256)
lastAmount1: public(uint256)


@external
def borrow(pool: address, amount0Out: uint256, amount1Out: uint256, repay0: uint256, repay1: uint256, reenter: bool):
    """
    @notice Flash-borrow the outputs and repay `repay0` / `repay1` in the callback.
    """
    extcall IPool(pool).swap(amount0Out, amount1Out, self, abi_encode(repay0, repay1, reenter))


@external
def uniswapV2Call(sender: address, amount0: uint256, amount1: uint256, data: Bytes[1024]):
    """
    @notice Pool callback: repay what `data` says, re-entering the pool first if asked.
    """
    repay0: uint256 = 0
    repay1: uint256 = 0
    reenter: bool = False
    repay0, repay1, reenter = abi_decode(data, (uint256, uint256, bool))
    self.lastSender = sender
    self.lastAmount0 = amount0
    self.lastAmount1 = amount1
    if reenter:
        extcall IPool(msg.sender).sync()
    if repay0 > 0:
        assert extcall IERC20(staticcall IPool(msg.sender).token0()).transfer(msg.sender, repay0), "borrower: repay failed"
    if repay1 > 0:
        assert extcall IERC20(staticcall IPool(msg.sender).token1()).transfer(msg.sender, repay1), "borrower: repay failed"

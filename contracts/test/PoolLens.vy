# pragma version ~=0.4.3
"""
@title Pool lens (test helper)
@notice Reads a pool's whole observable state in one call, so that the chain/twin parity
        tests compare every step without a dozen RPC round trips. Not for deployment.
"""

from ethereum.ercs import IERC20


interface IPool:
    def token0() -> address: view
    def token1() -> address: view
    def getReserves() -> (uint112, uint112, uint32): view
    def price0CumulativeLast() -> uint256: view
    def price1CumulativeLast() -> uint256: view
    def totalSupply() -> uint256: view
    def balanceOf(owner: address) -> uint256: view


MAX_HOLDERS: constant(uint256) = 8


@view
@external
def snapshot(pool: address, holders: DynArray[address, MAX_HOLDERS]) -> DynArray[uint256, 16]:
    """
    @notice [balance0, balance1, reserve0, reserve1, blockTimestampLast,
             price0CumulativeLast, price1CumulativeLast, totalSupply, LP balance of each
             holder...]; token amounts in base units, LP in LP wei.
    """
    r0: uint112 = 0
    r1: uint112 = 0
    ts: uint32 = 0
    r0, r1, ts = staticcall IPool(pool).getReserves()
    out: DynArray[uint256, 16] = [
        staticcall IERC20(staticcall IPool(pool).token0()).balanceOf(pool),
        staticcall IERC20(staticcall IPool(pool).token1()).balanceOf(pool),
        convert(r0, uint256),
        convert(r1, uint256),
        convert(ts, uint256),
        staticcall IPool(pool).price0CumulativeLast(),
        staticcall IPool(pool).price1CumulativeLast(),
        staticcall IPool(pool).totalSupply(),
    ]
    for holder: address in holders:
        out.append(staticcall IPool(pool).balanceOf(holder))
    return out

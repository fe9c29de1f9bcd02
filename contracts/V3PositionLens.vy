# pragma version ~=0.4.3
"""
@title Uniswap V3 position lens
@notice A NonfungiblePositionManager's `positions(tokenId)`, or all zeros for a token that
        does not exist (yet). The chain backend reads every token a run mints after every
        block, blocks before its mint included, where the manager itself reverts
        ('Invalid token ID').
"""

# nonce, operator, token0, token1, fee, tickLower, tickUpper, liquidity,
# feeGrowthInside0LastX128, feeGrowthInside1LastX128, tokensOwed0, tokensOwed1
POSITION_WORDS: constant(uint256) = 12


@view
@external
def positions(manager: address, token_id: uint256) -> uint256[POSITION_WORDS]:
    """
    @notice The manager's `positions(token_id)` as twelve words (int24 ticks sign-extended),
            or twelve zeros when the call reverts.
    @param manager The NonfungiblePositionManager.
    @param token_id The position's token id.
    """
    ok: bool = False
    response: Bytes[384] = b""
    ok, response = raw_call(
        manager,
        abi_encode(token_id, method_id=method_id("positions(uint256)")),
        max_outsize=384,
        is_static_call=True,
        revert_on_failure=False,
    )
    out: uint256[POSITION_WORDS] = empty(uint256[POSITION_WORDS])
    if ok and len(response) == 32 * POSITION_WORDS:
        for i: uint256 in range(POSITION_WORDS):
            out[i] = convert(extract32(response, 32 * i), uint256)
    return out

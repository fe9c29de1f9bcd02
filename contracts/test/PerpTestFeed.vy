# pragma version ~=0.4.3
"""
@title Settable AggregatorV3 stand-in for the perp market's tests
@notice Returns whatever answer and update time were last set, including the
        non-positive answers and odd decimals that `PriceFeed` refuses, so every
        oracle revert path of `PerpMarket` can be reached.
@custom:revert-strings none
"""


# @dev Decimals of the answer.
decimals: public(uint8)
# @dev Answer (price * 10**decimals) and its update time, seconds.
answer: public(int256)
updatedAt: public(uint256)


@deploy
def __init__(decimals: uint8, answer: int256):
    """
    @param decimals Decimals of the answers.
    @param answer First answer; its update time is the deployment block's.
    """
    self.decimals = decimals
    self.answer = answer
    self.updatedAt = block.timestamp


@external
def set(answer: int256, updated_at: uint256):
    """
    @notice Replace the answer and its update time (seconds); anyone may call.
    """
    self.answer = answer
    self.updatedAt = updated_at


@view
@external
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice (1, answer, updatedAt, updatedAt, 1).
    """
    return (1, self.answer, self.updatedAt, self.updatedAt, 1)

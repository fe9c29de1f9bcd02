# pragma version ~=0.4.3
"""
@title ammlab price feed
@notice A Chainlink-style push oracle (AggregatorV3Interface plus the legacy
        AggregatorInterface getters) with one trusted transmitter. Each `transmit`
        opens and answers a new round at once: round ids count up from 1,
        startedAt == updatedAt == block.timestamp and answeredInRound == roundId.
        Units: `answer` is the price scaled by 10**decimals (e.g. 8 decimals:
        2000.5 USD -> 200_050_000_000); timestamps are seconds since the epoch.
@custom:revert-strings "feed: ..."
"""


# @dev AggregatorV3Interface.version() of this implementation.
VERSION: constant(uint256) = 1


struct Round:
    answer: int256
    updated_at: uint256


# @dev Decimals of `answer` and the feed's human description ("ETH / USD").
decimals: public(uint8)
description: public(String[64])

# @dev Deployer; may replace the transmitter.
owner: public(address)
# @dev The only account allowed to `transmit`.
transmitter: public(address)

# @dev Id of the newest round (0 before the first transmission).
latestRound: public(uint80)
_rounds: HashMap[uint80, Round]


event AnswerUpdated:
    current: indexed(int256)
    roundId: indexed(uint256)
    updatedAt: uint256


event NewRound:
    roundId: indexed(uint256)
    startedBy: indexed(address)
    startedAt: uint256


event TransmitterChanged:
    previous_transmitter: indexed(address)
    new_transmitter: indexed(address)


@deploy
def __init__(decimals: uint8, description: String[64], transmitter: address):
    """
    @param decimals Decimals of the answers.
    @param description Pair description, e.g. "ETH / USD".
    @param transmitter Account allowed to publish answers.
    """
    self.decimals = decimals
    self.description = description
    self.owner = msg.sender
    self.transmitter = transmitter
    log TransmitterChanged(previous_transmitter=empty(address), new_transmitter=transmitter)


@view
@external
def version() -> uint256:
    """
    @notice Implementation version (AggregatorV3Interface).
    """
    return VERSION


@external
def transmit(answer: int256) -> uint80:
    """
    @notice Publish `answer` (price * 10**decimals) as a new round; only the transmitter.
    @return The new round id.
    """
    assert msg.sender == self.transmitter, "feed: not transmitter"
    assert answer > 0, "feed: answer must be positive"
    round_id: uint80 = self.latestRound + 1
    self.latestRound = round_id
    self._rounds[round_id] = Round(answer=answer, updated_at=block.timestamp)
    log NewRound(roundId=convert(round_id, uint256), startedBy=msg.sender, startedAt=block.timestamp)
    log AnswerUpdated(current=answer, roundId=convert(round_id, uint256), updatedAt=block.timestamp)
    return round_id


@external
def setTransmitter(new_transmitter: address):
    """
    @notice Replace the transmitter; only the owner.
    """
    assert msg.sender == self.owner, "feed: not owner"
    log TransmitterChanged(previous_transmitter=self.transmitter, new_transmitter=new_transmitter)
    self.transmitter = new_transmitter


@view
@external
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice The newest round: (roundId, answer, startedAt, updatedAt, answeredInRound).
    """
    return self._round_data(self.latestRound)


@view
@external
def getRoundData(_roundId: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice Round `_roundId`: (roundId, answer, startedAt, updatedAt, answeredInRound).
    """
    return self._round_data(_roundId)


@view
@external
def latestAnswer() -> int256:
    """
    @notice Newest answer (legacy AggregatorInterface).
    """
    return self._round_data(self.latestRound)[1]


@view
@external
def latestTimestamp() -> uint256:
    """
    @notice Update time of the newest round, seconds (legacy AggregatorInterface).
    """
    return self._round_data(self.latestRound)[3]


@view
@internal
def _round_data(round_id: uint80) -> (uint80, int256, uint256, uint256, uint80):
    r: Round = self._rounds[round_id]
    assert r.updated_at != 0, "feed: no data"
    return (round_id, r.answer, r.updated_at, r.updated_at, round_id)

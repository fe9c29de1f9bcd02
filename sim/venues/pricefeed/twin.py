"""Exact twin of `contracts/PriceFeed.vy`, a Chainlink-style push oracle.

Each `transmit` opens and answers one round: round ids count up from 1,
``startedAt == updatedAt == timestamp`` and ``answeredInRound == roundId``. Failures raise
`sim.errors.Revert` with the contract's revert strings.

Units: an answer is the price scaled by ``10**decimals`` (int); timestamps are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from sim.errors import Revert

VERSION = 1
"""``version()`` of the contract."""


class RoundData(NamedTuple):
    """``latestRoundData()`` / ``getRoundData()`` as AggregatorV3Interface returns them."""

    round_id: int
    answer: int
    started_at: int
    updated_at: int
    answered_in_round: int


@dataclass
class PriceFeed:
    """State of one price feed, mirroring the contract's storage.

    Attributes:
        decimals: decimals of the answers.
        description: e.g. ``"ETH / USD"``.
        transmitter: the only address allowed to `transmit`.
        owner: the deployer, allowed to `set_transmitter`.
        latest_round: id of the newest round, 0 before the first.
        rounds: ``round_id -> (answer, updated_at)``.
    """

    decimals: int
    description: str
    transmitter: str
    owner: str
    latest_round: int = 0
    rounds: dict[int, tuple[int, int]] = field(default_factory=dict)

    def transmit(self, sender: str, answer: int, timestamp: int) -> int:
        """``transmit(answer)`` sent by `sender` in a block at `timestamp` (seconds).

        Returns:
            The new round id.
        """
        if sender != self.transmitter:
            raise Revert("feed: not transmitter")
        if answer <= 0:
            raise Revert("feed: answer must be positive")
        round_id = self.latest_round + 1
        self.latest_round = round_id
        self.rounds[round_id] = (answer, timestamp)
        return round_id

    def set_transmitter(self, sender: str, new_transmitter: str) -> None:
        """``setTransmitter(new_transmitter)`` sent by `sender`."""
        if sender != self.owner:
            raise Revert("feed: not owner")
        self.transmitter = new_transmitter

    def get_round_data(self, round_id: int) -> RoundData:
        """``getRoundData(round_id)``; unknown rounds revert with ``"feed: no data"``."""
        stored = self.rounds.get(round_id)
        if stored is None:
            raise Revert("feed: no data")
        answer, updated_at = stored
        return RoundData(round_id, answer, updated_at, updated_at, round_id)

    def latest_round_data(self) -> RoundData:
        """``latestRoundData()``; before the first round it reverts ``"feed: no data"``."""
        return self.get_round_data(self.latest_round)

    def latest_answer(self) -> int:
        """``latestAnswer()``: the newest answer (legacy AggregatorInterface)."""
        return self.latest_round_data().answer

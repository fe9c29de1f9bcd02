"""PriceFeed: Chainlink AggregatorV3 semantics, checked against the `sim.venues.pricefeed.twin` twin."""

from __future__ import annotations

import ape
import pytest

from sim.errors import Revert
from sim.venues.pricefeed.twin import PriceFeed as FeedTwin

pytestmark = pytest.mark.chain


@pytest.fixture(scope="module")
def feed(project, owner, alice):
    return owner.deploy(project.PriceFeed, 8, "ETH / USD", alice)


@pytest.fixture
def twin(feed, owner, alice):
    return FeedTwin(8, "ETH / USD", alice.address, owner.address)


def test_metadata(feed, owner, alice):
    assert (feed.decimals(), feed.description(), feed.version()) == (8, "ETH / USD", 1)
    assert (feed.owner(), feed.transmitter(), feed.latestRound()) == (
        owner.address,
        alice.address,
        0,
    )


def test_no_data_before_first_round(feed, twin):
    for call in (feed.latestRoundData, feed.latestAnswer, feed.latestTimestamp):
        with ape.reverts("feed: no data"):
            call()
    with ape.reverts("feed: no data"):
        feed.getRoundData(1)
    with pytest.raises(Revert, match="feed: no data"):
        twin.latest_round_data()


def test_rounds_match_twin(feed, twin, alice, chain):
    for i, answer in enumerate([2_000_00000000, 1_999_50000000, 3]):
        chain.pending_timestamp = chain.blocks.head.timestamp + 12
        receipt = feed.transmit(answer, sender=alice)
        ts = chain.blocks[receipt.block_number].timestamp
        assert twin.transmit(alice.address, answer, ts) == i + 1
        [new_round] = receipt.decode_logs(feed.NewRound)
        assert (new_round.roundId, new_round.startedBy, new_round.startedAt) == (
            i + 1,
            alice.address,
            ts,
        )
        [updated] = receipt.decode_logs(feed.AnswerUpdated)
        assert (updated.current, updated.roundId, updated.updatedAt) == (answer, i + 1, ts)
        assert tuple(feed.latestRoundData()) == tuple(twin.latest_round_data())
        assert (feed.latestAnswer(), feed.latestTimestamp()) == (answer, ts)
    for round_id in (1, 2, 3):
        assert tuple(feed.getRoundData(round_id)) == tuple(twin.get_round_data(round_id))
    with ape.reverts("feed: no data"):
        feed.getRoundData(4)
    with ape.reverts("feed: no data"):
        feed.getRoundData(0)


@pytest.mark.parametrize("answer", [0, -1], ids=["zero", "negative"])
def test_non_positive_answer(feed, twin, alice, answer):
    with ape.reverts("feed: answer must be positive"):
        feed.transmit(answer, sender=alice)
    with pytest.raises(Revert, match="feed: answer must be positive"):
        twin.transmit(alice.address, answer, 1)


def test_only_transmitter_and_owner(feed, twin, owner, alice, bob):
    with ape.reverts("feed: not transmitter"):
        feed.transmit(1, sender=bob)
    with ape.reverts("feed: not owner"):
        feed.setTransmitter(bob, sender=alice)
    with pytest.raises(Revert, match="feed: not owner"):
        twin.set_transmitter(alice.address, bob.address)
    feed.setTransmitter(bob, sender=owner)
    twin.set_transmitter(owner.address, bob.address)
    feed.transmit(7, sender=bob)
    with ape.reverts("feed: not transmitter"):
        feed.transmit(1, sender=alice)
    with pytest.raises(Revert, match="feed: not transmitter"):
        twin.transmit(alice.address, 1, 1)
    assert feed.latestAnswer() == 7

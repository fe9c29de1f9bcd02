"""The price-feed twin alone: Chainlink round semantics and the contract's failures."""

from __future__ import annotations

import pytest

from sim.errors import Revert
from sim.venues.pricefeed.twin import VERSION, PriceFeed, RoundData


@pytest.fixture
def feed() -> PriceFeed:
    return PriceFeed(decimals=8, description="ETH / USD", transmitter="tx", owner="owner")


def test_rounds_count_from_one(feed):
    assert VERSION == 1
    assert feed.transmit("tx", 2_000_00000000, 100) == 1
    assert feed.transmit("tx", 2_001_00000000, 112) == 2
    assert feed.latest_round_data() == RoundData(2, 2_001_00000000, 112, 112, 2)
    assert feed.get_round_data(1) == RoundData(1, 2_000_00000000, 100, 100, 1)
    assert feed.latest_answer() == 2_001_00000000


@pytest.mark.parametrize("round_id", [0, 3], ids=["zero", "future"])
def test_unknown_round(feed, round_id):
    feed.transmit("tx", 1, 100)
    feed.transmit("tx", 1, 100)
    with pytest.raises(Revert, match="feed: no data"):
        feed.get_round_data(round_id)


def test_no_data_before_first_round(feed):
    with pytest.raises(Revert, match="feed: no data"):
        feed.latest_round_data()


@pytest.mark.parametrize(
    ("sender", "answer", "reason"),
    [
        ("other", 1, "feed: not transmitter"),
        ("tx", 0, "feed: answer must be positive"),
        ("tx", -5, "feed: answer must be positive"),
    ],
    ids=["not-transmitter", "zero", "negative"],
)
def test_transmit_refused(feed, sender, answer, reason):
    with pytest.raises(Revert, match=reason) as info:
        feed.transmit(sender, answer, 100)
    assert info.value.reason == reason
    assert feed.latest_round == 0


def test_set_transmitter(feed):
    with pytest.raises(Revert, match="feed: not owner"):
        feed.set_transmitter("tx", "new")
    feed.set_transmitter("owner", "new")
    with pytest.raises(Revert, match="feed: not transmitter"):
        feed.transmit("tx", 1, 100)
    assert feed.transmit("new", 1, 100) == 1

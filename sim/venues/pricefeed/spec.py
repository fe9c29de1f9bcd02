"""The pricefeed venue's spec: the one line `sim.venues.registry` lists (see `sim.venues.base`)."""

from sim.venues.base import Venue
from sim.venues.pricefeed.config import OracleConfig
from sim.venues.pricefeed.engine import FeedSide


def _exact():
    from sim.venues.pricefeed.exact import FeedPart

    return FeedPart


def _chain():
    from sim.venues.pricefeed.chain import FeedChainPart

    return FeedChainPart


VENUE = Venue(
    name="pricefeed",
    contract="PriceFeed",
    fields=(("oracles", OracleConfig, "Chainlink-style feeds."),),
    engine=FeedSide(),
    exact=_exact,
    chain=_chain,
)

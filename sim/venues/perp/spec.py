"""The perp venue's spec: the one line `sim.venues.registry` lists (see `sim.venues.base`)."""

from sim.venues.base import Venue
from sim.venues.perp.agents import Liquidator, PerpTrader
from sim.venues.perp.config import PerpConfig
from sim.venues.perp.engine import PerpSide


def _exact():
    from sim.venues.perp.exact import PerpPart

    return PerpPart


def _chain():
    from sim.venues.perp.chain import PerpChainPart

    return PerpChainPart


VENUE = Venue(
    name="perp",
    contract="PerpMarket",
    fields=(("perps", PerpConfig, "Perpetual-futures markets."),),
    engine=PerpSide(),
    exact=_exact,
    chain=_chain,
    agents=(PerpTrader, Liquidator),
)

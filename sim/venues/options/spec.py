"""The options venue's spec: the one line `sim.venues.registry` lists (see `sim.venues.base`)."""

from sim.venues.base import Venue
from sim.venues.options.agents import InformedOptionTrader, OptionTrader
from sim.venues.options.config import OptionsPoolConfig
from sim.venues.options.engine import OptionsSide


def _exact():
    from sim.venues.options.exact import OptionsPart

    return OptionsPart


def _chain():
    from sim.venues.options.chain import OptionsChainPart

    return OptionsChainPart


VENUE = Venue(
    name="options",
    contract="OptionsPool",
    fields=(("options_pools", OptionsPoolConfig, "Options AMM pools."),),
    engine=OptionsSide(),
    exact=_exact,
    chain=_chain,
    agents=(OptionTrader, InformedOptionTrader),
)

"""The oracle_swap venue's spec: the one line `sim.venues.registry` lists (see `sim.venues.base`)."""

from sim.venues.base import Venue
from sim.venues.oracle_swap.agents import OracleSniper
from sim.venues.oracle_swap.config import OracleVenueConfig
from sim.venues.oracle_swap.engine import OracleSwapSide


def _exact():
    from sim.venues.oracle_swap.exact import OracleSwapPart

    return OracleSwapPart


def _chain():
    from sim.venues.oracle_swap.chain import OracleSwapChainPart

    return OracleSwapChainPart


VENUE = Venue(
    name="oracle_swap",
    contract="OracleSwap",
    fields=(("venues", OracleVenueConfig, "Oracle-priced venues."),),
    engine=OracleSwapSide(),
    exact=_exact,
    chain=_chain,
    agents=(OracleSniper,),
)

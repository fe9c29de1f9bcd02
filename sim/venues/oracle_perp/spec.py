"""The oracle_perp venue's spec: the one line `sim.venues.registry` lists (`sim.venues.base`)."""

from sim.venues.base import Venue
from sim.venues.oracle_perp.config import OraclePerpConfig
from sim.venues.oracle_perp.engine import OraclePerpSide


def _exact():
    from sim.venues.oracle_perp.exact import OraclePerpPart

    return OraclePerpPart


def _chain():
    from sim.venues.oracle_perp.chain import OraclePerpChainPart

    return OraclePerpChainPart


VENUE = Venue(
    name="oracle_perp",
    contract="(none yet: a model venue, fast engine only)",
    fields=(("oracle_perps", OraclePerpConfig, "Oracle-priced perps (model venue)."),),
    engine=OraclePerpSide(),
    exact=_exact,
    chain=_chain,
)

"""The one list of venue kinds. The scenario, the fast engine, the exact world and the chain
backend all iterate it, in this order (a venue may use what an earlier one built: a TWAP its
pool, a perp its feed).

Adding a venue: write its package `sim/venues/<kind>/` with the parts every venue has (see
`sim.venues.base`), then add its `VENUE` here. Nothing else changes.
"""

from sim.venues.base import Venue
from sim.venues.cpmm import spec as cpmm
from sim.venues.options import spec as options
from sim.venues.oracle_perp import spec as oracle_perp
from sim.venues.oracle_swap import spec as oracle_swap
from sim.venues.perp import spec as perp
from sim.venues.pricefeed import spec as pricefeed
from sim.venues.univ3 import spec as univ3

VENUES: tuple[Venue, ...] = (
    cpmm.VENUE,
    pricefeed.VENUE,
    oracle_swap.VENUE,
    perp.VENUE,
    options.VENUE,
    univ3.VENUE,
    oracle_perp.VENUE,
)


def venue(name: str) -> Venue:
    """The venue kind called `name`."""
    for v in VENUES:
        if v.name == name:
            return v
    raise KeyError(name)

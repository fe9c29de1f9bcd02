"""The cpmm venue's spec: the one line `sim.venues.registry` lists (see `sim.venues.base`)."""

from sim.venues.base import Venue
from sim.venues.cpmm.config import PoolConfig, TwapConfig
from sim.venues.cpmm.engine import CpmmSide


def _exact():
    from sim.venues.cpmm.exact import CpmmPart

    return CpmmPart


def _chain():
    from sim.venues.cpmm.chain import CpmmChainPart

    return CpmmChainPart


VENUE = Venue(
    name="cpmm",
    contract="ConstantProductPool",
    fields=(
        ("pools", PoolConfig, "Constant-product pools."),
        ("twaps", TwapConfig, "Pool TWAPs."),
    ),
    engine=CpmmSide(),
    exact=_exact,
    chain=_chain,
)

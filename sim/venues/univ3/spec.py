"""The univ3 venue's spec: the one line `sim.venues.registry` lists (see `sim.venues.base`)."""

from sim.venues.base import Venue
from sim.venues.univ3.agents import (
    V3Arbitrageur,
    V3CrossArbitrageur,
    V3LiquidityProvider,
    V3NoiseTrader,
    V3SandwichAttacker,
)
from sim.venues.univ3.config import V3PoolConfig
from sim.venues.univ3.engine import Univ3Side


def _exact():
    from sim.venues.univ3.exact import Univ3Part

    return Univ3Part


def _chain():
    from sim.venues.univ3.chain import Univ3ChainPart

    return Univ3ChainPart


VENUE = Venue(
    name="univ3",
    contract="UniswapV3Pool",
    fields=(("v3_pools", V3PoolConfig, "Uniswap V3 pools (genuine v3-core 1.0.1 on chain)."),),
    engine=Univ3Side(),
    exact=_exact,
    chain=_chain,
    agents=(
        V3Arbitrageur,
        V3NoiseTrader,
        V3SandwichAttacker,
        V3CrossArbitrageur,
        V3LiquidityProvider,
    ),
)

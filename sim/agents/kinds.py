"""The agent kinds that trade any venue of their kind (pools), in the order a scenario lists
them; each venue adds its own (`Venue.agents`). The first is the default agent."""

from sim.agents.arbitrage import CexDexArbitrageur, CrossVenueArbitrageur
from sim.agents.graph_arb import GraphArbitrageur
from sim.agents.keeper import KeeperAgent
from sim.agents.lp import LiquidityProvider
from sim.agents.noise import NoiseTrader
from sim.agents.sandwich import SandwichAttacker

GENERIC_AGENTS = (
    CexDexArbitrageur,
    CrossVenueArbitrageur,
    NoiseTrader,
    LiquidityProvider,
    SandwichAttacker,
    KeeperAgent,
    GraphArbitrageur,
)

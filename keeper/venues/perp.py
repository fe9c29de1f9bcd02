"""The perp venue kind: ammlab's PerpMarket, one `modifyPosition(sizeDelta, acceptablePrice,
deadline)` per leg. Read by `keeper.reader` (position, skew, funding, oracle price, fee),
priced for routing by `sim.decisions.routing.PerpVenue`, bounded by the twin's fill price
moved by the slippage tolerance. Sizes and prices are the contract's wad.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from keeper.venues.base import LegPlan
from sim.chain.abi import encode_call
from sim.decisions.routing import Leg, perp_fill_price
from sim.venues.perp.twin import WAD

if TYPE_CHECKING:
    from sim.venues.perp.twin import VenueState

MODIFY_POSITION = "modifyPosition(int256,uint256,uint256)"


def plan_leg(
    state: VenueState, leg: Leg, tol: float, deadline: int, perp: str, gas_units: int
) -> LegPlan:
    """The leg at the twin's fill price: acceptable price = fill × (1 ± tol)."""
    size_wei = int(round(leg.size * WAD))
    fill = perp_fill_price(state, size_wei)
    acceptable = math.ceil(fill * (1 + tol)) if size_wei > 0 else math.floor(fill * (1 - tol))
    size = size_wei / WAD
    return LegPlan(
        venue=leg.venue, kind="perp", size=size, size_wei=size_wei,
        expected_cost_quote=leg.cost, gas_quote=leg.gas, expected_price=abs(leg.cost / size),
        deadline=deadline, gas_units=gas_units, to=perp, acceptable_price=acceptable,
    )  # fmt: skip


def encode(leg: LegPlan) -> tuple[str, str]:
    return leg.to, encode_call(
        MODIFY_POSITION, ["int256", "uint256", "uint256"],
        [leg.size_wei, leg.acceptable_price, leg.deadline],
    )  # fmt: skip

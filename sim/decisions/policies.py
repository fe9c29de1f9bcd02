"""Every hedging policy and every range policy a scenario or keeper config can name, chosen by
`kind`.

Separate from `sim.decisions.hedging` (the static policies) and `sim.learn.policy` (the learned one) so
that neither imports the other: the learned policy's training code uses the static ones as
baselines.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from sim.decisions.hedging import DeltaBand, FixedInterval, NoHedge, WhalleyWilmott
from sim.decisions.ranges import NoRange, Periodic, Recentre, StaticRange, VolWidth
from sim.learn.policy import Learned

PolicyConfig = Annotated[
    FixedInterval | DeltaBand | WhalleyWilmott | NoHedge | Learned, Field(discriminator="kind")
]
"""A policy as it appears in a scenario or keeper config, chosen by `kind`."""

RangePolicyConfig = Annotated[
    StaticRange | Recentre | VolWidth | Periodic | NoRange, Field(discriminator="kind")
]
"""A range policy (`sim.decisions.ranges`) as it appears in a scenario or keeper config."""

__all__ = [
    "DeltaBand",
    "FixedInterval",
    "Learned",
    "NoHedge",
    "NoRange",
    "Periodic",
    "PolicyConfig",
    "RangePolicyConfig",
    "Recentre",
    "StaticRange",
    "VolWidth",
    "WhalleyWilmott",
]

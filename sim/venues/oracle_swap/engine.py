"""Oracle-priced venues in the fast engine."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.venues.base import BuildEnv, EngineSide
from sim.venues.oracle_swap.batch import OracleVenue


class OracleSwapSide(EngineSide):
    """Builds one `OracleVenue` per `venues` entry (factory "venues": `OracleVenue(cfg,
    feed)`), priced by a feed or TWAP built before it; reports each venue's LP P&L."""

    fields = ("venues",)

    def build(self, env: BuildEnv) -> dict[str, dict[str, Any]]:
        make = env.factory("venues", OracleVenue)
        return {"venues": {v.name: make(v, env.feed(v.oracle)) for v in env.sc.venues}}

    def world_columns(self, markets, ctx) -> dict[str, np.ndarray]:
        return {f"venue.{n}.pnl": v.pnl for n, v in markets["venues"].items()}

"""Perp markets in the fast engine."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.venues.base import BuildEnv, EngineSide
from sim.venues.perp.venue import PerpVenue, account_plan


class PerpSide(EngineSide):
    """Builds one `PerpVenue` per `perps` entry (factory "perps": `PerpVenue(cfg, n, plan,
    feed | None)`), its account slots planned from the scenario's agents; reports each
    market's open interest, funding, fund and solvency."""

    fields = ("perps",)

    def build(self, env: BuildEnv) -> dict[str, dict[str, Any]]:
        make = env.factory("perps", PerpVenue)
        return {
            "perps": {
                m.name: make(m, env.n, account_plan(env.sc, m.name), env.feed(m.oracle))
                for m in env.sc.perps
            }
        }

    def world_columns(self, markets, ctx) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for m in markets["perps"].values():
            out.update(m.world_columns(ctx.ref, ctx.time))
        return out

"""Oracle-priced perps in the fast engine."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.venues.base import BuildEnv, EngineSide
from sim.venues.oracle_perp.batch import OraclePerpVenue


class OraclePerpSide(EngineSide):
    """Builds one `OraclePerpVenue` per `oracle_perps` entry (factory "oracle_perps":
    `OraclePerpVenue(cfg, n, feed)`) on a feed or TWAP built before it; each block, after the
    feeds have landed their reports, re-centres its quote on the answer; reports its
    counterparty's LVR, fees, loss and volume."""

    fields = ("oracle_perps",)

    def build(self, env: BuildEnv) -> dict[str, dict[str, Any]]:
        make = env.factory("oracle_perps", OraclePerpVenue)
        return {
            "oracle_perps": {
                c.name: make(c, env.n, env.feed(c.oracle)) for c in env.sc.oracle_perps
            }
        }

    def start_block(self, markets, ctx) -> None:
        for v in markets["oracle_perps"].values():
            v.recenter()

    def world_columns(self, markets, ctx) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for v in markets["oracle_perps"].values():
            out.update(v.world_columns())
        return out

    def sample(self, markets, ctx) -> dict[str, np.ndarray]:
        return {f"oracle_perp.{n}.mid": v.y / v.x for n, v in markets["oracle_perps"].items()}

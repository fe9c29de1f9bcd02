"""Options pools in the fast engine."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.venues.base import BuildEnv, EngineSide
from sim.venues.options.venue import OptionsVenue


class OptionsSide(EngineSide):
    """Builds one `OptionsVenue` per `options_pools` entry (factory "options_pools":
    `OptionsVenue(cfg, n, feed | None)`); each block a pool starts its accounting baseline
    once the ledger starts and settles expired boards; reports NAV, the P&L split and the
    Greeks, and samples them per block."""

    fields = ("options_pools",)

    def build(self, env: BuildEnv) -> dict[str, dict[str, Any]]:
        make = env.factory("options_pools", OptionsVenue)
        pools = {o.name: make(o, env.n, env.feed(o.oracle)) for o in env.sc.options_pools}
        return {"options_pools": pools}

    def start_block(self, markets, ctx) -> None:
        for ov in markets["options_pools"].values():
            ov.begin_block(ctx)

    def world_columns(self, markets, ctx) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for ov in markets["options_pools"].values():
            out.update(ov.world_columns(ctx))
        return out

    def sample(self, markets, ctx) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for ov in markets["options_pools"].values():
            out.update(ov.sample(ctx))
        return out

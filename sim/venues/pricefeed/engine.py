"""Chainlink-style feeds in the fast engine."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.venues.base import BuildEnv, EngineSide
from sim.venues.pricefeed.batch import ChainlinkFeed


class FeedSide(EngineSide):
    """Builds one `ChainlinkFeed` per `oracles` entry (factory "oracles": `ChainlinkFeed(cfg,
    ref, streams)`); each block a feed lands its due reports and its node observes, and the
    ledger books each landed update and its gas (the transmitter's)."""

    fields = ("oracles",)

    def build(self, env: BuildEnv) -> dict[str, dict[str, Any]]:
        make = env.factory("oracles", ChainlinkFeed)
        feeds = {o.name: make(o, env.ref, env.streams("oracle/" + o.name)) for o in env.sc.oracles}
        return {"oracles": feeds}

    def start_block(self, markets, ctx) -> None:
        ledger = ctx.ledger
        for f in markets["oracles"].values():
            landed = f.step(ctx.block, ctx.time, ctx.ref)
            if ledger.active:
                ledger.oracle_updates[f.name] += landed
                ledger.oracle_gas += np.where(landed, ctx.gas_cost("oracle_update"), 0.0)

    def sample(self, markets, ctx) -> dict[str, np.ndarray]:
        return {f"oracle.{n}.answer": f.price().copy() for n, f in markets["oracles"].items()}

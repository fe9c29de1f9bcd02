"""The Chainlink-style feeds of one exact world: `PriceFeed` twins whose reports are the
transmitter's transactions.

The exact world's part for `scenario.oracles` (see `sim.venues.base.ExactPart`): each feed's
first round at the initial price in the setup block; then `ExactFeed`, the feed the engine
builds, turns every report that lands into the transmitter's `transmit` on the twin, and the
float answer into the on-chain answer (price × 10**decimals).

Action:
    {"kind": "transmit", "feed", "answer", "status"}
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.errors import ConfigError
from sim.venues.base import DEPLOYER, ExactPart
from sim.venues.pricefeed.batch import ChainlinkFeed
from sim.venues.pricefeed.twin import PriceFeed


def transmitter_of(feed: str) -> str:
    """Name of the account that transmits `feed`'s reports."""
    return f"transmitter:{feed}"


class FeedPart(ExactPart):
    """The feeds' twins and their transmitters."""

    name = "pricefeed"
    scenario_fields = ("oracles",)

    @classmethod
    def check(cls, sc: Any) -> None:
        for o in sc.oracles:
            if o.pipelined:
                raise ConfigError(
                    f"oracles.{o.name}.pipelined: not on chain yet (the transmitter sends one "
                    "round at a time); set it false for a chain run"
                )

    def __init__(self, world: Any):
        super().__init__(world)
        self.feeds: dict[str, PriceFeed] = {}
        for o in world.sc.oracles:
            world.add_sender(transmitter_of(o.name))

    def setup(self) -> None:
        w = self.world
        ref = w.initial_price()
        for o in w.sc.oracles:
            feed = PriceFeed(w.feed_decimals, o.name, transmitter_of(o.name), DEPLOYER)
            self.feeds[o.name] = feed
            self.transmit(o.name, ref)

    def state(self) -> dict[str, int]:
        s: dict[str, int] = {}
        for name, f in self.feeds.items():
            r = f.latest_round_data()
            s[f"feed.{name}.roundId"] = r.round_id
            s[f"feed.{name}.answer"] = r.answer
            s[f"feed.{name}.updatedAt"] = r.updated_at
        return s

    def factories(self) -> dict[str, Any]:
        part = self

        def make(cfg, ref_price, streams) -> ExactFeed:
            return ExactFeed(part, cfg, ref_price, streams)

        return {"oracles": make}

    def transmit(self, feed: str, price: float) -> float:
        """The transmitter lands a report; returns the on-chain answer as a price."""
        w = self.world
        answer = int(round(price * w.feed_scale))
        self.feeds[feed].transmit(transmitter_of(feed), answer, w.timestamp)
        w.record({"kind": "transmit", "feed": feed, "answer": answer, "status": 1})
        return answer / w.feed_scale


class ExactFeed(ChainlinkFeed):
    """A Chainlink-style feed whose landed reports are the transmitter's transactions."""

    def __init__(self, part: FeedPart, cfg, ref_price, streams):
        super().__init__(cfg, ref_price, streams)
        self.part = part
        r = part.feeds[cfg.name].latest_round_data()
        self.answer = np.array([r.answer / part.world.feed_scale])

    def _land(self, block: int, now: np.ndarray) -> np.ndarray:
        due = super()._land(block, now)
        if bool(due[0]):
            self.answer = np.array([self.part.transmit(self.name, float(self.answer[0]))])
        return due

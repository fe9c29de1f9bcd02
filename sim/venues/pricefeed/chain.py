"""Chain part of the Chainlink-style feeds (`sim.venues.pricefeed.exact.FeedPart`):
`contracts/PriceFeed.vy`.

Creations: one feed per scenario oracle (8 decimals, its transmitter's address). Actions:
the transmitter's `transmit(answer)`. State reads: `latestRoundData()` (round id, answer,
updatedAt).
"""

from __future__ import annotations

from typing import Any

from sim.chain.abi import address_of, calldata
from sim.venues.base import ChainPart, Creation, Layout, Read, Tx
from sim.venues.pricefeed.exact import transmitter_of

TRANSMIT_GAS = 200_000
"""Gas limit of a transmit (actual use is in the receipts)."""


def feed_label(name: str) -> str:
    """Layout label of a feed's contract."""
    return f"feed:{name}"


class FeedChainPart(ChainPart):
    """Deploys, encodes and reads the scenario's feeds."""

    kinds = frozenset({"transmit"})

    def creations(self, sc: Any) -> list[Creation]:
        out: list[Creation] = []
        for o in sc.oracles:
            args = [8, f"{o.name} (ammlab)", address_of(f"agent:{transmitter_of(o.name)}")]
            out.append(
                (
                    feed_label(o.name),
                    lambda a, code, args=args: code(
                        "PriceFeed", ["uint8", "string", "address"], args
                    ),
                )
            )
        return out

    def encode(self, a: dict[str, Any], layout: Layout, timestamp: int) -> Tx:
        feed = a["feed"]
        data = calldata("transmit(int256)", a["answer"])
        return (layout.agents[transmitter_of(feed)], layout.contracts[feed_label(feed)], data,
                TRANSMIT_GAS)  # fmt: skip

    def reads(self, layout: Layout, world: Any) -> list[Read]:
        reads: list[Read] = []
        for name, feed in layout.labelled("feed").items():
            f = f"feed.{name}."
            reads.append(
                (
                    feed,
                    calldata("latestRoundData()"),
                    [(f + "roundId", 0), (f + "answer", 1, True), (f + "updatedAt", 3)],
                )
            )
        return reads

"""An oracle-priced venue in the batch engine: quotes bid/ask around an oracle's price."""

from __future__ import annotations

import numpy as np

from sim.venues.cpmm.batch import Twap
from sim.venues.oracle_swap.config import OracleVenueConfig
from sim.venues.pricefeed.batch import ChainlinkFeed


class OracleVenue:
    """A venue that quotes bid/ask around an oracle's price, up to `max_notional` a block.

    This is the generic shape later venues (options pool, perps) plug into: `quote()` gives
    the prices a taker sees, `fill()` books a taker trade against the venue's LPs.

    Shape:
        pnl: (N,) venue (LP) profit in numeraire, marked at the reference price at fill time.
    """

    def __init__(self, cfg: OracleVenueConfig, feed: ChainlinkFeed | Twap):
        self.cfg = cfg
        self.name = cfg.name
        self.feed = feed
        n = feed.price().shape[0]
        self.pnl = np.zeros(n)
        self.volume = np.zeros(n)

    def quote(self) -> tuple[np.ndarray, np.ndarray]:
        """(bid, ask) in numeraire per risky, (N,) each."""
        p = self.feed.price()
        s = self.cfg.spread_bps / 1e4
        return p * (1.0 - s), p * (1.0 + s)

    def fill(self, size: np.ndarray, price: np.ndarray, ref_price: np.ndarray) -> None:
        """Book taker trades of `size` risky (positive = taker buys) at `price`."""
        self.pnl += size * (price - ref_price)
        self.volume += np.abs(size) * ref_price

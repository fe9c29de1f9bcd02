"""Oracle feeds: a Chainlink-style deviation/heartbeat feed, pool TWAPs, oracle-priced venues."""

from __future__ import annotations

import numpy as np

from sim.pools.cpmm_vec import CpmmBatch
from sim.processes import WorldStreams
from sim.scenario import OracleConfig, OracleVenueConfig, TwapConfig


class ChainlinkFeed:
    """Chainlink-style feed of the reference price.

    Each block the node observes the reference price (times exp(noise)); when the observation
    deviates from the on-chain answer by at least `deviation_bps`, or `heartbeat` seconds have
    passed since the last update, and no report is in flight, it submits a report that lands
    `latency_blocks` later with the observed price (so a landed answer is already stale).

    Shape:
        answer, updated_at: (N,)
    """

    def __init__(self, cfg: OracleConfig, ref_price: np.ndarray, streams: WorldStreams):
        n = ref_price.shape[0]
        self.cfg = cfg
        self.name = cfg.name
        self.streams = streams
        self.answer = ref_price.copy()
        self.updated_at = np.zeros(n)
        self.pending = np.zeros(n)
        self.land_block = np.full(n, -1, dtype=np.int64)
        self._dev = cfg.deviation_bps / 1e4
        self._noise = cfg.noise_bps / 1e4

    def price(self) -> np.ndarray:
        """The on-chain answer, (N,)."""
        return self.answer

    def step(self, block: int, now: np.ndarray, ref_price: np.ndarray) -> np.ndarray:
        """Land due reports, then let the node observe; returns the landed-update mask (N,)."""
        landed = self._land(block, now)
        obs = ref_price
        if self._noise > 0:
            obs = ref_price * np.exp(self._noise * self.streams.normal())
        idle = self.land_block < 0
        trigger = idle & (
            (np.abs(obs / self.answer - 1.0) >= self._dev)
            | (now - self.updated_at >= self.cfg.heartbeat)
        )
        self.pending = np.where(trigger, obs, self.pending)
        self.land_block = np.where(trigger, block + self.cfg.latency_blocks, self.land_block)
        if self.cfg.latency_blocks == 0:
            landed |= self._land(block, now)
        return landed

    def _land(self, block: int, now: np.ndarray) -> np.ndarray:
        due = (self.land_block >= 0) & (self.land_block <= block)
        self.answer = np.where(due, self.pending, self.answer)
        self.updated_at = np.where(due, now, self.updated_at)
        self.land_block = np.where(due, -1, self.land_block)
        return due


class Twap:
    """TWAP of a pool's mid price over the last `window_blocks` blocks.

    Read from the pool's V2-style cumulative price: (cum(t) - cum(t - w)) / (time(t) - time(t - w)).
    Until the window is full it averages since the start.

    Shape:
        value: (N,)
    """

    def __init__(self, cfg: TwapConfig, pool: CpmmBatch):
        self.cfg = cfg
        self.name = cfg.name
        self.pool = pool
        w = cfg.window_blocks + 1
        self._cum = np.zeros((w, pool.n))
        self._time = np.zeros((w, pool.n))
        self._i = 0
        self._filled = 1
        self._cum[0] = pool.cum_price
        self._time[0] = pool.last_time
        self.value = pool.price().copy()

    def price(self) -> np.ndarray:
        """The TWAP, (N,)."""
        return self.value

    def update(self) -> None:
        """Take this block's cumulative snapshot (call after `pool.accumulate`)."""
        w = self._cum.shape[0]
        self._i = (self._i + 1) % w
        self._cum[self._i] = self.pool.cum_price
        self._time[self._i] = self.pool.last_time
        self._filled = min(self._filled + 1, w)
        j = (self._i - self._filled + 1) % w
        span = self._time[self._i] - self._time[j]
        self.value = np.where(
            span > 0,
            (self._cum[self._i] - self._cum[j]) / np.where(span > 0, span, 1.0),
            self.value,
        )


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

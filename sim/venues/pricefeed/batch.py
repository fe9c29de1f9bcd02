"""Oracle feeds: a Chainlink-style deviation/heartbeat feed, pool TWAPs, oracle-priced venues."""

from __future__ import annotations

import numpy as np

from sim.streams import WorldStreams
from sim.venues.pricefeed.config import OracleConfig


class ChainlinkFeed:
    """Chainlink-style feed of the reference price.

    Each block the node observes the reference price (times exp(noise)); when the observation
    deviates from the on-chain answer by at least `deviation_bps`, or `heartbeat` seconds have
    passed since the last update, and no report is in flight, it submits a report that lands
    `latency_blocks` later with the observed price (so a landed answer is already stale).

    When `pipelined`, the node sends a report whenever its observation deviates from the last
    one it sent (or the heartbeat is due) without waiting for the one in flight; reports land
    in order, each `latency_blocks` after it was sent.

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
        self._queue: np.ndarray | None = None
        if cfg.pipelined:  # slot (block mod L+1) holds the report landing in that block
            self._queue = np.zeros((cfg.latency_blocks + 1, n))
            self._queued = np.zeros((cfg.latency_blocks + 1, n), dtype=bool)
            self.sent = ref_price.copy()
            self.sent_at = np.zeros(n)

    def price(self) -> np.ndarray:
        """The on-chain answer, (N,)."""
        return self.answer

    def step(self, block: int, now: np.ndarray, ref_price: np.ndarray) -> np.ndarray:
        """Land due reports, then let the node observe; returns the landed-update mask (N,)."""
        landed = self._land(block, now)
        obs = ref_price
        if self._noise > 0:
            obs = ref_price * np.exp(self._noise * self.streams.normal())
        if self._queue is not None:
            return self._send(block, now, obs, landed)
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

    def _send(self, block: int, now: np.ndarray, obs: np.ndarray, landed: np.ndarray):
        """A pipelined node's reports: queued to land `latency_blocks` from now."""
        trigger = (np.abs(obs / self.sent - 1.0) >= self._dev) | (
            now - self.sent_at >= self.cfg.heartbeat
        )
        slot = (block + self.cfg.latency_blocks) % self._queue.shape[0]
        self._queue[slot] = np.where(trigger, obs, self._queue[slot])
        self._queued[slot] |= trigger
        self.sent = np.where(trigger, obs, self.sent)
        self.sent_at = np.where(trigger, now, self.sent_at)
        if self.cfg.latency_blocks == 0:
            landed |= self._land(block, now)
        return landed

    def _land(self, block: int, now: np.ndarray) -> np.ndarray:
        if self._queue is not None:
            slot = block % self._queue.shape[0]
            due = self._queued[slot].copy()
            self.answer = np.where(due, self._queue[slot], self.answer)
            self.updated_at = np.where(due, now, self.updated_at)
            self._queued[slot] = False
            return due
        due = (self.land_block >= 0) & (self.land_block <= block)
        self.answer = np.where(due, self.pending, self.answer)
        self.updated_at = np.where(due, now, self.updated_at)
        self.land_block = np.where(due, -1, self.land_block)
        return due

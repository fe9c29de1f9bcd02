"""The oracle-priced perp in many worlds at once: the float twin of
`sim.venues.oracle_perp.twin` (no floors) and its counterparty's accounts.

Each block `recenter` puts the quote back on the oracle's answer: x = depth risky against
y = depth × answer numeraire, a `CpmmBatch` (V2 maths, fee on the input kept in the virtual
reserves until the next re-centring). A fill of a in for o out at the reference price P is
booked, like a pool's trade (`sim.engine.ledger`), as

    fee = f·a·p_in,   LVR = o·p_out − a·p_in + fee,   counterparty loss = LVR − fee

so the takers' P&L at P is what the perp's LPs lose. The taker's own P&L is its agent's to
book. The venue models no margin, funding or liquidation (`sim.venues.perp` does).

Shape: every array (N,).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.venues.cpmm.batch import BPS, CpmmBatch
from sim.venues.oracle_perp.config import OraclePerpConfig

METRICS = ("lvr", "fees", "volume", "n_trades")
"""Accounts per world: LVR and fees (numeraire), volume (input side at the reference price,
numeraire) and fills; `loss` = lvr − fees is added at the end."""


class OraclePerpVenue:
    """One oracle-priced perp in N worlds.

    Args:
        cfg: the venue.
        n: worlds.
        feed: the feed (or TWAP) whose `price()` centres the quote.
    """

    def __init__(self, cfg: OraclePerpConfig, n: int, feed: Any):
        self.cfg = cfg
        self.name = cfg.name
        self.feed = feed
        self.fee_bps = float(cfg.fee_bps)
        self.quote = CpmmBatch(cfg.name, np.full(n, cfg.depth), np.zeros(n), cfg.fee_bps)
        self.recenter()
        self.m = {k: np.zeros(n) for k in METRICS}

    @property
    def x(self) -> np.ndarray:
        """Virtual risky reserve now, (N,)."""
        return self.quote.x

    @property
    def y(self) -> np.ndarray:
        """Virtual numeraire reserve now, (N,)."""
        return self.quote.y

    def recenter(self) -> None:
        """Centre the quote on the oracle's answer (each block, before any fill)."""
        self.quote.x[:] = self.cfg.depth
        self.quote.y[:] = self.cfg.depth * self.feed.price()

    def swap(
        self, amount_in: np.ndarray, direction: np.ndarray, ref: np.ndarray, active: bool
    ) -> np.ndarray:
        """Fill takers where direction != 0 (+1 numeraire in / risky out, −1 risky in /
        numeraire out) and, when `active` (accounting started), book them at the reference
        price `ref`; returns amount_out (N,)."""
        a = np.asarray(amount_in, dtype=np.float64)
        d = np.asarray(direction, dtype=np.int64)
        out, fee_x, fee_y = self.quote.swap(a, d)
        if active:
            traded = (d != 0) & (a > 0)
            buy = d > 0
            v_in = np.where(traded, np.where(buy, a, a * ref), 0.0)
            v_out = np.where(buy, out * ref, out)
            fee = fee_x * ref + fee_y
            self.m["lvr"] += v_out - v_in + fee
            self.m["fees"] += fee
            self.m["volume"] += v_in
            self.m["n_trades"] += traded
        return out

    def world_columns(self) -> dict[str, np.ndarray]:
        """Per-world accounts as 'oracle_perp.<name>.<metric>' columns."""
        m = dict(self.m)
        m["loss"] = m["lvr"] - m["fees"]
        return {f"oracle_perp.{self.name}.{k}": v for k, v in m.items()}


def gamma(fee_bps: float) -> float:
    """The fee in log-price units, −ln(1 − f): how far the quote's mid may stray from the
    reference before a round trip through it pays."""
    return -float(np.log1p(-fee_bps / BPS))

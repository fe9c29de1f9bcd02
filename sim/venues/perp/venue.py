"""A perp market as a venue of the batch engine: `sim.venues.perp.batch.PerpBatch` plus its mark,
account slots and per-world metrics.

The market is marked at an oracle feed's on-chain answer (or at the reference price), so
liquidations and fills follow the feed with its deviation threshold, heartbeat and latency.
An answer older than `max_oracle_delay` makes the contract revert; here such worlds are left
out of every trade and liquidation. Funding accrues, as on chain, on each interaction at the
rate set by the skew since the last one.

Accounts: every agent that holds positions gets a fixed range of account indices (slots),
planned from the scenario before the market is built (`account_plan`).

Units: sizes in base units (signed, > 0 long), prices quote per base, money in quote units.
Shapes: (N,) per world, (N, A) per world and account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine.ledger import PERP_METRICS
from sim.venues.perp.batch import PerpBatch, VecParams
from sim.venues.perp.config import PerpConfig
from sim.venues.pricefeed.batch import ChainlinkFeed

if TYPE_CHECKING:
    from sim.scenario import Scenario


def account_plan(sc: Scenario, perp: str) -> dict[str, int]:
    """Accounts per world each agent holds on `perp`, in agent order."""
    plan: dict[str, int] = {}
    for a in sc.agents:
        if k := a.accounts_on("perps", perp):
            plan[a.name] = k
    return plan


def vec_params(cfg: PerpConfig) -> VecParams:
    """The scenario's market parameters in `PerpBatch` units (bps become fractions)."""
    return VecParams(
        skew_scale=cfg.skew_scale,
        taker_fee=cfg.taker_fee_bps / 1e4,
        max_funding_rate=cfg.max_funding_rate,
        initial_margin=cfg.initial_margin_bps / 1e4,
        maintenance_margin=cfg.maintenance_margin_bps / 1e4,
        liquidation_reward=cfg.liquidation_reward_bps / 1e4,
        liquidation_reward_cap=cfg.liquidation_reward_cap,
        max_open_interest=cfg.max_open_interest,
        max_position_size=cfg.max_position_size,
    )


class PerpVenue:
    """One perp market per world, its mark and its accounting.

    Args:
        cfg: market parameters.
        n: worlds.
        plan: accounts per agent (`account_plan`).
        feed: the feed that marks the market (None: the reference price).
    """

    def __init__(self, cfg: PerpConfig, n: int, plan: dict[str, int], feed: ChainlinkFeed | None):
        self.cfg = cfg
        self.name = cfg.name
        self.feed = feed
        self.slots: dict[str, range] = {}
        start = 0
        for owner, k in plan.items():
            self.slots[owner] = range(start, start + k)
            start += k
        self.n_accounts = start
        self.batch = PerpBatch(n, max(start, 1), vec_params(cfg))
        if cfg.insurance_fund > 0:
            self.batch.fund_insurance(cfg.insurance_fund)
        self.fund0 = cfg.insurance_fund
        self.m = {k: np.zeros(n) for k in PERP_METRICS}

    def mark(self, ref: np.ndarray) -> np.ndarray:
        """Price the market reads now, (N,)."""
        return ref if self.feed is None else self.feed.price()

    def fresh(self, now: np.ndarray) -> np.ndarray:
        """Worlds whose oracle answer is recent enough to trade on, (N,) bool."""
        if self.feed is None:
            return np.ones(now.shape, dtype=bool)
        return now - self.feed.updated_at <= self.cfg.max_oracle_delay

    def unsettled_funding(self, a: int, price: np.ndarray, now: np.ndarray) -> np.ndarray:
        """Funding account `a` owes since its last settlement, quote (> 0: it pays), (N,)."""
        b = self.batch
        return b.size[:, a] * (b.index_at(price, now) - b.last_index[:, a])

    def trade(
        self, a: int, delta: np.ndarray, ref: np.ndarray, now: np.ndarray, book: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`modifyPosition(delta)` for account `a` where delta != 0 and the oracle is fresh.

        Returns:
            (ok, fee, impact, funding), each (N,): the taker fee, the fill's cost against the
            mark (delta * (fill - mark)) and the funding settled (> 0: paid), 0 where not ok.
        """
        price = self.mark(ref)
        delta = np.where(self.fresh(now), delta, 0.0)
        funding = self.unsettled_funding(a, price, now)
        ok, fill = self.batch.modify(a, delta, price, now)
        fill = np.where(ok, fill, price)
        fee = np.where(ok, np.abs(delta) * fill * self.batch.p.taker_fee, 0.0)
        impact = np.where(ok, delta * (fill - price), 0.0)
        funding = np.where(ok, funding, 0.0)
        if book:
            m = self.m
            m["fees"] += fee
            m["volume"] += np.where(ok, np.abs(delta) * fill, 0.0)
            m["trades"] += ok
            m["funding_paid"] += funding
        return ok, fee, impact, funding

    def liquidatable(self, ref: np.ndarray, now: np.ndarray) -> np.ndarray:
        """(N, A) accounts below the maintenance margin, in worlds with a fresh oracle."""
        b = self.batch
        price = self.mark(ref)
        eq = b.equity(price, now)
        below = (b.size != 0) & (eq < np.abs(b.size) * price[:, None] * b.p.maintenance_margin)
        return below & self.fresh(now)[:, None]

    def liquidate(
        self, a: int, ref: np.ndarray, now: np.ndarray, where: np.ndarray, book: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """`liquidate(a)` where `where`; returns (ok, reward), (N,) each."""
        b = self.batch
        price = self.mark(ref)
        size = b.size[:, a].copy()
        equity = b.equity(price, now)[:, a]
        funding = self.unsettled_funding(a, price, now)
        ok, reward = b.liquidate(a, price, now, where=where)
        if book:
            m = self.m
            m["liquidations"] += ok
            m["liquidation_volume"] += np.where(ok, np.abs(size) * price, 0.0)
            m["deficit"] += np.where(ok, np.maximum(-equity, 0.0), 0.0)
            m["liquidation_rewards"] += reward
            m["funding_paid"] += np.where(ok, funding, 0.0)
        return ok, reward

    def world_columns(self, ref: np.ndarray, now: np.ndarray) -> dict[str, np.ndarray]:
        """Per-world metrics at the end of the run, as 'perp.<name>.<metric>' columns."""
        b = self.batch
        price = self.mark(ref)
        m = dict(self.m)
        index = b.index_at(price, now)
        m["funding_paid"] = m["funding_paid"] + np.sum(
            b.size * (index[:, None] - b.last_index), axis=1
        )
        m["insurance_fund"] = b.fund.copy()
        m["bad_debt"] = b.bad_debt.copy()
        m["fund_change"] = b.fund - b.bad_debt - self.fund0
        m["identity_error"] = b.balance - (b.margin.sum(axis=1) + b.fund - b.bad_debt)
        m["net_assets"] = b.balance - np.maximum(b.equity(price, now), 0.0).sum(axis=1)
        # Float round-off only: the identity is exact on chain.
        tol = 1e-9 * np.maximum(b.balance, 1.0)
        m["solvent"] = ((m["net_assets"] >= -tol) & (b.bad_debt <= tol)).astype(float)
        m["open_interest"] = b.long_oi + b.short_oi
        return {f"perp.{self.name}.{k}": v for k, v in m.items()}

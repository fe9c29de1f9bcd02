"""Agents of a perp market: leveraged traders and liquidators."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numba import njit, prange  # noqa: F401 - prange in the kernels
from pydantic import Field

from sim.config import ConfigModel, Ref
from sim.engine.context import AgentEnv, BlockContext
from sim.streams import WorldStreams
from sim.venues.perp.venue import PerpVenue


class PerpTraderConfig(ConfigModel):
    """Leveraged perp traders: each account opens at Poisson times by a simple rule, with a
    log-normal leverage, and closes at Poisson times (or is liquidated)."""

    kind: Literal["perp_trader"] = "perp_trader"
    """Agent selector."""
    name: str = "perp_traders"
    """Agent name."""
    perp: str = "perp"
    """Perp market traded."""
    accounts: int = Field(8, ge=1, le=256)
    """Trader accounts per world, each with at most one position."""
    rule: Literal["momentum", "mean_reversion", "random"] = "momentum"
    """Side of a new position: with the mark's move away from its moving average (momentum),
    against it (mean_reversion) or a fair coin (random)."""
    lookback: float = Field(3600.0, gt=0)
    """Time constant of the mark's exponential moving average, seconds."""
    open_rate: float = Field(6.0, ge=0)
    """Openings per day per flat account (Poisson)."""
    close_rate: float = Field(2.0, ge=0)
    """Closings per day per open account (Poisson)."""
    margin: float = Field(10_000.0, gt=0)
    """Margin deposited to open a position, quote units."""
    leverage_median: float = Field(4.0, ge=1)
    """Median leverage (notional / margin) of a new position; log-normal."""
    leverage_sigma: float = Field(0.5, ge=0)
    """Log-normal sigma of the leverage."""
    max_leverage: float = Field(9.5, ge=1)
    """Leverage cap (keep it below 1 / initial margin or the open reverts)."""
    pay_gas: bool = True
    """Charge gas for deposits, trades and withdrawals."""

    def refs(self) -> list[Ref]:
        return [(("perps",), self.perp, f"agent '{self.name}' uses unknown perp '{self.perp}'")]

    def accounts_on(self, field: str, name: str) -> int:
        return self.accounts if field == "perps" and name == self.perp else 0


class LiquidatorConfig(ConfigModel):
    """Liquidates every liquidatable account of a perp each block, earning the reward."""

    kind: Literal["liquidator"] = "liquidator"
    """Agent selector."""
    name: str = "liquidator"
    """Agent name."""
    perp: str = "perp"
    """Perp market watched."""
    profitable_only: bool = False
    """Skip accounts whose reward does not pay the gas (False: liquidate all, as a protocol
    keeper would)."""

    def refs(self) -> list[Ref]:
        return [(("perps",), self.perp, f"agent '{self.name}' uses unknown perp '{self.perp}'")]


class PerpTrader:
    """Leveraged perp traders, `accounts` of them per world, each holding one position at most.

    Per block and account, with arrivals thinned to the block's length: a flat account opens
    with probability 1 - exp(-open_rate dt) (deposit `margin`, then trade at leverage
    L = clip(median exp(sigma Z), 1, max_leverage), side by the rule); an open account closes
    with probability 1 - exp(-close_rate dt) (trade back to zero, withdraw the margin). A
    failed open withdraws its margin again; a close that reverts (equity below zero) stays
    open for the liquidators. P&L = withdrawals - deposits + equity still open at the end.
    Draws per block: 2A uniforms and A normals per world, whatever happens.
    """

    priority = False
    config = PerpTraderConfig

    @classmethod
    def build(cls, cfg: PerpTraderConfig, env: AgentEnv) -> PerpTrader:
        return cls(cfg, env.n, env.streams(cfg.name))

    def __init__(self, cfg: PerpTraderConfig, n: int, streams: WorldStreams):
        self.cfg = cfg
        self.name = cfg.name
        self.streams = streams
        self.ema: np.ndarray | None = None

    def _side(self, mark: np.ndarray, u: np.ndarray) -> np.ndarray:
        rule = self.cfg.rule
        if rule == "random":
            return np.where(u < 0.5, 1.0, -1.0)
        up = np.where(mark >= self.ema, 1.0, -1.0)
        return up if rule == "momentum" else -up

    def act(self, ctx: BlockContext) -> None:
        c = self.cfg
        venue = ctx.perps[c.perp]
        b = venue.batch
        mark = venue.mark(ctx.ref)
        now = ctx.time
        if self.ema is None:
            self.ema = mark.copy()
        slots = venue.slots[self.name]
        u = self.streams.uniform(2 * len(slots))
        z = self.streams.normal(len(slots))
        days = ctx.dt / 86400.0
        p_open = -np.expm1(-c.open_rate * days)
        p_close = -np.expm1(-c.close_rate * days)
        fresh = venue.fresh(now)
        book = ctx.ledger.active
        for j, a in enumerate(slots):
            size = b.size[:, a].copy()
            go = (size == 0) & (u[2 * j] < p_open) & fresh
            if go.any():
                lev = np.clip(
                    c.leverage_median * np.exp(c.leverage_sigma * z[j]), 1.0, c.max_leverage
                )
                q = np.where(go, self._side(mark, u[2 * j + 1]) * lev * c.margin / mark, 0.0)
                b.deposit(a, np.where(go, c.margin, 0.0))
                ctx.ledger.pnl(self.name, np.where(go, -c.margin, 0.0))
                ok, *_ = venue.trade(a, q, ctx.ref, now, book)
                back = go & ~ok
                self._withdraw(ctx, venue, a, back)
                if c.pay_gas:
                    ctx.pay_gas(self.name, "perp_margin", go)
                    ctx.pay_gas(self.name, "perp_trade", go)
            shut = (size != 0) & (u[2 * j] < p_close) & fresh
            if shut.any():
                ok, *_ = venue.trade(a, np.where(shut, -size, 0.0), ctx.ref, now, book)
                self._withdraw(ctx, venue, a, ok)
                if c.pay_gas:
                    ctx.pay_gas(self.name, "perp_trade", shut)
        # Update the average after deciding: the signal compares the mark with its past.
        w = -np.expm1(-ctx.dt / c.lookback)
        self.ema += w * (mark - self.ema)

    def _withdraw(self, ctx: BlockContext, venue: PerpVenue, a: int, mask: np.ndarray) -> None:
        """Withdraw all of flat account `a`'s margin where `mask`."""
        b = venue.batch
        amount = np.where(mask & (b.size[:, a] == 0), b.margin[:, a], 0.0)
        ok = b.withdraw(a, amount, venue.mark(ctx.ref), ctx.time)
        ctx.ledger.pnl(self.name, np.where(ok, amount, 0.0))
        if self.cfg.pay_gas:
            ctx.pay_gas(self.name, "perp_margin", ok)

    def finish(self, ctx: BlockContext) -> None:
        """Book the equity of positions still open (and idle margin) at the end."""
        venue = ctx.perps[self.cfg.perp]
        eq = venue.batch.equity(venue.mark(ctx.ref), ctx.time)
        slots = venue.slots[self.name]
        ctx.ledger.pnl(self.name, eq[:, slots.start : slots.stop].sum(axis=1))


class Liquidator:
    """Liquidates every liquidatable account of a perp each block, paying gas per call and
    earning the reward (paid by the market)."""

    priority = True
    config = LiquidatorConfig

    @classmethod
    def build(cls, cfg: LiquidatorConfig, env: AgentEnv) -> Liquidator:
        return cls(cfg)

    def __init__(self, cfg: LiquidatorConfig):
        self.cfg = cfg
        self.name = cfg.name

    def act(self, ctx: BlockContext) -> None:
        venue = ctx.perps[self.cfg.perp]
        below = venue.liquidatable(ctx.ref, ctx.time)
        if not below.any():
            return
        b = venue.batch
        mark = venue.mark(ctx.ref)
        gas = ctx.gas_cost("perp_liquidate")
        for a in np.flatnonzero(below.any(axis=0)):
            where = below[:, a]
            if self.cfg.profitable_only:
                notional = np.abs(b.size[:, a]) * mark
                eq = b.equity(mark, ctx.time)[:, a]
                reward = np.minimum(
                    np.minimum(notional * b.p.liquidation_reward, b.p.liquidation_reward_cap),
                    np.maximum(eq, 0.0),
                )
                where = where & (reward > gas)
            _ok, reward = venue.liquidate(int(a), ctx.ref, ctx.time, where, ctx.ledger.active)
            ctx.ledger.pnl(self.name, reward)
            # A liquidation that reverts (another got there first) still pays its gas.
            ctx.pay_gas(self.name, "perp_liquidate", where)

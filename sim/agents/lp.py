"""Liquidity providers that deposit and withdraw at random times."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numba import njit, prange  # noqa: F401 - prange in the kernels
from pydantic import Field

from sim.config import ConfigModel, Ref
from sim.engine.context import AgentEnv, BlockContext
from sim.streams import WorldStreams
from sim.venues.cpmm.batch import CpmmBatch


class LPConfig(ConfigModel):
    """Liquidity provider that deposits and withdraws at random times by a simple rule."""

    kind: Literal["lp"] = "lp"
    """Agent selector."""
    name: str = "lp"
    """Agent name."""
    pool: str = "pool"
    """Pool."""
    deposit_rate: float = Field(4.0, ge=0)
    """Deposits per day (Poisson)."""
    withdraw_rate: float = Field(4.0, ge=0)
    """Withdrawals per day (Poisson); each withdraws its own position."""
    size_frac: float = Field(0.05, gt=0, le=1)
    """Deposit size as a fraction of the pool's value."""

    def refs(self) -> list[Ref]:
        return [(("pools",), self.pool, f"agent '{self.name}' uses unknown pool '{self.pool}'")]


class LiquidityProvider:
    """Deposits a fraction of the pool at Poisson times and withdraws its whole position.

    P&L = withdrawn value + value still in the pool - deposited value, all at the reference
    price of the moment, minus gas.
    """

    priority = False
    config = LPConfig

    @classmethod
    def build(cls, cfg: LPConfig, env: AgentEnv) -> LiquidityProvider:
        return cls(cfg, env.n, env.streams(cfg.name))

    def __init__(self, cfg: LPConfig, n: int, streams: WorldStreams):
        self.cfg = cfg
        self.name = cfg.name
        self.streams = streams
        self.shares = np.zeros(n)
        self.mark = np.zeros(n)

    def act(self, ctx: BlockContext) -> None:
        pool = ctx.pools[self.cfg.pool]
        dt_days = ctx.dt / 86400.0
        dep = self.streams.poisson(self.cfg.deposit_rate * dt_days) > 0
        wd = (self.streams.poisson(self.cfg.withdraw_rate * dt_days) > 0) & (self.shares > 0)
        if wd.any():
            ox, oy = ctx.burn(self.name, self.cfg.pool, np.where(wd, self.shares, 0.0))
            self.shares = np.where(wd, 0.0, self.shares)
            ctx.ledger.pnl(self.name, ox * ctx.ref + oy)
            ctx.pay_gas(self.name, "burn", wd)
        if dep.any():
            frac = np.where(dep, self.cfg.size_frac, 0.0)
            v = pool.value(ctx.ref)
            self.shares += ctx.mint(self.name, self.cfg.pool, frac)
            ctx.ledger.pnl(self.name, -frac * v)
            ctx.pay_gas(self.name, "mint", dep)

    def finish(self, ctx: BlockContext) -> None:
        """Book the value of the shares still held at the end."""
        ctx.ledger.pnl(self.name, self.position_value(ctx.pools[self.cfg.pool], ctx.ref))

    def position_value(self, ctx_pool: CpmmBatch, ref: np.ndarray) -> np.ndarray:
        """Value of the shares still held, (N,)."""
        return np.where(ctx_pool.shares > 0, self.shares / ctx_pool.shares, 0.0) * ctx_pool.value(
            ref
        )

"""Uninformed traders: Poisson arrivals, log-normal sizes, a slippage limit."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numba import njit, prange  # noqa: F401 - prange in the kernels
from pydantic import Field

from sim.config import ConfigModel, Ref
from sim.engine.context import AgentEnv, BlockContext, Intent
from sim.streams import PARALLEL_MIN, WorldStreams, dual_kernel, normal_pair_draw, to_unit, xo_next
from sim.venues.cpmm.batch import get_amount_out


class NoiseFlow(ConfigModel):
    """Uninformed flow: what every noise trader's config has (V2 pools here, V3 pools in
    `sim.venues.univ3.agents`), drawn by the one kernel `_noise_orders`."""

    rate_per_block: float = Field(0.2, ge=0, le=50)
    """Mean number of trades per block (only the block's net trade is sent, one per world)."""
    size_median: float = Field(5000.0, gt=0)
    """Median trade size, numeraire (log-normal)."""
    size_sigma: float = Field(1.0, ge=0)
    """Log-normal sigma of the trade size."""
    p_buy: float = Field(0.5, ge=0, le=1)
    """Probability a trade buys the risky asset."""
    slippage_bps: float = Field(50.0, ge=0)
    """Slippage limit against the pre-block mid price (minus the fee), basis points."""


class NoiseTraderConfig(NoiseFlow):
    """Uninformed traders with Poisson arrivals."""

    kind: Literal["noise"] = "noise"
    """Agent selector."""
    name: str = "noise"
    """Agent name."""
    pool: str = "pool"
    """Pool traded."""

    def refs(self) -> list[Ref]:
        return [(("pools",), self.pool, f"agent '{self.name}' uses unknown pool '{self.pool}'")]


class NoiseTrader:
    """Uninformed flow: Poisson arrivals, log-normal sizes, random direction, slippage limit.

    Arrivals in the same block (K ~ Poisson(rate)) are merged into one order of K times one
    drawn size, so a world sends at most one order per block. The order's limit is the pre-block
    mid price net of the fee and `slippage_bps`; an order that would fill worse reverts (and
    still pays gas). Orders wait in the mempool, where a sandwich attacker may see them.
    """

    priority = False
    config = NoiseTraderConfig

    @classmethod
    def build(cls, cfg: NoiseTraderConfig, env: AgentEnv) -> NoiseTrader:
        return cls(cfg, env.streams(cfg.name))

    def __init__(self, cfg: NoiseTraderConfig, streams: WorldStreams):
        self.cfg = cfg
        self.name = cfg.name
        self.streams = streams
        self.pending: Intent | None = None

    def submit(self, ctx: BlockContext) -> None:
        """Draw this block's orders and put them in the mempool."""
        c = self.cfg
        pool = ctx.pools[c.pool]
        st = self.streams
        keep = (1.0 - pool.fee_bps / 1e4) * (1.0 - c.slippage_bps / 1e4)
        direction, amount_in, min_out, notional = _noise_orders(
            st.state,
            st.spare,
            st.has_spare,
            c.rate_per_block,
            c.size_median,
            c.size_sigma,
            c.p_buy,
            keep,
            pool.x,
            pool.y,
            ctx.ref,
        )
        self.pending = Intent(
            self.name, c.pool, direction, amount_in, min_out, notional, direction != 0
        )
        ctx.mempool.append(self.pending)

    def act(self, ctx: BlockContext) -> None:
        it = self.pending
        if it is None or it.done:
            return
        pool = ctx.pools[it.pool]
        fill = np.where(
            it.direction > 0,
            get_amount_out(it.amount_in, pool.y, pool.x, pool.fee_bps),
            get_amount_out(it.amount_in, pool.x, pool.y, pool.fee_bps),
        )
        ok = it.active & (fill >= it.min_out)
        refused = it.active & ~ok
        if refused.any():
            ctx.order_refused(it, refused)
        ctx.swap(self.name, it.pool, it.amount_in, np.where(ok, it.direction, 0))
        ctx.pay_gas(self.name, "swap", it.active)
        it.done = True
        for backrun in it.backruns:
            backrun(ctx, ok)


def _noise_orders_py(st, spare, has, rate, median, sigma, p_buy, keep, x, y, ref):
    """Draw one block of noise orders per world: K ~ Poisson(rate), size, side, limit.

    Per world the draws are a Poisson count (one uniform) and, only when it is positive, a
    normal and a uniform, in that order, from the agent's own stream.
    """
    n = x.shape[0]
    direction = np.zeros(n, dtype=np.int64)
    amount_in = np.zeros(n)
    min_out = np.zeros(n)
    notional = np.zeros(n)
    e = math.exp(-rate)
    for w in prange(n):
        s0, s1, s2, s3 = st[w, 0], st[w, 1], st[w, 2], st[w, 3]
        r, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
        u = to_unit(r)
        p = e
        c = p
        k = 0
        while u > c and k < 1000:
            k += 1
            p *= rate / k
            c += p
        if k == 0:
            # No order: draw nothing more (a world's stream stays its own either way).
            st[w, 0], st[w, 1], st[w, 2], st[w, 3] = s0, s1, s2, s3
            continue
        if has[w]:
            z = spare[w]
            has[w] = False
        else:
            z, z1, s0, s1, s2, s3 = normal_pair_draw(s0, s1, s2, s3)
            spare[w] = z1
            has[w] = True
        r, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
        u2 = to_unit(r)
        st[w, 0], st[w, 1], st[w, 2], st[w, 3] = s0, s1, s2, s3
        q = k * median * math.exp(sigma * z)
        notional[w] = q
        mid = y[w] / x[w]
        if u2 < p_buy:
            direction[w] = 1
            amount_in[w] = q
            min_out[w] = q / mid * keep
        else:
            direction[w] = -1
            a = q / ref[w]
            amount_in[w] = a
            min_out[w] = a * mid * keep
    return direction, amount_in, min_out, notional


_noise_orders_s, _noise_orders_p = dual_kernel(_noise_orders_py)


def _noise_orders(st, *args):
    return (_noise_orders_p if st.shape[0] >= PARALLEL_MIN else _noise_orders_s)(st, *args)

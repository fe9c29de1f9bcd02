"""Sandwich attackers on large pending noise orders."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numba import njit, prange  # noqa: F401 - prange in the kernels
from pydantic import Field

from sim.config import ConfigModel, Ref
from sim.engine.context import AgentEnv, BlockContext
from sim.streams import PARALLEL_MIN, dual_kernel
from sim.venues.cpmm.batch import swap_f


class SandwichConfig(ConfigModel):
    """Sandwich attacker on large pending noise trades."""

    kind: Literal["sandwich"] = "sandwich"
    """Agent selector."""
    name: str = "sandwich"
    """Agent name."""
    enabled: bool = True
    """Switch."""
    pool: str = "pool"
    """Pool watched."""
    min_victim: float = Field(20_000.0, ge=0)
    """Smallest victim trade attacked, numeraire."""

    def refs(self) -> list[Ref]:
        return [(("pools",), self.pool, f"agent '{self.name}' uses unknown pool '{self.pool}'")]


def _plan_sandwich_py(x, y, fee_bps, to_res, direction, v, min_out, ref, gas2):
    """Largest front-run that keeps the victim inside its limit, and its net profit.

    Bisection on the front-run input (same token as the victim's input) over [0, 10 v], then a
    dry run of front-run, victim and back-run on local copies of the reserves.
    """
    n = x.shape[0]
    front = np.zeros(n)
    for i in prange(n):
        d = direction[i]
        if d == 0:
            continue
        lo, hi = 0.0, 10.0 * v[i]
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            x1, y1, _o, _fx, _fy = swap_f(mid, d, x[i], y[i], fee_bps, to_res)
            x2, y2, vo, _fx, _fy = swap_f(v[i], d, x1, y1, fee_bps, to_res)
            if vo >= min_out[i]:
                lo = mid
            else:
                hi = mid
        if lo <= 0.0:
            continue
        x1, y1, got, _fx, _fy = swap_f(lo, d, x[i], y[i], fee_bps, to_res)
        x2, y2, _vo, _fx, _fy = swap_f(v[i], d, x1, y1, fee_bps, to_res)
        _x3, _y3, back, _fx, _fy = swap_f(got, -d, x2, y2, fee_bps, to_res)
        gain = back - lo
        value = gain if d > 0 else gain * ref[i]
        if value > gas2[i]:
            front[i] = lo
    return front


_plan_sandwich_s, _plan_sandwich_p = dual_kernel(_plan_sandwich_py)


def _plan_sandwich(*args):
    fn = _plan_sandwich_p if args[0].shape[0] >= PARALLEL_MIN else _plan_sandwich_s
    return fn(*args)


class SandwichAttacker:
    """Front-runs large pending noise orders up to their slippage limit, back-runs after them."""

    priority = True
    config = SandwichConfig

    @classmethod
    def build(cls, cfg: SandwichConfig, env: AgentEnv) -> SandwichAttacker:
        return cls(cfg)

    def __init__(self, cfg: SandwichConfig):
        self.cfg = cfg
        self.name = cfg.name

    def act(self, ctx: BlockContext) -> None:
        if not self.cfg.enabled:
            return
        for it in ctx.mempool:
            if it.done or it.pool != self.cfg.pool:
                continue
            pool = ctx.pools[it.pool]
            d = np.where(it.active & (it.notional >= self.cfg.min_victim), it.direction, 0)
            if not d.any():
                continue
            gas2 = 2.0 * ctx.gas_cost("swap")
            front = _plan_sandwich(
                pool.x,
                pool.y,
                pool.fee_bps,
                pool.fee_to_reserves,
                d.astype(np.int64),
                it.amount_in,
                it.min_out,
                ctx.ref,
                gas2,
            )
            go = front > 0
            if not go.any():
                continue
            fd = np.where(go, d, 0).astype(np.int64)
            got = ctx.swap(self.name, it.pool, front, fd)
            ctx.pay_gas(self.name, "swap", go)

            def backrun(c: BlockContext, _victim_ok: np.ndarray, got=got, fd=fd, go=go, it=it):
                c.swap(self.name, it.pool, got, -fd)
                c.pay_gas(self.name, "swap", go)

            it.backruns.append(backrun)

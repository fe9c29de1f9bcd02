"""Arbitrageurs between the reference (CEX) price and the pools, and between two pools."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numba import njit, prange  # noqa: F401 - prange in the kernels
from pydantic import Field

from sim.config import ConfigModel, Ref
from sim.engine.context import AgentEnv, BlockContext
from sim.streams import PARALLEL_MIN, dual_kernel
from sim.venues.cpmm.batch import amount_out_f, optimal_arb_input


class ArbitrageurConfig(ConfigModel):
    """CEX-DEX arbitrageur: trades each pool to the edge of its fee band."""

    kind: Literal["arbitrageur"] = "arbitrageur"
    """Agent selector."""
    name: str = "arb"
    """Agent name."""
    pools: list[str] | None = None
    """Pools it trades (None = all)."""
    min_profit: float = Field(0.0, ge=0)
    """Extra profit over gas required to trade, numeraire."""
    pay_gas: bool = True
    """Count gas: trade only when profit exceeds gas cost."""

    def refs(self) -> list[Ref]:
        return [
            (("pools",), p, f"agent '{self.name}' uses unknown pool '{p}'")
            for p in self.pools or []
        ]


class CrossArbitrageurConfig(ConfigModel):
    """Cross-venue arbitrageur between two pools."""

    kind: Literal["cross_arbitrageur"] = "cross_arbitrageur"
    """Agent selector."""
    name: str = "xarb"
    """Agent name."""
    pools: tuple[str, str] = ("pool", "pool2")
    """The two pools."""
    min_profit: float = Field(0.0, ge=0)
    """Extra profit over gas required to trade, numeraire."""

    def refs(self) -> list[Ref]:
        return [(("pools",), p, f"agent '{self.name}' uses unknown pool '{p}'") for p in self.pools]


def _arb_plan_py(x, y, ref, fee_bps, threshold):
    """Closed-form CEX-DEX trade per world; returns (amount_in, direction), 0 where unprofitable."""
    n = x.shape[0]
    amt = np.zeros(n)
    d = np.zeros(n, dtype=np.int64)
    for i in prange(n):
        a, di = optimal_arb_input(x[i], y[i], ref[i], fee_bps)
        if di > 0:
            profit = amount_out_f(a, y[i], x[i], fee_bps) * ref[i] - a
        elif di < 0:
            profit = amount_out_f(a, x[i], y[i], fee_bps) - a * ref[i]
        else:
            continue
        if profit > threshold[i]:
            amt[i] = a
            d[i] = di
    return amt, d


_arb_plan_s, _arb_plan_p = dual_kernel(_arb_plan_py)


def _arb_plan(x, y, ref, fee_bps, threshold):
    fn = _arb_plan_p if x.shape[0] >= PARALLEL_MIN else _arb_plan_s
    return fn(x, y, ref, fee_bps, threshold)


class CexDexArbitrageur:
    """Trades each pool to the edge of its fee band against the reference price.

    Closed form for constant product (see `optimal_arb_input`); trades only where the profit at
    the reference price exceeds gas plus `min_profit`. Hedges instantly on the CEX at the
    reference price, so its P&L is the profit marked at that price.
    """

    priority = True
    config = ArbitrageurConfig

    @classmethod
    def build(cls, cfg: ArbitrageurConfig, env: AgentEnv) -> CexDexArbitrageur:
        return cls(cfg, env.pools)

    def __init__(self, cfg: ArbitrageurConfig, pools: list[str]):
        self.cfg = cfg
        self.name = cfg.name
        self.pools = cfg.pools or pools

    def act(self, ctx: BlockContext) -> None:
        for name in self.pools:
            pool = ctx.pools[name]
            cost = ctx.gas_cost("swap")
            thr = self.cfg.min_profit + (cost if self.cfg.pay_gas else 0.0 * cost)
            amt, d = _arb_plan(pool.x, pool.y, ctx.ref, pool.fee_bps, thr)
            ctx.swap(self.name, name, amt, d, is_arb=True)
            if self.cfg.pay_gas:
                ctx.ledger.gas(self.name, cost, d != 0)
            else:
                ctx.ledger.gas(self.name, 0.0 * cost, d != 0)


class CrossVenueArbitrageur:
    """Buys the risky asset on the cheaper pool and sells it on the dearer one, atomically.

    Two constant-product swaps compose into out(a) = A a / (B + C a) with
    A = gA gB xA yB, B = yA xB, C = gA xB + gA gB xA (numeraire a in on pool A, risky through,
    numeraire out of pool B), so the optimum is a* = (sqrt(A B) - B) / C, profitable iff A > B.
    """

    priority = True
    config = CrossArbitrageurConfig

    @classmethod
    def build(cls, cfg: CrossArbitrageurConfig, env: AgentEnv) -> CrossVenueArbitrageur:
        return cls(cfg)

    def __init__(self, cfg: CrossArbitrageurConfig):
        self.cfg = cfg
        self.name = cfg.name

    def act(self, ctx: BlockContext) -> None:
        a_name, b_name = self.cfg.pools
        cost = 2.0 * ctx.gas_cost("swap")
        for src, dst in ((a_name, b_name), (b_name, a_name)):
            pa, pb = ctx.pools[src], ctx.pools[dst]
            a = _cross_plan(
                pa.x, pa.y, pb.x, pb.y, pa.fee_bps, pb.fee_bps, cost + self.cfg.min_profit
            )
            go = a > 0
            if not go.any():
                continue
            one = go.astype(np.int64)
            q = ctx.swap(self.name, src, a, one, is_arb=True)
            ctx.swap(self.name, dst, q, -one, is_arb=True)
            ctx.pay_gas(self.name, "swap", go)
            ctx.pay_gas(self.name, "swap", go)


@njit(cache=True, nogil=True)
def _cross_plan(xa, ya, xb, yb, fee_a, fee_b, threshold):
    """Optimal numeraire input a* per world (0 where the round trip does not pay threshold)."""
    n = xa.shape[0]
    out = np.zeros(n)
    ga = 1.0 - fee_a / 1e4
    gb = 1.0 - fee_b / 1e4
    for i in range(n):
        A = ga * gb * xa[i] * yb[i]
        B = ya[i] * xb[i]
        C = ga * xb[i] + ga * gb * xa[i]
        if A <= B * (1.0 + 1e-12):
            continue
        a = (math.sqrt(A * B) - B) / C
        if A * a / (B + C * a) - a > threshold[i]:
            out[i] = a
    return out

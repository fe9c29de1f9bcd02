"""Uniswap V3 pools in the fast engine: build, per-block bookkeeping, metrics and series.

Columns (units in `sim.engine.ledger.V3_METRICS`):
    v3.<pool>.<metric>             the pool: arbitrage profit, fees, LVR (totals and rates per
                                   day as fractions of the pool's value), volume, trades,
                                   the fraction of blocks holding an arbitrage trade;
    v3.<pool>.<position>.<metric>  each scenario position: fees, LVR, their rates, impermanent
                                   loss, value against holding (fees included), time in range;
    v3.<pool>.lp.<agent>.<metric>  each LP agent's positions (from the agent).
Series (`metrics.series_every`): v3.<pool>.price, .tick, .liquidity (in range), .lvr, .fees.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.history.v3flow import make_flow_pool
from sim.venues.base import BuildEnv, EngineSide
from sim.venues.univ3.agents import lp_slots
from sim.venues.univ3.batch import V3Batch, tokens_per_liquidity
from sim.venues.univ3.config import V3PoolConfig
from sim.venues.univ3.kernels import (
    B_ARB,
    B_ARBBLK,
    B_ARBF,
    B_FEEARBF,
    B_FEEF,
    B_FEES,
    B_LVR,
    B_LVRARBF,
    B_LVRF,
    B_NTR,
    B_VOL,
    HALF_LN,
    P_EARN0,
    P_EARN1,
    P_FEEF,
    P_FEEV,
    P_HX,
    P_HY,
    P_LVR,
    P_LVRF,
    P_TIN,
)

DAY = 86400.0


def config_liquidity(cfg: V3PoolConfig, batch: V3Batch, p0: np.ndarray):
    """Each scenario position's canonical ticks and liquidity in every world: its range
    around the pool's initial price `p0` (N,), and the liquidity worth its `value` there.

    Returns:
        [(lower (N,), upper (N,), liquidity (N,))] in the order of `cfg.positions`.
    """
    out = []
    sp = cfg.tick_spacing
    for pos in cfg.positions:
        ticks = [pos.ticks(float(p), sp, batch.price_scale) for p in np.unique(p0)]
        by_price = dict(zip(np.unique(p0).tolist(), ticks, strict=True))
        lower = np.array([by_price[float(p)][0] for p in p0], dtype=np.int64)
        upper = np.array([by_price[float(p)][1] for p in p0], dtype=np.int64)
        sa = np.exp(lower * HALF_LN) * batch.sqps
        sb = np.exp(upper * HALF_LN) * batch.sqps
        x1, y1 = tokens_per_liquidity(sa, sb, np.sqrt(p0))
        out.append((lower, upper, pos.value / (x1 * p0 + y1)))
    return out


def make_v3_pools(sc: Any, ref: np.ndarray) -> dict[str, V3Batch]:
    """The scenario's V3 pools at their initial price (the reference price plus any offset),
    each with its positions minted; the LP agents' slots start free. The pool a replayed flow
    trades (`sc.flow.v3_pool`) is the recorded pool instead (`sim.history.v3flow`)."""
    pools = {}
    flow = getattr(sc, "flow", None)
    for c in sc.v3_pools:
        slots = len(c.positions) + sum(k for _s, k in lp_slots(sc, c.name).values())
        if flow is not None and flow.v3_pool == c.name:
            pools[c.name] = make_flow_pool(sc, c, ref.shape[0], slots)
            continue
        pool = V3Batch(c.name, ref.shape[0], c.fee, c.tick_spacing, slots)
        pool.position_names = [p.name for p in c.positions]
        p0 = ref * (1.0 + c.price_offset_bps / 1e4)
        pool.initialize(p0)
        for j, (lower, upper, liquidity) in enumerate(config_liquidity(c, pool, p0)):
            pool.mint_raw(j, lower, upper, liquidity)
        pools[c.name] = pool
    return pools


def v3_columns(pools: dict[str, V3Batch], led: Any, ref: np.ndarray) -> dict[str, np.ndarray]:
    """Every pool's and scenario position's metric columns (module docstring), at the end of
    a run whose accounting `led` (a `sim.engine.ledger.Ledger`) kept the time and blocks."""
    days = led.seconds / DAY
    per_day = np.where(days > 0, 1.0 / np.where(days > 0, days, 1.0), np.nan)
    out: dict[str, np.ndarray] = {}
    for name, pool in pools.items():
        b = pool.book
        head = f"v3.{name}."
        out[head + "arb_profit_rate"] = b[:, B_ARBF] * per_day
        out[head + "fee_rate"] = b[:, B_FEEF] * per_day
        out[head + "arb_fee_rate"] = b[:, B_FEEARBF] * per_day
        out[head + "lvr_rate"] = b[:, B_LVRF] * per_day
        out[head + "lvr_arb_rate"] = b[:, B_LVRARBF] * per_day
        out[head + "arb_block_frac"] = b[:, B_ARBBLK] / max(led.blocks, 1)
        out[head + "arb_profit"] = b[:, B_ARB].copy()
        out[head + "fees"] = b[:, B_FEES].copy()
        out[head + "lvr"] = b[:, B_LVR].copy()
        out[head + "volume"] = b[:, B_VOL].copy()
        out[head + "n_trades"] = b[:, B_NTR].copy()
        out[head + "price_ratio"] = ref / led.price0
        x, y = pool.position_tokens(slice(None))
        for j, pos in enumerate(pool.position_names):
            a = pool.pacc[:, j]
            value = x[:, j] * ref + y[:, j]
            hold = a[:, P_HX] * ref + a[:, P_HY]
            earned = a[:, P_EARN0] * ref + a[:, P_EARN1]
            h = f"{head}{pos}."
            out[h + "fees"] = a[:, P_FEEV].copy()
            out[h + "lvr"] = a[:, P_LVR].copy()
            out[h + "fee_rate"] = a[:, P_FEEF] * per_day
            out[h + "lvr_rate"] = a[:, P_LVRF] * per_day
            out[h + "il"] = value / hold - 1.0
            out[h + "lp_vs_hold"] = (value + earned) / hold - 1.0
            seconds = np.where(led.seconds > 0, led.seconds, np.nan)
            out[h + "time_in_range"] = a[:, P_TIN] / seconds
            out[h + "value"] = value
    return out


class Univ3Side(EngineSide):
    """Builds the V3 pools (factory "v3_pools": `make_v3_pools(sc, ref)`); each block, before
    the agents, starts the pools' accounting with the ledger's and credits time in range."""

    fields = ("v3_pools",)

    def build(self, env: BuildEnv) -> dict[str, dict[str, Any]]:
        return {"v3_pools": env.factory("v3_pools", make_v3_pools)(env.sc, env.ref)}

    def start_block(self, markets, ctx) -> None:
        for pool in markets["v3_pools"].values():
            if ctx.ledger.active and not pool.accounting:
                pool.start_accounting()
                pool.accounting = True
            pool.new_block(ctx.dt, ctx.ledger.active)

    def world_columns(self, markets, ctx) -> dict[str, np.ndarray]:
        return v3_columns(markets["v3_pools"], ctx.ledger, ctx.ref)

    def sample(self, markets, ctx) -> dict[str, np.ndarray]:
        row: dict[str, np.ndarray] = {}
        for name, pool in markets["v3_pools"].items():
            row[f"v3.{name}.price"] = pool.price()
            row[f"v3.{name}.tick"] = pool.tick.astype(np.float64)
            row[f"v3.{name}.liquidity"] = pool.L.copy()
            row[f"v3.{name}.lvr"] = pool.book[:, B_LVR].copy()
            row[f"v3.{name}.fees"] = pool.book[:, B_FEES].copy()
        return row

"""The constant-product pools and their TWAPs in the fast engine."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.history.agent import flow_seed
from sim.venues.base import BuildEnv, EngineSide
from sim.venues.cpmm.batch import CpmmBatch, Twap


def make_pools(
    sc: Any, ref: np.ndarray, prices: dict[str, np.ndarray] | None = None
) -> dict[str, CpmmBatch]:
    """Pools at their initial value, priced at the reference price (plus any offset); the pool
    a replayed flow trades (`sc.flow`) at the recorded pair's reserves instead.

    A pool on another pair (`PoolConfig.tokens`) holds half its value in each token at the
    tokens' prices in `prices` (a multi-asset process's), its price offset applied to token 0.
    """
    pools = {}
    for c in sc.pools:
        pair = c.pair(sc)
        if pair is not None:
            p0 = prices[pair[0]] * (1.0 + c.price_offset_bps / 1e4)
            pools[c.name] = CpmmBatch(
                c.name, 0.5 * c.tvl / p0, 0.5 * c.tvl / prices[pair[1]], c.fee_bps,
                c.fee_to_reserves, pair,
            )  # fmt: skip
            continue
        px = ref * (1.0 + c.price_offset_bps / 1e4)
        x, y = 0.5 * c.tvl / px, np.full(ref.shape, 0.5 * c.tvl)
        flow = getattr(sc, "flow", None)
        if flow is not None and flow.pool == c.name:  # a replayed flow's pool: as recorded
            x, y = (np.full(ref.shape, v) for v in flow_seed(flow))
        pools[c.name] = CpmmBatch(c.name, x, y, c.fee_bps, c.fee_to_reserves)
    return pools


class CpmmSide(EngineSide):
    """Builds the pools (factory "pools": `make_pools(sc, ref)`) and their TWAPs; each block
    the pools accrue their cumulative price to the block's time and the TWAPs take a
    snapshot. Pool metrics are booked by the ledger (`sim.engine.ledger.PoolBook`)."""

    fields = ("pools", "twaps")

    def build(self, env: BuildEnv) -> dict[str, dict[str, Any]]:
        pools = env.factory("pools", make_pools)(env.sc, env.ref, env.prices)
        twaps = {t.name: Twap(t, pools[t.pool]) for t in env.sc.twaps}
        return {"pools": pools, "twaps": twaps}

    def start_block(self, markets, ctx) -> None:
        for pool in markets["pools"].values():
            pool.accumulate(ctx.time)
        for tw in markets["twaps"].values():
            tw.update()

    def sample(self, markets, ctx) -> dict[str, np.ndarray]:
        row: dict[str, np.ndarray] = {}
        ledger = ctx.ledger
        for name, pool in markets["pools"].items():
            b = ledger.books[name]
            row[f"{name}.price"] = pool.price()
            if pool.tokens is None:
                row[f"{name}.value"] = pool.value(ctx.ref)
            else:
                row[f"{name}.value"] = pool.value(*map(ctx.price_of, pool.tokens))
            row[f"{name}.lp_vs_hold"] = ledger.lp_vs_hold(name, ctx.ref)
            row[f"{name}.lvr_frac"] = b.lvr_frac.copy()
            row[f"{name}.arb_profit_frac"] = b.arb_frac.copy()
            row[f"{name}.fee_frac"] = b.fee_frac.copy()
        for name, tw in markets["twaps"].items():
            row[f"oracle.{name}.answer"] = tw.price().copy()
        return row

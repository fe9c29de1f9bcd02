"""The V3 reference as one numba kernel: GBM, one Uniswap V3 pool with its scenario positions,
one CEX-DEX arbitrageur (`v3_arbitrageur`), a constant base fee, no series.

It runs the general path's per-world kernels (`sim.venues.univ3.kernels`: the arbitrageur's
closed form, the swap across initialised ticks, the per-position booking) and draws the same
per-world random numbers in the same order, world by world and block by block, so both paths
give the same results to rounding (tested), without the general path's per-block passes over
the batch. Numba caches compiled kernels against this file only: after editing a kernel it
inlines from another module, delete `sim/**/__pycache__/*.nb?`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from sim.blocks import GWEI
from sim.engine.ledger import Ledger
from sim.processes import GBM, GBMConfig
from sim.streams import WorldStreams, normal_pair_draw, stream_key, to_unit, xo_next
from sim.venues.univ3.agents import V3ArbitrageurConfig
from sim.venues.univ3.engine import make_v3_pools, v3_columns
from sim.venues.univ3.kernels import (
    B_ARBNOW,
    NPACC,
    P_FEE0,
    P_FEE1,
    P_HX,
    P_HY,
    P_TIN,
    arb_w,
    book_trade,
    position_tokens,
    swap_w,
)

_V3_REFERENCE_FIELDS = {"v3_pools", "agents"}


def is_v3_reference(sc: Any) -> bool:
    """Whether the scenario is the V3 reference shape this kernel runs."""
    return (
        isinstance(sc.price, GBMConfig)
        and not sc.price.scheduled_jumps
        and len(sc.v3_pools) == 1
        and len(sc.agents) == 1
        and isinstance(sc.agents[0], V3ArbitrageurConfig)
        and not any(
            getattr(sc, f)
            for f in type(sc).model_fields
            if f not in _V3_REFERENCE_FIELDS and isinstance(getattr(sc, f), list)
        )
        and sc.gas.base_fee_vol == 0
        and sc.metrics.series_every is None
        and getattr(sc, "flow", None) is None
    )


def run_v3_fused(
    sc: Any, n: int, offset: int, total: int, progress: Callable[[int], None] | None
) -> dict[str, np.ndarray]:
    """Run worlds [offset, offset + n) of a V3 reference scenario; per-world metric columns."""
    arb = sc.agents[0]
    price = GBM(
        n, sc.price.s0, sc.price.sigma_annual, sc.price.mu, _streams(sc, "price", n, offset)
    )
    clock = _streams(sc, "clock", n, offset)
    pools = make_v3_pools(sc, price.price)
    pool = next(iter(pools.values()))
    acc = np.zeros((n, _NACC))
    units = float(sc.gas.units.v3_swap) if arb.pay_gas else 0.0
    gas_per_native = units * (sc.gas.base_fee_gwei + sc.gas.priority_fee_gwei) * GWEI
    native = -1.0 if sc.gas.native_price is None else sc.gas.native_price
    # Segments only to drive the progress bar; the kernel carries all state across them.
    seg = max(1, total // 50)
    for b0 in range(0, total, seg):
        b1 = min(total, b0 + seg)
        _fused_v3(
            b0, b1, sc.metrics.warmup_blocks, price.log_s, price.streams.state,
            price.streams.spare, price.streams.has_spare, clock.state, sc.blocks.poisson,
            sc.blocks.block_time, price.drift, price.sigma, gas_per_native, native,
            arb.min_profit, pool.s, pool.L, pool.tick, pool.idx, pool.fee_growth, pool.nk,
            pool.tk, pool.tks, pool.tnet, pool.pl, pool.pu, pool.psa, pool.psb, pool.pL,
            pool.pacc, pool.book, pool.f, pool.g, pool.sqps, acc,
        )  # fmt: skip
        if progress is not None:
            progress(n * (b1 - b0))
    ref = np.exp(price.log_s)
    ledger = Ledger(n, {}, [arb.name], [])
    ledger.active = True
    ledger.blocks = sc.blocks.n_blocks
    ledger.seconds = acc[:, _SECONDS].copy()
    ledger.price0 = acc[:, _PRICE0].copy()
    ledger.agent_pnl[arb.name] = acc[:, _PNL].copy()
    ledger.agent_gas[arb.name] = acc[:, _GAS].copy()
    ledger.agent_tx[arb.name] = acc[:, _NTX].copy()
    return ledger.world_table(ref, v3_columns(pools, ledger, ref))


def _streams(sc: Any, name: str, n: int, offset: int) -> WorldStreams:
    return WorldStreams(sc.seed, stream_key(name), n, offset)


_SECONDS, _PRICE0, _PNL, _GAS, _NTX, _NACC = range(6)


@njit(cache=True, nogil=True)
def _fused_v3(b0, b1, warmup, log_s, pst, spare, has, cst, poisson, block_time, drift, sig,
              gas_per_native, native, min_profit, s, L, tick, idx, fg, nk, tk, tks, tnet, pl, pu,
              psa, psb, pL, pacc, book, f, g, sqps, acc):  # fmt: skip
    """V3 reference hot path, world by world: the general path's Engine loop (clock, GBM,
    `Univ3Side.start_block`, `V3Arbitrageur.act`, `Ledger.end_block`) on one world at a time."""
    n = s.shape[0]
    m = pL.shape[1]
    for w in range(n):
        ls = log_s[w]
        p0, p1, p2, p3 = pst[w, 0], pst[w, 1], pst[w, 2], pst[w, 3]
        c0, c1, c2, c3 = cst[w, 0], cst[w, 1], cst[w, 2], cst[w, 3]
        sp = spare[w]
        hs = has[w]
        for t in range(b0, b1):
            if t == warmup:
                # Ledger.start and V3Batch.start_accounting.
                acc[w, _PRICE0] = math.exp(ls)
                acc[w, _SECONDS] = 0.0
                acc[w, _PNL] = 0.0
                acc[w, _GAS] = 0.0
                acc[w, _NTX] = 0.0
                for k in range(book.shape[1]):
                    book[w, k] = 0.0
                for j in range(m):
                    owed0 = pacc[w, j, P_FEE0]
                    owed1 = pacc[w, j, P_FEE1]
                    for k in range(NPACC):
                        pacc[w, j, k] = 0.0
                    pacc[w, j, P_FEE0] = owed0
                    pacc[w, j, P_FEE1] = owed1
                    if pL[w, j] > 0.0:
                        x, y = position_tokens(pL[w, j], psa[w, j], psb[w, j], s[w])
                        pacc[w, j, P_HX] = x
                        pacc[w, j, P_HY] = y
            if poisson:
                r, c0, c1, c2, c3 = xo_next(c0, c1, c2, c3)
                dt = -math.log(to_unit(r)) * block_time
            else:
                dt = block_time
            if hs:
                z = sp
                hs = False
            else:
                z, sp, p0, p1, p2, p3 = normal_pair_draw(p0, p1, p2, p3)
                hs = True
            ls += drift * dt + sig * math.sqrt(dt) * z
            ref = math.exp(ls)
            active = t >= warmup
            # V3Batch.new_block: time in range for the dt just elapsed.
            book[w, B_ARBNOW] = 0.0
            if active:
                tw = tick[w]
                for j in range(m):
                    if pL[w, j] > 0.0 and pl[w, j] <= tw and tw < pu[w, j]:
                        pacc[w, j, P_TIN] += dt
            nat = ref if native < 0.0 else native
            cost = gas_per_native * nat
            # Most blocks leave the pool inside the fee band: test that here, without a call.
            pw = s[w] * s[w]
            d = 0
            if ref * g > pw * (1.0 + 1e-12) or ref < pw * g * (1.0 - 1e-12):
                a, d, target = arb_w(w, ref, min_profit + cost, s, L, idx, nk, tks, tnet, g)
            if d != 0:
                s0 = s[w]
                used, out = swap_w(w, a, d > 0, target, s, L, tick, idx, fg, nk, tk, tks, tnet,
                                   pl, pu, pL, g, sqps)  # fmt: skip
                if used > 0.0:
                    pnl = book_trade(w, d > 0, used, out, s0, s[w], ref, f, g, active, True, psa,
                                     psb, pL, pacc, book)  # fmt: skip
                    if active:
                        acc[w, _PNL] += pnl
                if active:
                    acc[w, _GAS] += cost
                    acc[w, _PNL] -= cost
                    acc[w, _NTX] += 1.0
            if active:
                acc[w, _SECONDS] += dt
        log_s[w] = ls
        pst[w, 0], pst[w, 1], pst[w, 2], pst[w, 3] = p0, p1, p2, p3
        cst[w, 0], cst[w, 1], cst[w, 2], cst[w, 3] = c0, c1, c2, c3
        spare[w] = sp
        has[w] = hs

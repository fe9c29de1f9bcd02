"""The reference configuration as one numba kernel: GBM, one constant-product pool, one
CEX-DEX arbitrageur, a constant base fee, no series.

It keeps each world's state in registers and draws the same per-world random numbers in the
same order as the general path, so both give the same results to rounding (tested), and it is
~10x faster. Numba caches compiled kernels (cache=True) and re-validates a cache entry only
against the file of the kernel itself: after editing a helper it inlines from another module
(e.g. `sim.venues.cpmm.batch.swap_f`), delete `sim/**/__pycache__/*.nb?` or the old machine
code keeps running.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numba import njit

from sim.agents.arbitrage import ArbitrageurConfig
from sim.blocks import GWEI
from sim.engine.ledger import Ledger
from sim.processes import GBM, GBMConfig
from sim.streams import WorldStreams, normal_pair_draw, stream_key, to_unit, xo_next
from sim.venues.cpmm.batch import amount_out_f, optimal_arb_input, swap_f
from sim.venues.cpmm.engine import make_pools
from sim.venues.univ3.fused import is_v3_reference, run_v3_fused


def is_fusable(sc) -> bool:
    """Whether the scenario is a reference shape a fused kernel runs: this module's, or the
    V3 reference (`sim.venues.univ3.fused`)."""
    return _is_cpmm_reference(sc) or is_v3_reference(sc)


def _is_cpmm_reference(sc) -> bool:
    return (
        isinstance(sc.price, GBMConfig)
        and getattr(sc, "flow", None) is None  # a replayed flow trades: the kernel has none
        and len(sc.pools) == 1
        and len(sc.agents) == 1
        and isinstance(sc.agents[0], ArbitrageurConfig)
        and not any(
            getattr(sc, f)
            for f in type(sc).model_fields
            if f not in _REFERENCE_FIELDS and isinstance(getattr(sc, f), list)
        )
        and not sc.price.scheduled_jumps
        and sc.gas.base_fee_vol == 0
        and sc.metrics.series_every is None
    )


_REFERENCE_FIELDS = {"pools", "agents"}
"""List fields the reference shape may fill; any other venue or list makes it general."""


def _streams(sc, name: str, n: int, offset: int) -> WorldStreams:
    return WorldStreams(sc.seed, stream_key(name), n, offset)


def run_fused(sc, n: int, offset: int, total: int, progress: Callable[[int], None] | None):
    """Run worlds [offset, offset + n) of a fusable scenario; per-world metric columns."""
    if is_v3_reference(sc):
        return run_v3_fused(sc, n, offset, total, progress)
    assert isinstance(sc.price, GBMConfig)
    arb = sc.agents[0]
    assert isinstance(arb, ArbitrageurConfig)
    pc = sc.pools[0]
    price = GBM(
        n, sc.price.s0, sc.price.sigma_annual, sc.price.mu, _streams(sc, "price", n, offset)
    )
    clock = _streams(sc, "clock", n, offset)
    pools = make_pools(sc, price.price)
    pool = pools[pc.name]
    acc = np.zeros((n, _NACC))
    units = float(sc.gas.units.swap) if arb.pay_gas else 0.0
    gas_per_native = units * (sc.gas.base_fee_gwei + sc.gas.priority_fee_gwei) * GWEI
    native = -1.0 if sc.gas.native_price is None else sc.gas.native_price
    warmup = sc.metrics.warmup_blocks
    # Segments only to drive the progress bar; the kernel carries all state across them.
    seg = max(1, total // 50)
    for b0 in range(0, total, seg):
        b1 = min(total, b0 + seg)
        _fused(
            b0,
            b1,
            warmup,
            price.log_s,
            pool.x,
            pool.y,
            pool.fees_x,
            pool.fees_y,
            price.streams.state,
            price.streams.spare,
            price.streams.has_spare,
            clock.state,
            sc.blocks.poisson,
            sc.blocks.block_time,
            price.drift,
            price.sigma,
            pool.fee_bps,
            pool.fee_to_reserves,
            gas_per_native,
            native,
            arb.min_profit,
            acc,
        )
        if progress is not None:
            progress(n * (b1 - b0))
    ref = np.exp(price.log_s)
    ledger = Ledger(n, pools, [arb.name], [])
    ledger.active = True
    ledger.blocks = sc.blocks.n_blocks
    ledger.seconds = acc[:, _SECONDS].copy()
    ledger.price0 = acc[:, _PRICE0].copy()
    b = ledger.books[pc.name]
    b.lvr_frac, b.fee_frac, b.arb_frac = acc[:, _LVRF], acc[:, _FEEF], acc[:, _ARBF]
    b.lvr_arb_frac, b.fee_arb_frac = acc[:, _LVRF], acc[:, _FEEF]
    b.lvr, b.fees, b.arb_profit = acc[:, _LVR], acc[:, _FEES], acc[:, _ARB]
    b.volume, b.n_trades, b.arb_blocks = acc[:, _VOL], acc[:, _NTR], acc[:, _NTR]
    b.shares0 = pool.shares.copy()
    b.supply0 = pool.shares.copy()
    b.hold_x, b.hold_y = acc[:, _HX], acc[:, _HY]
    ledger.agent_pnl[arb.name] = acc[:, _PNL]
    ledger.agent_gas[arb.name] = acc[:, _GAS]
    ledger.agent_tx[arb.name] = acc[:, _NTR]
    return ledger.world_table(ref, {})


(
    _LVRF,
    _FEEF,
    _ARBF,
    _LVR,
    _FEES,
    _ARB,
    _VOL,
    _NTR,
    _SECONDS,
    _PRICE0,
    _HX,
    _HY,
    _PNL,
    _GAS,
    _NACC,
) = range(15)


@njit(cache=True, nogil=True)
def _fused(
    b0,
    b1,
    warmup,
    log_s,
    xs,
    ys,
    fxs,
    fys,
    pst,
    spare,
    has,
    cst,
    poisson,
    block_time,
    drift,
    sig,
    fee_bps,
    to_res,
    gas_per_native,
    native,
    min_profit,
    acc,
):
    """Reference hot path: GBM, one CPMM, one CEX-DEX arbitrageur, per world in registers.

    Mirrors, operation for operation, BlockClock.step, GBM.step, _arb_plan, CpmmBatch.swap and
    Ledger.swap/gas/end_block so the general engine reproduces it.
    """
    n = xs.shape[0]
    for w in range(n):
        ls = log_s[w]
        x = xs[w]
        y = ys[w]
        fx = fxs[w]
        fy = fys[w]
        p0, p1, p2, p3 = pst[w, 0], pst[w, 1], pst[w, 2], pst[w, 3]
        c0, c1, c2, c3 = cst[w, 0], cst[w, 1], cst[w, 2], cst[w, 3]
        sp = spare[w]
        hs = has[w]
        a_lvrf = acc[w, 0]
        a_feef = acc[w, 1]
        a_arbf = acc[w, 2]
        a_lvr = acc[w, 3]
        a_fees = acc[w, 4]
        a_arb = acc[w, 5]
        a_vol = acc[w, 6]
        a_ntr = acc[w, 7]
        a_sec = acc[w, 8]
        a_pnl = acc[w, 12]
        a_gas = acc[w, 13]
        for t in range(b0, b1):
            if t == warmup:
                acc[w, 9] = math.exp(ls)
                acc[w, 10] = x + fx
                acc[w, 11] = y + fy
                a_lvrf = 0.0
                a_feef = 0.0
                a_arbf = 0.0
                a_lvr = 0.0
                a_fees = 0.0
                a_arb = 0.0
                a_vol = 0.0
                a_ntr = 0.0
                a_sec = 0.0
                a_pnl = 0.0
                a_gas = 0.0
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
            nat = ref if native < 0.0 else native
            cost = gas_per_native * nat
            a, d = optimal_arb_input(x, y, ref, fee_bps)
            active = t >= warmup
            if d != 0:
                if d > 0:
                    profit = amount_out_f(a, y, x, fee_bps) * ref - a
                else:
                    profit = amount_out_f(a, x, y, fee_bps) - a * ref
                if profit > min_profit + cost:
                    x, y, out, fee_x, fee_y = swap_f(a, d, x, y, fee_bps, to_res)
                    if not to_res:
                        fx += fee_x
                        fy += fee_y
                    if active:
                        if d > 0:
                            ddx = -out
                            ddy = a
                        else:
                            ddx = a
                            ddy = -out
                        pnl = -(ref * ddx + ddy)
                        fee = ref * fee_x + fee_y
                        lvr = pnl + fee
                        v = (x + fx) * ref + y + fy
                        a_lvr += lvr
                        a_fees += fee
                        a_lvrf += lvr / v
                        a_feef += fee / v
                        a_vol += ddx * ref if ddx > 0 else max(ddy, 0.0)
                        a_ntr += 1.0
                        a_arbf += pnl / v
                        a_arb += pnl
                        a_pnl += pnl
                        a_gas += cost
                        a_pnl -= cost
            if active:
                a_sec += dt
        log_s[w] = ls
        xs[w] = x
        ys[w] = y
        fxs[w] = fx
        fys[w] = fy
        pst[w, 0], pst[w, 1], pst[w, 2], pst[w, 3] = p0, p1, p2, p3
        cst[w, 0], cst[w, 1], cst[w, 2], cst[w, 3] = c0, c1, c2, c3
        spare[w] = sp
        has[w] = hs
        acc[w, 0] = a_lvrf
        acc[w, 1] = a_feef
        acc[w, 2] = a_arbf
        acc[w, 3] = a_lvr
        acc[w, 4] = a_fees
        acc[w, 5] = a_arb
        acc[w, 6] = a_vol
        acc[w, 7] = a_ntr
        acc[w, 8] = a_sec
        acc[w, 12] = a_pnl
        acc[w, 13] = a_gas

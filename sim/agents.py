"""Agents. Each acts on the whole batch of worlds at once through a `BlockContext`.

An agent is anything with `name`, `priority` (bids for top of block) and `act(ctx)`. Later
agents (a keeper with a hedging policy) plug in the same way: read `ctx`, trade pools through
`ctx.swap`, pay gas through `ctx.pay_gas`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numba import njit, prange  # noqa: F401 - prange in the kernels

from sim.blocks import gas_cost
from sim.metrics import Ledger
from sim.options_venue import OptionsVenue
from sim.oracle import ChainlinkFeed, OracleVenue, Twap
from sim.perp_venue import PerpVenue
from sim.pools.cpmm_vec import CpmmBatch, amount_out_f, optimal_arb_input, swap_f
from sim.processes import (
    PARALLEL_MIN,
    WorldStreams,
    dual_kernel,
    normal_pair_draw,
    to_unit,
    xo_next,
)
from sim.scenario import (
    ArbitrageurConfig,
    CrossArbitrageurConfig,
    GasConfig,
    LiquidatorConfig,
    LPConfig,
    NoiseTraderConfig,
    OracleSniperConfig,
    PerpTraderConfig,
    SandwichConfig,
)


@dataclass
class Intent:
    """A pending swap in the block's mempool (batch: one per world, `active` where sent)."""

    agent: str
    pool: str
    direction: np.ndarray  # +1 numeraire in / risky out, -1 risky in / numeraire out
    amount_in: np.ndarray
    min_out: np.ndarray
    notional: np.ndarray
    active: np.ndarray
    done: bool = False
    backruns: list = field(default_factory=list)


@dataclass
class BlockContext:
    """What agents see and touch in one block (all arrays shape (N,))."""

    block: int
    time: np.ndarray
    dt: np.ndarray
    ref: np.ndarray
    base_fee: np.ndarray
    gas: GasConfig
    pools: dict[str, CpmmBatch]
    feeds: dict[str, ChainlinkFeed | Twap]
    venues: dict[str, OracleVenue]
    ledger: Ledger
    mempool: list[Intent] = field(default_factory=list)
    _gas: dict[str, np.ndarray] = field(default_factory=dict)
    perps: dict[str, PerpVenue] = field(default_factory=dict)
    options: dict[str, OptionsVenue] = field(default_factory=dict)

    def gas_cost(self, kind: str) -> np.ndarray:
        """Cost of one transaction of `kind` (swap, mint, burn, oracle_update), numeraire."""
        # Same for every agent within a block: computed once per kind.
        cost = self._gas.get(kind)
        if cost is None:
            cost = gas_cost(getattr(self.gas.units, kind), self.base_fee, self.gas, self.ref)
            self._gas[kind] = cost
        return cost

    def pay_gas(self, agent: str, kind: str, mask: np.ndarray) -> None:
        """Charge one `kind` transaction to `agent` where `mask`."""
        self.ledger.gas(agent, self.gas_cost(kind), mask)

    def mint(self, agent: str, pool_name: str, value_frac: np.ndarray) -> np.ndarray:
        """`agent` adds `value_frac` of the pool's reserves; returns the shares minted (N,)."""
        return self.pools[pool_name].mint(value_frac)

    def burn(self, agent: str, pool_name: str, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`agent` burns `shares`; returns the (risky, numeraire) it receives, (N,) each."""
        return self.pools[pool_name].burn(shares)

    def take_lp_share(self, agent: str, pool_name: str, share: float) -> np.ndarray:
        """`agent` starts out owning `share` of the pool's existing LP supply (an inventory it
        inherits, not a deposit: nothing moves the pool); returns its shares (N,)."""
        return share * self.pools[pool_name].shares

    def order_refused(self, intent: Intent, mask: np.ndarray) -> None:
        """`intent`'s sender sends it where `mask` although it will not fill within its
        limit: the transaction reverts and only costs gas (booked by the agent). Nothing to
        do here; a chain run sends the reverting transaction."""

    def swap(
        self,
        agent: str,
        pool_name: str,
        amount_in: np.ndarray,
        direction: np.ndarray,
        is_arb: bool = False,
    ) -> np.ndarray:
        """Swap where direction != 0 and book it; returns amount_out (N,)."""
        pool = self.pools[pool_name]
        led = self.ledger
        b = led.books[pool_name]
        fn = _swap_and_book_p if pool.n >= PARALLEL_MIN else _swap_and_book_s
        return fn(
            pool.x,
            pool.y,
            pool.fees_x,
            pool.fees_y,
            np.asarray(amount_in, dtype=np.float64),
            np.asarray(direction, dtype=np.int64),
            self.ref,
            pool.fee_bps,
            pool.fee_to_reserves,
            led.active,
            is_arb,
            b.lvr,
            b.fees,
            b.lvr_frac,
            b.fee_frac,
            b.volume,
            b.n_trades,
            b.lvr_arb_frac,
            b.fee_arb_frac,
            b.arb_frac,
            b.arb_profit,
            b.arb_now,
            led.agent_pnl[agent],
        )


def _swap_and_book(
    x,
    y,
    fxs,
    fys,
    amount_in,
    direction,
    ref,
    fee_bps,
    to_res,
    active,
    is_arb,
    lvr_a,
    fees_a,
    lvr_f,
    fee_f,
    vol,
    ntr,
    lvr_arb_f,
    fee_arb_f,
    arb_f,
    arb_p,
    arb_now,
    pnl_a,
):
    """Swap and book in one pass over the worlds that trade (Ledger.swap's arithmetic)."""
    n = x.shape[0]
    out = np.zeros(n)
    for i in prange(n):
        d = direction[i]
        a = amount_in[i]
        if d == 0 or not a > 0.0:
            continue
        nx, ny, o, fee_x, fee_y = swap_f(a, d, x[i], y[i], fee_bps, to_res)
        x[i] = nx
        y[i] = ny
        out[i] = o
        if not to_res:
            fxs[i] += fee_x
            fys[i] += fee_y
        if d > 0:
            ddx = -o
            ddy = a
        else:
            ddx = a
            ddy = -o
        r = ref[i]
        pnl = -(r * ddx + ddy)
        if not active:
            continue
        fee = r * fee_x + fee_y
        lvr = pnl + fee
        v = (x[i] + fxs[i]) * r + y[i] + fys[i]
        lvr_a[i] += lvr
        fees_a[i] += fee
        lvr_f[i] += lvr / v
        fee_f[i] += fee / v
        vol[i] += ddx * r if ddx > 0 else max(ddy, 0.0)
        ntr[i] += 1.0
        if is_arb:
            lvr_arb_f[i] += lvr / v
            fee_arb_f[i] += fee / v
            arb_f[i] += pnl / v
            arb_p[i] += pnl
            arb_now[i] = True
        pnl_a[i] += pnl
    return out


_swap_and_book_s, _swap_and_book_p = dual_kernel(_swap_and_book)


class Agent(Protocol):
    name: str
    priority: bool

    def act(self, ctx: BlockContext) -> None: ...


# ----------------------------------------------------------------------- arbitrage kernels


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


class NoiseTrader:
    """Uninformed flow: Poisson arrivals, log-normal sizes, random direction, slippage limit.

    Arrivals in the same block (K ~ Poisson(rate)) are merged into one order of K times one
    drawn size, so a world sends at most one order per block. The order's limit is the pre-block
    mid price net of the fee and `slippage_bps`; an order that would fill worse reverts (and
    still pays gas). Orders wait in the mempool, where a sandwich attacker may see them.
    """

    priority = False

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
            _amount_out_vec(it.amount_in, pool.y, pool.x, pool.fee_bps),
            _amount_out_vec(it.amount_in, pool.x, pool.y, pool.fee_bps),
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


def _amount_out_vec(a, r_in, r_out, fee_bps):
    g = a * (1e4 - fee_bps)
    return g * r_out / (r_in * 1e4 + g)


class LiquidityProvider:
    """Deposits a fraction of the pool at Poisson times and withdraws its whole position.

    P&L = withdrawn value + value still in the pool - deposited value, all at the reference
    price of the moment, minus gas.
    """

    priority = False

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

    def position_value(self, ctx_pool: CpmmBatch, ref: np.ndarray) -> np.ndarray:
        """Value of the shares still held, (N,)."""
        return np.where(ctx_pool.shares > 0, self.shares / ctx_pool.shares, 0.0) * ctx_pool.value(
            ref
        )


class OracleSniper:
    """Takes an oracle-priced venue's quote when the oracle is stale against the reference.

    Buys `max_notional` at the venue's ask when the reference price is above it (sells at the
    bid when below) if the edge exceeds gas plus `min_profit`, hedging at the reference price.
    """

    priority = True

    def __init__(self, cfg: OracleSniperConfig):
        self.cfg = cfg
        self.name = cfg.name

    def act(self, ctx: BlockContext) -> None:
        venue = ctx.venues[self.cfg.venue]
        bid, ask = venue.quote()
        size = venue.cfg.max_notional / ctx.ref
        cost = ctx.gas_cost("swap") + self.cfg.min_profit
        buy = size * (ctx.ref - ask) > cost
        sell = size * (bid - ctx.ref) > cost
        signed = np.where(buy, size, np.where(sell, -size, 0.0))
        px = np.where(buy, ask, bid)
        venue.fill(signed, px, ctx.ref)
        ctx.ledger.pnl(self.name, signed * (ctx.ref - px))
        ctx.pay_gas(self.name, "swap", buy | sell)


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


__all__ = [
    "Agent",
    "BlockContext",
    "CexDexArbitrageur",
    "CrossVenueArbitrageur",
    "Intent",
    "Liquidator",
    "LiquidityProvider",
    "NoiseTrader",
    "PerpTrader",
    "OracleSniper",
    "SandwichAttacker",
]

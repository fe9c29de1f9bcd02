"""Agents that trade Uniswap V3 pools: the CEX-DEX arbitrageur, noise traders, sandwich bots on
their orders, the cross-venue arbitrageur between a constant-product (V2) pool and a V3 pool,
and LPs that open ranges.

Each acts on the whole batch of worlds, as the generic agents do on constant-product pools
(`sim.agents`); they trade a pool through `V3Batch.swap(ctx, agent, ...)`, which the exact world
replaces with swaps through the genuine SwapRouter on the integer twin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from sim.agents.noise import NoiseFlow, _noise_orders
from sim.config import ConfigModel, Ref
from sim.engine.context import AgentEnv, BlockContext
from sim.streams import WorldStreams
from sim.venues.univ3.batch import tokens_per_liquidity
from sim.venues.univ3.config import LN_TICK, usable_ticks
from sim.venues.univ3.kernels import P_FEEV, P_LVR, S_MAX, S_MIN, arb_w, plan_to, walk_from

V3 = "v3_pools"


def _ref(agent: str, pool: str) -> Ref:
    return ((V3,), pool, f"agent '{agent}' uses unknown V3 pool '{pool}'")


# --------------------------------------------------------------------------- arbitrageur


class V3ArbitrageurConfig(ConfigModel):
    """CEX-DEX arbitrageur on V3 pools: trades each to the edge of its fee band."""

    kind: Literal["v3_arbitrageur"] = "v3_arbitrageur"
    """Agent selector."""
    name: str = "v3arb"
    """Agent name."""
    pools: list[str] | None = None
    """V3 pools it trades (None = all)."""
    min_profit: float = Field(0.0, ge=0)
    """Extra profit over gas required to trade, numeraire."""
    pay_gas: bool = True
    """Count gas: trade only when profit exceeds gas cost."""

    def refs(self) -> list[Ref]:
        return [_ref(self.name, p) for p in self.pools or []]


@njit(cache=True, nogil=True)
def _arb_plan(ref, threshold, s, L, idx, nk, tks, tnet, g):
    n = s.shape[0]
    amount = np.zeros(n)
    direction = np.zeros(n, dtype=np.int64)
    target = np.zeros(n)
    for w in range(n):
        amount[w], direction[w], target[w] = arb_w(w, ref[w], threshold[w], s, L, idx, nk, tks,
                                                   tnet, g)  # fmt: skip
    return amount, direction, target


class V3Arbitrageur:
    """Moves each V3 pool to the edge of its fee band around the reference price when that
    pays gas (`sim.venues.univ3.kernels.arb_w`), hedging at the reference price."""

    priority = True
    config = V3ArbitrageurConfig

    @classmethod
    def build(cls, cfg: V3ArbitrageurConfig, env: AgentEnv) -> V3Arbitrageur:
        return cls(cfg, [p.name for p in env.sc.v3_pools])

    def __init__(self, cfg: V3ArbitrageurConfig, pools: list[str]):
        self.cfg = cfg
        self.name = cfg.name
        self.pools = cfg.pools or pools

    def act(self, ctx: BlockContext) -> None:
        cost = ctx.gas_cost("v3_swap")
        paid = cost if self.cfg.pay_gas else 0.0 * cost
        threshold = self.cfg.min_profit + paid
        for name in self.pools:
            pool = ctx.market(V3)[name]
            amount, direction, target = _arb_plan(
                ctx.ref, threshold, pool.s, pool.L, pool.idx, pool.nk, pool.tks, pool.tnet, pool.g
            )
            pool.swap(ctx, self.name, amount, direction, target, is_arb=True)
            ctx.ledger.gas(self.name, paid, direction != 0)


# --------------------------------------------------------------------------- noise


class V3NoiseTraderConfig(NoiseFlow):
    """Uninformed traders on a V3 pool, Poisson arrivals (as `noise` on a V2 pool)."""

    kind: Literal["v3_noise"] = "v3_noise"
    """Agent selector."""
    name: str = "v3noise"
    """Agent name."""
    pool: str = "v3pool"
    """V3 pool traded."""

    def refs(self) -> list[Ref]:
        return [_ref(self.name, self.pool)]


class V3NoiseTrader:
    """Uninformed flow on a V3 pool: Poisson arrivals merged into one order per block, a
    log-normal size, a random side, and amountOutMinimum at the pre-block mid price net of the
    fee and `slippage_bps`; an order that would fill worse reverts (and still pays gas)."""

    priority = False
    config = V3NoiseTraderConfig

    @classmethod
    def build(cls, cfg: V3NoiseTraderConfig, env: AgentEnv) -> V3NoiseTrader:
        return cls(cfg, env.streams(cfg.name))

    def __init__(self, cfg: V3NoiseTraderConfig, streams: WorldStreams):
        self.cfg = cfg
        self.name = cfg.name
        self.streams = streams
        self.order: V3Order | None = None

    def submit(self, ctx: BlockContext) -> None:
        """Draw this block's orders (before any agent trades: the limit is the pre-block
        mid price) and show them in the pool's mempool, where a sandwich bot may see them."""
        c = self.cfg
        pool = ctx.market(V3)[c.pool]
        st = self.streams
        keep = pool.g * (1.0 - c.slippage_bps / 1e4)
        mid = pool.price()
        # The kernel (the V2 noise trader's, same draws) reads the mid price only as y / x.
        direction, amount, min_out, notional = _noise_orders(
            st.state, st.spare, st.has_spare, c.rate_per_block, c.size_median, c.size_sigma,
            c.p_buy, keep, np.ones_like(mid), mid, ctx.ref,
        )  # fmt: skip
        self.order = V3Order(direction, amount, min_out, notional)
        pool.mempool.append(self.order)

    def act(self, ctx: BlockContext) -> None:
        order = self.order
        if order is None:
            return
        self.order = None
        pool = ctx.market(V3)[self.cfg.pool]
        direction, amount, min_out = order.direction, order.amount, order.min_out
        sent = direction != 0
        ok = sent & (pool.quote(amount, direction) >= min_out)
        refused = sent & ~ok
        if refused.any():
            pool.refused(ctx, self.name, amount, direction, min_out, refused)
        pool.swap(ctx, self.name, amount, np.where(ok, direction, 0))
        ctx.pay_gas(self.name, "v3_swap", sent)
        order.done = True
        for backrun in order.backruns:
            backrun(ctx)


@dataclass
class V3Order:
    """A noise trader's pending swaps on a V3 pool this block, one per world (direction 0:
    none): exact input `amount`, at least `min_out` out, worth `notional` numeraire."""

    direction: np.ndarray
    amount: np.ndarray
    min_out: np.ndarray
    notional: np.ndarray
    done: bool = False
    backruns: list = field(default_factory=list)
    """Calls `backrun(ctx)` made right after the order executes (a sandwich's second leg)."""


# --------------------------------------------------------------------------- sandwich


class V3SandwichConfig(ConfigModel):
    """Sandwich attacker on large pending V3 noise orders."""

    kind: Literal["v3_sandwich"] = "v3_sandwich"
    """Agent selector."""
    name: str = "v3sandwich"
    """Agent name."""
    pool: str = "v3pool"
    """V3 pool watched."""
    min_victim: float = Field(20_000.0, ge=0)
    """Smallest victim order attacked, numeraire."""

    def refs(self) -> list[Ref]:
        return [_ref(self.name, self.pool)]


@njit(cache=True)
def _sandwich_w(w, d, v, min_out, ref, gas2, s, L, idx, nk, tks, tnet, g):
    """The largest front-run (same token as the victim's input) that keeps the victim inside
    its limit, by bisection over [0, 10 v] on the pool's own swap loop from the states the
    earlier legs leave; 0 unless front-run, victim and back-run together pay `gas2`."""
    up = d > 0
    limit = S_MAX if up else S_MIN
    back_limit = S_MIN if up else S_MAX
    lo, hi = 0.0, 10.0 * v
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        r1 = walk_from(w, s[w], L[w], idx[w], mid, up, limit, nk, tks, tnet, g)
        r2 = walk_from(w, r1[2], r1[4], r1[3], v, up, limit, nk, tks, tnet, g)
        if r2[1] >= min_out:
            lo = mid
        else:
            hi = mid
    if lo <= 0.0:
        return 0.0
    r1 = walk_from(w, s[w], L[w], idx[w], lo, up, limit, nk, tks, tnet, g)
    r2 = walk_from(w, r1[2], r1[4], r1[3], v, up, limit, nk, tks, tnet, g)
    r3 = walk_from(w, r2[2], r2[4], r2[3], r1[1], not up, back_limit, nk, tks, tnet, g)
    gain = r3[1] - r1[0]
    value = gain if up else gain * ref
    return lo if value > gas2 else 0.0


@njit(cache=True, nogil=True)
def _sandwich_plan(direction, amount, min_out, ref, gas2, s, L, idx, nk, tks, tnet, g):
    n = s.shape[0]
    front = np.zeros(n)
    for w in range(n):
        if direction[w] != 0:
            front[w] = _sandwich_w(w, direction[w], amount[w], min_out[w], ref[w], gas2[w], s,
                                   L, idx, nk, tks, tnet, g)  # fmt: skip
    return front


class V3SandwichAttacker:
    """Front-runs large pending V3 noise orders up to their limit and sells back right after
    them (`_sandwich_w`), when that pays two swaps' gas."""

    priority = True
    config = V3SandwichConfig

    @classmethod
    def build(cls, cfg: V3SandwichConfig, env: AgentEnv) -> V3SandwichAttacker:
        return cls(cfg)

    def __init__(self, cfg: V3SandwichConfig):
        self.cfg = cfg
        self.name = cfg.name

    def act(self, ctx: BlockContext) -> None:
        pool = ctx.market(V3)[self.cfg.pool]
        gas2 = 2.0 * ctx.gas_cost("v3_swap")
        for order in pool.mempool:
            if order.done:
                continue
            big = (order.direction != 0) & (order.notional >= self.cfg.min_victim)
            d = np.where(big, order.direction, 0)
            if not d.any():
                continue
            front = _sandwich_plan(
                d, order.amount, order.min_out, ctx.ref, gas2,
                pool.s, pool.L, pool.idx, pool.nk, pool.tks, pool.tnet, pool.g,
            )  # fmt: skip
            go = front > 0.0
            if not go.any():
                continue
            fd = np.where(go, d, 0)
            got = pool.swap(ctx, self.name, front, fd)
            ctx.pay_gas(self.name, "v3_swap", go)

            def backrun(c: BlockContext, got=got, fd=fd, go=go) -> None:
                pool.swap(c, self.name, got, -fd)
                c.pay_gas(self.name, "v3_swap", go)

            order.backruns.append(backrun)


# --------------------------------------------------------------------------- cross-venue


class V3CrossArbitrageurConfig(ConfigModel):
    """Cross-venue arbitrageur between a constant-product (V2) pool and a V3 pool."""

    kind: Literal["v3_cross_arbitrageur"] = "v3_cross_arbitrageur"
    """Agent selector."""
    name: str = "v2v3arb"
    """Agent name."""
    v2_pool: str = "pool"
    """The constant-product pool (`pools`)."""
    v3_pool: str = "v3pool"
    """The V3 pool (`v3_pools`)."""
    min_profit: float = Field(0.0, ge=0)
    """Extra profit over the two swaps' gas (`swap` + `v3_swap`) required, numeraire."""

    def refs(self) -> list[Ref]:
        msg = f"agent '{self.name}' uses unknown pool '{self.v2_pool}'"
        return [(("pools",), self.v2_pool, msg), _ref(self.name, self.v3_pool)]


@njit(cache=True)
def _cross_w(w, x, y, g2, threshold, s, L, idx, nk, tks, tnet, g3):
    """The optimal V2-V3 round trip in world w, in closed form per V3 tick segment.

    Buying X risky on V3 (the price rises from s) and selling it on V2 (reserves x, y) is
    optimal where V2's marginal output g2 x y / (x + g2 X)**2 equals V3's marginal cost
    s**2 / g3, i.e. s (x + g2 X) = R = sqrt(g2 g3 x y); inside a segment of liquidity L that
    starts at s_a with X0 bought so far, X = X0 + L (1/s_a - 1/s), so
    s* = (R + g2 L) / (x + g2 (X0 + L / s_a)). The other way (buy on V2, sell into V3 as its
    price falls) solves g3 s**2 = x y / (g2 (x - X)**2) with X = X0 + L (1/s - 1/s_a) / g3:
    s* = (R' + L / g3) / (x - X0 + L / (g3 s_a)), R' = sqrt(x y / (g2 g3)).

    Returns:
        (direction, v3 target, v3 input, v2 input): +1 buys on V3 (numeraire into V3 up to the
        target, the risky out sold on V2), -1 buys on V2 (numeraire in, the risky out sold into
        V3 down to the target), 0 when the round trip does not pay `threshold`.
    """
    sw = s[w]
    lw = L[w]
    i = idx[w]
    if sw * sw < g2 * g3 * y / x * (1.0 - 1e-12):
        r = math.sqrt(g2 * g3 * x * y)
        bought = 0.0
        while True:
            nxt = tks[w, i + 1] if i + 1 < nk[w] else math.inf
            star = (r + g2 * lw) / (x + g2 * (bought + lw / sw))
            if star <= nxt:
                break
            bought += lw * (nxt - sw) / (sw * nxt)
            sw = nxt
            lw += tnet[w, i + 1]
            i += 1
        a3, got = plan_to(w, star, s, L, idx, nk, tks, tnet, g3)
        out = got * g2 * y / (x + got * g2)
        if out - a3 > threshold:
            return 1, star, a3, 0.0
    elif sw * sw * g2 * g3 > y / x * (1.0 + 1e-12):
        r = math.sqrt(x * y / (g2 * g3))
        sold = 0.0
        while True:
            nxt = tks[w, i] if i >= 0 else 0.0
            star = (r + lw / g3) / (x - sold + lw / (g3 * sw))
            if star >= nxt:
                break
            sold += lw * (sw - nxt) / (sw * nxt * g3)
            sw = nxt
            lw -= tnet[w, i]
            i -= 1
        a3, got = plan_to(w, star, s, L, idx, nk, tks, tnet, g3)
        if a3 < x:
            a2 = y * a3 / (g2 * (x - a3))
            if got - a2 > threshold:
                return -1, star, a3, a2
    return 0, 0.0, 0.0, 0.0


@njit(cache=True, nogil=True)
def _cross_plan(x, y, g2, threshold, s, L, idx, nk, tks, tnet, g3):
    n = s.shape[0]
    direction = np.zeros(n, dtype=np.int64)
    target = np.zeros(n)
    a3 = np.zeros(n)
    a2 = np.zeros(n)
    for w in range(n):
        direction[w], target[w], a3[w], a2[w] = _cross_w(w, x[w], y[w], g2, threshold[w], s, L,
                                                         idx, nk, tks, tnet, g3)  # fmt: skip
    return direction, target, a3, a2


class V3CrossArbitrageur:
    """Buys the risky asset on the cheaper of a V2 and a V3 pool and sells it on the dearer,
    with the optimal size in closed form (`_cross_w`), when the round trip pays two swaps' gas
    plus `min_profit`. The leg into V3 carries the optimum as its price limit."""

    priority = True
    config = V3CrossArbitrageurConfig

    @classmethod
    def build(cls, cfg: V3CrossArbitrageurConfig, env: AgentEnv) -> V3CrossArbitrageur:
        return cls(cfg)

    def __init__(self, cfg: V3CrossArbitrageurConfig):
        self.cfg = cfg
        self.name = cfg.name

    def act(self, ctx: BlockContext) -> None:
        c = self.cfg
        v2 = ctx.pools[c.v2_pool]
        v3 = ctx.market(V3)[c.v3_pool]
        threshold = ctx.gas_cost("swap") + ctx.gas_cost("v3_swap") + c.min_profit
        d, target, a3, a2 = _cross_plan(
            v2.x, v2.y, 1.0 - v2.fee_bps / 1e4, threshold,
            v3.s, v3.L, v3.idx, v3.nk, v3.tks, v3.tnet, v3.g,
        )  # fmt: skip
        buy3 = d > 0
        buy2 = d < 0
        if buy3.any():
            one = buy3.astype(np.int64)
            got = v3.swap(ctx, self.name, np.where(buy3, a3, 0.0), one, target, is_arb=True)
            ctx.swap(self.name, c.v2_pool, got, -one, is_arb=True)
        if buy2.any():
            one = buy2.astype(np.int64)
            got = ctx.swap(self.name, c.v2_pool, np.where(buy2, a2, 0.0), one, is_arb=True)
            v3.swap(ctx, self.name, got, -one, target, is_arb=True)
        ctx.pay_gas(self.name, "swap", d != 0)
        ctx.pay_gas(self.name, "v3_swap", d != 0)


# --------------------------------------------------------------------------- LPs


class V3LPConfig(ConfigModel):
    """Liquidity provider that opens ranges around the price at random times and closes them."""

    kind: Literal["v3_lp"] = "v3_lp"
    """Agent selector."""
    name: str = "v3lp"
    """Agent name."""
    pool: str = "v3pool"
    """V3 pool."""
    width: float = Field(0.05, gt=0)
    """Relative half-width of each range around the pool price P: [P / (1 + width),
    P (1 + width)], widened outwards to the tick spacing."""
    value: float = Field(1e5, gt=0)
    """Value of each position when opened, numeraire."""
    open_rate: float = Field(4.0, ge=0)
    """Positions opened per day (Poisson), while a slot is free."""
    close_rate: float = Field(4.0, ge=0)
    """Closings per day (Poisson); each closes the agent's oldest open position."""
    max_positions: int = Field(4, ge=1, le=64)
    """Positions open at once, at most."""

    def refs(self) -> list[Ref]:
        return [_ref(self.name, self.pool)]

    def v3_slots(self, pool: str) -> int:
        """Position slots it holds in V3 pool `pool`."""
        return self.max_positions if self.pool == pool else 0


def lp_slots(sc, pool: str) -> dict[str, tuple[int, int]]:
    """Position slots of pool `pool` per agent that holds ranges there (an agent config with
    `v3_slots(pool) > 0`: range LPs, a keeper with a V3 position): (first slot, count), after
    the scenario's own positions (the engine side, the agents and the exact part share this
    layout)."""
    cfg = next(p for p in sc.v3_pools if p.name == pool)
    start = len(cfg.positions)
    out: dict[str, tuple[int, int]] = {}
    for a in sc.agents:
        count = a.v3_slots(pool) if hasattr(a, "v3_slots") else 0
        if count > 0:
            out[a.name] = (start, count)
            start += count
    return out


class V3LiquidityProvider:
    """Opens a range of `width` around the pool price worth `value` at Poisson times (while a
    slot is free) and closes its oldest position at Poisson times (all its liquidity, fees
    collected). P&L: what it takes out minus what it puts in, at the reference price of the
    moment, plus what it still holds at the end, minus gas. Its positions' fees and LVR are
    reported as `v3.<pool>.lp.<name>.fees` / `.lvr`."""

    priority = False
    config = V3LPConfig

    @classmethod
    def build(cls, cfg: V3LPConfig, env: AgentEnv) -> V3LiquidityProvider:
        start, count = lp_slots(env.sc, cfg.pool)[cfg.name]
        spacing = next(p.tick_spacing for p in env.sc.v3_pools if p.name == cfg.pool)
        return cls(cfg, env.n, env.streams(cfg.name), range(start, start + count), spacing)

    def __init__(self, cfg: V3LPConfig, n: int, streams: WorldStreams, slots: range, spacing: int):
        self.cfg = cfg
        self.name = cfg.name
        self.streams = streams
        self.slots = slots
        self.spacing = spacing
        self.opened_at = np.full((n, len(slots)), -1, dtype=np.int64)
        """Block at which each of the agent's slots was opened (-1: free)."""
        self.fees = np.zeros(n)
        self.lvr = np.zeros(n)
        self.opened = np.zeros(n)

    def act(self, ctx: BlockContext) -> None:
        c = self.cfg
        pool = ctx.market(V3)[c.pool]
        dt_days = ctx.dt / 86400.0
        held = self.opened_at >= 0
        close = (self.streams.poisson(c.close_rate * dt_days) > 0) & held.any(axis=1)
        opening = self.streams.poisson(c.open_rate * dt_days) > 0
        if close.any():
            oldest = np.argmin(np.where(held, self.opened_at, np.iinfo(np.int64).max), axis=1)
            for k, slot in enumerate(self.slots):
                mask = close & (oldest == k)
                if mask.any():
                    self._close(ctx, pool, k, slot, mask)
            ctx.pay_gas(self.name, "v3_burn", close)
            ctx.pay_gas(self.name, "v3_collect", close)
        free = self.opened_at < 0
        opening &= free.any(axis=1)
        if opening.any():
            first = np.argmax(free, axis=1)
            lower, upper = self._range(pool)
            for k, slot in enumerate(self.slots):
                mask = opening & (first == k)
                if mask.any():
                    self._open(ctx, pool, k, slot, mask, lower, upper)
            ctx.pay_gas(self.name, "v3_mint", opening)

    def _range(self, pool) -> tuple[np.ndarray, np.ndarray]:
        """Canonical ticks of [P / (1 + width), P (1 + width)] around each world's pool price,
        widened outwards to the spacing (`sim.venues.univ3.config.width_ticks`, per world)."""
        sp = self.spacing
        lo, hi = usable_ticks(sp)
        p = pool.price() / pool.price_scale
        w = 1.0 + self.cfg.width
        lower = np.floor(np.log(p / w) / LN_TICK / sp).astype(np.int64) * sp
        upper = np.ceil(np.log(p * w) / LN_TICK / sp).astype(np.int64) * sp
        lower = np.clip(lower, lo, hi - sp)
        upper = np.maximum(np.minimum(upper, hi), lower + sp)
        return lower, upper

    def _open(self, ctx, pool, k, slot, mask, lower, upper) -> None:
        sa = np.exp(lower * (0.5 * LN_TICK)) * pool.sqps
        sb = np.exp(upper * (0.5 * LN_TICK)) * pool.sqps
        x1, y1 = tokens_per_liquidity(sa, sb, pool.s)
        liquidity = np.where(mask, self.cfg.value / (x1 * ctx.ref + y1), 0.0)
        x, y = pool.mint(ctx, self.name, slot, lower, upper, liquidity)
        got = mask & (pool.pL[:, slot] > 0.0)
        self.opened_at[:, k] = np.where(got, ctx.block, self.opened_at[:, k])
        self.opened += got
        ctx.ledger.pnl(self.name, -(x * ctx.ref + y))

    def _close(self, ctx, pool, k, slot, mask) -> None:
        if ctx.ledger.active:
            self.fees += np.where(mask, pool.pacc[:, slot, P_FEEV], 0.0)
            self.lvr += np.where(mask, pool.pacc[:, slot, P_LVR], 0.0)
        x, y = pool.burn(ctx, self.name, slot, mask)
        self.opened_at[:, k] = np.where(mask, -1, self.opened_at[:, k])
        ctx.ledger.pnl(self.name, x * ctx.ref + y)

    def finish(self, ctx: BlockContext) -> dict[str, np.ndarray]:
        """Book what is still open (tokens and fees owed, at the reference price) and report
        the agent's positions' fees and LVR."""
        pool = ctx.market(V3)[self.cfg.pool]
        slots = list(self.slots)
        x, y = pool.position_tokens(slots)
        owed = pool.owed(slots)
        held = (x + owed[0]) * ctx.ref[:, None] + y + owed[1]
        ctx.ledger.pnl(self.name, held.sum(axis=1))
        # Closed slots keep their accumulators until reused; they were counted at closing.
        still = pool.pL[:, slots] > 0.0
        fees = self.fees + np.where(still, pool.pacc[:, slots, P_FEEV], 0.0).sum(axis=1)
        lvr = self.lvr + np.where(still, pool.pacc[:, slots, P_LVR], 0.0).sum(axis=1)
        head = f"v3.{self.cfg.pool}.lp.{self.name}."
        return {head + "fees": fees, head + "lvr": lvr, head + "positions": self.opened}


__all__ = [
    "V3Arbitrageur",
    "V3CrossArbitrageur",
    "V3LiquidityProvider",
    "V3NoiseTrader",
    "V3SandwichAttacker",
    "lp_slots",
]

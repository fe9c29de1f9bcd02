"""Batch-of-worlds engine: many independent worlds stepped together, block by block.

Two paths, one model:

* the general path steps the exogenous processes (clock, reference price, base fee, oracles)
  and then every agent in block order, each agent acting on all worlds of a chunk at once;
* the fused path runs the reference configuration (GBM, one pool, one CEX-DEX arbitrageur,
  constant base fee, no series) as a single numba kernel over worlds that keeps each world's
  state in registers. It draws the same per-world random numbers in the same order, so both
  paths give the same results to rounding (tested), and the fused one is ~10x faster.

Memory stays flat in the number of blocks: nothing of shape (worlds x blocks) is held; worlds
run in chunks of `metrics.chunk_worlds`, and per-world results do not depend on the chunking
because every random stream is per world (see `sim.processes.WorldStreams`).

Numba caches compiled kernels (cache=True) and re-validates a cache entry only against the file
of the kernel itself: after editing a helper a kernel inlines from another module (e.g.
`sim.pools.cpmm_vec.swap_f` inside `_fused`), delete `sim/**/__pycache__/*.nb?` or the old
machine code keeps running.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from sim.agents import (
    BlockContext,
    CexDexArbitrageur,
    CrossVenueArbitrageur,
    Liquidator,
    LiquidityProvider,
    NoiseTrader,
    OracleSniper,
    PerpTrader,
    SandwichAttacker,
)
from sim.blocks import GWEI, BaseFee, BlockClock, block_order
from sim.keeper_agent import KeeperAgent, cross_world
from sim.metrics import Ledger, summarise
from sim.option_agents import InformedOptionTrader, OptionTrader
from sim.options_venue import OptionsVenue
from sim.oracle import ChainlinkFeed, OracleVenue, Twap
from sim.perp_venue import PerpVenue, account_plan
from sim.pools.cpmm_vec import CpmmBatch, amount_out_f, optimal_arb_input, swap_f
from sim.processes import (
    GBM,
    YEAR,
    Heston,
    Merton,
    PriceProcess,
    Replay,
    WorldStreams,
    load_price_csv,
    normal_pair_draw,
    stream_key,
    to_unit,
    xo_next,
)
from sim.scenario import (
    ArbitrageurConfig,
    CrossArbitrageurConfig,
    GBMConfig,
    HestonConfig,
    InformedOptionTraderConfig,
    KeeperConfig,
    LiquidatorConfig,
    LPConfig,
    MertonConfig,
    NoiseTraderConfig,
    OptionTraderConfig,
    OracleSniperConfig,
    PerpTraderConfig,
    ReplayConfig,
    SandwichConfig,
    Scenario,
    ScheduledJump,
)

SeriesSink = Callable[[dict[str, np.ndarray]], None]
ProgressFn = Callable[[int], None]


@dataclass
class RunResult:
    """Per-world metric columns (each (paths,)), their summary, and which path ran."""

    worlds: dict[str, np.ndarray]
    summary: dict[str, dict]
    path: str


def _streams(sc: Scenario, name: str, n: int, offset: int) -> WorldStreams:
    return WorldStreams(sc.seed, stream_key(name), n, offset)


class ScheduledJumps(PriceProcess):
    """A price process with deterministic gaps: price = inner price * prod(1 + move) of the
    jumps whose time has come (the first block at or after each jump's time, per world).

    Multiplying the level keeps the inner process's own state (and its random draws)
    untouched, so a stress scenario sees the same paths as its base scenario until the gap.

    Shape:
        price: (N,)
    """

    def __init__(self, inner: PriceProcess, jumps: list[ScheduledJump]):
        self.inner = inner
        self.jumps = sorted(jumps, key=lambda j: j.time)
        n = inner.price.shape[0]
        self.time = np.zeros(n)
        self.factor = np.ones(n)
        self.done = np.zeros((len(self.jumps), n), dtype=bool)
        self.price = inner.price

    def step(self, dt: np.ndarray) -> np.ndarray:
        p = self.inner.step(dt)
        self.time = self.time + dt
        for i, j in enumerate(self.jumps):
            hit = (self.time >= j.time) & ~self.done[i]
            self.factor = np.where(hit, self.factor * (1.0 + j.move), self.factor)
            self.done[i] |= hit
        self.price = p * self.factor
        return self.price


def make_price(sc: Scenario, n: int, offset: int) -> PriceProcess:
    """Build the scenario's reference price process for worlds [offset, offset + n)."""
    proc = _base_price(sc, n, offset)
    jumps = getattr(sc.price, "scheduled_jumps", None)
    return ScheduledJumps(proc, jumps) if jumps else proc


def _base_price(sc: Scenario, n: int, offset: int) -> PriceProcess:
    p = sc.price
    if isinstance(p, GBMConfig):
        return GBM(n, p.s0, p.sigma_annual, p.mu, _streams(sc, "price", n, offset))
    if isinstance(p, MertonConfig):
        return Merton(
            n,
            p.s0,
            p.sigma_annual,
            p.mu,
            p.jump_rate,
            p.jump_mean,
            p.jump_std,
            _streams(sc, "price", n, offset),
            _streams(sc, "price/jumps", n, offset),
        )
    if isinstance(p, HestonConfig):
        return Heston(
            n,
            p.s0,
            p.mu,
            p.v0,
            p.kappa,
            p.theta,
            p.xi,
            p.rho,
            _streams(sc, "price", n, offset),
            _streams(sc, "price/vol", n, offset),
        )
    if isinstance(p, ReplayConfig):
        times, prices = load_price_csv(p.path)
        offsets = np.zeros(n)
        if p.random_start:
            offsets = _streams(sc, "replay", n, offset).uniform() * times[-1]
        return Replay(times, prices, offsets)
    raise TypeError(type(p).__name__)  # pragma: no cover


def make_agents(cfgs, pools: list[str], n: int, seed: int, offset: int) -> list:
    """Build agents from their configs; each random agent gets its own per-world streams."""
    out = []
    for c in cfgs:
        if isinstance(c, ArbitrageurConfig):
            out.append(CexDexArbitrageur(c, pools))
        elif isinstance(c, CrossArbitrageurConfig):
            out.append(CrossVenueArbitrageur(c))
        elif isinstance(c, NoiseTraderConfig):
            out.append(NoiseTrader(c, WorldStreams(seed, stream_key("agent/" + c.name), n, offset)))
        elif isinstance(c, LPConfig):
            out.append(
                LiquidityProvider(
                    c, n, WorldStreams(seed, stream_key("agent/" + c.name), n, offset)
                )
            )
        elif isinstance(c, OracleSniperConfig):
            out.append(OracleSniper(c))
        elif isinstance(c, SandwichConfig):
            out.append(SandwichAttacker(c))
        elif isinstance(c, PerpTraderConfig):
            streams = WorldStreams(seed, stream_key("agent/" + c.name), n, offset)
            out.append(PerpTrader(c, n, streams))
        elif isinstance(c, LiquidatorConfig):
            out.append(Liquidator(c))
        elif isinstance(c, KeeperConfig):
            out.append(KeeperAgent(c, n))
        elif isinstance(c, OptionTraderConfig | InformedOptionTraderConfig):
            streams = WorldStreams(seed, stream_key("agent/" + c.name), n, offset)
            cls = OptionTrader if isinstance(c, OptionTraderConfig) else InformedOptionTrader
            out.append(cls(c, n, streams))
        else:  # pragma: no cover - the scenario union is closed
            raise TypeError(f"unknown agent config {type(c).__name__}")
    return out


def make_pools(sc: Scenario, ref: np.ndarray) -> dict[str, CpmmBatch]:
    """Pools at their initial value, priced at the reference price (plus any offset)."""
    pools = {}
    for c in sc.pools:
        px = ref * (1.0 + c.price_offset_bps / 1e4)
        pools[c.name] = CpmmBatch(
            c.name, 0.5 * c.tvl / px, np.full(ref.shape, 0.5 * c.tvl), c.fee_bps, c.fee_to_reserves
        )
    return pools


@dataclass(frozen=True)
class EngineHooks:
    """How the general path builds one chunk's parts, and whom it tells what happens.

    The defaults are the fast engine's own classes. `sim.exact_world` passes exact stand-ins
    (subclasses taking the same arguments) to run one world in exact integers and record its
    transactions; nothing else changes in the engine's loop. Each factory is called with the
    arguments of the default shown.

    Attributes:
        context: `BlockContext(block, time, dt, ref, base_fee, gas, pools, feeds, venues,
            ledger, perps=, options=)`, built at the start of each block before the feeds
            step.
        pools: `make_pools(scenario, ref) -> {name: CpmmBatch}`.
        chainlink: `ChainlinkFeed(cfg, ref_price, streams)`, one per `scenario.oracles`.
        oracle_venue: `OracleVenue(cfg, feed)`, one per `scenario.venues`.
        perp: `PerpVenue(cfg, n, plan, feed | None)`, one per `scenario.perps`.
        options: `OptionsVenue(cfg, n, feed | None)`, one per `scenario.options_pools`.
        agents: `make_agents(cfgs, pool_names, n, seed, offset) -> [agent]`.
        agent_turn: called as `agent_turn(ctx, name)` right before agent `name` acts, and
            `agent_turn(ctx, None)` after the block's last agent: who sends what follows.
        end_block: called as `end_block(ctx)` once the block is booked (after the agents and
            `Ledger.end_block`).
    """

    context: Callable[..., BlockContext] = BlockContext
    pools: Callable[[Scenario, np.ndarray], dict[str, CpmmBatch]] = make_pools
    chainlink: Callable[..., ChainlinkFeed] = ChainlinkFeed
    oracle_venue: Callable[..., OracleVenue] = OracleVenue
    perp: Callable[..., PerpVenue] = PerpVenue
    options: Callable[..., OptionsVenue] = OptionsVenue
    agents: Callable[..., list[Any]] = make_agents
    agent_turn: Callable[[BlockContext, str | None], None] | None = None
    end_block: Callable[[BlockContext], None] | None = None


DEFAULT_HOOKS = EngineHooks()


def sim_threads() -> int:
    """Threads that run chunks of worlds concurrently.

    Every kernel is compiled with nogil and large numpy operations release the GIL, so chunks
    overlap without any barrier; unlike OpenMP kernels (whose threads spin at barriers and wait
    for the slowest), a thread pool over chunks degrades gracefully on a shared machine.
    AMMLAB_SIM_THREADS overrides; default: the number of CPUs.
    """
    return max(1, int(os.environ.get("AMMLAB_SIM_THREADS", os.cpu_count() or 1)))


def is_fusable(sc: Scenario) -> bool:
    """Whether the scenario is the reference shape the fused kernel runs."""
    return (
        isinstance(sc.price, GBMConfig)
        and len(sc.pools) == 1
        and len(sc.agents) == 1
        and isinstance(sc.agents[0], ArbitrageurConfig)
        and not sc.oracles
        and not sc.twaps
        and not sc.venues
        and not sc.perps
        and not sc.options_pools
        and not sc.price.scheduled_jumps
        and sc.gas.base_fee_vol == 0
        and sc.metrics.series_every is None
    )


class Engine:
    """Runs a scenario over `paths` worlds.

    Args:
        scenario: validated scenario.
        fused: None picks the fused kernel when the scenario allows it; False forces the general
            path (used to check that both agree).
        hooks: factories and observers of the general path (`EngineHooks`); hooks other than
            the defaults imply the general path.
    """

    def __init__(
        self, scenario: Scenario, fused: bool | None = None, hooks: EngineHooks | None = None
    ):
        self.sc = scenario
        self.hooks = hooks or DEFAULT_HOOKS
        if hooks is not None and hooks != DEFAULT_HOOKS:
            fused = False
        self.fused = is_fusable(scenario) if fused is None else (fused and is_fusable(scenario))

    @property
    def total_blocks(self) -> int:
        return self.sc.metrics.warmup_blocks + self.sc.blocks.n_blocks

    def run(
        self, series_sink: SeriesSink | None = None, progress: ProgressFn | None = None
    ) -> RunResult:
        """Run every chunk of worlds; returns per-world columns and the summary.

        Args:
            series_sink: receives per-block samples (dict of (N,) columns) when
                `metrics.series_every` is set.
            progress: called with the number of world-blocks just done.
        """
        sc = self.sc
        chunk = sc.metrics.chunk_worlds
        threads = 1 if series_sink is not None else sim_threads()
        if threads > 1:
            # Results do not depend on the chunking. The general path takes one chunk per thread
            # (fewer, larger chunks amortise its per-block Python work); the fused kernel takes
            # four per thread so a thread slowed by a shared machine just takes fewer.
            per = 4 * threads if self.fused else threads
            chunk = min(chunk, -(-sc.paths // per))
        starts = list(range(0, sc.paths, chunk))

        def one(start: int) -> dict[str, np.ndarray]:
            n = min(chunk, sc.paths - start)
            if self.fused:
                return self._run_fused(n, start, progress)
            return self._run_general(n, start, series_sink, progress)

        if threads > 1 and len(starts) > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                parts = list(pool.map(one, starts))
        else:
            parts = [one(s) for s in starts]
        worlds = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        worlds = {"world": np.arange(sc.paths, dtype=np.int64), **worlds}
        summary = summarise({k: v for k, v in worlds.items() if k != "world"})
        summary.update(cross_world(worlds))
        return RunResult(worlds, summary, "fused" if self.fused else "general")

    # ------------------------------------------------------------------ general path

    def _run_general(
        self, n: int, offset: int, sink: SeriesSink | None, progress: ProgressFn | None
    ) -> dict[str, np.ndarray]:
        sc = self.sc
        hk = self.hooks
        price = make_price(sc, n, offset)
        clock = BlockClock(sc.blocks, n, _streams(sc, "clock", n, offset))
        base_fee = BaseFee(sc.gas, n, _streams(sc, "basefee", n, offset))
        pools = hk.pools(sc, price.price)
        feeds: dict[str, ChainlinkFeed | Twap] = {}
        chainlink = []
        for o in sc.oracles:
            f = hk.chainlink(o, price.price, _streams(sc, "oracle/" + o.name, n, offset))
            feeds[o.name] = f
            chainlink.append(f)
        twaps = [Twap(t, pools[t.pool]) for t in sc.twaps]
        feeds.update({t.name: t for t in twaps})
        venues = {v.name: hk.oracle_venue(v, feeds[v.oracle]) for v in sc.venues}
        perps = {
            m.name: hk.perp(m, n, account_plan(sc, m.name), feeds[m.oracle] if m.oracle else None)
            for m in sc.perps
        }
        options = {
            o.name: hk.options(o, n, feeds[o.oracle] if o.oracle else None)
            for o in sc.options_pools
        }
        agents = hk.agents(sc.agents, list(pools), n, sc.seed, offset)
        for a in agents:
            if isinstance(a, InformedOptionTrader) and a.true_vol is None:
                a.true_vol = sc.price.sigma_annual  # validated: GBM or Merton
        ledger = Ledger(n, pools, [a.name for a in agents], [f.name for f in chainlink])
        order_rng = np.random.default_rng([sc.seed, stream_key("ordering")])
        priority = [a.priority for a in agents]
        order = block_order(priority, sc.blocks.ordering, order_rng)
        submitters = [a for a in agents if isinstance(a, NoiseTrader)]
        warmup = sc.metrics.warmup_blocks
        every = sc.metrics.series_every
        for t in range(self.total_blocks):
            if t == warmup:
                ledger.start(price.price)
            dt = clock.step()
            ref = price.step(dt)
            bf = base_fee.step()
            for pool in pools.values():
                pool.accumulate(clock.time)
            for tw in twaps:
                tw.update()
            ctx = hk.context(
                t,
                clock.time,
                dt,
                ref,
                bf,
                sc.gas,
                pools,
                feeds,
                venues,
                ledger,
                perps=perps,
                options=options,
            )
            for f in chainlink:
                landed = f.step(t, clock.time, ref)
                if ledger.active:
                    ledger.oracle_updates[f.name] += landed
                    ledger.oracle_gas += np.where(landed, ctx.gas_cost("oracle_update"), 0.0)
            for ov in options.values():
                ov.begin_block(ctx)
            for s in submitters:
                s.submit(ctx)
            if sc.blocks.ordering == "random":
                order = block_order(priority, "random", order_rng)
            turn = hk.agent_turn
            for i in order:
                if turn is not None:
                    turn(ctx, agents[i].name)
                agents[i].act(ctx)
            if turn is not None:
                turn(ctx, None)
            ledger.end_block(dt)
            if hk.end_block is not None:
                hk.end_block(ctx)
            if sink is not None and every and ledger.active and (t - warmup) % every == 0:
                sink(self._sample(t, offset, ctx, ledger, feeds))
            if progress is not None:
                progress(n)
        ref = price.price
        extra = {f"venue.{v}.pnl": venue.pnl for v, venue in venues.items()}
        for a in agents:
            if isinstance(a, LiquidityProvider):
                ledger.pnl(a.name, a.position_value(pools[a.cfg.pool], ref))
            elif isinstance(a, PerpTrader):
                a.finish(ctx)
            elif isinstance(a, KeeperAgent):
                extra.update(a.world_columns(ctx))
            elif isinstance(a, OptionTrader):
                a.finish(ctx)
            elif isinstance(a, InformedOptionTrader):
                a.finish(ctx)
                extra.update(a.world_columns())
        for m in perps.values():
            extra.update(m.world_columns(ref, clock.time))
        for ov in options.values():
            extra.update(ov.world_columns(ctx))
        return ledger.world_table(ref, extra)

    @staticmethod
    def _sample(t, offset, ctx: BlockContext, ledger: Ledger, feeds) -> dict[str, np.ndarray]:
        n = ctx.ref.shape[0]
        row: dict[str, np.ndarray] = {
            "world": np.arange(offset, offset + n, dtype=np.int64),
            "block": np.full(n, t, dtype=np.int64),
            "time": ctx.time.copy(),
            "ref_price": ctx.ref.copy(),
            "base_fee_gwei": ctx.base_fee.copy(),
        }
        for name, pool in ctx.pools.items():
            b = ledger.books[name]
            row[f"{name}.price"] = pool.price()
            row[f"{name}.value"] = pool.value(ctx.ref)
            row[f"{name}.lp_vs_hold"] = ledger.lp_vs_hold(name, ctx.ref)
            row[f"{name}.lvr_frac"] = b.lvr_frac.copy()
            row[f"{name}.arb_profit_frac"] = b.arb_frac.copy()
            row[f"{name}.fee_frac"] = b.fee_frac.copy()
        for name, f in feeds.items():
            row[f"oracle.{name}.answer"] = f.price().copy()
        for ov in ctx.options.values():
            row.update(ov.sample(ctx))
        return row

    # ------------------------------------------------------------------ fused path

    def _run_fused(self, n: int, offset: int, progress: ProgressFn | None) -> dict[str, np.ndarray]:
        sc = self.sc
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
        total = self.total_blocks
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


def run_scenario(
    scenario: Scenario,
    series_sink: SeriesSink | None = None,
    progress: ProgressFn | None = None,
    fused: bool | None = None,
    hooks: EngineHooks | None = None,
) -> RunResult:
    """Convenience: `Engine(scenario, fused, hooks).run(series_sink, progress)`."""
    return Engine(scenario, fused, hooks).run(series_sink, progress)


__all__ = [
    "EngineHooks",
    "Engine",
    "RunResult",
    "YEAR",
    "is_fusable",
    "make_agents",
    "run_scenario",
]

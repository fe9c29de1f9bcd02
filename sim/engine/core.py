"""Batch-of-worlds engine: many independent worlds stepped together, block by block.

Two paths, one model:

* the general path steps the exogenous processes (clock, reference price, base fee), then the
  venues (each venue kind's `EngineSide`, in `sim.venues.registry` order: pools accrue, feeds
  land reports, options pools settle), then every agent in block order, each agent acting on
  all worlds of a chunk at once;
* the fused path (`sim.engine.fused`) runs the reference configuration (GBM, one pool, one
  CEX-DEX arbitrageur, constant base fee, no series) as a single numba kernel.

Memory stays flat in the number of blocks: nothing of shape (worlds x blocks) is held; worlds
run in chunks of `metrics.chunk_worlds`, and per-world results do not depend on the chunking
because every random stream is per world (see `sim.processes.WorldStreams`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.blocks import BaseFee, BlockClock, block_order
from sim.engine.context import AgentEnv, BlockContext
from sim.engine.fused import is_fusable, run_fused
from sim.engine.ledger import Ledger, summarise
from sim.history.agent import FlowReplay
from sim.history.store import PRICE_KINDS, open_history
from sim.processes import (
    GBM,
    GBMConfig,
    Heston,
    HestonConfig,
    Merton,
    MertonConfig,
    MultiGBMConfig,
    PriceProcess,
    Replay,
    ReplayConfig,
    ScheduledJump,
    load_price_csv,
    multi_gbm,
)
from sim.scenario import AGENT_KINDS, Scenario
from sim.streams import WorldStreams, stream_key
from sim.venues.base import BuildEnv
from sim.venues.registry import VENUES

SeriesSink = Callable[[dict[str, np.ndarray]], None]
ProgressFn = Callable[[int], None]


@dataclass
class RunResult:
    """Per-world metric columns (each (paths,)), their summary, and which path ran."""

    worlds: dict[str, np.ndarray]
    summary: dict[str, dict]
    path: str


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
        if p.source is not None:
            h = open_history(p.source)
            address = h.source(p.address, PRICE_KINDS, "price.address")
            times, prices = h.price_path(address, p.risky)
        else:
            times, prices = load_price_csv(p.path)
        offsets = np.zeros(n)
        if p.random_start:
            offsets = _streams(sc, "replay", n, offset).uniform() * times[-1]
        return Replay(times, prices, offsets)
    if isinstance(p, MultiGBMConfig):
        return multi_gbm(p, n, _streams(sc, "price", n, offset))
    raise TypeError(type(p).__name__)  # pragma: no cover


def _streams(sc, name: str, n: int, offset: int) -> WorldStreams:
    return WorldStreams(sc.seed, stream_key(name), n, offset)


def make_agents(env: AgentEnv) -> list:
    """Build the scenario's agents (and the replayed flow, first, when the scenario has one);
    each random agent gets its own per-world streams."""
    kinds = {k.config: k for k in AGENT_KINDS}
    flow = [FlowReplay.build(env.sc.flow, env)] if env.sc.flow is not None else []
    return flow + [kinds[type(c)].build(c, env) for c in env.sc.agents]


@dataclass(frozen=True)
class EngineHooks:
    """How the general path builds one chunk's parts, and whom it tells what happens.

    The defaults are the fast engine's own classes. `sim.engine.exact` passes exact stand-ins
    (subclasses taking the same arguments) to run one world in exact integers and record its
    transactions; nothing else changes in the engine's loop.

    Attributes:
        context: `BlockContext(block, time, dt, ref, base_fee, gas, markets, ledger)`, built
            at the start of each block before the venues step.
        factories: replacements of the venues' constructors, by the names their
            `EngineSide`s use (e.g. "pools", "oracles", "perps"; see `sim.venues.base`).
        agents: `make_agents(env) -> [agent]`.
        agent_turn: called as `agent_turn(ctx, name)` right before agent `name` acts, and
            `agent_turn(ctx, None)` after the block's last agent: who sends what follows.
        end_block: called as `end_block(ctx)` once the block is booked (after the agents and
            `Ledger.end_block`).
    """

    context: Callable[..., BlockContext] = BlockContext
    factories: dict[str, Callable[..., Any]] = field(default_factory=dict)
    agents: Callable[[AgentEnv], list[Any]] = make_agents
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


class Engine:
    """Runs a scenario over `paths` worlds.

    Args:
        scenario: validated scenario.
        fused: None picks the fused kernel when the scenario allows it; False forces the general
            path (used to check that both agree).
        hooks: factories and observers of the general path (`EngineHooks`); hooks other than
            the defaults imply the general path.
    """

    def __init__(self, scenario, fused: bool | None = None, hooks: EngineHooks | None = None):
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
                return run_fused(sc, n, start, self.total_blocks, progress)
            return self._run_general(n, start, series_sink, progress)

        if threads > 1 and len(starts) > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                parts = list(pool.map(one, starts))
        else:
            parts = [one(s) for s in starts]
        worlds = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        worlds = {"world": np.arange(sc.paths, dtype=np.int64), **worlds}
        summary = summarise({k: v for k, v in worlds.items() if k != "world"})
        for kind in AGENT_KINDS:
            if hasattr(kind, "cross_world"):
                summary.update(kind.cross_world(worlds))
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
        markets: dict[str, dict[str, Any]] = {}
        # A multi-asset process prices every token; single-asset runs pass nothing more.
        multi = getattr(price, "prices", None) is not None
        env = BuildEnv(
            sc, n, offset, price.price, lambda name: _streams(sc, name, n, offset), markets,
            hk.factories, price.prices if multi else {},
        )  # fmt: skip
        for v in VENUES:
            markets.update(v.engine.build(env))
        primary_pair = [
            k for k, p in markets["pools"].items() if getattr(p, "tokens", None) is None
        ]
        agents = hk.agents(AgentEnv(sc, primary_pair, n, offset))
        ledger = Ledger(
            n, markets["pools"], [a.name for a in agents], list(markets["oracles"]),
            (lambda token: price.prices[token]) if multi else None,
        )  # fmt: skip
        order_rng = np.random.default_rng([sc.seed, stream_key("ordering")])
        priority = [a.priority for a in agents]
        order = block_order(priority, sc.blocks.ordering, order_rng)
        submitters = [a for a in agents if hasattr(a, "submit")]
        warmup = sc.metrics.warmup_blocks
        every = sc.metrics.series_every
        for t in range(self.total_blocks):
            if t == warmup:
                ledger.start(price.price)
            dt = clock.step()
            ref = price.step(dt)
            bf = base_fee.step()
            ctx = hk.context(t, clock.time, dt, ref, bf, sc.gas, markets, ledger)
            if multi:
                ctx.prices = price.prices
            for v in VENUES:
                v.engine.start_block(markets, ctx)
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
                sink(self._sample(t, offset, ctx, markets))
            if progress is not None:
                progress(n)
        extra: dict[str, np.ndarray] = {}
        for v in VENUES:
            extra.update(v.engine.world_columns(markets, ctx))
        for a in agents:
            finish = getattr(a, "finish", None)
            if finish is not None:
                extra.update(finish(ctx) or {})
        return ledger.world_table(price.price, extra)

    @staticmethod
    def _sample(t, offset, ctx: BlockContext, markets) -> dict[str, np.ndarray]:
        n = ctx.ref.shape[0]
        row: dict[str, np.ndarray] = {
            "world": np.arange(offset, offset + n, dtype=np.int64),
            "block": np.full(n, t, dtype=np.int64),
            "time": ctx.time.copy(),
            "ref_price": ctx.ref.copy(),
            "base_fee_gwei": ctx.base_fee.copy(),
        }
        for v in VENUES:
            row.update(v.engine.sample(markets, ctx))
        return row

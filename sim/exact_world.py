"""One world in exact integers, driven by the fast engine's own agents.

The chain backend needs, block by block, the transactions the agents send and the state the
contracts must hold afterwards, to the wei. This module gets both without a second copy of any
agent: it runs the engine's general path on ONE world and swaps in exact stand-ins for the
objects agents touch:

* `ExactContext` (a `BlockContext`): `swap` turns the float amount into token base units,
  prices it on the `CPMMPool` twin (`get_amount_out`), applies it, records a router swap with
  amountOutMin = that prediction, books the trade in the ledger as the fast engine does, and
  writes the twin's reserves back into the float pool, so every later decision sees exact state;
* `ExactPool` (a `CpmmBatch`): `mint`/`burn` (the LP agent's calls) go through the router's
  `addLiquidity`/`removeLiquidity` arithmetic on the twin;
* `ExactFeed` (a `ChainlinkFeed`): a landed report becomes the transmitter's `transmit` on the
  `PriceFeed` twin, and the float answer becomes the on-chain answer (price * 10**decimals).

Same seed, same price path, same draws: the only differences from the fast engine are the
roundings to base units, which the fast engine's float pools ignore (relative ~1e-12).

Token 0/1 order follows the chain's addresses (`risky_is_token0`); actions and expected state
name tokens "risky" and "numeraire" and agents by their scenario names, so a backend maps them
to addresses. Timestamps are integer seconds: block t at `setup_ts + ceil(time_t)` (strictly
increasing).

The hooks used here are module globals of `sim.engine` replaced for the duration of one run
(under a lock): `BlockContext`, `make_pools`, `ChainlinkFeed`, `make_agents`. An engine
argument taking these factories would make this a plain call.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import sim.engine as engine_mod
from sim.agents import BlockContext
from sim.errors import ConfigError, Revert, SimError
from sim.feeds import PriceFeed
from sim.oracle import ChainlinkFeed
from sim.pools.cpmm import CPMMPool, add_liquidity_amounts, get_amount_out
from sim.pools.cpmm_vec import CpmmBatch
from sim.scenario import (
    ArbitrageurConfig,
    CrossArbitrageurConfig,
    LPConfig,
    NoiseTraderConfig,
    SandwichConfig,
    Scenario,
)

RISKY = "risky"
NUMERAIRE = "numeraire"
DEPLOYER = "deployer"
SUPPORTED_AGENTS = (
    ArbitrageurConfig,
    CrossArbitrageurConfig,
    NoiseTraderConfig,
    LPConfig,
    SandwichConfig,
)
DEFAULT_FUND = {RISKY: 10**12, NUMERAIRE: 10**15}
"""Tokens (whole units) minted to every agent at setup: far beyond any run's flows."""

_ENGINE_LOCK = threading.Lock()


class ExactWorldError(SimError):
    """The exact world cannot run this scenario, or an agent ran out of tokens."""


def transmitter_of(feed: str) -> str:
    """Name of the account that transmits `feed`'s reports."""
    return f"transmitter:{feed}"


def check_supported(sc: Scenario) -> None:
    """Raise ConfigError naming the first part of `sc` the exact world cannot run."""
    for a in sc.agents:
        if not isinstance(a, SUPPORTED_AGENTS):
            raise ConfigError(
                f"agents.{a.name}: kind '{a.kind}' has no chain counterpart yet (supported: "
                "arbitrageur, cross_arbitrageur, noise, lp, sandwich)"
            )
    for part in ("venues", "perps", "options_pools"):
        if getattr(sc, part, None):
            raise ConfigError(f"{part}: not on chain yet; remove them for a chain run")
    for p in sc.pools:
        if not p.fee_to_reserves:
            raise ConfigError(
                f"pools.{p.name}.fee_to_reserves: the contract keeps fees in reserves"
            )
        if p.fee_bps != int(p.fee_bps):
            raise ConfigError(f"pools.{p.name}.fee_bps: the contract takes whole basis points")


@dataclass
class BlockRecord:
    """One block: its integer timestamp, the transactions in order, the state after it.

    Actions are plain dicts (JSON-ready):
        {"kind": "transmit", "feed", "answer"}
        {"kind": "swap", "agent", "pool", "token_in", "amount_in", "min_out", "status"}
        {"kind": "mint", "agent", "pool", "amount0", "amount1", "min0", "min1", "status"}
        {"kind": "burn", "agent", "pool", "liquidity", "min0", "min1", "status"}
    with `status` the receipt status expected (0: the transaction must revert).
    """

    block: int
    timestamp: int
    actions: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "block": self.block,
            "timestamp": self.timestamp,
            "actions": self.actions,
            "state": self.state,
        }


@dataclass
class ExactRun:
    """The engine's result for the world and the block records."""

    result: Any
    """`sim.engine.RunResult` of the single world (same columns as the fast engine)."""
    blocks: list[BlockRecord]
    setup: BlockRecord
    """Initial liquidity, first feed rounds, agents' funding (block -1)."""


class ExactWorld:
    """The exact-integer state of one world and the recorder of its actions.

    Args:
        scenario: validated scenario (run with one world whatever its `paths`).
        risky_is_token0: whether the risky token sorts first (the chain's address order).
        setup_ts: timestamp of the setup block; block t lands at setup_ts + ceil(time_t).
        decimals: base-unit decimals of the risky and numeraire tokens.
        feed_decimals: decimals of the feeds' answers.
        fund: whole tokens minted to each agent at setup.
    """

    def __init__(
        self,
        scenario: Scenario,
        risky_is_token0: bool = True,
        setup_ts: int = 1_700_000_000,
        decimals: tuple[int, int] = (18, 6),
        feed_decimals: int = 8,
        fund: dict[str, int] | None = None,
    ):
        check_supported(scenario)
        self.sc = scenario.model_copy(deep=True)
        self.sc.paths = 1
        self.risky_is_token0 = risky_is_token0
        self.setup_ts = setup_ts
        self.scale = {RISKY: 10 ** decimals[0], NUMERAIRE: 10 ** decimals[1]}
        self.share_scale = math.sqrt(self.scale[RISKY] * self.scale[NUMERAIRE])
        self.feed_scale = 10**feed_decimals
        self.feed_decimals = feed_decimals
        fund = fund or DEFAULT_FUND
        self.fund = {t: fund[t] * self.scale[t] for t in (RISKY, NUMERAIRE)}
        self.agents = [a.name for a in self.sc.agents]
        self.lp_agents = {a.name: a.pool for a in self.sc.agents if isinstance(a, LPConfig)}
        self.balances = {(a, t): self.fund[t] for a in self.agents for t in (RISKY, NUMERAIRE)}
        self.twins: dict[str, CPMMPool] = {}
        self.feeds: dict[str, PriceFeed] = {}
        self.float_pools: dict[str, ExactPool] = {}
        self.float_feeds: dict[str, ExactFeed] = {}
        self.current_agent: str | None = None
        self.blocks: list[BlockRecord] = []
        self._open: BlockRecord | None = None
        self._known: dict[float, int] = {}
        self.setup = self._setup()

    # ------------------------------------------------------------------ token order

    def tokens01(self) -> tuple[str, str]:
        return (RISKY, NUMERAIRE) if self.risky_is_token0 else (NUMERAIRE, RISKY)

    def _pair(self, risky: int, numeraire: int) -> tuple[int, int]:
        """(risky, numeraire) amounts in token0/token1 order."""
        return (risky, numeraire) if self.risky_is_token0 else (numeraire, risky)

    def _rn(self, twin: CPMMPool) -> tuple[int, int]:
        """(risky, numeraire) reserves of a twin."""
        if self.risky_is_token0:
            return twin.reserve0, twin.reserve1
        return twin.reserve1, twin.reserve0

    # ------------------------------------------------------------------ setup

    def initial_price(self) -> float:
        """The reference price the engine's pools start at (the price process before a step)."""
        return float(engine_mod.make_price(self.sc, 1, 0).price[0])

    def _setup(self) -> BlockRecord:
        rec = BlockRecord(-1, self.setup_ts)
        ref = self.initial_price()
        t0, t1 = self.tokens01()
        for c in self.sc.pools:
            px = ref * (1.0 + c.price_offset_bps / 1e4)
            x = int(math.floor(0.5 * c.tvl / px * self.scale[RISKY]))
            y = int(math.floor(0.5 * c.tvl * self.scale[NUMERAIRE]))
            twin = CPMMPool(fee_bps=int(c.fee_bps), address=f"pool:{c.name}", token0=t0, token1=t1)
            a0, a1 = self._pair(x, y)
            twin.transfer_in(a0, a1)
            lp = twin.mint(DEPLOYER, self.setup_ts)
            self.twins[c.name] = twin
            rec.actions.append(
                {"kind": "seed", "pool": c.name, "amount0": a0, "amount1": a1, "liquidity": lp}
            )
        for o in self.sc.oracles:
            feed = PriceFeed(self.feed_decimals, o.name, transmitter_of(o.name), DEPLOYER)
            answer = int(round(ref * self.feed_scale))
            feed.transmit(transmitter_of(o.name), answer, self.setup_ts)
            self.feeds[o.name] = feed
            rec.actions.append({"kind": "transmit", "feed": o.name, "answer": answer, "status": 1})
        rec.state = self.state()
        return rec

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, int]:
        """Everything the chain must hold, as `field -> int`, in a fixed order."""
        s: dict[str, int] = {}
        for name, tw in self.twins.items():
            s[f"pool.{name}.reserve0"] = tw.reserve0
            s[f"pool.{name}.reserve1"] = tw.reserve1
            s[f"pool.{name}.blockTimestampLast"] = tw.block_timestamp_last
            s[f"pool.{name}.totalSupply"] = tw.total_supply
            s[f"pool.{name}.price0CumulativeLast"] = tw.price0_cumulative_last
            s[f"pool.{name}.price1CumulativeLast"] = tw.price1_cumulative_last
        for name, f in self.feeds.items():
            r = f.latest_round_data()
            s[f"feed.{name}.roundId"] = r.round_id
            s[f"feed.{name}.answer"] = r.answer
            s[f"feed.{name}.updatedAt"] = r.updated_at
        for a in self.agents:
            s[f"agent.{a}.{RISKY}"] = self.balances[(a, RISKY)]
            s[f"agent.{a}.{NUMERAIRE}"] = self.balances[(a, NUMERAIRE)]
        for a, pool in self.lp_agents.items():
            s[f"agent.{a}.lp.{pool}"] = self.twins[pool].lp_balance(a)
        return s

    # ------------------------------------------------------------------ block boundaries

    @property
    def timestamp(self) -> int:
        assert self._open is not None, "no block open"
        return self._open.timestamp

    def begin_block(self, block: int, time: float) -> None:
        self.end_block()
        prev = self.blocks[-1].timestamp if self.blocks else self.setup_ts
        ts = max(prev + 1, self.setup_ts + math.ceil(time))
        self._open = BlockRecord(block, ts)
        self._known = {}

    def end_block(self) -> None:
        if self._open is not None:
            self._open.state = self.state()
            self.blocks.append(self._open)
            self._open = None

    def _record(self, action: dict[str, Any]) -> None:
        assert self._open is not None, "an action outside a block"
        self._open.actions.append(action)

    # ------------------------------------------------------------------ conversions

    def units(self, amount: float, token: str) -> int:
        """Base units of a float amount: an earlier output returned as this very float maps
        back to its exact integer (so a two-leg trade spends exactly what it got)."""
        if amount in self._known:
            return self._known[amount]
        return int(math.floor(amount * self.scale[token]))

    def _as_float(self, units: int, token: str) -> float:
        f = units / self.scale[token]
        self._known[f] = units
        return f

    def refresh(self, name: str) -> None:
        """Write a twin's exact state into the float pool the agents read."""
        pool = self.float_pools.get(name)
        if pool is None:
            return
        r, n = self._rn(self.twins[name])
        pool.x[0] = r / self.scale[RISKY]
        pool.y[0] = n / self.scale[NUMERAIRE]
        pool.shares[0] = self.twins[name].total_supply / self.share_scale

    def _spend(self, agent: str, token: str, amount: int) -> None:
        have = self.balances[(agent, token)]
        if have < amount:
            raise ExactWorldError(
                f"agent '{agent}' needs {amount} base units of {token} but holds {have}: "
                "raise its funding (ExactWorld fund=)"
            )
        self.balances[(agent, token)] = have - amount

    # ------------------------------------------------------------------ actions

    def amount_out(self, pool: str, token_in: str, amount_in: int) -> int:
        """The router's getAmountOut on the twin (the prediction sent as amountOutMin)."""
        r, n = self._rn(self.twins[pool])
        r_in, r_out = (r, n) if token_in == RISKY else (n, r)
        return get_amount_out(amount_in, r_in, r_out, self.twins[pool].fee_bps)

    def swap(self, agent: str, pool: str, direction: int, amount: float) -> float | None:
        """Exact swap (direction +1: numeraire in, risky out); returns the output as a float,
        or None when the amount rounds to nothing or the pool would refuse it."""
        token_in, token_out = (NUMERAIRE, RISKY) if direction > 0 else (RISKY, NUMERAIRE)
        a = self.units(amount, token_in)
        if a <= 0:
            return None
        twin = self.twins[pool]
        try:
            out = self.amount_out(pool, token_in, a)
            trial = twin.copy()
            in0, in1 = self._pair(a, 0) if token_in == RISKY else self._pair(0, a)
            out0, out1 = self._pair(out, 0) if token_out == RISKY else self._pair(0, out)
            trial.transfer_in(in0, in1)
            trial.swap(out0, out1, agent, self.timestamp)
        except Revert:
            return None
        self._spend(agent, token_in, a)
        self.twins[pool] = trial
        self.balances[(agent, token_out)] += out
        self._record(
            {
                "kind": "swap",
                "agent": agent,
                "pool": pool,
                "token_in": token_in,
                "amount_in": a,
                "min_out": out,
                "status": 1,
            }
        )
        self.refresh(pool)
        return self._as_float(out, token_out)

    def failed_swap(
        self, agent: str, pool: str, direction: int, amount: float, min_out: float
    ) -> None:
        """A limit order the agent sends that the router must refuse (it still costs gas)."""
        token_in, token_out = (NUMERAIRE, RISKY) if direction > 0 else (RISKY, NUMERAIRE)
        a = self.units(amount, token_in)
        if a <= 0:
            return
        limit = math.ceil(min_out * self.scale[token_out])
        try:
            limit = max(limit, self.amount_out(pool, token_in, a) + 1)
        except Revert:
            return
        self._record(
            {
                "kind": "swap",
                "agent": agent,
                "pool": pool,
                "token_in": token_in,
                "amount_in": a,
                "min_out": limit,
                "status": 0,
            }
        )

    def mint(self, pool: str, frac: float) -> float:
        """The current agent adds `frac` of the reserves through the router; LP as a float."""
        agent = self.current_agent
        if agent is None or not frac > 0:
            return 0.0
        twin = self.twins[pool]
        r, n = self._rn(twin)
        d0, d1 = self._pair(int(math.floor(r * frac)), int(math.floor(n * frac)))
        try:
            a0, a1 = add_liquidity_amounts(d0, d1, 0, 0, twin.reserve0, twin.reserve1)
            trial = twin.copy()
            trial.transfer_in(a0, a1)
            lp = trial.mint(agent, self.timestamp)
        except Revert:
            return 0.0
        t0, t1 = self.tokens01()
        self._spend(agent, t0, a0)
        self._spend(agent, t1, a1)
        self.twins[pool] = trial
        self._record(
            {
                "kind": "mint",
                "agent": agent,
                "pool": pool,
                "amount0": d0,
                "amount1": d1,
                "min0": a0,
                "min1": a1,
                "status": 1,
            }
        )
        self.refresh(pool)
        return lp / self.share_scale

    def burn(self, pool: str, shares: float) -> tuple[float, float]:
        """The current agent burns `shares` (its whole position when it is about all of it);
        returns (risky, numeraire) received as floats."""
        agent = self.current_agent
        if agent is None or not shares > 0:
            return 0.0, 0.0
        twin = self.twins[pool]
        held = twin.lp_balance(agent)
        want = shares * self.share_scale
        lp = held if want >= held * (1 - 1e-9) else min(held, int(want))
        if lp <= 0:
            return 0.0, 0.0
        try:
            trial = twin.copy()
            trial.transfer_lp(agent, trial.address, lp)
            a0, a1 = trial.burn(agent, self.timestamp)
        except Revert:
            return 0.0, 0.0
        self.twins[pool] = trial
        t0, t1 = self.tokens01()
        self.balances[(agent, t0)] += a0
        self.balances[(agent, t1)] += a1
        self._record(
            {
                "kind": "burn",
                "agent": agent,
                "pool": pool,
                "liquidity": lp,
                "min0": a0,
                "min1": a1,
                "status": 1,
            }
        )
        self.refresh(pool)
        r, n = (a0, a1) if self.risky_is_token0 else (a1, a0)
        return r / self.scale[RISKY], n / self.scale[NUMERAIRE]

    def transmit(self, feed: str, price: float) -> float:
        """The transmitter lands a report; returns the on-chain answer as a price."""
        answer = int(round(price * self.feed_scale))
        self.feeds[feed].transmit(transmitter_of(feed), answer, self.timestamp)
        self._record({"kind": "transmit", "feed": feed, "answer": answer, "status": 1})
        return answer / self.feed_scale

    # ------------------------------------------------------------------ the run

    def run(self) -> ExactRun:
        """Run the scenario's general path on this world; returns metrics and block records."""
        with _engine_hooks(self):
            result = engine_mod.Engine(self.sc, fused=False).run()
        self.end_block()
        return ExactRun(result, self.blocks, self.setup)


# ---------------------------------------------------------------------- stand-ins


class ExactPool(CpmmBatch):
    """The float pool agents read, kept equal to its twin; LP calls go to the twin."""

    world: ExactWorld

    def mint(self, value_frac: np.ndarray) -> np.ndarray:
        return np.array([self.world.mint(self.name, float(np.asarray(value_frac)[0]))])

    def burn(self, share_amount: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ox, oy = self.world.burn(self.name, float(np.asarray(share_amount)[0]))
        return np.array([ox]), np.array([oy])


class ExactFeed(ChainlinkFeed):
    """A Chainlink-style feed whose landed reports are the transmitter's transactions."""

    world: ExactWorld

    def __init__(self, cfg, ref_price, streams):
        super().__init__(cfg, ref_price, streams)
        r = self.world.feeds[cfg.name].latest_round_data()
        self.answer = np.array([r.answer / self.world.feed_scale])

    def _land(self, block: int, now: np.ndarray) -> np.ndarray:
        due = super()._land(block, now)
        if bool(due[0]):
            self.answer = np.array([self.world.transmit(self.name, float(self.answer[0]))])
        return due


class ExactContext(BlockContext):
    """A block of one world whose swaps are exact (see the module docstring)."""

    world: ExactWorld

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.world.begin_block(self.block, float(self.time[0]))

    def swap(self, agent, pool_name, amount_in, direction, is_arb=False):
        d = int(np.asarray(direction).reshape(-1)[0])
        a = float(np.asarray(amount_in, dtype=np.float64).reshape(-1)[0])
        nothing = np.zeros(1, dtype=np.int64)
        if d == 0 or not a > 0.0:
            self._maybe_failed_order(agent, pool_name)
            return super().swap(agent, pool_name, np.zeros(1), nothing, is_arb)
        token_in = NUMERAIRE if d > 0 else RISKY
        exact_in = self.world.units(a, token_in) / self.world.scale[token_in]
        # The ledger books the trade on the pre-trade float reserves (= the twin's), as the
        # fast engine would; the twin then overwrites the reserves with the exact result.
        x0, y0 = self.pools[pool_name].x.copy(), self.pools[pool_name].y.copy()
        out = self.world.swap(agent, pool_name, d, a)
        if out is None:
            return super().swap(agent, pool_name, np.zeros(1), nothing, is_arb)
        x1, y1 = self.pools[pool_name].x.copy(), self.pools[pool_name].y.copy()
        self.pools[pool_name].x[:], self.pools[pool_name].y[:] = x0, y0
        super().swap(agent, pool_name, np.array([exact_in]), np.array([d]), is_arb)
        self.pools[pool_name].x[:], self.pools[pool_name].y[:] = x1, y1
        return np.array([out])

    def _maybe_failed_order(self, agent: str, pool: str) -> None:
        """A pending limit order of `agent` that its own check refused is still sent."""
        for it in self.mempool:
            if it.agent == agent and it.pool == pool and not it.done and bool(it.active[0]):
                self.world.failed_swap(
                    agent, pool, int(it.direction[0]), float(it.amount_in[0]), float(it.min_out[0])
                )


@contextlib.contextmanager
def _engine_hooks(world: ExactWorld) -> Iterator[None]:
    """Swap sim.engine's factories for exact stand-ins bound to `world` for one run."""
    ctx_cls = type("BoundExactContext", (ExactContext,), {"world": world})
    pool_cls = type("BoundExactPool", (ExactPool,), {"world": world})
    feed_cls = type("BoundExactFeed", (ExactFeed,), {"world": world})
    orig_make_agents = engine_mod.make_agents

    def make_pools(sc: Scenario, ref: np.ndarray) -> dict[str, CpmmBatch]:
        pools = {}
        for c in sc.pools:
            p = pool_cls(c.name, np.zeros(1), np.zeros(1), c.fee_bps, c.fee_to_reserves)
            world.float_pools[c.name] = p
            world.refresh(c.name)
            pools[c.name] = p
        return pools

    def make_agents(cfgs, pools, n, seed, offset):
        agents = orig_make_agents(cfgs, pools, n, seed, offset)
        for agent in agents:
            act = agent.act

            def tagged(ctx, _act=act, _name=agent.name):
                world.current_agent = _name
                try:
                    _act(ctx)
                finally:
                    world.current_agent = None

            agent.act = tagged  # an instance attribute: isinstance checks still hold
        return agents

    names = {
        "BlockContext": ctx_cls,
        "make_pools": make_pools,
        "ChainlinkFeed": feed_cls,
        "make_agents": make_agents,
    }
    with _ENGINE_LOCK:
        saved = {k: getattr(engine_mod, k) for k in names}
        for k, v in names.items():
            setattr(engine_mod, k, v)
        try:
            yield
        finally:
            for k, v in saved.items():
                setattr(engine_mod, k, v)


def run_exact(scenario: Scenario, **kwargs) -> ExactRun:
    """Convenience: `ExactWorld(scenario, **kwargs).run()`."""
    return ExactWorld(scenario, **kwargs).run()


__all__ = [
    "BlockRecord",
    "ExactRun",
    "ExactWorld",
    "ExactWorldError",
    "NUMERAIRE",
    "RISKY",
    "check_supported",
    "run_exact",
    "transmitter_of",
]

"""One world in exact integers, driven by the fast engine's own agents.

The chain backend needs, block by block, the transactions the agents send and the state the
contracts must hold afterwards, to the wei. This module gets both without a second copy of any
agent: it runs the engine's general path on ONE world with `sim.engine.EngineHooks` that
build exact stand-ins for the objects agents touch:

* `ExactContext` (a `BlockContext`): `swap` turns the float amount into token base units,
  prices it on the `CPMMPool` twin (`get_amount_out`), applies it, records a router swap with
  amountOutMin = that prediction, books the trade in the ledger as the fast engine does, and
  writes the twin's reserves back into the float pool, so every later decision sees exact state;
  `mint`/`burn` (the LP agent's calls) go through the router's `addLiquidity`/`removeLiquidity`
  arithmetic on the twin; `order_refused` records a limit order that must revert;
  `take_lp_share` hands an agent LP tokens from the deployer's seed liquidity;
* `ExactFeed` (a `ChainlinkFeed`): a landed report becomes the transmitter's `transmit` on the
  `PriceFeed` twin, and the float answer becomes the on-chain answer (price * 10**decimals);
* venue kinds beyond pools and feeds plug in as `ExactPart`s (see its docstring): each brings
  its setup actions, its engine-hook factories, its state fields and its chain counterpart.

Same seed, same price path, same draws: the only differences from the fast engine are the
roundings to base units, which the fast engine's float pools ignore (relative ~1e-12).

Token 0/1 order follows the chain's addresses (`risky_is_token0`); actions and expected state
name tokens "risky" and "numeraire" and accounts by label (an agent's scenario name, or a label
a part adds with `ExactWorld.add_account`), so a backend maps them to addresses. Timestamps
are integer seconds: block t at `setup_ts + ceil(time_t)` (strictly increasing).
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sim.agents import BlockContext, Intent
from sim.engine import Engine, EngineHooks, make_price
from sim.errors import ConfigError, Revert, SimError
from sim.feeds import PriceFeed
from sim.oracle import ChainlinkFeed
from sim.pools.cpmm import CPMMPool, add_liquidity_amounts, get_amount_out
from sim.pools.cpmm_vec import CpmmBatch
from sim.scenario import (
    ArbitrageurConfig,
    CrossArbitrageurConfig,
    KeeperConfig,
    LPConfig,
    NoiseTraderConfig,
    SandwichConfig,
    Scenario,
)

RISKY = "risky"
NUMERAIRE = "numeraire"
DEPLOYER = "deployer"
CORE_AGENTS = (
    ArbitrageurConfig,
    CrossArbitrageurConfig,
    NoiseTraderConfig,
    LPConfig,
    SandwichConfig,
    KeeperConfig,
)
"""Agent kinds the core runs (pools and feeds); parts add theirs (`ExactPart.agent_kinds`)."""
DEFAULT_FUND = {RISKY: 10**12, NUMERAIRE: 10**15}
"""Tokens (whole units) minted to every account at setup: far beyond any run's flows."""


class ExactWorldError(SimError):
    """The exact world cannot run this scenario, or an agent ran out of tokens."""


def transmitter_of(feed: str) -> str:
    """Name of the account that transmits `feed`'s reports."""
    return f"transmitter:{feed}"


# ---------------------------------------------------------------------- plug-in parts


class ExactPart:
    """A venue kind of the exact world (a plug-in): subclass, then `register_part` it.

    The core runs pools (router, LP) and Chainlink feeds; a part adds one more kind of
    contract (a perp market, an options pool, an oracle-priced venue) without editing the
    core. Parts live in modules named `sim/exact_*.py`, which the core imports on first use
    (`parts()`), so dropping in the module is all it takes; the module calls
    `register_part(TheClass)` at import.

    Protocol, in the order the world calls it:

    1. `applies(sc)` (classmethod): whether scenario `sc` uses this kind (e.g. `sc.perps`);
       `check(sc)` (classmethod): raise `ConfigError` naming the first field it cannot run.
       `scenario_fields` names the Scenario fields it makes runnable (e.g. ("perps",));
       `agent_kinds` the agent config classes it makes runnable (e.g. `PerpTraderConfig`).
    2. `__init__(world)` for a scenario it applies to, after the core's twins exist
       (`world.twins`: pool name -> `CPMMPool`, `world.feeds`: feed name -> `PriceFeed`)
       and before any setup action. Add every account that sends transactions or holds
       tokens with `world.add_account(label)`: each is funded with `world.fund` of both
       tokens at setup and its token balances are compared every block.
    3. `setup()`: the setup block's actions (block -1 at `world.timestamp`), recorded with
       `world.record(action)` after the core's seeds and first feed rounds.
    4. `hooks()`: `{EngineHooks field: factory}` for the stand-ins of its venue (e.g.
       `{"perp": lambda cfg, n, plan, feed: ExactPerpVenue(...)}`), with the signature of
       the default factory (see `EngineHooks`). A stand-in keeps the float object the agents
       read equal to the exact state and applies each call to the integer twin; a call the
       contract refuses leaves the twin as it was and may still be recorded with
       `"status": 0` (the agent sends it and it reverts).
    5. During the run: `world.record(action)` for every transaction, at `world.timestamp`,
       sent by `world.current_agent` (the agent whose turn it is; None outside agents'
       turns) unless the action names another sender; token movements of accounts through
       `world.spend(account, token, units)` / `world.credit(account, token, units)`.
    6. `state()`: `{field: int}` of everything its contracts must hold after each block, in a
       fixed order; names start with the part's prefix (e.g. "perp.<name>.").

    Actions are JSON-ready dicts with at least "kind" (unique to the part, e.g.
    "perp_trade") and "status" (1: must succeed, 0: must revert); the chain part named by
    `chain_part` ("module:Class", resolved by the chain backend, so `sim` never imports the
    keeper) encodes them as transactions and reads the state fields back.
    """

    name: ClassVar[str] = ""
    """Short name of the kind (e.g. "perp")."""
    scenario_fields: ClassVar[tuple[str, ...]] = ()
    agent_kinds: ClassVar[tuple[type, ...]] = ()
    chain_part: ClassVar[str] = ""
    """"module:Class" of the chain counterpart (see `keeper.chain_backend.ChainPart`)."""

    def __init__(self, world: ExactWorld):
        self.world = world

    @classmethod
    def applies(cls, sc: Scenario) -> bool:
        return any(getattr(sc, f, None) for f in cls.scenario_fields)

    @classmethod
    def check(cls, sc: Scenario) -> None:
        """Raise ConfigError naming the first part of `sc` this kind cannot run."""

    def setup(self) -> None:
        """Record the setup block's actions (`world.record`)."""

    def hooks(self) -> dict[str, Any]:
        """EngineHooks fields this part replaces."""
        return {}

    def state(self) -> dict[str, int]:
        return {}


_PARTS: list[type[ExactPart]] = []
_LOADED = False


def register_part(cls: type[ExactPart]) -> type[ExactPart]:
    """Make `cls` available to every exact world (use as a class decorator)."""
    if cls not in _PARTS:
        _PARTS.append(cls)
    return cls


def parts() -> list[type[ExactPart]]:
    """Every registered part, after importing the `sim/exact_*.py` modules once."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        here = [str(Path(__file__).resolve().parent)]  # not sim.__path__: see pyproject
        for m in sorted(pkgutil.iter_modules(here), key=lambda m: m.name):
            if m.name.startswith("exact_") and m.name != "exact_world":
                importlib.import_module(f"sim.{m.name}")
    return list(_PARTS)


def check_supported(sc: Scenario) -> None:
    """Raise ConfigError naming the first part of `sc` the exact world cannot run."""
    kinds = list(CORE_AGENTS)
    fields: set[str] = set()
    for part in parts():
        kinds.extend(part.agent_kinds)
        fields.update(part.scenario_fields)
    names = sorted({getattr(k, "model_fields", {}).get("kind").default for k in kinds} - {None})
    for a in sc.agents:
        if not isinstance(a, tuple(kinds)):
            raise ConfigError(
                f"agents.{a.name}: kind '{a.kind}' has no chain counterpart yet (supported: "
                f"{', '.join(names)})"
            )
    for f in ("venues", "perps", "options_pools"):
        if getattr(sc, f, None) and f not in fields:
            raise ConfigError(f"{f}: not on chain yet; remove them for a chain run")
    for p in sc.pools:
        if not p.fee_to_reserves:
            raise ConfigError(
                f"pools.{p.name}.fee_to_reserves: the contract keeps fees in reserves"
            )
        if p.fee_bps != int(p.fee_bps):
            raise ConfigError(f"pools.{p.name}.fee_bps: the contract takes whole basis points")
    for part in parts():
        if part.applies(sc):
            part.check(sc)


@dataclass
class BlockRecord:
    """One block: its integer timestamp, the transactions in order, the state after it.

    Actions of the core are plain dicts (JSON-ready):
        {"kind": "seed", "pool", "amount0", "amount1", "liquidity"}  (setup only)
        {"kind": "transmit", "feed", "answer", "status"}
        {"kind": "swap", "agent", "pool", "token_in", "amount_in", "min_out", "status"}
        {"kind": "mint", "agent", "pool", "amount0", "amount1", "min0", "min1", "status"}
        {"kind": "burn", "agent", "pool", "liquidity", "min0", "min1", "status"}
        {"kind": "lp_transfer", "from", "agent", "pool", "liquidity", "status"}
    with `status` the receipt status expected (0: the transaction must revert); parts add
    their own kinds (`ExactPart`).
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
    """Initial liquidity, first feed rounds, parts' setup (block -1)."""


class ExactWorld:
    """The exact-integer state of one world and the recorder of its actions.

    Args:
        scenario: validated scenario (run with one world whatever its `paths`).
        risky_is_token0: whether the risky token sorts first (the chain's address order).
        setup_ts: timestamp of the setup block; block t lands at setup_ts + ceil(time_t).
        decimals: base-unit decimals of the risky and numeraire tokens.
        feed_decimals: decimals of the feeds' answers.
        fund: whole tokens minted to each account at setup.
        created_at: block timestamp at which each contract was created, by its chain label
            (e.g. "perp:<name>"), for state a constructor sets from `block.timestamp`;
            default: `setup_ts`.
    """

    def __init__(
        self,
        scenario: Scenario,
        risky_is_token0: bool = True,
        setup_ts: int = 1_700_000_000,
        decimals: tuple[int, int] = (18, 6),
        feed_decimals: int = 8,
        fund: dict[str, int] | None = None,
        created_at: dict[str, int] | None = None,
    ):
        check_supported(scenario)
        self.sc = scenario.model_copy(deep=True)
        self.sc.paths = 1
        self.risky_is_token0 = risky_is_token0
        self.setup_ts = setup_ts
        self.created_at = dict(created_at or {})
        self.decimals = {RISKY: decimals[0], NUMERAIRE: decimals[1]}
        self.scale = {RISKY: 10 ** decimals[0], NUMERAIRE: 10 ** decimals[1]}
        self.share_scale = math.sqrt(self.scale[RISKY] * self.scale[NUMERAIRE])
        self.feed_scale = 10**feed_decimals
        self.feed_decimals = feed_decimals
        fund = fund or DEFAULT_FUND
        self.fund = {t: fund[t] * self.scale[t] for t in (RISKY, NUMERAIRE)}
        self.accounts: list[str] = []
        self.balances: dict[tuple[str, str], int] = {}
        for a in self.sc.agents:
            self.add_account(a.name)
        self.lp_agents = {a.name: a.pool for a in self.sc.agents if isinstance(a, LPConfig)}
        """LP-token holders whose balance is compared: account -> pool."""
        for a in self.sc.agents:
            if isinstance(a, KeeperConfig) and a.lp is not None:
                self.lp_agents[a.name] = a.lp.pool
        self.twins: dict[str, CPMMPool] = {}
        self.feeds: dict[str, PriceFeed] = {}
        self.float_pools: dict[str, CpmmBatch] = {}
        self.current_agent: str | None = None
        self.blocks: list[BlockRecord] = []
        self._open: BlockRecord | None = None
        self._known: dict[float, int] = {}
        self.parts: list[ExactPart] = []
        self.setup = self._setup()

    # ------------------------------------------------------------------ accounts

    def add_account(self, label: str) -> None:
        """An account funded with `fund` of both tokens at setup, balances compared."""
        if label in self.accounts:
            return
        self.accounts.append(label)
        for t in (RISKY, NUMERAIRE):
            self.balances[(label, t)] = self.fund[t]

    def spend(self, account: str, token: str, units: int) -> None:
        """Take `units` base units of `token` from `account` (ExactWorldError if short)."""
        have = self.balances[(account, token)]
        if have < units:
            raise ExactWorldError(
                f"account '{account}' needs {units} base units of {token} but holds {have}: "
                "raise its funding (ExactWorld fund=)"
            )
        self.balances[(account, token)] = have - units

    def credit(self, account: str, token: str, units: int) -> None:
        """Give `account` `units` base units of `token`."""
        self.balances[(account, token)] += units

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
        return float(make_price(self.sc, 1, 0).price[0])

    def _setup(self) -> BlockRecord:
        rec = BlockRecord(-1, self.setup_ts)
        self._open = rec
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
        self.parts = [cls(self) for cls in parts() if cls.applies(self.sc)]
        for part in self.parts:
            part.setup()
        self._open = None
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
        for a in self.accounts:
            s[f"agent.{a}.{RISKY}"] = self.balances[(a, RISKY)]
            s[f"agent.{a}.{NUMERAIRE}"] = self.balances[(a, NUMERAIRE)]
        for a, pool in self.lp_agents.items():
            s[f"agent.{a}.lp.{pool}"] = self.twins[pool].lp_balance(a)
        for part in self.parts:
            s.update(part.state())
        return s

    # ------------------------------------------------------------------ block boundaries

    @property
    def timestamp(self) -> int:
        """The open block's timestamp (the setup block's during setup)."""
        assert self._open is not None, "no block open"
        return self._open.timestamp

    @property
    def block(self) -> int:
        """The open block's number (-1 during setup)."""
        assert self._open is not None, "no block open"
        return self._open.block

    @property
    def sent_in_block(self) -> int:
        """Transactions recorded so far in the open block (where the next sender's start)."""
        assert self._open is not None, "no block open"
        return len(self._open.actions)

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

    def record(self, action: dict[str, Any]) -> None:
        """Append one transaction to the open block (the setup block during setup)."""
        assert self._open is not None, "an action outside a block"
        self._open.actions.append(action)

    # ------------------------------------------------------------------ conversions

    def units(self, amount: float, token: str) -> int:
        """Base units of a float amount: an earlier output returned as this very float maps
        back to its exact integer (so a two-leg trade spends exactly what it got)."""
        if amount in self._known:
            return self._known[amount]
        return int(math.floor(amount * self.scale[token]))

    def as_float(self, units: int, token: str) -> float:
        """`units` of `token` as a float amount that `units` maps back to exactly."""
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
        self.spend(agent, token_in, a)
        self.twins[pool] = trial
        self.credit(agent, token_out, out)
        self.record(
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
        return self.as_float(out, token_out)

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
        self.record(
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

    def mint(self, agent: str, pool: str, frac: float) -> float:
        """`agent` adds `frac` of the reserves through the router; LP as a float."""
        if not frac > 0:
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
        self.spend(agent, t0, a0)
        self.spend(agent, t1, a1)
        self.twins[pool] = trial
        self.record(
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

    def burn(self, agent: str, pool: str, shares: float) -> tuple[float, float]:
        """`agent` burns `shares` (its whole position when it is about all of it); returns
        (risky, numeraire) received as floats."""
        if not shares > 0:
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
        self.credit(agent, t0, a0)
        self.credit(agent, t1, a1)
        self.record(
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

    def take_lp_share(self, agent: str, pool: str, share: float) -> float:
        """The deployer transfers `share` of the pool's LP supply to `agent` (from its seed
        liquidity); returns the agent's LP as a float."""
        twin = self.twins[pool]
        lp = int(math.floor(share * twin.total_supply))
        held = twin.lp_balance(DEPLOYER)
        if lp > held:
            raise ExactWorldError(
                f"agents.{agent}.lp.share: {share} of pool {pool}'s supply is more than the "
                f"seed liquidity ({held} of {twin.total_supply}): lower it"
            )
        if lp > 0:
            twin.transfer_lp(DEPLOYER, agent, lp)
            self.record(
                {
                    "kind": "lp_transfer",
                    "from": DEPLOYER,
                    "agent": agent,
                    "pool": pool,
                    "liquidity": lp,
                    "status": 1,
                }
            )
        return twin.lp_balance(agent) / self.share_scale

    def transmit(self, feed: str, price: float) -> float:
        """The transmitter lands a report; returns the on-chain answer as a price."""
        answer = int(round(price * self.feed_scale))
        self.feeds[feed].transmit(transmitter_of(feed), answer, self.timestamp)
        self.record({"kind": "transmit", "feed": feed, "answer": answer, "status": 1})
        return answer / self.feed_scale

    # ------------------------------------------------------------------ the run

    def hooks(self) -> EngineHooks:
        """The engine hooks that make the general path drive this world."""
        world = self

        def context(*args, **kwargs) -> ExactContext:
            return ExactContext(world, *args, **kwargs)

        def make_pools(sc: Scenario, ref: np.ndarray) -> dict[str, CpmmBatch]:
            pools = {}
            for c in sc.pools:
                p = CpmmBatch(c.name, np.zeros(1), np.zeros(1), c.fee_bps, c.fee_to_reserves)
                world.float_pools[c.name] = p
                world.refresh(c.name)
                pools[c.name] = p
            return pools

        def chainlink(cfg, ref_price, streams) -> ExactFeed:
            return ExactFeed(world, cfg, ref_price, streams)

        def agent_turn(ctx: BlockContext, name: str | None) -> None:
            world.current_agent = name

        fields: dict[str, Any] = {
            "context": context,
            "pools": make_pools,
            "chainlink": chainlink,
            "agent_turn": agent_turn,
        }
        for part in self.parts:
            fields.update(part.hooks())
        return EngineHooks(**fields)

    def run(self) -> ExactRun:
        """Run the scenario's general path on this world; returns metrics and block records."""
        result = Engine(self.sc, fused=False, hooks=self.hooks()).run()
        self.end_block()
        return ExactRun(result, self.blocks, self.setup)


# ---------------------------------------------------------------------- stand-ins


class ExactFeed(ChainlinkFeed):
    """A Chainlink-style feed whose landed reports are the transmitter's transactions."""

    def __init__(self, world: ExactWorld, cfg, ref_price, streams):
        super().__init__(cfg, ref_price, streams)
        self.world = world
        r = world.feeds[cfg.name].latest_round_data()
        self.answer = np.array([r.answer / world.feed_scale])

    def _land(self, block: int, now: np.ndarray) -> np.ndarray:
        due = super()._land(block, now)
        if bool(due[0]):
            self.answer = np.array([self.world.transmit(self.name, float(self.answer[0]))])
        return due


class ExactContext(BlockContext):
    """A block of one world whose swaps and LP calls are exact (see the module docstring)."""

    def __init__(self, world: ExactWorld, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.world = world
        world.begin_block(self.block, float(self.time[0]))

    def swap(self, agent, pool_name, amount_in, direction, is_arb=False):
        d = int(np.asarray(direction).reshape(-1)[0])
        a = float(np.asarray(amount_in, dtype=np.float64).reshape(-1)[0])
        nothing = np.zeros(1, dtype=np.int64)
        if d == 0 or not a > 0.0:
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

    def mint(self, agent, pool_name, value_frac):
        return np.array([self.world.mint(agent, pool_name, float(np.asarray(value_frac)[0]))])

    def burn(self, agent, pool_name, shares):
        ox, oy = self.world.burn(agent, pool_name, float(np.asarray(shares)[0]))
        return np.array([ox]), np.array([oy])

    def take_lp_share(self, agent, pool_name, share):
        return np.array([self.world.take_lp_share(agent, pool_name, share)])

    def order_refused(self, intent: Intent, mask: np.ndarray) -> None:
        if bool(np.asarray(mask)[0]):
            self.world.failed_swap(
                intent.agent,
                intent.pool,
                int(intent.direction[0]),
                float(intent.amount_in[0]),
                float(intent.min_out[0]),
            )


def run_exact(scenario: Scenario, **kwargs) -> ExactRun:
    """Convenience: `ExactWorld(scenario, **kwargs).run()`."""
    return ExactWorld(scenario, **kwargs).run()


__all__ = [
    "BlockRecord",
    "DEPLOYER",
    "ExactPart",
    "ExactRun",
    "ExactWorld",
    "ExactWorldError",
    "NUMERAIRE",
    "RISKY",
    "check_supported",
    "parts",
    "register_part",
    "run_exact",
    "transmitter_of",
]

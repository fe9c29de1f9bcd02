"""One world in exact integers, driven by the fast engine's own agents.

The chain backend needs, block by block, the transactions the agents send and the state the
contracts must hold afterwards, to the wei. This module gets both without a second copy of any
agent: it runs the engine's general path on ONE world with `sim.engine.core.EngineHooks` whose
factories build exact stand-ins for the objects agents touch. Each venue kind brings its
stand-ins and its twins as an `ExactPart` (`sim.venues.base`), found through the venue
registry; this module is what they share: the accounts and their token balances, the block
records, the conversions between float amounts and base units, and the run.

Same seed, same price path, same draws: the only differences from the fast engine are the
roundings to base units, which the fast engine's float venues ignore (relative ~1e-12).

Token 0/1 order follows the chain's addresses (`risky_is_token0`); actions and expected state
name tokens "risky" and "numeraire" and accounts by label (an agent's scenario name, or a label
a part adds with `ExactWorld.add_account`), so a backend maps them to addresses. Timestamps
are integer seconds: block t at `setup_ts + ceil(time_t)` (strictly increasing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sim.engine.context import BlockContext
from sim.engine.core import Engine, EngineHooks, RunResult, make_price
from sim.errors import ConfigError
from sim.processes import MultiGBMConfig
from sim.venues.base import NUMERAIRE, RISKY, ExactPart, ExactWorldError
from sim.venues.registry import VENUES

DEFAULT_FUND = {RISKY: 10**12, NUMERAIRE: 10**15}
"""Tokens (whole units) minted to every account at setup: far beyond any run's flows."""


def part_classes(sc: Any) -> list[type[ExactPart]]:
    """The exact parts of the venues `sc` uses, in registry order."""
    return [cls for cls in (v.exact() for v in VENUES) if cls.applies(sc)]


def check_supported(sc: Any) -> None:
    """Raise ConfigError naming the first part of `sc` the exact world cannot run."""
    if isinstance(sc.price, MultiGBMConfig):
        raise ConfigError(
            "price.kind: multi_gbm prices tokens the chain does not hold; run it on the fast "
            "engine (the chain has one risky token and the numeraire)"
        )
    classes = [v.exact() for v in VENUES]
    kinds = [k for cls in classes for k in cls.agent_kinds]
    names = [k.model_fields["kind"].default for k in kinds]
    for a in sc.agents:
        if not isinstance(a, tuple(kinds)):
            raise ConfigError(
                f"agents.{a.name}: kind '{a.kind}' has no chain counterpart yet (supported: "
                f"{', '.join(names)})"
            )
    covered = {f for cls in classes for f in cls.scenario_fields}
    for v in VENUES:
        for f, _config, _doc in v.fields:
            if getattr(sc, f, None) and f not in covered:
                raise ConfigError(f"{f}: not on chain yet; remove them for a chain run")
    for cls in classes:
        if cls.applies(sc):
            cls.check(sc)


@dataclass
class BlockRecord:
    """One block: its integer timestamp, the transactions in order, the state after it.

    Actions are plain dicts (JSON-ready) with "kind" and "status" (the receipt status
    expected; 0: the transaction must revert), recorded by the venues' exact parts.
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

    result: RunResult
    """The single world's result (same columns as the fast engine)."""
    blocks: list[BlockRecord]
    setup: BlockRecord
    """The parts' setup (block -1): seeds, first feed rounds, funds."""


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
        scenario: Any,
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
        self.feed_scale = 10**feed_decimals
        self.feed_decimals = feed_decimals
        fund = fund or DEFAULT_FUND
        self.fund = {t: fund[t] * self.scale[t] for t in (RISKY, NUMERAIRE)}
        self.accounts: list[str] = []
        """Accounts funded with both tokens, their balances compared every block."""
        self.senders: list[str] = []
        """Accounts that only send transactions (a feed's transmitter): no tokens."""
        self.balances: dict[tuple[str, str], int] = {}
        for a in self.sc.agents:
            self.add_account(a.name)
        self.current_agent: str | None = None
        self.blocks: list[BlockRecord] = []
        self._open: BlockRecord | None = None
        self._known: dict[float, int] = {}
        self.parts: dict[str, ExactPart] = {}
        self.setup = self._setup()

    def part(self, name: str) -> Any:
        """The exact part of venue `name` (KeyError when the scenario does not use it)."""
        return self.parts[name]

    # ------------------------------------------------------------------ accounts

    def add_account(self, label: str) -> None:
        """An account funded with `fund` of both tokens at setup, balances compared."""
        if label in self.accounts:
            return
        self.accounts.append(label)
        for t in (RISKY, NUMERAIRE):
            self.balances[(label, t)] = self.fund[t]

    def add_sender(self, label: str) -> None:
        """An account that sends transactions but holds no tokens."""
        if label not in self.senders:
            self.senders.append(label)

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

    def pair(self, risky: int, numeraire: int) -> tuple[int, int]:
        """(risky, numeraire) amounts in token0/token1 order."""
        return (risky, numeraire) if self.risky_is_token0 else (numeraire, risky)

    # ------------------------------------------------------------------ setup and state

    def initial_price(self) -> float:
        """The reference price the engine's venues start at (the process before a step)."""
        return float(make_price(self.sc, 1, 0).price[0])

    def _setup(self) -> BlockRecord:
        rec = BlockRecord(-1, self.setup_ts)
        self._open = rec
        for cls in part_classes(self.sc):
            self.parts[cls.name] = cls(self)
            self.parts[cls.name].setup()
        self._open = None
        rec.state = self.state()
        return rec

    def state(self) -> dict[str, int]:
        """Everything the chain must hold, as `field -> int`, in a fixed order: each part's
        fields in registry order, then every account's token balances."""
        s: dict[str, int] = {}
        for part in self.parts.values():
            s.update(part.state())
        for a in self.accounts:
            s[f"agent.{a}.{RISKY}"] = self.balances[(a, RISKY)]
            s[f"agent.{a}.{NUMERAIRE}"] = self.balances[(a, NUMERAIRE)]
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

    # ------------------------------------------------------------------ the run

    def hooks(self) -> EngineHooks:
        """The engine hooks that make the general path drive this world: every part's
        factories; a block context (a part's, or the engine's own) that opens each block."""
        world = self
        factories: dict[str, Any] = {}
        for part in self.parts.values():
            factories.update(part.factories())
        make_context = factories.pop("context", BlockContext)

        def context(block, time, *args, **kwargs) -> BlockContext:
            world.begin_block(block, float(time[0]))
            return make_context(block, time, *args, **kwargs)

        def agent_turn(ctx: BlockContext, name: str | None) -> None:
            world.current_agent = name

        return EngineHooks(context=context, factories=factories, agent_turn=agent_turn)

    def run(self) -> ExactRun:
        """Run the scenario's general path on this world; returns metrics and block records."""
        result = Engine(self.sc, fused=False, hooks=self.hooks()).run()
        self.end_block()
        return ExactRun(result, self.blocks, self.setup)

"""What every venue package fulfils, below the venue packages so each imports it downward.

A venue is one contract kind (`ConstantProductPool`, `PriceFeed`, `PerpMarket`, ...) in one
package `sim/venues/<kind>/` with the same parts:

* `config.py`: its scenario config model(s) (pydantic), and the agent kinds that trade it only;
* `twin.py`: the exact integer twin of the contract (the reference for every formula);
* `batch.py`: the vectorised float twin, many worlds at once;
* `engine.py`: an `EngineSide`, how the fast engine builds and steps it (optional `venue.py`
  holds the engine venue when it is more than the batch twin);
* `exact.py`: an `ExactPart`, the venue in the exact-integer world the chain backend replays;
* `chain.py`: a `ChainPart`, the venue on a real chain (deploy, encode, read state back);
* `spec.py`: its `Venue` spec, the one line the registry (`sim.venues.registry`) lists;
  the package `__init__.py` holds only its docstring, so importing any part of a venue loads
  nothing else.

The exact and chain parts are named lazily in the spec (a function returns the class), so the
fast engine and the models never import the node side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sim.errors import SimError

RISKY = "risky"
"""Token label of the risky asset (WETH-like, 18 decimals on chain)."""
NUMERAIRE = "numeraire"
"""Token label of the numeraire (USDC-like, 6 decimals on chain)."""
DEPLOYER = "deployer"
"""Account label of the deployer (owner of the tokens and of every contract)."""
MAX_UINT = 2**256 - 1
DEADLINE_SLACK = 3600
"""Seconds between a block's timestamp and the deadline its transactions carry."""
SETUP_GAS = 300_000
"""Gas limit of a setup transaction (approvals, mints, seeds)."""


class ExactWorldError(SimError):
    """The exact world cannot run this scenario, or an agent ran out of tokens."""


# --------------------------------------------------------------------------- fast engine


@dataclass
class BuildEnv:
    """What a venue's engine side gets to build one chunk of worlds.

    Attributes:
        sc: the scenario.
        n: worlds in the chunk; offset: index of its first world.
        ref: the reference price before the first step, (n,).
        streams: `streams(name) -> WorldStreams` of the chunk's worlds for a named stream.
        markets: what the venues earlier in the registry built, by scenario field
            (e.g. `markets["pools"]["pool"]`), so a TWAP finds its pool and a perp its feed.
        factories: replacement factories by name (`EngineHooks.factories`): the exact world's
            stand-ins; a side calls `env.factory("perp", PerpVenue)` rather than the class.
        prices: every token's price before the first step, (n,) each, when the price process
            is multi-asset (`sim.processes.MultiGBM`); empty otherwise.
    """

    sc: Any
    n: int
    offset: int
    ref: Any
    streams: Callable[[str], Any]
    markets: dict[str, dict[str, Any]]
    factories: dict[str, Callable[..., Any]] = field(default_factory=dict)
    prices: dict[str, Any] = field(default_factory=dict)

    def factory(self, name: str, default: Callable[..., Any]) -> Callable[..., Any]:
        return self.factories.get(name, default)

    def feed(self, name: str | None) -> Any:
        """A feed (Chainlink-style or TWAP) built earlier, or None for no name."""
        if name is None:
            return None
        for f in ("oracles", "twaps"):
            if name in self.markets.get(f, {}):
                return self.markets[f][name]
        raise KeyError(name)


class EngineSide:
    """How the fast engine builds and steps a venue kind (subclass per venue; stateless).

    `build` returns `{scenario field: {name: object}}` for every field it owns; the objects
    are what agents reach through the block context (`ctx.market(field)[name]`). Each block,
    after the context exists and before any agent acts, `start_block` runs for every venue in
    registry order (a pool accrues its cumulative price, a feed lands reports, an options pool
    settles expired boards). At the end `world_columns` gives the venue's per-world metric
    columns and, when series are recorded, `sample` its per-block columns.
    """

    fields: ClassVar[tuple[str, ...]] = ()
    """Scenario fields whose configs this side builds."""

    def build(self, env: BuildEnv) -> dict[str, dict[str, Any]]:
        return {f: {} for f in self.fields}

    def start_block(self, markets: dict[str, dict[str, Any]], ctx: Any) -> None:
        """Called once per block, in registry order, before the agents act."""

    def world_columns(self, markets: dict[str, dict[str, Any]], ctx: Any) -> dict[str, Any]:
        return {}

    def sample(self, markets: dict[str, dict[str, Any]], ctx: Any) -> dict[str, Any]:
        return {}


# --------------------------------------------------------------------------- exact world


class ExactPart:
    """A venue kind in the exact-integer world (`sim.engine.exact.ExactWorld`).

    The world runs the engine's general path on one world with stand-ins whose every call
    goes to the integer twins and is recorded as a transaction. Each venue kind brings one
    part; protocol, in the order the world calls it:

    1. `check(sc)` (classmethod): raise `ConfigError` naming the first field it cannot run.
       `agent_kinds` names the agent config classes it makes runnable beyond the generic
       ones each part accepts through `accepts(agent)`.
    2. `__init__(world)` for a scenario that uses it (`applies(sc)`), in registry order, so a
       part finds the parts before it (`world.part("cpmm")`). Add every account that sends
       transactions or holds tokens with `world.add_account(label)`: each is funded with
       `world.fund` of both tokens at setup and its token balances are compared every block.
    3. `setup()`: the setup block's actions (block -1 at `world.timestamp`), recorded with
       `world.record(action)`.
    4. `factories()`: `{name: factory}` replacing the fast engine's constructors of its venue
       (see each `EngineSide`), so the agents touch exact stand-ins. A stand-in keeps the
       float object the agents read equal to the exact state and applies each call to the
       integer twin; a call the contract refuses leaves the twin as it was and may still be
       recorded with `"status": 0` (the agent sends it and it reverts).
    5. During the run: `world.record(action)` for every transaction, at `world.timestamp`,
       sent by `world.current_agent` unless the action names another sender; token movements
       through `world.spend(account, token, units)` / `world.credit(account, token, units)`.
    6. `state()`: `{field: int}` of everything its contracts must hold after each block, in a
       fixed order; names start with the part's prefix (e.g. "perp.<name>.").

    Actions are JSON-ready dicts with at least "kind" (unique to the part, e.g. "perp_trade")
    and "status" (1: must succeed, 0: must revert); the venue's `ChainPart` encodes them.
    """

    name: ClassVar[str] = ""
    """The venue's name (the registry key)."""
    agent_kinds: ClassVar[tuple[type, ...]] = ()
    """Agent config classes this part makes runnable on chain."""
    scenario_fields: ClassVar[tuple[str, ...]] = ()
    """Scenario fields whose presence means the scenario uses this part."""

    def __init__(self, world: Any):
        self.world = world

    @classmethod
    def applies(cls, sc: Any) -> bool:
        return any(getattr(sc, f, None) for f in cls.scenario_fields)

    @classmethod
    def check(cls, sc: Any) -> None:
        """Raise ConfigError naming the first part of `sc` this kind cannot run."""

    def setup(self) -> None:
        """Record the setup block's actions (`world.record`)."""

    def factories(self) -> dict[str, Callable[..., Any]]:
        """Engine factories this part replaces with exact stand-ins."""
        return {}

    def state(self) -> dict[str, int]:
        return {}


# --------------------------------------------------------------------------- chain


Tx = tuple[str, str | None, str, int]
"""(sender, to (None: create), calldata, gas limit)"""
Read = tuple[str, str, list]
"""(to, calldata, [(field, word index) or (field, word index, True)]): one eth_call and the
state fields of its words; a third element True reads the word as an int256."""
CodeFn = Callable[[str, list[str], list], str]
"""code(contract name, constructor ABI types, args) -> initcode (0x hex)."""
Creation = tuple[str, Callable[[dict[str, str], CodeFn], str]]
"""(label, initcode_fn(addresses, code) -> 0x initcode) of a contract to create."""


@dataclass
class Layout:
    """Where a scenario lives on the chain.

    Attributes:
        deployer: the deployer's address.
        tokens: token label ("risky", "numeraire") -> address.
        contracts: every created contract by label ("router", "pool:<name>", "feed:<name>",
            "perp:<name>", ...) -> address.
        agents: account label (agents' names, parts' accounts such as a feed's transmitter)
            -> address.
        setup_ts: timestamp of the setup block.
        created_at: block timestamp of each creation, by label.
    """

    deployer: str
    tokens: dict[str, str]
    contracts: dict[str, str]
    agents: dict[str, str]
    setup_ts: int
    created_at: dict[str, int] = field(default_factory=dict)

    @property
    def risky_is_token0(self) -> bool:
        return int(self.tokens[RISKY], 16) < int(self.tokens[NUMERAIRE], 16)

    def token01(self) -> tuple[str, str]:
        t = self.tokens
        return (t[RISKY], t[NUMERAIRE]) if self.risky_is_token0 else (t[NUMERAIRE], t[RISKY])

    def sender(self, label: str) -> str:
        """Address of an account label or the deployer."""
        if label == DEPLOYER:
            return self.deployer
        return self.agents[label]

    def labelled(self, prefix: str) -> dict[str, str]:
        """Contracts whose label is "<prefix>:<name>", by name."""
        head = prefix + ":"
        return {k[len(head) :]: v for k, v in self.contracts.items() if k.startswith(head)}


class ChainPart:
    """A venue kind on a real chain: the counterpart of its `ExactPart`.

    The chain backend makes one instance per run with `ChainPart(sc)`, in registry order, for
    every venue the scenario uses. Protocol, in the order of a run:

    1. `creations(sc)`: the contracts to create, as `(label, initcode_fn)` with
       `initcode_fn(addresses, code) -> 0x initcode`. `addresses` maps every label of the run
       to its (predicted) address: "risky", "numeraire" and every part's labels;
       `code(contract, abi_types, args)` builds initcode from the compiled artifact. They are
       created by the deployer, one per block, and land in `layout.contracts[label]`.
    2. `setup_txs(layout, world)`: transactions of the setup block, after every account was
       funded with `world.fund` of both tokens: approvals of the part's contracts, tokens the
       deployer needs, ... They must not change any compared state field beyond what the
       exact part's setup actions account for.
    3. Then the exact part's setup actions and, each block, its actions through
       `encode(action, layout, timestamp) -> Tx` for every kind in `kinds`.
    4. `reads(layout, world) -> [Read]`: eth_calls whose words give exactly the fields of
       `ExactPart.state()` (any order); a field entry `(name, index, True)` reads an int256.

    Every address that sends must be an account of the world (`world.add_account`) or the
    deployer: the backend funds (ETH), impersonates and primes their nonces.
    """

    kinds: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, sc: Any):
        self.sc = sc

    def creations(self, sc: Any) -> list[Creation]:
        return []

    def setup_txs(self, layout: Layout, world: Any) -> list[Tx]:
        return []

    def encode(self, action: dict[str, Any], layout: Layout, timestamp: int) -> Tx:
        raise SimError(f"{type(self).__name__} cannot encode {action['kind']!r}")

    def reads(self, layout: Layout, world: Any) -> list[Read]:
        return []


# --------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class Venue:
    """One venue kind: its contract, scenario fields, agents and parts.

    Attributes:
        name: registry key, prefix of its state fields ("cpmm", "perp", ...).
        contract: the contract it models (`contracts/<contract>.vy`, or a genuine artifact).
        fields: scenario fields it owns, with each field's config model and description, in
            the order the engine builds them: `((field, Config, doc), ...)`.
        engine: its `EngineSide`.
        exact: returns its `ExactPart` class (imported on first use).
        chain: returns its `ChainPart` class (imported on first use: the node side).
        agents: agent config classes that trade only this venue (with `build` to make the
            agent), added to the scenario's agent kinds.
    """

    name: str
    contract: str
    fields: tuple[tuple[str, type, str], ...]
    engine: EngineSide
    exact: Callable[[], type[ExactPart]]
    chain: Callable[[], type[ChainPart]]
    agents: Sequence[type] = ()

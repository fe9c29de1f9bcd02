"""Chain backend: a scenario's agents driving the real contracts on anvil, block by block,
with exact parity against the simulator's exact world.

The chain (`chain_for_run`): by default `ethereum:mainnet-fork:foundry`, a fork of the local
upstream that `ammlab chain up` runs (started if nothing answers), as a plain anvil; or Ape's
provider for `--network ECOSYSTEM:NETWORK:PROVIDER`; or a running anvil at `--rpc URL`.

Flow of `run_on_chain`:

1. deploy, over raw JSON-RPC from the compiled artifacts (`.build/__local__.json`, written by
   `ape compile`): a risky (WETH-like, 18 decimals) and a numeraire (USDC-like, 6 decimals)
   ERC20, the router, one `PriceFeed` per scenario oracle, one `ConstantProductPool` per
   scenario pool with its fee, then the parts' contracts (perp markets, options pools, ...);
2. run the scenario's single world in `sim.exact_world.ExactWorld` (the engine's own agents on
   exact integer twins): it yields every block's transactions and the state they must leave;
3. setup block: seed each pool at its TVL and the scenario's initial price, first feed rounds,
   fund and approve every account's address, the parts' setup; then `anvil_dumpState` (the
   replay's starting point);
4. each block: the recorded actions as real transactions (router swaps with amountOutMin = the
   exact prediction, addLiquidity / removeLiquidity, the transmitter's `transmit`) sent in one
   batched request in the scenario's order (`keeper.blockbuilder`), mined at the block's
   timestamp; then one batched read of receipts and state. Parity covers every receipt's
   status, pool reserves, blockTimestampLast, LP supply, cumulative prices, each feed's latest
   round, answer and updatedAt, every account's token and LP balances, and the parts' fields
   (perp positions, open interest, funding index, insurance fund; options pool state). The
   first difference stops the run and writes a replay bundle; `replay(bundle)` re-runs it and
   reproduces it.

Venue kinds beyond pools and feeds plug in as a `ChainPart` (the counterpart of a
`sim.exact_world.ExactPart`): extra contracts, setup transactions, an encoder for its action
kinds and the reads of its state fields.

Addresses: accounts send from addresses derived from their labels (anvil impersonates them),
gas price 0 on a zero base fee, so balances move only by what the contracts do.
"""

from __future__ import annotations

import functools
import importlib
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import click
import rlp
import yaml
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from keeper import chain as chainmod
from keeper.blockbuilder import BlockBuilder, Receipt
from keeper.errors import ChainError, KeeperError
from sim.atomic import atomic_write_json
from sim.errors import SimError
from sim.exact_world import (
    DEPLOYER,
    NUMERAIRE,
    RISKY,
    BlockRecord,
    ExactPart,
    ExactWorld,
    parts,
    transmitter_of,
)
from sim.scenario import Scenario, load_scenario, scenario_from_dict

BUNDLE_FORMAT = "ammlab-replay/2"
BASE_EPOCH = 2_000_000_000
"""Earliest setup timestamp: a fresh anvil (replay) starts below it, so recorded blocks stay
in its future."""
DEADLINE_SLACK = 3600
TX_GAS = {
    "swap": 250_000,
    "mint": 350_000,
    "burn": 300_000,
    "transmit": 200_000,
    "lp_transfer": 100_000,
}
"""Gas limit per transaction kind (actual use is in the receipts)."""
SETUP_GAS = 300_000
ETH_BALANCE = 10**24
"""Wei given to every sending address (gas prices are a few wei, to order blocks)."""
MAX_UINT = 2**256 - 1


class ParityError(KeeperError):
    """The chain and the exact world disagree; carries the divergence and the bundle path."""

    def __init__(self, divergence: Divergence, bundle: Path | None):
        where = f"; replay bundle: {bundle}" if bundle else ""
        super().__init__(f"{divergence.describe()}{where}")
        self.divergence = divergence
        self.bundle = bundle


# --------------------------------------------------------------------------- ABI helpers


@functools.cache
def _sel(signature: str) -> str:
    """4-byte selector of `signature` (cached: every transaction of a run needs one)."""
    return keccak(text=signature)[:4].hex()


def _word(v: int | str) -> str:
    if isinstance(v, str):
        return v[2:].lower().rjust(64, "0")
    return f"{v % 2**256:064x}"  # two's complement for int256


def calldata(signature: str, *args: int | str) -> str:
    """0x calldata of a function taking only static words (uint, int, address)."""
    return "0x" + _SEL.setdefault(signature, _sel(signature)) + "".join(_word(a) for a in args)


_SEL: dict[str, str] = {}


def _words(hexdata: str) -> list[int]:
    h = hexdata[2:]
    return [int(h[i : i + 64], 16) for i in range(0, len(h), 64)]


def signed(word: int) -> int:
    """An int256 read back from its 256-bit word."""
    return word - 2**256 if word >= 2**255 else word


def address_of(label: str) -> str:
    """A stable address for a named account (agents, deployer, transmitters)."""
    return to_checksum_address(keccak(text=f"ammlab:{label}")[-20:])


def create_address(sender: str, nonce: int) -> str:
    """Address of the contract `sender` creates with `nonce` (CREATE)."""
    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[-20:])


def load_artifacts(root: Path | None = None) -> dict[str, dict[str, Any]]:
    """Compiled contract types (abi, deploymentBytecode) from Ape's build folder."""
    path = (root or chainmod.PROJECT_ROOT) / ".build" / "__local__.json"
    try:
        types = json.loads(path.read_text())["contractTypes"]
    except (OSError, ValueError, KeyError) as err:
        raise ChainError(
            f"no compiled contracts at {path}: run `ape compile` in the checkout"
        ) from err
    return types


# --------------------------------------------------------------------------- layout


Tx = tuple[str, str | None, str, int]
"""(sender, to (None: create), calldata, gas limit)"""
Read = tuple[str, str, list]
"""(to, calldata, [(field, word index) or (field, word index, True)]): one eth_call and the
state fields of its words; a third element True reads the word as an int256."""
CodeFn = Callable[[str, list[str], list], str]
"""code(contract name, constructor ABI types, args) -> initcode (0x hex)."""


@dataclass
class Layout:
    """Where the scenario lives on the chain."""

    deployer: str
    tokens: dict[str, str]
    router: str
    feeds: dict[str, str]
    pools: dict[str, str]
    agents: dict[str, str]
    """Account label (agents' names and parts' accounts) -> address."""
    transmitters: dict[str, str]
    setup_ts: int
    contracts: dict[str, str] = field(default_factory=dict)
    """Parts' contracts: label (e.g. "perp:<name>") -> address."""
    created_at: dict[str, int] = field(default_factory=dict)
    """Block timestamp of each creation, by label (the core's and the parts')."""

    @property
    def risky_is_token0(self) -> bool:
        return int(self.tokens[RISKY], 16) < int(self.tokens[NUMERAIRE], 16)

    def token01(self) -> tuple[str, str]:
        t = self.tokens
        return (t[RISKY], t[NUMERAIRE]) if self.risky_is_token0 else (t[NUMERAIRE], t[RISKY])

    def sender(self, label: str) -> str:
        """Address of an account label, the deployer or a feed's transmitter."""
        if label == DEPLOYER:
            return self.deployer
        return self.agents[label]


class ChainPart:
    """Chain counterpart of a `sim.exact_world.ExactPart` (a plug-in venue kind).

    The exact part names it as `chain_part = "module:Class"`; the backend imports it and
    makes one instance per run with `ChainPart(sc)`. Protocol, in the order of a run:

    1. `creations(sc)`: the contracts to create, as `(label, initcode_fn)` with
       `initcode_fn(addresses, code) -> 0x initcode`. `addresses` maps every label of the run
       to its (predicted) address: "risky", "numeraire", "router", "feed:<oracle>",
       "pool:<pool>" and the parts' own labels; `code(contract, abi_types, args)` builds
       initcode from the compiled artifact. They are created by the deployer, one per block,
       after the core's, and land in `layout.contracts[label]`.
    2. `setup_txs(layout, world)`: transactions sent in the setup block after the core has
       seeded pools, landed first feed rounds and minted `world.fund` to every account (and
       approved the router): approvals of the part's contracts, tokens the deployer needs
       (e.g. `mint(deployer, amount)` on a token, whose owner is the deployer), etc. They
       must not change any compared state field beyond what the exact part's setup actions
       account for.
    3. Then the exact part's setup actions (`ExactPart.setup`) and, each block, its actions
       through `encode(action, layout, timestamp) -> Tx` for every kind in `kinds`;
       `layout.sender(label)` maps an account label to its address.
    4. `reads(layout, world) -> [Read]`: eth_calls whose words give exactly the fields of
       `ExactPart.state()` (any order; the comparison follows the exact state's order); a
       field entry `(name, index, True)` reads an int256.

    Every address that sends must be an account of the world (`world.add_account`) or the
    deployer: the backend funds (ETH), impersonates and primes their nonces.
    """

    kinds: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, sc: Scenario):
        self.sc = sc

    def creations(self, sc: Scenario) -> list[tuple[str, Callable[[dict[str, str], CodeFn], str]]]:
        return []

    def setup_txs(self, layout: Layout, world: ExactWorld) -> list[Tx]:
        return []

    def encode(self, action: dict[str, Any], layout: Layout, timestamp: int) -> Tx:
        raise ChainError(f"{type(self).__name__} cannot encode {action['kind']!r}")

    def reads(self, layout: Layout, world: ExactWorld) -> list[Read]:
        return []


def chain_parts(sc: Scenario) -> list[ChainPart]:
    """The chain parts of the exact parts `sc` uses, in the exact world's order."""
    out = []
    for cls in parts():
        if cls.applies(sc):
            out.append(load_chain_part(cls)(sc))
    return out


def load_chain_part(cls: type[ExactPart]) -> type[ChainPart]:
    """Import the chain counterpart named by `cls.chain_part` ("module:Class")."""
    mod, _, name = cls.chain_part.partition(":")
    try:
        return getattr(importlib.import_module(mod), name)
    except (ImportError, AttributeError) as err:
        raise ChainError(
            f"exact part {cls.name!r}: chain part {cls.chain_part!r} not found ({err})"
        ) from err


def deploy(builder: BlockBuilder, sc: Scenario, cparts: list[ChainPart] | None = None) -> Layout:
    """Deploy tokens, router, feeds, pools and the parts' contracts from the deployer's
    address; returns the layout (nothing seeded yet; `agents` holds the scenario's agents,
    the session adds the parts' accounts)."""
    art = load_artifacts()
    deployer = address_of("deployer")
    rpc = builder.rpc
    rpc.one("anvil_setBalance", [deployer, hex(ETH_BALANCE)])
    builder.prime([deployer])
    nonce = builder._nonces[deployer]
    latest = int(rpc.one("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    ts = max(latest + 1, BASE_EPOCH)

    def code(name: str, types: list[str], args: list) -> str:
        return art[name]["deploymentBytecode"]["bytecode"] + abi_encode(types, args).hex()

    creations: list[tuple[str, Callable[[dict[str, str], CodeFn], str]]] = []
    erc20 = ["string", "string", "uint8", "address"]
    creations.append(
        (RISKY, lambda a, c: c("ERC20", erc20, ["Wrapped Ether (ammlab)", "WETH", 18, deployer]))
    )
    creations.append(
        (NUMERAIRE, lambda a, c: c("ERC20", erc20, ["USD Coin (ammlab)", "USDC", 6, deployer]))
    )
    creations.append(("router", lambda a, c: c("Router", [], [])))
    transmitters = {o.name: address_of(transmitter_of(o.name)) for o in sc.oracles}
    for o in sc.oracles:
        args = [8, f"{o.name} (ammlab)", transmitters[o.name]]
        creations.append(
            (
                f"feed:{o.name}",
                lambda a, c, args=args: c("PriceFeed", ["uint8", "string", "address"], args),
            )
        )
    for p in sc.pools:
        creations.append(
            (
                f"pool:{p.name}",
                lambda a, c, fee=int(p.fee_bps): c(
                    "ConstantProductPool",
                    ["address", "address", "uint256"],
                    [a[RISKY], a[NUMERAIRE], fee],
                ),
            )
        )
    core = len(creations)
    for part in cparts or []:
        creations.extend(part.creations(sc))
    addresses = {
        label: create_address(deployer, nonce + i) for i, (label, _) in enumerate(creations)
    }
    if len(addresses) != len(creations):
        raise ChainError("two contracts of the run share a label: rename one part's contract")
    created_at: dict[str, int] = {}
    # One creation per block: each fits any block gas limit.
    for label, make in creations:
        initcode = make(addresses, code)
        gas = int(rpc.one("eth_estimateGas", [{"from": deployer, "data": initcode}]), 16)
        builder.add(deployer, None, initcode, gas * 12 // 10 + 50_000)
        receipts, _ = builder.mine_and_read(ts, [])
        if receipts[0].status != 1:
            raise ChainError(f"deploying {label} reverted")
        created_at[label] = ts
        ts += 1
    codes = rpc.many([("eth_getCode", [a, "latest"]) for a in addresses.values()])
    for label, c in zip(addresses, codes, strict=True):
        if c in ("0x", "0x0", None):
            raise ChainError(f"no code at the predicted address of {label}")
    return Layout(
        deployer=deployer,
        tokens={RISKY: addresses[RISKY], NUMERAIRE: addresses[NUMERAIRE]},
        router=addresses["router"],
        feeds={o.name: addresses[f"feed:{o.name}"] for o in sc.oracles},
        pools={p.name: addresses[f"pool:{p.name}"] for p in sc.pools},
        agents={a.name: address_of(f"agent:{a.name}") for a in sc.agents},
        transmitters=transmitters,
        setup_ts=ts,
        contracts={label: addresses[label] for label, _ in creations[core:]},
        created_at=created_at,
    )


# --------------------------------------------------------------------------- transactions


def setup_txs(layout: Layout, world: ExactWorld, cparts: list[ChainPart]) -> list[Tx]:
    """The setup block: the core's seeds and first feed rounds as the exact world did them;
    every account funded and approving the router (LP holders: their LP too); then each
    part's setup transactions and its recorded setup actions."""
    t0, t1 = layout.token01()
    dep = layout.deployer
    txs: list[Tx] = []
    by_kind = _encoders(cparts)
    part_actions = []
    for a in world.setup.actions:
        if a["kind"] == "seed":
            pool = layout.pools[a["pool"]]
            txs.append((dep, t0, calldata("mint(address,uint256)", pool, a["amount0"]), SETUP_GAS))
            txs.append((dep, t1, calldata("mint(address,uint256)", pool, a["amount1"]), SETUP_GAS))
            txs.append((dep, pool, calldata("mint(address)", dep), SETUP_GAS))
        elif a["kind"] == "transmit":
            txs.append(encode_action(layout, a, layout.setup_ts, by_kind))
        else:
            part_actions.append(a)
    for name, addr in layout.agents.items():
        for tok in (RISKY, NUMERAIRE):
            token = layout.tokens[tok]
            txs.append(
                (dep, token, calldata("mint(address,uint256)", addr, world.fund[tok]), SETUP_GAS)
            )
            txs.append(
                (addr, token, calldata("approve(address,uint256)", layout.router, MAX_UINT),
                 SETUP_GAS)
            )  # fmt: skip
        if name in world.lp_agents:
            pool = layout.pools[world.lp_agents[name]]
            txs.append(
                (addr, pool, calldata("approve(address,uint256)", layout.router, MAX_UINT),
                 SETUP_GAS)
            )  # fmt: skip
    for part in cparts:
        txs.extend(part.setup_txs(layout, world))
    txs.extend(encode_action(layout, a, layout.setup_ts, by_kind) for a in part_actions)
    return txs


def _encoders(cparts: list[ChainPart]) -> dict[str, ChainPart]:
    out: dict[str, ChainPart] = {}
    for part in cparts:
        for k in part.kinds:
            out[k] = part
    return out


def encode_action(
    layout: Layout, a: dict, timestamp: int, by_kind: dict[str, ChainPart] | None = None
) -> Tx:
    """One recorded action as its transaction (the core's kinds here, the parts' by theirs)."""
    kind = a["kind"]
    deadline = timestamp + DEADLINE_SLACK
    if kind == "transmit":
        feed = a["feed"]
        data = calldata("transmit(int256)", a["answer"])
        return (layout.transmitters[feed], layout.feeds[feed], data, TX_GAS[kind])
    if by_kind and kind in by_kind:
        return by_kind[kind].encode(a, layout, timestamp)
    if kind not in ("swap", "mint", "burn", "lp_transfer"):
        raise ChainError(f"no chain part encodes action kind {kind!r}")
    agent = layout.agents[a["agent"]]
    pool = layout.pools[a["pool"]]
    if kind == "lp_transfer":
        data = calldata("transfer(address,uint256)", agent, a["liquidity"])
        return (layout.sender(a["from"]), pool, data, TX_GAS[kind])
    if kind == "swap":
        data = calldata(
            "swapExactTokensForTokens(address,address,uint256,uint256,address,uint256)",
            pool, layout.tokens[a["token_in"]], a["amount_in"], a["min_out"], agent, deadline,
        )  # fmt: skip
    elif kind == "mint":
        data = calldata(
            "addLiquidity(address,uint256,uint256,uint256,uint256,address,uint256)",
            pool, a["amount0"], a["amount1"], a["min0"], a["min1"], agent, deadline,
        )  # fmt: skip
    else:
        data = calldata(
            "removeLiquidity(address,uint256,uint256,uint256,address,uint256)",
            pool, a["liquidity"], a["min0"], a["min1"], agent, deadline,
        )  # fmt: skip
    return (agent, layout.router, data, TX_GAS[kind])


# --------------------------------------------------------------------------- state reads


def state_reads(
    layout: Layout, world: ExactWorld, cparts: list[ChainPart] | None = None
) -> list[Read]:
    """The eth_calls that give every field of `ExactWorld.state`."""
    reads: list[Read] = []
    for name, pool in layout.pools.items():
        f = f"pool.{name}."
        reads.append(
            (
                pool,
                calldata("getReserves()"),
                [(f + "reserve0", 0), (f + "reserve1", 1), (f + "blockTimestampLast", 2)],
            )
        )
        for fn in ("totalSupply", "price0CumulativeLast", "price1CumulativeLast"):
            reads.append((pool, calldata(f"{fn}()"), [(f + fn, 0)]))
    for name, feed in layout.feeds.items():
        f = f"feed.{name}."
        reads.append(
            (
                feed,
                calldata("latestRoundData()"),
                [(f + "roundId", 0), (f + "answer", 1, True), (f + "updatedAt", 3)],
            )
        )
    for name, addr in layout.agents.items():
        for tok in (RISKY, NUMERAIRE):
            data = calldata("balanceOf(address)", addr)
            reads.append((layout.tokens[tok], data, [(f"agent.{name}.{tok}", 0)]))
    for name, pool in world.lp_agents.items():
        data = calldata("balanceOf(address)", layout.agents[name])
        reads.append((layout.pools[pool], data, [(f"agent.{name}.lp.{pool}", 0)]))
    for part in cparts or []:
        reads.extend(part.reads(layout, world))
    return reads


def decode_state(reads: list[Read], values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for (_to, _data, fields), v in zip(reads, values, strict=True):
        w = _words(v)
        for name, i, *is_signed in fields:
            out[name] = signed(w[i]) if is_signed and is_signed[0] else w[i]
    return out


# --------------------------------------------------------------------------- parity


@dataclass
class Divergence:
    """The first difference between chain and exact world."""

    block: int
    field: str
    expected: int
    chain: int
    timestamp: int

    def describe(self) -> str:
        return (
            f"parity lost at block {self.block} (t={self.timestamp}): {self.field}: "
            f"exact world {self.expected}, chain {self.chain}"
        )


def _label(i: int, a: dict) -> str:
    who = a.get("agent") or a.get("feed")
    return f"tx{i}.{a['kind']}.{who}.status"


def compare(
    rec: BlockRecord, receipts: list[Receipt] | None, chain_state: dict[str, int] | None
) -> Divergence | None:
    """First receipt status, then first state field, that differs; None if all agree."""
    for i, (a, r) in enumerate(zip(rec.actions, receipts or [], strict=receipts is not None)):
        if r.status != a["status"]:
            return Divergence(rec.block, _label(i, a), a["status"], r.status, rec.timestamp)
    if chain_state is not None:
        for k, v in rec.state.items():
            if chain_state.get(k) != v:
                return Divergence(rec.block, k, v, chain_state.get(k, -1), rec.timestamp)
    return None


@dataclass
class ChainReport:
    """What a chain run did."""

    blocks: int = 0
    transactions: int = 0
    gas: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    """Gas used per transaction kind ('swap', 'swap_reverted', 'mint', 'burn', 'transmit')."""
    seconds: float = 0.0
    block_seconds: list[float] = field(default_factory=list)
    divergence: Divergence | None = None

    def gas_summary(self) -> dict[str, dict[str, float]]:
        return {
            k: {"count": len(v), "total": sum(v), "mean": sum(v) / len(v), "max": max(v)}
            for k, v in sorted(self.gas.items())
            if v
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "blocks": self.blocks,
            "transactions": self.transactions,
            "seconds": self.seconds,
            "tx_per_s": self.transactions / self.seconds if self.seconds else None,
            "blocks_per_s": self.blocks / self.seconds if self.seconds else None,
            "gas": self.gas_summary(),
            "parity": "ok" if self.divergence is None else asdict(self.divergence),
        }


class ChainSession:
    """A deployed, seeded scenario on one anvil, ready to run block records."""

    def __init__(self, url: str, sc: Scenario, world_kwargs: dict | None = None):
        self.url = url
        self.sc = sc
        self.builder = BlockBuilder.connect(url)
        self.parts = chain_parts(sc)
        self.layout = deploy(self.builder, sc, self.parts)
        self.world = ExactWorld(
            sc,
            risky_is_token0=self.layout.risky_is_token0,
            setup_ts=self.layout.setup_ts,
            created_at=self.layout.created_at,
            **(world_kwargs or {}),
        )
        self.layout.agents = {a: address_of(f"agent:{a}") for a in self.world.accounts}
        self._by_kind = _encoders(self.parts)
        self.reads = state_reads(self.layout, self.world, self.parts)
        senders = self.senders()
        self.builder.rpc.many([("anvil_setBalance", [s, hex(ETH_BALANCE)]) for s in senders])
        self.builder.prime(senders)
        for tx in setup_txs(self.layout, self.world, self.parts):
            self.builder.add(*tx)
        receipts, values = self.builder.mine_and_read(
            self.layout.setup_ts, self._raw_reads(), ordered=False
        )
        bad = [r for r in receipts if r.status != 1]
        if bad:
            raise ChainError(f"setup transaction {bad[0].tx_hash} reverted")
        div = compare(self.world.setup, None, decode_state(self.reads, values))
        if div is not None:
            raise ChainError(f"setup state differs from the exact world: {div.describe()}")
        self.state_dump: str = self.builder.rpc.one("anvil_dumpState", [])

    def senders(self) -> list[str]:
        return [self.layout.deployer, *self.layout.agents.values(),
                *self.layout.transmitters.values()]  # fmt: skip

    def encode(self, rec: BlockRecord) -> list[Tx]:
        """The block's actions as transactions, in order."""
        return [encode_action(self.layout, a, rec.timestamp, self._by_kind) for a in rec.actions]

    def _raw_reads(self) -> list[tuple[str, str]]:
        return [(to, data) for to, data, _ in self.reads]

    def snapshot(self) -> str:
        return self.builder.rpc.one("evm_snapshot", [])

    def revert(self, snap: str) -> None:
        """Back to a snapshot (nonces too) for another run on the same chain."""
        if not self.builder.rpc.one("evm_revert", [snap]):
            raise ChainError(f"evm_revert({snap}) failed")
        self.builder._nonces.clear()
        self.builder.prime(self.senders())

    def run_blocks(
        self,
        records: list[BlockRecord],
        check_every: int = 1,
        on_block: Callable[[int, float], None] | None = None,
    ) -> ChainReport:
        """Send, mine and check each record; stops at the first divergence."""
        return run_records(self.builder, self.encode, self.reads, records, check_every, on_block)


def run_records(
    builder: BlockBuilder,
    encode: Callable[[BlockRecord], list[Tx]],
    reads: list[Read],
    records: list[BlockRecord],
    check_every: int = 1,
    on_block: Callable[[int, float], None] | None = None,
    check_blocks: set[int] | None = None,
) -> ChainReport:
    """Send each block's transactions (`encode(record)`), mine it at its timestamp and
    compare (every `check_every` blocks, always the last; or only `check_blocks` when given)."""
    report = ChainReport()
    raw = [(to, data) for to, data, _ in reads]
    start = time.perf_counter()
    last = records[-1].block if records else -1
    for rec in records:
        t0 = time.perf_counter()
        for tx in encode(rec):
            builder.add(*tx)
        if check_blocks is not None:
            check = rec.block in check_blocks
        else:
            check = rec.block % check_every == 0 or rec.block == last
        receipts, values = builder.mine_and_read(rec.timestamp, raw if check else [])
        for a, r in zip(rec.actions, receipts, strict=True):
            kind = a["kind"] + ("_reverted" if a["status"] == 0 else "")
            report.gas[kind].append(r.gas_used)
        report.blocks += 1
        report.transactions += len(receipts)
        div = compare(rec, receipts, decode_state(reads, values) if check else None)
        report.block_seconds.append(time.perf_counter() - t0)
        if on_block is not None:
            on_block(rec.block, report.block_seconds[-1])
        if div is not None:
            report.divergence = div
            break
    report.seconds = time.perf_counter() - start
    return report


# --------------------------------------------------------------------------- bundles


def write_bundle(
    bundle_dir: Path,
    sc: Scenario,
    session: ChainSession,
    records: list[BlockRecord],
    divergence: Divergence,
) -> Path:
    """Write scenario.yaml, bundle.json (layout, each block's actions and their transactions
    up to the divergent block, the state reads, the expected state there, the divergence) and
    state.json (the anvil dump at the start). The replay needs neither the simulator nor the
    parts: the transactions and reads are in the bundle."""
    path = bundle_dir / f"{sc.name}-seed{sc.seed}-block{divergence.block}"
    path.mkdir(parents=True, exist_ok=True)
    (path / "scenario.yaml").write_text(yaml.safe_dump(sc.model_dump(mode="json"), sort_keys=False))
    upto = [r for r in records if r.block <= divergence.block]
    blocks = [
        {
            "block": r.block,
            "timestamp": r.timestamp,
            "actions": r.actions,
            "txs": [list(tx) for tx in session.encode(r)],
        }
        for r in upto
    ]
    bundle = {
        "format": BUNDLE_FORMAT,
        "scenario": sc.name,
        "seed": sc.seed,
        "block": divergence.block,
        "layout": asdict(session.layout),
        "reads": [[to, data, [list(f) for f in fields]] for to, data, fields in session.reads],
        "blocks": blocks,
        # Pairs, not a mapping: the order of the fields is the order of the comparison.
        "expected_state": [[k, v] for k, v in upto[-1].state.items()],
        "divergence": asdict(divergence),
    }
    atomic_write_json(path / "bundle.json", bundle)
    atomic_write_json(
        path / "state.json",
        {"chain_id": chainmod.chain_id_of(session.url), "state": session.state_dump},
    )
    return path


def _read_bundle(bundle: Path) -> tuple[Path, dict]:
    bundle = Path(bundle)
    path = bundle if bundle.is_dir() else bundle.parent
    try:
        data = json.loads((path / "bundle.json").read_text())
    except (OSError, ValueError) as err:
        raise ChainError(f"{path}: not a replay bundle ({err})") from err
    if data.get("format") != BUNDLE_FORMAT:
        raise ChainError(
            f"{path}: not a replay bundle of this version ({BUNDLE_FORMAT}): "
            "re-run the scenario to write a new one"
        )
    return path, data


def replay_bundle(bundle: Path | str, url: str | None = None) -> Divergence | None:
    """Load the bundle's state into an anvil (a private one unless `url`), re-send its blocks'
    transactions and compare at the divergent block; returns the divergence found there (None
    if the chain now agrees with the recorded expectation)."""
    path, data = _read_bundle(Path(bundle))
    dump = json.loads((path / "state.json").read_text())
    with anvil(url) as rpc_url:
        builder = BlockBuilder.connect(rpc_url)
        builder.rpc.one("anvil_loadState", [dump["state"]])
        builder.rpc.one("anvil_setNextBlockBaseFeePerGas", ["0x0"])
        reads = [(to, d, [tuple(f) for f in fields]) for to, d, fields in data["reads"]]
        records = [BlockRecord(b["block"], b["timestamp"], b["actions"]) for b in data["blocks"]]
        txs = {b["block"]: [tuple(tx) for tx in b["txs"]] for b in data["blocks"]}
        records[-1].state = dict(data["expected_state"])
        report = run_records(
            builder, lambda r: txs[r.block], reads, records, check_blocks={data["block"]}
        )
    return report.divergence


# --------------------------------------------------------------------------- runs


@contextmanager
def anvil(url: str | None) -> Iterator[str]:
    """`url` as given, or a private plain anvil (no tracing) for the duration."""
    if url is not None:
        yield url
        return
    home = Path(tempfile.mkdtemp(prefix="ammlab-chain-"))
    # --prune-history: anvil's evm_mine otherwise slows with chain length (measured 1.9 to 9.8
    # ms per empty block over 3,000 blocks); parity only reads the latest state.
    record = chainmod.start_upstream(
        port=chainmod.free_port(), home=home, extra_args=("--prune-history",)
    )
    try:
        yield record.url
    finally:
        chainmod.stop_upstream(home)


@dataclass
class ChainRun:
    session: ChainSession
    result: Any
    """RunResult of the exact world (the fast engine's columns for this world)."""
    records: list[BlockRecord]
    report: ChainReport
    bundle: Path | None = None


def run_on_chain(
    sc: Scenario,
    url: str,
    bundle_dir: Path | None = None,
    check_every: int = 1,
    world_kwargs: dict | None = None,
    on_block: Callable[[int, float], None] | None = None,
) -> ChainRun:
    """Deploy, simulate the exact world, run every block on the chain with parity checks.

    A divergence ends the run (report.divergence) and, with `bundle_dir`, writes a bundle.
    """
    session = ChainSession(url, sc, world_kwargs)
    exact = session.world.run()
    report = session.run_blocks(exact.blocks, check_every, on_block)
    bundle = None
    if report.divergence is not None and bundle_dir is not None:
        bundle = write_bundle(bundle_dir, sc, session, exact.blocks, report.divergence)
    return ChainRun(session, exact.result, exact.blocks, report, bundle)


def cut_scenario(sc: Scenario, blocks: int | None) -> Scenario:
    """The scenario with `blocks` accounted blocks (after its warm-up), one world."""
    data = sc.model_dump(mode="json")
    data["paths"] = 1
    if blocks is not None:
        data["blocks"]["n_blocks"] = blocks
    return scenario_from_dict(data)


def write_outputs(out_dir: Path, sc: Scenario, run: ChainRun, network: str | None = None) -> Path:
    """worlds table and summary.json as the fast engine writes them, plus the chain's report."""
    from sim.results import parquet_available, write_summary, write_table

    out_dir.mkdir(parents=True, exist_ok=True)
    fmt = "parquet" if parquet_available() else "csv"
    write_table(out_dir / "worlds", run.result.worlds, fmt)
    summary = {
        "scenario": sc.model_dump(mode="json"),
        "engine_path": "chain",
        "paths": 1,
        "seed": sc.seed,
        "metrics": run.result.summary,
        "chain": {
            "network": network,
            **run.report.as_json(),
            "bundle": str(run.bundle) if run.bundle else None,
            "layout": asdict(run.session.layout),
        },
    }
    return write_summary(out_dir / "summary.json", summary)


DEFAULT_NETWORK = "ethereum:mainnet-fork:foundry"
"""What a chain run drives by default: a fork of the local upstream (mainnet's stand-in)."""


@contextmanager
def local_upstream() -> Iterator[str]:
    """The upstream RPC forks read (`keeper.chain.upstream_url`); when nothing answers at a
    local URL, the upstream is started there (empty, as `ammlab chain up --no-deploy`) and
    stopped again afterwards."""
    url = chainmod.upstream_url()
    try:
        chainmod.chain_id_of(url, timeout=2.0)
    except ChainError:
        if not chainmod.is_local_url(url):
            raise ChainError(
                f"upstream RPC {url} is unreachable: check {chainmod.UPSTREAM_ENV} (it points at "
                "a remote RPC), or pass --rpc URL"
            ) from None
        port = urlparse(url).port or chainmod.DEFAULT_PORT
        record = chainmod.start_upstream(port=port)
        try:
            yield record.url
        finally:
            chainmod.stop_upstream()
        return
    yield url


@contextmanager
def fork_of_upstream() -> Iterator[str]:
    """A fork of the local upstream, the chain `ethereum:mainnet-fork:foundry` names: a
    plain anvil (`--fork-url UPSTREAM`, chain id 1) on a free port for the duration.

    Plain rather than Ape's managed fork: Ape starts anvil with --steps-tracing, which makes
    each block 3-5x slower, and --prune-history keeps evm_mine from slowing with the length
    of the run; parity reads only the latest state."""
    with local_upstream() as upstream:
        home = Path(tempfile.mkdtemp(prefix="ammlab-fork-"))
        record = chainmod.start_upstream(
            port=chainmod.free_port(),
            home=home,
            extra_args=("--fork-url", upstream, "--prune-history"),
        )
        try:
            yield record.url
        finally:
            chainmod.stop_upstream(home)


@contextmanager
def chain_for_run(network: str | None, rpc: str | None) -> Iterator[str]:
    """The RPC a chain run drives: `rpc` as given; else Ape's provider for `network`
    (ECOSYSTEM:NETWORK:PROVIDER, connected for the duration; a mainnet fork reads the local
    upstream, started if needed); else the default, `fork_of_upstream()`."""
    if rpc is not None:
        yield rpc
        return
    if network is None:
        with fork_of_upstream() as url:
            yield url
        return
    upstream = local_upstream() if network.startswith("ethereum:mainnet") else nullcontext()
    with upstream, chainmod.ape_network(network) as provider:
        uri = getattr(provider, "uri", None) or getattr(provider, "http_uri", None)
        if not uri:
            raise ChainError(f"{network}: the provider has no RPC URL to send batches to")
        yield uri


@click.command("chain-run")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--paths", type=int, default=1, show_default=True, help="Worlds (the chain runs one)."
)
@click.option("--seed", type=int, default=None, help="Override the scenario's seed.")
@click.option(
    "--set", "overrides", multiple=True, metavar="DOTTED.PATH=VALUE",
    help="Override a scenario field; the value is parsed as a YAML scalar.",
)  # fmt: skip
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/chain"),
    show_default=True, help="Where summary.json and worlds go.",
)  # fmt: skip
@click.option("--blocks", type=int, default=None, help="Cut the run to N blocks.")
@click.option(
    "--network", default=None, metavar="ECOSYSTEM:NETWORK:PROVIDER",
    help=f"Ape network of an anvil to run on (default: {DEFAULT_NETWORK} on the local "
    "upstream, as a plain anvil fork; the upstream is started if nothing answers).",
)  # fmt: skip
@click.option("--rpc", default=None, help="RPC URL of a running anvil (instead of --network).")
@click.option(
    "--bundle-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Where a replay bundle goes on divergence (default: OUT/bundles).",
)  # fmt: skip
@click.option(
    "--check-every", type=int, default=1, show_default=True, help="Parity every N blocks."
)
def chain_run(
    scenario: Path,
    paths: int,
    seed: int | None,
    overrides: tuple[str, ...],
    out_dir: Path,
    blocks: int | None,
    network: str | None,
    rpc: str | None,
    bundle_dir: Path | None,
    check_every: int,
) -> None:
    """Run SCENARIO on anvil through the contracts, with exact parity after every block."""
    if paths != 1:
        raise click.BadParameter(
            "the chain backend runs one world: --paths 1", param_hint="--paths"
        )
    if network and rpc:
        raise click.BadParameter("give --network or --rpc, not both", param_hint="--rpc")
    # Absolute: connecting Ape to --network moves the working directory to the checkout.
    out_dir = out_dir.resolve()
    bundle_dir = (bundle_dir or out_dir / "bundles").resolve()
    try:
        sets = [*overrides, *([f"seed={seed}"] if seed is not None else [])]
        sc = load_scenario(scenario, sets)
        sc = cut_scenario(sc, blocks)
        with chain_for_run(network, rpc) as url:
            run = run_on_chain(sc, url, bundle_dir, check_every)
        where = rpc or network or f"{DEFAULT_NETWORK} (plain anvil fork of the local upstream)"
        write_outputs(out_dir, sc, run, where)
    except (SimError, KeeperError) as err:
        raise click.ClickException(str(err)) from err
    rep = run.report
    click.echo(
        f"{rep.blocks} blocks, {rep.transactions} tx in {rep.seconds:.2f} s "
        f"({rep.transactions / max(rep.seconds, 1e-9):,.0f} tx/s, "
        f"{rep.blocks / max(rep.seconds, 1e-9):,.1f} blocks/s)"
    )
    for kind, g in run.report.gas_summary().items():
        click.echo(f"gas {kind}: {g['count']} tx, mean {g['mean']:,.0f}")
    if rep.divergence is not None:
        raise click.ClickException(str(ParityError(rep.divergence, run.bundle)))
    click.echo(f"parity: ok at every block; results in {out_dir}")


@click.command("replay")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--rpc", default=None, help="RPC URL of an anvil to load it into (default: private).")
def replay(bundle: Path, rpc: str | None) -> None:
    """Re-run a replay BUNDLE to its block and show the divergence again."""
    try:
        _, data = _read_bundle(bundle)
        found = replay_bundle(bundle, rpc)
    except (SimError, KeeperError) as err:
        raise click.ClickException(str(err)) from err
    recorded = Divergence(**data["divergence"])
    if found is None:
        raise click.ClickException(
            f"no divergence at block {recorded.block} any more (recorded: {recorded.describe()})"
        )
    click.echo(found.describe())
    if found != recorded:
        raise click.ClickException(f"a different divergence than recorded: {recorded.describe()}")
    click.echo("reproduced")


__all__ = [
    "ChainReport",
    "ChainRun",
    "ChainSession",
    "Divergence",
    "Layout",
    "ParityError",
    "chain_run",
    "replay",
    "replay_bundle",
    "run_on_chain",
]

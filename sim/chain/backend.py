"""Chain backend: a scenario's agents driving the real contracts on anvil, block by block,
with exact parity against the simulator's exact world.

Flow of `run_on_chain`:

1. deploy (`sim.chain.deploy.Deployer`, from the compiled artifacts): a risky (WETH-like, 18
   decimals) and a numeraire (USDC-like, 6 decimals) ERC20, then each venue's contracts
   (`ChainPart.creations`, in `sim.venues.registry` order: router and pools, feeds, oracle
   venues, perps, options pools);
2. run the scenario's single world in `sim.engine.exact.ExactWorld` (the engine's own agents on
   exact integer twins): it yields every block's transactions and the state they must leave;
3. setup block: every account funded with both tokens, then each venue's setup transactions
   and its recorded setup actions (seeds, first feed rounds, deposits...); then
   `anvil_dumpState` (the replay's starting point);
4. each block: the recorded actions as real transactions sent in one batched request in the
   scenario's order (`sim.chain.blockbuilder`), mined at the block's timestamp; then one
   batched read of receipts and state. Parity covers every receipt's status, every venue's
   state fields (`ExactPart.state`) and every account's token balances. The first difference
   stops the run and writes a replay bundle (`sim.chain.bundles`).

Addresses: accounts send from addresses derived from their labels (anvil impersonates them),
gas price 0 on a zero base fee, so balances move only by what the contracts do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.chain.abi import address_of, calldata
from sim.chain.blockbuilder import BlockBuilder
from sim.chain.bundles import write_bundle
from sim.chain.deploy import ETH_BALANCE, Deployer
from sim.chain.parity import ChainReport, Divergence, compare, decode_state, run_records
from sim.engine.exact import BlockRecord, ExactWorld
from sim.errors import ChainError, SimError
from sim.venues.base import (
    DEPLOYER,
    NUMERAIRE,
    RISKY,
    SETUP_GAS,
    ChainPart,
    Creation,
    Layout,
    Read,
    Tx,
)
from sim.venues.registry import VENUES

BASE_EPOCH = 2_000_000_000
"""Earliest setup timestamp: a fresh anvil (replay) starts below it, so recorded blocks stay
in its future."""


class ParityError(SimError):
    """The chain and the exact world disagree; carries the divergence and the bundle path."""

    def __init__(self, divergence: Divergence, bundle: Path | None):
        where = f"; replay bundle: {bundle}" if bundle else ""
        super().__init__(f"{divergence.describe()}{where}")
        self.divergence = divergence
        self.bundle = bundle


def chain_parts(sc: Any) -> list[ChainPart]:
    """The chain parts of the venues `sc` uses, in registry order."""
    return [v.chain()(sc) for v in VENUES if v.exact().applies(sc)]


def token_creations(deployer: str) -> list[Creation]:
    """The run's two tokens, created first (their order decides token0 of every pool)."""
    erc20 = ["string", "string", "uint8", "address"]
    return [
        (RISKY, lambda a, c: c("ERC20", erc20, ["Wrapped Ether (ammlab)", "WETH", 18, deployer])),
        (NUMERAIRE, lambda a, c: c("ERC20", erc20, ["USD Coin (ammlab)", "USDC", 6, deployer])),
    ]


def deploy(builder: BlockBuilder, sc: Any, cparts: list[ChainPart]) -> Layout:
    """Deploy the tokens and the parts' contracts from the deployer's address; returns the
    layout (nothing seeded yet; the session adds the world's accounts)."""
    deployer = Deployer(builder, address_of(DEPLOYER))
    latest = int(builder.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    creations = token_creations(deployer.sender)
    for part in cparts:
        creations.extend(part.creations(sc))
    made = deployer.create_all(creations, max(latest + 1, BASE_EPOCH))
    tokens = {t: made.addresses.pop(t) for t in (RISKY, NUMERAIRE)}
    return Layout(
        deployer=deployer.sender,
        tokens=tokens,
        contracts=made.addresses,
        agents={},
        setup_ts=made.next_ts,
        created_at=made.created_at,
    )


def setup_txs(layout: Layout, world: ExactWorld, cparts: list[ChainPart]) -> list[Tx]:
    """The setup block: every account funded with `world.fund` of both tokens; then, per
    part, its setup transactions and its recorded setup actions (those of its `kinds`)."""
    dep = layout.deployer
    txs: list[Tx] = []
    for name in world.accounts:
        for tok in (RISKY, NUMERAIRE):
            mint = calldata("mint(address,uint256)", layout.agents[name], world.fund[tok])
            txs.append((dep, layout.tokens[tok], mint, SETUP_GAS))
    for part in cparts:
        txs.extend(part.setup_txs(layout, world))
        for a in world.setup.actions:
            if a["kind"] in part.kinds:
                txs.append(part.encode(a, layout, layout.setup_ts))
    return txs


def encoders(cparts: list[ChainPart]) -> dict[str, ChainPart]:
    """The part that encodes each action kind."""
    return {k: part for part in cparts for k in part.kinds}


def encode_action(layout: Layout, a: dict, timestamp: int, by_kind: dict[str, ChainPart]) -> Tx:
    """One recorded action as its transaction."""
    part = by_kind.get(a["kind"])
    if part is None:
        raise ChainError(f"no chain part encodes action kind {a['kind']!r}")
    return part.encode(a, layout, timestamp)


def state_reads(layout: Layout, world: ExactWorld, cparts: list[ChainPart]) -> list[Read]:
    """The eth_calls that give every field of `ExactWorld.state`."""
    reads: list[Read] = []
    for part in cparts:
        reads.extend(part.reads(layout, world))
    for name in world.accounts:
        for tok in (RISKY, NUMERAIRE):
            data = calldata("balanceOf(address)", layout.agents[name])
            reads.append((layout.tokens[tok], data, [(f"agent.{name}.{tok}", 0)]))
    return reads


class ChainSession:
    """A deployed, seeded scenario on one anvil, ready to run block records."""

    def __init__(self, url: str, sc: Any, world_kwargs: dict | None = None):
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
        labels = [*self.world.accounts, *self.world.senders]
        self.layout.agents = {a: address_of(f"agent:{a}") for a in labels}
        self._by_kind = encoders(self.parts)
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
        self.state_dump: str = self.builder.rpc.call("anvil_dumpState", [])

    def senders(self) -> list[str]:
        return [self.layout.deployer, *self.layout.agents.values()]

    def encode(self, rec: BlockRecord) -> list[Tx]:
        """The block's actions as transactions, in order."""
        return [encode_action(self.layout, a, rec.timestamp, self._by_kind) for a in rec.actions]

    def _raw_reads(self) -> list[tuple[str, str]]:
        return [(to, data) for to, data, _ in self.reads]

    def snapshot(self) -> str:
        return self.builder.rpc.call("evm_snapshot", [])

    def revert(self, snap: str) -> None:
        """Back to a snapshot (nonces too) for another run on the same chain."""
        if not self.builder.rpc.call("evm_revert", [snap]):
            raise ChainError(f"evm_revert({snap}) failed")
        self.builder._nonces.clear()
        self.builder.prime(self.senders())

    def run_blocks(
        self,
        records: list[BlockRecord],
        check_every: int = 1,
        on_block: Callable[[int, float], None] | None = None,
    ) -> ChainReport:
        """Send, mine and check each record; stops at the first divergence. The state reads
        are taken afresh from the world that made the records (a V3 pool's ticks and
        positions are those the run touched)."""
        self.reads = state_reads(self.layout, self.world, self.parts)
        return run_records(self.builder, self.encode, self.reads, records, check_every, on_block)


@dataclass
class ChainRun:
    session: ChainSession
    result: Any
    """RunResult of the exact world (the fast engine's columns for this world)."""
    records: list[BlockRecord]
    report: ChainReport
    bundle: Path | None = None


def run_on_chain(
    sc: Any,
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

"""Parity between a chain and the exact world: the first divergence of a block, and what a
chain run did (blocks, transactions, gas per transaction kind, time)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sim.chain.abi import signed, words
from sim.chain.blockbuilder import BlockBuilder, Receipt
from sim.engine.exact import BlockRecord
from sim.venues.base import Read, Tx


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


def decode_state(reads: list[Read], values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for (_to, _data, fields), v in zip(reads, values, strict=True):
        w = words(v)
        for name, i, *is_signed in fields:
            out[name] = signed(w[i]) if is_signed and is_signed[0] else w[i]
    return out


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

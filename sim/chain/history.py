"""`ammlab data pull`: pool and feed events from any RPC into partitioned Parquet, resumably.

A pull fetches, for blocks `from_block..to_block`, every event of the given Uniswap V2 pairs,
V3 pools and Chainlink-style aggregators (`sim.history.schema`), decodes them (raw integers and
human units, token decimals read from the tokens), stores the headers of the blocks it needs
(those holding events, each range's last block and every block near the head) and the state of
each source just before `from_block` (its anchor), and writes:

    OUT/manifest.json               sources, tokens, initial states, covered ranges (atomic)
    OUT/journal.sqlite              the fetched ranges and block hashes (the truth for resume)
    OUT/<table>/<start>-<end>.parquet   one part per fetched range and table (temp + rename)

Resume: a re-run fetches only the ranges the journal lacks; parts written before a crash but
never committed to the journal are deleted first. Head safety: only blocks at least
`confirmations` below the head are pulled, and the stored hashes of the last `reorg_window`
stored blocks are re-checked on every run; at the first that differs, the parts are cut at that
block (rewritten, temp + rename) and the journal forgets everything from it, so the normal
fetch rewrites the affected blocks.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from eth_utils import is_checksum_address, to_checksum_address
from tqdm import tqdm

from sim.atomic import atomic_write, atomic_write_json
from sim.chain.logs import HistoryPullError, LogReader, decode_log
from sim.history.schema import (
    BLOCKS,
    EVENTS,
    FEED,
    FORMAT,
    JOURNAL,
    LOG_COLUMNS,
    MANIFEST,
    TABLES,
    V2,
    V3,
    Event,
    chunk_file,
    events_of,
    parse_chunk_file,
)

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass
class PullSpec:
    """What to pull and where (the command's arguments)."""

    rpc: str
    pools: Sequence[str]
    """Uniswap V2 pairs and V3 pools (the kind is read from the contract)."""
    feeds: Sequence[str]
    """Chainlink-style aggregators (the contracts that emit AnswerUpdated, not proxies)."""
    from_block: int
    to_block: int | None
    """None: the newest block `confirmations` below the head."""
    out: Path
    confirmations: int = 12
    reorg_window: int = 128
    span: int = 2000
    """Blocks per eth_getLogs before any halving."""
    progress: bool = True


@dataclass
class PullReport:
    """What one run did."""

    fetched: list[tuple[int, int]] = field(default_factory=list)
    logs: int = 0
    rows: int = 0
    repaired_from: int | None = None
    to_block: int = -1
    seconds: float = 0.0
    requests: int = 0


def check_address(option: str, value: str) -> str:
    """The checksummed address, or HistoryPullError naming the option."""
    if not _ADDRESS.match(value or ""):
        raise HistoryPullError(f"{option} {value!r}: not an address (0x and 40 hex digits)")
    if value[2:] not in (value[2:].lower(), value[2:].upper()) and not is_checksum_address(value):
        raise HistoryPullError(
            f"{option} {value}: mixed-case but not a valid checksum; check the address"
        )
    return to_checksum_address(value)


def check_spec(spec: PullSpec) -> tuple[list[str], list[str]]:
    """Refuse bad arguments before any RPC call; returns the checksummed pools and feeds."""
    pools = [check_address("--pool", p) for p in spec.pools]
    feeds = [check_address("--feed", f) for f in spec.feeds]
    if not pools and not feeds:
        raise HistoryPullError("give at least one --pool or --feed address")
    both = set(pools) & set(feeds)
    if both or len(set(pools + feeds)) != len(pools) + len(feeds):
        raise HistoryPullError(f"an address is given twice: {sorted(both) or 'see --pool'}")
    if spec.from_block < 0:
        raise HistoryPullError(f"--from-block {spec.from_block}: must be >= 0")
    if spec.to_block is not None and spec.to_block < spec.from_block:
        raise HistoryPullError(
            f"--to-block {spec.to_block} is before --from-block {spec.from_block}: the range "
            "is empty"
        )
    for name, v, low in (("--confirmations", spec.confirmations, 0),
                         ("--reorg-window", spec.reorg_window, 1), ("--span", spec.span, 1)):  # fmt: skip
        if v < low:
            raise HistoryPullError(f"{name} {v}: must be >= {low}")
    return pools, feeds


# --------------------------------------------------------------------------- the journal


class Journal:
    """The fetched ranges and stored block headers of one folder (SQLite, one transaction per
    fetched range), and its metadata."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path)
        self.db.executescript(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS chunks (start INTEGER PRIMARY KEY, end INTEGER NOT NULL);"
            "CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL,"
            " parent_hash TEXT NOT NULL, timestamp INTEGER NOT NULL);"
        )

    def meta(self) -> dict[str, Any] | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'meta'").fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, meta: dict[str, Any]) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('meta', ?)", (json.dumps(meta),))

    def chunks(self) -> list[tuple[int, int]]:
        return [tuple(r) for r in self.db.execute("SELECT start, end FROM chunks ORDER BY start")]

    def blocks_from(self, number: int) -> dict[int, str]:
        rows = self.db.execute("SELECT number, hash FROM blocks WHERE number >= ?", (number,))
        return dict(rows.fetchall())

    def headers(self) -> list[tuple[int, str, str, int]]:
        return list(self.db.execute("SELECT * FROM blocks ORDER BY number"))

    def commit_chunk(self, start: int, end: int, headers: dict[int, tuple[str, str, int]]):
        with self.db:
            self.db.execute("INSERT INTO chunks VALUES (?, ?)", (start, end))
            self.db.executemany(
                "INSERT OR REPLACE INTO blocks VALUES (?, ?, ?, ?)",
                [(n, *h) for n, h in headers.items()],
            )

    def cut(self, block: int) -> None:
        """Forget every range and header from `block` on; a range across it ends before it."""
        with self.db:
            self.db.execute("DELETE FROM chunks WHERE start >= ?", (block,))
            self.db.execute("UPDATE chunks SET end = ? WHERE end >= ?", (block - 1, block))
            self.db.execute("DELETE FROM blocks WHERE number >= ?", (block,))


def missing(start: int, end: int, chunks: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ranges of start..end (inclusive) that no chunk covers."""
    out, a = [], start
    for s, e in sorted(chunks):
        if e < a:
            continue
        if s > end:
            break
        if s > a:
            out.append((a, min(s - 1, end)))
        a = max(a, e + 1)
    if a <= end:
        out.append((a, end))
    return out


# --------------------------------------------------------------------------- sources

_V = "view"
_ABI = {
    name: {"name": name, "type": "function", "stateMutability": _V, "inputs": ins,
           "outputs": [{"name": "", "type": t} for t in outs]}
    for name, ins, outs in (
        ("token0", [], ["address"]), ("token1", [], ["address"]),
        ("getReserves", [], ["uint112", "uint112", "uint32"]),
        ("totalSupply", [], ["uint256"]), ("feeBps", [], ["uint256"]),
        ("price0CumulativeLast", [], ["uint256"]), ("price1CumulativeLast", [], ["uint256"]),
        ("slot0", [], ["uint160", "int24", "uint16", "uint16", "uint16", "uint8", "bool"]),
        ("liquidity", [], ["uint128"]), ("fee", [], ["uint24"]), ("tickSpacing", [], ["int24"]),
        ("feeGrowthGlobal0X128", [], ["uint256"]), ("feeGrowthGlobal1X128", [], ["uint256"]),
        ("decimals", [], ["uint8"]), ("symbol", [], ["string"]), ("description", [], ["string"]),
        ("balanceOf", [{"name": "a", "type": "address"}], ["uint256"]),
        ("latestRoundData", [], ["uint80", "int256", "uint256", "uint256", "uint80"]),
        ("aggregator", [], ["address"]),
    )
}  # fmt: skip


def describe_sources(
    reader: LogReader, pools: Sequence[str], feeds: Sequence[str], at: int, anchor: int | None
) -> dict[str, dict[str, Any]]:
    """Each source's kind, tokens (address, symbol, decimals), fee, and its state at the anchor
    block (None: before block 0, nothing exists). Integers wider than JSON's safe range are
    decimal strings."""
    out: dict[str, dict[str, Any]] = {}
    for address in pools:
        call = lambda name, *a, block=at, to=address: reader.eth_call(to, _ABI[name], a, block)  # noqa: E731
        if call("getReserves") is not None:
            kind = V2
        elif call("slot0") is not None:
            kind = V3
        else:
            raise HistoryPullError(
                f"--pool {address}: neither a Uniswap V2 pair (getReserves) nor a V3 pool "
                f"(slot0) at block {at}; check the address"
            )
        t0, t1 = call("token0"), call("token1")
        entry: dict[str, Any] = {"kind": kind, "token0": _token(reader, t0, at),
                                 "token1": _token(reader, t1, at)}  # fmt: skip
        if kind == V2:
            entry["fee_bps"] = int(call("feeBps") or 30)
            state = None
            if anchor is not None and call("getReserves", block=anchor) is not None:
                r0, r1, ts = call("getReserves", block=anchor)
                state = {"reserve0": str(r0), "reserve1": str(r1), "block_timestamp_last": ts,
                         "total_supply": str(call("totalSupply", block=anchor)),
                         "price0_cumulative_last": str(call("price0CumulativeLast", block=anchor)),
                         "price1_cumulative_last": str(call("price1CumulativeLast", block=anchor)),
                         "balance0": str(reader.eth_call(t0, _ABI["balanceOf"], [address], anchor)),
                         "balance1": str(reader.eth_call(t1, _ABI["balanceOf"], [address], anchor))}  # fmt: skip
            entry["initial"] = state
        else:
            entry["fee"] = int(call("fee"))
            entry["tick_spacing"] = int(call("tickSpacing"))
            slot0 = call("slot0", block=anchor) if anchor is not None else None
            entry["initial"] = None if slot0 is None or slot0[0] == 0 else {
                "sqrt_price_x96": str(slot0[0]), "tick": slot0[1],
                "liquidity": str(call("liquidity", block=anchor)),
            }  # fmt: skip
        out[address] = entry
    for address in feeds:
        agg = reader.eth_call(address, _ABI["aggregator"], (), at)
        if agg is not None:
            raise HistoryPullError(
                f"--feed {address} is a proxy: pull its aggregator {agg}, which emits the events"
            )
        decimals = reader.eth_call(address, _ABI["decimals"], (), at)
        if decimals is None:
            raise HistoryPullError(f"--feed {address}: no decimals() at block {at}; not a feed")
        latest = reader.eth_call(address, _ABI["latestRoundData"], (), anchor) if anchor else None
        out[address] = {
            "kind": FEED, "decimals": int(decimals),
            "description": reader.eth_call(address, _ABI["description"], (), at) or "",
            "initial": None if latest is None else {"round_id": str(latest[0]),
                                                    "answer": str(latest[1]),
                                                    "updated_at": int(latest[3])},
        }  # fmt: skip
    return out


def _token(reader: LogReader, address: str, at: int) -> dict[str, Any]:
    decimals = reader.eth_call(address, _ABI["decimals"], (), at)
    if decimals is None:
        raise HistoryPullError(f"token {address} has no decimals() at block {at}")
    symbol = reader.eth_call(address, _ABI["symbol"], (), at)
    return {"address": address, "decimals": int(decimals), "symbol": symbol or ""}


# --------------------------------------------------------------------------- parts


def _arrow_type(f) -> pa.DataType:
    if f.type == "address" or f.wide:
        return pa.string()
    return pa.bool_() if f.type == "bool" else pa.int64()


def table_schema(event: Event) -> pa.Schema:
    cols = [("block_number", pa.int64()), ("block_timestamp", pa.int64()),
            ("block_hash", pa.string()), ("transaction_hash", pa.string()),
            ("transaction_index", pa.int64()), ("log_index", pa.int64()),
            ("address", pa.string())]  # fmt: skip
    for f in event.fields:
        cols.append((f.name, _arrow_type(f)))
        if f.unit:
            cols.append((f.name + "_human", pa.float64()))
    return pa.schema(cols)


def _human(value: int, unit: str, source: dict[str, Any]) -> float:
    if unit == "feed":
        return value / 10 ** source["decimals"]
    d0, d1 = source["token0"]["decimals"], source["token1"]["decimals"]
    if unit == "sqrt_price":
        return (value / 2**96) ** 2 * 10.0 ** (d0 - d1)
    return value / 10 ** (d0 if unit == "token0" else d1)


def _table(event: Event, rows: list[dict], sources: dict[str, dict]) -> pa.Table:
    cols: dict[str, list] = {c: [r[c] for r in rows] for c in LOG_COLUMNS}
    for f in event.fields:
        raw = [r[f.name] for r in rows]
        cols[f.name] = [str(v) for v in raw] if f.wide else raw
        if f.unit:
            cols[f.name + "_human"] = [
                _human(v, f.unit, sources[r["address"]]) for v, r in zip(raw, rows, strict=True)
            ]
    return pa.Table.from_pydict(cols, schema=table_schema(event))


def _write(path: Path, table: pa.Table) -> None:
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def _clean_orphans(out: Path, chunks: Sequence[tuple[int, int]]) -> None:
    """Delete parts the journal does not list (a crash between writing and committing) and
    left-over temporary files."""
    known = set(chunks)
    for table in [e.table for e in EVENTS] + [BLOCKS]:
        folder = out / table
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.name.endswith(".tmp") or parse_chunk_file(p.name) not in known:
                p.unlink()


def _repair(out: Path, journal: Journal, block: int) -> None:
    """Cut every part at `block` (rows before it rewritten under the shortened range, later
    parts deleted) and make the journal forget from `block` on. Order for crash safety: new
    parts first, then the journal, then the old parts (until the journal commits, the new ones
    are orphans a re-run deletes)."""
    old = [(s, e) for s, e in journal.chunks() if e >= block]
    tables = [e.table for e in EVENTS] + [BLOCKS]
    for s, e in old:
        if s >= block:
            continue
        for t in tables:
            p = out / chunk_file(t, s, e)
            if p.is_file():
                table = pq.read_table(p)
                kept = table.filter(pc.less(table["number" if t == BLOCKS else "block_number"],
                                            block))  # fmt: skip
                _write(out / chunk_file(t, s, block - 1), kept)
    journal.cut(block)
    for s, e in old:
        for t in tables:
            (out / chunk_file(t, s, e)).unlink(missing_ok=True)


def _find_fork(reader: LogReader, journal: Journal, window: int, head: int) -> int | None:
    """The first stored block (of the last `window` stored) whose hash the node no longer has."""
    chunks = journal.chunks()
    if not chunks:
        return None
    top = chunks[-1][1]
    stored = journal.blocks_from(top - window + 1)
    live = reader.headers([n for n in stored if n <= head])
    bad = [n for n, h in stored.items() if n > head or live[n][0] != h]
    return min(bad) if bad else None


# --------------------------------------------------------------------------- the pull


def pull(spec: PullSpec, on_range: Callable[[int, int], None] | None = None) -> PullReport:
    """Pull `spec` into `spec.out`; see the module docstring. `on_range(a, b)` is called after
    each range is committed. Raises HistoryPullError with one line naming what to fix."""
    started = time.perf_counter()
    pools, feeds = check_spec(spec)
    out = Path(spec.out)
    reader = LogReader(spec.rpc)
    chain_id = reader.chain_id()
    head = reader.head()
    safe = head - spec.confirmations
    end = safe if spec.to_block is None else min(spec.to_block, safe)
    out.mkdir(parents=True, exist_ok=True)
    journal = Journal(out / JOURNAL)
    meta = journal.meta()
    wanted = {"chain_id": chain_id, "from_block": spec.from_block,
              "addresses": sorted(pools + feeds)}  # fmt: skip
    if meta is not None:
        for key, value in wanted.items():
            if meta[key] != value:
                raise HistoryPullError(
                    f"--out {out} holds a pull with {key} {meta[key]}, not {value}: use the same "
                    "arguments to resume, or another --out"
                )
    elif spec.from_block > end:
        raise HistoryPullError(
            f"--from-block {spec.from_block} is past block {end}, the newest with "
            f"{spec.confirmations} confirmations (head {head}): the range is empty"
        )
    report = PullReport(to_block=end)
    _clean_orphans(out, journal.chunks())
    fork = _find_fork(reader, journal, spec.reorg_window, head)
    if fork is not None:
        _repair(out, journal, fork)
        report.repaired_from = fork
    if meta is None:
        anchor = spec.from_block - 1 if spec.from_block > 0 else None
        anchor_header = reader.headers([anchor])[anchor] if anchor is not None else None
        meta = {**wanted, "format": FORMAT,
                "sources": describe_sources(reader, pools, feeds, end, anchor),
                "anchor_block": anchor,
                "anchor_timestamp": anchor_header[2] if anchor_header else None}  # fmt: skip
        journal.set_meta(meta)
    sources = meta["sources"]
    kinds = {a: s["kind"] for a, s in sources.items()}
    topics = sorted({e.topic0 for k in set(kinds.values()) for e in events_of(k)})
    todo = missing(spec.from_block, end, journal.chunks())
    bar = tqdm(total=sum(b - a + 1 for a, b in todo), unit="block", disable=None if spec.progress else True,
               desc="pull", dynamic_ncols=True)  # fmt: skip

    def store(a: int, b: int, logs: list[dict]) -> None:
        decoded = [d for log in logs if (d := decode_log(log, kinds[
            to_checksum_address(log["address"])])) is not None]  # fmt: skip
        need = {r["block_number"] for _, r in decoded} | {b}
        need |= set(range(max(a, head - spec.reorg_window + 1), b + 1))
        headers = reader.headers(sorted(need))
        for _, r in decoded:
            h = headers[r["block_number"]]
            if h[0] != r["block_hash"]:
                raise HistoryPullError(
                    f"block {r['block_number']} changed during the pull (a reorg): re-run the "
                    "same command to repair and resume"
                )
            r["block_timestamp"] = h[2]
        by_table: dict[str, list[dict]] = {}
        for event, r in decoded:
            by_table.setdefault(event.table, []).append(r)
        for table, rows in by_table.items():
            _write(out / chunk_file(table, a, b), _table(TABLES[table], rows, sources))
        _write(out / chunk_file(BLOCKS, a, b), pa.Table.from_pydict(
            {"number": list(headers), "hash": [h[0] for h in headers.values()],
             "parent_hash": [h[1] for h in headers.values()],
             "timestamp": [h[2] for h in headers.values()]}))  # fmt: skip
        journal.commit_chunk(a, b, headers)
        write_manifest(out, meta, journal, spec)
        report.fetched.append((a, b))
        report.logs += len(logs)
        report.rows += len(decoded)
        bar.update(b - a + 1)
        bar.set_postfix(logs=report.logs, refresh=False)
        if on_range is not None:
            on_range(a, b)

    try:
        for a, b in todo:
            reader.logs(sorted(sources), topics, a, b, spec.span, store)
    finally:
        bar.close()
    write_manifest(out, meta, journal, spec)
    report.seconds = time.perf_counter() - started
    report.requests = reader.requests
    return report


def write_manifest(out: Path, meta: dict[str, Any], journal: Journal, spec: PullSpec) -> None:
    """manifest.json: the journal's metadata and covered ranges, for readers (atomic)."""
    url = urlparse(spec.rpc)
    atomic_write_json(out / MANIFEST, {
        **meta, "rpc": f"{url.scheme}://{url.hostname}",  # no path or query: keys live there
        "chunks": [list(c) for c in journal.chunks()],
        "confirmations": spec.confirmations, "reorg_window": spec.reorg_window,
    })  # fmt: skip

"""The keeper journal's data: its SQLite schema, the status machines and the records it returns.

`keeper.journal.Journal` (the store) applies `MIGRATIONS` and maps its rows to the frozen
records here (`intent_from_row`, `attempt_from_row`, `kill_from_row`, `rebalance_from_row`);
`keeper.journal_reconcile` settles open intents against a chain.

A rebalance (a move of the keeper's concentrated position, `keeper.range_execution`) is one
row: open -> done* | abandoned*; its steps are ordinary intents of kinds `range_decrease`,
`range_collect`, `range_swap`, `range_mint` whose meta names the rebalance.

Intent statuses (final ones marked *)::

    planned -> signed -> sent -> mined* | failed* | dropped*
    planned -> refused* (a guard or the pre-send simulation said no; no nonce used)
    planned -> expired* (never signed, too old to act on)
    signed  -> failed*  (the node refused the first send; the nonce was not consumed)

Attempt (transaction) statuses: signed -> sent -> mined | failed | replaced | dropped, and
replaced -> mined | failed (an older attempt won the race after all); `failed` means it was
mined and reverted (nonce consumed) or the node refused it outright (not consumed).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from keeper.errors import KeeperError

SCHEMA_VERSION = 4

INTENT_FINAL = frozenset({"mined", "failed", "refused", "expired", "dropped"})
INTENT_TRANSITIONS: dict[str, frozenset[str]] = {
    "planned": frozenset({"signed", "refused", "expired"}),
    "signed": frozenset({"sent", "mined", "failed", "dropped"}),
    "sent": frozenset({"mined", "failed", "dropped"}),
}
ATTEMPT_TRANSITIONS: dict[str, frozenset[str]] = {
    "signed": frozenset({"sent", "mined", "failed", "replaced", "dropped"}),
    "sent": frozenset({"mined", "failed", "replaced", "dropped"}),
    "replaced": frozenset({"mined", "failed", "dropped"}),
}
# Statuses whose notional counts against the rolling per-hour limit (it traded, or may).
NOTIONAL_COUNTS = ("signed", "sent", "mined")

COMMANDS = ("pause", "resume", "flatten", "reduce_only")
"""Operator commands the running keeper polls for (`Journal.enqueue_command`)."""

MIGRATIONS: list[str] = [
    # MIGRATIONS[v - 1] takes a journal from schema v - 1 to v.
    # v1
    """
    CREATE TABLE intents (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        account TEXT NOT NULL,
        chain_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        to_addr TEXT NOT NULL,
        data TEXT NOT NULL,
        value TEXT NOT NULL,
        notional REAL NOT NULL,
        meta TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        expires_at REAL
    );
    CREATE INDEX intents_status ON intents (status);
    CREATE INDEX intents_created ON intents (created_at);
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        intent_id INTEGER NOT NULL REFERENCES intents (id),
        account TEXT NOT NULL,
        nonce INTEGER NOT NULL,
        tx_hash TEXT NOT NULL UNIQUE,
        raw TEXT NOT NULL,
        fee_mode TEXT NOT NULL,
        gas_limit INTEGER NOT NULL,
        gas_price TEXT,
        max_fee TEXT,
        priority_fee TEXT,
        replaces TEXT,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        sent_at REAL,
        sent_block INTEGER,
        mined_block INTEGER,
        receipt TEXT
    );
    CREATE INDEX attempts_intent ON attempts (intent_id);
    CREATE INDEX attempts_nonce ON attempts (account, nonce);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        subject TEXT NOT NULL,
        intent_id INTEGER,
        tx_hash TEXT,
        from_status TEXT,
        to_status TEXT,
        detail TEXT
    );
    CREATE TABLE killswitch (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        from_mode TEXT NOT NULL,
        to_mode TEXT NOT NULL,
        cause TEXT NOT NULL,
        detail TEXT NOT NULL,
        state TEXT NOT NULL
    );
    CREATE TABLE refusals (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        intent_id INTEGER,
        guard TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE commands (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        command TEXT NOT NULL,
        reason TEXT NOT NULL,
        issued_by TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        handled_at REAL,
        result TEXT
    );
    """,
    # v2: the chain the journal belongs to (one row, written at the first live start).
    """
    CREATE TABLE chain (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        chain_id INTEGER NOT NULL,
        genesis_hash TEXT NOT NULL,
        first_block INTEGER NOT NULL,
        recorded_at REAL NOT NULL
    );
    """,
    # v3: moves of the keeper's concentrated position (their steps are intents).
    """
    CREATE TABLE rebalances (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        pool TEXT NOT NULL,
        token_id TEXT NOT NULL,
        tick_lower INTEGER NOT NULL,
        tick_upper INTEGER NOT NULL,
        status TEXT NOT NULL,
        new_token_id TEXT,
        meta TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX rebalances_status ON rebalances (status);
    """,
    # v4: nonces of the keeper's account that this journal did not send: the chain's nonce
    # adopted at the first live start, and each one another signer used (`foreign`).
    """
    CREATE TABLE outside_nonces (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('adopted', 'foreign')),
        nonce INTEGER,
        next_nonce INTEGER NOT NULL,
        tx_hash TEXT,
        block INTEGER,
        recorded_at REAL NOT NULL
    );
    CREATE INDEX outside_nonces_account ON outside_nonces (account);
    """,
]
REBALANCE_FINAL = frozenset({"done", "abandoned"})


class JournalError(KeeperError):
    """The journal refused a write (bad transition, conflicting key) or cannot be opened."""


def intent_key(decision_id: str, block: int, target: str) -> str:
    """Idempotency key of a hedge intent: sha256 of (policy decision id, block, target)."""
    return hashlib.sha256(f"{decision_id}|{block}|{target}".encode()).hexdigest()


@dataclass(frozen=True)
class Intent:
    """One hedge decision and where it stands. `to`, `data` (0x-hex) and `value` (wei) are
    the call to make; `notional` is in quote units (for the per-hour cap)."""

    id: int
    key: str
    account: str
    chain_id: int
    kind: str
    to: str
    data: str
    value: int
    notional: float
    meta: dict[str, Any]
    status: str
    error: str | None
    created_at: float
    updated_at: float
    expires_at: float | None

    @property
    def final(self) -> bool:
        return self.status in INTENT_FINAL


@dataclass(frozen=True)
class Attempt:
    """One signed transaction of an intent (the first, or a same-nonce replacement)."""

    id: int
    intent_id: int
    account: str
    nonce: int
    tx_hash: str
    raw: str
    fee_mode: str
    gas_limit: int
    gas_price: int | None
    max_fee: int | None
    priority_fee: int | None
    replaces: str | None
    status: str
    created_at: float
    sent_at: float | None
    sent_block: int | None
    mined_block: int | None
    receipt: dict[str, Any] | None

    @property
    def fee_cap(self) -> int:
        """What the sender offers per gas at most (max fee, or the legacy gas price)."""
        return self.max_fee if self.max_fee is not None else (self.gas_price or 0)


@dataclass(frozen=True)
class SignedTx:
    """What `record_signed`/`record_replacement` store: a locally signed transaction."""

    tx_hash: str
    raw: str
    nonce: int
    gas_limit: int
    fee_mode: str
    gas_price: int | None = None
    max_fee: int | None = None
    priority_fee: int | None = None


@dataclass(frozen=True)
class Command:
    id: int
    at: float
    command: str
    reason: str
    issued_by: str
    status: str
    handled_at: float | None
    result: str | None


@dataclass(frozen=True)
class Rebalance:
    """One move of the keeper's position: withdraw token `token_id`, re-deposit on the pool
    range [tick_lower, tick_upper) (the pool's own ticks); `new_token_id` once minted."""

    id: int
    key: str
    pool: str
    token_id: int
    tick_lower: int
    tick_upper: int
    status: str
    new_token_id: int | None
    meta: dict[str, Any]
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class ChainIdentity:
    """The chain a journal was written on: what a node must match before the keeper acts."""

    chain_id: int
    genesis_hash: str
    """Hash of block 0 (a fresh anvil has a new one; a fork shares its upstream's)."""
    first_block: int
    """Head when the identity was recorded (the journal knows nothing from before)."""
    recorded_at: float


@dataclass(frozen=True)
class KillRecord:
    id: int
    at: float
    from_mode: str
    to_mode: str
    cause: str
    detail: str
    state: dict[str, Any]


def int_text(value: int | None) -> str | None:
    """An integer (wei) as the decimal TEXT it is stored as (it can exceed SQLite's INTEGER)."""
    return None if value is None else str(value)


def _int(value: str | None) -> int | None:
    return None if value is None else int(value)


def intent_from_row(row: sqlite3.Row) -> Intent:
    return Intent(
        id=row["id"],
        key=row["key"],
        account=row["account"],
        chain_id=row["chain_id"],
        kind=row["kind"],
        to=row["to_addr"],
        data=row["data"],
        value=int(row["value"]),
        notional=row["notional"],
        meta=json.loads(row["meta"]),
        status=row["status"],
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expires_at=row["expires_at"],
    )


def attempt_from_row(row: sqlite3.Row) -> Attempt:
    return Attempt(
        id=row["id"],
        intent_id=row["intent_id"],
        account=row["account"],
        nonce=row["nonce"],
        tx_hash=row["tx_hash"],
        raw=row["raw"],
        fee_mode=row["fee_mode"],
        gas_limit=row["gas_limit"],
        gas_price=_int(row["gas_price"]),
        max_fee=_int(row["max_fee"]),
        priority_fee=_int(row["priority_fee"]),
        replaces=row["replaces"],
        status=row["status"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        sent_block=row["sent_block"],
        mined_block=row["mined_block"],
        receipt=json.loads(row["receipt"]) if row["receipt"] else None,
    )


def kill_from_row(row: sqlite3.Row) -> KillRecord:
    return KillRecord(
        id=row["id"],
        at=row["at"],
        from_mode=row["from_mode"],
        to_mode=row["to_mode"],
        cause=row["cause"],
        detail=row["detail"],
        state=json.loads(row["state"]),
    )


def rebalance_from_row(row: sqlite3.Row) -> Rebalance:
    return Rebalance(
        id=row["id"],
        key=row["key"],
        pool=row["pool"],
        token_id=int(row["token_id"]),
        tick_lower=row["tick_lower"],
        tick_upper=row["tick_upper"],
        status=row["status"],
        new_token_id=_int(row["new_token_id"]),
        meta=json.loads(row["meta"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )

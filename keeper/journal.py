"""The keeper's write-ahead journal: SQLite (WAL), so that every hedge happens exactly once.

Order of work for one hedge, each step committed before the next begins:

1. `record_intent(key, ...)`: the decision, under an idempotency key (`intent_key`), before
   anything is signed. The same key returns the intent already recorded, so a keeper that
   re-plans the same decision after a crash gets the old intent back, not a second one.
2. `record_signed(...)`: the signed raw transaction, its nonce, hash and fees, before it is
   sent. A crash now leaves a transaction that only we can broadcast, and we will.
3. `mark_sent` after the node accepted it; `record_replacement` for each same-nonce bump;
   `record_receipt` when one attempt is mined (the others become `replaced`).

`reconcile(chain)` runs at start-up before any new action and settles every intent that is not
final against the chain (the rules: `keeper.journal_reconcile`).

The journal also records kill-switch transitions, guard refusals, an append-only event log of
every status change, operator commands (a queue other processes write and the running
keeper polls), the account's nonces it did not send (adopted at the first live start, or
another signer's: `known_next_nonce`), and the identity of the chain it was written on
(chain id, block-0 hash, first block: `record_chain_identity`), against which the
transaction manager checks every node it talks to before acting
(`keeper.txmanager.TxManager.check_chain`). Every write is one SQLite transaction;
`synchronous=FULL` makes a commit survive kill -9 and power loss alike.

This module is the store (the `Journal` class: connection, migrations, every read and write);
the schema, the status machines and the records it returns are `keeper.journal_records`.

Why it is long: it is the one store of the keeper's durable state, each table's reads and
writes beside its siblings so that every write stays one SQLite transaction in one place.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from keeper.journal_reconcile import ChainView, ReconcileReport, reconcile
from keeper.journal_records import (
    ATTEMPT_TRANSITIONS,
    COMMANDS,
    INTENT_TRANSITIONS,
    MIGRATIONS,
    NOTIONAL_COUNTS,
    REBALANCE_FINAL,
    SCHEMA_VERSION,
    Attempt,
    ChainIdentity,
    Command,
    Intent,
    JournalError,
    KillRecord,
    Rebalance,
    SignedTx,
    attempt_from_row,
    int_text,
    intent_from_row,
    kill_from_row,
    rebalance_from_row,
)


def default_journal_path(home: Path) -> Path:
    """Where the keeper's journal lives under the ammlab home (the CLI's commands use it)."""
    return Path(home) / "keeper" / "journal.sqlite"


class Journal:
    """The journal database at `path` (created, migrated to SCHEMA_VERSION, WAL mode)."""

    def __init__(self, path: str | os.PathLike, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, timeout=10.0, check_same_thread=False
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as err:
            raise JournalError(
                f"cannot open journal {self.path} ({err}): move the file aside to start afresh"
            ) from err

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: take the write lock up front)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"journal {self.path} has schema v{version} but this ammlab knows up to "
                f"v{SCHEMA_VERSION}: upgrade ammlab"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._tx() as db:
                for statement in MIGRATIONS[target - 1].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {target}")

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def _event(
        self,
        db: sqlite3.Connection,
        subject: str,
        intent_id: int | None,
        tx_hash: str | None,
        from_status: str | None,
        to_status: str | None,
        detail: str = "",
    ) -> None:
        db.execute(
            "INSERT INTO events (at, subject, intent_id, tx_hash, from_status, to_status, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.clock(), subject, intent_id, tx_hash, from_status, to_status, detail),
        )

    def _set_intent(
        self, db: sqlite3.Connection, intent_id: int, to: str, detail: str = "", error=None
    ) -> None:
        row = db.execute("SELECT status FROM intents WHERE id = ?", (intent_id,)).fetchone()
        if row is None:
            raise JournalError(f"no intent #{intent_id} in the journal")
        now = row["status"]
        if now == to:
            return
        if to not in INTENT_TRANSITIONS.get(now, frozenset()):
            raise JournalError(f"intent #{intent_id}: no transition {now} -> {to}")
        db.execute(
            "UPDATE intents SET status = ?, error = COALESCE(?, error), updated_at = ?"
            " WHERE id = ?",
            (to, error, self.clock(), intent_id),
        )
        self._event(db, "intent", intent_id, None, now, to, detail or (error or ""))

    def _set_attempt(
        self, db: sqlite3.Connection, tx_hash: str, to: str, detail: str = "", **columns: Any
    ) -> None:
        row = db.execute(
            "SELECT status, intent_id FROM attempts WHERE tx_hash = ?", (tx_hash,)
        ).fetchone()
        if row is None:
            raise JournalError(f"no transaction {tx_hash} in the journal")
        now = row["status"]
        if now != to and to not in ATTEMPT_TRANSITIONS.get(now, frozenset()):
            raise JournalError(f"transaction {tx_hash}: no transition {now} -> {to}")
        sets = ", ".join(["status = ?", *(f"{c} = ?" for c in columns)])
        db.execute(
            f"UPDATE attempts SET {sets} WHERE tx_hash = ?", (to, *columns.values(), tx_hash)
        )
        if now != to:
            self._event(db, "tx", row["intent_id"], tx_hash, now, to, detail)

    # ------------------------------------------------------------------ intents

    def record_intent(
        self,
        key: str,
        *,
        account: str,
        chain_id: int,
        to: str,
        data: str = "0x",
        value: int = 0,
        notional: float = 0.0,
        kind: str = "hedge",
        meta: dict[str, Any] | None = None,
        expires_at: float | None = None,
    ) -> Intent:
        """Record a planned hedge under `key`, or return the intent already under it.

        Raises JournalError if `key` already holds a different call (to, data, value or
        account): that is a bug in how keys are derived, never something to paper over.
        """
        now = self.clock()
        with self._tx() as db:
            row = db.execute("SELECT * FROM intents WHERE key = ?", (key,)).fetchone()
            if row is None:
                cur = db.execute(
                    "INSERT INTO intents (key, account, chain_id, kind, to_addr, data, value,"
                    " notional, meta, status, created_at, updated_at, expires_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'planned', ?, ?, ?)",
                    (
                        key, account, chain_id, kind, to, data, str(value), float(notional),
                        json.dumps(meta or {}, sort_keys=True), now, now, expires_at,
                    ),
                )  # fmt: skip
                self._event(db, "intent", cur.lastrowid, None, None, "planned", key)
                row = db.execute("SELECT * FROM intents WHERE id = ?", (cur.lastrowid,)).fetchone()
        intent = intent_from_row(row)
        same = (intent.account, intent.to, intent.data, intent.value) == (account, to, data, value)
        if not same:
            raise JournalError(
                f"intent key {key[:16]}… already holds a different call (#{intent.id} to "
                f"{intent.to}): derive keys from the decision id, block and target"
            )
        return intent

    def intent(self, intent_id: int) -> Intent:
        row = self._db.execute("SELECT * FROM intents WHERE id = ?", (intent_id,)).fetchone()
        if row is None:
            raise JournalError(f"no intent #{intent_id} in the journal")
        return intent_from_row(row)

    def intents(self, statuses: tuple[str, ...] | None = None) -> list[Intent]:
        if statuses is None:
            rows = self._db.execute("SELECT * FROM intents ORDER BY id").fetchall()
        else:
            marks = ",".join("?" * len(statuses))
            rows = self._db.execute(
                f"SELECT * FROM intents WHERE status IN ({marks}) ORDER BY id", statuses
            ).fetchall()
        return [intent_from_row(r) for r in rows]

    def open_intents(self, account: str | None = None) -> list[Intent]:
        """Intents not final (planned, signed, sent), oldest first."""
        found = self.intents(("planned", "signed", "sent"))
        return [i for i in found if account is None or i.account == account]

    def refuse(self, intent_id: int, guard: str, reason: str) -> Intent:
        """A guard or the simulation refused a planned intent: final, no nonce used."""
        with self._tx() as db:
            self._set_intent(db, intent_id, "refused", detail=f"{guard}: {reason}", error=reason)
            db.execute(
                "INSERT INTO refusals (at, intent_id, guard, reason) VALUES (?, ?, ?, ?)",
                (self.clock(), intent_id, guard, reason),
            )
        return self.intent(intent_id)

    def refusals(self, after_id: int = 0) -> list[dict[str, Any]]:
        """Guard refusals in order, those after row `after_id` (0: all)."""
        rows = self._db.execute("SELECT * FROM refusals WHERE id > ? ORDER BY id", (after_id,))
        return [dict(r) for r in rows]

    def expire(self, intent_id: int, reason: str = "expired before signing") -> Intent:
        with self._tx() as db:
            self._set_intent(db, intent_id, "expired", error=reason)
        return self.intent(intent_id)

    def notional_since(self, since: float, exclude_intent: int | None = None) -> float:
        """Notional of intents created at or after `since` that traded or may trade."""
        marks = ",".join("?" * len(NOTIONAL_COUNTS))
        row = self._db.execute(
            f"SELECT COALESCE(SUM(notional), 0) FROM intents WHERE created_at >= ? AND status IN"
            f" ({marks}) AND id IS NOT ?",
            (since, *NOTIONAL_COUNTS, exclude_intent),
        ).fetchone()
        return float(row[0])

    # ------------------------------------------------------------------ attempts

    def record_signed(self, intent_id: int, tx: SignedTx, account: str) -> Attempt:
        """The first signed transaction of a planned intent (before it is sent)."""
        with self._tx() as db:
            row = db.execute("SELECT status FROM intents WHERE id = ?", (intent_id,)).fetchone()
            if row is not None and row["status"] != "planned":
                raise JournalError(
                    f"intent #{intent_id} is {row['status']}: only a planned intent is signed "
                    "(replace an attempt with record_replacement)"
                )
            self._set_intent(db, intent_id, "signed", detail=tx.tx_hash)
            self._insert_attempt(db, intent_id, tx, account, replaces=None)
        return self.attempt(tx.tx_hash)

    def record_replacement(self, intent_id: int, old_hash: str, tx: SignedTx) -> Attempt:
        """A same-nonce replacement of `old_hash`, signed and accepted by the node.

        The old attempt becomes `replaced` (it may still be mined: receipts are checked for
        every attempt of the intent).
        """
        with self._tx() as db:
            old = db.execute("SELECT * FROM attempts WHERE tx_hash = ?", (old_hash,)).fetchone()
            if old is None or old["intent_id"] != intent_id:
                raise JournalError(f"{old_hash} is no attempt of intent #{intent_id}")
            if old["nonce"] != tx.nonce:
                raise JournalError(
                    f"replacement of {old_hash} has nonce {tx.nonce}, not {old['nonce']}"
                )
            self._insert_attempt(db, intent_id, tx, old["account"], replaces=old_hash)
            self._set_attempt(db, old_hash, "replaced", detail=f"by {tx.tx_hash}")
        return self.attempt(tx.tx_hash)

    def _insert_attempt(
        self, db: sqlite3.Connection, intent_id: int, tx: SignedTx, account: str, replaces
    ) -> None:
        db.execute(
            "INSERT INTO attempts (intent_id, account, nonce, tx_hash, raw, fee_mode, gas_limit,"
            " gas_price, max_fee, priority_fee, replaces, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'signed', ?)",
            (
                intent_id, account, tx.nonce, tx.tx_hash, tx.raw, tx.fee_mode, tx.gas_limit,
                int_text(tx.gas_price), int_text(tx.max_fee), int_text(tx.priority_fee), replaces,
                self.clock(),
            ),
        )  # fmt: skip
        self._event(db, "tx", intent_id, tx.tx_hash, None, "signed", f"nonce {tx.nonce}")

    def mark_sent(self, tx_hash: str, block: int | None = None, detail: str = "") -> Attempt:
        """The node accepted `tx_hash` (first send or rebroadcast)."""
        with self._tx() as db:
            att = db.execute("SELECT * FROM attempts WHERE tx_hash = ?", (tx_hash,)).fetchone()
            if att is None:
                raise JournalError(f"no transaction {tx_hash} in the journal")
            if att["status"] not in ("signed", "sent"):
                raise JournalError(f"transaction {tx_hash} is {att['status']}, cannot be sent")
            self._set_attempt(db, tx_hash, "sent", detail=detail)
            db.execute(
                "UPDATE attempts SET sent_at = COALESCE(sent_at, ?),"
                " sent_block = COALESCE(sent_block, ?) WHERE tx_hash = ?",
                (self.clock(), block, tx_hash),
            )
            if detail and att["status"] == "sent":
                self._event(db, "tx", att["intent_id"], tx_hash, "sent", "sent", detail)
            intent = db.execute(
                "SELECT status FROM intents WHERE id = ?", (att["intent_id"],)
            ).fetchone()
            if intent["status"] == "signed":
                self._set_intent(db, att["intent_id"], "sent", detail=tx_hash)
        return self.attempt(tx_hash)

    def record_send_refused(self, tx_hash: str, reason: str) -> Intent:
        """The node refused the first send outright: the nonce is not consumed; intent fails."""
        with self._tx() as db:
            att = db.execute("SELECT * FROM attempts WHERE tx_hash = ?", (tx_hash,)).fetchone()
            self._set_attempt(db, tx_hash, "dropped", detail=f"node refused: {reason}")
            others = db.execute(
                "SELECT COUNT(*) FROM attempts WHERE intent_id = ? AND status != 'dropped'",
                (att["intent_id"],),
            ).fetchone()[0]
            if others == 0:
                self._set_intent(db, att["intent_id"], "failed", error=f"node refused: {reason}")
        return self.intent(att["intent_id"])

    def record_receipt(self, tx_hash: str, receipt: dict[str, Any]) -> Intent:
        """`tx_hash` was mined (status 1: mined, 0: failed, nonce consumed either way); every
        other attempt of its intent is `replaced`."""
        ok = int(receipt.get("status", "0x1"), 16) == 1
        block = int(receipt["blockNumber"], 16) if receipt.get("blockNumber") else None
        keep = {k: receipt.get(k) for k in ("status", "blockNumber", "gasUsed",
                                            "effectiveGasPrice", "transactionHash")}  # fmt: skip
        with self._tx() as db:
            att = db.execute("SELECT * FROM attempts WHERE tx_hash = ?", (tx_hash,)).fetchone()
            if att is None:
                raise JournalError(f"no transaction {tx_hash} in the journal")
            status = "mined" if ok else "failed"
            self._set_attempt(
                db, tx_hash, status, detail=f"block {block}", mined_block=block,
                receipt=json.dumps(keep),
            )  # fmt: skip
            for other in db.execute(
                "SELECT tx_hash, status FROM attempts WHERE intent_id = ? AND tx_hash != ?"
                " AND status IN ('signed', 'sent')",
                (att["intent_id"], tx_hash),
            ).fetchall():
                self._set_attempt(db, other["tx_hash"], "replaced", detail=f"{tx_hash} mined")
            reason = None if ok else f"reverted on chain in block {block} (nonce consumed)"
            self._set_intent(db, att["intent_id"], status, detail=tx_hash, error=reason)
        return self.intent(att["intent_id"])

    def record_dropped(self, intent_id: int, reason: str) -> Intent:
        """Every attempt is gone for good (its nonce was consumed by a transaction not ours)."""
        with self._tx() as db:
            for att in db.execute(
                "SELECT tx_hash FROM attempts WHERE intent_id = ? AND status IN"
                " ('signed', 'sent', 'replaced')",
                (intent_id,),
            ).fetchall():
                self._set_attempt(db, att["tx_hash"], "dropped", detail=reason)
            self._set_intent(db, intent_id, "dropped", error=reason)
        return self.intent(intent_id)

    def note(self, intent_id: int | None, tx_hash: str | None, detail: str) -> None:
        """A free-form event (e.g. a replacement held back by the fee cap)."""
        with self._tx() as db:
            self._event(db, "note", intent_id, tx_hash, None, None, detail)

    def attempt(self, tx_hash: str) -> Attempt:
        row = self._db.execute("SELECT * FROM attempts WHERE tx_hash = ?", (tx_hash,)).fetchone()
        if row is None:
            raise JournalError(f"no transaction {tx_hash} in the journal")
        return attempt_from_row(row)

    def attempts(self, intent_id: int) -> list[Attempt]:
        """Attempts of an intent, oldest first (the last is the current replacement)."""
        rows = self._db.execute(
            "SELECT * FROM attempts WHERE intent_id = ? ORDER BY id", (intent_id,)
        ).fetchall()
        return [attempt_from_row(r) for r in rows]

    def max_open_nonce(self, account: str) -> int | None:
        """Highest nonce of an attempt of `account` whose intent is not final."""
        row = self._db.execute(
            "SELECT MAX(a.nonce) FROM attempts a JOIN intents i ON a.intent_id = i.id"
            " WHERE a.account = ? AND i.status IN ('signed', 'sent')",
            (account,),
        ).fetchone()
        return row[0]

    def events(self, intent_id: int | None = None) -> list[dict[str, Any]]:
        if intent_id is None:
            rows = self._db.execute("SELECT * FROM events ORDER BY id")
        else:
            rows = self._db.execute(
                "SELECT * FROM events WHERE intent_id = ? ORDER BY id", (intent_id,)
            )
        return [dict(r) for r in rows]

    # ------------------------------------------------------------------ rebalances

    def start_rebalance(self, key: str, pool: str, token_id: int, tick_lower: int,
                        tick_upper: int, meta: dict[str, Any] | None = None) -> Rebalance:  # fmt: skip
        """Record a move under `key` (or return the one already under it); refused while
        another is open: one move at a time."""
        now = self.clock()
        with self._tx() as db:
            row = db.execute("SELECT * FROM rebalances WHERE key = ?", (key,)).fetchone()
            if row is None:
                other = db.execute("SELECT id FROM rebalances WHERE status = 'open'").fetchone()
                if other is not None:
                    raise JournalError(f"rebalance #{other['id']} is still open: finish it first")
                cur = db.execute(
                    "INSERT INTO rebalances (key, pool, token_id, tick_lower, tick_upper, status,"
                    " meta, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?)",
                    (key, pool, str(token_id), tick_lower, tick_upper,
                     json.dumps(meta or {}, sort_keys=True), now, now),
                )  # fmt: skip
                self._event(db, "rebalance", None, None, None, "open", f"#{cur.lastrowid} {key}")
                return self.rebalance(cur.lastrowid)
        return rebalance_from_row(row)

    def finish_rebalance(self, rebalance_id: int, status: str, new_token_id: int | None = None,
                         detail: str = "", meta: dict[str, Any] | None = None) -> Rebalance:  # fmt: skip
        """Close an open move: `done` (with the token minted) or `abandoned`; `meta` is merged
        into its meta."""
        if status not in REBALANCE_FINAL:
            raise JournalError(f"rebalance #{rebalance_id}: {status!r} is not a final status")
        with self._tx() as db:
            row = db.execute(
                "SELECT status, meta FROM rebalances WHERE id = ?", (rebalance_id,)
            ).fetchone()
            if row is None or row["status"] != "open":
                raise JournalError(f"rebalance #{rebalance_id} is not open")
            merged = json.dumps({**json.loads(row["meta"]), **(meta or {})}, sort_keys=True)
            db.execute(
                "UPDATE rebalances SET status = ?, new_token_id = ?, meta = ?, updated_at = ?"
                " WHERE id = ?",
                (status, int_text(new_token_id), merged, self.clock(), rebalance_id),
            )
            self._event(db, "rebalance", None, None, "open", status, detail)
        return self.rebalance(rebalance_id)

    def rebalance(self, rebalance_id: int) -> Rebalance:
        row = self._db.execute("SELECT * FROM rebalances WHERE id = ?", (rebalance_id,)).fetchone()
        if row is None:
            raise JournalError(f"no rebalance #{rebalance_id} in the journal")
        return rebalance_from_row(row)

    def rebalances(self, status: str | None = None) -> list[Rebalance]:
        """Moves in order, those of `status` (None: all)."""
        rows = self._db.execute(
            "SELECT * FROM rebalances WHERE ? IS NULL OR status = ? ORDER BY id", (status, status)
        ).fetchall()
        return [rebalance_from_row(r) for r in rows]

    def rebalance_steps(self, rebalance_id: int) -> list[Intent]:
        """The intents of a move's steps (kinds `range_*`), oldest first."""
        rows = self._db.execute("SELECT * FROM intents WHERE kind LIKE 'range_%' ORDER BY id")
        return [i for i in map(intent_from_row, rows) if i.meta.get("rebalance") == rebalance_id]

    # ------------------------------------------------------------------ reconcile

    def reconcile(self, chain: ChainView, account: str | None = None) -> ReconcileReport:
        """Settle every non-final intent (of `account`, or all) against `chain`; run at start-up
        before any new action (`keeper.journal_reconcile.reconcile`)."""
        return reconcile(self, chain, account)

    # ------------------------------------------------------------------ chain identity

    def chain_identity(self) -> ChainIdentity | None:
        row = self._db.execute("SELECT * FROM chain WHERE id = 1").fetchone()
        if row is None:
            return None
        return ChainIdentity(row["chain_id"], row["genesis_hash"], row["first_block"],
                             row["recorded_at"])  # fmt: skip

    def record_chain_identity(self, chain_id: int, genesis_hash: str, block: int) -> ChainIdentity:
        """Record the chain on first use; afterwards, return what was recorded (never
        overwritten: a journal belongs to one chain for life)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO chain (id, chain_id, genesis_hash, first_block, recorded_at)"
                " VALUES (1, ?, ?, ?, ?)",
                (chain_id, genesis_hash, block, self.clock()),
            )
        return self.chain_identity()

    def last_on_chain(self, account: str) -> Attempt | None:
        """The attempt of `account` with the highest nonce that a chain included (mined, or
        reverted on chain: both carry a receipt). A node without it was reset or rolled back."""
        row = self._db.execute(
            "SELECT * FROM attempts WHERE account = ? AND receipt IS NOT NULL"
            " ORDER BY nonce DESC, id DESC LIMIT 1",
            (account,),
        ).fetchone()
        return attempt_from_row(row) if row else None

    # ------------------------------------------------------------------ the account's nonces

    def known_next_nonce(self, account: str) -> int | None:
        """The account's next nonce as far as this journal knows: past every attempt it signed
        that a chain may include (dropped ones aside: their nonce went to another transaction
        or to none) and past every nonce it recorded as not its own (`record_outside`); None
        before the first live start. A chain nonce beyond it is another signer's."""
        row = self._db.execute(
            "SELECT (SELECT MAX(nonce) + 1 FROM attempts WHERE account = ? AND status != "
            "'dropped'), (SELECT MAX(next_nonce) FROM outside_nonces WHERE account = ?)",
            (account, account),
        ).fetchone()
        known = [v for v in row if v is not None]
        return max(known) if known else None

    def record_outside(self, account: str, next_nonce: int,
                       foreign: Sequence[tuple[int, str | None, int | None]] = ()) -> None:  # fmt: skip
        """Nonces below `next_nonce` that the journal did not send: with no `foreign`, the
        chain's nonce adopted at the first live start; else each (nonce, tx hash, block) that
        another signer used (hash and block None where not found)."""
        now = self.clock()
        rows = [(account, "foreign", n, n + 1, h, b, now) for n, h, b in foreign]
        with self._tx() as db:
            db.executemany(
                "INSERT INTO outside_nonces (account, kind, nonce, next_nonce, tx_hash, block,"
                " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows or [(account, "adopted", None, next_nonce, None, None, now)],
            )

    def foreign_transactions(self, account: str) -> list[dict[str, Any]]:
        """Every transaction of `account` another signer sent, as found, oldest first."""
        rows = self._db.execute(
            "SELECT nonce, tx_hash, block, recorded_at FROM outside_nonces"
            " WHERE account = ? AND kind = 'foreign' ORDER BY id",
            (account,),
        ).fetchall()
        return [dict(r) for r in rows]

    # ------------------------------------------------------------------ kill switch

    def record_kill_transition(
        self, from_mode: str, to_mode: str, cause: str, detail: str, state: dict[str, Any]
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO killswitch (at, from_mode, to_mode, cause, detail, state)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (self.clock(), from_mode, to_mode, cause, detail, json.dumps(state)),
            )

    def save_kill_state(self, state: dict[str, Any]) -> None:
        """Persist the kill switch's state without a transition (streaks, error times)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO killswitch (at, from_mode, to_mode, cause, detail, state)"
                " VALUES (?, ?, ?, 'checkpoint', '', ?)",
                (self.clock(), state["mode"], state["mode"], json.dumps(state)),
            )
            # Only the newest checkpoint matters; keep transitions forever.
            db.execute(
                "DELETE FROM killswitch WHERE cause = 'checkpoint' AND id < "
                "(SELECT MAX(id) FROM killswitch WHERE cause = 'checkpoint')"
            )

    def kill_history(self, transitions_only: bool = True) -> list[KillRecord]:
        where = "WHERE cause != 'checkpoint'" if transitions_only else ""
        rows = self._db.execute(f"SELECT * FROM killswitch {where} ORDER BY id").fetchall()
        return [kill_from_row(r) for r in rows]

    def latest_kill_state(self) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM killswitch ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row["state"]) if row else None

    # ------------------------------------------------------------------ operator commands

    def enqueue_command(self, command: str, reason: str = "", issued_by: str = "") -> Command:
        """Queue an operator command for the running keeper (it polls `pending_commands`)."""
        if command not in COMMANDS:
            raise JournalError(f"unknown command {command!r}: use one of {', '.join(COMMANDS)}")
        who = issued_by or f"{os.environ.get('USER', 'operator')} (pid {os.getpid()})"
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO commands (at, command, reason, issued_by) VALUES (?, ?, ?, ?)",
                (self.clock(), command, reason, who),
            )
        return self.command(cur.lastrowid)

    def command(self, command_id: int) -> Command:
        row = self._db.execute("SELECT * FROM commands WHERE id = ?", (command_id,)).fetchone()
        return Command(**dict(row))

    def pending_commands(self) -> list[Command]:
        rows = self._db.execute(
            "SELECT * FROM commands WHERE status = 'pending' ORDER BY id"
        ).fetchall()
        return [Command(**dict(r)) for r in rows]

    def finish_command(self, command_id: int, status: str, result: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE commands SET status = ?, handled_at = ?, result = ? WHERE id = ?",
                (status, self.clock(), result, command_id),
            )

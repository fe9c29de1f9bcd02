"""Settling the keeper journal's open intents against the chain (crash recovery).

`reconcile(journal, chain)` runs at start-up before any new action (`Journal.reconcile`) and
settles every intent that is not final: a receipt for any of its attempts (the replacement
chain included) finishes it; a nonce consumed by a transaction that is not ours drops it; an
attempt still in the mempool is left to `wait`; an attempt the node forgot is re-broadcast (the
same signed bytes, so the same hash: it cannot land twice). Planned intents with no attempt are
returned for the caller to resume (or marked `expired` past their `expires_at`).

`settle` is the per-intent rule, shared by `reconcile` and the transaction manager's wait loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from keeper.journal_records import Attempt, Intent
from sim.errors import ChainError

if TYPE_CHECKING:
    from keeper.journal import Journal


class ChainView(Protocol):
    """What `reconcile` needs from the chain (the transaction manager's RPC client has it)."""

    def receipt(self, tx_hash: str) -> dict[str, Any] | None: ...

    def transaction(self, tx_hash: str) -> dict[str, Any] | None: ...

    def nonce(self, account: str, block: str = "latest") -> int: ...

    def send_raw(self, raw: str) -> str: ...


@dataclass
class ReconcileReport:
    """What `reconcile` found, by intent id."""

    mined: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    """Still in the node's mempool: `wait` on them."""
    rebroadcast: list[int] = field(default_factory=list)
    """The node had forgotten them; the same signed bytes were sent again (also pending)."""
    to_resume: list[int] = field(default_factory=list)
    """Planned, never signed: the caller may re-check guards and execute them."""


def reconcile(journal: Journal, chain: ChainView, account: str | None = None) -> ReconcileReport:
    """Settle every non-final intent (of `account`, or all) in `journal` against `chain`."""
    report = ReconcileReport()
    now = journal.clock()
    for intent in journal.open_intents(account):
        attempts = journal.attempts(intent.id)
        if not attempts:
            if intent.expires_at is not None and now > intent.expires_at:
                journal.expire(intent.id)
                report.expired.append(intent.id)
            else:
                report.to_resume.append(intent.id)
            continue
        outcome = settle(journal, chain, intent, attempts)
        getattr(report, outcome).append(intent.id)
    return report


def settle(journal: Journal, chain: ChainView, intent: Intent, attempts: list[Attempt]) -> str:
    """Settle one signed/sent intent against the chain; returns the ReconcileReport bucket.

    Shared by `Journal.reconcile` (start-up) and the transaction manager's wait loop.
    """
    for att in reversed(attempts):  # the newest attempt is the likeliest to be mined
        receipt = chain.receipt(att.tx_hash)
        if receipt is not None:
            settled = journal.record_receipt(att.tx_hash, receipt)
            return "mined" if settled.status == "mined" else "failed"
    live = [a for a in attempts if a.status in ("signed", "sent", "replaced")]
    if not live:
        journal.record_dropped(intent.id, "no live attempt left")
        return "dropped"
    nonce = live[-1].nonce
    if chain.nonce(intent.account, "latest") > nonce:
        # Consumed, but by none of our hashes (checked above); re-check once for a receipt
        # that landed between the two reads.
        for att in reversed(attempts):
            if (receipt := chain.receipt(att.tx_hash)) is not None:
                settled = journal.record_receipt(att.tx_hash, receipt)
                return "mined" if settled.status == "mined" else "failed"
        journal.record_dropped(intent.id, f"nonce {nonce} consumed by another transaction")
        return "dropped"
    newest = live[-1]
    if any(chain.transaction(a.tx_hash) is not None for a in live):
        if intent.status == "signed":
            journal.mark_sent(newest.tx_hash, detail="found in the mempool")
        return "pending"
    try:
        chain.send_raw(newest.raw)
    except ChainError as err:
        detail = f"rebroadcast refused: {err}"
        last = journal.events(intent.id)[-1:]
        if not last or last[0]["detail"] != detail:  # once per reason, not once per poll
            journal.note(intent.id, newest.tx_hash, detail)
        return "pending"
    journal.mark_sent(newest.tx_hash, detail="rebroadcast (the node had forgotten it)")
    return "rebroadcast"

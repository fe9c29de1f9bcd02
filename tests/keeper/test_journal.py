"""Journal: schema, idempotent intents, the status machine, and reconcile against a fake chain."""

import sqlite3

import pytest

from keeper.journal import Journal, default_journal_path
from keeper.journal_records import SCHEMA_VERSION, JournalError, SignedTx, intent_key
from sim.errors import ChainError

ACCOUNT = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


class Clock:
    def __init__(self, t: float = 1_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class FakeChain:
    """Receipts, mempool and nonces as a test sets them; records broadcasts."""

    def __init__(self):
        self.receipts: dict[str, dict] = {}
        self.mempool: set[str] = set()
        self.latest_nonce = 0
        self.sent: list[str] = []
        self.refuse_send = False

    def receipt(self, tx_hash):
        return self.receipts.get(tx_hash)

    def transaction(self, tx_hash):
        return {"hash": tx_hash} if tx_hash in self.mempool or tx_hash in self.receipts else None

    def nonce(self, account, block="latest"):
        return self.latest_nonce

    def send_raw(self, raw):
        if self.refuse_send:
            raise ChainError("eth_sendRawTransaction refused: max fee per gas less than base fee")
        self.sent.append(raw)
        tx_hash = f"0x{int(raw[5:]):064x}"  # the inverse of `signed` below
        self.mempool.add(tx_hash)
        return tx_hash


def mined(status: int = 1, block: int = 7) -> dict:
    return {"status": hex(status), "blockNumber": hex(block), "gasUsed": "0x5208"}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def journal(tmp_path, clock):
    with Journal(tmp_path / "j.sqlite", clock=clock) as j:
        yield j


def intent(journal, key="k1", **changes):
    args = dict(account=ACCOUNT, chain_id=1, to=TOKEN, data="0xa9059cbb", notional=100.0)
    return journal.record_intent(key, **{**args, **changes})


def signed(n: int, nonce: int = 0, fee: int = 100) -> SignedTx:
    return SignedTx(f"0x{n:064x}", f"0xraw{n}", nonce, 21_000, "eip1559", None, fee, fee // 10)


def test_schema_is_versioned_and_in_wal_mode(tmp_path):
    path = default_journal_path(tmp_path)
    with Journal(path) as j:
        assert j.schema_version == SCHEMA_VERSION
        assert j._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="upgrade ammlab"):
        Journal(path)


def test_intent_keys_are_deterministic_and_distinct():
    assert intent_key("d", 1, "0xa") == intent_key("d", 1, "0xa")
    assert len({intent_key("d", 1, "0xa"), intent_key("d", 2, "0xa"), intent_key("e", 1, "0xa"),
                intent_key("d", 1, "0xb")}) == 4  # fmt: skip


def test_record_intent_is_idempotent_and_survives_reopening(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        first = intent(j)
        assert intent(j) == first
    with Journal(path) as j:
        assert intent(j).id == first.id
        assert len(j.intents()) == 1
        assert first.status == "planned" and not first.final


def test_a_key_reused_for_another_call_is_refused(journal):
    intent(journal)
    with pytest.raises(JournalError, match="different call"):
        intent(journal, data="0xdeadbeef")


def test_the_happy_path_and_its_events(journal):
    i = intent(journal)
    journal.record_signed(i.id, signed(1), ACCOUNT)
    assert journal.intent(i.id).status == "signed"
    journal.mark_sent(signed(1).tx_hash, block=5)
    assert journal.intent(i.id).status == "sent"
    final = journal.record_receipt(signed(1).tx_hash, mined())
    assert final.status == "mined" and final.final
    (att,) = journal.attempts(i.id)
    assert (att.status, att.sent_block, att.mined_block) == ("mined", 5, 7)
    path = [(e["from_status"], e["to_status"]) for e in journal.events(i.id)
            if e["subject"] == "intent"]  # fmt: skip
    assert path == [(None, "planned"), ("planned", "signed"), ("signed", "sent"), ("sent", "mined")]


def test_invalid_transitions_are_refused(journal):
    i = intent(journal)
    journal.record_signed(i.id, signed(1), ACCOUNT)
    with pytest.raises(JournalError, match="signed -> refused"):
        journal.refuse(i.id, "gas_price", "too dear")
    with pytest.raises(JournalError, match="signed -> expired"):
        journal.expire(i.id)
    with pytest.raises(JournalError, match="only a planned intent"):
        journal.record_signed(i.id, signed(2, nonce=1), ACCOUNT)
    journal.record_receipt(signed(1).tx_hash, mined())
    with pytest.raises(JournalError, match="cannot be sent"):
        journal.mark_sent(signed(1).tx_hash)


def test_a_failed_write_leaves_nothing_behind(journal):
    i = intent(journal)
    journal.record_signed(i.id, signed(1, nonce=4), ACCOUNT)
    with pytest.raises(JournalError, match="nonce 5, not 4"):
        journal.record_replacement(i.id, signed(1).tx_hash, signed(2, nonce=5))
    assert [a.tx_hash for a in journal.attempts(i.id)] == [signed(1).tx_hash]
    assert journal.attempts(i.id)[0].status == "signed"


def test_replacements_chain_and_any_attempt_may_win(journal):
    i = intent(journal)
    journal.record_signed(i.id, signed(1, fee=100), ACCOUNT)
    journal.mark_sent(signed(1).tx_hash)
    journal.record_replacement(i.id, signed(1).tx_hash, signed(2, fee=113))
    journal.mark_sent(signed(2).tx_hash)
    first, second = journal.attempts(i.id)
    assert (first.status, second.status, second.replaces) == ("replaced", "sent", first.tx_hash)
    # The older, cheaper attempt is the one that got mined after all.
    final = journal.record_receipt(signed(1).tx_hash, mined())
    assert final.status == "mined"
    assert [a.status for a in journal.attempts(i.id)] == ["mined", "replaced"]


def test_a_revert_fails_the_intent_and_a_refusal_is_recorded(journal):
    a, b = intent(journal, "a"), intent(journal, "b")
    journal.record_signed(a.id, signed(1), ACCOUNT)
    journal.mark_sent(signed(1).tx_hash)
    failed = journal.record_receipt(signed(1).tx_hash, mined(status=0))
    assert failed.status == "failed" and "nonce consumed" in failed.error
    refused = journal.refuse(b.id, "simulation", "erc20: insufficient balance")
    assert refused.status == "refused" and refused.error == "erc20: insufficient balance"
    assert journal.refusals()[0]["guard"] == "simulation"


def test_a_first_send_refused_by_the_node_fails_the_intent(journal):
    i = intent(journal)
    journal.record_signed(i.id, signed(1), ACCOUNT)
    assert journal.record_send_refused(signed(1).tx_hash, "insufficient funds").status == "failed"
    assert journal.max_open_nonce(ACCOUNT) is None  # nothing open holds a nonce


def test_notional_over_the_rolling_hour_counts_what_traded_or_may(journal, clock):
    old = intent(journal, "old", notional=1_000.0)
    journal.record_signed(old.id, signed(1), ACCOUNT)
    clock.t += 3_700
    sent = intent(journal, "sent", notional=10.0)
    journal.record_signed(sent.id, signed(2, nonce=1), ACCOUNT)
    refused = intent(journal, "refused", notional=500.0)
    journal.refuse(refused.id, "slippage", "too much")
    planned = intent(journal, "planned", notional=7.0)
    since = clock.t - 3_600
    assert journal.notional_since(since) == 10.0
    assert journal.notional_since(since, exclude_intent=sent.id) == 0.0
    assert journal.notional_since(0) == 1_010.0
    assert planned.status == "planned"


# --------------------------------------------------------------------------- reconcile


def test_reconcile_settles_every_open_intent(journal, clock):
    chain = FakeChain()
    chain.latest_nonce = 3
    # 1: a replacement of it was mined; 2: nonce taken by a foreign transaction;
    # 3: still in the mempool (crash before mark_sent); 4: the node forgot it;
    # 5: planned, fresh; 6: planned, expired; 7: reverted on chain.
    ids = [intent(journal, f"k{n}", expires_at=(clock.t - 1 if n == 6 else None)).id
           for n in range(1, 8)]  # fmt: skip
    journal.record_signed(ids[0], signed(1, nonce=0), ACCOUNT)
    journal.mark_sent(signed(1).tx_hash)
    journal.record_replacement(ids[0], signed(1).tx_hash, signed(11, nonce=0, fee=113))
    chain.receipts[signed(11).tx_hash] = mined()
    journal.record_signed(ids[1], signed(2, nonce=1), ACCOUNT)
    journal.mark_sent(signed(2).tx_hash)
    journal.record_signed(ids[2], signed(3, nonce=3), ACCOUNT)
    chain.mempool.add(signed(3).tx_hash)
    journal.record_signed(ids[3], signed(4, nonce=4), ACCOUNT)
    journal.mark_sent(signed(4).tx_hash)
    journal.record_signed(ids[6], signed(7, nonce=2), ACCOUNT)
    chain.receipts[signed(7).tx_hash] = mined(status=0)

    report = journal.reconcile(chain)

    assert report.mined == [ids[0]]
    assert report.dropped == [ids[1]]
    assert report.pending == [ids[2]]
    assert report.rebroadcast == [ids[3]]
    assert report.to_resume == [ids[4]]
    assert report.expired == [ids[5]]
    assert report.failed == [ids[6]]
    assert chain.sent == [signed(4).raw]  # the same signed bytes, nothing new
    statuses = [journal.intent(i).status for i in ids]
    assert statuses == ["mined", "dropped", "sent", "sent", "planned", "expired", "failed"]
    assert "consumed by another" in journal.intent(ids[1]).error
    # Reconciling again changes nothing and sends nothing more.
    again = journal.reconcile(chain)
    assert again.pending == [ids[2], ids[3]] and chain.sent == [signed(4).raw]


def test_reconcile_keeps_an_attempt_the_node_will_not_take_back(journal):
    chain = FakeChain()
    chain.refuse_send = True
    i = intent(journal)
    journal.record_signed(i.id, signed(1), ACCOUNT)
    journal.mark_sent(signed(1).tx_hash)
    report = journal.reconcile(chain)
    assert report.pending == [i.id] and journal.intent(i.id).status == "sent"
    assert any("rebroadcast refused" in e["detail"] for e in journal.events(i.id))


def test_max_open_nonce_spans_open_intents_only(journal):
    a, b = intent(journal, "a"), intent(journal, "b")
    journal.record_signed(a.id, signed(1, nonce=4), ACCOUNT)
    journal.record_signed(b.id, signed(2, nonce=5), ACCOUNT)
    assert journal.max_open_nonce(ACCOUNT) == 5
    journal.record_receipt(signed(2).tx_hash, mined())
    assert journal.max_open_nonce(ACCOUNT) == 4


# --------------------------------------------------------------------------- commands


def test_commands_queue_across_connections(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as keeper, Journal(path) as operator:
        cmd = operator.enqueue_command("pause", "maintenance", "alice")
        (pending,) = keeper.pending_commands()
        assert (pending.id, pending.command, pending.issued_by) == (cmd.id, "pause", "alice")
        keeper.finish_command(cmd.id, "applied", "mode paused")
        assert operator.pending_commands() == []
        assert operator.command(cmd.id).status == "applied"
        with pytest.raises(JournalError, match="unknown command"):
            operator.enqueue_command("explode")

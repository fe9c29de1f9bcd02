"""The runtime's safety pieces without a chain: the journal's chain identity, the kill
switch's external trigger, the chaos hook (inert unless set), outage classification, venue
exclusion, and the RPC client's reconnect hook. The chain-level behaviour is in
tests/e2e/test_keeper_chaos.py."""

import json
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests

from keeper.config import load_keeper_config, venue_names, without_venues
from keeper.journal import Journal
from keeper.journal_records import MIGRATIONS, SCHEMA_VERSION, SignedTx
from keeper.killswitch import KillState, KillSwitch, escalate
from keeper.runtime import is_outage
from keeper.safety_config import KillSwitchLimits, TxLimits
from keeper.txmanager import CHAOS_ENV, TxError, chaos_stop, rpc_client
from sim.chain import node as chainmod
from sim.chain.rpc import RpcUnavailable
from sim.errors import ChainError

ACCOUNT = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def _mined(journal: Journal, key: str, nonce: int, status: str = "0x1") -> str:
    intent = journal.record_intent(key, account=ACCOUNT, chain_id=1, to="0x" + "1" * 40)
    tx_hash = f"0x{nonce + 1:064x}"
    journal.record_signed(intent.id, SignedTx(tx_hash, "0xraw", nonce, 21_000, "eip1559"), ACCOUNT)
    journal.record_receipt(tx_hash, {"status": status, "blockNumber": hex(100 + nonce)})
    return tx_hash


def test_the_journal_belongs_to_the_first_chain_it_records(tmp_path):
    with Journal(tmp_path / "j.sqlite") as journal:
        assert journal.chain_identity() is None
        first = journal.record_chain_identity(1, "0xaaa", 40)
        assert (first.chain_id, first.genesis_hash, first.first_block) == (1, "0xaaa", 40)
        again = journal.record_chain_identity(5, "0xbbb", 90)  # never overwritten
        assert again == first


def test_last_on_chain_is_the_highest_included_nonce_reverted_or_not(tmp_path):
    with Journal(tmp_path / "j.sqlite") as journal:
        assert journal.last_on_chain(ACCOUNT) is None
        _mined(journal, "a", 0)
        reverted = _mined(journal, "b", 1, status="0x0")  # included: it consumed its nonce
        refused = journal.record_intent("c", account=ACCOUNT, chain_id=1, to="0x" + "1" * 40)
        journal.record_signed(refused.id, SignedTx("0xfe", "0xraw", 2, 21_000, "eip1559"),
                              ACCOUNT)  # fmt: skip
        journal.record_send_refused("0xfe", "insufficient funds")  # never on chain
        last = journal.last_on_chain(ACCOUNT)
        assert (last.tx_hash, last.nonce) == (reverted, 1)
        assert journal.last_on_chain("0x" + "2" * 40) is None


def test_the_journal_knows_the_nonces_it_signed_adopted_or_found_foreign(tmp_path):
    with Journal(tmp_path / "j.sqlite") as journal:
        assert journal.known_next_nonce(ACCOUNT) is None  # before the first live start
        journal.record_outside(ACCOUNT, 5)  # adopted: nonces 0..4 were not the journal's
        assert journal.known_next_nonce(ACCOUNT) == 5
        _mined(journal, "a", 5)
        assert journal.known_next_nonce(ACCOUNT) == 6
        dropped = journal.record_intent("b", account=ACCOUNT, chain_id=1, to="0x" + "1" * 40)
        journal.record_signed(dropped.id, SignedTx("0xfe", "0xraw", 6, 21_000, "eip1559"),
                              ACCOUNT)  # fmt: skip
        assert journal.known_next_nonce(ACCOUNT) == 7  # signed: the chain may include it
        journal.record_dropped(dropped.id, "nonce 6 consumed by another transaction")
        assert journal.known_next_nonce(ACCOUNT) == 6  # its nonce went to someone else
        journal.record_outside(ACCOUNT, 8, [(6, "0xaa", 120), (7, None, None)])
        assert journal.known_next_nonce(ACCOUNT) == 8
        assert [(f["nonce"], f["tx_hash"], f["block"])
                for f in journal.foreign_transactions(ACCOUNT)] == [(6, "0xaa", 120),
                                                                    (7, None, None)]  # fmt: skip
        assert journal.known_next_nonce("0x" + "2" * 40) is None  # per account


def test_a_v1_journal_is_migrated_with_its_history_kept(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute(
        "INSERT INTO intents (key, account, chain_id, kind, to_addr, data, value, notional,"
        " meta, status, created_at, updated_at) VALUES"
        " ('k', ?, 1, 'hedge', '0x1', '0x', '0', 1.0, '{}', 'planned', 0, 0)",
        (ACCOUNT,),
    )
    db.commit()
    db.close()
    with Journal(path) as journal:
        assert journal.schema_version == SCHEMA_VERSION == 4
        assert journal.rebalances() == []  # v3: the rebalances table, empty
        assert journal.known_next_nonce(ACCOUNT) is None  # v4: no nonce adopted yet
        assert [i.key for i in journal.intents()] == ["k"]
        assert journal.chain_identity() is None  # recorded at the next live start


def test_a_trip_only_escalates_and_is_journaled(tmp_path):
    state, t = escalate(KillState(), "paused", "venue", "no venue left", 10.0)
    assert (state.mode, state.cause, t.from_mode, t.to_mode) == ("paused", "venue", "running",
                                                                 "paused")  # fmt: skip
    same, none = escalate(state, "reduce_only", "venue", "again", 11.0)
    assert none is None and same.mode == "paused"
    with pytest.raises(ValueError, match="unknown mode"):
        escalate(KillState(), "halt", "venue", "", 0.0)
    with Journal(tmp_path / "j.sqlite") as journal:
        switch = KillSwitch(journal, KillSwitchLimits())
        assert switch.trip("paused", "venue", "perp: open interest cap") is not None
        assert switch.trip("paused", "venue", "again") is None
        (record,) = journal.kill_history()
        assert (record.to_mode, record.cause, record.detail) == ("paused", "venue",
                                                                 "perp: open interest cap")  # fmt: skip
        assert KillSwitch(journal, KillSwitchLimits()).mode == "paused"  # persisted


def test_the_chaos_hook_is_inert_unless_set_and_rejects_a_typo():
    assert chaos_stop(None) is None and chaos_stop("") is None
    with pytest.raises(TxError, match=f"{CHAOS_ENV}='mined'"):
        chaos_stop("mined")
    hook = chaos_stop("signed:hedge")

    class Intent:
        id, kind = 7, "setup"

    hook("signed", Intent())  # another kind: returns at once
    hook("sent", type("I", (), {"id": 8, "kind": "hedge"})())  # another stage: likewise


def test_the_chaos_hook_freezes_at_its_stage():
    code = (
        "from keeper.txmanager import chaos_stop\n"
        "class I: id, kind = 3, 'hedge'\n"
        "chaos_stop('sent:hedge')('sent', I())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert line.startswith("CHAOS stopped at sent (intent #3, hedge, pid ")
    time.sleep(0.2)
    assert proc.poll() is None  # still frozen there
    proc.kill()
    proc.wait()


def test_outages_are_transport_failures_not_refusals():
    try:
        raise ChainError("unreachable") from requests.ConnectionError("refused")
    except ChainError as err:
        assert is_outage(err)
    assert is_outage(RpcUnavailable("gone"))
    assert not is_outage(ChainError("eth_call #3 refused: execution reverted"))
    assert not is_outage(ValueError("bug"))


def test_without_venues_disables_exactly_those():
    cfg = load_keeper_config(venues={"cpmm": [{"name": "venue_a"}, {"name": "venue_b"}]})
    assert venue_names(cfg) == {"venue_a", "venue_b", "perp"}
    assert venue_names(without_venues(cfg, {"perp"})) == {"venue_a", "venue_b"}
    assert venue_names(without_venues(cfg, {"venue_b", "perp"})) == {"venue_a"}
    assert venue_names(cfg) == {"venue_a", "venue_b", "perp"}  # the original is untouched


class _Answer(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        data = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": "0x1"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_the_first_answer_after_an_outage_runs_the_reconnect_hook_once():
    port = chainmod.free_port()
    limits = TxLimits(rpc_retry_budget_s=10, rpc_backoff_initial_s=0.05, rpc_backoff_max_s=0.2)
    client = rpc_client(f"http://127.0.0.1:{port}", limits)
    seen: list[float] = []

    def hook(down_s: float) -> None:
        seen.append(down_s)
        client.call("eth_chainId")  # the hook may use the client: no recursion

    client.on_reconnect = hook
    holder: list[HTTPServer] = []

    def come_up():
        time.sleep(0.4)
        live = HTTPServer(("127.0.0.1", port), _Answer)
        threading.Thread(target=live.serve_forever, daemon=True).start()
        holder.append(live)

    threading.Thread(target=come_up).start()
    assert client.block_number() == 1
    assert len(seen) == 1 and seen[0] >= 0.3
    client.block_number()  # no outage: no hook
    assert len(seen) == 1
    holder[0].shutdown()

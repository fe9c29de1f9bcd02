"""Transaction manager pieces without a chain: fees and bumps, revert reasons, the
account lock, and the manager's RPC client (sim.chain.rpc with its retry budget) across a
node that comes up late; the client itself is tested in tests/sim/test_rpc.py."""

import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from eth_abi import encode

from keeper.account import LOCK_DIR_ENV, AccountLock, AccountLockedError, default_lock_dir
from keeper.journal_records import Attempt
from keeper.safety_config import TxLimits
from keeper.txmanager import (
    GWEI,
    bumped_fees,
    initial_fees,
    keeper_private_key,
    revert_reason,
    rpc_client,
)
from sim.chain import node as chainmod
from sim.chain.rpc import RpcRefused, RpcUnavailable

ADDRESS = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def attempt(**fees) -> Attempt:
    mode = "legacy" if "gas_price" in fees else "eip1559"
    base = dict(id=1, intent_id=1, account=ADDRESS, nonce=0, tx_hash="0x1", raw="0x", fee_mode=mode,
                gas_limit=21000, gas_price=None, max_fee=None, priority_fee=None, replaces=None,
                status="sent", created_at=0, sent_at=0, sent_block=0, mined_block=None,
                receipt=None)  # fmt: skip
    return Attempt(**{**base, **fees})


def test_initial_fees_are_two_base_fees_plus_the_tip_under_the_cap():
    limits = TxLimits(priority_fee_gwei=2, max_fee_cap_gwei=50)
    assert initial_fees(limits, 10 * GWEI, 0) == {"maxFeePerGas": 22 * GWEI,
                                                 "maxPriorityFeePerGas": 2 * GWEI}  # fmt: skip
    assert initial_fees(limits, 40 * GWEI, 0)["maxFeePerGas"] == 50 * GWEI
    legacy = TxLimits(fee_mode="legacy", max_fee_cap_gwei=50)
    assert initial_fees(legacy, 0, 30 * GWEI) == {"gasPrice": 30 * GWEI}


@pytest.mark.parametrize("bump", [1.125, 1.2, 2.0])
def test_each_replacement_bumps_every_field_geometrically(bump):
    limits = TxLimits(gas_bump=bump, max_fee_cap_gwei=10_000)
    prev = attempt(max_fee=21 * GWEI + 1, priority_fee=GWEI + 1)
    for _ in range(5):
        fees = bumped_fees(limits, prev, base_fee=GWEI, gas_price=0)
        assert fees["maxFeePerGas"] >= prev.max_fee * bump
        assert fees["maxPriorityFeePerGas"] >= prev.priority_fee * bump
        prev = attempt(max_fee=fees["maxFeePerGas"], priority_fee=fees["maxPriorityFeePerGas"])


def test_a_replacement_is_includable_at_the_current_base_fee():
    fees = bumped_fees(TxLimits(), attempt(max_fee=3 * GWEI, priority_fee=GWEI), 100 * GWEI, 0)
    assert fees["maxFeePerGas"] >= 200 * GWEI + fees["maxPriorityFeePerGas"]


def test_the_cap_stops_replacement_rather_than_bump_too_little():
    limits = TxLimits(max_fee_cap_gwei=100)
    assert bumped_fees(limits, attempt(max_fee=88 * GWEI, priority_fee=GWEI), GWEI, 0) is not None
    assert bumped_fees(limits, attempt(max_fee=90 * GWEI, priority_fee=GWEI), GWEI, 0) is None
    legacy = TxLimits(fee_mode="legacy", max_fee_cap_gwei=100)
    assert bumped_fees(legacy, attempt(gas_price=80 * GWEI), 0, 0) == {"gasPrice": 90 * GWEI}
    assert bumped_fees(legacy, attempt(gas_price=90 * GWEI), 0, 0) is None


def test_a_zero_fee_still_goes_up():
    fees = bumped_fees(TxLimits(), attempt(max_fee=0, priority_fee=0), 0, 0)
    assert fees["maxFeePerGas"] >= 1 and fees["maxPriorityFeePerGas"] >= 1


def test_revert_reasons_are_decoded():
    def refused(message, data):
        return RpcRefused("http://127.0.0.1:1", "eth_call", message, data)

    data = "0x08c379a0" + encode(["string"], ["erc20: insufficient balance"]).hex()
    assert revert_reason(refused("execution reverted", data)) == "erc20: insufficient balance"
    assert revert_reason(refused("execution reverted: pool: k", None)) == "pool: k"
    assert revert_reason(refused("out of gas", "0x")) == "out of gas"


def test_the_account_lock_is_exclusive_and_names_the_holder(tmp_path):
    first, second = AccountLock(tmp_path, ADDRESS, "1-abc"), AccountLock(tmp_path, ADDRESS, "1-abc")
    first.acquire()
    with pytest.raises(AccountLockedError) as err:
        second.acquire()
    assert str(err.value).startswith(
        f"account {ADDRESS} is held on this chain by another keeper (pid "
    )
    first.release()
    second.acquire()
    assert second.held
    second.release()
    AccountLock(tmp_path, "0x" + "1" * 40, "1-abc").acquire()  # another account: its own lock
    AccountLock(tmp_path, ADDRESS, "31337-def").acquire()  # another chain: its own lock


def test_the_account_lock_is_held_for_every_thread_of_the_process(tmp_path):
    """The keeper opens its manager in one thread and may tick in another."""
    import threading

    lock = AccountLock(tmp_path, ADDRESS, "1-abc")
    lock.acquire()
    seen = []
    t = threading.Thread(target=lambda: seen.append(lock.held))
    t.start()
    t.join()
    assert seen == [True]
    assert (tmp_path / f"1-abc-{ADDRESS.lower()}.pid").read_text().strip().isdigit()
    lock.release()


def test_the_keeper_key_is_anvil_account_3():
    from eth_account import Account

    assert Account.from_key(keeper_private_key()).address == ADDRESS


class _Answer(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = {"jsonrpc": "2.0", "id": body["id"], "result": "0x1"}
        if body["method"] == "eth_fail":
            reply = {"jsonrpc": "2.0", "id": body["id"], "error": {"message": "nope"}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_rpc_retries_until_the_node_comes_up_and_never_retries_a_refusal():
    port = chainmod.free_port()
    limits = TxLimits(rpc_retry_budget_s=10, rpc_backoff_initial_s=0.05, rpc_backoff_max_s=0.2)
    client = rpc_client(f"http://127.0.0.1:{port}", limits)
    server = HTTPServer(("127.0.0.1", port), _Answer)
    server.server_close()  # bound and released: nothing listens yet

    def come_up():
        time.sleep(0.5)
        live = HTTPServer(("127.0.0.1", port), _Answer)
        threading.Thread(target=live.serve_forever, daemon=True).start()
        holder.append(live)

    holder: list[HTTPServer] = []
    threading.Thread(target=come_up).start()
    assert client.chain_id() == 1
    assert client.retries >= 1
    retries = client.retries
    with pytest.raises(RpcRefused, match="refused eth_fail: nope"):
        client.call("eth_fail")
    assert client.retries == retries
    holder[0].shutdown()


def test_rpc_gives_up_after_its_budget_in_one_line():
    limits = TxLimits(rpc_retry_budget_s=0.3, rpc_backoff_initial_s=0.05, rpc_backoff_max_s=0.1)
    client = rpc_client(f"http://127.0.0.1:{chainmod.free_port()}", limits)
    start = time.monotonic()
    with pytest.raises(RpcUnavailable) as err:
        client.block_number()
    assert time.monotonic() - start < 2
    assert "unreachable for 0.3 s" in str(err.value) and "journal keeps the state" in str(err.value)
    assert "\n" not in str(err.value)


def test_the_lock_folder_is_one_per_machine_whatever_the_home(tmp_path, monkeypatch):
    monkeypatch.delenv(LOCK_DIR_ENV, raising=False)
    assert default_lock_dir() == Path(tempfile.gettempdir()) / "ammlab-locks"
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path))
    assert default_lock_dir() == tmp_path

"""The transaction manager and journal on a real anvil: crashes, restarts, stuck fees, reverts.

The "hedge" is an ERC20 transfer from the keeper (anvil account #3) to a fresh recipient per
test, so landed hedges are counted exactly as Transfer logs to that recipient. Each test has
its own journal and lock directory; the chain (own anvil, chain id 1, on a free port) is
shared by the module, except for the restart test, which kills its own.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import vyper
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from fork_node import mining as background_mining

from keeper.account import AccountLockedError
from keeper.journal import Journal
from keeper.journal_records import intent_key
from keeper.safety_config import TxLimits
from keeper.txmanager import (
    SimulationRevert,
    TxManager,
    keeper_private_key,
    rpc_client,
)
from sim.chain import node as chainmod
from sim.chain.rpc import Rpc

pytestmark = pytest.mark.chain

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "scripts" / "crashy_keeper.py"
DEPLOYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
KEEPER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
FAST = TxLimits(
    poll_s=0.05,
    stuck_blocks=2,
    stuck_s=30,
    rpc_retry_budget_s=30,
    rpc_backoff_initial_s=0.05,
    rpc_backoff_max_s=0.5,
    wait_timeout_s=30,
)
_recipients = itertools.count(0xB0B000)


@dataclass
class Env:
    url: str
    token: str
    rpc: Rpc

    def transfers_to(self, recipient: str) -> int:
        logs = self.rpc.call(
            "eth_getLogs",
            [
                {
                    "fromBlock": "0x0",
                    "toBlock": "latest",
                    "address": self.token,
                    "topics": [TRANSFER_TOPIC, _topic(KEEPER), _topic(recipient)],
                }
            ],
        )
        return len(logs)

    def nonce(self) -> int:
        return self.rpc.nonce(KEEPER, "latest")

    def balance(self, who: str) -> int:
        data = "0x70a08231" + encode(["address"], [who]).hex()
        return int(self.rpc.call("eth_call", [{"to": self.token, "data": data}, "latest"]), 16)

    def mint(self, to: str, amount: int) -> None:
        data = "0x40c10f19" + encode(["address", "uint256"], [to, amount]).hex()
        self.rpc.call("eth_sendTransaction", [{"from": DEPLOYER, "to": self.token, "data": data}])
        self.rpc.call("evm_mine", [])


def _topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:].lower()


def transfer_data(to: str, amount: int) -> str:
    return "0xa9059cbb" + encode(["address", "uint256"], [to, amount]).hex()


def new_recipient() -> str:
    return to_checksum_address(f"0x{next(_recipients):040x}")


@pytest.fixture(scope="module")
def erc20_bytecode() -> str:
    source = (ROOT / "contracts" / "ERC20.vy").read_text()
    out = vyper.compile_code(source, output_formats=["bytecode"])
    return out["bytecode"]


def deploy_token(rpc: Rpc, bytecode: str) -> str:
    args = encode(["string", "string", "uint8", "address"], ["Hedge", "HDG", 18, DEPLOYER])
    tx_hash = rpc.call("eth_sendTransaction", [{"from": DEPLOYER, "data": bytecode + args.hex()}])
    rpc.call("evm_mine", [])
    return to_checksum_address(rpc.receipt(tx_hash)["contractAddress"])


def start_env(home: Path, bytecode: str, port: int | None = None) -> Env:
    record = chainmod.start_upstream(port=port or chainmod.free_port(), home=home)
    rpc = rpc_client(record.url, FAST)
    env = Env(record.url, deploy_token(rpc, bytecode), rpc)
    env.mint(KEEPER, 10**24)
    return env


@pytest.fixture(scope="module")
def env(tmp_path_factory, erc20_bytecode):
    home = tmp_path_factory.mktemp("anvil")
    environment = start_env(home, erc20_bytecode)
    yield environment
    chainmod.stop_upstream(home)


@pytest.fixture
def automine(env):
    """Automine off for the test (blocks only when mined explicitly); restored after."""
    env.rpc.call("evm_setAutomine", [False])
    yield
    env.rpc.call("evm_setAutomine", [True])
    env.rpc.call("evm_mine", [])


def mining(rpc: Rpc, every: float = 0.2):
    """Mine a block every `every` seconds in a background thread."""
    return background_mining(lambda: rpc.call("evm_mine", []), every)


def open_manager(env: Env, tmp_path: Path, limits: TxLimits = FAST) -> tuple[Journal, TxManager]:
    journal = Journal(tmp_path / "journal.sqlite")
    manager = TxManager(
        rpc_client(env.url, limits), keeper_private_key(), journal, tmp_path, limits
    )
    manager.open()
    return journal, manager


def plan(journal: Journal, manager: TxManager, env: Env, to: str, amount: int, tag: str):
    return journal.record_intent(
        intent_key(tag, 0, to),
        account=manager.address,
        chain_id=manager.chain_id,
        to=env.token,
        data=transfer_data(to, amount),
        notional=amount / 1e18,
    )


# --------------------------------------------------------------------------- crash tests


def run_driver(env: Env, tmp_path: Path, recipient: str, stop_at: str | None):
    cmd = [
        sys.executable, str(DRIVER), "--rpc", env.url, "--journal",
        str(tmp_path / "journal.sqlite"), "--lock-dir", str(tmp_path), "--to", env.token,
        "--data", transfer_data(recipient, 10**18), "--decision", recipient, "--poll", "0.05",
    ]  # fmt: skip
    if stop_at:
        cmd += ["--stop-at", stop_at]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def read_until(proc: subprocess.Popen, prefix: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"driver never printed {prefix!r}: {proc.stderr.read()[-2000:]}")


@pytest.mark.parametrize("stage", ["intent", "signed", "sent"])
def test_kill_9_at_each_stage_then_restart_lands_exactly_once(env, tmp_path, stage, request):
    recipient = new_recipient()
    nonce0 = env.nonce()
    if stage == "sent":  # keep the sent transaction pending while the keeper dies
        request.getfixturevalue("automine")
    proc = run_driver(env, tmp_path, recipient, stop_at=stage)
    read_until(proc, f"STAGE {stage}")
    if stage == "intent":  # while it lives, the account is locked against a second keeper
        with pytest.raises(AccountLockedError, match=f"pid {proc.pid}"):
            open_manager(env, tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    with Journal(tmp_path / "journal.sqlite") as journal:
        (intent,) = journal.intents()
        assert intent.status == {"intent": "planned", "signed": "signed", "sent": "sent"}[stage]
        pending = [a.tx_hash for a in journal.attempts(intent.id)]
    if stage == "sent":
        assert env.rpc.transaction(pending[0]) is not None  # in the mempool, not mined
    assert env.transfers_to(recipient) == 0

    restarted = run_driver(env, tmp_path, recipient, stop_at=None)
    reconciled = json.loads(read_until(restarted, "RECONCILED "))
    with mining(env.rpc) if stage == "sent" else _nothing():
        done = json.loads(read_until(restarted, "DONE "))
    assert restarted.wait(timeout=30) == 0
    expected_bucket = {"intent": "to_resume", "signed": "rebroadcast", "sent": "pending"}[stage]
    assert reconciled[expected_bucket] == [intent.id]
    assert done["status"] == "mined"
    assert env.transfers_to(recipient) == 1
    assert env.nonce() == nonce0 + 1  # one nonce used, no gap
    with Journal(tmp_path / "journal.sqlite") as journal:
        (final,) = journal.intents()
        assert final.status == "mined"
        attempts = journal.attempts(final.id)
        assert {a.nonce for a in attempts} == {nonce0}
        assert [a.status for a in attempts].count("mined") == 1


@contextmanager
def _nothing():
    yield


# --------------------------------------------------------------------------- anvil restart


def test_node_restart_is_survived_without_a_double_send(tmp_path, erc20_bytecode):
    """anvil dies with our transaction pending; it comes back on the same port with the state
    dumped before the transaction was mined (anvil_dumpState, loaded at start with
    --load-state so no request ever sees an empty chain; the mempool is not part of a dump).
    The manager retries with backoff, finds the node forgot the transaction, rebroadcasts the
    same signed bytes, and it lands once."""
    home = tmp_path / "anvil"
    env = start_env(home, erc20_bytecode)
    port = int(env.url.rsplit(":", 1)[1])
    revived: list[subprocess.Popen] = []
    try:
        journal, manager = open_manager(env, tmp_path)
        recipient, nonce0 = new_recipient(), env.nonce()
        env.rpc.call("evm_setAutomine", [False])
        intent = manager.submit(plan(journal, manager, env, recipient, 10**18, "restart"))
        assert intent.status == "sent"
        state_file = tmp_path / "state.json"
        state_file.write_bytes(gzip.decompress(bytes.fromhex(env.rpc.call("anvil_dumpState")[2:])))
        chainmod.stop_upstream(home)

        def come_back() -> None:
            time.sleep(1.5)
            cmd = [chainmod.find_anvil(), "--host", "127.0.0.1", "--port", str(port),
                   "--chain-id", "1", "--load-state", str(state_file)]  # fmt: skip
            revived.append(
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            )

        thread = threading.Thread(target=come_back)
        thread.start()
        final = manager.wait(intent.id)
        thread.join()
        assert final.status == "mined"
        assert manager.chain.retries > 0  # it did see the node down
        assert any("rebroadcast" in (e["detail"] or "") for e in journal.events(intent.id))
        assert env.transfers_to(recipient) == 1
        assert env.nonce() == nonce0 + 1
        # ... and the next hedge takes the next nonce: no gap, no reuse
        second = manager.execute(plan(journal, manager, env, recipient, 10**18, "after"))
        assert second.status == "mined"
        assert journal.attempts(second.id)[0].nonce == nonce0 + 1
        assert env.transfers_to(recipient) == 2
        manager.close()
    finally:
        chainmod.stop_upstream(home)
        for proc in revived:
            proc.terminate()
            proc.wait()


# --------------------------------------------------------------------------- stuck fees


def test_stuck_transaction_is_replaced_with_the_same_nonce_and_a_bump(env, tmp_path, automine):
    journal, manager = open_manager(env, tmp_path)
    recipient, nonce0 = new_recipient(), env.nonce()
    intent = manager.submit(plan(journal, manager, env, recipient, 10**18, "stuck"))
    first = journal.attempts(intent.id)[0]
    # The next blocks' base fee far above what the first attempt offers (2 x base + tip).
    env.rpc.call("anvil_setNextBlockBaseFeePerGas", [hex(20 * first.max_fee)])
    with mining(env.rpc):
        final = manager.wait(intent.id)
    manager.close()

    attempts = journal.attempts(intent.id)
    assert final.status == "mined"
    assert len(attempts) >= 2
    assert {a.nonce for a in attempts} == {nonce0}
    for old, new in itertools.pairwise(attempts):
        assert new.replaces == old.tx_hash
        assert new.max_fee * 1000 >= old.max_fee * 1125
        assert new.priority_fee * 1000 >= old.priority_fee * 1125
    assert [a.status for a in attempts] == ["replaced"] * (len(attempts) - 1) + ["mined"]
    assert env.transfers_to(recipient) == 1
    assert env.nonce() == nonce0 + 1


# --------------------------------------------------------------------------- reverts


def test_a_reverting_hedge_is_refused_by_simulation_and_nothing_is_signed(env, tmp_path):
    journal, manager = open_manager(env, tmp_path)
    nonce0, recipient = env.nonce(), new_recipient()
    too_much = env.balance(KEEPER) + 1
    intent = plan(journal, manager, env, recipient, too_much, "too-much")
    with pytest.raises(SimulationRevert, match="erc20: insufficient balance"):
        manager.submit(intent)
    manager.close()
    assert journal.intent(intent.id).status == "refused"
    assert journal.attempts(intent.id) == []
    (refusal,) = journal.refusals()
    assert (refusal["guard"], refusal["reason"]) == ("simulation", "erc20: insufficient balance")
    assert env.nonce() == nonce0


def test_a_hedge_reverting_on_chain_is_failed_with_its_nonce_consumed(env, tmp_path, automine):
    """Two hedges simulated on the same (latest) state, each spending the whole balance:
    both pass simulation, the second reverts when mined after the first."""
    journal, manager = open_manager(env, tmp_path)
    nonce0, recipient = env.nonce(), new_recipient()
    everything = env.balance(KEEPER)
    a = manager.submit(plan(journal, manager, env, recipient, everything, "all-1"))
    b = manager.submit(plan(journal, manager, env, recipient, everything, "all-2"))
    with mining(env.rpc):
        a, b = manager.wait(a.id), manager.wait(b.id)
    manager.close()
    env.mint(KEEPER, 10**24)

    assert (a.status, b.status) == ("mined", "failed")
    assert "reverted on chain" in b.error
    (attempt,) = journal.attempts(b.id)
    assert attempt.status == "failed" and attempt.receipt["status"] == "0x0"
    assert attempt.nonce == nonce0 + 1
    assert env.nonce() == nonce0 + 2  # the failed hedge consumed its nonce
    assert env.transfers_to(recipient) == 1


# --------------------------------------------------------------------------- the lock


def test_a_second_manager_on_the_same_account_is_refused_in_one_line(env, tmp_path):
    journal, first = open_manager(env, tmp_path)
    second = TxManager(env.url, keeper_private_key(), journal, tmp_path, FAST)
    with pytest.raises(AccountLockedError) as err:
        second.open()
    message = str(err.value)
    assert "\n" not in message
    assert f"pid {os.getpid()}" in message and KEEPER in message
    first.close()
    second.open()  # free once the first lets go
    second.close()

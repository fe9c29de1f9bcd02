"""One signer per account: the lock on this machine, the chain across machines.

On a fork of the upstream (the suite deployed), with the real `ammlab keeper run --live`
process:

- a second keeper on the keeper's account under another ammlab home is refused by the
  machine-wide lock (keyed by chain and account), in one line naming the first one's pid, and
  prints no LIVE banner before its refusal;
- a keeper as if on another machine (its own lock folder, its own journal) hedges on the same
  account: the first keeper, watching, pauses (kill switch cause `foreign_signer`) before it
  signs anything more, naming the account, the nonce and the other keeper's transaction;
- a plain transfer sent from the keeper's account by another process pauses the running
  keeper likewise; one sent while the keeper is stopped makes its next start a refusal (one
  line, no banner); after `ammlab keeper resume` it runs again and hedges.
"""

from __future__ import annotations

import pytest
from test_keeper_chaos import (  # noqa: F401 - _no_stray_keepers is an autouse fixture
    BAND,
    KeeperProcess,
    Suite,
    _no_stray_keepers,
    chaos_suite,
    fork_node,
    keeper_config,
    net_delta,
    one_error_line,
    set_up_keeper,
)

from keeper.account import LOCK_DIR_ENV
from keeper.config import load_keeper_config
from keeper.journal import Journal
from keeper.killswitch import request_command, status
from keeper.logs import KeeperLog
from keeper.runtime import Keeper

pytestmark = [pytest.mark.chain, pytest.mark.fork]


@pytest.fixture
def fork(chaos_suite, fork_node):  # noqa: F811 - the chaos tests' fixtures, imported
    """(the upstream's manifest, its path on disk, a fresh fork of it)."""
    _, manifest, manifest_path, _ = chaos_suite
    return manifest, manifest_path, fork_node


WATCH_ONLY = {"kind": "delta_band", "band": 1e6, "min_delay": 0}
"""A band no book here reaches: the keeper watches and never hedges."""


def banner(proc: KeeperProcess) -> list[str]:
    return [line for line in proc.lines() if line.startswith("keeper 0x") and "LIVE" in line]


def foreign_events(proc: KeeperProcess) -> list[dict]:
    return proc.events("foreign_signer")


def test_a_second_keeper_under_another_home_is_refused_without_a_banner(fork, tmp_path):
    manifest, manifest_path, node = fork
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    first_cfg = keeper_config(tmp_path / "a", node, manifest_path, policy=WATCH_ONLY)
    second_cfg = keeper_config(tmp_path / "b", node, manifest_path, policy=WATCH_ONLY)
    with node.mining():
        first = KeeperProcess(first_cfg, tmp_path / "home-a")
        first.wait_for(lambda k: len(k.events("tick")) >= 1, "a tick")
        assert banner(first)
        second = KeeperProcess(second_cfg, tmp_path / "home-b", blocks=1)
        assert second.finish() == 1
    line = one_error_line(second)
    assert "held on this chain by another keeper" in line and f"pid {first.pid}" in line, line
    assert banner(second) == []


def test_a_keeper_on_another_machine_hedging_pauses_the_first_before_it_signs_again(
    fork, tmp_path, monkeypatch
):
    """The first keeper only watches (its band is out of reach); the other one, with its own
    lock folder and journal (another machine), hedges the pool's short calls on the same
    account. The first names that hedge's transaction, pauses, and sends nothing more; once
    the operator resumes, it runs again with the other's nonces known."""
    manifest, manifest_path, node = fork
    suite = Suite(node, manifest)
    for d in ("a", "other"):
        (tmp_path / d).mkdir()
    first_cfg = keeper_config(tmp_path / "a", node, manifest_path, policy=WATCH_ONLY)
    set_up_keeper(first_cfg, manifest, node.url, tmp_path / "home-a")
    with node.mining():
        first = KeeperProcess(first_cfg, tmp_path / "home-a")
        first.wait_for(lambda k: len(k.events("tick")) >= 2, "ticks")
        suite.transmit(3000)
        suite.buy_calls(3, 12.0)
        monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path / "other-machine-locks"))
        other_cfg = keeper_config(tmp_path / "other", node, manifest_path)
        nonce = node.nonce(suite.keeper)
        with Keeper(load_keeper_config(other_cfg), manifest, rpc_url=node.url,
                    log=KeeperLog(stream=None), home=tmp_path / "home-other") as other:  # fmt: skip
            (leg,) = other.tick().legs  # its set-up (if any is left to do), then the hedge
            assert leg.status == "mined"
            sent = {a.nonce: a.tx_hash for i in other.journal.intents()
                    for a in other.journal.attempts(i.id) if a.status == "mined"}  # fmt: skip
        (event,) = first.wait_for(foreign_events, "the other signer found")
        error = event["error"]
        assert f"account {suite.keeper}" in error and f"nonce {nonce}" in error, error
        assert sent[nonce] in error, (sent, error)
        assert status(first_cfg.parent / "journal.sqlite")["mode"] == "paused"
        after = node.nonce(suite.keeper)
        first.wait_for(lambda k: len(k.events("tick")) >= 8, "more ticks")
        assert node.nonce(suite.keeper) == after  # the first signed nothing more
        (transition,) = status(first_cfg.parent / "journal.sqlite")["transitions"]
        assert (transition["to"], transition["cause"]) == ("paused", "foreign_signer")

        request_command(first_cfg.parent / "journal.sqlite", "resume", "the other one stopped")
        first.wait_for(lambda k: k.events("tick")[-1]["mode"] == "running", "running again")
    with Journal(first_cfg.parent / "journal.sqlite") as journal:
        found = journal.foreign_transactions(suite.keeper)
    assert {f["nonce"]: f["tx_hash"] for f in found} == sent


def test_a_transfer_from_the_keepers_account_pauses_it_then_refuses_its_start_until_resumed(
    fork, tmp_path
):
    manifest, manifest_path, node = fork
    suite = Suite(node, manifest)
    cfg_path = keeper_config(tmp_path, node, manifest_path)
    journal_path = tmp_path / "journal.sqlite"
    home = tmp_path / "home"
    set_up_keeper(cfg_path, manifest, node.url, home)
    outsider = "0x" + "5" * 40

    def transfer() -> tuple[str, int]:
        nonce = node.nonce(suite.keeper)
        tx = node.rpc("eth_sendTransaction", {"from": suite.keeper, "to": outsider,
                                                   "value": hex(10**15)})  # fmt: skip
        node.mined_ok(tx)
        return tx, nonce

    with node.mining():
        keeper = KeeperProcess(cfg_path, home)
        keeper.wait_for(lambda k: len(k.events("tick")) >= 2, "ticks")
        tx, nonce = transfer()
        (event,) = keeper.wait_for(foreign_events, "the transfer found")
        assert f"account {suite.keeper}" in event["error"] and f"nonce {nonce}" in event["error"]
        assert tx in event["error"] and "ammlab keeper resume" in event["error"]
        keeper.wait_for(lambda k: k.events("tick")[-1]["mode"] == "paused", "paused")
        keeper.kill()

    tx, nonce = transfer()  # while the keeper is stopped
    refused = KeeperProcess(cfg_path, home, blocks=1)
    assert refused.finish() == 1
    line = one_error_line(refused)
    assert f"nonce {nonce}" in line and tx in line and "another signer" in line, line
    assert banner(refused) == []

    # The operator checks, then resumes: the keeper runs and hedges what became due.
    request_command(journal_path, "resume", "the transfers were ours")
    suite.transmit(3000)
    suite.buy_calls(3, 12.0)
    with node.mining():
        resumed = KeeperProcess(cfg_path, home, blocks=4)
        assert resumed.finish() == 0, resumed.lines()[-10:]
    assert banner(resumed) and {e["mode"] for e in resumed.events("tick")} == {"running"}
    assert abs(net_delta(cfg_path, manifest, node.url)) <= BAND
    with Journal(journal_path) as journal:
        assert len(journal.foreign_transactions(suite.keeper)) == 2

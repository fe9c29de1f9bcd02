"""Chaos with the whole keeper runtime on a fork of the upstream.

Each test forks the session's upstream (the suite deployed) with its own anvil, which it can
kill -9, restart from a state dump, or replace by a fresh chain on the same port; the keeper
is the real `ammlab keeper run --live` process talking to that RPC (`rpc_url`), or, for the
venue tests, the `Keeper` runtime in this process. A hedge is made due by a trader buying
calls from the options pool (the pool goes short ~delta the keeper must buy back).

- kill -9 of the keeper after the hedge is journaled, signed, or sent (automine off, so "sent"
  means in the mempool, not mined), then a restart: exactly one hedge transaction lands, and
  |net delta| ends within the band;
- the node killed and restarted from a dump under a running keeper, once with the hedge in
  flight and once while idle: it backs off, reconnects and goes on, one hedge in all;
- the node coming back as another chain (a fresh fork: our transactions gone; a fresh anvil:
  another block 0): the keeper refuses with one line and sends nothing;
- a venue out of depth (the perp's open-interest cap, which the planner does not read) or
  reverting on chain: no double effect, the rest goes to the next venue in the same tick;
  with no venue left the kill switch pauses, journaled, until the operator resumes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from fork_node import ForkNode, forked

from keeper.config import load_keeper_config, resolve_addresses
from keeper.journal import Journal
from keeper.killswitch import request_command, status
from keeper.logs import KeeperLog
from keeper.reader import ChainReader
from keeper.runtime import Keeper
from keeper.strategy import HedgeState, plan_hedge
from keeper.txmanager import CHAOS_ENV
from sim.chain import node as chainmod
from sim.chain.abi import encode_call

pytestmark = [pytest.mark.chain, pytest.mark.fork, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BAND = 1.0
E18 = 10**18


# --------------------------------------------------------------------------- the node


@pytest.fixture(scope="module")
def chaos_suite(upstream, tmp_path_factory):
    """The upstream's URL, manifest (a copy on disk for the keeper's config) and head."""
    record, manifest = upstream
    path = tmp_path_factory.mktemp("chaos") / "manifest.json"
    path.write_text(json.dumps(manifest))
    return record.url, manifest, path, chainmod.block_number_of(record.url)


@pytest.fixture
def fork_node(chaos_suite, tmp_path):
    url, _, _, block = chaos_suite
    with forked(url, block, tmp_path) as node:
        yield node


# --------------------------------------------------------------------------- the suite


class Suite:
    """The deployed contracts as raw calls from the suite's unlocked role accounts."""

    def __init__(self, node: ForkNode, manifest: dict):
        self.node = node
        self.m = manifest
        roles = manifest["accounts"]
        self.deployer, self.transmitter, self.trader = (roles[r] for r in
                                                        ("deployer", "transmitter", "trader"))  # fmt: skip
        self.keeper = manifest["keeper"]["address"]
        self.perp = manifest["perp"]["address"]
        self.router = manifest["router"]["address"]
        self.options = manifest["options"]["address"]
        self.usdc = manifest["tokens"]["USDC"]["address"]

    def _ok(self, sender: str, to: str, data: str) -> None:
        self.node.mined_ok(self.node.transact(sender, to, data))

    def transmit(self, price: float) -> None:
        self._ok(self.transmitter, self.m["feed"]["address"],
                 encode_call("transmit(int256)", ["int256"], [int(price * 1e8)]))  # fmt: skip

    def buy_calls(self, strike_id: int, amount: float) -> None:
        """The trader buys calls from the options pool: the pool goes short their delta."""
        self._ok(self.deployer, self.usdc, encode_call("mint(address,uint256)",
                 ["address", "uint256"], [self.trader, 10_000_000 * 10**6]))  # fmt: skip
        self._ok(self.trader, self.usdc, encode_call("approve(address,uint256)",
                 ["address", "uint256"], [self.options, 2**256 - 1]))  # fmt: skip
        deadline = int(self.node.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
        self._ok(self.trader, self.options, encode_call(
            "openPosition(uint256,bool,bool,uint256,uint256,uint256)",
            ["uint256", "bool", "bool", "uint256", "uint256", "uint256"],
            [strike_id, True, True, int(amount * E18), 10**15, deadline + 3600],
        ))  # fmt: skip

    def perp_caps(self, max_open_interest: int, tip_gwei: float | None = None) -> str:
        """The perp's owner sets its open-interest cap (wad); returns the transaction."""
        data = encode_call("setCaps(uint256,uint256)", ["uint256", "uint256"],
                           [max_open_interest, 10**30])  # fmt: skip
        return self.node.transact(self.deployer, self.perp, data, tip_gwei)


def keeper_config(tmp_path: Path, node: ForkNode, manifest_path: Path, **over) -> Path:
    """A live keeper config for `node`: delta band 1, hedging on the perp only (one hedge is
    one transaction) unless `venues` says otherwise, fast polls and backoff."""
    cfg = {
        "dry_run": False,
        "rpc_url": node.url,
        "journal_path": str(tmp_path / "journal.sqlite"),
        "poll_s": 0.1,
        "policy": {"kind": "delta_band", "band": BAND, "min_delay": 0, "override": 5},
        "venues": {"cpmm": [], "perp": {"max_position_base": 50.0, "margin_quote": 100_000}},
        "addresses": {"manifest": str(manifest_path)},
        "safety": {
            "guards": {"max_slippage_bps": 150, "oracle_max_deviation_bps": 400},
            "tx": {
                "poll_s": 0.05,
                "rpc_retry_budget_s": 30,
                "rpc_backoff_initial_s": 0.1,
                "rpc_backoff_max_s": 0.5,
            },
        },  # fmt: skip
        **over,
    }
    path = tmp_path / "keeper.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def net_delta(cfg_path: Path, manifest: dict, url: str) -> float:
    """Book delta + hedge held, read from the chain now (what the band is about)."""
    cfg = load_keeper_config(cfg_path)
    addresses, baseline = resolve_addresses(cfg, manifest)
    snap = ChainReader(url, addresses).read()
    return plan_hedge(snap, cfg.policy, HedgeState(), cfg, mode="paused",
                      baseline_base=baseline).net_delta  # fmt: skip


def set_up_keeper(cfg_path: Path, manifest: dict, url: str, home: Path) -> None:
    """The keeper's one-time set-up (approvals, perp margin), mined, journaled."""
    with Keeper(load_keeper_config(cfg_path), manifest, rpc_url=url, log=KeeperLog(stream=None),
                home=home) as keeper:  # fmt: skip
        keeper.start()


def hedge_intents(journal_path: Path) -> list:
    with Journal(journal_path) as journal:
        return [i for i in journal.intents() if i.kind == "hedge"]


# --------------------------------------------------------------------------- the process


class KeeperProcess:
    """`ammlab keeper run --live --config CFG` in its own process; stderr (JSON logs) to a
    file that the test reads as it grows."""

    started: list[KeeperProcess] = []
    """Every one started, so that a failing test leaves none running (`_no_stray_keepers`)."""

    def __init__(
        self, cfg_path: Path, home: Path, blocks: int | None = None, options: tuple = (),
        **env: str,
    ):  # fmt: skip
        n = len(list(home.glob("keeper-*.err")))
        home.mkdir(parents=True, exist_ok=True)
        self.err_path = home / f"keeper-{n}.err"
        args = [*(["--blocks", str(blocks)] if blocks else []), *options]
        with self.err_path.open("w") as err, (home / f"keeper-{n}.out").open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "keeper.cli", "keeper", "run", "--config", str(cfg_path),
                 "--live", *args],
                cwd=ROOT, env={**os.environ, chainmod.HOME_ENV: str(home), **env},
                stdout=out, stderr=err,
            )  # fmt: skip
        KeeperProcess.started.append(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def lines(self) -> list[str]:
        return self.err_path.read_text().splitlines()

    def events(self, name: str | None = None) -> list[dict]:
        found = []
        for line in self.lines():
            if line.startswith("{"):
                record = json.loads(line)
                if name is None or record["event"] == name:
                    found.append(record)
        return found

    def wait_for(self, predicate, what: str, timeout: float = 40):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := predicate(self):
                return found
            if self.proc.poll() is not None and not predicate(self):
                break
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"keeper never showed {what}:\n" + "\n".join(self.lines()[-25:]))

    def wait_line(self, prefix: str, timeout: float = 40) -> str:
        return self.wait_for(
            lambda k: next((line for line in k.lines() if line.startswith(prefix)), None),
            repr(prefix), timeout,
        )  # fmt: skip

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        self.proc.wait(timeout=30)

    def finish(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout=timeout)


@pytest.fixture(autouse=True)
def _no_stray_keepers():
    yield
    while KeeperProcess.started:
        KeeperProcess.started.pop().kill()


def one_error_line(proc: KeeperProcess) -> str:
    errors = [line for line in proc.lines() if line.startswith("error")]
    assert "Traceback" not in proc.err_path.read_text()
    assert len(errors) == 1, proc.lines()[-10:]
    return errors[0]


@pytest.fixture
def hedge_due(chaos_suite, fork_node, tmp_path):
    """A keeper set up on a fresh fork (approvals and margin mined, journaled) and a hedge
    due: the pool sold 12 ATM calls. Returns (suite, config path, home)."""
    _, manifest, manifest_path, _ = chaos_suite
    cfg_path = keeper_config(tmp_path, fork_node, manifest_path)
    home = tmp_path / "home"
    set_up_keeper(cfg_path, manifest, fork_node.url, home)
    suite = Suite(fork_node, manifest)
    suite.transmit(3000)
    suite.buy_calls(3, 12.0)
    assert abs(net_delta(cfg_path, manifest, fork_node.url)) > BAND
    return suite, cfg_path, home


# --------------------------------------------------------------------------- kill -9


@pytest.mark.parametrize("stage", ["intent", "signed", "sent"])
def test_kill_9_of_the_live_keeper_at_each_stage_then_restart_hedges_once(
    hedge_due, fork_node, tmp_path, stage
):
    suite, cfg_path, home = hedge_due
    node = fork_node
    start, nonce0 = node.head(), node.nonce(suite.keeper)
    node.rpc("evm_setAutomine", False)  # "sent" stays in the mempool until we mine
    frozen = KeeperProcess(cfg_path, home, **{CHAOS_ENV: f"{stage}:hedge"})
    frozen.wait_line(f"CHAOS stopped at {stage}")
    if stage == "intent":  # while it lives, a second keeper on the account is refused
        second = KeeperProcess(cfg_path, home, blocks=1)
        assert second.finish() == 1
        assert f"pid {frozen.pid}" in one_error_line(second)
    frozen.kill()

    (crashed,) = hedge_intents(cfg_path.parent / "journal.sqlite")
    assert crashed.status == {"intent": "planned", "signed": "signed", "sent": "sent"}[stage]
    with Journal(cfg_path.parent / "journal.sqlite") as journal:
        signed = [a.tx_hash for a in journal.attempts(crashed.id)]
    if stage == "sent":
        assert node.rpc("eth_getTransactionByHash", signed[0]) is not None  # in the mempool
    assert node.txs_from(suite.keeper, suite.perp, start) == []

    with node.mining():
        restarted = KeeperProcess(cfg_path, home, blocks=4)
        assert restarted.finish() == 0, restarted.lines()[-10:]
    (reconcile,) = restarted.events("reconcile")
    bucket = {"intent": "resume", "signed": "rebroadcast", "sent": "pending"}[stage]
    assert crashed.id in reconcile[bucket] + (reconcile["mined"] if stage == "sent" else [])

    landed = node.txs_from(suite.keeper, suite.perp, start)
    assert len(landed) == 1 and landed[0]["status"] == "0x1", landed
    assert node.nonce(suite.keeper) == nonce0 + 1  # one nonce used, no gap
    mined = [i for i in hedge_intents(cfg_path.parent / "journal.sqlite") if i.status == "mined"]
    assert len(mined) == 1
    if stage != "intent":  # the journaled transaction itself landed, not a second one
        assert mined[0].id == crashed.id and landed[0]["hash"] == signed[0]
    assert abs(net_delta(cfg_path, suite.m, node.url)) <= BAND


# --------------------------------------------------------------------------- the node dies


def test_node_killed_and_restarted_under_a_running_keeper_resumes_without_a_double_hedge(
    hedge_due, fork_node
):
    """The node is killed -9 with the hedge in the mempool and comes back from a dump taken
    before it was mined (the mempool is not in a dump): the manager backs off, finds the same
    chain, rebroadcasts the same bytes, and it lands once. Killed again while the keeper
    idles: the run loop backs off, re-checks the chain, reconciles and ticks on."""
    suite, cfg_path, home = hedge_due
    node = fork_node
    start = node.head()
    node.rpc("evm_setAutomine", False)
    keeper = KeeperProcess(cfg_path, home)
    deadline = time.monotonic() + 30
    while not node.pending_to(suite.keeper, suite.perp):
        assert time.monotonic() < deadline and keeper.proc.poll() is None, keeper.lines()[-10:]
        time.sleep(0.05)
    state = node.dump()
    node.kill()
    time.sleep(1.0)  # the keeper's RPC calls fail and back off meanwhile
    node.start(state)  # automine on again: the rebroadcast is mined at once

    keeper.wait_for(lambda k: [e for e in k.events("leg") if e["status"] == "mined"],
                    "the hedge mined")  # fmt: skip
    with node.mining():
        ticks = len(keeper.events("tick"))
        keeper.wait_for(lambda k: len(k.events("tick")) > ticks + 1, "ticks after the hedge")
        state = node.dump()
        node.kill()  # now while it polls for blocks
        time.sleep(1.0)
        node.start(state)
        keeper.wait_for(lambda k: k.events("rpc_restored"), "the run loop's reconnection")
        ticks = len(keeper.events("tick"))
        keeper.wait_for(lambda k: len(k.events("tick")) > ticks + 1, "ticks after reconnecting")
    keeper.kill(signal.SIGTERM)

    landed = node.txs_from(suite.keeper, suite.perp, start)
    assert len(landed) == 1 and landed[0]["status"] == "0x1", landed
    (intent,) = hedge_intents(cfg_path.parent / "journal.sqlite")
    with Journal(cfg_path.parent / "journal.sqlite") as journal:
        (attempt,) = journal.attempts(intent.id)
        details = [e["detail"] or "" for e in journal.events()]
    assert intent.status == "mined" and attempt.tx_hash == landed[0]["hash"]
    assert any("rebroadcast" in d for d in details), details
    assert any(d.startswith("RPC answered again") for d in details), details
    assert keeper.events("rpc_down") and keeper.events("rpc_retry")
    assert abs(net_delta(cfg_path, suite.m, node.url)) <= BAND


# --------------------------------------------------------------------------- another chain


def test_a_node_back_as_another_chain_is_refused_in_one_line(chaos_suite, fork_node, tmp_path):
    """The journal holds mined transactions of the keeper (its set-up). The node comes back
    as a fresh fork of the same upstream (same block 0, those transactions gone): the running
    keeper stops with one line and sends nothing. A fresh anvil (another block 0): a keeper
    started with that journal refuses likewise. With the journal moved aside, as the message
    says, it runs on the new chain."""
    _, manifest, manifest_path, _ = chaos_suite
    node = fork_node
    cfg_path = keeper_config(tmp_path, node, manifest_path)
    home = tmp_path / "home"
    set_up_keeper(cfg_path, manifest, node.url, home)
    keeper_addr = manifest["keeper"]["address"]

    with node.mining():
        keeper = KeeperProcess(cfg_path, home)
        keeper.wait_for(lambda k: len(k.events("tick")) >= 2, "ticks")
        node.kill()
        node.start()  # a fresh fork: what the keeper did on the old one is gone
        fresh_nonce = node.nonce(keeper_addr)
        assert keeper.finish(timeout=40) == 1
    line = one_error_line(keeper)
    assert "lacks the keeper's transaction" in line and "reset or rolled back" in line, line
    assert "move" in line and "aside" in line
    assert node.nonce(keeper_addr) == fresh_nonce  # nothing sent there

    node.kill()
    node.start(fresh_chain=True)  # chain id 1 again, but another block 0
    refused = KeeperProcess(cfg_path, home, blocks=1)
    assert refused.finish() == 1
    line = one_error_line(refused)
    assert "block 0" in line and "reset or is another chain" in line, line
    assert not any("LIVE" in line for line in refused.lines())  # the refusal alone
    assert node.nonce(keeper_addr) == 0

    node.kill()
    node.start()
    afresh = KeeperProcess(cfg_path, home, blocks=1,
                           KEEPER_JOURNAL_PATH=str(tmp_path / "journal-new.sqlite"))  # fmt: skip
    with node.mining():
        assert afresh.finish() == 0, afresh.lines()[-5:]


# --------------------------------------------------------------------------- venues


def _venue_keeper(chaos_suite, node: ForkNode, tmp_path: Path, pools: bool) -> Keeper:
    """A live `Keeper` in this process, set up; hedging on the perp and, with `pools`, on
    both pools too."""
    _, manifest, manifest_path, _ = chaos_suite
    venues = {"perp": {"max_position_base": 50.0, "margin_quote": 100_000},
              "cpmm": [{"name": "venue_a"}, {"name": "venue_b"}] if pools else []}  # fmt: skip
    cfg_path = keeper_config(tmp_path, node, manifest_path, venues=venues)
    keeper = Keeper(load_keeper_config(cfg_path), manifest, rpc_url=node.url,
                    log=KeeperLog(stream=None), home=tmp_path / "home")  # fmt: skip
    keeper.start()
    return keeper


def _hedge_legs(keeper: Keeper) -> dict[str, list[str]]:
    """Venue -> statuses of the journal's hedge intents there."""
    legs: dict[str, list[str]] = {}
    for intent in keeper.journal.intents():
        if intent.kind == "hedge":
            legs.setdefault(intent.meta["venue"], []).append(intent.status)
    return legs


def _notes(keeper: Keeper) -> list[str]:
    return [e["detail"] for e in keeper.journal.events() if e["subject"] == "note"]


def _keeper_delta(keeper: Keeper) -> float:
    snap = keeper.reader.read()
    return plan_hedge(snap, keeper.policy, HedgeState(), keeper.cfg, mode="paused",
                      baseline_base=keeper.baseline).net_delta  # fmt: skip


def test_a_venue_out_of_depth_is_refused_and_the_pools_take_the_hedge_in_the_same_tick(
    chaos_suite, fork_node, tmp_path
):
    """The perp's open interest is capped below what the keeper needs (the planner does not
    read the cap): its leg reverts in the pre-send simulation, is journaled refused with the
    reason, nothing is signed for it, and the hedge goes to the pools in the same tick."""
    node, suite = fork_node, Suite(fork_node, chaos_suite[1])
    with _venue_keeper(chaos_suite, node, tmp_path, pools=True) as keeper:
        suite.transmit(3000)
        suite.buy_calls(3, 8.0)
        node.mined_ok(suite.perp_caps(1))
        nonce0 = node.nonce(suite.keeper)
        result = keeper.tick()

        assert result.legs[0].venue == "perp" and result.legs[0].venue_fault, result.legs
        assert "open interest cap" in result.legs[0].venue_fault
        legs = _hedge_legs(keeper)
        assert legs.pop("perp") == ["refused"]
        assert legs and all(statuses == ["mined"] for statuses in legs.values()), legs
        assert node.nonce(suite.keeper) == nonce0 + len(legs)  # no nonce for the perp leg
        assert any(n.startswith("venue failover (perp: simulation") for n in _notes(keeper))
        refusals = keeper.journal.refusals()
        assert [r["guard"] for r in refusals] == ["simulation"]
        assert keeper.killswitch.mode == "running"
        assert abs(_keeper_delta(keeper)) <= BAND
        assert keeper.metrics.failovers == 1


def test_a_venue_reverting_on_chain_is_failed_once_and_the_pools_take_the_hedge(
    chaos_suite, fork_node, tmp_path
):
    """The perp leg passes simulation, then the perp's owner caps open interest in the same
    block, ahead of it (a higher tip): the leg reverts on chain (nonce consumed, nothing
    traded), is journaled failed with its receipt, and the pools take the hedge in the same
    tick; the perp is never tried twice."""
    node, suite = fork_node, Suite(fork_node, chaos_suite[1])
    with _venue_keeper(chaos_suite, node, tmp_path, pools=True) as keeper:
        suite.transmit(3000)
        suite.buy_calls(3, 8.0)
        start, nonce0 = node.head(), node.nonce(suite.keeper)
        node.rpc("evm_setAutomine", False)
        outcome: list = []
        tick = threading.Thread(target=lambda: outcome.append(keeper.tick()))
        tick.start()
        capped = None
        deadline = time.monotonic() + 40
        while tick.is_alive():  # this loop is the only miner
            assert time.monotonic() < deadline, "the tick did not finish"
            if capped is None and node.pending_to(suite.keeper, suite.perp):
                capped = suite.perp_caps(1, tip_gwei=100)
            node.rpc("evm_mine")
            time.sleep(0.1)
        tick.join()
        node.rpc("evm_setAutomine", True)

        (result,) = outcome
        assert capped is not None
        (perp_tx,) = node.txs_from(suite.keeper, suite.perp, start)
        assert perp_tx["status"] == "0x0"
        cap_receipt = node.rpc("eth_getTransactionReceipt", capped)
        assert int(cap_receipt["blockNumber"], 16) == perp_tx["block"]
        assert int(cap_receipt["transactionIndex"], 16) < perp_tx["index"]  # ahead of it
        assert result.legs[0].venue == "perp" and result.legs[0].status == "failed"
        assert "reverted on chain" in result.legs[0].venue_fault
        legs = _hedge_legs(keeper)
        assert legs.pop("perp") == ["failed"]
        assert legs and all(statuses == ["mined"] for statuses in legs.values()), legs
        assert node.nonce(suite.keeper) == nonce0 + 1 + len(legs)  # the failed leg's nonce too
        assert any(n.startswith("venue failover (perp: reverted on chain") for n in _notes(keeper))
        assert abs(_keeper_delta(keeper)) <= BAND


def test_no_venue_left_pauses_the_keeper_until_the_operator_resumes(
    chaos_suite, fork_node, tmp_path
):
    """Hedging on the perp alone, its open interest capped: the leg is refused and no venue
    is left, so the kill switch pauses (cause venue, journaled); nothing is sent while
    paused, even with the cap lifted; `resume` → the hedge lands once."""
    node, suite = fork_node, Suite(fork_node, chaos_suite[1])
    with _venue_keeper(chaos_suite, node, tmp_path, pools=False) as keeper:
        suite.transmit(3000)
        suite.buy_calls(3, 8.0)
        node.mined_ok(suite.perp_caps(1))
        nonce0 = node.nonce(suite.keeper)
        result = keeper.tick()
        assert [r.status for r in result.legs] == ["refused"]
        assert keeper.killswitch.mode == "paused"
        (transition,) = status(keeper.cfg.journal_path)["transitions"]
        assert (transition["to"], transition["cause"]) == ("paused", "venue")
        assert (
            "no venue left" in transition["detail"] and "open interest cap" in transition["detail"]
        )

        node.mined_ok(suite.perp_caps(10**30))  # the venue is back...
        assert keeper.tick().legs == ()  # ...but paused means paused
        assert node.nonce(suite.keeper) == nonce0
        request_command(keeper.cfg.journal_path, "resume", "perp cap lifted")
        resumed = keeper.tick()
        assert [r.status for r in resumed.legs] == ["mined"]
        assert _hedge_legs(keeper) == {"perp": ["refused", "mined"]}
        assert node.nonce(suite.keeper) == nonce0 + 1
        assert abs(_keeper_delta(keeper)) <= BAND


# --------------------------------------------------------------------------- metrics


def _scrape(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_a_live_keeper_signs_with_an_ape_account_and_its_metrics_agree_with_its_journal(
    hedge_due, fork_node, tmp_path
):
    """`ammlab keeper run --live --account ALIAS --metrics-port P`: the keeper signs through
    an Ape keystore account (passphrase from the environment, as for an unattended run);
    scraped while it runs, the mined hedge legs, the pending intents and the kill switch's
    mode on /metrics are the journal's, the book's delta the one it wrote for `ammlab keeper
    status`; /healthz is 200 while it ticks; `keeper status` prints the options pool's Greeks
    per board."""
    from ape_accounts import import_account_from_private_key
    from prometheus_client.parser import text_string_to_metric_families

    from keeper.txmanager import keeper_private_key

    suite, cfg_path, home = hedge_due
    alias, passphrase = "ammlab_chaos_keeper", "unattended"
    import_account_from_private_key(alias, passphrase, keeper_private_key(3))  # the test's
    # Ape data folder (tests/conftest.py), which the keeper process inherits
    port = chainmod.free_port()
    with fork_node.mining(0.25):
        keeper = KeeperProcess(
            cfg_path, home, options=("--account", alias, "--metrics-port", str(port)),
            **{f"APE_ACCOUNTS_{alias}_PASSPHRASE": passphrase},
        )  # fmt: skip
        keeper.wait_for(lambda k: any(
            leg["status"] == "mined" for e in k.events("tick") for leg in e["legs"]
        ), "a mined hedge leg")  # fmt: skip
        # Ticks after the hedge, with nothing more to do: a steady state to compare against.
        ticks = len(keeper.events("tick"))
        keeper.wait_for(lambda k: len(k.events("tick")) >= ticks + 3, "three more ticks")
        code, text = _scrape(f"http://127.0.0.1:{port}/metrics")
        health, _ = _scrape(f"http://127.0.0.1:{port}/healthz")
        status_doc = json.loads((cfg_path.parent / "status.json").read_text())
        with Journal(cfg_path.parent / "journal.sqlite") as journal:
            mined = [i for i in journal.intents(("mined",)) if i.kind == "hedge"]
            pending = journal.open_intents()
        keeper.kill(signal.SIGTERM)
    assert code == 200 and health == 200
    s: dict[tuple[str, tuple], float] = {}
    for fam in text_string_to_metric_families(text):
        for sample in fam.samples:
            s[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    p = "ammlab_keeper_"
    mined_metric = sum(
        v for (name, labels), v in s.items()
        if name == p + "hedge_legs_total" and ("status", "mined") in labels
    )  # fmt: skip
    assert mined and mined_metric == len(mined)
    assert s[(p + "pending_intents", ())] == len(pending) == 0
    assert s[(p + "killswitch_mode", (("mode", "running"),))] == 1.0
    assert s[(p + "ticks_total", ())] >= ticks + 3
    assert s[(p + "book", (("greek", "delta"),))] == pytest.approx(status_doc["book"]["delta"])
    assert abs(s[(p + "net_delta", ())]) <= BAND
    assert s[(p + "rpc_seconds_count", ())] > 0
    assert status_doc["options_boards"]  # the options pool's Greeks per board
    assert s[(p + "last_tick_age_seconds", ())] < 60
    out = subprocess.run(
        [sys.executable, "-m", "keeper.cli", "keeper", "status", "--config", str(cfg_path)],
        cwd=ROOT, env={**os.environ, chainmod.HOME_ENV: str(home)}, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "mode running" in out.stdout and "options board 1: delta" in out.stdout

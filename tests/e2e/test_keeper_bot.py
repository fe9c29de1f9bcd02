"""The keeper as a Silverback bot: `silverback run keeper.bot:bot` ticks on every new block."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from sim.chain import node as chainmod
from sim.chain.rpc import Rpc

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def json_events(path):
    events = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}")


def test_silverback_bot_ticks_on_each_new_block_in_dry_run(ammlab, tmp_path):
    port = chainmod.free_port()
    url = f"http://127.0.0.1:{port}"
    env = {chainmod.HOME_ENV: str(tmp_path / "home"), chainmod.UPSTREAM_ENV: url}
    assert ammlab("chain", "up", "--port", str(port), env=env).returncode == 0
    log = tmp_path / "bot.log"
    # The bot runs on the upstream itself (a known port we can mine on): a fork inside the
    # bot's process would mine no block nobody sends a transaction to.
    with open(log, "wb") as out:
        bot = subprocess.Popen(
            [
                shutil.which("silverback"),
                "run",
                "keeper.bot:bot",
                "--network",
                "ethereum:mainnet:node",
            ],
            cwd=chainmod.project_root(),
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: any(e.get("event") == "started" for e in json_events(log)), 120, "start")
        started = next(e for e in json_events(log) if e.get("event") == "started")
        assert started["mode"] == "dry_run"
        node = Rpc(url)
        nonce = node.nonce(started["keeper"])

        def mined_and_ticked_3_times() -> bool:
            # the poller starts from the head it first sees: keep making blocks until 3 ticks
            node.call("evm_mine")
            return sum(e.get("event") == "tick" for e in json_events(log)) >= 3

        wait_for(mined_and_ticked_3_times, 90, "3 ticks")
        ticks = [e for e in json_events(log) if e.get("event") == "tick"]
        blocks = [t["block"] for t in ticks]
        assert blocks == sorted(set(blocks)) and blocks[0] > started["block"]
        assert all(t["mode"] == "running" for t in ticks)
        # the book holds the keeper's LP share: long delta, which the first tick plans to hedge
        assert ticks[0]["book_delta"] > 0 and ticks[0]["order"] < 0
        assert all(leg["status"] == "dry_run" for t in ticks for leg in t["legs"])
        # a dry run signs nothing
        assert node.nonce(started["keeper"]) == nonce
        assert "Cannot convert datapoint" not in log.read_text(errors="replace")
    finally:
        os.killpg(bot.pid, signal.SIGINT)
        try:
            bot.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(bot.pid, signal.SIGKILL)
        chainmod.stop_upstream(tmp_path / "home")

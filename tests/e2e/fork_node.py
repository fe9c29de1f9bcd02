"""An anvil forking an upstream at a pinned block, that a test can kill -9, restart from a
state dump or replace by a fresh chain on the same port (`ForkNode`), with the raw RPC helpers
the keeper's chain tests read it with."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sim.chain import node as chainmod

GWEI = 10**9
SEND_GAS = 3_000_000
"""Gas limit of the role accounts' transactions."""


class ForkNode:
    """An anvil forking the upstream at a pinned block, on a port that survives restarts."""

    def __init__(self, upstream_url: str, block: int, workdir: Path):
        self.upstream_url = upstream_url
        self.block = block
        self.workdir = workdir
        self.port = chainmod.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, state: Path | None = None, fresh_chain: bool = False) -> None:
        """A fork of the upstream (from `state` if given), or with `fresh_chain` a new empty
        chain with chain id 1 (another block 0)."""
        cmd = [chainmod.find_anvil(), "--host", "127.0.0.1", "--port", str(self.port),
               "--chain-id", "1"]  # fmt: skip
        if not fresh_chain:
            cmd += ["--fork-url", self.upstream_url, "--fork-block-number", str(self.block)]
        if state is not None:
            cmd += ["--load-state", str(state)]
        with (self.workdir / "anvil.log").open("ab") as log:
            # Its own process group: `anvil` on PATH may be npm's wrapper around the binary,
            # and kill -9 must reach the binary too.
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            try:
                chainmod.chain_id_of(self.url, timeout=1.0)
                return
            except chainmod.ChainError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        """kill -9 (the whole group): the mempool is lost, nothing is flushed."""
        if self.proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def dump(self) -> Path:
        path = self.workdir / f"state-{time.monotonic_ns()}.json"
        path.write_bytes(gzip.decompress(bytes.fromhex(self.rpc("anvil_dumpState")[2:])))
        return path

    def rpc(self, method: str, *params):
        with chainmod.rpc_client(self.url, timeout=30) as rpc:
            return rpc.call(method, list(params))

    def nonce(self, account: str) -> int:
        return int(self.rpc("eth_getTransactionCount", account, "latest"), 16)

    def head(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def transact(self, sender: str, to: str, data: str, tip_gwei: float | None = None) -> str:
        """Send from an unlocked account, with a gas limit of its own (anvil's estimate while
        it mines can miss a path the transaction pays); with automine on, mined and checked."""
        tx = {"from": sender, "to": to, "data": data, "gas": hex(SEND_GAS)}
        if tip_gwei is not None:
            tx |= {"maxPriorityFeePerGas": hex(int(tip_gwei * GWEI)),
                   "maxFeePerGas": hex(int(10 * tip_gwei * GWEI))}  # fmt: skip
        return self.rpc("eth_sendTransaction", tx)

    def mined_ok(self, tx_hash: str) -> None:
        deadline = time.monotonic() + 10
        while (receipt := self.rpc("eth_getTransactionReceipt", tx_hash)) is None:
            assert time.monotonic() < deadline, f"{tx_hash} not mined"
            time.sleep(0.02)
        assert receipt["status"] == "0x1", receipt

    def txs_from(self, account: str, to: str, after_block: int) -> list[dict]:
        """Transactions `account` sent to `to` in the blocks after `after_block`, with their
        receipt status."""
        found = []
        for n in range(after_block + 1, self.head() + 1):
            block = self.rpc("eth_getBlockByNumber", hex(n), True)
            for tx in block["transactions"]:
                if tx["from"].lower() == account.lower() and (tx["to"] or "").lower() == to.lower():
                    receipt = self.rpc("eth_getTransactionReceipt", tx["hash"])
                    found.append({"hash": tx["hash"], "block": n, "status": receipt["status"],
                                  "index": int(tx["transactionIndex"], 16)})  # fmt: skip
        return found

    def pending_to(self, account: str, to: str) -> list[dict]:
        pool = self.rpc("txpool_content")["pending"]
        mine = next((v for k, v in pool.items() if k.lower() == account.lower()), {})
        return [tx for tx in mine.values() if (tx["to"] or "").lower() == to.lower()]

    def mining(self, every: float = 0.25):
        """Mine a block every `every` seconds in the background (automine stays as it is);
        a node that is down is waited for."""
        return mining(lambda: self.rpc("evm_mine"), every)


@contextmanager
def mining(mine: Callable[[], object], every: float) -> Iterator[None]:
    """Call `mine` (an `evm_mine`) every `every` seconds in a background thread for the
    duration; while the node is down, the calls fail quietly and go on."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            with suppress(chainmod.ChainError):  # the node may be down for a while
                mine()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def forked(upstream_url: str, block: int, workdir: Path) -> Iterator[ForkNode]:
    """A started fork of `upstream_url` at `block`, killed on exit."""
    node = ForkNode(upstream_url, block, workdir)
    node.start()
    try:
        yield node
    finally:
        node.kill()

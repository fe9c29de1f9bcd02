"""`sim.chain.rpc` against a real anvil: a reverting eth_call inside a batch, web3.py sharing
the client's session, and a node killed and restarted under a client with a retry budget."""

from __future__ import annotations

import threading

import pytest

from sim.chain import node as chainmod
from sim.chain.client import Chain
from sim.chain.rpc import Backoff, Rpc, RpcRefused, RpcUnavailable

pytestmark = pytest.mark.chain

REVERTS = "0x60006000fd"
"""Runtime code PUSH1 0 PUSH1 0 REVERT: every call reverts with no data."""
TARGET = "0x00000000000000000000000000000000000a11ce"


@pytest.fixture
def anvil(tmp_path):
    record = chainmod.start_upstream(port=chainmod.free_port(), home=tmp_path)
    yield record
    chainmod.stop_upstream(tmp_path)


def test_a_reverting_call_in_a_batch_is_named_or_left_out(anvil):
    rpc = Rpc(anvil.url)
    rpc.call("anvil_setCode", [TARGET, REVERTS])
    calls = [("eth_chainId", []), ("eth_call", [{"to": TARGET, "data": "0x"}, "latest"]),
             ("eth_getCode", [TARGET, "latest"])]  # fmt: skip
    with pytest.raises(RpcRefused, match=r"refused eth_call \(call 1 of a batch of 3\): .*revert"):
        rpc.many(calls)
    assert rpc.many_or_none(calls) == ["0x1", None, REVERTS]


def test_web3_and_the_raw_calls_share_one_client(anvil):
    chain = Chain(anvil.url)
    assert chain.w3.provider is chain.client.provider
    assert chain.w3.eth.chain_id == int(chain.rpc("eth_chainId"), 16) == 1
    with pytest.raises(RpcRefused, match="refused anvil_noSuchMethod"):
        chain.rpc("anvil_noSuchMethod")


def test_a_node_killed_and_restarted_is_reached_again_within_the_budget(tmp_path):
    """Same port, new process: the pooled keep-alive socket is dead; the client drops it,
    backs off and reaches the new node, then runs the reconnect hook once."""
    port = chainmod.free_port()
    home = tmp_path / "node"
    record = chainmod.start_upstream(port=port, home=home)
    rpc = Rpc(record.url, timeout=5, backoff=Backoff(budget_s=30, initial_s=0.05, max_s=0.5))
    downs: list[float] = []
    rpc.on_reconnect = downs.append
    try:
        assert rpc.block_number() == 0
        chainmod.stop_upstream(home)
        with pytest.raises(RpcUnavailable):
            Rpc(record.url).block_number()  # down: a client without retries says so at once
        restart = threading.Timer(0.5, lambda: chainmod.start_upstream(port=port, home=home))
        restart.start()
        assert rpc.chain_id() == 1
        restart.join()
        assert len(downs) == 1 and downs[0] > 0.4 and rpc.retries >= 1
    finally:
        chainmod.stop_upstream(home)

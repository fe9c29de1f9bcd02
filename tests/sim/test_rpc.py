"""The node side's JSON-RPC client (`sim.chain.rpc`) against a small local HTTP node: single
calls and batches in order, refusals never retried, transport failures retried with backoff
(none, bounded, unbounded), the callbacks the keeper uses, one keep-alive connection, and
one-line errors. The real node (anvil) is in tests/e2e/test_rpc_anvil.py."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import tenacity
from eth_utils import keccak

from sim.chain import node as chainmod
from sim.chain.rpc import NO_RETRY, Backoff, Rpc, RpcRefused, RpcUnavailable
from sim.errors import ChainError

RAW_TX = "0x02f86b0180843b9aca00850df8475800825208940000000000000000000000000000000000000001"


class FakeNode(ThreadingHTTPServer):
    """A JSON-RPC node on loopback that answers a few methods and can misbehave on purpose.

    Methods: `eth_chainId` (0x1), `echo` (its first parameter), `eth_fail` (a JSON-RPC error
    with two lines and data), `eth_sendRawTransaction` ("already known"). `fail_first` answers
    the first N requests with `fail_status` (or, for status 200, a body that is not JSON);
    `reverse` answers a batch in reverse order, as JSON-RPC 2.0 allows.
    """

    daemon_threads = True

    def __init__(self, port: int = 0, fail_first: int = 0, fail_status: int = 503):
        super().__init__(("127.0.0.1", port), _Handler)
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.reverse = False
        self.requests = 0
        self.methods: list[str] = []
        self.peers: set[int] = set()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, call: dict) -> dict:
        self.methods.append(call["method"])
        reply = {"jsonrpc": "2.0", "id": call["id"]}
        method, params = call["method"], call.get("params") or []
        if method == "eth_chainId":
            return {**reply, "result": "0x1"}
        if method == "echo":
            return {**reply, "result": params[0]}
        if method == "eth_sendRawTransaction":
            return {**reply, "error": {"code": -32000, "message": "already known"}}
        error = {"code": -32000, "message": "nope\nsecond line", "data": "0xdead"}
        return {**reply, "error": error}

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real node

    def do_POST(self):  # noqa: N802 - the http.server API
        node: FakeNode = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        node.requests += 1
        node.peers.add(self.client_address[1])
        status, data = 200, b""
        if node.requests <= node.fail_first:
            status = node.fail_status
            data = b"<html>bad gateway</html>"
            if status == 400:  # a refusal sent with an HTTP error status, as some gateways do
                error = {"code": -32600, "message": "invalid request"}
                data = json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode()
        elif isinstance(body, list):
            replies = [node.answer(call) for call in body]
            data = json.dumps(replies[::-1] if node.reverse else replies).encode()
        else:
            data = json.dumps(node.answer(body)).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def node():
    server = FakeNode()
    yield server
    server.stop()


FAST = Backoff(budget_s=5.0, initial_s=0.01, max_s=0.05)


# --------------------------------------------------------------------------- answers


def test_a_call_returns_its_result_and_a_refusal_is_one_line_never_retried(node):
    rpc = Rpc(node.url, backoff=FAST)
    assert rpc.call("echo", ["0x2a"]) == "0x2a"
    assert rpc.chain_id() == 1
    with pytest.raises(RpcRefused) as err:
        rpc.call("eth_fail", [1])
    assert str(err.value) == f"RPC {node.url} refused eth_fail: nope"
    assert (err.value.method, err.value.rpc_message, err.value.data) == (
        "eth_fail", "nope\nsecond line", "0xdead")  # fmt: skip
    assert node.requests == 3 and rpc.retries == 0


def test_a_batch_comes_back_in_call_order_from_one_request(node):
    node.reverse = True  # the node may answer a batch in any order; ids put it back
    rpc = Rpc(node.url)
    calls = [("echo", [hex(i)]) for i in range(40)]
    assert rpc.many(calls) == [hex(i) for i in range(40)]
    assert node.requests == 1
    assert rpc.many([]) == [] and node.requests == 1  # nothing to send: no request


def test_a_refused_call_in_a_batch_raises_naming_it_or_comes_back_as_none(node):
    rpc = Rpc(node.url)
    calls = [("echo", ["0x1"]), ("eth_fail", []), ("echo", ["0x3"])]
    with pytest.raises(RpcRefused, match=r"refused eth_fail \(call 1 of a batch of 3\): nope$"):
        rpc.many(calls)
    assert rpc.many_or_none(calls) == ["0x1", None, "0x3"]


def test_a_resent_transaction_the_node_already_knows_counts_as_sent(node):
    assert Rpc(node.url).send_raw(RAW_TX) == "0x" + keccak(hexstr=RAW_TX).hex()


# --------------------------------------------------------------------------- transport


def test_one_keep_alive_connection_and_no_proxy_lookup_on_loopback(node, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # would fail were it used
    rpc = Rpc(node.url)
    for _ in range(5):
        rpc.call("eth_chainId")
    rpc.many([("eth_chainId", [])] * 3)
    assert len(node.peers) == 1  # one TCP connection for all six requests
    assert rpc.session.trust_env is False
    assert Rpc("https://rpc.example.org").session.trust_env is True  # a remote node: honoured


def test_without_retries_an_unreachable_node_fails_at_once_in_one_line():
    url = f"http://127.0.0.1:{chainmod.free_port()}"
    start = time.monotonic()
    with pytest.raises(RpcUnavailable) as err:
        Rpc(url, hint="start it").call("eth_chainId")
    assert time.monotonic() - start < 1
    assert str(err.value) == (
        f"RPC {url} is unreachable (ConnectionError: [Errno 111] Connection refused): start it"
    )
    assert isinstance(err.value.__cause__, OSError)  # how the keeper tells an outage


def test_a_bounded_budget_gives_up_without_sleeping_past_it():
    url = f"http://127.0.0.1:{chainmod.free_port()}"
    rpc = Rpc(url, backoff=Backoff(budget_s=0.3, initial_s=0.05, max_s=0.1))
    start = time.monotonic()
    with pytest.raises(RpcUnavailable, match=r"unreachable for 0.3 s \(ConnectionError"):
        rpc.many([("eth_chainId", [])])
    assert 0.1 < time.monotonic() - start < 0.3 + 0.5  # slept, then stopped before the budget
    assert rpc.retries >= 2


@pytest.mark.parametrize(("status", "reason"), [(503, "HTTP 503"), (429, "HTTP 429"),
                                                (200, "JSONDecodeError")])  # fmt: skip
def test_gateway_errors_and_replies_that_are_not_json_are_retried(status, reason):
    server = FakeNode(fail_first=2, fail_status=status)
    try:
        seen: list[tuple[int, str]] = []
        rpc = Rpc(server.url, backoff=FAST)
        rpc.on_retry = lambda attempt, waited, why: seen.append((attempt, why))
        assert rpc.call("eth_chainId") == "0x1"
        assert seen == [(1, reason), (2, reason)] and rpc.retries == 2
    finally:
        server.stop()


def test_a_client_error_status_is_not_retried():
    server = FakeNode(fail_first=5, fail_status=403)
    try:
        rpc = Rpc(server.url, backoff=FAST)
        with pytest.raises(ChainError, match="failed eth_chainId \\(HTTPError: 403") as err:
            rpc.call("eth_chainId")
        assert not isinstance(err.value, RpcUnavailable | RpcRefused)
        assert server.requests == 1
    finally:
        server.stop()


def test_a_refusal_sent_with_an_http_error_status_is_a_refusal():
    server = FakeNode(fail_first=1, fail_status=400)
    try:
        rpc = Rpc(server.url, backoff=FAST)
        with pytest.raises(RpcRefused, match="refused eth_chainId: invalid request"):
            rpc.call("eth_chainId")
        assert rpc.retries == 0 and rpc.call("eth_chainId") == "0x1"
    finally:
        server.stop()


@pytest.mark.parametrize("url", ["localhost:8545", "ws://127.0.0.1:8545", ""])
def test_a_url_that_is_not_http_is_refused_in_one_line(url):
    with pytest.raises(ChainError, match=f"RPC URL {url!r} is not an http\\(s\\):// URL"):
        Rpc(url)


# --------------------------------------------------------------------------- outages


def test_a_node_that_comes_up_late_is_reached_and_the_reconnect_hook_runs_once():
    port = chainmod.free_port()
    rpc = Rpc(f"http://127.0.0.1:{port}", backoff=FAST)
    downs: list[float] = []

    def hook(down_s: float) -> None:
        downs.append(down_s)
        assert rpc.chain_id() == 1  # the hook may use the client: it does not run again

    rpc.on_reconnect = hook
    holder: list[FakeNode] = []
    timer = threading.Timer(0.3, lambda: holder.append(FakeNode(port)))
    timer.start()
    try:
        assert rpc.many([("echo", ["0x7"])]) == ["0x7"]
        assert len(downs) == 1 and downs[0] >= 0.25 and rpc.retries >= 1
        rpc.call("eth_chainId")  # no outage: no hook
        assert len(downs) == 1
    finally:
        timer.join()
        holder[0].stop()


def test_the_unbounded_mode_waits_as_long_as_it_takes_and_reports_each_retry():
    """Retries forever (`budget_s=None`); the keeper logs each one. Here the node comes up at
    the 6th retry, with the sleeps faked so that the test does not wait."""
    port = chainmod.free_port()
    slept: list[float] = []
    retries: list[int] = []
    holder: list[FakeNode] = []

    def on_retry(attempt: int, waited: float, reason: str) -> None:
        retries.append(attempt)
        assert reason == "ConnectionError: [Errno 111] Connection refused"
        if attempt == 6:
            holder.append(FakeNode(port))

    forever = Backoff(budget_s=None, initial_s=1.0, max_s=8.0)
    rpc = Rpc(f"http://127.0.0.1:{port}", backoff=forever, sleep=slept.append)
    rpc.on_retry = on_retry
    try:
        assert rpc.chain_id() == 1
    finally:
        holder[0].stop()
    assert retries == [1, 2, 3, 4, 5, 6]
    for k, delay in enumerate(slept):  # equal jitter on a capped doubling
        ceiling = min(8.0, 2.0**k)
        assert ceiling / 2 <= delay <= ceiling


def test_backoff_delays_double_up_to_the_maximum_with_bounded_jitter():
    wait = Backoff(budget_s=10.0, initial_s=0.1, max_s=2.0).wait()
    state = tenacity.RetryCallState(None, None, (), {})
    for k, ceiling in enumerate([0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]):
        state.attempt_number = k + 1
        delays = [wait(state) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not fixed
    assert NO_RETRY.budget_s == 0.0 and Backoff().budget_s == 0.0  # the default: no retries

"""The one JSON-RPC client of the node side: one call, or many in one batched request.

Every user of a node goes through `Rpc`: the chain backend's block builder (a block's
transactions in one request), the keeper's reader (a tick's eth_calls in one request), its
transaction manager (with retries through outages), `sim.chain.node` (chain id, block number,
anvil's state dumps) and `sim.chain.client.Chain` (whose web3.py instance shares this client's
provider and HTTP session).

Transport: web3.py 7's `HTTPProvider` (`make_request`, `make_batch_request`: JSON encoding,
request ids, batch replies sorted back into request order) over one keep-alive
`requests.Session`. For a loopback URL the session skips the environment's proxy settings:
looking them up costs ~1 ms a request, 6 % of a dense chain-backend run. web3.py's own retry
is off; retries are tenacity's, below.

What web3.py costs, against the raw `requests` batch client this replaced (measured on the
shared 2-core machine with other work running, load 3 to 7; it varies ±25 % between runs):
- `scripts/bench_backend.py --long 0`, back to back with main at 0cd32ab, medians of the
  runs' tx/s: dense blocks (62.6 tx) 2,438 before, 2,441 after (9 runs each); sparse blocks
  (1 tx) 306 before, 298 after (4 runs each in ABBA order), 301 and 219 in 5 interleaved
  pairs under heavier load. The batch path costs nothing measurable, so there is no raw path.
- `--client 20` (same anvil, alternating): one call +57 µs over a bare post, a batch of 60
  +82 µs (+414 µs with web3.py's own batch encoding, which `_Provider` replaces); under load 7,
  +146 and +393 µs. A sparse block sends 2.6 requests, so it pays ~0.15 ms of web3.py's
  per-request plumbing on ~3.3 ms.

Errors, each one line naming the URL and the method:

- `RpcRefused`: the node answered a JSON-RPC error (a revert, a bad nonce, an unknown
  method), whatever the HTTP status it came with. Never retried. In a batch, `many` raises
  it for the first failed call (naming its position) and `many_or_none` puts None in that
  call's place instead.
- `RpcUnavailable`: no answer: connection refused or reset, a timeout, HTTP 5xx or 429, or a
  reply that is not JSON. Retried per the client's `Backoff` (exponential with jitter, on the
  same session with its pooled sockets dropped, so a restarted node is reached again), then
  raised.

Backoff modes: none (the default: a command fails at once with one line), bounded (`budget_s`
seconds: the transaction manager, through a node restart), unbounded (`budget_s=None`: the
keeper's "wait for the node to come back"). Callbacks: `on_retry(attempt, waited_s, reason)`
before each backoff sleep (the keeper logs `rpc_retry`), `on_reconnect(down_s)` on the first
answer after transport failures, before that answer is used (the transaction manager checks the
chain's identity there; the keeper logs `rpc_restored` after that check).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import requests
import tenacity
from eth_utils import keccak
from web3 import HTTPProvider

from sim.errors import ChainError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

Call = tuple[str, Sequence[Any]]
"""(method, params) of one JSON-RPC call."""


def is_loopback(url: str) -> bool:
    return (urlparse(url).hostname or "") in LOOPBACK_HOSTS


class RpcRefused(ChainError):
    """The node answered a JSON-RPC error; `rpc_message` and `data` are its own words."""

    def __init__(self, url: str, method: str, message: str, data: Any = None, where: str = ""):
        self.method = method
        self.rpc_message = message
        self.data = data
        first = message.splitlines()[0] if message else "no message"
        super().__init__(f"RPC {url} refused {method}{where}: {first}")


class RpcUnavailable(ChainError):
    """The node did not answer (after the client's retries, if any)."""


class _NoAnswer(Exception):
    """A transport failure inside the retry loop (the one exception tenacity retries)."""


@dataclass(frozen=True)
class Backoff:
    """Retries of transport failures: delay k (0-based) is min(max_s, initial_s x 2**k) x
    uniform(0.5, 1) ("equal jitter": never less than half the exponential step, so a fleet of
    clients spreads out without retrying at once); no sleep ends past `budget_s`.

    Attributes:
        budget_s: seconds of retrying before `RpcUnavailable`; 0 tries once, None retries forever.
        initial_s: ceiling of the first delay, seconds.
        max_s: ceiling of any delay, seconds.
    """

    budget_s: float | None = 0.0
    initial_s: float = 0.2
    max_s: float = 5.0

    def wait(self) -> tenacity.wait.wait_base:
        """The delays as a tenacity wait: half the capped exponential step, fixed, plus up to
        the other half at random (tenacity's `wait_random_exponential` is uniform on [0, step])."""
        half, cap = self.initial_s / 2, self.max_s / 2
        return tenacity.wait_exponential(
            multiplier=half, max=cap
        ) + tenacity.wait_random_exponential(multiplier=half, max=cap)

    def stop(self) -> tenacity.stop.stop_base:
        if self.budget_s is None:
            return tenacity.stop_never
        if self.budget_s <= 0:
            return tenacity.stop_after_attempt(1)
        return tenacity.stop_before_delay(self.budget_s)


NO_RETRY = Backoff(0.0)


def _transport_reason(err: BaseException) -> str | None:
    """A short reason when `err` is a transport failure (worth retrying), else None."""
    if isinstance(err, requests.HTTPError):
        status = err.response.status_code if err.response is not None else 0
        return f"HTTP {status}" if status >= 500 or status == 429 else None
    if isinstance(err, requests.ConnectionError | requests.Timeout) or (
        isinstance(err, ValueError) and not isinstance(err, requests.RequestException)
    ):  # ValueError: a reply that is not JSON (a proxy's error page, a truncated body)
        found = re.search(r"\[Errno -?\d+\][^'\")]*", str(err))
        name = type(err).__name__
        return f"{name}: {found.group(0).strip()}" if found else name
    return None


def _json_rpc_error_body(err: BaseException) -> Any:
    """The JSON-RPC answer inside an HTTP error response (some nodes and gateways send their
    refusals with status 400), else None."""
    response = getattr(err, "response", None)
    if not isinstance(err, requests.HTTPError) or response is None:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) and "error" in body else None


class _Provider(HTTPProvider):
    """web3.py's HTTPProvider with a batch encoded by one `json.dumps` of the whole list.

    web3.py 7.16 encodes each call of a batch on its own (`encode_rpc_request`: its JSON
    encoder class and a bytes conversion per call) and joins them: ~5 µs a call here, 0.3 ms
    for a batch of 60 (`scripts/bench_backend.py --client`), which a dense chain-backend block
    pays twice. The calls a batch carries are plain JSON (hex strings, dicts, lists, bools),
    so one standard `json.dumps` encodes the same request, with the provider's own ids."""

    def encode_batch_rpc_request(self, batch: list[tuple[str, Any]]) -> bytes:
        body = [
            {"jsonrpc": "2.0", "method": method, "params": params or [],
             "id": next(self.request_counter)}
            for method, params in batch
        ]  # fmt: skip
        return json.dumps(body, separators=(",", ":")).encode()


class Rpc:
    """JSON-RPC to the node at `url` (see the module docstring).

    Args:
        url: the node's HTTP(S) JSON-RPC URL.
        timeout: seconds one HTTP request may take.
        backoff: retries of transport failures (`NO_RETRY` by default).
        hint: what the one-line `RpcUnavailable` tells the user to do.
        sleep: the backoff's sleep (tests pass a fake).
    """

    def __init__(
        self,
        url: str,
        timeout: float = 60.0,
        backoff: Backoff = NO_RETRY,
        hint: str = "start the node or fix the URL",
        sleep: Callable[[float], None] = time.sleep,
    ):
        if urlparse(url).scheme not in ("http", "https"):
            raise ChainError(
                f"RPC URL {url!r} is not an http(s):// URL: give the node's HTTP JSON-RPC "
                "endpoint, e.g. http://127.0.0.1:8545"
            )
        self.url = url
        self.timeout = timeout
        self.backoff = backoff
        self.hint = hint
        self.session = requests.Session()
        if is_loopback(url):
            self.session.trust_env = False  # no proxy lookup (see the module docstring)
        self.provider = _Provider(
            url,
            request_kwargs={"timeout": timeout, "headers": HTTPProvider.get_request_headers()},
            session=self.session,
            exception_retry_configuration=None,
        )
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_NoAnswer),
            wait=backoff.wait(),
            stop=backoff.stop(),
            sleep=sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        self.retries = 0
        """Transport failures retried so far (for tests and metrics)."""
        self.on_retry: Callable[[int, float, str], None] | None = None
        """Called before each backoff sleep with (attempt, seconds since the call began, the
        failure's reason)."""
        self.on_reconnect: Callable[[float], None] | None = None
        """Called with the outage's length (s) on the first answer after transport failures,
        before that answer is used; not again while it runs (it may use this client)."""
        self._in_hook = False
        self.on_request: Callable[[float, str | None], None] | None = None
        """Called after each request (a batch counts once) with its seconds, retries included,
        and None, or "unavailable" when the node never answered (the keeper's metrics)."""

    # -- calls ------------------------------------------------------------------------

    def call(self, method: str, params: Sequence[Any] | None = None) -> Any:
        """The result of one call; raises RpcRefused or RpcUnavailable (one line each)."""
        reply = self._exchange(method, lambda: self.provider.make_request(method, params or []))
        if "error" in reply:
            raise self._refused(method, reply["error"])
        return reply.get("result")

    def many(self, calls: Sequence[Call]) -> list[Any]:
        """The results of `calls`, in order, from one batched request; the first call the
        node refused raises RpcRefused naming it and its position."""
        replies = self._batch(calls)
        for i, ((method, _), reply) in enumerate(zip(calls, replies, strict=True)):
            if "error" in reply:
                raise self._refused(
                    method, reply["error"], f" (call {i} of a batch of {len(calls)})"
                )
        return [reply.get("result") for reply in replies]

    def many_or_none(self, calls: Sequence[Call]) -> list[Any]:
        """Like `many`, with None for a call the node refused (e.g. an eth_call that reverted,
        such as an index past the end of an array) instead of failing them all."""
        return [None if "error" in reply else reply.get("result") for reply in self._batch(calls)]

    # -- typed reads (what the transaction manager and the journal need) ---------------

    def chain_id(self) -> int:
        return int(self.call("eth_chainId"), 16)

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        return self.call("eth_getTransactionReceipt", [tx_hash])

    def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        return self.call("eth_getTransactionByHash", [tx_hash])

    def nonce(self, account: str, block: str = "latest") -> int:
        return int(self.call("eth_getTransactionCount", [account, block]), 16)

    def base_fee(self) -> int:
        """Base fee of the next block, wei: anvil and geth report it on the pending block."""
        block = self.call("eth_getBlockByNumber", ["pending", False]) or self.call(
            "eth_getBlockByNumber", ["latest", False]
        )
        return int(block.get("baseFeePerGas") or "0x0", 16)

    def gas_price(self) -> int:
        return int(self.call("eth_gasPrice"), 16)

    def send_raw(self, raw: str) -> str:
        """Broadcast signed bytes; "already known" counts as accepted (same bytes, same hash),
        which makes a retried or repeated send idempotent."""
        try:
            return self.call("eth_sendRawTransaction", [raw])
        except RpcRefused as err:
            said = err.rpc_message.lower()
            if "already known" in said or "already imported" in said:
                return "0x" + keccak(hexstr=raw).hex()
            raise

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Rpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------

    def _batch(self, calls: Sequence[Call]) -> list[dict[str, Any]]:
        if not calls:
            return []
        what = f"a batch of {len(calls)} ({calls[0][0]}, ...)"
        replies = self._exchange(what, lambda: self.provider.make_batch_request(list(calls)))
        if not isinstance(replies, list):  # the node refused the batch as a whole
            raise self._refused(what, replies.get("error") or {"message": str(replies)[:200]})
        if len(replies) != len(calls):
            raise ChainError(
                f"RPC {self.url} answered {len(replies)} replies to a batch of {len(calls)}: "
                "not a JSON-RPC 2.0 node?"
            )
        return replies

    def _exchange(self, what: str, send: Callable[[], Any]) -> Any:
        """`send()` with the backoff's retries of transport failures; the decoded reply."""
        started = time.monotonic()
        tries = 0

        def attempt() -> Any:
            nonlocal tries
            tries += 1
            try:
                return send()
            except (requests.RequestException, ValueError) as err:
                reason = _transport_reason(err)
                if reason is None and (answer := _json_rpc_error_body(err)) is not None:
                    return answer  # a node that says "no" with an HTTP 4xx status
                if reason is None:
                    raise ChainError(
                        f"RPC {self.url} failed {what} ({type(err).__name__}: "
                        f"{str(err).splitlines()[0][:200]})"
                    ) from err
                raise _NoAnswer(reason) from err

        try:
            # A copy per exchange: tenacity keeps its loop's state on the object, and a hook may
            # use this client while an exchange is under way.
            reply = self._retrying.copy()(attempt)
        except _NoAnswer as err:
            self._observed(started, "unavailable")
            budget = self.backoff.budget_s
            lasted = f"unreachable for {budget:g} s" if budget else "is unreachable"
            raise RpcUnavailable(f"RPC {self.url} {lasted} ({err}): {self.hint}") from (
                err.__cause__
            )
        self._observed(started, None)
        if tries > 1:
            self._reconnected(time.monotonic() - started)
        return reply

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        self.retries += 1
        self.session.close()  # drop the pooled sockets of a node that went away
        if self.on_retry is not None:
            reason = str(state.outcome.exception()) if state.outcome else ""
            self.on_retry(state.attempt_number, state.seconds_since_start or 0.0, reason)

    def _observed(self, started: float, error: str | None) -> None:
        if self.on_request is not None:
            self.on_request(time.monotonic() - started, error)

    def _reconnected(self, down_s: float) -> None:
        if self.on_reconnect is None or self._in_hook:
            return
        self._in_hook = True
        try:
            self.on_reconnect(down_s)
        finally:
            self._in_hook = False

    def _refused(self, method: str, error: Any, where: str = "") -> RpcRefused:
        if not isinstance(error, dict):
            error = {"message": str(error)}
        return RpcRefused(self.url, method, str(error.get("message")), error.get("data"), where)

"""Reading a chain's history over JSON-RPC: logs in ranges a provider accepts, headers, calls.

web3.py's `eth.get_logs` fetches one block range of every pulled address and event at once;
`LogReader.logs` halves the range whenever the provider refuses it (too many results, range
too wide, a timeout) and grows it back after each success, and every call retries transient
failures (connection errors, HTTP 429/5xx) with exponential backoff through tenacity.

Why not cryo (paradigm's extractor; its Python binding `cryo` 0.3.2 installs here and pulled
logs from anvil in a trial): its last release is of January 2024; it waits a fixed
`reorg_buffer` behind the head but never re-checks stored block hashes, so a reorg inside
what it already wrote stays there; it decodes one event signature per run and keeps fixed
chunk sizes; and it is a 15 MB native extension. The puller needs all of these, and web3.py
is already the node side's client, so the log filter is web3.py's and the bookkeeping ours.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from eth_abi import decode
from eth_utils import to_checksum_address
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3RPCError

from sim.chain.client import node_message
from sim.errors import ChainError
from sim.history.schema import EVENTS, ZERO_ADDRESS, Event

REFUSAL = re.compile(
    r"range|more than|too many|too large|too wide|too big|exceed|limit|timeout|timed out|size",
    re.IGNORECASE,
)
"""What providers say when an eth_getLogs range holds too much (Infura "query returned more
than 10000 results", Alchemy "Log response size exceeded", geth "exceed maximum block range",
"query timeout exceeded", Ankr "block range is too wide", ...)."""


class HistoryPullError(ChainError):
    """The history cannot be pulled; the message names the argument or the RPC and what to do."""


class _Transient(Exception):
    """A failure worth retrying as it is (connection lost, rate limited, a reorg mid-chunk)."""


class _Refused(Exception):
    """The provider refused the range: retry with a smaller one."""


def _is_transient(err: BaseException) -> bool:
    return isinstance(err, _Transient)


@dataclass
class LogReader:
    """Logs, headers and calls from one RPC, with retries and range halving.

    Args:
        url: the node's HTTP JSON-RPC URL.
        attempts: tries per call before giving up on a transient failure.
        backoff: first wait between tries, seconds (doubling up to 30 s).
        timeout: HTTP timeout of one request, seconds.
    """

    url: str
    attempts: int = 6
    backoff: float = 0.5
    timeout: float = 60.0

    def __post_init__(self) -> None:
        self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": self.timeout}))
        self.requests = 0
        """JSON-RPC requests sent (a batch counts once)."""

    # ------------------------------------------------------------------ one call, retried

    def call(self, fn: Callable[[], Any], what: str, refusable: bool = False) -> Any:
        """`fn()` retried on transient failures. A refusal (too many results, a timeout) raises
        `_Refused` when `refusable` (the caller narrows the request), else HistoryPullError."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff, max=30),
            retry=retry_if_exception(_is_transient),
            reraise=False,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(fn, what)
        except _Refused as err:
            if refusable:
                raise
            raise HistoryPullError(f"RPC {self.url} refused {what}: {err}") from err
        except RetryError as err:
            cause = err.last_attempt.exception()
            raise HistoryPullError(
                f"RPC {self.url} failed {what} {self.attempts} times ({cause}): check the node "
                "or retry later; a re-run resumes where this one stopped"
            ) from cause
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, fn: Callable[[], Any], what: str) -> Any:
        self.requests += 1
        try:
            return fn()
        except requests.exceptions.Timeout as err:
            raise _Refused(f"timeout ({err})") from err
        except requests.exceptions.HTTPError as err:
            status = err.response.status_code if err.response is not None else 0
            if status == 429 or status >= 500:
                raise _Transient(f"HTTP {status}") from err
            raise HistoryPullError(f"RPC {self.url} answered {what} with HTTP {status}") from err
        except (requests.exceptions.ConnectionError, ConnectionError) as err:
            raise _Transient(f"connection failed: {type(err).__name__}") from err
        except Web3RPCError as err:
            message = node_message(err)
            if REFUSAL.search(message):
                raise _Refused(message) from err
            raise HistoryPullError(f"RPC {self.url} refused {what}: {message}") from err

    # ------------------------------------------------------------------ chain facts

    def chain_id(self) -> int:
        try:
            return self.call(lambda: self.w3.eth.chain_id, "eth_chainId")
        except HistoryPullError as err:
            raise HistoryPullError(
                f"--rpc {self.url}: unreachable or not a JSON-RPC node ({err}); fix the URL"
            ) from err

    def head(self) -> int:
        return self.call(lambda: self.w3.eth.block_number, "eth_blockNumber")

    def headers(self, numbers: Sequence[int]) -> dict[int, tuple[str, str, int]]:
        """`number -> (hash, parent_hash, timestamp)`, in batches of 100 per request."""
        out: dict[int, tuple[str, str, int]] = {}
        numbers = sorted(set(numbers))
        for i in range(0, len(numbers), 100):
            part = numbers[i : i + 100]

            def batch(part=part) -> list[Any]:
                with self.w3.batch_requests() as b:
                    for n in part:
                        b.add(self.w3.eth.get_block(n))
                    got = b.execute()
                if any(block is None for block in got):
                    raise _Transient("a block vanished (the chain moved under the pull)")
                return got

            for n, block in zip(part, self.call(batch, "eth_getBlockByNumber"), strict=True):
                out[n] = (block["hash"].to_0x_hex(), block["parentHash"].to_0x_hex(),
                          int(block["timestamp"]))  # fmt: skip
        return out

    def eth_call(self, address: str, abi: dict, args: Sequence = (), block: int | None = None):
        """A view call at `block` (default latest); None when it reverts or returns nothing."""
        contract = self.w3.eth.contract(address=address, abi=[abi])
        fn = contract.functions[abi["name"]](*args)
        ident = "latest" if block is None else block

        def go() -> Any:
            try:
                return fn.call(block_identifier=ident)
            except (ContractLogicError, BadFunctionCallOutput):
                return None  # a revert, or no code at that block

        return self.call(go, f"eth_call {abi['name']}() on {address}")

    # ------------------------------------------------------------------ logs

    def logs(
        self,
        addresses: Sequence[str],
        topics: Sequence[str],
        start: int,
        end: int,
        span: int,
        on_chunk: Callable[[int, int, list[dict]], None],
    ) -> int:
        """Every log of `addresses` with topic0 in `topics` in blocks start..end, in ranges of at
        most `span` blocks, halving a refused range and doubling back after each success;
        `on_chunk(a, b, logs)` gets each fetched range in order. Returns the last span used."""
        a, size = start, max(1, span)
        while a <= end:
            b = min(end, a + size - 1)
            flt = {"address": list(addresses), "topics": [list(topics)],
                   "fromBlock": a, "toBlock": b}  # fmt: skip
            try:
                got = self.call(lambda flt=flt: self.w3.eth.get_logs(flt), "eth_getLogs", True)
            except _Refused as err:
                if a == b:
                    raise HistoryPullError(
                        f"RPC {self.url} refuses eth_getLogs even for block {a} alone ({err}): "
                        "use another provider"
                    ) from err
                size = max(1, (b - a + 1) // 2)
                continue
            on_chunk(a, b, [dict(x) for x in got])
            a = b + 1
            size = min(span, size * 2)
        return size


# --------------------------------------------------------------------------- decoding

_BY_TOPIC: dict[tuple[str, str], Event] = {(e.kind, e.topic0): e for e in EVENTS}


def decode_log(log: dict, kind: str) -> tuple[Event, dict[str, Any]] | None:
    """(event, row) of a raw log from a source of `kind`; None for an event not pulled (or a
    V2 LP transfer between two holders, which changes nothing the replay needs)."""
    topics = [bytes(t) for t in log["topics"]]
    if not topics:
        return None
    event = _BY_TOPIC.get((kind, "0x" + topics[0].hex()))
    if event is None:
        return None
    indexed = [f for f in event.fields if f.indexed]
    plain = [f for f in event.fields if not f.indexed]
    if len(topics) != len(indexed) + 1:
        return None  # same topic0, another shape (an ERC-721 Transfer, say)
    values = dict(zip([f.name for f in plain], decode([f.type for f in plain],
                                                       bytes(log["data"])), strict=True))  # fmt: skip
    for f, topic in zip(indexed, topics[1:], strict=True):
        (values[f.name],) = decode([f.type], topic)
    row: dict[str, Any] = {
        "block_number": int(log["blockNumber"]),
        "block_hash": log["blockHash"].to_0x_hex(),
        "transaction_hash": log["transactionHash"].to_0x_hex(),
        "transaction_index": int(log["transactionIndex"]),
        "log_index": int(log["logIndex"]),
        "address": to_checksum_address(log["address"]),
    }
    for f in event.fields:
        v = values[f.name]
        row[f.name] = to_checksum_address(v) if f.type == "address" else v
    if event.table == "v2_transfer" and ZERO_ADDRESS not in (row["from"], row["to"]):
        return None
    return event, row

"""Send a whole block of transactions in one JSON-RPC request, then mine it at a chosen time.

Ape's contract calls send one transaction per round trip and wait for it (~19 tx/s here);
a simulated block holds many agents' transactions that must land together, in the scenario's
order, at the scenario's timestamp. So the chain backend queues a block's calls, sends them in
one batched HTTP request with automine off, mines once with `evm_mine(timestamp)`, and reads
every receipt in one more request.

anvil only: agents send from their own addresses through `anvil_autoImpersonateAccount`, so no
client-side signing is needed. Fees are explicit and equal, so the block keeps the order the
transactions were sent in (checked by the tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from keeper.errors import ChainError


class RpcBatch:
    """JSON-RPC over one keep-alive HTTP session; `many` sends a list of calls in one request."""

    def __init__(self, url: str, timeout: float = 60.0):
        self.url = url
        self.timeout = timeout
        self._session = requests.Session()

    def many(self, calls: list[tuple[str, list]]) -> list[Any]:
        """Results of `calls` in order; a failed call raises ChainError naming it."""
        if not calls:
            return []
        body = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
            for i, (method, params) in enumerate(calls)
        ]
        try:
            reply = self._session.post(self.url, json=body, timeout=self.timeout).json()
        except (requests.RequestException, ValueError) as err:
            raise ChainError(f"RPC {self.url} is unreachable ({err})") from err
        by_id = {item["id"]: item for item in reply}
        results = []
        for i, (method, _) in enumerate(calls):
            item = by_id[i]
            if "error" in item:
                raise ChainError(f"{method} #{i} refused: {item['error'].get('message')}")
            results.append(item["result"])
        return results

    def one(self, method: str, params: list | None = None) -> Any:
        return self.many([(method, params or [])])[0]


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    sender: str
    status: int
    gas_used: int
    index: int
    """Position in the block."""


@dataclass
class BlockBuilder:
    """Queue transactions for one block, then `mine(timestamp)` sends and mines them."""

    rpc: RpcBatch
    gas_price: int = 0
    """Wei per gas for every transaction (equal fees keep the sending order)."""
    _queue: list[dict] = field(default_factory=list)
    _nonces: dict[str, int] = field(default_factory=dict)
    """Next nonce per sender: explicit, because a batch's sends are handled concurrently and
    node-assigned nonces would collide."""

    @classmethod
    def connect(cls, url: str, gas_price: int = 0) -> BlockBuilder:
        """Take control of an anvil's blocks: automine off, any sender impersonated."""
        rpc = RpcBatch(url)
        rpc.many([("evm_setAutomine", [False]), ("anvil_autoImpersonateAccount", [True])])
        if gas_price == 0:
            rpc.one("anvil_setNextBlockBaseFeePerGas", ["0x0"])
        return cls(rpc, gas_price)

    def add(self, sender: str, to: str, data: str, gas: int, value: int = 0) -> None:
        """Queue a call from `sender` to `to` with calldata `data` (0x-hex) and a gas limit."""
        if sender not in self._nonces:
            self._nonces[sender] = int(
                self.rpc.one("eth_getTransactionCount", [sender, "pending"]), 16
            )
        nonce = self._nonces[sender]
        self._nonces[sender] = nonce + 1
        self._queue.append(
            {
                "from": sender,
                "nonce": hex(nonce),
                "to": to,
                "data": data,
                "gas": hex(gas),
                "gasPrice": hex(self.gas_price),
                "value": hex(value),
            }
        )

    @property
    def pending(self) -> int:
        return len(self._queue)

    def mine(self, timestamp: int) -> list[Receipt]:
        """Send the queued transactions in one request, mine one block at `timestamp`, and
        return their receipts in block order. Reverted transactions are mined (status 0)."""
        queue, self._queue = self._queue, []
        if self.gas_price == 0:
            # Keep the base fee at zero so gasPrice 0 stays valid block after block.
            self.rpc.one("anvil_setNextBlockBaseFeePerGas", ["0x0"])
        hashes = self.rpc.many([("eth_sendTransaction", [tx]) for tx in queue])
        self.rpc.one("evm_mine", [timestamp])
        raw = self.rpc.many([("eth_getTransactionReceipt", [h]) for h in hashes])
        receipts = []
        for tx, h, r in zip(queue, hashes, raw, strict=True):
            if r is None:
                raise ChainError(f"transaction {h} from {tx['from']} was not mined in the block")
            receipts.append(
                Receipt(
                    h,
                    tx["from"],
                    int(r["status"], 16),
                    int(r["gasUsed"], 16),
                    int(r["transactionIndex"], 16),
                )
            )
        return sorted(receipts, key=lambda r: r.index)

    def call(self, to: str, data: str, block: str = "latest") -> str:
        return self.rpc.one("eth_call", [{"to": to, "data": data}, block])

    def call_many(self, calls: list[tuple[str, str]], block: str = "latest") -> list[str]:
        """Several eth_calls (to, data) in one request."""
        return self.rpc.many(
            [("eth_call", [{"to": to, "data": data}, block]) for to, data in calls]
        )

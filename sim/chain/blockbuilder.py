"""Send a whole block of transactions in one JSON-RPC request, then mine it at a chosen time.

Ape's contract calls send one transaction per round trip and wait for it (~19 tx/s here);
a simulated block holds many agents' transactions that must land together, in the scenario's
order, at the scenario's timestamp. So the chain backend queues a block's calls, sends them in
one batched request (`sim.chain.rpc`) with automine off, mines once with
`evm_mine(timestamp)`, and reads every receipt in one more request.

anvil only: agents send from their own addresses through `anvil_autoImpersonateAccount`, so no
client-side signing is needed. Gas prices fall by 1 wei per position, so the fee-ordered block
keeps the order the transactions were sent in (checked on every block).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.chain.rpc import Rpc
from sim.errors import ChainError


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    sender: str
    status: int
    gas_used: int
    index: int
    """Position in the block."""


HEAVY_BLOCK_GAS = 10_000_000
"""Gas in a block past which the base fee may rise from zero (the target is half the 30M
limit; a margin below it): reset it then."""


@dataclass
class BlockBuilder:
    """Queue transactions for one block, then `mine(timestamp)` sends and mines them.

    Order: anvil handles a batch's sends concurrently, so arrival order is not sending
    order beyond a few transactions. Strictly falling gas prices, 1 wei apart above
    `gas_price` on a zero base fee, make anvil's fee-ordered block follow the sending order,
    and `mine` checks that it did.
    """

    rpc: Rpc
    gas_price: int = 0
    """Lowest wei per gas offered (the last transaction of a block pays this)."""
    _queue: list[dict] = field(default_factory=list)
    _nonces: dict[str, int] = field(default_factory=dict)
    """Next nonce per sender: explicit, because node-assigned nonces of concurrently handled
    sends would collide."""

    @classmethod
    def connect(cls, url: str, gas_price: int = 0) -> BlockBuilder:
        """Take control of an anvil's blocks: automine off, any sender impersonated."""
        rpc = Rpc(url)
        rpc.many([("evm_setAutomine", [False]), ("anvil_autoImpersonateAccount", [True])])
        rpc.call("anvil_setNextBlockBaseFeePerGas", ["0x0"])
        return cls(rpc, gas_price)

    def prime(self, senders: list[str]) -> None:
        """Fetch the next nonce of many senders in one request."""
        new = [s for s in dict.fromkeys(senders) if s not in self._nonces]
        counts = self.rpc.many([("eth_getTransactionCount", [s, "pending"]) for s in new])
        self._nonces.update({s: int(c, 16) for s, c in zip(new, counts, strict=True)})

    def add(self, sender: str, to: str | None, data: str, gas: int, value: int = 0) -> None:
        """Queue a call from `sender` to `to` (None: create a contract) with calldata `data`
        (0x-hex) and a gas limit."""
        self.prime([sender])
        nonce = self._nonces[sender]
        self._nonces[sender] = nonce + 1
        tx = {"from": sender, "nonce": hex(nonce), "data": data, "gas": hex(gas),
              "value": hex(value)}  # fmt: skip
        if to is not None:
            tx["to"] = to
        self._queue.append(tx)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def mine(self, timestamp: int) -> list[Receipt]:
        """Send the queue in one request, mine one block at `timestamp`, and return the
        receipts in sending order (= block order). Reverted transactions are mined (status 0)."""
        return self.mine_and_read(timestamp, [])[0]

    def mine_and_read(
        self, timestamp: int, reads: list[tuple[str, str]], ordered: bool = True
    ) -> tuple[list[Receipt], list[str]]:
        """`mine`, then the receipts (in sending order) and the eth_calls `reads` (to, data)
        in one request. `ordered`: fail unless the block holds them in the sending order."""
        queue, self._queue = self._queue, []
        for i, tx in enumerate(queue):
            tx["gasPrice"] = hex(self.gas_price + len(queue) - i)
        hashes = self.rpc.many([("eth_sendTransaction", [tx]) for tx in queue])
        self.rpc.call("evm_mine", [timestamp])
        calls = [("eth_getTransactionReceipt", [h]) for h in hashes]
        calls += [("eth_call", [{"to": to, "data": data}, "latest"]) for to, data in reads]
        out = self.rpc.many(calls)
        raw, values = out[: len(hashes)], out[len(hashes) :]
        receipts = []
        for tx, h, r in zip(queue, hashes, raw, strict=True):
            if r is None:
                raise ChainError(f"transaction {h} from {tx['from']} was not mined in the block")
            receipts.append(
                Receipt(h, tx["from"], int(r["status"], 16), int(r["gasUsed"], 16),
                        int(r["transactionIndex"], 16))
            )  # fmt: skip
        if ordered and [r.index for r in receipts] != list(range(len(receipts))):
            raise ChainError(f"the block mined at {timestamp} did not keep the sending order")
        if sum(r.gas_used for r in receipts) > HEAVY_BLOCK_GAS:
            self.rpc.call("anvil_setNextBlockBaseFeePerGas", ["0x0"])
        return receipts, values

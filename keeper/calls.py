"""eth_calls as data: a function signature, its arguments and its return types, encoded with
eth_abi, so that any contract that speaks the interface answers (ammlab's, a genuine Uniswap
pool, a real mainnet feed on a fork). The reader batches them; the venue kinds list theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def calldata(signature: str, types: list[str] | None = None, args: list[Any] | None = None) -> str:
    """0x-hex calldata of `signature` with `args` ABI-encoded as `types`."""
    body = encode(types, args) if types else b""
    return "0x" + (selector(signature) + body).hex()


@dataclass(frozen=True)
class Call:
    """One eth_call: `label` names the result, `out` its ABI types. An `optional` call may
    revert (its result is then None), e.g. a V3 `observe` older than the pool's oracle."""

    label: str
    to: str
    signature: str
    out: tuple[str, ...]
    types: tuple[str, ...] = ()
    args: tuple[Any, ...] = ()
    optional: bool = False

    def rpc(self, block: str) -> tuple[str, list]:
        data = calldata(self.signature, list(self.types), list(self.args))
        return "eth_call", [{"to": self.to, "data": data}, block]

    def decode(self, result: str) -> tuple:
        return decode(list(self.out), bytes.fromhex(result[2:]))

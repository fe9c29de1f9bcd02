"""eth_calls as data: a function signature, its arguments and its return types, encoded with
eth_abi through `sim.chain.abi`, so that any contract that speaks the interface answers
(ammlab's, a genuine Uniswap pool, a real mainnet feed on a fork). The reader batches them; the
venue kinds list theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.chain.abi import decode, encode_call


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
        data = encode_call(self.signature, self.types, self.args)
        return "eth_call", [{"to": self.to, "data": data}, block]

    def decode(self, result: str) -> tuple:
        return decode(self.out, result)

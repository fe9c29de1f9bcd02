"""The one ABI-encoding path of the node side: selectors, calldata, return values, addresses
of labelled accounts and of created contracts.

Two encoders of calldata, one selector:

- `calldata(signature, *args)`: static words only (uint, int, address), hand-written because
  it is the chain backend's hot path (every transaction of every block) and a word is one
  format string;
- `encode_call(signature, types, args)` and `decode(types, hexdata)`: eth_abi, any types
  (tuples, arrays, strings), for the keeper's reads and transactions, where a call's shape
  varies and a few microseconds do not matter.

`encode_args` encodes constructor arguments (`sim.chain.deploy`: a token's name is a string).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import eth_abi
import rlp
from eth_utils import keccak, to_checksum_address


@functools.cache
def selector(signature: str) -> str:
    """4-byte selector of `signature` as hex without 0x (cached: every transaction needs one)."""
    return keccak(text=signature)[:4].hex()


def word(v: int | str) -> str:
    """One 32-byte word as hex: an int (two's complement for int256) or a 0x address."""
    if isinstance(v, str):
        return v[2:].lower().rjust(64, "0")
    return f"{v % 2**256:064x}"


def calldata(signature: str, *args: int | str) -> str:
    """0x calldata of a function taking only static words (uint, int, address)."""
    return "0x" + selector(signature) + "".join(word(a) for a in args)


def encode_args(types: Sequence[str], args: Sequence[Any]) -> str:
    """`args` ABI-encoded as `types` (eth_abi: any types), hex without 0x."""
    return eth_abi.encode(list(types), list(args)).hex() if types else ""


def encode_call(signature: str, types: Sequence[str] = (), args: Sequence[Any] = ()) -> str:
    """0x calldata of `signature` with `args` ABI-encoded as `types` (eth_abi: any types)."""
    return "0x" + selector(signature) + encode_args(types, args)


def decode(types: Sequence[str], hexdata: str) -> tuple:
    """A return value (0x hex) decoded as `types` (eth_abi: any types)."""
    return eth_abi.decode(list(types), bytes.fromhex(hexdata[2:]))


def words(hexdata: str) -> list[int]:
    """The 32-byte words of a return value, as unsigned ints."""
    h = hexdata[2:]
    return [int(h[i : i + 64], 16) for i in range(0, len(h), 64)]


def signed(w: int) -> int:
    """An int256 read back from its 256-bit word."""
    return w - 2**256 if w >= 2**255 else w


def address_of(label: str) -> str:
    """A stable address for a named account (agents, deployer, transmitters)."""
    return to_checksum_address(keccak(text=f"ammlab:{label}")[-20:])


def create_address(sender: str, nonce: int) -> str:
    """Address of the contract `sender` creates with `nonce` (CREATE)."""
    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[-20:])

"""The one ABI-encoding path of the node side: selectors, calldata of static arguments, words
of a return value, addresses of labelled accounts and of created contracts.

Static words only (uint, int, address), which is every call the chain backend and the keeper
send per block; arguments of dynamic type (strings of a constructor, a swap path) go through
`eth_abi.encode` where they occur.
"""

from __future__ import annotations

import functools

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

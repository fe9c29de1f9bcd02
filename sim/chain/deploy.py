"""The one deployer of the node side: contracts created from their compiled artifacts, by one
sender, at predicted addresses, one creation per block.

`ammlab chain up` and the chain backend both deploy through it. The sender is any address the
node lets send unsigned (anvil: an unlocked dev account, or any address with
`anvil_autoImpersonateAccount`, which `BlockBuilder.connect` turns on).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.chain.abi import create_address, encode_args
from sim.chain.artifacts import Artifact, load_artifact
from sim.chain.blockbuilder import BlockBuilder
from sim.errors import ChainError
from sim.venues.base import Creation

ETH_BALANCE = 10**24
"""Wei given to every sending address (gas prices are a few wei, to order blocks)."""


def constructor_types(artifact: Artifact) -> list[str]:
    """The ABI types of a contract's constructor arguments (none if it has no constructor)."""
    for item in artifact.abi:
        if item.get("type") == "constructor":
            return [i["type"] for i in item.get("inputs", [])]
    return []


@dataclass
class Deployment:
    """What `Deployer.create_all` made: addresses and creation timestamps by label."""

    addresses: dict[str, str] = field(default_factory=dict)
    created_at: dict[str, int] = field(default_factory=dict)
    next_ts: int = 0
    """The first timestamp after the last creation's block."""


class Deployer:
    """Creates contracts from `sender` on the builder's chain.

    Args:
        builder: the chain (automine off; blocks are mined at chosen timestamps).
        sender: the deploying address (funded with ETH here).
    """

    def __init__(self, builder: BlockBuilder, sender: str):
        self.builder = builder
        self.sender = sender
        builder.rpc.call("anvil_setBalance", [sender, hex(ETH_BALANCE)])
        builder.prime([sender])

    @staticmethod
    def code(name: str, types: list[str] | None, args: list, package: str | None = None) -> str:
        """0x initcode of contract `name` (the project's, or from npm `package`) with
        constructor arguments `args` of ABI `types` (None: read from its ABI)."""
        artifact = load_artifact(name, package)
        types = constructor_types(artifact) if types is None else types
        return "0x" + artifact.bytecode.hex() + encode_args(types, args)

    def create_all(self, creations: list[Creation], ts: int) -> Deployment:
        """Create each `(label, initcode_fn)` in order, one per block from timestamp `ts`;
        `initcode_fn(addresses, code)` sees every label's predicted address."""
        nonce = self.builder._nonces[self.sender]
        out = Deployment(
            {
                label: create_address(self.sender, nonce + i)
                for i, (label, _) in enumerate(creations)
            }
        )
        if len(out.addresses) != len(creations):
            raise ChainError("two contracts of the run share a label: rename one")
        rpc = self.builder.rpc
        for label, make in creations:
            initcode = make(out.addresses, self.code)
            gas = int(rpc.call("eth_estimateGas", [{"from": self.sender, "data": initcode}]), 16)
            self.builder.add(self.sender, None, initcode, gas * 12 // 10 + 50_000)
            receipts, _ = self.builder.mine_and_read(ts, [])
            if receipts[0].status != 1:
                raise ChainError(f"deploying {label} reverted")
            out.created_at[label] = ts
            ts += 1
        codes = rpc.many([("eth_getCode", [a, "latest"]) for a in out.addresses.values()])
        for label, c in zip(out.addresses, codes, strict=True):
            if c in ("0x", "0x0", None):
                raise ChainError(f"no code at the predicted address of {label}")
        out.next_ts = ts
        return out

"""The deployed suite as Ape contract instances, for tests that drive it through Ape (the
product reaches it through web3.py, `sim.chain.session`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.chain.node import ROLE_INDEX
from sim.errors import ManifestError


def role_account(role: str):
    """The Ape test account for a role of the suite (deployer, transmitter, trader, keeper)."""
    from ape import accounts

    return accounts.test_accounts[ROLE_INDEX[role]]


@dataclass
class Suite:
    """Ape contract instances of a deployed suite, on the connected network."""

    manifest: dict[str, Any]
    weth: Any
    usdc: Any
    feed: Any
    router: Any
    pools: dict[str, Any]


def load_suite(manifest: dict[str, Any]) -> Suite:
    """Bind a manifest to the connected network, checking its chain id and that code exists."""
    from ape import chain, project

    if manifest["chain_id"] != chain.chain_id:
        raise ManifestError(
            f"manifest is for chain id {manifest['chain_id']} but the connected chain has id "
            f"{chain.chain_id}"
        )

    def at(entry: dict[str, Any]) -> Any:
        if not chain.provider.get_code(entry["address"]):
            raise ManifestError(f"no contract code at {entry['address']} ({entry['contract']})")
        return getattr(project, entry["contract"]).at(entry["address"])

    return Suite(
        manifest=manifest,
        weth=at(manifest["tokens"]["WETH"]),
        usdc=at(manifest["tokens"]["USDC"]),
        feed=at(manifest["feed"]),
        router=at(manifest["router"]),
        pools={name: at(entry) for name, entry in manifest["pools"].items()},
    )

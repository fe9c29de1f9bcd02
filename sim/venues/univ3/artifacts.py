"""The genuine compiled Uniswap V3 contracts, as npm ships them (never compiled here).

`load_artifact("UniswapV3Pool")` returns the ABI and bytecode from
``node_modules/@uniswap/v3-core`` (1.0.1) or ``v3-periphery`` (1.4.4), pinned in package.json.
The chain tests and scripts deploy these as they are; the twin is judged against them.
"""

from __future__ import annotations

import json
from pathlib import Path

from sim.errors import SimError

ROOT = Path(__file__).resolve().parents[3]
"""The checkout, whose node_modules holds the artifacts."""

ARTIFACTS = {
    "UniswapV3Factory": "@uniswap/v3-core/artifacts/contracts/UniswapV3Factory.sol",
    "UniswapV3Pool": "@uniswap/v3-core/artifacts/contracts/UniswapV3Pool.sol",
    "SwapRouter": "@uniswap/v3-periphery/artifacts/contracts/SwapRouter.sol",
    "NonfungiblePositionManager": (
        "@uniswap/v3-periphery/artifacts/contracts/NonfungiblePositionManager.sol"
    ),
    "QuoterV2": "@uniswap/v3-periphery/artifacts/contracts/lens/QuoterV2.sol",
}
"""Contract name -> its artifact folder under node_modules."""


class ArtifactMissing(SimError):
    """A genuine Uniswap artifact is not installed."""


def load_artifact(name: str, node_modules: Path | None = None) -> dict:
    """ABI and bytecode of the genuine Uniswap V3 contract `name`.

    Args:
        name: one of `ARTIFACTS` (e.g. ``"UniswapV3Pool"``).
        node_modules: where the npm packages are; the checkout's ``node_modules`` by default.

    Returns:
        ``{"contractName", "abi", "bytecode", "deployedBytecode"}``, bytecodes as 0x-hex.

    Raises:
        ArtifactMissing: when the file is absent (run ``npm install`` in the checkout).
    """
    if name not in ARTIFACTS:
        raise ValueError(f"name: {name!r} is not one of {sorted(ARTIFACTS)}")
    base = node_modules or ROOT / "node_modules"
    path = base / ARTIFACTS[name] / f"{name}.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise ArtifactMissing(
            f"{path} is missing: run `npm install` in {ROOT} to fetch the pinned Uniswap artifacts"
        ) from err
    return {
        "contractName": name,
        "abi": raw["abi"],
        "bytecode": raw["bytecode"],
        "deployedBytecode": raw["deployedBytecode"],
    }

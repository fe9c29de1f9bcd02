"""Compiled contracts as plain data: the genuine npm builds and the project's own Vyper builds.

One loader, one shape (`Artifact`: ABI, creation code, runtime code, immutable ranges) for
both sources:

- npm packages under `node_modules/` (pinned in package.json, installed by `npm install`):
  waffle builds `build/<Name>.json` (Uniswap V2, WETH9; solc standard-JSON `evm` section) and
  hardhat builds `artifacts/contracts/**/<Name>.sol/<Name>.json` (Uniswap V3);
- the project's contracts, compiled by `ape compile` into `.build/__local__.json`.

Nothing here compiles: the bytecode is deployed as shipped. Never imports ape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_utils import keccak

from sim.errors import SimError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT_BUILD = Path(".build") / "__local__.json"

_PUSH32 = 0x7F
_WORD = 32


class ArtifactError(SimError):
    """An artifact is missing or unusable; the message names the file and the fixing command."""


@dataclass(frozen=True)
class Artifact:
    """One compiled contract.

    `runtime` is the deployed code as the compiler wrote it: solc leaves each immutable as a
    32-byte zero placeholder (a PUSH32 argument) that the constructor fills in, so code read
    from a chain equals `runtime` only outside `immutables`.
    """

    name: str
    source: str
    """Where it was read: `npm:<package>/<path>` or `<root>/.build/__local__.json`."""
    abi: list[dict[str, Any]]
    bytecode: bytes
    """Creation (init) code, without constructor arguments."""
    runtime: bytes
    immutables: tuple[tuple[int, int], ...]
    """(offset, length) in bytes of each immutable's slot in `runtime`, sorted by offset."""

    @property
    def init_code_hash(self) -> bytes:
        """keccak256 of the creation code: what CREATE2 hashes for a contract without
        constructor arguments (Uniswap's pairs and pools), so pool addresses follow."""
        return keccak(self.bytecode)

    def masked(self, code: bytes) -> bytes:
        """`code` cut to the length of `runtime`, with the immutable slots zeroed.

        Vyper appends immutables after its runtime code, so they fall in the cut-off tail.
        """
        out = bytearray(code[: len(self.runtime)])
        for offset, length in self.immutables:
            out[offset : offset + length] = bytes(length)
        return bytes(out)

    def matches(self, code: bytes) -> bool:
        """Whether deployed `code` is this artifact's runtime with its immutables filled in."""
        return len(code) >= len(self.runtime) and self.masked(code) == self.masked(self.runtime)


def load_artifact(name: str, package: str | None = None, root: Path | None = None) -> Artifact:
    """The artifact of contract `name`: from npm `package` (e.g. "@uniswap/v3-core"), or
    the project's own build when `package` is None.

    Args:
        name: contract name as compiled (`UniswapV3Pool`, `WETH9`, `ERC20`).
        package: npm package under `root/node_modules`, or None for `root/.build`.
        root: the checkout holding node_modules/ and .build/ (default: this one).

    Raises:
        ArtifactError: in one line, naming the missing file and `npm install` or `ape compile`.
    """
    root = root or PROJECT_ROOT
    if package is None:
        return _load_project(name, root)
    return _load_npm(name, package, root)


def _load_npm(name: str, package: str, root: Path) -> Artifact:
    package_dir = root / "node_modules" / package
    if not package_dir.is_dir():
        raise ArtifactError(
            f"npm package {package} is not installed ({package_dir} missing): "
            f"run `npm install` in {root}"
        )
    waffle = package_dir / "build" / f"{name}.json"
    hardhat = sorted((package_dir / "artifacts").glob(f"**/{name}.sol/{name}.json"))
    if waffle.is_file():
        path = waffle
    elif len(hardhat) == 1:
        path = hardhat[0]
    elif hardhat:
        raise ArtifactError(f"{package} holds several artifacts named {name}: {hardhat}")
    else:
        raise ArtifactError(
            f"{package} has no artifact {name} (looked for build/{name}.json and "
            f"artifacts/**/{name}.sol/{name}.json): run `npm install` in {root}"
        )
    data = _read_json(path, "npm install", root)
    source = f"npm:{package}/{path.relative_to(package_dir)}"
    if "evm" in data:  # waffle: solc's standard-JSON output, immutables listed by the compiler
        creation, deployed = data["evm"]["bytecode"], data["evm"]["deployedBytecode"]
        _refuse_links(creation.get("linkReferences"), name, source)
        runtime = _hex(deployed["object"])
        refs = deployed.get("immutableReferences") or {}
        immutables = tuple(sorted((r["start"], r["length"]) for rs in refs.values() for r in rs))
        return Artifact(name, source, data["abi"], _hex(creation["object"]), runtime, immutables)
    # hardhat: no immutable references, but every placeholder is a PUSH32 of zeros.
    _refuse_links(data.get("linkReferences"), name, source)
    runtime = _hex(data["deployedBytecode"])
    return Artifact(
        name, source, data["abi"], _hex(data["bytecode"]), runtime, _zero_push32_slots(runtime)
    )


def _load_project(name: str, root: Path) -> Artifact:
    path = root / PROJECT_BUILD
    if not path.is_file():
        raise ArtifactError(f"no compiled contracts at {path}: run `ape compile` in {root}")
    types = _project_types(path, path.stat().st_mtime_ns)
    if name not in types:
        raise ArtifactError(
            f"{name} is not in {path} (has {', '.join(sorted(types))}): run `ape compile` in {root}"
        )
    ct = types[name]
    return Artifact(
        name,
        str(path),
        ct["abi"],
        _hex(ct["deploymentBytecode"]["bytecode"]),
        _hex(ct["runtimeBytecode"]["bytecode"]),
        (),  # Vyper appends immutables after the runtime code: `Artifact.masked` cuts them off
    )


@lru_cache(maxsize=2)
def _project_types(path: Path, mtime_ns: int) -> dict[str, Any]:
    """The build's contract types, parsed once per version of the file (it is megabytes)."""
    del mtime_ns  # part of the cache key only: a recompiled build is read again
    return _read_json(path, "ape compile", path.parents[1])["contractTypes"]


def _read_json(path: Path, fix: str, root: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ArtifactError(f"cannot read {path} ({err}): run `{fix}` in {root}") from err


def _refuse_links(link_references: dict | None, name: str, source: str) -> None:
    if link_references:
        libraries = sorted(lib for libs in link_references.values() for lib in libs)
        raise ArtifactError(
            f"{name} ({source}) needs linked libraries {libraries}, which this loader does not link"
        )


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def _zero_push32_slots(code: bytes) -> tuple[tuple[int, int], ...]:
    """The argument of every `PUSH32 0x00…00` in `code`, walking it opcode by opcode.

    solc pushes a literal zero with PUSH1, so a 32-byte zero push is an immutable's
    placeholder. The walk also crosses the data after the code (metadata, embedded creation
    code); a placeholder it seems to find there only widens the mask over bytes that are
    zero in the artifact.
    """
    slots = []
    pc = 0
    while pc < len(code):
        op = code[pc]
        if op == _PUSH32 and code[pc + 1 : pc + 1 + _WORD] == bytes(_WORD):
            slots.append((pc + 1, _WORD))
        pc += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return tuple(slots)

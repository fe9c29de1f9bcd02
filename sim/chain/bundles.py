"""Replay bundles: everything needed to re-run a chain run's divergence without the simulator.

A bundle holds scenario.yaml, bundle.json (layout, each block's actions and their encoded
transactions up to the divergent block, the state reads, the expected state there, the
divergence) and state.json (the anvil dump at the start of the run).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import yaml

from sim.atomic import atomic_write_json
from sim.chain.blockbuilder import BlockBuilder
from sim.chain.node import chain_id_of, private_anvil
from sim.chain.parity import Divergence, run_records
from sim.engine.exact import BlockRecord
from sim.errors import ChainError

BUNDLE_FORMAT = "ammlab-replay/2"


def write_bundle(
    bundle_dir: Path,
    sc,
    session,
    records: list[BlockRecord],
    divergence: Divergence,
) -> Path:
    """Write scenario.yaml, bundle.json (layout, each block's actions and their transactions
    up to the divergent block, the state reads, the expected state there, the divergence) and
    state.json (the anvil dump at the start). The replay needs neither the simulator nor the
    parts: the transactions and reads are in the bundle."""
    path = bundle_dir / f"{sc.name}-seed{sc.seed}-block{divergence.block}"
    path.mkdir(parents=True, exist_ok=True)
    (path / "scenario.yaml").write_text(yaml.safe_dump(sc.model_dump(mode="json"), sort_keys=False))
    upto = [r for r in records if r.block <= divergence.block]
    blocks = [
        {
            "block": r.block,
            "timestamp": r.timestamp,
            "actions": r.actions,
            "txs": [list(tx) for tx in session.encode(r)],
        }
        for r in upto
    ]
    bundle = {
        "format": BUNDLE_FORMAT,
        "scenario": sc.name,
        "seed": sc.seed,
        "block": divergence.block,
        "layout": asdict(session.layout),
        "reads": [[to, data, [list(f) for f in fields]] for to, data, fields in session.reads],
        "blocks": blocks,
        # Pairs, not a mapping: the order of the fields is the order of the comparison.
        "expected_state": [[k, v] for k, v in upto[-1].state.items()],
        "divergence": asdict(divergence),
    }
    atomic_write_json(path / "bundle.json", bundle)
    atomic_write_json(
        path / "state.json",
        {"chain_id": chain_id_of(session.url), "state": session.state_dump},
    )
    return path


def read_bundle(bundle: Path) -> tuple[Path, dict]:
    bundle = Path(bundle)
    path = bundle if bundle.is_dir() else bundle.parent
    try:
        data = json.loads((path / "bundle.json").read_text())
    except (OSError, ValueError) as err:
        raise ChainError(f"{path}: not a replay bundle ({err})") from err
    if data.get("format") != BUNDLE_FORMAT:
        raise ChainError(
            f"{path}: not a replay bundle of this version ({BUNDLE_FORMAT}): "
            "re-run the scenario to write a new one"
        )
    return path, data


def replay_bundle(bundle: Path | str, url: str | None = None) -> Divergence | None:
    """Load the bundle's state into an anvil (a private one unless `url`), re-send its blocks'
    transactions and compare at the divergent block; returns the divergence found there (None
    if the chain now agrees with the recorded expectation)."""
    path, data = read_bundle(Path(bundle))
    dump = json.loads((path / "state.json").read_text())
    with private_anvil(url) as rpc_url:
        builder = BlockBuilder.connect(rpc_url)
        builder.rpc.call("anvil_loadState", [dump["state"]])
        builder.rpc.call("anvil_setNextBlockBaseFeePerGas", ["0x0"])
        reads = [(to, d, [tuple(f) for f in fields]) for to, d, fields in data["reads"]]
        records = [BlockRecord(b["block"], b["timestamp"], b["actions"]) for b in data["blocks"]]
        txs = {b["block"]: [tuple(tx) for tx in b["txs"]] for b in data["blocks"]}
        records[-1].state = dict(data["expected_state"])
        report = run_records(
            builder, lambda r: txs[r.block], reads, records, check_blocks={data["block"]}
        )
    return report.divergence

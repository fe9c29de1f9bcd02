"""Every example scenario at full length on the chain backend: the README's examples table.

Usage: python scripts/chain_examples.py [NAME ...]   (default: every scenarios/*.yaml)

Each runs as the chain runs it (one world, `sim.run.cut_for_chain`) on one private anvil:
deployed, every block sent with parity checked after it, then the same world through the fast
engine; a row gives blocks, transactions, parity and the worst relative difference of any
metric between the exact world and the fast engine. CI runs each cut to 120 blocks
(`tests/e2e/test_chain_backend_examples.py`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from sim.chain.backend import run_on_chain
from sim.chain.node import private_anvil
from sim.engine.core import Engine
from sim.run import cut_for_chain
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


TINY = 1e-6
"""Metrics smaller than this are rounding residuals (an identity's error, exactly zero in the
exact world): left out of the relative gap, as CI's absolute tolerance leaves them."""


def worst_gap(exact: dict, fast: dict) -> float:
    """The worst relative difference of any metric between the exact world's columns and the
    fast engine's (one world each; non-finite and `TINY` fast values left out)."""
    return max(
        abs(exact[k][0] / v[0] - 1.0)
        for k, v in fast.items()
        if np.isfinite(v[0]) and abs(v[0]) > TINY
    )


def row(name: str, report, worst: float) -> str:
    """The examples-table row of a chain run's report."""
    parity = "ok" if report.divergence is None else "LOST"
    return f"| {name} | {report.blocks:,} | {report.transactions:,} | {parity} | {worst:.0e} |"


def example_row(path: Path, url: str, blocks: int | None = None) -> str:
    """The examples-table row of the scenario at `path` run on the chain at `url`."""
    sc = cut_for_chain(load_scenario(path), blocks)
    run = run_on_chain(sc, url)
    return row(
        sc.name, run.report, worst_gap(run.result.worlds, Engine(sc, fused=False).run().worlds)
    )


def main() -> None:
    names = sys.argv[1:] or sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
    print("| scenario | blocks | transactions | parity | worst exact world vs fast engine "
          "(relative) | seconds |")  # fmt: skip
    print("|---|---:|---:|---|---:|---:|")
    with private_anvil(None) as url:
        for name in names:
            t0 = time.perf_counter()
            row = example_row(ROOT / "scenarios" / f"{name}.yaml", url)
            print(f"{row} {time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()

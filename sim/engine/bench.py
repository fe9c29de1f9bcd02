"""Simulator benchmark: world-blocks per second and peak memory, printed as a markdown table.

The constant-product reference and the V3 reference (`scenarios/univ3_reference.yaml`) run
back to back, so their figures are comparable (same machine, same load).

A script, not a test: it prints figures and asserts nothing. Each engine path is compiled on a
small warm-up run first so the timings exclude numba's compilation; the memory row runs in a
fresh process so its peak RSS (resource.getrusage) belongs to that run alone.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from sim.engine.core import Engine
from sim.scenario import Scenario, load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _scenario(name: str, paths: int, blocks: int) -> Scenario:
    return load_scenario(
        SCENARIOS / f"{name}.yaml", [f"paths={paths}", f"blocks.n_blocks={blocks}"]
    )


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def throughput(name: str, paths: int, blocks: int) -> tuple[float, float, float, str]:
    """(world-blocks per wall second, wall seconds, world-blocks per CPU second, engine path).

    The CPU-second rate is what one core delivers whatever else shares the machine; it gives
    the idle-machine figure as rate * cores when the run is parallel.
    """
    Engine(_scenario(name, 64, 16)).run()
    sc = _scenario(name, paths, blocks)
    eng = Engine(sc)
    c0 = _cpu()
    t0 = time.perf_counter()
    res = eng.run()
    dt = time.perf_counter() - t0
    cpu = _cpu() - c0
    wb = paths * eng.total_blocks
    return wb / dt, dt, wb / cpu, res.path


_MEM_CHILD = """
import json, resource, sys, time
from sim.engine.bench import _scenario
from sim.engine.core import Engine
sc = _scenario('reference', int(sys.argv[1]), int(sys.argv[2]))
t0 = time.perf_counter()
Engine(sc).run()
dt = time.perf_counter() - t0
print(json.dumps({'seconds': dt, 'maxrss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def peak_memory(paths: int, blocks: int) -> dict:
    """Run the reference scenario in a fresh process; returns its seconds and peak RSS (KiB)."""
    out = subprocess.run(
        [sys.executable, "-c", _MEM_CHILD, str(paths), str(blocks)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(quick: bool = False) -> None:
    """Print the benchmark table."""
    load_before = os.getloadavg()[0]
    ref_paths, ref_blocks = (5_000, 720) if quick else (20_000, 7_200)
    full_paths, full_blocks = (2_000, 100) if quick else (20_000, 720)
    mem_paths, mem_blocks = (10_000, 720) if quick else (100_000, 7_200)
    rows = []
    rate, secs, per_cpu, path = throughput("reference", ref_paths, ref_blocks)
    rows.append(
        (
            "reference (GBM 5%/day, 12 s, 30 bp, arb only)",
            f"{ref_paths} x {ref_blocks}",
            path,
            f"{rate:.3g}",
            f"{per_cpu:.3g}",
            f"{secs:.2f}",
            "≥ 3e7 world-blocks/s",
        )
    )
    rate, secs, per_cpu, path = throughput("univ3_reference", ref_paths, ref_blocks)
    rows.append(
        (
            "V3 reference (one 30 bp V3 pool: full range, +-10 %, +-2 %; GBM 5%/day, 12 s, arb)",
            f"{ref_paths} x {ref_blocks}",
            path,
            f"{rate:.3g}",
            f"{per_cpu:.3g}",
            f"{secs:.2f}",
            "≥ 1e7 world-blocks/s",
        )
    )
    for scenario, label, target in (
        ("full", "full (every agent: 2 pools, feed, TWAP, venue, arbs, noise, LP, sniper, "
         "sandwich)", "≥ 3e6 world-blocks/s"),
        ("full_options", "full_options (full + options pool, option traders, informed trader)",
         "issue 4 figure"),
    ):  # fmt: skip
        rate, secs, per_cpu, path = throughput(scenario, full_paths, full_blocks)
        rows.append(
            (label, f"{full_paths} x {full_blocks}", path, f"{rate:.3g}", f"{per_cpu:.3g}",
             f"{secs:.2f}", target)
        )  # fmt: skip
    mem = peak_memory(mem_paths, mem_blocks)
    rows.append(
        (
            "reference, summaries only: peak RSS",
            f"{mem_paths} x {mem_blocks}",
            "fused",
            f"{mem_paths * mem_blocks / mem['seconds']:.3g}",
            "",
            f"{mem['seconds']:.2f}",
            f"peak RSS {mem['maxrss_kib'] / 2**20:.2f} GiB (target < 2 GB)",
        )
    )
    print(
        f"cores: {os.cpu_count()}, 1-min load average before/after: "
        f"{load_before:.2f}/{os.getloadavg()[0]:.2f} (above ~0.5 the machine was shared)"
    )
    print()
    print(
        "| run | worlds x blocks | path | world-blocks/s (wall) | world-blocks per CPU-s "
        "| seconds | target / note |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)

"""Sweep speed-up: the same grid on 1 worker process and on K (default: every CPU).

Prints a markdown table with wall time, runs per second, the speed-up over one process and
its ratio to the core count (target >= 0.8), and the machine's load average before each
measurement (a busy machine understates the speed-up: take the figure when it is quiet; the
1-minute average still holds some of the previous measurement's own load). Each process pool
is started inside the timing (about 1-2 s of imports per process), so runs must be long enough
to amortise it: the defaults take about 1 s per run on one core.

    python scripts/bench_sweep.py [--workers K] [--runs N] [--paths P] [--blocks B]

Each run is the general engine path (noise trader + arbitrageur, so not the fused kernel) and
single-threaded inside its worker, as in `ammlab sweep`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from sim.studies.sweep import run_sweep

SCENARIO = """\
name: bench_sweep
seed: 1
paths: {paths}
price: {{kind: gbm, s0: 2000.0, sigma_per_day: 0.05}}
blocks: {{n_blocks: {blocks}, block_time: 12.0}}
pools: [{{name: pool, fee_bps: 30}}]
agents:
  - {{kind: arbitrageur, name: arb}}
  - {{kind: noise, name: noise, pool: pool, rate_per_block: 0.3}}
"""


def timed(scenario: Path, runs: int, workers: int) -> float:
    out = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        t0 = time.perf_counter()
        r = run_sweep(
            scenario,
            out,
            ["pools.0.fee_bps=" + ",".join(str(5 + i) for i in range(runs))],
            workers=workers,
        )
        dt = time.perf_counter() - t0
        assert r["ok"] == runs, r
        return dt
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--paths", type=int, default=2000)
    ap.add_argument("--blocks", type=int, default=3600)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-scn-"))
    scn = tmp / "bench.yaml"
    scn.write_text(SCENARIO.format(paths=a.paths, blocks=a.blocks))
    try:
        timed(scn, 2, 2)  # warm the numba cache and the imports
        rows = []
        for w in (1, a.workers):
            load = os.getloadavg()[0]
            dt = timed(scn, a.runs, w)
            rows.append((w, load, dt))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = rows[0][2]
    cores = os.cpu_count() or 1
    print(f"{a.runs} runs x {a.paths} worlds x {a.blocks} blocks; {cores} CPUs\n")
    print("| workers | load avg (1 min) before | wall s | runs/s | speed-up | speed-up / workers |")
    print("|---:|---:|---:|---:|---:|---:|")
    for w, load, dt in rows:
        s = base / dt
        print(f"| {w} | {load:.2f} | {dt:.1f} | {a.runs / dt:.2f} | {s:.2f} | {s / w:.2f} |")


if __name__ == "__main__":
    main()

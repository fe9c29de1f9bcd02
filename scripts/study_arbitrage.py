"""Cross-protocol arbitrage study: print the markdown table (README figure).

    python scripts/study_arbitrage.py [--worlds 24] [--hours 6] [--workers K]
        [--scheduler tcp://HOST:PORT] [--set KEY=VALUE ...] [--levels FACTOR=V1,V2,... ...]
        [--out study.json]

Runs the baseline (fee tier 30 bp, 12 s blocks, 10 gwei, 12 s oracle latency) and one factor
changed at a time (`sim.studies.arbitrage.DEFAULT_LEVELS`) on the sweep machinery (local
processes, or Dask with --scheduler). `--set` changes the baseline (dotted keys reach nested
fields: `--set options_pool.liquidity=2e7`); `--levels` replaces the default factors with the
ones given (`sim.studies.arbitrage.FACTORS`). Every figure is mean ± SE over worlds, USD per
day at reference prices. See `sim/studies/arbitrage.py` for the market and the accounting.

A quick look: `--worlds 4 --hours 1` (a few minutes on two cores).
"""

from __future__ import annotations

import argparse
import json
import os
import time

from pydantic import ValidationError

from sim.atomic import atomic_write_json
from sim.studies.arbitrage import FACTORS, markdown_table, one_at_a_time, run_study


def _pair(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"{what} {text!r}: write KEY=VALUE")
    return key.strip(), value.strip()


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, default=24)
    ap.add_argument("--hours", type=float, default=6.0, help="simulated hours per world")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--scheduler", default=None)
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="baseline setting"
    )
    ap.add_argument(
        "--levels",
        action="append",
        default=[],
        metavar="FACTOR=V1,V2",
        help=f"factor levels instead of the defaults; factors: {', '.join(FACTORS)}",
    )
    ap.add_argument("--out", default=None, help="also write every summary as JSON here")
    a = ap.parse_args()
    base = {"worlds": a.worlds, "horizon": a.hours * 3600.0, "seed": a.seed}
    for text in a.set:
        key, value = _pair(text, "--set")
        base[key] = _value(value)
    levels = {}
    for text in a.levels:
        key, value = _pair(text, "--levels")
        try:
            levels[key] = [float(v) for v in value.split(",")]
        except ValueError:
            raise SystemExit(f"--levels {text!r}: levels are numbers, comma-separated") from None
    try:
        points = one_at_a_time(base, levels or None)
    except ValidationError as err:
        msgs = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}".lstrip(": ") for e in err.errors()
        )
        raise SystemExit(f"study configuration: {msgs}") from None
    except ValueError as err:
        raise SystemExit(f"study configuration: {err}") from None
    t0 = time.perf_counter()
    res = run_study(points, workers=a.workers, scheduler=a.scheduler)
    took = time.perf_counter() - t0
    print(
        f"{len(points)} points x {a.worlds} worlds x {a.hours:g} h, seed {a.seed}; "
        f"{took:.0f} s on {a.workers} workers\n"
    )
    print(markdown_table(res))
    if a.out:
        atomic_write_json(a.out, {"points": points, "results": res})
        print(f"\nwrote {a.out}")
    failed = [r for r in res if r["status"] != "ok"]
    if failed:
        raise SystemExit(f"{len(failed)} point(s) failed: {failed[0].get('error')}")


if __name__ == "__main__":
    main()

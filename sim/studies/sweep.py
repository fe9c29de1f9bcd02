"""Parameter sweeps: many scenario variants, run in parallel, streamed to partitioned Parquet.

A sweep is a base scenario plus a set of variants, each a list of `--set`-style overrides
(`dotted.path=value`, the value parsed as a YAML scalar). Variants are either the cartesian
product of `--grid param=v1,v2,...` lists, or `--random N` draws from `--grid param=lo:hi`
ranges (uniform; `lo:hi:log` log-uniform; integer bounds draw integers; a list draws one of
its values).

Layout of the output folder::

    DIR/sweep.json                          the sweep: base scenario, variants, run ids
    DIR/runs/<run_id>/                      one finished run: worlds.parquet, summary.json,
                                            series.parquet (if recorded), row.parquet
    DIR/summary/variant=<variant_id>/<run_id>.parquet
                                            one summary row per run (hive partitioned)
    DIR/failed/<run_id>/                    a failed run: error.txt (traceback),
                                            scenario.yaml (overrides and seed applied),
                                            replay.sh (`ammlab sim run` that reproduces it)

A run is written into `runs/.tmp-<run_id>-<pid>/` and renamed into place when it is complete,
so `runs/<run_id>/` exists only for finished runs: an interrupted sweep, started again with the
same folder, skips them and runs the rest. Failed runs are tried again on a resume. Only a
bounded window of runs is in flight, and each run's tables go to disk in the worker, so the
driver's memory does not grow with the number of runs.

Runs of one replicate share the seed across variants (common random numbers): differences
between variants are then not blurred by different price paths.

Workers: a local process pool by default (`--workers`, default the CPU count), or a Dask
distributed cluster (`--scheduler tcp://HOST:PORT`), whose workers must see DIR at the same
path. Each worker runs one simulation at a time single-threaded (AMMLAB_SIM_THREADS=1), so K
workers use K cores.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.atomic import atomic_write, atomic_write_json, atomic_write_text
from sim.errors import ConfigError, SimError

SWEEP_FILE = "sweep.json"
RUNS = "runs"
SUMMARY = "summary"
FAILED = "failed"


class SweepError(SimError):
    """A sweep specification or output folder is unusable; the message says what to do."""


# --------------------------------------------------------------------------- specification


@dataclass(frozen=True)
class Axis:
    """One swept parameter: a list of values, or a range for random draws."""

    key: str
    values: tuple[str, ...] | None = None
    lo: float | None = None
    hi: float | None = None
    log: bool = False
    integer: bool = False

    @property
    def is_range(self) -> bool:
        return self.values is None


def _num(text: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError as err:
        raise SweepError(f"--grid {spec}: '{text}' is not a number") from err


def parse_axis(spec: str) -> Axis:
    """Parse `param=v1,v2,...` (a list) or `param=lo:hi[:log]` (a range for --random)."""
    if "=" not in spec:
        raise SweepError(f"--grid {spec}: expected dotted.path=v1,v2,... or dotted.path=lo:hi")
    key, raw = (s.strip() for s in spec.split("=", 1))
    if not key or not raw:
        raise SweepError(f"--grid {spec}: expected dotted.path=v1,v2,... or dotted.path=lo:hi")
    if ":" in raw and "," not in raw:
        parts = raw.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
            raise SweepError(f"--grid {spec}: a range is lo:hi or lo:hi:log")
        lo, hi = _num(parts[0], spec), _num(parts[1], spec)
        log = len(parts) == 3
        if not lo < hi:
            raise SweepError(f"--grid {spec}: need lo < hi")
        if log and lo <= 0:
            raise SweepError(f"--grid {spec}: a log range needs lo > 0")
        integer = all(p.strip().lstrip("+-").isdigit() for p in parts[:2])
        return Axis(key, lo=lo, hi=hi, log=log, integer=integer)
    values = tuple(v.strip() for v in raw.split(","))
    if any(v == "" for v in values):
        raise SweepError(f"--grid {spec}: empty value in the list")
    return Axis(key, values=values)


def grid_variants(axes: list[Axis]) -> list[list[str]]:
    """Cartesian product of list axes, in the order given (the last axis varies fastest)."""
    for a in axes:
        if a.is_range:
            raise SweepError(f"--grid {a.key}: a range (lo:hi) needs --random N")
    if not axes:
        return [[]]
    combos = itertools.product(*[[f"{a.key}={v}" for v in a.values] for a in axes])
    return [list(c) for c in combos]


def _fmt(v: float) -> str:
    return (
        repr(float(v)) if not float(v).is_integer() else str(int(v)) if abs(v) < 1e15 else repr(v)
    )


def random_variants(axes: list[Axis], n: int, seed: int) -> list[list[str]]:
    """`n` variants, each axis drawn independently with `np.random.default_rng(seed)`."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        ov = []
        for a in axes:
            if not a.is_range:
                v = a.values[int(rng.integers(len(a.values)))]
            elif a.log:
                x = math.exp(rng.uniform(math.log(a.lo), math.log(a.hi)))
                v = str(round(x)) if a.integer else _fmt(x)
            elif a.integer:
                v = str(int(rng.integers(int(a.lo), int(a.hi) + 1)))
            else:
                v = _fmt(rng.uniform(a.lo, a.hi))
            ov.append(f"{a.key}={v}")
        out.append(ov)
    return out


def variant_id(overrides: list[str]) -> str:
    """Stable id of a variant: a hash of its overrides (independent of their order)."""
    text = "\n".join(sorted(overrides))
    return "v" + hashlib.sha1(text.encode()).hexdigest()[:10]


def run_id(vid: str, seed: int) -> str:
    return f"{vid}-s{seed}"


# --------------------------------------------------------------------------- one run


def _scalar(raw: str) -> Any:
    from sim.scenario import parse_override

    return parse_override(f"x={raw}")[1]


def summary_row(task: dict[str, Any], metrics: dict[str, dict]) -> dict[str, Any]:
    """The run's row of the summary table: ids, parameter values, metric means and SEs.

    Parameter values are float64 when numeric and strings otherwise, so every partition has
    the same column types.
    """
    row: dict[str, Any] = {
        "variant": task["variant"],
        "run_id": task["run_id"],
        "replicate": task["replicate"],
        "seed": task["seed"],
        "paths": task["paths"],
        "overrides": " ".join(task["overrides"]),
    }
    for text in task["overrides"]:
        key, raw = text.split("=", 1)
        v = _scalar(raw)
        row[key] = float(v) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)
    for name, m in metrics.items():
        row[f"{name}.mean"] = m.get("mean")
        row[f"{name}.se"] = m.get("se")
    return row


def _write_row(path: Path, row: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {}
    for k, v in row.items():
        if isinstance(v, str):
            cols[k] = pa.array([v], pa.string())
        elif isinstance(v, bool | int) and k in ("replicate", "seed", "paths"):
            cols[k] = pa.array([int(v)], pa.int64())
        else:
            cols[k] = pa.array([math.nan if v is None else float(v)], pa.float64())
    atomic_write(path, lambda tmp: pq.write_table(pa.table(cols), tmp))


def replay_bundle(task: dict[str, Any], dest: Path) -> None:
    """scenario.yaml with the overrides, seed and paths applied, and the command to replay it."""
    from sim.scenario import _set_dotted, load_scenario, parse_override

    ov = [*task["overrides"], f"paths={task['paths']}", f"seed={task['seed']}"]
    try:
        data = load_scenario(task["scenario"], ov).model_dump(mode="json")
    except SimError:
        # The variant does not validate: keep the raw file with the overrides written in.
        data = yaml.safe_load(Path(task["scenario"]).read_text()) or {}
        for text in ov:
            key, value = parse_override(text)
            with contextlib.suppress(ConfigError):
                _set_dotted(data, key, value)
        price = data.get("price")
        if isinstance(price, dict) and isinstance(price.get("path"), str):
            p = Path(price["path"])
            if not p.is_absolute():
                price["path"] = str((Path(task["scenario"]).parent / p).resolve())
    header = (
        f"# Replay bundle of sweep run {task['run_id']}: {task['scenario']} with\n"
        + "".join(f"#   --set {t}\n" for t in ov)
        + "# Reproduce with: ammlab sim run scenario.yaml --out replay\n"
    )
    atomic_write_text(dest / "scenario.yaml", header + yaml.safe_dump(data, sort_keys=False))
    atomic_write_text(
        dest / "replay.sh",
        "#!/bin/sh\n# Re-runs the failed sweep run with the same scenario, paths and seed.\n"
        'cd "$(dirname "$0")" && exec ammlab sim run scenario.yaml '
        f'--paths {task["paths"]} --seed {task["seed"]} --out replay "$@"\n',
    )


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Run one variant x replicate into DIR/runs/<run_id>/; never raises for a run's failure.

    Returns a small status dict: {"run_id", "status": "ok"|"failed", "seconds", "error"}.
    """
    os.environ["AMMLAB_SIM_THREADS"] = "1"
    from sim.run import run_file

    out = Path(task["out"])
    rid = task["run_id"]
    final = out / RUNS / rid
    tmp = out / RUNS / f".tmp-{rid}-{os.getpid()}"
    failed = out / FAILED / rid
    t0 = time.perf_counter()
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        run_file(Path(task["scenario"]), tmp, task["paths"], task["seed"], list(task["overrides"]))
        metrics = json.loads((tmp / "summary.json").read_text())["metrics"]
        row = summary_row(task, metrics)
        _write_row(tmp / "row.parquet", row)
        if final.exists():  # a concurrent duplicate finished first; keep its result
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, final)  # the commit point: runs/<run_id>/ means finished
        publish_row(out, task["variant"], rid)
        shutil.rmtree(failed, ignore_errors=True)
        return {"run_id": rid, "status": "ok", "seconds": time.perf_counter() - t0}
    except Exception as err:  # noqa: BLE001 - a run's failure is recorded, the sweep goes on
        shutil.rmtree(tmp, ignore_errors=True)
        failed.mkdir(parents=True, exist_ok=True)
        tb = traceback.format_exc()
        atomic_write_text(failed / "error.txt", tb)
        atomic_write_json(
            failed / "run.json",
            {k: task[k] for k in ("run_id", "variant", "seed", "paths", "overrides", "scenario")}
            | {"error": f"{type(err).__name__}: {err}"},
        )
        try:
            replay_bundle(task, failed)
        except Exception:  # noqa: BLE001 - the traceback is already recorded
            atomic_write_text(failed / "replay_error.txt", traceback.format_exc())
        line = f"{type(err).__name__}: {err}".splitlines()[0]
        return {
            "run_id": rid,
            "status": "failed",
            "seconds": time.perf_counter() - t0,
            "error": line,
        }


def publish_row(out: Path, vid: str, rid: str) -> Path:
    """Copy a finished run's row into the summary table (atomically), if not there yet."""
    dest = out / SUMMARY / f"variant={vid}" / f"{rid}.parquet"
    if not dest.exists():
        src = out / RUNS / rid / "row.parquet"
        atomic_write(dest, lambda tmp: shutil.copyfile(src, tmp))
    return dest


# --------------------------------------------------------------------------- the sweep


@dataclass
class SweepPlan:
    """The runs of a sweep and the files describing it."""

    out: Path
    scenario: Path
    tasks: list[dict[str, Any]]
    axes: list[str]


def plan_sweep(
    scenario: Path,
    out: Path,
    grid: list[str],
    random_n: int | None = None,
    seed: int = 0,
    paths: int | None = None,
    replicates: int = 1,
    variants: list[list[str]] | None = None,
    run_seed: int | None = None,
) -> SweepPlan:
    """Validate the base scenario and the axes; list every run (finished or not).

    `variants` gives the runs' override lists directly (a study's design) instead of `grid`;
    `run_seed` is the first replicate's seed (default: the scenario's).
    """
    from sim.scenario import load_scenario

    axes = [parse_axis(g) for g in grid]
    keys = [a.key for a in axes]
    if len(set(keys)) != len(keys):
        raise SweepError("each --grid parameter may appear once")
    if variants is not None:
        keys = sorted({o.split("=", 1)[0] for ov in variants for o in ov})
    elif random_n:
        variants = random_variants(axes, random_n, seed)
    else:
        variants = grid_variants(axes)
    base = load_scenario(scenario, [f"paths={paths}"] if paths else [])
    if run_seed is not None:
        base.seed = run_seed
    scenario = scenario.resolve()
    tasks = []
    seen = set()
    for ov in variants:
        vid = variant_id(ov)
        if vid in seen:  # random draws from short lists can repeat
            continue
        seen.add(vid)
        for r in range(replicates):
            s = base.seed + r
            tasks.append(
                {
                    "scenario": str(scenario),
                    "out": str(out.resolve()),
                    "variant": vid,
                    "replicate": r,
                    "seed": s,
                    "run_id": run_id(vid, s),
                    "paths": base.paths,
                    "overrides": ov,
                }
            )
    return SweepPlan(out, scenario, tasks, keys)


def _write_manifest(plan: SweepPlan, extra: dict[str, Any]) -> None:
    path = plan.out / SWEEP_FILE
    old: dict[str, Any] = {}
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("scenario") != str(plan.scenario):
            raise SweepError(
                f"{plan.out} holds a sweep of {old.get('scenario')}; use another --out folder"
            )
        paths = plan.tasks[0]["paths"] if plan.tasks else None
        if old.get("paths") not in (None, paths):
            raise SweepError(
                f"{plan.out} holds runs of {old['paths']} worlds; resume with --paths "
                f"{old['paths']} or use another --out folder"
            )
    variants = dict(old.get("variants", {}))
    for t in plan.tasks:
        variants[t["variant"]] = t["overrides"]
    atomic_write_json(
        path,
        {
            "scenario": str(plan.scenario),
            "axes": sorted(set(old.get("axes", [])) | set(plan.axes)),
            "paths": plan.tasks[0]["paths"] if plan.tasks else old.get("paths"),
            "variants": variants,
            "runs": sorted(set(old.get("runs", [])) | {t["run_id"] for t in plan.tasks}),
            **extra,
        },
    )


def is_finished(out: Path, rid: str) -> bool:
    return (out / RUNS / rid / "row.parquet").exists()


def _pending(plan: SweepPlan) -> tuple[list[dict], int]:
    runs = plan.out / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    for stale in runs.glob(".tmp-*"):  # left by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    todo, done = [], 0
    for t in plan.tasks:
        if is_finished(plan.out, t["run_id"]):
            publish_row(plan.out, t["variant"], t["run_id"])  # in case the copy was cut off
            done += 1
        else:
            todo.append(t)
    return todo, done


Report = Callable[[dict[str, Any]], None]


def _bounded(submit, wait_one, tasks: list[dict], window: int) -> Iterator[dict]:
    """Keep at most `window` runs in flight; yield results as they finish."""
    it = iter(tasks)
    inflight: set = set()
    for t in itertools.islice(it, window):
        inflight.add(submit(t))
    while inflight:
        done, inflight = wait_one(inflight)
        for fut in done:
            yield fut.result()
            nxt = next(it, None)
            if nxt is not None:
                inflight.add(submit(nxt))


def execute(
    tasks: list[dict],
    workers: int,
    scheduler: str | None = None,
    report: Report | None = None,
    fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> list[dict]:
    """Run `fn(task)` (default `run_task`) for every task on a process pool (or a Dask
    cluster), at most two per worker in flight; returns the results as they finished."""
    fn = fn or run_task
    results = []
    if not tasks:
        return results
    if scheduler:
        try:
            from distributed import Client
            from distributed import wait as dwait
        except ImportError as err:
            raise SweepError(
                "--scheduler needs dask distributed (pip install distributed)"
            ) from err
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as err:
            raise SweepError(f"cannot reach the Dask scheduler at {scheduler} ({err})") from err
        try:
            n = max(
                1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
            )
            window = 2 * n

            def submit(t):
                return client.submit(
                    fn, t, key=f"ammlab-{t['run_id']}-{time.time_ns()}", pure=False
                )

            def wait_one(fs):
                r = dwait(list(fs), return_when="FIRST_COMPLETED")
                return r.done, set(r.not_done)

            for res in _bounded(submit, wait_one, tasks, window):
                results.append(res)
                if report:
                    report(res)
        finally:
            client.close()
        return results
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # no fork of a parent that may hold threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:

        def wait_one(fs):
            d, nd = wait(fs, return_when=FIRST_COMPLETED)
            return d, set(nd)

        for res in _bounded(lambda t: pool.submit(fn, t), wait_one, tasks, 2 * workers):
            results.append(res)
            if report:
                report(res)
    return results


def run_sweep(
    scenario: Path,
    out: Path,
    grid: list[str],
    random_n: int | None = None,
    seed: int = 0,
    paths: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    replicates: int = 1,
    report: Report | None = None,
    planned: Callable[[int, int], None] | None = None,
    variants: list[list[str]] | None = None,
    run_seed: int | None = None,
) -> dict[str, Any]:
    """Plan, resume and run a sweep; returns counts {"total", "skipped", "ok", "failed"}.

    `planned(to_run, already_done)` is called once the plan is known, `report(result)` after
    each run; `variants` and `run_seed`: see `plan_sweep`.
    """
    out.mkdir(parents=True, exist_ok=True)
    plan = plan_sweep(scenario, out, grid, random_n, seed, paths, replicates, variants, run_seed)
    _write_manifest(
        plan, {"grid": grid, "random": random_n, "random_seed": seed, "replicates": replicates}
    )
    todo, done = _pending(plan)
    if planned is not None:
        planned(len(todo), done)
    results = execute(todo, workers or os.cpu_count() or 1, scheduler, report)
    failed = [r for r in results if r["status"] != "ok"]
    return {
        "total": len(plan.tasks),
        "skipped": done,
        "ok": len(results) - len(failed),
        "failed": len(failed),
        "failures": failed,
    }


def load_summary(out: Path):
    """The sweep's summary table as a pandas DataFrame (one row per finished run)."""
    import pandas as pd

    files = sorted((Path(out) / SUMMARY).glob("variant=*/*.parquet"))
    if not files:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def metric_units(out: Path) -> dict[str, str]:
    """Units of the metrics, read from one finished run's summary.json."""
    for s in sorted((Path(out) / RUNS).glob("v*/summary.json")):
        return {k: m.get("unit", "") for k, m in json.loads(s.read_text())["metrics"].items()}
    return {}

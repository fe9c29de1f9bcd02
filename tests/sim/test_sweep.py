"""Sweeps: grid and random variants, partitioned results, resume, failures with replay bundles,
the local process pool and a Dask LocalCluster give the same rows."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli.studies import sweep_cmd
from sim.studies.sweep import (
    SweepError,
    grid_variants,
    load_summary,
    parse_axis,
    random_variants,
    variant_id,
)

ROOT = Path(__file__).resolve().parents[2]

SMALL = """\
name: small
seed: 3
paths: 20
price: {kind: gbm, s0: 2000.0, sigma_per_day: 0.05}
blocks: {n_blocks: 300, block_time: 12.0}
pools: [{name: pool, fee_bps: 30}]
agents: [{kind: arbitrageur, name: arb}]
"""


@pytest.fixture
def scenario(tmp_path):
    p = tmp_path / "small.yaml"
    p.write_text(SMALL)
    return p


def sweep(*args):
    return CliRunner().invoke(sweep_cmd, [str(a) for a in args], catch_exceptions=False)


def test_grid_is_the_cartesian_product_in_order():
    axes = [parse_axis("a=1,2"), parse_axis("b.c=x,y,z")]
    v = grid_variants(axes)
    assert len(v) == 6
    assert v[0] == ["a=1", "b.c=x"] and v[-1] == ["a=2", "b.c=z"]
    assert variant_id(["a=1", "b=2"]) == variant_id(["b=2", "a=1"])


@pytest.mark.parametrize(
    "spec", ["nokey", "a=", "a=1:x", "a=3:1", "a=0:1:log", "a=1:2:cube", "a=1,,2"], ids=str
)
def test_bad_axes_are_refused(spec):
    with pytest.raises(SweepError):
        parse_axis(spec)


def test_a_range_without_random_is_refused():
    with pytest.raises(SweepError, match="--random"):
        grid_variants([parse_axis("a=1:5")])


def test_random_draws_are_seeded_and_inside_the_ranges():
    axes = [parse_axis("f=1:100"), parse_axis("t=0.5:20:log"), parse_axis("k=a,b")]
    one = random_variants(axes, 50, seed=7)
    assert one == random_variants(axes, 50, seed=7)
    assert one != random_variants(axes, 50, seed=8)
    for ov in one:
        f, t, k = (x.split("=")[1] for x in ov)
        assert f.isdigit() and 1 <= int(f) <= 100  # integer bounds draw integers
        assert 0.5 <= float(t) <= 20
        assert k in ("a", "b")


def test_grid_sweep_writes_runs_and_a_partitioned_summary(scenario, tmp_path):
    out = tmp_path / "sw"
    r = sweep(
        scenario,
        "--grid",
        "pools.0.fee_bps=5,30",
        "--grid",
        "blocks.block_time=2,12",
        "--out",
        out,
        "--workers",
        2,
    )
    assert r.exit_code == 0, r.output
    assert "4 runs, 0 already done, 4 ok, 0 failed" in r.output
    df = load_summary(out)
    assert len(df) == 4 and df["run_id"].is_unique
    assert set(df["pools.0.fee_bps"]) == {5.0, 30.0}
    assert set(df["blocks.block_time"]) == {2.0, 12.0}
    assert (df["paths"] == 20).all() and (df["seed"] == 3).all()  # common random numbers
    assert {"pool.lvr_rate.mean", "pool.lvr_rate.se"} <= set(df.columns)
    # one partition per variant, one run folder per run, nothing temporary left
    assert len(list((out / "summary").glob("variant=*"))) == 4
    assert not list((out / "runs").glob(".tmp-*"))
    # a lower fee gives the arbitrageur more trades (more blocks with an arbitrage)
    g = df.groupby("pools.0.fee_bps")["pool.arb_block_frac.mean"].mean()
    assert g[5.0] > g[30.0]
    manifest = json.loads((out / "sweep.json").read_text())
    assert len(manifest["runs"]) == 4


def test_an_interrupted_sweep_resumes_and_skips_finished_runs(scenario, tmp_path):
    out = tmp_path / "sw"
    args = [scenario, "--grid", "pools.0.fee_bps=5,10,30", "--out", out, "--workers", 1]
    assert sweep(*args).exit_code == 0
    before = load_summary(out).set_index("run_id")
    # simulate an interruption: one run never finished, one was mid-write, one row unpublished
    runs = sorted((out / "runs").iterdir())
    shutil.rmtree(runs[0])
    shutil.rmtree(out / "summary" / f"variant={runs[0].name.split('-')[0]}")
    (out / "runs" / ".tmp-half-done-123").mkdir()
    unpublished = runs[1].name
    (out / "summary" / f"variant={unpublished.split('-')[0]}" / f"{unpublished}.parquet").unlink()
    r = sweep(*args)
    assert r.exit_code == 0, r.output
    assert "3 runs, 2 already done, 1 ok, 0 failed" in r.output
    after = load_summary(out).set_index("run_id")
    assert sorted(after.index) == sorted(before.index)
    # same seed, same numbers: the re-run run equals the first attempt
    col = "pool.lvr_rate.mean"
    assert after.loc[before.index, col].tolist() == before[col].tolist()
    assert not list((out / "runs").glob(".tmp-*"))
    # resuming with another number of worlds would mix runs: refused in one line
    r = CliRunner().invoke(sweep_cmd, [str(a) for a in args] + ["--paths", "7"])
    assert r.exit_code == 1 and "resume with --paths 20" in r.output


def test_a_failed_run_leaves_a_traceback_and_a_replay_bundle(tmp_path):
    scen = tmp_path / "replay.yaml"
    data = (ROOT / "scenarios" / "replay.yaml").read_text()
    scen.write_text(
        data.replace("n_blocks: 7200", "n_blocks: 200").replace(
            "series_every: 300", "series_every: 50"
        )
    )
    (tmp_path / "data").mkdir()
    shutil.copy(ROOT / "scenarios/data/eth_usd_synthetic_1m.csv", tmp_path / "data")
    out = tmp_path / "sw"
    r = CliRunner().invoke(
        sweep_cmd,
        [
            str(scen),
            "--grid",
            "price.path=data/eth_usd_synthetic_1m.csv,data/missing.csv",
            "--paths",
            "10",
            "--out",
            str(out),
            "--workers",
            "2",
        ],
    )
    assert r.exit_code == 1
    assert "1 ok, 1 failed" in r.output and "replay bundles" in r.output
    (failed,) = (out / "failed").iterdir()
    assert "Traceback" in (failed / "error.txt").read_text()
    bundle = failed / "scenario.yaml"
    assert "missing.csv" in bundle.read_text()
    assert len(load_summary(out)) == 1  # the good run went on and is in the table
    # the bundle reproduces the failure with `ammlab sim run`
    rep = subprocess.run(
        [
            sys.executable,
            "-m",
            "keeper.cli",
            "sim",
            "run",
            str(bundle),
            "--out",
            str(tmp_path / "rep"),
            "--no-progress",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rep.returncode != 0 and "missing.csv" in rep.stderr + rep.stdout
    # ... and the good run's finished series travelled with it
    assert list((out / "runs").glob("*/series.parquet"))


def test_dask_cluster_gives_the_same_rows_as_the_process_pool(scenario, tmp_path):
    distributed = pytest.importorskip("distributed")
    grid = ["--grid", "pools.0.fee_bps=5,30"]
    assert sweep(scenario, *grid, "--out", tmp_path / "local", "--workers", 2).exit_code == 0
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        r = sweep(
            scenario, *grid, "--out", tmp_path / "dask", "--scheduler", cluster.scheduler_address
        )
    assert r.exit_code == 0, r.output
    a = load_summary(tmp_path / "local").sort_values("run_id").reset_index(drop=True)
    b = load_summary(tmp_path / "dask").sort_values("run_id").reset_index(drop=True)
    assert a.equals(b)


def test_random_sweep_from_ranges(scenario, tmp_path):
    out = tmp_path / "rnd"
    r = sweep(
        scenario,
        "--grid",
        "pools.0.fee_bps=1:60",
        "--random",
        3,
        "--seed",
        5,
        "--out",
        out,
        "--workers",
        2,
    )
    assert r.exit_code == 0, r.output
    df = load_summary(out)
    assert len(df) == 3 and df["pools.0.fee_bps"].between(1, 60).all()


def test_user_errors_are_one_line(scenario, tmp_path):
    r = CliRunner().invoke(sweep_cmd, [str(scenario), "--grid", "a=1:5", "--out", str(tmp_path)])
    assert r.exit_code == 1 and "--random" in r.output and "Traceback" not in r.output

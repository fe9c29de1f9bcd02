"""Engine: both paths agree, determinism, chunking, every agent, ordering, series, CLI."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sim.cli.run import sim_group as sim
from sim.engine.core import Engine
from sim.engine.fused import is_fusable
from sim.results import parquet_available
from sim.run import run
from sim.run import run_file as run_to_dir
from sim.scenario import load_scenario, scenario_from_dict

SCEN = Path(__file__).resolve().parents[2] / "scenarios"
FMT = "parquet" if parquet_available() else "csv"


def _ref(**over):
    ov = [f"{k}={v}" for k, v in over.items()]
    return load_scenario(SCEN / "reference.yaml", ["paths=300", "blocks.n_blocks=600", *ov])


@pytest.mark.parametrize("poisson", [False, True], ids=["fixed", "poisson"])
def test_fused_and_general_paths_agree(poisson):
    sc = _ref(**{"blocks.poisson": poisson, "metrics.warmup_blocks": 50})
    assert is_fusable(sc)
    a = Engine(sc).run()
    b = Engine(sc, fused=False).run()
    assert (a.path, b.path) == ("fused", "general")
    assert a.worlds.keys() == b.worlds.keys()
    for k in a.worlds:
        np.testing.assert_allclose(a.worlds[k], b.worlds[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "general"])
def test_results_do_not_depend_on_chunking(fused):
    small = {"paths": 40, "blocks.n_blocks": 100}
    a = Engine(_ref(**small, **{"metrics.chunk_worlds": 40}), fused=fused).run().worlds
    b = Engine(_ref(**small, **{"metrics.chunk_worlds": 7}), fused=fused).run().worlds
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _full(**over):
    ov = [f"{k}={v}" for k, v in over.items()]
    return load_scenario(SCEN / "full.yaml", ["paths=200", "blocks.n_blocks=300", *ov])


def test_full_scenario_every_agent_acts():
    res = Engine(_full()).run()
    w = res.worlds
    assert res.path == "general"
    for agent in ("arb", "xarb", "sniper", "sandwich", "noise", "noise2", "lp"):
        assert w[f"agent.{agent}.n_tx"].sum() > 0, agent
    assert w["oracle.feed.updates"].sum() > 0
    assert w["agent.sandwich.pnl"].mean() > 0
    assert w["agent.sniper.pnl"].mean() > 0
    np.testing.assert_allclose(
        w["venue.oracle_venue.pnl"], -(w["agent.sniper.pnl"] + w["agent.sniper.gas"]), rtol=1e-9
    )
    # Arbitrage bookkeeping holds with every agent active too: profit + fees = LVR.
    np.testing.assert_allclose(
        w["pool.arb_profit_rate"] + w["pool.arb_fee_rate"],
        w["pool.lvr_arb_rate"],
        rtol=1e-9,
        atol=1e-15,
    )
    for k, v in w.items():
        assert np.all(np.isfinite(v)), k
    assert res.summary["pool.lvr_rate"]["unit"] == "1/day"


@pytest.mark.parametrize("ordering", ["arb_first", "fifo", "random"])
def test_orderings_run_and_are_deterministic(ordering):
    a = Engine(_full(**{"blocks.ordering": ordering, "paths": 50, "blocks.n_blocks": 100})).run()
    b = Engine(_full(**{"blocks.ordering": ordering, "paths": 50, "blocks.n_blocks": 100})).run()
    for k in a.worlds:
        np.testing.assert_array_equal(a.worlds[k], b.worlds[k])


def test_sandwich_switch_off():
    w = (
        Engine(_full(**{"agents.3.enabled": False, "paths": 50, "blocks.n_blocks": 100}))
        .run()
        .worlds
    )
    assert w["agent.sandwich.n_tx"].sum() == 0


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("name", ["reference", "replay"])
def test_same_seed_byte_identical_files(tmp_path, name):
    over = ["blocks.n_blocks=300", "metrics.series_every=50"]
    run_to_dir(SCEN / f"{name}.yaml", tmp_path / "a", paths=40, seed=3, overrides=over, fmt=FMT)
    run_to_dir(SCEN / f"{name}.yaml", tmp_path / "b", paths=40, seed=3, overrides=over, fmt=FMT)
    da, db = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert da == db
    assert set(da) == {f"worlds.{FMT}", f"series.{FMT}", "summary.json"}
    run_to_dir(SCEN / f"{name}.yaml", tmp_path / "c", paths=40, seed=4, overrides=over, fmt=FMT)
    assert _digest(tmp_path / "c")[f"worlds.{FMT}"] != da[f"worlds.{FMT}"]


def test_series_rows_and_summary_content(tmp_path):
    import json

    run_to_dir(
        SCEN / "full.yaml",
        tmp_path,
        paths=10,
        overrides=["blocks.n_blocks=100", "metrics.series_every=25"],
        fmt=FMT,
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    m = summary["metrics"]
    for key in (
        "pool.arb_profit_rate",
        "pool.fee_rate",
        "pool.lvr_rate",
        "pool.arb_block_frac",
        "pool.lp_vs_hold",
    ):
        assert set(m[key]) >= {"mean", "se", "unit"}
    if FMT == "parquet":
        import pandas as pd

        s = pd.read_parquet(tmp_path / "series.parquet")
        w = pd.read_parquet(tmp_path / "worlds.parquet")
    else:
        import pandas as pd

        s = pd.read_csv(tmp_path / "series.csv")
        w = pd.read_csv(tmp_path / "worlds.csv")
    assert len(s) == 10 * 4 and len(w) == 10
    assert {"world", "block", "ref_price", "pool.price", "oracle.feed.answer"} <= set(s.columns)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temp files left


def test_cli_run_and_one_line_errors(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(
        sim,
        [
            "run",
            str(SCEN / "reference.yaml"),
            "--paths",
            "20",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "o"),
            "--set",
            "blocks.n_blocks=50",
            "--format",
            FMT,
            "--no-progress",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "lvr_rate" in ok.output
    bad = runner.invoke(
        sim,
        [
            "run",
            str(SCEN / "reference.yaml"),
            "--out",
            str(tmp_path / "x"),
            "--set",
            "pools.0.fee_bps=abc",
        ],
    )
    assert bad.exit_code == 1
    assert "pools.0.fee_bps" in bad.output and "Traceback" not in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_sigma_zero_full_scenario_has_no_arbitrage():
    sc = _full(**{"price.sigma_per_day": 0.0, "agents": "[]", "paths": 20, "blocks.n_blocks": 50})
    w = Engine(sc).run().worlds
    assert np.all(w["pool.n_trades"] == 0)
    assert scenario_from_dict({}).paths == 1000


def test_threads_parallel_and_serial_kernels_give_the_same_numbers(monkeypatch):
    import sim.agents.arbitrage
    import sim.agents.noise
    import sim.agents.sandwich
    import sim.engine.context
    import sim.processes
    import sim.streams

    sc = _full(**{"paths": 64, "blocks.n_blocks": 60})
    monkeypatch.setenv("AMMLAB_SIM_THREADS", "1")
    serial = Engine(sc).run().worlds
    monkeypatch.setenv("AMMLAB_SIM_THREADS", "3")  # three chunks in three threads
    threaded = Engine(sc).run().worlds
    monkeypatch.setattr(sim.processes, "PARALLEL_MIN", 1)
    monkeypatch.setattr(sim.streams, "PARALLEL_MIN", 1)
    for mod in (sim.engine.context, sim.agents.arbitrage, sim.agents.noise, sim.agents.sandwich):
        monkeypatch.setattr(mod, "PARALLEL_MIN", 1)
    parallel = Engine(sc).run().worlds
    for k in serial:
        np.testing.assert_array_equal(serial[k], parallel[k], err_msg=k)
        np.testing.assert_array_equal(serial[k], threaded[k], err_msg=k)


def test_progress_bar_only_on_a_terminal(tmp_path, capfd):
    """A run asked for progress draws its bar on a terminal, never into a log file or pipe."""
    sc = load_scenario(SCEN / "reference.yaml", overrides=["blocks.n_blocks=20"])
    run(sc, out_dir=None, progress=True)
    assert "wb/s" not in capfd.readouterr().err

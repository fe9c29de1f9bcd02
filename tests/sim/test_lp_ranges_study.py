"""`ammlab study lp-ranges` on a tiny grid: the sweep runs and resumes, the study file holds
every variant's metrics with standard errors and the best static width against the published
rule, the table is written, and bad options are refused in one line."""

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli.study import study_group
from sim.errors import ConfigError
from sim.studies.lp_ranges import (
    METRICS,
    SCENARIO,
    STUDY_FILE,
    TABLE_FILE,
    format_table,
    parse_grid,
    run_study,
)

GRID = {"width": [0.04, 0.1], "sigma": [0.05], "fee": [500], "policy": ["static", "recentre"]}


def tiny_scenario(tmp: Path) -> Path:
    """scenarios/lp_ranges.yaml cut to 200 accounted blocks after 20 of warm-up."""
    text = SCENARIO.read_text().replace("n_blocks: 7200", "n_blocks: 200")
    path = tmp / "lp_ranges.yaml"
    path.write_text(text.replace("warmup_blocks: 300", "warmup_blocks: 20"))
    return path


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lpr")
    out = tmp / "study"
    r = run_study(out, GRID, paths=4, workers=1, scenario=tiny_scenario(tmp))
    assert (r["ok"], r["failed"]) == (4, 0), r["failures"]
    return out


def test_the_study_reports_every_variant_with_standard_errors(study_dir):
    study = json.loads((study_dir / STUDY_FILE).read_text())
    assert study["grid"] == GRID
    assert len(study["rows"]) == 4
    for row in study["rows"]:
        assert row["paths"] == 4 and row["replicates"] == 1
        for m in METRICS:
            mean, se = row["metrics"][m]
            assert math.isfinite(mean) and math.isfinite(se) and se >= 0, (m, row)
        assert 0.0 <= row["metrics"]["time_in_range"][0] <= 1.0
    (best,) = study["best_static"]
    assert best["best_width"] in GRID["width"] and best["lvr_theory"] == pytest.approx(0.05**2 / 8)
    assert best["agrees"] == (best["rule_concentrates"] == best["best_is_concentrated"])
    assert any("σ²/8" in v for v in study["verdicts"])
    table = (study_dir / TABLE_FILE).read_text()
    assert table.startswith("| fee | σ/day | policy | width | LP fees | LVR |")
    assert format_table(study).count("\n") == 1 + 2  # header rule + one row per policy


def test_the_study_resumes_without_running_again(study_dir):
    scen = study_dir.parent / "lp_ranges.yaml"
    r = run_study(study_dir, GRID, paths=4, workers=1, scenario=scen)
    assert (r["skipped"], r["ok"], r["failed"]) == (4, 0, 0)
    assert r["study"]["rows"] == json.loads((study_dir / STUDY_FILE).read_text())["rows"]


@pytest.mark.parametrize(
    "axis, raw, word",
    [("policy", "static,sideways", "sideways"), ("width", "0.1,-1", "> 0"), ("fee", "5bp", "5bp")],
)
def test_bad_grid_is_refused_in_one_line(axis, raw, word):
    with pytest.raises(ConfigError) as err:
        parse_grid({axis: raw})
    msg = str(err.value)
    assert f"--{axis}s" in msg and word in msg and "\n" not in msg


def test_the_cli_refuses_a_bad_option_in_one_line(tmp_path):
    r = CliRunner().invoke(study_group, ["lp-ranges", "--out", str(tmp_path), "--policies", "x"])
    assert r.exit_code != 0 and "--policys 'x'" in r.output and "Traceback" not in r.output

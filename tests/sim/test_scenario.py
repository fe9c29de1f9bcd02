"""Scenario validation: defaults, example files, one-line errors with dotted paths, --set."""

from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.processes import GBMConfig
from sim.scenario import load_scenario, scenario_from_dict

SCEN = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.parametrize("name", ["reference", "full", "replay", "jumps", "heston"])
def test_example_scenarios_load(name):
    sc = load_scenario(SCEN / f"{name}.yaml")
    assert sc.name == name


def test_sigma_per_day_convenience():
    sc = scenario_from_dict({"price": {"kind": "gbm", "sigma_per_day": 0.05}})
    assert isinstance(sc.price, GBMConfig)
    assert sc.price.sigma_annual == pytest.approx(0.05 * 365**0.5)


@pytest.mark.parametrize(
    ("data", "overrides", "needle"),
    [
        ({"pools": [{"fee_bps": "abc"}]}, [], "pools.0.fee_bps"),
        (
            {"pools": [{"feee_bps": 30}]},
            [],
            "pools.0.feee_bps: Extra inputs are not permitted; remove",
        ),
        ({"blocks": {"ordering": "lifo"}}, [], "blocks.ordering"),
        ({}, ["agents.0.min_profit=-1"], "agents.0.arbitrageur.min_profit"),
        ({}, ["blocks.n_blocks=ten"], "blocks.n_blocks"),
        ({}, ["agents.5.min_profit=1"], "--set agents.5.min_profit"),
        ({}, ["nokey"], "expected dotted.path=value"),
        ({"price": {"kind": "gbm", "sigma": 1, "sigma_per_day": 0.1}}, [], "exactly one"),
        ({"agents": [{"kind": "noise", "pool": "nope"}]}, [], "unknown pool 'nope'"),
    ],
    ids=[
        "wrong-type",
        "unknown-key",
        "bad-enum",
        "set-negative",
        "set-type",
        "set-index",
        "set-syntax",
        "two-sigmas",
        "unknown-pool",
    ],
)
def test_bad_config_is_one_line_with_path(data, overrides, needle):
    with pytest.raises(ConfigError) as err:
        scenario_from_dict(data, overrides)
    msg = str(err.value)
    assert needle in msg
    assert "\n" not in msg


def test_set_values_are_yaml_scalars():
    sc = scenario_from_dict(
        {},
        ["blocks.poisson=true", "blocks.block_time=2.5", "pools.0.fee_bps=5", "price.kind=heston"],
    )
    assert sc.blocks.poisson is True
    assert sc.blocks.block_time == 2.5
    assert sc.pools[0].fee_bps == 5
    assert sc.price.kind == "heston"


def test_missing_and_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("pools: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_scenario(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_scenario(lst)


def test_replay_path_resolves_against_scenario_folder():
    sc = load_scenario(SCEN / "replay.yaml")
    assert Path(sc.price.path).is_file()

"""Keeper config: YAML + KEEPER_ env overrides, errors that name the field, address resolution."""

from pathlib import Path

import pytest

from keeper.config import KeeperConfigError, load_keeper_config, resolve_addresses
from sim.decisions.hedging import DeltaBand, WhalleyWilmott

EXAMPLE = Path(__file__).resolve().parents[2] / "keeper" / "config.example.yaml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("KEEPER_"):
            monkeypatch.delenv(name)


def test_defaults_are_a_dry_run_delta_band():
    cfg = load_keeper_config()
    assert cfg.dry_run is True and isinstance(cfg.policy, DeltaBand)


def test_example_file_loads():
    cfg = load_keeper_config(EXAMPLE)
    assert cfg.dry_run and cfg.venues.perp.max_position_base == 25.0
    assert cfg.safety.guards.max_slippage_bps == 100


def test_env_overrides_the_file(monkeypatch):
    monkeypatch.setenv("KEEPER_DRY_RUN", "false")
    monkeypatch.setenv("KEEPER_POLICY__BAND", "2.5")
    monkeypatch.setenv("KEEPER_GUARDS__MAX_GAS_PRICE_GWEI", "80")
    cfg = load_keeper_config(EXAMPLE)
    assert cfg.dry_run is False and cfg.policy.band == 2.5
    assert cfg.safety.guards.max_gas_price_gwei == 80


def test_policy_kind_switches_the_model(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text("policy:\n  kind: whalley_wilmott\n  risk_aversion: 0.01\n")
    assert isinstance(load_keeper_config(path).policy, WhalleyWilmott)


@pytest.mark.parametrize(
    "yaml_text, field",
    [
        ("policy:\n  kind: nope\n", "policy"),
        ("policy:\n  kind: delta_band\n  band: -1\n", "policy.delta_band.band"),
        ("execution:\n  slippage_bps: -5\n", "execution.slippage_bps"),
        ("venues:\n  perp:\n    max_position_base: 0\n", "venues.perp.max_position_base"),
        ("venues:\n  cpmm:\n    - name: perp\n", "venues"),
        ("dry_runn: true\n", "dry_runn"),
        ("safety:\n  guards:\n    max_slippage_bps: -1\n", "guards.max_slippage_bps"),
        ("safety: 3\n", "safety"),
        ("- a list\n", "mapping"),
    ],
    ids=["bad-kind", "negative-band", "negative-slippage", "zero-cap", "duplicate-venue",
         "typo", "safety-field", "safety-not-mapping", "not-a-mapping"],
)  # fmt: skip
def test_bad_values_fail_at_load_naming_the_field(tmp_path, yaml_text, field):
    path = tmp_path / "k.yaml"
    path.write_text(yaml_text)
    with pytest.raises(KeeperConfigError, match=field.replace(".", r"\.")) as err:
        load_keeper_config(path)
    assert "\n" not in str(err.value)


def test_bad_env_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("KEEPER_POLL_S", "soon")
    with pytest.raises(KeeperConfigError, match="KEEPER_POLL_S"):
        load_keeper_config()


def test_unreadable_file():
    with pytest.raises(KeeperConfigError, match="cannot read"):
        load_keeper_config("/nonexistent/keeper.yaml")


MANIFEST = {
    "tokens": {"WETH": {"address": "0x" + "11" * 20}, "USDC": {"address": "0x" + "22" * 20}},
    "feed": {"address": "0x" + "33" * 20},
    "router": {"address": "0x" + "44" * 20},
    "pools": {"venue_a": {"address": "0x" + "55" * 20, "fee_bps": 30},
              "venue_b": {"address": "0x" + "66" * 20, "fee_bps": 5}},
    "perp": {"address": "0x" + "77" * 20},
    "options": {"address": "0x" + "88" * 20},
    "keeper": {"address": "0x" + "99" * 20, "weth_baseline": "100"},
}  # fmt: skip


def test_addresses_come_from_the_manifest_unless_given():
    addresses, baseline = resolve_addresses(load_keeper_config(), MANIFEST)
    assert addresses.pool_fees_bps == {"venue_a": 30.0, "venue_b": 5.0}
    assert addresses.perp.lower() == "0x" + "77" * 20 and baseline == 100.0
    cfg = load_keeper_config(addresses={"feed": "0x" + "ab" * 20},
                             inventory={"spot_baseline_base": 3})  # fmt: skip
    addresses, baseline = resolve_addresses(cfg, MANIFEST)
    assert addresses.feed.lower() == "0x" + "ab" * 20 and baseline == 3.0


def test_missing_address_names_the_field():
    with pytest.raises(KeeperConfigError, match="addresses.feed"):
        resolve_addresses(load_keeper_config(), {**MANIFEST, "feed": None})
    with pytest.raises(KeeperConfigError, match="venues.cpmm.venue_c"):
        resolve_addresses(load_keeper_config(venues={"cpmm": [{"name": "venue_c"}]}), MANIFEST)

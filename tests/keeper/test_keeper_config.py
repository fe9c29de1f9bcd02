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
    assert {n: (p.kind, p.fee_bps) for n, p in addresses.pools.items()} == {
        "venue_a": ("cpmm", 30.0), "venue_b": ("cpmm", 5.0),
    }  # fmt: skip
    assert addresses.routers == ("0x" + "44" * 20,)
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


PRESET = {
    "format": "ammlab-mainnet-preset/1",
    "tokens": {"WETH": {"address": "0x" + "11" * 20}, "USDC": {"address": "0x" + "22" * 20}},
    "feed": {"address": "0x" + "33" * 20},
    "uniswap_v2": {"factory": {"address": "0x" + "a1" * 20},
                   "router": {"address": "0x" + "a2" * 20},
                   "pairs": {"weth_usdc": {"address": "0x" + "a3" * 20, "fee_bps": 30}}},
    "uniswap_v3": {"factory": {"address": "0x" + "b1" * 20},
                   "swap_router": {"address": "0x" + "b2" * 20},
                   "pools": {"weth_usdc_500": {"address": "0x" + "b3" * 20, "fee": 500},
                             "weth_usdc_3000": {"address": "0x" + "b4" * 20, "fee": 3000}}},
    "keeper": {"address": "0x" + "99" * 20, "weth_baseline": "100"},
}  # fmt: skip


def test_preset_manifest_gives_genuine_venues_with_their_routers_and_factories():
    addresses, baseline = resolve_addresses(load_keeper_config(), PRESET)
    pools = addresses.pools
    assert {n: p.kind for n, p in pools.items()} == {
        "weth_usdc": "univ2", "weth_usdc_500": "univ3", "weth_usdc_3000": "univ3",
    }  # fmt: skip
    v2, v3 = pools["weth_usdc"], pools["weth_usdc_500"]
    assert (v2.fee_bps, v2.router.lower(), v2.factory.lower()) == (30.0, "0x" + "a2" * 20,
                                                                   "0x" + "a1" * 20)  # fmt: skip
    assert (v3.fee_pips, v3.fee_bps, v3.router.lower()) == (500, 5.0, "0x" + "b2" * 20)
    assert [r.lower() for r in addresses.routers] == ["0x" + "a2" * 20, "0x" + "b2" * 20]
    assert addresses.perp is None and addresses.options_pool is None and baseline == 100.0


def test_explicit_venues_spell_out_the_manifests_and_can_be_disabled():
    from keeper.config import explicit_venues, venue_names, without_venues

    cfg = load_keeper_config(venues={"perp": {"enabled": False}})
    addresses, _ = resolve_addresses(cfg, PRESET)
    cfg = explicit_venues(cfg, addresses)
    assert venue_names(cfg) == {"weth_usdc", "weth_usdc_500", "weth_usdc_3000"}
    assert venue_names(without_venues(cfg, {"weth_usdc_500"})) == {"weth_usdc", "weth_usdc_3000"}


def test_a_config_without_manifest_names_every_address():
    from keeper.config import load_keeper_config as load

    cfg = load(Path(__file__).resolve().parents[2] / "keeper" / "mainnet.example.yaml")
    addresses, baseline = resolve_addresses(cfg, PRESET)  # the manifest is not used
    assert addresses.pools["uniswap_v2"].address == "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc"
    assert addresses.pools["uniswap_v3_5bp"].fee_pips == 500
    assert addresses.feed == "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419"
    assert addresses.options_pool is None and addresses.perp is None
    with pytest.raises(
        KeeperConfigError, match=r"addresses\.\w+: no address given and no manifest is used"
    ):
        resolve_addresses(load(addresses={"use_manifest": False}), PRESET)

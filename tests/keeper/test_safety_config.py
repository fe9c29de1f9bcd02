"""Safety config: defaults, YAML, KEEPER_ environment overrides, one-line errors naming fields."""

import pytest

from keeper.safety_config import (
    GuardLimits,
    SafetyConfig,
    SafetyConfigError,
    TxLimits,
    load_safety_config,
)


def test_defaults_and_every_field_is_documented():
    config = load_safety_config()
    assert config.tx.gas_bump == 1.125 and config.killswitch.hedge_error_action == "paused"
    for group in (GuardLimits, TxLimits):
        assert all(f.description for f in group.model_fields.values())


def test_yaml_then_environment(tmp_path, monkeypatch):
    path = tmp_path / "safety.yaml"
    path.write_text("guards:\n  max_slippage_bps: 20\ntx:\n  gas_bump: 1.5\n  fee_mode: legacy\n")
    config = load_safety_config(path)
    assert (config.guards.max_slippage_bps, config.tx.gas_bump, config.tx.fee_mode) == (
        20, 1.5, "legacy")  # fmt: skip
    monkeypatch.setenv("KEEPER_TX__GAS_BUMP", "1.25")
    config = load_safety_config(path)
    assert config.tx.gas_bump == 1.25 and config.tx.fee_mode == "legacy"
    assert isinstance(config, SafetyConfig)


@pytest.mark.parametrize(
    "yaml_text, field, hint",
    [
        ("tx:\n  gas_bump: 1.05\n", "tx.gas_bump", "KEEPER_TX__GAS_BUMP"),
        ("guards:\n  max_gas_price_gwei: cheap\n", "guards.max_gas_price_gwei", "safety.yaml"),
        ("guards:\n  max_gas: 1\n", "guards.max_gas", "remove it"),
        ("killswitch:\n  drawdown_flatten: 0.01\n", "killswitch", "drawdown_flatten"),
        ("tx:\n  fee_mode: cheap\n", "tx.fee_mode", "eip1559"),
    ],  # fmt: skip
    ids=["below-floor", "not-a-number", "unknown", "cross-field", "not-a-choice"],
)
def test_a_bad_value_names_its_field_in_one_line(tmp_path, yaml_text, field, hint):
    path = tmp_path / "safety.yaml"
    path.write_text(yaml_text)
    with pytest.raises(SafetyConfigError) as err:
        load_safety_config(path)
    message = str(err.value)
    assert message.startswith(f"safety config field {field}:")
    assert hint in message and "\n" not in message


def test_a_bad_environment_value_says_which_variable(monkeypatch):
    monkeypatch.setenv("KEEPER_GUARDS__MIN_NATIVE_BALANCE_WEI", "-1")
    with pytest.raises(SafetyConfigError, match="unset the environment variable "
                       "KEEPER_GUARDS__MIN_NATIVE_BALANCE_WEI"):  # fmt: skip
        load_safety_config()


def test_an_unreadable_file_is_one_line(tmp_path):
    with pytest.raises(SafetyConfigError, match="cannot read safety config"):
        load_safety_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(SafetyConfigError, match="must be a mapping"):
        load_safety_config(tmp_path / "list.yaml")

"""Limits of the keeper's safety layer: guards, kill switch and transaction manager.

One `SafetyConfig` holds three groups. Values come, lowest priority first, from the typed
defaults below, a YAML file (`load_safety_config(path)`, keys as the field names), and
environment variables prefixed `KEEPER_` with `__` between a group and its field, e.g.
`KEEPER_GUARDS__MAX_GAS_PRICE_GWEI=80` or `KEEPER_TX__GAS_BUMP=1.2`. A bad value fails at load
with a `SafetyConfigError` naming the field, what it holds, and how to fix it (one line).

Units are in the field names: `_s` seconds, `_bps` basis points, `_wei`, `_gwei`, `_quote`
(quote-currency units, e.g. USDC), `_base` (base-asset units, e.g. WETH).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from keeper.errors import KeeperError

ENV_PREFIX = "KEEPER_"
ENV_DELIMITER = "__"

Mode = Literal["running", "reduce_only", "paused", "flatten"]


class SafetyConfigError(KeeperError):
    """The safety configuration is invalid; the message names the field and the fix."""


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class GuardLimits(_Group):
    """Pre-trade checks (`keeper.guards`), re-run on fresh state just before sending."""

    oracle_max_age_s: float = Field(3600.0, gt=0)
    """Oldest oracle answer (now - updatedAt) accepted; older is stale and forces reduce-only."""
    oracle_max_deviation_bps: float = Field(200.0, gt=0)
    """Largest gap between the oracle and the pools' TWAP (or another source) before the
    oracle is distrusted and the keeper goes reduce-only."""
    twap_window_s: int = Field(600, gt=0)
    """Length of the TWAP window read from the pools' cumulative prices."""
    max_notional_per_hedge_quote: float = Field(250_000.0, gt=0)
    """Largest notional one hedge may trade."""
    max_notional_per_hour_quote: float = Field(1_000_000.0, gt=0)
    """Largest notional traded over any rolling hour (summed from the journal)."""
    max_slippage_bps: float = Field(50.0, ge=0)
    """Largest shortfall of the execution price against the reference price."""
    max_gas_price_gwei: float = Field(200.0, gt=0)
    """Refuse to send while the network's gas price (base fee + tip) is above this."""
    min_native_balance_wei: int = Field(5 * 10**16, ge=0)
    """Keep at least this much ETH on the keeper account for gas (0.05 ETH by default)."""


class KillSwitchLimits(_Group):
    """Triggers and hysteresis of the graduated kill switch (`keeper.killswitch`)."""

    drawdown_reduce_only: float = Field(0.05, gt=0, lt=1)
    """Fractional drop of equity from its peak that moves the keeper to reduce-only."""
    drawdown_flatten: float = Field(0.15, gt=0, lt=1)
    """Fractional drop of equity from its peak that flattens every position."""
    error_window_s: float = Field(600.0, gt=0)
    """Window over which each task's errors are counted."""
    max_errors_per_window: int = Field(5, gt=0)
    """Errors of one task within the window that pause the keeper."""
    hedge_error_limit_base: float = Field(50.0, gt=0)
    """Hard limit on |net delta| (book + hedge)."""
    hedge_error_grace_s: float = Field(300.0, ge=0)
    """How long |net delta| may stay beyond the hard limit before the breach trips."""
    hedge_error_action: Mode = "paused"
    """Where a hedge-error breach sends the keeper."""
    oracle_recovery_checks: int = Field(3, gt=0)
    """Consecutive sane oracle checks before reduce-only (entered for the oracle alone) lifts."""

    @model_validator(mode="after")
    def _drawdowns_ordered(self) -> KillSwitchLimits:
        if self.drawdown_flatten <= self.drawdown_reduce_only:
            raise ValueError(
                f"drawdown_flatten ({self.drawdown_flatten}) must exceed drawdown_reduce_only "
                f"({self.drawdown_reduce_only})"
            )
        return self


class TxLimits(_Group):
    """Sending, replacement and retries (`keeper.txmanager`)."""

    fee_mode: Literal["eip1559", "legacy"] = "eip1559"
    """Type-2 transactions (maxFeePerGas, maxPriorityFeePerGas) or legacy gasPrice."""
    priority_fee_gwei: float = Field(1.0, ge=0)
    """Tip offered on a first attempt (EIP-1559); max fee is 2 x base fee + tip."""
    max_fee_cap_gwei: float = Field(500.0, gt=0)
    """No attempt, first or replacement, offers more than this per gas."""
    gas_bump: float = Field(1.125, ge=1.125, le=3.0)
    """Factor each replacement multiplies every fee field by (>= 1.125: nodes refuse less)."""
    max_replacements: int = Field(8, ge=0)
    """Replacements of one transaction before the manager only waits."""
    stuck_blocks: int = Field(3, gt=0)
    """A transaction not mined this many blocks after sending is replaced."""
    stuck_s: float = Field(90.0, gt=0)
    """... or this many seconds after sending, whichever comes first."""
    gas_limit_multiplier: float = Field(1.25, ge=1.0)
    """Headroom on eth_estimateGas."""
    simulate_block: Literal["latest", "pending"] = "latest"
    """Block tag the pre-send eth_call and gas estimate run against."""
    poll_s: float = Field(0.5, gt=0)
    """Pause between receipt polls."""
    wait_timeout_s: float = Field(600.0, gt=0)
    """`wait` gives up (the intent stays `sent`, reconciled later) after this long."""
    rpc_timeout_s: float = Field(10.0, gt=0)
    """Timeout of one JSON-RPC request."""
    rpc_retry_budget_s: float = Field(60.0, ge=0)
    """Total time transient RPC failures are retried (exponential backoff with jitter)."""
    rpc_backoff_initial_s: float = Field(0.2, gt=0)
    """First backoff delay; doubles per retry up to `rpc_backoff_max_s`."""
    rpc_backoff_max_s: float = Field(5.0, gt=0)
    """Longest single backoff delay."""


class SafetyConfig(BaseSettings):
    """Every limit of the keeper's safety layer."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )

    guards: GuardLimits = GuardLimits()
    """Pre-trade checks."""
    killswitch: KillSwitchLimits = KillSwitchLimits()
    """Kill-switch triggers."""
    tx: TxLimits = TxLimits()
    """Transaction manager."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (passed as init values): an operator can change
        # one limit for one run without editing the YAML.
        return env_settings, init_settings


def describe_config_error(
    err: ValidationError, source: str, what: str = "safety config",
    fields_doc: str = "keeper/safety_config.py",
) -> str:  # fmt: skip
    """One line naming the first bad field of a KEEPER_-configurable model and how to fix it:
    in `source` (the YAML) or through the environment variable that would set it."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"] if not str(p).startswith("function-"))
    got = first.get("input")
    env = ENV_PREFIX + ENV_DELIMITER.join(str(p) for p in first["loc"]).upper()
    more = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    shown = "" if isinstance(got, dict | list | tuple) else f" (got {got!r})"
    if first["type"] == "extra_forbidden":
        fix = f"remove it from {source} (see {fields_doc} for the fields)"
    elif env in os.environ:
        fix = f"fix or unset the environment variable {env}"
    else:
        fix = f"fix it in {source} or override it with {env}"
    return f"{what} field {loc}: {first['msg']}{shown}{more}; {fix}"


def load_safety_config(path: str | os.PathLike | None = None, **overrides: Any) -> SafetyConfig:
    """Defaults, then the YAML file at `path` (if given), then `KEEPER_` environment variables.

    `overrides` (group -> dict) are merged over the file, below the environment.
    Raises SafetyConfigError naming the first bad field.
    """
    data: dict[str, Any] = {}
    source = "the YAML file"
    if path is not None:
        source = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise SafetyConfigError(f"cannot read safety config {path}: {err}") from err
        if not isinstance(loaded, dict):
            raise SafetyConfigError(
                f"safety config {path} must be a mapping of groups (guards, killswitch, tx)"
            )
        data.update(loaded)
    for group, values in overrides.items():
        data[group] = {**data.get(group, {}), **values}
    try:
        return SafetyConfig(**data)
    except ValidationError as err:
        raise SafetyConfigError(describe_config_error(err, source)) from err

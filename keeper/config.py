"""The keeper bot's configuration: policy, venues, addresses, execution limits, safety.

Values come, lowest priority first, from the typed defaults below, a YAML file
(`load_keeper_config(path)`, keys as the field names; see keeper/config.example.yaml) and
environment variables prefixed `KEEPER_` with `__` between nested fields, e.g.
`KEEPER_DRY_RUN=false`, `KEEPER_POLICY__KIND=whalley_wilmott`, `KEEPER_EXECUTION__SLIPPAGE_BPS=20`.
The `safety` section is the safety layer's `SafetyConfig` (`keeper.safety_config`); its own
environment overrides keep their documented names (`KEEPER_GUARDS__MAX_GAS_PRICE_GWEI=80`).

A bad value fails at load with a `KeeperConfigError` naming the field (one line).

Addresses left empty are taken from the deployment manifest (`ammlab chain up` writes it), so
the same config runs against the local upstream, a fork of it, or a mainnet fork where every
address is given explicitly. Units are in the field names: `_s` seconds, `_bps` basis points,
`_base` base-asset units (WETH), `_quote` quote units (USDC).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from keeper.errors import KeeperError
from keeper.reader import Addresses
from keeper.safety_config import (
    ENV_DELIMITER,
    ENV_PREFIX,
    SafetyConfig,
    SafetyConfigError,
    describe_config_error,
    load_safety_config,
)
from sim.decisions.hedging import DeltaBand
from sim.decisions.policies import PolicyConfig


class KeeperConfigError(KeeperError):
    """The keeper configuration is invalid; the message names the field and the fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class CpmmVenueConfig(_Section):
    """A constant-product pool (Uniswap V2 pair interface) used as a hedging venue."""

    name: str
    """Label of the venue; with no `address`, the pool of this name in the manifest."""
    address: str | None = None
    """Pair address (Uniswap V2 `getReserves`/`token0`); None: from the manifest."""
    fee_bps: float | None = Field(None, ge=0, lt=10_000)
    """Swap fee; None: from the manifest (a real Uniswap V2 pair charges 30)."""
    gas_units: int = Field(120_000, gt=0)
    """Gas of one router swap, used to price the leg's fixed cost."""
    max_order_base: float = Field(math.inf, gt=0)
    """Per-order cap on |size| on this venue."""
    max_buy_fraction: float = Field(0.5, gt=0, le=1)
    """Never buy more than this share of the pool's base reserve in one order."""
    enabled: bool = True


class PerpVenueConfig(_Section):
    """The perpetual future (`PerpMarket`) used as a hedging venue."""

    name: str = "perp"
    address: str | None = None
    """Market address; None: from the manifest."""
    enabled: bool = True
    gas_units: int = Field(160_000, gt=0)
    """Gas of one `modifyPosition` (see scripts/bench_perp.py)."""
    max_order_base: float = Field(math.inf, gt=0)
    """Per-order cap on |size|."""
    max_position_base: float = Field(math.inf, gt=0)
    """Cap on the keeper's |position| on the perp (Lyra's hedge cap); the rest goes elsewhere."""
    margin_quote: float = Field(200_000.0, ge=0)
    """Margin the keeper keeps deposited; topped up once at start."""
    funding_horizon_s: int = Field(3_600, ge=0)
    """Expected holding time of a hedge, for the funding part of its cost."""


class VenuesConfig(_Section):
    cpmm: tuple[CpmmVenueConfig, ...] = (
        CpmmVenueConfig(name="venue_a"),
        CpmmVenueConfig(name="venue_b"),
    )
    """Constant-product pools to hedge on (traded through the router)."""
    perp: PerpVenueConfig = PerpVenueConfig()
    """The perpetual future."""

    @model_validator(mode="after")
    def _unique(self) -> VenuesConfig:
        names = [v.name for v in self.cpmm] + [self.perp.name]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"venue names must be unique (repeated: {', '.join(sorted(dup))})")
        return self


class AddressesConfig(_Section):
    """Where the contracts are. Empty fields come from the manifest."""

    manifest: Path | None = None
    """Manifest file; None: the ammlab home's (written by `ammlab chain up`)."""
    base_token: str | None = None
    """The risky asset (WETH), an ERC20."""
    quote_token: str | None = None
    """The numeraire (USDC), an ERC20."""
    feed: str | None = None
    """Chainlink AggregatorV3 feed of the base in quote."""
    router: str | None = None
    """The periphery router the pool legs go through."""
    options_pool: str | None = None
    """The options pool whose book is hedged (None and none in the manifest: no options)."""
    perp: str | None = None
    """The perpetual future (or venues.perp.address); None: from the manifest."""
    keeper: str | None = None
    """Hedge account (its perp position and spot base beyond the baseline are the hedge)."""
    lp_account: str | None = None
    """Account whose LP shares of the pools are part of the book; None: the keeper."""


class InventoryConfig(_Section):
    spot_baseline_base: float | None = None
    """Base the hedge account holds that is not a hedge; None: from the manifest, else 0."""
    include_lp: bool = True
    """Count the LP account's shares of the hedging pools in the book."""


class ExecutionConfig(_Section):
    slippage_bps: float = Field(30.0, ge=0, le=2_000)
    """Worst-price tolerance of each leg against the exact twin's quote (router
    amountOutMin/amountInMax, perp acceptable price)."""
    deadline_s: int = Field(120, gt=0)
    """Each leg must be mined within this many seconds of the block it was planned on."""
    max_order_base: float = Field(50.0, gt=0)
    """Largest |order| of one tick, all venues together (the rest waits for the next tick)."""
    min_order_base: float = Field(0.01, ge=0)
    """Orders smaller than this are not sent (dust)."""
    priority_fee_gwei: float = Field(1.0, ge=0)
    """Tip assumed when pricing gas into the venue choice."""
    respect_slippage_in_routing: bool = True
    """Cap each pool leg where its marginal price leaves the guards' max slippage, so a
    planned leg is not refused by the slippage guard."""


class KeeperConfig(BaseSettings):
    """Everything the keeper runtime needs."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )

    dry_run: bool = True
    """Plan and log but never sign; live signing needs `--live` (or dry_run: false)."""
    rpc_url: str | None = None
    """JSON-RPC of the chain to read and send to; None: the fork Ape started, else the
    upstream (AMMLAB_UPSTREAM_RPC)."""
    chain_id: int = Field(1, gt=0)
    """Expected chain id (1: mainnet or a fork of it)."""
    policy: PolicyConfig = DeltaBand()
    """Hedging policy (sim.decisions.hedging), chosen by `kind`."""
    venues: VenuesConfig = VenuesConfig()
    addresses: AddressesConfig = AddressesConfig()
    inventory: InventoryConfig = InventoryConfig()
    execution: ExecutionConfig = ExecutionConfig()
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    """Guards, kill switch and transaction manager limits."""
    journal_path: Path | None = None
    """SQLite journal; None: <ammlab home>/keeper/journal.sqlite."""
    log_path: Path | None = None
    """Also write the JSON-lines log here, rotated at 50 MiB with 5 old files kept."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level logged (outages and failovers are warnings, task errors errors)."""
    poll_s: float = Field(1.0, gt=0)
    """`ammlab keeper run`: seconds between polls for a new block."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return env_settings, init_settings


def load_keeper_config(path: str | os.PathLike | None = None, **overrides: Any) -> KeeperConfig:
    """Defaults, then the YAML at `path`, then `overrides` (top-level fields), then `KEEPER_`
    environment variables. Raises KeeperConfigError naming the first bad field."""
    data: dict[str, Any] = {}
    source = "the keeper config"
    if path is not None:
        source = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise KeeperConfigError(f"cannot read keeper config {path}: {err}") from err
        if not isinstance(loaded, dict):
            raise KeeperConfigError(f"keeper config {path} must be a mapping of fields")
        data.update(loaded)
    data.update(overrides)
    # A section whose fields are all commented out reads as null: treat it as absent.
    data = {k: v for k, v in data.items() if v is not None}
    safety = data.pop("safety", None)
    if not isinstance(safety, SafetyConfig):
        if safety is not None and not isinstance(safety, dict):
            raise KeeperConfigError(
                f"keeper config field safety: must be a mapping of groups (guards, killswitch, "
                f"tx); fix it in {source}"
            )
        try:
            safety = load_safety_config(None, **(safety or {}))
        except SafetyConfigError as err:
            raise KeeperConfigError(f"{err} (section safety of {source})") from err
    try:
        return KeeperConfig(**data, safety=safety)
    except ValidationError as err:
        raise KeeperConfigError(
            describe_config_error(err, source, "keeper config", "keeper/config.example.yaml")
        ) from err


def resolve_addresses(
    cfg: KeeperConfig, manifest: dict[str, Any] | None
) -> tuple[Addresses, float]:
    """Addresses from the config, the gaps filled from the manifest; and the spot baseline."""
    a = cfg.addresses
    m = manifest or {}

    def pick(explicit: str | None, *path: str, required: bool = True) -> str | None:
        if explicit:
            return to_checksum_address(explicit)
        node: Any = m
        for p in path:
            node = node.get(p) if isinstance(node, dict) else None
        if node is None:
            if required:
                raise KeeperConfigError(
                    f"keeper config field addresses.{path[0] if len(path) == 1 else '_'.join(path)}"
                    ": no address given and none in the manifest; set it or run `ammlab chain up`"
                )
            return None
        return to_checksum_address(node if isinstance(node, str) else node["address"])

    pools, fees = {}, {}
    for v in cfg.venues.cpmm:
        if not v.enabled:
            continue
        entry = m.get("pools", {}).get(v.name, {})
        address = v.address or entry.get("address")
        fee = v.fee_bps if v.fee_bps is not None else entry.get("fee_bps")
        if address is None or fee is None:
            raise KeeperConfigError(
                f"keeper config field venues.cpmm.{v.name}: no address/fee_bps given and the "
                "manifest has no pool of that name"
            )
        pools[v.name], fees[v.name] = to_checksum_address(address), float(fee)
    keeper = pick(a.keeper, "keeper") or ""
    addresses = Addresses(
        base_token=pick(a.base_token, "tokens", "WETH"),
        quote_token=pick(a.quote_token, "tokens", "USDC"),
        feed=pick(a.feed, "feed"),
        router=pick(a.router, "router"),
        keeper=keeper,
        lp_account=pick(a.lp_account, "keeper") if (a.lp_account or m.get("keeper")) else keeper,
        pools=pools,
        pool_fees_bps=fees,
        options_pool=pick(a.options_pool, "options", required=False),
        perp=pick(cfg.venues.perp.address or a.perp, "perp", required=False)
        if cfg.venues.perp.enabled
        else None,
    )
    baseline = cfg.inventory.spot_baseline_base
    if baseline is None:
        baseline = float(m.get("keeper", {}).get("weth_baseline", 0.0))
    return addresses, baseline

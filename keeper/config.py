"""The keeper bot's configuration: policy, venues, addresses, execution limits, safety.

Values come, lowest priority first, from the typed defaults below, a YAML file
(`load_keeper_config(path)`, keys as the field names; see keeper/config.example.yaml) and
environment variables prefixed `KEEPER_` with `__` between nested fields, e.g.
`KEEPER_DRY_RUN=false`, `KEEPER_POLICY__KIND=whalley_wilmott`, `KEEPER_EXECUTION__SLIPPAGE_BPS=20`.
The `safety` section is the safety layer's `SafetyConfig` (`keeper.safety_config`); its own
environment overrides keep their documented names (`KEEPER_GUARDS__MAX_GAS_PRICE_GWEI=80`).

A bad value fails at load with a `KeeperConfigError` naming the field (one line).

Addresses left empty are taken from the deployment manifest (`ammlab chain up` writes it: the
suite's or the mainnet preset's), so the same config runs against the local upstream, a fork of
it, or a mainnet fork where every address is given explicitly (`addresses.use_manifest: false`,
as keeper/mainnet.example.yaml). A venue list left out (None) means every pool of that kind the
manifest lists. Units are in the field names: `_s` seconds, `_bps` basis points, `_base`
base-asset units (WETH), `_quote` quote units (USDC), `fee` of a V3 pool in pips (hundredths of
a bp, as the pool's `fee()`).
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
from keeper.venues.base import PoolRef
from keeper.venues.v2 import V2_FEE_BPS
from sim.decisions.hedging import DeltaBand
from sim.decisions.policies import PolicyConfig, RangePolicyConfig, Recentre


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


class UniV2VenueConfig(_Section):
    """A genuine Uniswap V2 pair, traded through UniswapV2Router02 (fee: the protocol's 30 bp)."""

    name: str
    """Label of the venue; with no `address`, the pair of this name in the manifest."""
    address: str | None = None
    """Pair address; None: from the manifest."""
    gas_units: int = Field(120_000, gt=0)
    """Gas of one Router02 swap, used to price the leg's fixed cost."""
    max_order_base: float = Field(math.inf, gt=0)
    max_buy_fraction: float = Field(0.5, gt=0, le=1)
    """Never buy more than this share of the pair's base reserve in one order."""
    enabled: bool = True


class UniV3VenueConfig(_Section):
    """A genuine Uniswap V3 pool, traded through SwapRouter."""

    name: str
    """Label of the venue; with no `address`, the pool of this name in the manifest."""
    address: str | None = None
    """Pool address; None: from the manifest."""
    fee: int | None = Field(None, gt=0, lt=1_000_000)
    """Fee tier in pips (500 = 0.05 %), checked against the pool and its factory; None: the
    manifest's, else the pool's own."""
    gas_units: int = Field(150_000, gt=0)
    """Gas of one SwapRouter swap crossing a few ticks, used to price the leg's fixed cost."""
    max_order_base: float = Field(math.inf, gt=0)
    bitmap_words: int = Field(2, ge=1, le=16)
    """Tick-bitmap words read on each side of the current one (256 x tick spacing ticks
    each): the price range inside which the keeper knows the pool's ticks and trades."""
    enabled: bool = True


VenueConfig = CpmmVenueConfig | UniV2VenueConfig | UniV3VenueConfig
POOL_KINDS = ("cpmm", "univ2", "univ3")
_DEFAULTS = {"cpmm": CpmmVenueConfig, "univ2": UniV2VenueConfig, "univ3": UniV3VenueConfig}


class VenuesConfig(_Section):
    cpmm: tuple[CpmmVenueConfig, ...] | None = None
    """ammlab's constant-product pools (traded through Router.vy); None: every pool the
    manifest lists under `pools`."""
    univ2: tuple[UniV2VenueConfig, ...] | None = None
    """Genuine Uniswap V2 pairs; None: every pair the manifest lists (`uniswap_v2.pairs`)."""
    univ3: tuple[UniV3VenueConfig, ...] | None = None
    """Genuine Uniswap V3 pools; None: every pool the manifest lists (`uniswap_v3.pools`)."""
    perp: PerpVenueConfig = PerpVenueConfig()
    """The perpetual future."""

    @model_validator(mode="after")
    def _unique(self) -> VenuesConfig:
        names = [v.name for kind in POOL_KINDS for v in getattr(self, kind) or ()]
        names.append(self.perp.name)
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"venue names must be unique (repeated: {', '.join(sorted(dup))})")
        return self

    def settings(self, kind: str, name: str) -> VenueConfig | None:
        """The entry for pool `name` of `kind`: its defaults where the list is left out, None
        (not a venue) where the list is given without it."""
        entries = getattr(self, kind)
        if entries is None:
            return _DEFAULTS[kind](name=name)
        return next((v for v in entries if v.name == name), None)


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
    """ammlab's Router.vy, which the `cpmm` pools' legs go through."""
    v2_router: str | None = None
    """UniswapV2Router02, which the `univ2` pairs' legs go through."""
    v2_factory: str | None = None
    """UniswapV2Factory: each `univ2` pair must be its `getPair(base, quote)`; None: from the
    manifest, else unchecked."""
    v3_swap_router: str | None = None
    """SwapRouter, which the `univ3` pools' legs go through."""
    v3_factory: str | None = None
    """UniswapV3Factory: each `univ3` pool must be its `getPool(base, quote, fee)` of a tier
    it knows; None: from the manifest, else unchecked."""
    v3_position_manager: str | None = None
    """NonfungiblePositionManager holding the `range` section's position; None: from the
    manifest."""
    use_manifest: bool = True
    """False: every address comes from this config, none from a manifest (a config for real
    mainnet and forks of it, keeper/mainnet.example.yaml)."""
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


class RangeConfig(_Section):
    """A concentrated-liquidity position the keeper manages (`keeper.ranges`): a
    NonfungiblePositionManager token it owns in one of its `univ3` venues, moved by a range
    policy (`sim.decisions.ranges`, the simulator's) and hedged with the rest of the book."""

    pool: str
    """The `univ3` venue the position is in."""
    position_id: int = Field(gt=0)
    """The manager's token id of the position the keeper holds now (after a move, the journal
    knows the new one)."""
    policy: RangePolicyConfig = Recentre()
    """Range policy, chosen by `kind` (static, recentre, vol_width, periodic, none)."""
    slippage_bps: float = Field(50.0, ge=0, le=2_000)
    """Tolerance of each step's minimum amounts against the exact twin's (decrease and mint
    amount0Min/amount1Min, the swap's amountOutMinimum and price limit)."""
    deadline_s: int = Field(120, gt=0)
    """Each step must be mined within this many seconds of the block it was planned on."""
    vol_origin_s: float = Field(0.0, ge=0)
    """Clock time (unix seconds) where σ̂'s price grid starts (the simulator's run starts at 0)."""


class MetricsConfig(_Section):
    """The Prometheus endpoint (`/metrics`) and liveness probe (`/healthz`) of a running
    keeper (keeper/metrics.py)."""

    port: int | None = Field(None, ge=0, le=65_535)
    """Serve on this port (0: any free one); None: no endpoint."""
    host: str = "127.0.0.1"
    """Interface to listen on (0.0.0.0 to let a Prometheus on another host scrape)."""
    stale_after_s: float = Field(120.0, gt=0)
    """`/healthz` answers 503 once the last tick is older than this."""


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
    account: str | None = None
    """Ape account alias that signs (`ape accounts import ALIAS`; its passphrase from
    APE_ACCOUNTS_<ALIAS>_PASSPHRASE for unattended runs). None: a raw key from
    AMMLAB_KEEPER_KEY, else anvil's dev key for the keeper role — on development chains only."""
    force_raw_key: bool = False
    """Sign with a raw key on a chain that is not a local development chain (explicitly)."""
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
    metrics: MetricsConfig = MetricsConfig()
    """The Prometheus endpoint (off unless `metrics.port` is set)."""
    range: RangeConfig | None = None
    """A concentrated position the keeper manages and hedges; None: none."""

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
    """Addresses from the config, the gaps filled from the manifest (unless
    `addresses.use_manifest` is false); and the spot baseline."""
    a = cfg.addresses
    m = (manifest or {}) if a.use_manifest else {}

    def node(*path: str) -> Any:
        here: Any = m
        for p in path:
            here = here.get(p) if isinstance(here, dict) else None
        return here

    def pick(explicit: str | None, field: str, *path: str, required: bool = True) -> str | None:
        if explicit:
            return to_checksum_address(explicit)
        found = node(*path)
        if found is None:
            if required:
                where = "none in the manifest; set it or run `ammlab chain up`" if m else (
                    "no manifest is used; set it")  # fmt: skip
                raise KeeperConfigError(
                    f"keeper config field addresses.{field}: no address given and {where}"
                )
            return None
        return to_checksum_address(found if isinstance(found, str) else found["address"])

    pools: dict[str, PoolRef] = {}
    listed = {"cpmm": node("pools"), "univ2": node("uniswap_v2", "pairs"),
              "univ3": node("uniswap_v3", "pools")}  # fmt: skip
    for kind in POOL_KINDS:
        entries = getattr(cfg.venues, kind)
        if entries is None:
            entries = [_DEFAULTS[kind](name=n) for n in listed[kind] or {}]
        for v in entries:
            if not v.enabled:
                continue
            entry = (listed[kind] or {}).get(v.name) or {}
            address = v.address or entry.get("address")
            if address is None:
                raise KeeperConfigError(
                    f"keeper config field venues.{kind}.{v.name}: no address given and the "
                    "manifest has no pool of that name"
                )
            pools[v.name] = _pool_ref(kind, v, to_checksum_address(address), entry, a, pick)
    keeper = pick(a.keeper, "keeper", "keeper") or ""
    lp = a.lp_account or node("keeper")
    addresses = Addresses(
        base_token=pick(a.base_token, "base_token", "tokens", "WETH"),
        quote_token=pick(a.quote_token, "quote_token", "tokens", "USDC"),
        feed=pick(a.feed, "feed", "feed"),
        keeper=keeper,
        lp_account=pick(a.lp_account, "lp_account", "keeper") if lp else keeper,
        pools=pools,
        options_pool=pick(a.options_pool, "options_pool", "options", required=False),
        position_manager=pick(
            a.v3_position_manager, "v3_position_manager", "uniswap_v3", "position_manager"
        )
        if cfg.range
        else None,  # fmt: skip
        perp=pick(cfg.venues.perp.address or a.perp, "perp", "perp", required=False)
        if cfg.venues.perp.enabled
        else None,
    )
    baseline = cfg.inventory.spot_baseline_base
    if baseline is None:
        baseline = float((node("keeper") or {}).get("weth_baseline", 0.0))
    return addresses, baseline


_ROUTERS = {"cpmm": ("router", "router"), "univ2": ("v2_router", "uniswap_v2", "router"),
            "univ3": ("v3_swap_router", "uniswap_v3", "swap_router")}  # fmt: skip
_FACTORIES = {"univ2": ("v2_factory", "uniswap_v2", "factory"),
              "univ3": ("v3_factory", "uniswap_v3", "factory")}  # fmt: skip


def _pool_ref(
    kind: str, v: VenueConfig, address: str, entry: dict, a: AddressesConfig, pick
) -> PoolRef:
    """One pool's `PoolRef`: its router and factory from `addresses` or the manifest."""
    field, *path = _ROUTERS[kind]
    router = pick(getattr(a, field), field, *path)
    if kind == "cpmm":
        fee = v.fee_bps if v.fee_bps is not None else entry.get("fee_bps")
        if fee is None:
            raise KeeperConfigError(
                f"keeper config field venues.cpmm.{v.name}.fee_bps: not given and the manifest "
                "has no fee for it"
            )
        return PoolRef(v.name, "cpmm", address, router, float(fee))
    field, *path = _FACTORIES[kind]
    factory = pick(getattr(a, field), field, *path, required=False)
    if kind == "univ2":
        return PoolRef(v.name, "univ2", address, router, float(V2_FEE_BPS), factory=factory)
    fee = v.fee if v.fee is not None else entry.get("fee")
    return PoolRef(v.name, "univ3", address, router, (fee or 0) / 100, fee_pips=fee,
                   factory=factory, bitmap_words=v.bitmap_words)  # fmt: skip


def explicit_venues(cfg: KeeperConfig, addresses: Addresses) -> KeeperConfig:
    """`cfg` with each venue list left out (None) spelled out as the pools `addresses` hold
    (their defaults), so venues can be disabled by name (`without_venues`)."""
    update = {}
    for kind in POOL_KINDS:
        if getattr(cfg.venues, kind) is None:
            update[kind] = tuple(
                _DEFAULTS[kind](name=r.name) for r in addresses.pools.values() if r.kind == kind
            )
    if not update:
        return cfg
    return cfg.model_copy(update={"venues": cfg.venues.model_copy(update=update)})


def without_venues(cfg: KeeperConfig, names: set[str] | dict[str, str]) -> KeeperConfig:
    """`cfg` with the venues called `names` disabled (for re-planning around them)."""
    v = cfg.venues
    update = {
        kind: tuple(c.model_copy(update={"enabled": False}) if c.name in names else c
                    for c in getattr(v, kind) or ())
        for kind in POOL_KINDS
    }  # fmt: skip
    update["perp"] = (
        v.perp.model_copy(update={"enabled": False}) if v.perp.name in names else v.perp
    )
    return cfg.model_copy(update={"venues": v.model_copy(update=update)})


def venue_names(cfg: KeeperConfig) -> set[str]:
    names = {c.name for kind in POOL_KINDS for c in getattr(cfg.venues, kind) or () if c.enabled}
    return names | ({cfg.venues.perp.name} if cfg.venues.perp.enabled else set())

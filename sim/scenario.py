"""The scenario: one YAML file, validated, composed from the configs of its parts.

A scenario holds the reference price process (`sim.processes`), the block clock and gas
(`sim.blocks`), the venues (one list per scenario field of each venue kind in
`sim.venues.registry`: pools, oracles, perps, ...), the agents (the generic kinds in
`sim.agents` plus each venue's own) and what to record (`sim.engine.ledger.MetricsConfig`).
Every model forbids unknown keys; a bad file fails at load time with one line naming the
dotted path of the field and what to do. References between entries (a TWAP's pool, an
agent's venue) are declared by each model's `refs()` and checked here.

Units: time in seconds, volatility and drift annualised (365-day year) unless a field says
otherwise, prices in numeraire per risky asset, amounts in token units, fees in basis points.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import Field, ValidationError, create_model, model_validator

from sim.agents.kinds import GENERIC_AGENTS
from sim.blocks import BlocksConfig, GasConfig
from sim.config import ConfigModel
from sim.engine.ledger import MetricsConfig
from sim.errors import ConfigError
from sim.history.agent import FlowConfig
from sim.processes import GBMConfig, PriceConfig, ReplayConfig
from sim.venues.registry import VENUES

AGENT_KINDS = (*GENERIC_AGENTS, *(a for v in VENUES for a in v.agents))
"""Every agent class a scenario can name (its `config` is the scenario model)."""
AgentConfig = Annotated[
    Union[tuple(a.config for a in AGENT_KINDS)],  # noqa: UP007 - a runtime-built union
    Field(discriminator="kind"),
]


class _ScenarioBase(ConfigModel):
    name: str = "scenario"
    """Scenario name."""
    seed: int = Field(0, ge=0)
    """Seed; same seed, same bytes out."""
    paths: int = Field(1000, ge=1)
    """Number of worlds."""
    price: PriceConfig = GBMConfig(sigma_per_day=0.05)
    """Reference (CEX) price process."""
    blocks: BlocksConfig = BlocksConfig()
    """Block clock and ordering."""
    gas: GasConfig = GasConfig()
    """Base fee and gas units."""
    flow: FlowConfig | None = None
    """A pulled pool's recorded swaps and liquidity events replayed through a scenario pool."""


def _venue_fields() -> dict[str, Any]:
    """One list field per scenario field of each venue kind, in registry order. A scenario
    with no `pools` key gets one default pool (the reference shape); every other list starts
    empty."""
    out: dict[str, Any] = {}
    for v in VENUES:
        for field_name, config, doc in v.fields:
            default = (lambda c=config: [c()]) if field_name == "pools" else list
            out[field_name] = (list[config], Field(default_factory=default, description=doc))
    return out


def _references(sc):
    """Names unique per list; every `refs()` of an entry names an entry of its field; each
    entry's own `check`."""
    names: dict[str, set[str]] = {}
    for field_name in type(sc).model_fields:
        entries = getattr(sc, field_name)
        if not isinstance(entries, list) or field_name == "agents":
            continue
        counts = Counter(e.name for e in entries)
        dup = [n for n, k in counts.items() if k > 1]
        if dup:
            raise ValueError(f"names in '{field_name}' must be unique: '{dup[0]}' repeats")
        names[field_name] = set(counts)
    if len({a.name for a in sc.agents}) != len(sc.agents):
        raise ValueError("agent names must be unique")
    entries = [e for f in names for e in getattr(sc, f)] + list(sc.agents)
    for e in entries:
        for fields, name, message in e.refs():
            if name is not None and not any(name in names.get(f, ()) for f in fields):
                raise ValueError(message)
    for e in entries:
        e.check(sc)
    return sc


Scenario = create_model(
    "Scenario",
    __base__=_ScenarioBase,
    __doc__="A complete simulation scenario.",
    __validators__={"references": model_validator(mode="after")(_references)},
    **_venue_fields(),
    agents=(
        list[AgentConfig],
        Field(
            default_factory=lambda: [GENERIC_AGENTS[0].config()],
            description="Agents, in configuration (FIFO) order.",
        ),
    ),
    metrics=(MetricsConfig, Field(MetricsConfig(), description="Recording.")),
)


# ---------------------------------------------------------------- loading


def _format_error(err: ValidationError, source: str) -> str:
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"]) or "<root>"
    kind = e["type"]
    if kind == "extra_forbidden":
        hint = "remove it or check its spelling"
    elif kind == "missing":
        hint = "add it"
    elif not e["loc"]:
        hint = "fix the field it names"  # a whole-scenario check: its input is the scenario
    else:
        hint = f"got {e.get('input')!r}; fix the value"
    more = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{source}: {loc}: {e['msg']}; {hint}{more}"


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = data
    default: Any = Scenario().model_dump(mode="json")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            try:
                idx = int(part)
                node[idx]  # noqa: B018 - bounds check
            except (ValueError, IndexError) as err:
                raise ConfigError(
                    f"--set {dotted}: '{part}' is not an index of a list of {len(node)}"
                ) from err
            default = None
            if last:
                node[idx] = value
            else:
                node = node[idx]
        elif isinstance(node, dict):
            default = default.get(part) if isinstance(default, dict) else None
            if last:
                node[part] = value
            elif part not in node:
                # A list left at its default is copied so 'agents.0.x=...' edits the default
                # agent; a missing mapping starts empty so its own defaults (and kind) apply.
                node[part] = list(default) if isinstance(default, list) else {}
                node = node[part]
            else:
                node = node[part]
        else:
            raise ConfigError(f"--set {dotted}: '{part}' goes inside a scalar; check the path")


def parse_override(text: str) -> tuple[str, Any]:
    """Split 'dotted.path=value' and parse the value as a YAML scalar."""
    if "=" not in text:
        raise ConfigError(f"--set {text}: expected dotted.path=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {text}: value is not a YAML scalar ({err})") from err
    return key.strip(), value


def scenario_from_dict(
    data: dict[str, Any], overrides: list[str] | None = None, source: str = "scenario"
) -> Scenario:
    """Validate a scenario dict after applying 'dotted.path=value' overrides.

    Raises:
        ConfigError: one line with the field's dotted path and what to do.
    """
    data = dict(data or {})
    for text in overrides or []:
        key, value = parse_override(text)
        _set_dotted(data, key, value)
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_error(err, source)) from err


def load_scenario(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Load and validate a YAML scenario; relative CSV paths resolve against its folder.

    Raises:
        ConfigError: unreadable file, bad YAML or an invalid field.
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as err:
        raise ConfigError(f"{p}: cannot read the scenario ({err.strerror})") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{p}: not valid YAML ({str(err).splitlines()[0]})") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of scenario fields")
    sc = scenario_from_dict(data, overrides, source=str(p))
    if isinstance(sc.price, ReplayConfig):
        for key in ("path", "source"):
            value = getattr(sc.price, key)
            if value is not None and not Path(value).is_absolute():
                setattr(sc.price, key, str((p.parent / value).resolve()))
    if sc.flow is not None and not Path(sc.flow.source).is_absolute():
        sc.flow.source = str((p.parent / sc.flow.source).resolve())
    return sc

"""The cross-protocol arbitrage study: who profits and how much the LPs lose, against fee tier,
block time, gas price and oracle latency.

The study is scenarios on the engine: a baseline (`scenarios/arbitrage/baseline.yaml`: three
tokens on a correlated GBM, constant-product pools on token pairs, the reference market, an
oracle-priced perp and an options pool's forwards, one `graph_arbitrageur`; see the file) and
its variants, one factor changed at a time, run as a sweep (`sim.studies.sweep`: every run
through `sim.run`, resumable, local processes or Dask). All variants share the seed (common
random numbers). `ammlab study arbitrage` prints the table and writes `arbitrage.json`, which
`ammlab report` reads.

A factor is a study-level quantity that may set several scenario fields (`overrides`):

* `block_time` sets the block time and the number of blocks (`hours` of simulated time), and
  with it the oracle's delay in blocks;
* `oracle_latency` (seconds) is the pipelined oracle's `latency_blocks`, rounded to whole
  blocks (the perp and the options pool read that oracle);
* `fee_tier_bps` is the fee of the pools named in `TIER_POOLS`; `gas_gwei` the base fee;
  `max_cycles` the arbitrageur's cycles per block; `options_spot_fee`, `options_liquidity`
  the options pool's spot fee and LP deposit.

Any dotted scenario field (`agents.0.cex_fee_bps`) may be varied or set too, as is.

Every figure is the arbitrageur's `graph_arb.<name>.<metric>` column (per day, USD at the
reference prices), mean ± SE over worlds; the accounting is in `sim.agents.graph_arb`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.atomic import atomic_write_json
from sim.errors import ConfigError
from sim.scenario import load_scenario, parse_override

BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "arbitrage" / "baseline.yaml"
STUDY_FILE = "arbitrage.json"
TIER_POOLS = ("weth_usdc_t", "wbtc_usdc_t", "wbtc_weth_t")
"""Pools whose fee is the studied fee tier (the others keep theirs)."""

FACTORS: dict[str, tuple[str, str]] = {
    "fee_tier_bps": ("fee tier", "bp"),
    "block_time": ("block time", "s"),
    "gas_gwei": ("gas price", "gwei"),
    "oracle_latency": ("oracle latency", "s"),
    "max_cycles": ("cycles per block", ""),
    "options_spot_fee": ("options spot fee", ""),
    "options_liquidity": ("options liquidity", "USD"),
}
"""Study factors: name -> (label, unit)."""
DEFAULT_LEVELS: dict[str, list[Any]] = {
    "fee_tier_bps": [1.0, 5.0, 30.0, 100.0],
    "block_time": [2.0, 12.0, 60.0],
    "gas_gwei": [0.0, 10.0, 100.0],
    "oracle_latency": [0.0, 12.0, 60.0, 300.0],
}

TABLES: dict[str, list[tuple[str, str]]] = {
    "main": [
        ("volume", "arb volume"),
        ("profit", "arb profit (net of gas)"),
        ("lvr", "LP LVR"),
        ("fees", "LP fees"),
        ("lp_loss", "LP loss (LVR − fees)"),
        ("perp_loss", "perp LP loss"),
        ("options_volume", "options volume"),
        ("options_profit", "options arb profit"),
        ("options_loss", "options LP loss"),
        ("cycles", "cycles/day"),
    ],
    "options": [
        ("options_volume", "options volume"),
        ("options_profit", "options arb profit"),
        ("options_lvr", "options LVR"),
        ("options_fees", "options fees"),
        ("options_loss", "options LP loss"),
        ("perp_loss", "perp LP loss"),
        ("profit", "arb profit (all)"),
    ],
}
"""Table columns: the arbitrageur's metric (`graph_arb.<name>.<metric>`) and its label;
every one USD/day at reference prices but cycles (1/day)."""


@dataclass
class Design:
    """What the study's variants are made of: the baseline scenario's factor values and where
    each factor lives in it."""

    scenario: Path
    hours: float
    base: dict[str, Any]
    """Factor values of the baseline (after --set)."""
    extra: list[str] = field(default_factory=list)
    """Scenario overrides that are not factors, applied to every variant."""
    where: dict[str, Any] = field(default_factory=dict)
    """Indices of the tier pools, the oracle, the arbitrageur and the options pool."""
    agent: str = ""
    """The arbitrageur's name (its columns' prefix)."""


def _scalar(text: str, what: str) -> Any:
    return parse_override(f"{what}={text}")[1]


def design(scenario: Path, hours: float, sets: list[str]) -> Design:
    """The baseline's factor values and locations, with `--set KEY=VALUE` applied (a factor
    name, or a dotted scenario field).

    Raises:
        ConfigError: a bad file, field or value, in one line.
    """
    extra = []
    factor_sets = {}
    for text in sets:
        key, value = parse_override(text)
        if key in ("seed", "paths", "name"):
            raise ConfigError(f"--set {key}: the study sets it (--seed, --worlds); leave it out")
        if key in FACTORS:
            factor_sets[key] = value
        else:
            extra.append(text)
    sc = load_scenario(scenario, extra)
    arbs = [i for i, a in enumerate(sc.agents) if a.kind == "graph_arbitrageur"]
    if not arbs:
        raise ConfigError(f"{scenario}: agents: the study needs a graph_arbitrageur")
    perps = sc.oracle_perps or []
    feed = perps[0].oracle if perps else None
    oracle = next((i for i, o in enumerate(sc.oracles) if o.name == feed), None)
    names = [p.name for p in sc.pools]
    where = {
        "tiers": [names.index(p) for p in TIER_POOLS if p in names],
        "oracle": oracle,
        "agent": arbs[0],
        "options": 0 if sc.options_pools else None,
    }
    bt = sc.blocks.block_time
    base: dict[str, Any] = {
        "block_time": bt,
        "gas_gwei": sc.gas.base_fee_gwei,
        "max_cycles": sc.agents[arbs[0]].max_cycles,
    }
    if where["tiers"]:
        base["fee_tier_bps"] = sc.pools[where["tiers"][0]].fee_bps
    if oracle is not None:
        base["oracle_latency"] = sc.oracles[oracle].latency_blocks * bt
    if sc.options_pools:
        base["options_spot_fee"] = sc.options_pools[0].spot_price_fee
        base["options_liquidity"] = sc.options_pools[0].liquidity
    for key, value in factor_sets.items():
        if key not in base:
            raise ConfigError(f"--set {key}: the scenario has nothing this factor changes")
        base[key] = value
    return Design(Path(scenario), hours, base, extra, where, sc.agents[arbs[0]].name)


def overrides(d: Design, point: dict[str, Any]) -> list[str]:
    """The scenario overrides of a study point (factor values, dotted fields as is)."""
    w = d.where
    v = {**d.base, **{k: x for k, x in point.items() if k in FACTORS}}
    bt = float(v["block_time"])
    out = [f"blocks.block_time={bt:g}", f"blocks.n_blocks={max(1, math.ceil(d.hours * 3600 / bt))}"]
    out += [
        f"gas.base_fee_gwei={v['gas_gwei']}",
        f"agents.{w['agent']}.max_cycles={v['max_cycles']}",
    ]
    out += [f"pools.{i}.fee_bps={v['fee_tier_bps']}" for i in w["tiers"]]
    if w["oracle"] is not None:
        lag = round(float(v["oracle_latency"]) / bt)
        out.append(f"oracles.{w['oracle']}.latency_blocks={lag}")
    if w["options"] is not None:
        out.append(f"options_pools.0.spot_price_fee={v['options_spot_fee']}")
        out.append(f"options_pools.0.liquidity={v['options_liquidity']}")
    dotted = [f"{k}={x}" for k, x in point.items() if k not in FACTORS and k != "factor"]
    return out + d.extra + dotted


def one_at_a_time(d: Design, levels: dict[str, list[Any]] | None = None) -> list[dict[str, Any]]:
    """The baseline and every level of every factor with the others at the baseline, each a
    point {"factor": name, name: value} ("baseline" for the baseline); levels equal to the
    baseline's are left out (the baseline row stands for them)."""
    levels = DEFAULT_LEVELS if levels is None else levels
    points: list[dict[str, Any]] = [{"factor": "baseline"}]
    for f, vals in levels.items():
        if f in FACTORS and f not in d.base:
            raise ConfigError(f"--levels {f}: the scenario has nothing this factor changes")
        for v in vals:
            if f in d.base and v == d.base[f]:
                continue
            points.append({"factor": f, f: v})
    return points


def run_study(
    d: Design,
    points: list[dict[str, Any]],
    out: Path,
    worlds: int,
    seed: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    report=None,
) -> dict[str, Any]:
    """Run the points as a sweep into `out` (resumable) and write `out/arbitrage.json`;
    returns what it wrote (see `collect`)."""
    from sim.studies.sweep import run_id, run_sweep, variant_id

    variants = [overrides(d, p) for p in points]
    _check_folder(out, worlds)
    seed = seed if seed is not None else load_scenario(d.scenario).seed
    r = run_sweep(
        d.scenario, out, [], paths=worlds, workers=workers, scheduler=scheduler,
        report=report, variants=variants, run_seed=seed,
    )  # fmt: skip
    rids = [run_id(variant_id(v), seed) for v in variants]
    study = collect(d, points, variants, rids, out, worlds, seed)
    study["counts"] = {k: r[k] for k in ("total", "skipped", "ok", "failed")}
    atomic_write_json(out / STUDY_FILE, study)
    return study


def _check_folder(out: Path, worlds: int) -> None:
    from sim.studies.sweep import SWEEP_FILE

    path = out / SWEEP_FILE
    if path.exists():
        held = json.loads(path.read_text()).get("paths")
        if held not in (None, worlds):
            raise ConfigError(
                f"{out} holds a study of {held} worlds; give --worlds {held} to resume it, or "
                "another --out folder"
            )


def collect(d, points, variants, rids, out: Path, worlds: int, seed: int) -> dict[str, Any]:
    """The study's JSON: its design and, per point, its status and every metric of its run."""
    from sim.studies.sweep import FAILED, RUNS

    rows = []
    for p, ov, rid in zip(points, variants, rids, strict=True):
        f = p["factor"]
        label, unit = FACTORS.get(f, (f, ""))
        row: dict[str, Any] = {
            "factor": f,
            "label": label,
            "value": p.get(f),
            "unit": unit,
            "run_id": rid,
            "overrides": ov,
        }
        summary = out / RUNS / rid / "summary.json"
        if summary.exists():
            row["status"] = "ok"
            row["metrics"] = json.loads(summary.read_text())["metrics"]
        else:
            row["status"] = "failed"
            err = out / FAILED / rid / "run.json"
            row["error"] = json.loads(err.read_text())["error"] if err.exists() else "not run"
        rows.append(row)
    return {
        "study": "arbitrage",
        "scenario": str(d.scenario),
        "worlds": worlds,
        "hours": d.hours,
        "seed": seed,
        "baseline": d.base,
        "agent": d.agent,
        "tables": {k: [list(c) for c in cols] for k, cols in TABLES.items()},
        "points": rows,
    }


def pm_text(m: dict[str, Any] | None, digits: int = 0) -> str:
    """'mean ± SE' of a summary entry, thousands separated, `digits` decimals."""
    if not m or m.get("mean") is None or not math.isfinite(m["mean"]):
        return "–"
    se = m.get("se")
    if se is None or not math.isfinite(se):
        return f"{m['mean']:,.{digits}f}"
    return f"{m['mean']:,.{digits}f} ± {se:,.{digits}f}"


def value_text(row: dict[str, Any]) -> str:
    """A point's varied value with its unit ('' for the baseline)."""
    v = row.get("value")
    if v is None:
        return ""
    text = f"{v:,g}" if _number(v) else str(v)
    return f"{text} {row.get('unit', '')}".strip()


def factor_curves(study: dict[str, Any]) -> list[tuple[str, str, list[float], list[dict]]]:
    """Per varied factor with numeric levels: (label, unit, values, metrics of each value),
    sorted by value, the baseline's run standing at the baseline's value."""
    ok = [p for p in study["points"] if p["status"] == "ok"]
    base = [p for p in ok if p["factor"] == "baseline"]
    out = []
    for f in dict.fromkeys(p["factor"] for p in ok if p["factor"] != "baseline"):
        pts = [(p["value"], p) for p in ok if p["factor"] == f]
        pts += [(study["baseline"].get(f), b) for b in base]
        pts = sorted(((v, p) for v, p in pts if _number(v)), key=lambda t: t[0])
        if len(pts) >= 2:
            label, unit = FACTORS.get(f, (f, ""))
            out.append((label, unit, [float(v) for v, _ in pts], [p["metrics"] for _, p in pts]))
    return out


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def markdown_table(study: dict[str, Any], table: str = "main") -> str:
    """One row per point: the varied factor and its value, then each column as mean ± SE."""
    cols = TABLES[table]
    head = ["varied", "value"] + [label for _, label in cols]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    prefix = f"graph_arb.{study['agent']}."
    for r in study["points"]:
        if r["status"] != "ok":
            lines.append(f"| {r['label']} | {value_text(r)} | failed: {r.get('error', '')} |")
            continue
        cells = [r["label"], value_text(r)]
        cells += [pm_text(r["metrics"].get(prefix + k)) for k, _ in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_levels(texts: list[str]) -> dict[str, list[Any]]:
    """`FACTOR=V1,V2,...` options (a factor name or a dotted scenario field) as lists of
    values (YAML scalars)."""
    out: dict[str, list[Any]] = {}
    for text in texts:
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key or not raw.strip():
            raise ConfigError(f"--levels {text}: write FACTOR=V1,V2,...")
        if key not in FACTORS and "." not in key:
            raise ConfigError(
                f"--levels {key}: not a study factor ({', '.join(FACTORS)}) nor a dotted "
                "scenario field"
            )
        out[key] = [_scalar(v.strip(), key) for v in raw.split(",")]
    return out

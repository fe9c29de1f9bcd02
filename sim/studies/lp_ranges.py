"""`ammlab study lp-ranges`: active liquidity management over range width × volatility × fee
tier × range policy, as a sweep of scenarios/lp_ranges.yaml (resumable, local processes or a
Dask cluster: `sim.studies.sweep`).

Every variant is one run of the base scenario: the keeper's 1 M V3 position managed by the
range policy and delta-hedged on a perp. Per variant the study reports, mean ± SE over the
run's worlds (`keeper.keeper.*` of summary.json): the position's LP fees, its LVR, the range
moves' cost (gas, swap fees, impact), the hedged P&L's mean, standard deviation and CVaR 95 %,
and the time in range.

It then compares the best static width per volatility level with the published first-order
rule for whether to concentrate at all: a position loses LVR at σ²/8 of its value per unit time
on the full range (Milionis, Moallemi, Roughgarden, Zhang 2022, "Automated Market Making and
Loss-Versus-Rebalancing") and concentrating adds expected value only when the fee yield of the
full range exceeds it (the "Tick Choice Rule" note: θ > σ²/8 · (l + 1), with l the LP's share
of the liquidity, ≈ 0 here); and with the ordering of Cartea, Drissi and Monga (2024,
"Decentralised Finance and Automated Market Making: Predictable Loss and Optimal Liquidity
Provision", SIAM J. Financial Math.), whose optimal range widens with volatility and narrows
with the pool's profitability. The fee and LVR yields are the pool's own full-range position's
measured rates (`v3.v3.full.fee_rate`, `.lvr_rate`) in the static runs. Differences are
reported as found.

The study file (`STUDY_FILE` in the sweep folder) is what `ammlab report` turns into its
section and what `format_table` prints.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sim.atomic import atomic_write_json, atomic_write_text
from sim.errors import ConfigError
from sim.studies.sweep import load_summary, run_sweep

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "lp_ranges.yaml"
STUDY_FILE = "lp_ranges.json"
TABLE_FILE = "lp_ranges.md"
FORMAT = "ammlab.study.lp_ranges/1"

AXES = {
    "width": "agents.3.v3.width",
    "sigma": "price.sigma_per_day",
    "fee": "v3_pools.0.fee",
    "policy": "agents.3.range_policy.kind",
}
"""Study axis -> the base scenario's field it sets."""
GRID: dict[str, list] = {
    "width": [0.015, 0.04, 0.1, 0.3],
    "sigma": [0.02, 0.05, 0.1],
    "fee": [500, 3000, 10000],
    "policy": ["static", "recentre", "vol_width", "periodic", "none"],
}
"""The default grid: relative half-widths (the narrowest spans the 1 % tier's 200-tick
spacing), volatility per day, fee tiers (pips), policies."""
POLICIES = ("static", "recentre", "vol_width", "periodic", "none")
METRICS = {
    "lp_fees": "LP fees",
    "lp_lvr": "LVR",
    "rebalance_cost": "rebalancing cost",
    "pnl": "hedged P&L",
    "pnl_std": "P&L std",
    "pnl_cvar95": "P&L CVaR 95 %",
    "time_in_range": "time in range",
}
"""keeper.keeper.<metric> columns the study reports, with their labels."""
KEEPER = "keeper.keeper."
FULL = "v3.v3.full."


def parse_grid(text: dict[str, str | None]) -> dict[str, list]:
    """The grid with any axis replaced by a comma-separated list; ConfigError names the
    option and what it takes."""
    grid = {k: list(v) for k, v in GRID.items()}
    for axis, raw in text.items():
        if raw is None:
            continue
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        try:
            if axis == "policy":
                bad = [p for p in parts if p not in POLICIES]
                if bad:
                    raise ValueError(f"unknown policy {bad[0]!r}")
                values: list = parts
            elif axis == "fee":
                values = [int(p) for p in parts]
            else:
                values = [float(p) for p in parts]
                if any(not v > 0 for v in values):
                    raise ValueError("values must be > 0")
        except ValueError as err:
            allowed = ", ".join(POLICIES) if axis == "policy" else "numbers, e.g. 0.01,0.05"
            raise ConfigError(f"--{axis}s {raw!r}: {err}; give comma-separated {allowed}") from err
        if not values:
            raise ConfigError(f"--{axis}s: give at least one value")
        grid[axis] = values
    return grid


def run_study(
    out: Path,
    grid: dict[str, list] | None = None,
    paths: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    scenario: Path = SCENARIO,
    replicates: int = 1,
    report=None,
    planned=None,
) -> dict[str, Any]:
    """Run (or resume) the sweep into `out`, then write the study file and its table.

    Returns the sweep's counts (`sim.studies.sweep.run_sweep`) with the study under "study"
    (None when no run finished)."""
    grid = grid or GRID
    specs = [f"{AXES[a]}={','.join(str(v) for v in grid[a])}" for a in AXES]
    counts = run_sweep(
        scenario, out, specs, None, 0, paths, workers, scheduler, replicates, report, planned
    )
    counts["study"] = summarise(out) if counts["ok"] + counts["skipped"] else None
    return counts


def _pm(row, name: str) -> list[float]:
    mean, se = row.get(f"{name}.mean"), row.get(f"{name}.se")
    return [
        float(mean) if mean is not None else math.nan,
        float(se) if se is not None else math.nan,
    ]


def summarise(out: Path) -> dict[str, Any]:
    """The study from the sweep's summary table: one row per variant (replicates averaged:
    mean of means, SE sqrt(Σ se²) / n), the best static width per volatility and fee tier, and
    the comparison with the published rule (module docstring). Writes STUDY_FILE and
    TABLE_FILE into `out`."""
    df = load_summary(out)
    if df.empty:
        raise ConfigError(f"{out}: no finished run to summarise; run the study first")
    cols = {a: AXES[a] for a in AXES if AXES[a] in df.columns}
    if len(cols) != len(AXES):
        raise ConfigError(f"{out}: not an lp-ranges sweep (axes {sorted(AXES.values())})")
    rows = []
    for key, part in df.groupby([cols[a] for a in AXES], dropna=False):
        width, sigma, fee, policy = key
        n = len(part)
        entry: dict[str, Any] = {
            "policy": str(policy), "fee": int(fee), "sigma": float(sigma),
            "width": float(width), "replicates": n, "paths": int(part["paths"].iloc[0]),
        }  # fmt: skip
        metrics = {}
        for m in list(METRICS) + ["n_rebalances"]:
            vals = [_pm(r, KEEPER + m) for _, r in part.iterrows()]
            metrics[m] = _combine(vals)
        for m in ("fee_rate", "lvr_rate"):
            metrics["full_" + m] = _combine([_pm(r, FULL + m) for _, r in part.iterrows()])
        entry["metrics"] = metrics
        rows.append(entry)
    study = {
        "format": FORMAT,
        "scenario": str(json.loads((out / "sweep.json").read_text()).get("scenario", "")),
        "grid": {
            a: sorted({r[a] for r in rows}, key=POLICIES.index if a == "policy" else None)
            for a in AXES
        },
        "rows": rows,
    }
    study["best_static"] = best_static(rows)
    study["verdicts"] = verdicts(study["best_static"])
    atomic_write_json(out / STUDY_FILE, study)
    atomic_write_text(out / TABLE_FILE, format_table(study) + "\n\n" + format_best(study) + "\n")
    return study


def _combine(vals: list[list[float]]) -> list[float]:
    means = [v[0] for v in vals if math.isfinite(v[0])]
    if not means:
        return [math.nan, math.nan]
    ses = [v[1] for v in vals if math.isfinite(v[1])]
    se = math.sqrt(sum(s * s for s in ses)) / len(means) if ses else math.nan
    return [sum(means) / len(means), se]


def best_static(rows: list[dict]) -> list[dict]:
    """Per (fee, σ): the static width with the highest hedged P&L mean, the full range's fee
    and LVR yields per day there, the rule's call (concentrate: fee yield > σ²/8 per day) and
    whether the best width is a concentrated one (not the widest in the grid)."""
    out = []
    statics = [r for r in rows if r["policy"] == "static"]
    for fee in sorted({r["fee"] for r in statics}):
        for sigma in sorted({r["sigma"] for r in statics if r["fee"] == fee}):
            here = [r for r in statics if r["fee"] == fee and r["sigma"] == sigma]
            best = max(here, key=lambda r: r["metrics"]["pnl"][0])
            widest = max(r["width"] for r in here)
            fee_y = _combine([r["metrics"]["full_fee_rate"] for r in here])
            lvr_y = _combine([r["metrics"]["full_lvr_rate"] for r in here])
            rule = fee_y[0] > sigma**2 / 8.0
            concentrated = best["width"] < widest
            out.append({
                "fee": fee, "sigma": sigma, "best_width": best["width"],
                "pnl": best["metrics"]["pnl"], "widest": widest,
                "full_fee_yield": fee_y, "full_lvr_yield": lvr_y, "lvr_theory": sigma**2 / 8.0,
                "rule_concentrates": bool(rule), "best_is_concentrated": bool(concentrated),
                "agrees": bool(rule == concentrated),
            })  # fmt: skip
    return out


def verdicts(best: list[dict]) -> list[str]:
    """Lines comparing the best static widths with the published rule and ordering."""
    lines = []
    for b in best:
        call = "concentrate" if b["rule_concentrates"] else "stay wide"
        ours = f"best width {b['best_width']:g}" + (
            " (the widest)" if not b["best_is_concentrated"] else ""
        )
        lines.append(
            f"fee {b['fee'] / 1e4:g} %, σ {b['sigma']:g}/day: full-range fee yield "
            f"{b['full_fee_yield'][0]:.3g}/day vs σ²/8 = {b['lvr_theory']:.3g}/day -> the rule "
            f"says {call}; {ours}: {'agrees' if b['agrees'] else 'DIFFERS'}"
        )
    for fee in sorted({b["fee"] for b in best}):
        ws = [b["best_width"] for b in sorted(best, key=lambda b: b["sigma"]) if b["fee"] == fee]
        ordered = all(a <= c for a, c in zip(ws, ws[1:], strict=False))
        lines.append(
            f"fee {fee / 1e4:g} %: best static width by rising σ {ws}: "
            + ("never narrows as volatility rises, as Cartea, Drissi and Monga's optimum"
               if ordered else "does NOT widen monotonically with volatility, unlike Cartea, "
               "Drissi and Monga's optimum")
        )  # fmt: skip
    for sigma in sorted({b["sigma"] for b in best}):
        ws = [b["best_width"] for b in sorted(best, key=lambda b: b["fee"]) if b["sigma"] == sigma]
        ordered = all(a >= c for a, c in zip(ws, ws[1:], strict=False))
        lines.append(
            f"σ {sigma:g}/day: best static width by rising fee tier {ws}: "
            + ("narrows as the pool pays more, as Cartea, Drissi and Monga's optimum does"
               if ordered else "does NOT narrow monotonically as the pool pays more, unlike "
               "Cartea, Drissi and Monga's optimum")
        )  # fmt: skip
    return lines


def _fmt(pm: list[float], digits: int = 3) -> str:
    mean, se = pm
    if not math.isfinite(mean):
        return "–"
    body = f"{mean:,.0f}" if abs(mean) >= 100 else f"{mean:.{digits}g}"
    if math.isfinite(se):
        body += f" ± {se:,.0f}" if abs(se) >= 100 else f" ± {se:.2g}"
    return body


def format_table(study: dict, fee: int | None = None) -> str:
    """Markdown: per fee tier, volatility and policy, the policy at its best width (by hedged
    P&L mean) with every reported metric, mean ± SE (numeraire; time in range a fraction)."""
    head = ["fee", "σ/day", "policy", "width", *METRICS.values(), "moves"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = study["rows"]
    fees = sorted({r["fee"] for r in rows}) if fee is None else [fee]
    for f in fees:
        for sigma in sorted({r["sigma"] for r in rows}):
            for policy in POLICIES:
                here = [
                    r for r in rows if (r["fee"], r["sigma"], r["policy"]) == (f, sigma, policy)
                ]
                if not here:
                    continue
                best = max(here, key=lambda r: r["metrics"]["pnl"][0])
                m = best["metrics"]
                cells = [f"{f / 1e4:g} %", f"{sigma:g}", policy, f"{best['width']:g}"]
                cells += [_fmt(m[k]) for k in METRICS]
                cells.append(_fmt(m["n_rebalances"], 2))
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_best(study: dict) -> str:
    """Markdown: the best static width per fee tier and volatility against the published rule."""
    head = ["fee", "σ/day", "best static width", "its hedged P&L", "full-range fee yield/day",
            "full-range LVR/day", "σ²/8", "rule", "agrees"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for b in study["best_static"]:
        lines.append("| " + " | ".join([
            f"{b['fee'] / 1e4:g} %", f"{b['sigma']:g}", f"{b['best_width']:g}", _fmt(b["pnl"]),
            _fmt(b["full_fee_yield"]), _fmt(b["full_lvr_yield"]), f"{b['lvr_theory']:.3g}",
            "concentrate" if b["rule_concentrates"] else "stay wide",
            "yes" if b["agrees"] else "**no**",
        ]) + " |")  # fmt: skip
    return "\n".join(lines)


# --------------------------------------------------------------------------- report


def report_tables(study: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of the report's tables: every variant's metrics, then the best
    static widths against the published rule (cells are plain text)."""
    head = ["fee", "σ/day", "policy", "width", *METRICS.values(), "moves"]
    rows = []
    for r in sorted(study["rows"], key=lambda r: (r["fee"], r["sigma"],
                                                  POLICIES.index(r["policy"]), r["width"])):  # fmt: skip
        m = r["metrics"]
        rows.append([f"{r['fee'] / 1e4:g} %", f"{r['sigma']:g}", r["policy"], f"{r['width']:g}",
                     *(_fmt(m[k]) for k in METRICS), _fmt(m["n_rebalances"], 2)])  # fmt: skip
    best = [line.strip("| ").split(" | ") for line in format_best(study).splitlines()[2:]]
    best_head = format_best(study).splitlines()[0].strip("| ").split(" | ")
    return [
        ("Every variant (mean ± SE over worlds; money in the numeraire)", head, rows),
        ("Best static width per volatility against the published rule", best_head,
         [[c.replace("**", "") for c in row] for row in best]),
    ]  # fmt: skip


def report_figures(study: dict, plt) -> list:
    """The report's figures (matplotlib `plt` configured by the caller): per fee tier (rows)
    and volatility (columns), the hedged P&L and the time in range against the width, one
    line per policy with ±1 SE bars."""
    rows = study["rows"]
    fees = sorted({r["fee"] for r in rows})
    sigmas = sorted({r["sigma"] for r in rows})
    figs = []
    for metric, label in (("pnl", "hedged P&L (numeraire)"), ("time_in_range", "time in range")):
        fig, axes = plt.subplots(len(fees), len(sigmas), squeeze=False, sharex=True,
                                 figsize=(3.3 * len(sigmas), 2.6 * len(fees)))  # fmt: skip
        for i, fee in enumerate(fees):
            for j, sigma in enumerate(sigmas):
                ax = axes[i][j]
                for policy in POLICIES:
                    pts = sorted((r["width"], *r["metrics"][metric]) for r in rows
                                 if (r["fee"], r["sigma"], r["policy"]) == (fee, sigma, policy))  # fmt: skip
                    if pts:
                        w, m, se = zip(*pts, strict=True)
                        ax.errorbar(w, m, yerr=se, marker="o", ms=3, capsize=2, label=policy)
                ax.set_xscale("log")
                widths = sorted({r["width"] for r in rows})
                ax.set_xticks(widths, [f"{w:g}" for w in widths])
                ax.minorticks_off()
                ax.set_title(f"fee {fee / 1e4:g} %, σ {sigma:g}/day", fontsize=8)
                if i == len(fees) - 1:
                    ax.set_xlabel("relative half-width")
                if j == 0:
                    ax.set_ylabel(label, fontsize=8)
                ax.tick_params(labelsize=7)
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        figs.append(fig)
    return figs


def report_html(study: dict) -> str:
    """The report's section: figures, verdicts and tables."""
    import html

    from sim.studies.page import html_table, pyplot, svg

    out = ["<h2>Active liquidity management: range width × volatility × fee × policy</h2>"]
    out.append('<div class="plots">' + "".join(svg(f) for f in report_figures(study, pyplot())))
    out.append("</div><ul>" + "".join(f"<li>{html.escape(v)}</li>" for v in study["verdicts"]))
    out.append("</ul>")
    for title, head, rows in report_tables(study):
        out.append(f"<h3>{html.escape(title)}</h3>")
        out.append(html_table(head, [[html.escape(c) for c in r] for r in rows]))
    return "\n".join(out)

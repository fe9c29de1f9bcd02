"""The report's sections for many runs: an arbitrage study's tables and factor curves
(`arbitrage.json`), the lp-ranges study's (`lp_ranges.json`) and a sweep's table and heatmaps
(`sweep.json`)."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

from sim.studies.page import fmt_num, fmt_pm, html_table, pyplot, svg

STUDY_LINES = [("profit", "arbitrage profit"), ("gas", "gas"), ("lp_loss", "pools' LP loss"),
               ("perp_loss", "perp LP loss"), ("options_loss", "options LP loss")]  # fmt: skip
"""The arbitrage study's plotted figures (`graph_arb.<agent>.<metric>`, USD/day)."""


def section_lp_ranges(run: Path) -> str:
    """lp_ranges.json (`ammlab study lp-ranges`): figures, verdicts and tables; empty without it."""
    from sim.studies.lp_ranges import STUDY_FILE, report_html

    path = run / STUDY_FILE
    return report_html(json.loads(path.read_text())) if path.exists() else ""


def section_arbitrage(run: Path) -> str:
    """arbitrage.json: the study's tables, then per factor who profits and who pays against
    the factor's value (the baseline's included), mean ± SE."""
    from sim.studies.arbitrage import STUDY_FILE, factor_curves, pm_text, value_text

    st = json.loads((run / STUDY_FILE).read_text())
    pre = f"graph_arb.{st['agent']}."
    bad = sum(p["status"] != "ok" for p in st["points"])
    out = [
        f"<h2>Arbitrage study</h2><p>Baseline <code>{html.escape(st['scenario'])}</code>, one "
        f"factor changed at a time: {len(st['points'])} points ({bad} failed) × {st['worlds']} "
        f"worlds × {st['hours']:g} h, seed {st['seed']}; USD per day at reference "
        "prices (cycles per day), mean ± SE over worlds (one seed for every point).</p>"
    ]
    for cols in st["tables"].values():
        rows = [
            [html.escape(p["label"]), html.escape(value_text(p))]
            + [pm_text(p.get("metrics", {}).get(pre + k)) for k, _ in cols]
            for p in st["points"]
        ]
        out.append(html_table(["varied", "value"] + [html.escape(c) for _, c in cols], rows))
    plt, plots = pyplot(), []
    for label, unit, x, ms in factor_curves(st):
        fig, ax = plt.subplots(figsize=(6.4, 3.9))
        for i, (k, name) in enumerate(STUDY_LINES):
            y = [m.get(pre + k, {}).get("mean", math.nan) for m in ms]
            e = [m.get(pre + k, {}).get("se") or 0.0 for m in ms]
            ax.errorbar(x, y, yerr=e, marker="o", lw=2, capsize=3, color=f"C{i}", label=name)
        ax.set_xscale("symlog", linthresh=min([v for v in x if v > 0] or [1.0]))
        ax.set_yscale("symlog", linthresh=100.0)
        ax.set_xlabel(f"{label} ({unit})" if unit else label)
        ax.set_ylabel("USD/day")
        ax.set_title(f"Who profits, who pays: {label}")
        ax.legend(fontsize=7)
        plots.append(svg(fig))
    return "\n".join(out) + '<div class="plots">' + "".join(plots) + "</div>"


SWEEP_METRICS = [
    "pool.lvr_rate",
    "pool.fee_rate",
    "pool.arb_profit_rate",
    "pool.lp_vs_hold",
    "pool.arb_block_frac",
]


def section_sweep(run: Path) -> str:
    from sim.studies.sweep import SWEEP_FILE, load_summary, metric_units

    manifest = json.loads((run / SWEEP_FILE).read_text())
    df = load_summary(run)
    out = [
        "<h2>Sweep</h2>",
        f"<p>Base scenario <code>{html.escape(manifest.get('scenario', ''))}</code>; "
        f"{len(df)} finished runs of {len(manifest.get('runs', []))}; "
        f"failed runs: {len(list((run / 'failed').glob('*')))}.</p>",
    ]
    if df.empty:
        return "\n".join(out)
    units = metric_units(run)
    axes = [a for a in manifest.get("axes", []) if a in df.columns]
    num_axes = [a for a in axes if df[a].dtype.kind in "fi"]
    metrics = [m for m in SWEEP_METRICS if f"{m}.mean" in df.columns]
    if not metrics:
        metrics = sorted(c[:-5] for c in df.columns if c.endswith(".mean"))[:4]
    # table: one row per variant (mean over replicates; SE of a single run when one)
    g = df.groupby(axes, dropna=False) if axes else None
    rows = []
    if g is not None:
        for key, part in g:
            key = key if isinstance(key, tuple) else (key,)
            cells = [fmt_num(k) for k in key]
            for m in metrics:
                mean = part[f"{m}.mean"].mean()
                se = math.sqrt((part[f"{m}.se"] ** 2).sum()) / len(part)
                cells.append(fmt_pm({"mean": mean, "se": se, "unit": units.get(m, "")}))
            rows.append(cells)
        out.append(
            html_table(
                [f"<code>{html.escape(a)}</code>" for a in axes]
                + [f"<code>{m}</code>" for m in metrics],
                rows,
            )
        )
    plt = pyplot()
    plots: list[str] = []
    if len(num_axes) >= 2:
        ax_x, ax_y = num_axes[0], num_axes[1]
        rest = num_axes[2:]
        if rest:
            out.append(f"<p>Heatmaps average over {', '.join(rest)} and replicates.</p>")
        for m in metrics:
            piv = df.pivot_table(index=ax_y, columns=ax_x, values=f"{m}.mean", aggfunc="mean")
            fig, ax = plt.subplots(figsize=(5.2, 3.6))
            im = ax.imshow(piv.to_numpy(), origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks(range(piv.shape[1]), [f"{v:g}" for v in piv.columns])
            ax.set_yticks(range(piv.shape[0]), [f"{v:g}" for v in piv.index])
            ax.set_xlabel(ax_x)
            ax.set_ylabel(ax_y)
            arr = piv.to_numpy()
            lo, hi = np.nanmin(arr), np.nanmax(arr)
            for i in range(piv.shape[0]):
                for j in range(piv.shape[1]):
                    v = arr[i, j]
                    if math.isfinite(v):
                        bright = hi > lo and (v - lo) / (hi - lo) > 0.6  # viridis is light there
                        ax.text(
                            j,
                            i,
                            f"{v:.3g}",
                            ha="center",
                            va="center",
                            fontsize=7,
                            color="k" if bright else "w",
                        )
            fig.colorbar(im, ax=ax, label=units.get(m, ""))
            ax.set_title(f"{m} ({units.get(m, '')})")
            plots.append(svg(fig))
    elif len(num_axes) == 1:
        a = num_axes[0]
        for m in metrics:
            part = (
                df.groupby(a).agg(mean=(f"{m}.mean", "mean"), se=(f"{m}.se", "mean")).reset_index()
            )
            fig, ax = plt.subplots(figsize=(5.2, 3.0))
            ax.errorbar(part[a], part["mean"], yerr=part["se"], marker="o", capsize=3)
            ax.set_xlabel(a)
            ax.set_ylabel(units.get(m, ""))
            ax.set_title(f"{m} ({units.get(m, '')})")
            plots.append(svg(fig))
    out.append('<div class="plots">' + "".join(plots) + "</div>")
    return "\n".join(out)

"""`ammlab report RUN_DIR`: one self-contained HTML file of whatever a run folder holds.

Sections, each present only when its inputs are:

* the headline metrics and every metric of summary.json, mean ± SE with its unit;
* reference vs pool price over time, pool inventory and net delta over time (series table);
* the LP's P&L split into fees, LVR, impermanent loss and hedge P&L (summary and worlds);
* the keeper's hedging figures and any per-block keeper columns of the series;
* each options pool's book at the end by board (delta, gamma, vega, theta);
* the learned-vs-static policy comparison (`policy_comparison.json`, `ammlab learn compare`);
* the arbitrage study (`arbitrage.json`, `ammlab study arbitrage`): tables, factor effects;
* the lp-ranges study (`lp_ranges.json`, `ammlab study lp-ranges`): figures and tables;
* sweep heatmaps (or lines, for one swept parameter) when RUN_DIR is a (non-arbitrage) sweep.

Plots are matplotlib figures inlined as SVG; the page loads nothing from the network and runs
no script. Series tables can be long: only the columns a plot needs are read, and per-block
statistics across worlds are computed by a group-by on the block.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import SimError
from sim.stats import summarise_worlds
from sim.studies.page import CSS, fmt_pm, html_table, pyplot, svg
from sim.studies.report_studies import section_arbitrage, section_lp_ranges, section_sweep

DAY = 86400.0


class ReportError(SimError):
    """The folder holds nothing a report can be made of; the message says what it expects."""


# --------------------------------------------------------------------------- inputs


def _read_table(base: Path, columns: list[str] | None = None):
    """base.parquet or base.csv as a DataFrame (only `columns` when given), or None."""
    import pandas as pd

    pq_path, csv_path = base.with_suffix(".parquet"), base.with_suffix(".csv")
    if pq_path.exists():
        if columns is not None:
            import pyarrow.parquet as pq

            have = set(pq.read_schema(pq_path).names)
            columns = [c for c in columns if c in have]
        return pd.read_parquet(pq_path, columns=columns)
    if csv_path.exists():
        return pd.read_csv(csv_path, usecols=lambda c: columns is None or c in columns)
    return None


def _table_columns(base: Path) -> list[str]:
    pq_path, csv_path = base.with_suffix(".parquet"), base.with_suffix(".csv")
    if pq_path.exists():
        import pyarrow.parquet as pq

        return list(pq.read_schema(pq_path).names)
    if csv_path.exists():
        return csv_path.open().readline().strip().split(",")
    return []


def _band(df, col: str):
    """Per-block mean, 5 % and 95 % quantiles across worlds of `col`, against time (hours)."""
    g = df.groupby("block")
    t = g["time"].mean().to_numpy() / 3600.0
    q = g[col].quantile([0.05, 0.5, 0.95]).unstack()
    return t, g[col].mean().to_numpy(), q[0.05].to_numpy(), q[0.95].to_numpy()


# --------------------------------------------------------------------------- sections


def section_metrics(summary: dict[str, Any]) -> str:
    metrics: dict[str, dict] = summary.get("metrics", {})
    if not metrics:
        return ""
    groups: dict[str, list[list[str]]] = {}
    for name, m in metrics.items():
        group = name.split(".")[0] if "." in name else "world"
        if group in ("agent", "keeper", "perp", "oracle", "venue", "options"):
            group = ".".join(name.split(".")[:2])
        groups.setdefault(group, []).append(
            [
                f"<code>{html.escape(name)}</code>",
                fmt_pm(m),
                html.escape(str(m.get("unit", ""))),
                str(m.get("n", "")),
                html.escape(str(m.get("description", ""))),
            ]
        )
    out = ["<h2>Metrics (mean ± SE over worlds)</h2>"]
    for group, rows in groups.items():
        out.append(f"<h3>{html.escape(group)}</h3>")
        out.append(html_table(["metric", "mean ± SE", "unit", "worlds", "what"], rows, "metrics"))
    return "\n".join(out)


def pool_names(summary: dict[str, Any], columns: list[str]) -> list[str]:
    pools = [p["name"] for p in summary.get("scenario", {}).get("pools", []) if "name" in p]
    if not pools:
        pools = sorted({c[: -len(".price")] for c in columns if c.endswith(".price")})
    return pools


def section_series(run: Path, summary: dict[str, Any]) -> str:
    cols = _table_columns(run / "series")
    if not cols or "block" not in cols:
        return ""
    plt = pyplot()
    pools = [p for p in pool_names(summary, cols) if f"{p}.price" in cols]
    keeper_cols = [
        c for c in cols if c.startswith("keeper.") or "net_delta" in c or "inventory" in c
    ]
    want = ["world", "block", "time", "ref_price"] + keeper_cols
    for p in pools:
        want += [f"{p}.price", f"{p}.value", f"{p}.lp_vs_hold"]
    df = _read_table(run / "series", want)
    n_worlds = int(df["world"].nunique())
    out = [
        "<h2>Over time</h2>",
        f"<p>Series of {n_worlds} worlds: lines are the mean across worlds, bands the 5–95 % "
        "range; world 0 is drawn thin.</p>",
    ]
    w0 = df[df["world"] == df["world"].min()]
    # reference vs pool price
    fig, ax = plt.subplots(figsize=(8, 3.2))
    t, m, lo, hi = _band(df, "ref_price")
    ax.fill_between(t, lo, hi, alpha=0.15, color="k", label="reference 5–95 %")
    ax.plot(t, m, color="k", lw=1.5, label="reference (mean)")
    ax.plot(
        w0["time"] / 3600.0, w0["ref_price"], color="k", lw=0.6, ls=":", label="reference, world 0"
    )
    for i, p in enumerate(pools):
        c = f"C{i}"
        ax.plot(w0["time"] / 3600.0, w0[f"{p}.price"], color=c, lw=0.8, label=f"{p} price, world 0")
        ax.plot(
            t,
            df.groupby("block")[f"{p}.price"].mean().to_numpy(),
            color=c,
            lw=1.2,
            ls="--",
            label=f"{p} price (mean)",
        )
    ax.set_xlabel("time (h)")
    ax.set_ylabel("price (numeraire per risky)")
    ax.set_title("Reference vs pool price")
    ax.legend(fontsize=7, ncol=2)
    out.append(svg(fig))
    # pool deviation from the reference, in bp, for world 0 (what the arbitrageur sees)
    if pools:
        fig, ax = plt.subplots(figsize=(8, 2.4))
        for i, p in enumerate(pools):
            dev = (w0[f"{p}.price"] / w0["ref_price"] - 1.0) * 1e4
            ax.plot(w0["time"] / 3600.0, dev, color=f"C{i}", lw=0.8, label=p)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("time (h)")
        ax.set_ylabel("pool / reference − 1 (bp)")
        ax.set_title("Pool mispricing, world 0")
        ax.legend(fontsize=7)
        out.append(svg(fig))
    # inventory and net delta: a constant-product pool holds x = V / (P_ref + P_pool) of the
    # risky asset (V = x P_ref + y, P_pool = y / x), and an unhedged LP's delta is its share of x
    if pools:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.0))
        for i, p in enumerate(pools):
            inv = df[f"{p}.value"] / (df["ref_price"] + df[f"{p}.price"])
            tmp = df[["block", "time"]].assign(inv=inv)
            t, m, lo, hi = _band(tmp, "inv")
            axes[0].fill_between(t, lo, hi, alpha=0.15, color=f"C{i}")
            axes[0].plot(t, m, color=f"C{i}", lw=1.2, label=f"{p}")
            lvh = df[f"{p}.lp_vs_hold"] * 1e4
            t, m, lo, hi = _band(df[["block", "time"]].assign(v=lvh), "v")
            axes[1].fill_between(t, lo, hi, alpha=0.15, color=f"C{i}")
            axes[1].plot(t, m, color=f"C{i}", lw=1.2, label=p)
        axes[0].set_title("Pool risky inventory = LP net delta (unhedged)")
        axes[0].set_xlabel("time (h)")
        axes[0].set_ylabel("risky units")
        axes[0].legend(fontsize=7)
        axes[1].set_title("LP value vs holding")
        axes[1].set_xlabel("time (h)")
        axes[1].set_ylabel("bp of the held value")
        out.append(svg(fig))
    for col in keeper_cols:
        fig, ax = plt.subplots(figsize=(8, 2.4))
        t, m, lo, hi = _band(df, col)
        ax.fill_between(t, lo, hi, alpha=0.15)
        ax.plot(t, m, lw=1.2, label="mean")
        ax.plot(w0["time"] / 3600.0, w0[col], lw=0.6, label="world 0")
        ax.set_title(col)
        ax.set_xlabel("time (h)")
        ax.legend(fontsize=7)
        out.append(svg(fig))
    return "\n".join(out)


def lp_pnl_split(run: Path, summary: dict[str, Any]) -> dict[str, dict[str, dict]]:
    """Per pool: fees, −LVR, impermanent loss and LP vs hold (numeraire, mean ± SE), plus
    every keeper's hedge P&L.

    Impermanent loss here is LP value minus holding minus fees, per world, with the held value
    at the end = V0/2 · (price ratio + 1) (half of the pool's initial value V0 in each token)
    and LP − hold = lp_vs_hold · hold. Fees stay in the reserves (V2), so LP − hold =
    fees + IL.
    """
    metrics = summary.get("metrics", {})
    worlds = _read_table(run / "worlds")
    out: dict[str, dict[str, dict]] = {}
    for pc in summary.get("scenario", {}).get("pools", []):
        p = pc["name"]
        if f"{p}.fees" not in metrics:
            continue
        d = {
            "fees": dict(metrics[f"{p}.fees"]),
            "lvr": {**metrics[f"{p}.lvr"], "mean": -metrics[f"{p}.lvr"]["mean"]},
        }
        if worlds is not None and f"{p}.lp_vs_hold" in worlds and f"{p}.price_ratio" in worlds:
            hold = 0.5 * pc.get("tvl", 0.0) * (worlds[f"{p}.price_ratio"].to_numpy() + 1.0)
            lp_minus_hold = worlds[f"{p}.lp_vs_hold"].to_numpy() * hold
            il = lp_minus_hold - worlds[f"{p}.fees"].to_numpy()
            d["il"] = {**summarise_worlds(il), "unit": "numeraire"}
            d["lp_vs_hold"] = {**summarise_worlds(lp_minus_hold), "unit": "numeraire"}
        out[p] = d
    for name, m in metrics.items():
        parts = name.split(".")
        if parts[0] == "keeper" and parts[-1] == "hedge_pnl":
            out.setdefault(f"keeper {parts[1]}", {})["hedge"] = dict(m)
    return out


LABELS = {
    "fees": "fees earned",
    "lvr": "− LVR",
    "il": "impermanent loss (ex fees)",
    "lp_vs_hold": "LP − hold",
    "hedge": "hedge P&L",
}


def section_lp(run: Path, summary: dict[str, Any]) -> str:
    split = lp_pnl_split(run, summary)
    if not split:
        return ""
    plt = pyplot()
    rows, bars = [], []
    for who, parts in split.items():
        for k, m in parts.items():
            rows.append(
                [html.escape(who), LABELS[k], fmt_pm({**m, "unit": m.get("unit", "numeraire")})]
            )
            bars.append((f"{who}\n{LABELS[k]}", m["mean"], m.get("se")))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(bars) + 1))
    y = np.arange(len(bars))
    vals = [b[1] for b in bars]
    errs = [b[2] if b[2] is not None and math.isfinite(b[2]) else 0.0 for b in bars]
    ax.barh(y, vals, xerr=errs, color=["C2" if v >= 0 else "C3" for v in vals], capsize=3)
    ax.set_yticks(y, [b[0] for b in bars], fontsize=7)
    ax.axvline(0, color="k", lw=0.6)
    ax.invert_yaxis()
    ax.set_xlabel("numeraire over the run (mean ± SE)")
    ax.set_title("LP P&L split")
    note = (
        "<p>Fees and LVR from the ledger (trades marked at the block's reference price); "
        "impermanent loss = LP − hold − fees per world, hold = V0/2·(price ratio + 1); "
        "hedge P&L from the keeper.</p>"
    )
    return (
        "<h2>LP P&amp;L split</h2>"
        + note
        + svg(fig)
        + html_table(["who", "part", "mean ± SE"], rows)
    )


GREEKS = ("delta", "gamma", "vega", "theta")


def section_options_book(summary: dict[str, Any]) -> str:
    """Each options pool's book at the end, by board and in total: delta, gamma, vega, theta
    (mean ± SE over worlds; `boardGreeks` / `totalGreeks`)."""
    metrics = summary.get("metrics", {})
    pools = sorted({n.split(".")[1] for n in metrics if n.startswith("options.")})
    out = []
    for pool in pools:
        head = f"options.{pool}."
        boards = sorted(
            {n[len(head) :].split(".")[0] for n in metrics if n.startswith(head + "board")},
            key=lambda b: int(b[len("board") :]),
        )
        rows = []
        for label, prefix in [*((b, head + b + ".") for b in boards), ("total", head)]:
            if all(prefix + g in metrics for g in GREEKS):
                rows.append([html.escape(label)] + [fmt_pm(metrics[prefix + g]) for g in GREEKS])
        if rows:
            units = [metrics[head + g].get("unit", "") for g in GREEKS if head + g in metrics]
            out.append(f"<h3>options pool {html.escape(pool)}: the book at the end</h3>")
            cols = [f"{g} ({html.escape(u)})" for g, u in zip(GREEKS, units, strict=False)]
            out.append(html_table(["board", *cols], rows))
    return ("<h2>Options book by board</h2>" + "\n".join(out)) if out else ""


def section_keeper(summary: dict[str, Any]) -> str:
    metrics = summary.get("metrics", {})
    keepers = sorted({n.split(".")[1] for n in metrics if n.startswith("keeper.")})
    if not keepers:
        return ""
    out = ["<h2>Hedge events</h2>"]
    for k in keepers:
        rows = [
            [
                f"<code>{html.escape(n)}</code>",
                fmt_pm(m),
                html.escape(str(m.get("description", ""))),
            ]
            for n, m in metrics.items()
            if n.startswith(f"keeper.{k}.")
        ]
        out.append(f"<h3>keeper {html.escape(k)}</h3>")
        out.append(html_table(["metric", "mean ± SE", "what"], rows))
    return "\n".join(out)


def section_policy(run: Path) -> str:
    """The learned-vs-static comparison `ammlab learn compare` writes (policy_comparison.json,
    `sim.learn.evaluate.COMPARISON_FORMAT`): per market a table of every policy's metrics
    (mean ± SE over held-out paths), a plot of the objective score with ±1 SE bars, the verdict
    lines and the computed overall verdict."""
    from sim.learn.evaluate import COMPARISON_FILE, COMPARISON_FORMAT, LABELS, METRICS

    path = run / COMPARISON_FILE
    if not path.exists():
        return ""
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("format") != COMPARISON_FORMAT:
        raise ReportError(
            f"{path}: not a policy comparison ({COMPARISON_FORMAT}); write it with "
            "`ammlab learn compare`"
        )
    meta = data.get("meta", {})
    out = [
        "<h2>Policy comparison: learned vs static delta hedging</h2>",
        f"<p>{meta.get('n_paths', '?')} held-out paths per market (seed "
        f"{meta.get('seed', '?')}); values mean ± 1 SE; a difference counts beyond "
        f"{meta.get('k_se', '?')} SE. <b>Verdict:</b> {html.escape(data.get('overall', ''))}</p>",
    ]
    markets = list(dict.fromkeys(r["market"] for r in data["rows"]))
    plt = pyplot()
    fig, axes = plt.subplots(1, len(markets), figsize=(3.2 * len(markets), 3.2), squeeze=False)
    for ax, mk in zip(axes[0], markets, strict=True):
        rows = [r for r in data["rows"] if r["market"] == mk]
        names = [r["policy"] for r in rows]
        score = np.array([r["score"][0] for r in rows])
        se = np.array([r["score"][1] for r in rows])
        ax.barh(names, score, xerr=se, color="#4a7ab5")
        ax.set_title(mk, fontsize=9)
        ax.set_xlabel("objective score (quote)", fontsize=8)
        ax.tick_params(labelsize=7)
        body = [
            [html.escape(r["policy"])] + [fmt_pm({"mean": r[m][0], "se": r[m][1]}) for m in METRICS]
            for r in rows
        ]
        out.append(f"<h3>{html.escape(mk)}</h3>")
        out.append(html_table(["policy"] + [LABELS[m] for m in METRICS], body))
        verdicts = data.get("verdicts", {}).get(mk, [])
        if verdicts:
            out.append("<ul>" + "".join(f"<li>{html.escape(v)}</li>" for v in verdicts) + "</ul>")
    fig.tight_layout()
    out.insert(2, svg(fig))
    return "\n".join(out)


# --------------------------------------------------------------------------- page


def build_report(run: Path) -> str:
    """The report's HTML for a run folder (or a sweep folder)."""
    from sim.studies.arbitrage import STUDY_FILE
    from sim.studies.sweep import SWEEP_FILE

    run = Path(run)
    if not run.is_dir():
        raise ReportError(
            f"{run}: not a folder; give the --out folder of `ammlab sim run` or a sweep"
        )
    parts: list[str] = []
    title = run.name
    summary: dict[str, Any] = {}
    if (run / "summary.json").exists():
        summary = json.loads((run / "summary.json").read_text())
        sc = summary.get("scenario", {})
        title = sc.get("name", title)
        parts.append(
            f"<p>Scenario <b>{html.escape(str(sc.get('name', '?')))}</b>: "
            f"{summary.get('paths', '?')} worlds, seed {summary.get('seed', '?')}, "
            f"engine path {html.escape(str(summary.get('engine_path', '?')))}; "
            f"{sc.get('blocks', {}).get('n_blocks', '?')} blocks of "
            f"{sc.get('blocks', {}).get('block_time', '?')} s.</p>"
        )
        parts.append(section_series(run, summary))
        parts.append(section_lp(run, summary))
        parts.append(section_keeper(summary))
        parts.append(section_options_book(summary))
    parts.append(section_policy(run))
    parts.append(section_lp_ranges(run))
    if (run / STUDY_FILE).exists():
        parts.append(section_arbitrage(run))
    elif (run / SWEEP_FILE).exists():
        parts.append(section_sweep(run))
    if summary:
        parts.append(section_metrics(summary))
    body = "\n".join(p for p in parts if p)
    if not body:
        raise ReportError(
            f"{run}: no summary.json, policy_comparison.json, arbitrage.json or sweep.json; "
            "give the --out folder of `ammlab sim run`, `ammlab sweep` or `ammlab study`"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>ammlab report: {html.escape(title)}</title><style>{CSS}</style></head>"
        f"<body><h1>ammlab report: {html.escape(title)}</h1>"
        f'<p class="muted">From <code>{html.escape(str(run))}</code>. Every figure is a mean '
        "over worlds ± its standard error, with its unit.</p>"
        f"{body}</body></html>\n"
    )

"""`ammlab report RUN_DIR`: one self-contained HTML file of whatever a run folder holds.

Sections, each present only when its inputs are:

* the headline metrics and every metric of summary.json, mean ± SE with its unit;
* reference vs pool price over time, pool inventory and net delta over time (series table);
* the LP's P&L split into fees, LVR, impermanent loss and hedge P&L (summary and worlds);
* the keeper's hedging figures and any per-block keeper columns of the series;
* each options pool's book at the end by board (delta, gamma, vega, theta);
* the learned-vs-static policy comparison (`policy_comparison.json`, `ammlab learn compare`);
* sweep heatmaps (or lines, for one swept parameter) when RUN_DIR is a sweep folder;
* the lp-ranges study (`lp_ranges.json`, `ammlab study lp-ranges`).

Plots are matplotlib figures inlined as SVG; the page loads nothing from the network and runs
no script. Series tables can be long: only the columns a plot needs are read, and per-block
statistics across worlds are computed by a group-by on the block.
"""

from __future__ import annotations

import html
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import SimError
from sim.stats import summarise_worlds

DAY = 86400.0


class ReportError(SimError):
    """The folder holds nothing a report can be made of; the message says what it expects."""


# --------------------------------------------------------------------------- formatting


def fmt_num(x: Any, digits: int = 4) -> str:
    """A number with `digits` significant digits (thousands separators for big ones)."""
    if x is None:
        return "–"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return html.escape(str(x))
    if not math.isfinite(v):
        return "–"
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e7:
        mag = math.floor(math.log10(abs(v)))
        dec = max(0, digits - 1 - mag)
        return f"{v:,.{dec}f}"
    return f"{v:.{digits - 1}e}"


def fmt_pm(m: dict[str, Any]) -> str:
    """'mean ± SE unit' of a summary entry."""
    s = fmt_num(m.get("mean"))
    se = m.get("se")
    if se is not None and isinstance(se, int | float) and math.isfinite(se):
        s += f" ± {fmt_num(se, 2)}"
    unit = m.get("unit") or ""
    if unit and unit != "1":
        s += f" {html.escape(unit)}"
    return s


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return '<div class="plot">' + text[text.index("<svg") :] + "</div>"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "ammlab", "font.size": 9, "figure.dpi": 96})
    return plt


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
        out.append(_table(["metric", "mean ± SE", "unit", "worlds", "what"], rows, "metrics"))
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
    plt = _plt()
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
    out.append(_svg(fig))
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
        out.append(_svg(fig))
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
        out.append(_svg(fig))
    for col in keeper_cols:
        fig, ax = plt.subplots(figsize=(8, 2.4))
        t, m, lo, hi = _band(df, col)
        ax.fill_between(t, lo, hi, alpha=0.15)
        ax.plot(t, m, lw=1.2, label="mean")
        ax.plot(w0["time"] / 3600.0, w0[col], lw=0.6, label="world 0")
        ax.set_title(col)
        ax.set_xlabel("time (h)")
        ax.legend(fontsize=7)
        out.append(_svg(fig))
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
    plt = _plt()
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
        "<h2>LP P&amp;L split</h2>" + note + _svg(fig) + _table(["who", "part", "mean ± SE"], rows)
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
            out.append(_table(["board", *cols], rows))
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
        out.append(_table(["metric", "mean ± SE", "what"], rows))
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
    plt = _plt()
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
        out.append(_table(["policy"] + [LABELS[m] for m in METRICS], body))
        verdicts = data.get("verdicts", {}).get(mk, [])
        if verdicts:
            out.append("<ul>" + "".join(f"<li>{html.escape(v)}</li>" for v in verdicts) + "</ul>")
    fig.tight_layout()
    out.insert(2, _svg(fig))
    return "\n".join(out)


SWEEP_METRICS = [
    "pool.lvr_rate",
    "pool.fee_rate",
    "pool.arb_profit_rate",
    "pool.lp_vs_hold",
    "pool.arb_block_frac",
]


def section_lp_ranges(run: Path) -> str:
    """The lp-ranges study's section (`sim.studies.lp_ranges.report_html`)."""
    from sim.studies.lp_ranges import STUDY_FILE, report_html

    path = run / STUDY_FILE
    return report_html(json.loads(path.read_text()), _svg, _table, _plt) if path.exists() else ""


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
            _table(
                [f"<code>{html.escape(a)}</code>" for a in axes]
                + [f"<code>{m}</code>" for m in metrics],
                rows,
            )
        )
    plt = _plt()
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
            plots.append(_svg(fig))
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
            plots.append(_svg(fig))
    out.append('<div class="plots">' + "".join(plots) + "</div>")
    return "\n".join(out)


# --------------------------------------------------------------------------- page

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}.plots{display:flex;flex-wrap:wrap;gap:1em}.plot svg{max-width:100%;height:auto}.muted{color:#777}
"""


def build_report(run: Path) -> str:
    """The report's HTML for a run folder (or a sweep folder)."""
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
    if (run / SWEEP_FILE).exists():
        parts.append(section_sweep(run))
    if summary:
        parts.append(section_metrics(summary))
    body = "\n".join(p for p in parts if p)
    if not body:
        raise ReportError(
            f"{run}: no summary.json, policy_comparison.json or sweep.json; "
            "give the --out folder of `ammlab sim run` or `ammlab sweep`"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>ammlab report: {html.escape(title)}</title><style>{CSS}</style></head>"
        f"<body><h1>ammlab report: {html.escape(title)}</h1>"
        f'<p class="muted">From <code>{html.escape(str(run))}</code>. Every figure is a mean '
        "over worlds ± its standard error, with its unit.</p>"
        f"{body}</body></html>\n"
    )

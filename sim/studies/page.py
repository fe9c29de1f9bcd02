"""The HTML report's building blocks: numbers as text, tables, inline SVG plots, the page's
style. `sim.studies.report` (a run's sections) and `sim.studies.report_studies` (a sweep's and
a study's) compose them."""

from __future__ import annotations

import html
import io
import math
from typing import Any


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


def html_table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """A table of already-escaped cells."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def svg(fig) -> str:
    """A matplotlib figure as inline SVG (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return '<div class="plot">' + text[text.index("<svg") :] + "</div>"


def pyplot():
    """matplotlib.pyplot on the Agg backend, with SVGs that are the same from run to run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "ammlab", "font.size": 9, "figure.dpi": 96})
    return plt


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}.plots{display:flex;flex-wrap:wrap;gap:1em}.plot svg{max-width:100%;height:auto}.muted{color:#777}
"""

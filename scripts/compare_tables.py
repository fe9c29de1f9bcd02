"""How many standard errors apart two study tables are, row by row.

    python scripts/compare_tables.py OLD.md NEW.md

Reads two markdown tables of `mean ± SE` cells (what `ammlab study arbitrage` prints; other
lines of the files are skipped), matches rows by their first two cells (the varied factor and
its value, units and any parenthesised note dropped) and columns by header, and prints per row
the largest |z| = |new − old| / sqrt(SE_new² + SE_old²) over the columns both have, then every
column's z. Cells whose SEs are both zero count as 0 when equal. Independent runs (different
paths) agree within a few SE; runs on the same paths are correlated, so there z understates
how significant a difference is.
"""

from __future__ import annotations

import math
import re
import sys

CELL = re.compile(r"^(-?[\d,.]+(?:e[+-]?\d+)?) ± ([\d,.]+(?:e[+-]?\d+)?)$")


def read_table(path: str) -> tuple[list[tuple[str, str]], dict[tuple[str, str], dict]]:
    """Rows of the first markdown table in `path`: keys in order, and {column: (mean, se)}."""
    head: list[str] | None = None
    keys: list[tuple[str, str]] = []
    rows: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    with open(path) as f:
        for line in f:
            if not line.startswith("|") or line.startswith("|---"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if head is None:
                head = cells
                continue
            key = (cells[0].split(" (")[0], cells[1].split(" ")[0] if cells[1] else "")
            vals = {}
            for h, c in zip(head[2:], cells[2:], strict=False):
                m = CELL.match(c)
                if m:
                    vals[h] = (float(m[1].replace(",", "")), float(m[2].replace(",", "")))
            keys.append(key)
            rows[key] = vals
    return keys, rows


def z_scores(old: dict, new: dict) -> dict[str, float]:
    out = {}
    for col, (m, s) in new.items():
        if col not in old:
            continue
        m0, s0 = old[col]
        den = math.hypot(s, s0)
        out[col] = (m - m0) / den if den > 0 else (0.0 if m == m0 else math.inf)
    return out


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: python scripts/compare_tables.py OLD.md NEW.md")
    _, old = read_table(sys.argv[1])
    keys, new = read_table(sys.argv[2])
    for key in keys:
        label = " ".join(k for k in key if k)
        if key not in old:
            print(f"{label}: not in {sys.argv[1]}")
            continue
        z = z_scores(old[key], new[key])
        worst = max(z, key=lambda c: abs(z[c]))
        cols = ", ".join(f"{c} {v:+.1f}" for c, v in z.items())
        print(f"{label}: max |z| {abs(z[worst]):.1f} ({worst}); {cols}")


if __name__ == "__main__":
    main()

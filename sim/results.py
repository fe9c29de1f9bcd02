"""Writing results: `worlds.parquet`, `series.parquet` and `summary.json`.

Every file is written to a temporary name in the output folder and renamed into place, so a
reader never sees a half-written file. Nothing time- or host-dependent goes into the files:
the same scenario and seed give byte-identical output.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from sim.atomic import atomic_write, atomic_write_text
from sim.errors import SimError


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as err:
        raise SimError(
            f"Parquet output needs a working pyarrow ({err}); install a pyarrow built for this "
            "numpy, or run with --format csv"
        ) from err
    return pa, pq


def parquet_available() -> bool:
    """Whether pyarrow imports in this environment."""
    try:
        _pyarrow()
    except SimError:
        return False
    return True


def check_format(fmt: str) -> None:
    """Raise SimError now if tables cannot be written in `fmt`."""
    if fmt == "parquet":
        _pyarrow()
    elif fmt != "csv":
        raise SimError(f"unknown table format '{fmt}'; use parquet or csv")


def write_table(path: Path, columns: dict[str, np.ndarray], fmt: str = "parquet") -> Path:
    """Write named (N,) columns atomically as Parquet (or CSV); returns the final path."""
    path = path.with_suffix("." + fmt)
    check_format(fmt)

    def write(tmp: Path) -> None:
        if fmt == "parquet":
            pa, pq = _pyarrow()
            table = pa.table({k: np.asarray(v) for k, v in columns.items()})
            pq.write_table(table, tmp, compression="zstd")
        else:
            names = list(columns)
            data = np.column_stack([np.asarray(columns[k], dtype=np.float64) for k in names])
            np.savetxt(tmp, data, delimiter=",", header=",".join(names), comments="", fmt="%.17g")

    return atomic_write(path, write)


class SeriesWriter:
    """Streams per-block samples into one table without holding the whole series in memory.

    Samples are buffered up to `rows` rows and written as one Parquet row group each (CSV rows
    are appended), then the file is renamed into place by `close()`.
    """

    def __init__(self, path: Path, fmt: str = "parquet", rows: int = 1_000_000):
        self.path = path.with_suffix("." + fmt)
        # Streamed row group by row group, so not through sim.atomic's one-shot writer.
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self.fmt = fmt
        self.rows = rows
        self._buf: list[dict[str, np.ndarray]] = []
        self._n = 0
        self._writer: Any = None
        self._csv: Any = None

    def __call__(self, sample: dict[str, np.ndarray]) -> None:
        self._buf.append(sample)
        self._n += len(next(iter(sample.values())))
        if self._n >= self.rows:
            self._flush()

    def _flush(self) -> None:
        if not self._buf:
            return
        cols = {k: np.concatenate([b[k] for b in self._buf]) for k in self._buf[0]}
        self._buf, self._n = [], 0
        if self.fmt == "parquet":
            pa, pq = _pyarrow()
            table = pa.table(cols)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.tmp, table.schema, compression="zstd")
            self._writer.write_table(table)
        else:
            names = list(cols)
            data = np.column_stack([np.asarray(cols[k], dtype=np.float64) for k in names])
            if self._csv is None:
                self._csv = open(self.tmp, "w")  # noqa: SIM115 - closed in close()
                self._csv.write(",".join(names) + "\n")
            np.savetxt(self._csv, data, delimiter=",", fmt="%.17g")

    def close(self) -> Path | None:
        """Flush, close and rename into place; returns the path (None if nothing was written)."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
        elif self._csv is not None:
            self._csv.close()
        else:
            return None
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file after a failure."""
        if self._writer is not None:
            self._writer.close()
        if self._csv is not None:
            self._csv.close()
        self.tmp.unlink(missing_ok=True)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    return v


def write_summary(path: Path, summary: dict[str, Any]) -> Path:
    """Write summary.json atomically (sorted keys, NaN as null)."""
    return atomic_write_text(path, json.dumps(_clean(summary), indent=2, sort_keys=True) + "\n")


HEADLINE_SUFFIXES = {
    "perp": ("liquidations", "deficit", "insurance_fund", "bad_debt", "solvent"),
    "keeper": ("pnl", "pnl_std", "pnl_cvar95", "cost", "n_trades", "max_abs_net_delta"),
    "options": ("premium", "fees", "payoffs", "hedge_pnl", "lp_return"),
    "v3": ("arb_profit_rate", "fee_rate", "lvr_rate", "arb_block_frac"),
}


def headline(summary: dict[str, dict], pool: str) -> dict[str, dict]:
    """The issue's headline metrics for one pool, plus every perp market's solvency, every
    keeper's hedging figures and every options pool's P&L split when the scenario has them
    (a subset of the full summary)."""
    keys = ["arb_profit_rate", "fee_rate", "lvr_rate", "arb_block_frac", "lp_vs_hold"]
    out = {k: summary[f"{pool}.{k}"] for k in keys if f"{pool}.{k}" in summary}
    for name, m in summary.items():
        parts = name.split(".")
        if len(parts) == 3 and parts[2] in HEADLINE_SUFFIXES.get(parts[0], ()):
            out[name] = m
    return out

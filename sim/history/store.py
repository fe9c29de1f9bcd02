"""A pulled history folder read back: its manifest, its event tables and the price paths.

Only parts the manifest lists are read (a part written by a pull that crashed before it
committed the range is not), rows sorted by (block_number, log_index), raw integers back as
Python ints. Prices are numeraire per risky asset in human units; which side of a pool is the
risky asset is `risky` ("auto": the side that is not a USD stablecoin, token0 when that does
not decide; or "token0", "token1", a token symbol or address).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import SimError
from sim.history.schema import BLOCKS, FEED, FORMAT, MANIFEST, TABLES, V2, V3, chunk_file

STABLES = {"USDC", "USDT", "DAI", "USDC.E", "BUSD", "FRAX", "TUSD", "USDP", "LUSD", "GUSD",
           "PYUSD", "USDS", "USDE", "CRVUSD", "GHO"}  # fmt: skip
"""Symbols taken for USD stablecoins when `risky` is "auto"."""


class HistoryError(SimError):
    """A pulled folder is missing, malformed, or does not hold what is asked of it; the message
    names the folder or the field and what to do."""


@dataclass
class History:
    """One pulled folder (see `sim.chain.history`)."""

    path: Path
    manifest: dict[str, Any]

    @property
    def sources(self) -> dict[str, dict[str, Any]]:
        """address -> {kind, tokens, fee, initial state, ...} as the pull described them."""
        return self.manifest["sources"]

    @property
    def anchor_timestamp(self) -> int | None:
        """Timestamp of the block before the first pulled one (None when pulled from 0)."""
        return self.manifest.get("anchor_timestamp")

    @property
    def last_block(self) -> int:
        chunks = self.manifest["chunks"]
        return max(e for _, e in chunks) if chunks else -1

    def rows(self, table: str, address: str | None = None) -> list[dict[str, Any]]:
        """Rows of an event table (of one source when `address`), sorted, ints parsed."""
        event = TABLES[table]
        parts = [self.path / chunk_file(table, s, e) for s, e in self.manifest["chunks"]]
        tables = [pq.read_table(p) for p in parts if p.is_file()]
        if not tables:
            return []
        data = pa.concat_tables(tables).to_pylist()
        if address is not None:
            data = [r for r in data if r["address"] == address]
        wide = [f.name for f in event.fields if f.wide]
        for r in data:
            for name in wide:
                r[name] = int(r[name])
        data.sort(key=lambda r: (r["block_number"], r["log_index"]))
        return data

    @cached_property
    def timestamps(self) -> dict[int, int]:
        """Block number -> timestamp of every stored header."""
        out: dict[int, int] = {}
        for s, e in self.manifest["chunks"]:
            p = self.path / chunk_file(BLOCKS, s, e)
            if p.is_file():
                t = pq.read_table(p, columns=["number", "timestamp"]).to_pydict()
                out.update(zip(t["number"], t["timestamp"], strict=True))
        return out

    def source(self, address: str | None, kinds: tuple[str, ...], option: str) -> str:
        """The address of the source asked for: `address` (checked to be of one of `kinds`),
        or the only source of those kinds."""
        fit = [a for a, s in self.sources.items() if s["kind"] in kinds]
        if address is None:
            if len(fit) != 1:
                raise HistoryError(
                    f"{option}: {self.path} holds {len(fit)} sources of kind "
                    f"{'/'.join(kinds)} ({', '.join(fit) or 'none'}); name one"
                )
            return fit[0]
        match = [a for a in fit if a.lower() == address.lower()]
        if not match:
            raise HistoryError(
                f"{option} {address}: not a {'/'.join(kinds)} source of {self.path} (it holds "
                f"{', '.join(self.sources)})"
            )
        return match[0]

    def risky_side(self, address: str, risky: str = "auto") -> int:
        """0 or 1: which token of pool `address` is the risky asset (see the module doc)."""
        s = self.sources[address]
        syms = [s[f"token{i}"]["symbol"].upper() for i in (0, 1)]
        if risky == "auto":
            stable = [sym in STABLES for sym in syms]
            return 0 if stable[1] and not stable[0] else 1 if stable[0] and not stable[1] else 0
        for i in (0, 1):
            if risky.lower() in (f"token{i}", syms[i].lower(), s[f"token{i}"]["address"].lower()):
                return i
        raise HistoryError(
            f"risky {risky!r}: pool {address} trades {syms[0]} and {syms[1]}; name token0, "
            "token1 or one of them"
        )

    def price_path(self, address: str, risky: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """(seconds since the anchor block, price) of a pool or feed at every block that moved
        it, the first point at time 0 (the state at the anchor, else the first recorded one).

        Shape:
            both (T,)
        """
        s = self.sources[address]
        points: list[tuple[int, float]] = []
        if s["kind"] == FEED:
            scale = 10 ** s["decimals"]
            init = s.get("initial")
            if init is not None:
                points.append((-1, int(init["answer"]) / scale))
            points += [(r["block_number"], r["current"] / scale)
                       for r in self.rows("feed_answer", address)]  # fmt: skip
        else:
            side = self.risky_side(address, risky)
            d0, d1 = s["token0"]["decimals"], s["token1"]["decimals"]

            def price(raw01: float) -> float:  # raw token1 per token0 -> numeraire per risky
                p = raw01 * 10.0 ** (d0 - d1)
                return 1.0 / p if side == 1 else p

            init = s.get("initial")
            if s["kind"] == V2:
                if init is not None and int(init["reserve0"]) > 0:
                    points.append((-1, price(int(init["reserve1"]) / int(init["reserve0"]))))
                points += [(r["block_number"], price(r["reserve1"] / r["reserve0"]))
                           for r in self.rows("v2_sync", address) if r["reserve0"] > 0]  # fmt: skip
            else:
                if init is not None:
                    points.append((-1, price((int(init["sqrt_price_x96"]) / 2**96) ** 2)))
                rows = self.rows("v3_initialize", address) + self.rows("v3_swap", address)
                rows.sort(key=lambda r: (r["block_number"], r["log_index"]))
                points += [(r["block_number"], price((r["sqrtPriceX96"] / 2**96) ** 2))
                           for r in rows]  # fmt: skip
        if not points:
            raise HistoryError(f"{self.path}: source {address} moved no price in the pulled range")
        return self._times(points)

    def _times(self, points: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Last point per block, timed from the anchor (block -1 is the anchor itself)."""
        last: dict[int, float] = {}
        for block, p in points:
            last[block] = p
        t0 = self.time_origin()
        ts = self.timestamps
        times = np.array([0.0 if b < 0 else float(ts[b] - t0) for b in last])
        prices = np.array(list(last.values()))
        if times[0] > 0:  # no anchor state: the first recorded price holds from time 0
            times = np.concatenate([[0.0], times])
            prices = np.concatenate([[prices[0]], prices])
        return times, prices

    def time_origin(self) -> int:
        """Timestamp that scenario time 0 stands for: the anchor block's, else the first
        stored block's."""
        if self.anchor_timestamp is not None:
            return int(self.anchor_timestamp)
        return min(self.timestamps.values())


def open_history(path: str | Path) -> History:
    """Read a pulled folder's manifest.

    Raises:
        HistoryError: no folder, no manifest, or a manifest of another format.
    """
    p = Path(path)
    try:
        manifest = json.loads((p / MANIFEST).read_text())
    except (OSError, ValueError) as err:
        raise HistoryError(
            f"{p}: no readable {MANIFEST} ({err}); pull one with `ammlab data pull --out {p}`"
        ) from err
    if manifest.get("format") != FORMAT:
        raise HistoryError(f"{p}/{MANIFEST}: format {manifest.get('format')!r}, not {FORMAT}")
    return History(p, manifest)


POOL_KINDS = (V2, V3)
PRICE_KINDS = (V2, V3, FEED)

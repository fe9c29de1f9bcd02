"""The book a model is trained for, on the keeper's clock, and the check that a live book is it.

A band model is trained for one book: its features are scaled by the book's size, strike and
implied vol, and its sense of time to expiry comes from the legs' expiries. A `BookSnapshot`
records that book with expiries as clock times (block timestamps for a chain's book, seconds
on the simulator's clock otherwise), the spot it was taken at and its LP position, and
`book_mismatch` compares it with the book a keeper holds now.

A chain's book enters training through `--book-from SOURCE`: a book JSON file (this module's
format), a model file (the book it was trained for), or a deployment manifest or an RPC URL
through the keeper's reader, which `ammlab` passes to `load_book`. `sim` itself never reads a
chain's book.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sim.atomic import atomic_write_text
from sim.decisions.book import OptionPositions
from sim.errors import ConfigError
from sim.learn.config import LearnConfig

FORMAT = "ammlab.book/1"
STRIKE_RTOL = 1e-9
"""Strikes are the same when within this relative distance (wad rounding)."""
EXPIRY_ATOL = 1.0
"""Expiries are the same when within this many seconds (block timestamps are integers)."""


@dataclass(frozen=True)
class Leg:
    """One option position: size < 0 short, expiry a clock time (seconds)."""

    type: str
    strike: float
    expiry: float
    size: float
    iv: float


@dataclass(frozen=True)
class BookSnapshot:
    """A book at one time: option legs (absolute expiries), LP base, spot.

    Attributes:
        as_of: clock time the book was read at (a block timestamp, or `time_origin`).
        spot: spot at `as_of`, quote per base.
        legs: live option positions.
        lp_base: base held through LP shares at `spot`.
        source: where it came from (chain, block, contract; or the config's name).
    """

    as_of: float
    spot: float
    legs: tuple[Leg, ...]
    lp_base: float = 0.0
    source: str = ""

    # -- conversions ---------------------------------------------------------------------------

    @classmethod
    def from_positions(
        cls,
        opts: OptionPositions,
        as_of: float,
        spot: float,
        lp_base: float = 0.0,
        source: str = "",
    ) -> BookSnapshot:
        """The live legs of `sim.decisions.book.OptionPositions` (P,) (expired and empty ones left out)."""
        legs = tuple(
            Leg("call" if c else "put", float(k), float(e), float(s), float(v))
            for s, k, e, c, v in zip(
                opts.size, opts.strike, opts.expiry, opts.is_call, opts.iv, strict=True
            )
            if s != 0 and e > as_of
        )
        return cls(float(as_of), float(spot), legs, float(lp_base), source)

    @classmethod
    def from_config(cls, cfg: LearnConfig) -> BookSnapshot:
        """The config's book on the clock: expiries `time_origin` + the legs' seconds."""
        legs = tuple(
            Leg(o.type, o.strike, cfg.time_origin + o.expiry, o.size, o.iv) for o in cfg.options
        )
        return cls(
            cfg.time_origin, cfg.grid.s0, legs, cfg.lp_base, cfg.book_source or f"config {cfg.name}"
        )

    def positions(self) -> OptionPositions:
        legs = self.legs
        return OptionPositions(
            size=np.array([x.size for x in legs], dtype=float),
            strike=np.array([x.strike for x in legs], dtype=float),
            expiry=np.array([x.expiry for x in legs], dtype=float),
            is_call=np.array([x.type == "call" for x in legs], dtype=bool),
            iv=np.array([x.iv for x in legs], dtype=float),
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["legs"] = [asdict(x) for x in self.legs]
        return {"format": FORMAT, **d}

    @classmethod
    def from_dict(cls, d: dict, where: str = "book") -> BookSnapshot:
        try:
            return cls(
                as_of=float(d["as_of"]),
                spot=float(d["spot"]),
                legs=tuple(
                    Leg(
                        str(x["type"]),
                        float(x["strike"]),
                        float(x["expiry"]),
                        float(x["size"]),
                        float(x["iv"]),
                    )
                    for x in d["legs"]
                ),
                lp_base=float(d.get("lp_base", 0.0)),
                source=str(d.get("source", "")),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{where}: not a book ({err!r}); write one with --book-from") from err

    def save(self, path: str | Path) -> Path:
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2))

    def describe(self) -> str:
        """One line: what, where from, as of when."""
        legs = ", ".join(f"{x.size:+g} {x.type} {x.strike:g} exp {x.expiry:.0f}" for x in self.legs)
        lp = f"; LP {self.lp_base:g} base" if self.lp_base else ""
        return (
            f"{len(self.legs)} legs ({legs}){lp} from {self.source or 'unknown'}, as of "
            f"{self.as_of:.0f}, spot {self.spot:g}"
        )


def apply_book(cfg: LearnConfig, book: BookSnapshot) -> LearnConfig:
    """`cfg` with `book` as its book: the legs' expiries become seconds after `book.as_of`
    (legs expired by then are left out), spot s0 = `book.spot`, the clock's origin
    `time_origin` = `book.as_of`. Raises ConfigError when nothing live is left."""
    legs = [x for x in book.legs if x.expiry > book.as_of and x.size != 0]
    if not legs:
        raise ConfigError(
            f"--book-from: the book from {book.source or 'the source'} has no live option leg "
            f"at {book.as_of:.0f}; open positions first or pick another block"
        )
    raw = cfg.model_dump(mode="json")
    raw["options"] = [
        {"type": x.type, "strike": x.strike, "expiry": x.expiry - book.as_of, "size": x.size,
         "iv": x.iv}
        for x in legs
    ]  # fmt: skip
    raw["grid"]["s0"] = book.spot
    raw["lp_base"] = book.lp_base
    raw["time_origin"] = book.as_of
    raw["book_source"] = book.source
    try:
        return LearnConfig.model_validate(raw)
    except ValueError as err:
        raise ConfigError(f"--book-from: the book does not make a valid config ({err})") from err


# ----------------------------------------------------------------------------- the check


def _name(leg: Leg) -> str:
    return f"{leg.type} {leg.strike:g} expiring {leg.expiry:.0f}"


def book_mismatch(
    trained: BookSnapshot,
    live: OptionPositions,
    now: float,
    lp_base: float = 0.0,
    spot: float | None = None,
    size_tolerance: float = 0.05,
) -> str | None:
    """How the live book differs from the one a model was trained for, in one phrase; None
    when it is the same book.

    Legs expired by `now` are left out on both sides (they settled in training too). Live legs
    with the same kind, strike and expiry are summed. The same book: every live leg is one of
    the trained legs and the other way round (strikes within STRIKE_RTOL, expiries within
    EXPIRY_ATOL seconds), each size within `size_tolerance` (relative) of the trained one, and
    the LP base within the same tolerance of the trained LP at the same spot
    (x √(s0/S), or absent on both sides).

    Shape:
        live: arrays (P,) (one world).
    """
    now = float(now)
    got: dict[tuple[str, float, float], float] = {}
    for s, k, e, c, _ in zip(
        live.size, live.strike, live.expiry, live.is_call, live.iv, strict=True
    ):
        if s == 0 or e <= now:
            continue
        kind = "call" if c else "put"
        key = next(
            (
                g
                for g in got
                if g[0] == kind
                and abs(g[1] - k) <= STRIKE_RTOL * k
                and abs(g[2] - e) <= EXPIRY_ATOL
            ),
            (kind, float(k), float(e)),
        )
        got[key] = got.get(key, 0.0) + float(s)
    if got and trained.legs and all(leg.expiry <= now for leg in trained.legs):
        return (
            f"every leg it was trained for expired by now ({now:.0f}; the last at "
            f"{max(leg.expiry for leg in trained.legs):.0f}, book as of {trained.as_of:.0f})"
        )
    for leg in trained.legs:
        if leg.expiry <= now:
            continue
        key = next(
            (
                g
                for g in got
                if g[0] == leg.type
                and abs(g[1] - leg.strike) <= STRIKE_RTOL * leg.strike
                and abs(g[2] - leg.expiry) <= EXPIRY_ATOL
            ),
            None,
        )
        if key is None:
            return f"the trained {_name(leg)} (size {leg.size:+g}) is not in the live book"
        size = got.pop(key)
        if abs(size - leg.size) > size_tolerance * abs(leg.size):
            return (
                f"{_name(leg)}: live size {size:+g}, trained for {leg.size:+g} (more than "
                f"{size_tolerance:.0%} apart)"
            )
    if got:
        (kind, k, e), size = next(iter(got.items()))
        return f"the live book's {kind} {k:g} expiring {e:.0f} (size {size:+g}) was not trained for"
    want = trained.lp_base * np.sqrt(trained.spot / spot) if spot and trained.lp_base else 0.0
    if abs(lp_base - want) > size_tolerance * max(abs(want), 1e-12) and (lp_base or want):
        return (
            f"LP base: live {lp_base:g}, trained for {want:g} at this spot (more than "
            f"{size_tolerance:.0%} apart)"
        )
    return None


# ----------------------------------------------------------------------------- sources

ChainReader = Callable[[str, "int | None"], BookSnapshot]
"""`reader(manifest path or RPC URL, block) -> BookSnapshot`: the keeper's reader, which
`ammlab` passes in (the simulator does not read chains' books itself)."""


def load_book(
    source: str, block: int | None = None, chain_reader: ChainReader | None = None
) -> BookSnapshot:
    """A book from `source`: a book JSON file, a model file (its book), or through
    `chain_reader` a deployment manifest or an RPC URL (at `block`, default the latest).
    Errors name the source and what to do (ConfigError)."""
    p = Path(source)
    if p.is_file():
        try:
            doc = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ConfigError(f"--book-from {source}: cannot read it as JSON ({err})") from err
        is_model = isinstance(doc, dict) and str(doc.get("format")).startswith("ammlab.learn.ntb/")
        if block is not None and (
            is_model or isinstance(doc, dict) and doc.get("format") == FORMAT
        ):
            raise ConfigError(f"--block: {source} holds a book read already, at one block")
        if isinstance(doc, dict) and doc.get("format") == FORMAT:
            return BookSnapshot.from_dict(doc, f"--book-from {source}")
        if is_model:
            if not doc.get("book"):
                raise ConfigError(f"--book-from {source}: the model file records no book")
            return BookSnapshot.from_dict(doc["book"], f"--book-from {source}")
    elif not source.startswith(("http://", "https://", "ws://", "wss://")):
        raise ConfigError(
            f"--book-from {source}: no such file, and not an RPC URL (http://...); give a book "
            "or model file, a deployment manifest (`ammlab chain up`) or an RPC URL"
        )
    if chain_reader is None:
        raise ConfigError(
            f"--book-from {source}: reading a chain needs the keeper; run `ammlab learn train`"
        )
    return chain_reader(source, block)

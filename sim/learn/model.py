"""The no-transaction-band hedger: features, the network in numpy, and its model file.

Architecture (after pfhedge's NoTransactionBandNet, Imaki et al. 2021): an MLP maps the state
to two non-negative widths (w_lo, w_hi); the hedge may rest anywhere in the band
[−Δ − w_lo, −Δ + w_hi] around the delta-neutral hedge −Δ (Δ the book's Black–Scholes delta)
and, when it leaves, trades to the nearest edge. Widths are softplus(output) · `unit` base.

Features, per world (`FEATURES`; the last two depend on the current hedge):
    log_moneyness   ln(S / K_ref) / (iv sqrt(horizon)), K_ref the book's |size|-weighted strike
    sqrt_tau        sqrt(time to the nearest live expiry, years)
    implied_vol     the book's implied vol (extra feature, default: the legs' |size|-weighted IV)
    book_delta      Δ / unit
    gamma_move      Γ · (iv S sqrt(dt)) / unit: delta change over a one-sigma step
    log_rv_ratio    ln(realised vol / iv), clipped to ±3 (extra feature `realised_vol`, default
                    iv: ratio 1; `sim.learn.features` computes it from the price history)
    flow            arbitrage flow, annualised log-price units (extra `flow`, default 0;
                    only when the network was trained with `use_flow`)
    net_delta       (Δ + hedge) / unit
    cost_bps        cost rate of the full re-hedge, bps / 10
The first group is standardised with the training set's mean and std (stored in the file).

Time is the keeper's clock: `expiries` are clock times (block timestamps for a book read from
a chain, seconds on the simulator's clock otherwise), so time to expiry is expiry − now
wherever the model runs. `book` is the book it was trained for (`sim.learn.book`), which a
keeper checks against the book it holds before trusting the model.

Inference is numpy only (`Learned.decide` never imports torch); `sim.learn.train` builds the
same network in torch and writes the file. The file is one JSON document (no pickle): the
training config, the book, the normalisation, and the weights as float64 lists, which
round-trip exactly.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.atomic import atomic_write_text
from sim.errors import ConfigError
from sim.learn.book import BookSnapshot
from sim.learn.config import LearnConfig
from sim.learn.forecast import LOOKBACK
from sim.processes import YEAR

FORMAT = "ammlab.learn.ntb/2"
OLD_FORMATS = ("ammlab.learn.ntb/1",)
"""Read as well: /1 files have sim-clock expiries, the book in their config, no rv_window."""
RV_RATIO_CLIP = 3.0
"""|ln(realised / implied vol)| beyond this is clipped: a feed that has not moved gives a
realised vol of 0 (ln → −∞), far outside anything the network saw."""
EXOGENOUS = ["log_moneyness", "sqrt_tau", "implied_vol", "book_delta", "gamma_move", "log_rv_ratio"]
ENDOGENOUS = ["net_delta", "cost_bps"]


class ModelFileError(ConfigError):
    """A model file is missing, unreadable or of another format."""


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


@dataclass
class BandModel:
    """A trained band network and everything needed to compute its features.

    Attributes:
        unit: base units of one feature/width unit.
        k_ref, iv: reference strike (quote/base) and implied vol of the book.
        expiries: the legs' expiries, clock times in seconds (for sqrt_tau).
        dt, horizon: the hedging grid it was trained on, seconds.
        use_flow: whether the `flow` feature is an input.
        book: the book it was trained for (expiries as clock times).
        time_origin: clock time of its training paths' start (the book's as-of).
        rv_window: grid steps of the realised-vol feature.
        fee: venue fee of the flow feature's pool model (fraction).
        mean, std: normalisation of the exogenous features (F,).
        layers: [(W (out, in), b (out,)), ...]; ReLU between layers.
        pnl_unit: quote units of the training objective's P&L.
        config, info: the training config (JSON) and training facts (loss history, seed).
    """

    unit: float
    k_ref: float
    iv: float
    expiries: np.ndarray
    dt: float
    horizon: float
    use_flow: bool
    mean: np.ndarray
    std: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]
    book: BookSnapshot | None = None
    time_origin: float = 0.0
    rv_window: int = 12
    fee: float = 5e-4
    pnl_unit: float = 1.0
    config: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def exogenous_names(self) -> list[str]:
        return EXOGENOUS + (["flow"] if self.use_flow else [])

    def lookback(self, vol_features: bool = False) -> int:
        """Grid prices the extra features read at one step (`sim.learn.features`)."""
        wide = vol_features or self.use_flow
        return max(self.rv_window + 1, LOOKBACK if wide else 0)

    # -- features ----------------------------------------------------------------------------

    def exogenous(
        self,
        spot: np.ndarray,
        now: np.ndarray,
        book_delta: np.ndarray,
        book_gamma: np.ndarray,
        realised_vol: np.ndarray | float | None = None,
        implied_vol: np.ndarray | float | None = None,
        flow: np.ndarray | float | None = None,
    ) -> np.ndarray:
        """Raw (unnormalised) exogenous features. Inputs broadcast; returns (..., F)."""
        spot = np.asarray(spot, dtype=float)
        iv = np.broadcast_to(
            np.asarray(self.iv if implied_vol is None else implied_vol, float), spot.shape
        )
        rv = np.broadcast_to(
            np.asarray(iv if realised_vol is None else realised_vol, float), spot.shape
        )
        now = np.broadcast_to(np.asarray(now, dtype=float), spot.shape)
        live = self.expiries[self.expiries > -np.inf]
        tau = np.min(np.where(live > now[..., None], live - now[..., None], np.inf), axis=-1)
        tau = np.where(np.isfinite(tau), tau, 0.0)
        cols = [
            np.log(spot / self.k_ref) / (self.iv * math.sqrt(self.horizon / YEAR)),
            np.sqrt(tau / YEAR),
            iv,
            np.asarray(book_delta, float) / self.unit,
            np.asarray(book_gamma, float) * (iv * spot * math.sqrt(self.dt / YEAR)) / self.unit,
            np.clip(np.log(np.maximum(rv, 1e-300) / iv), -RV_RATIO_CLIP, RV_RATIO_CLIP),
        ]
        if self.use_flow:
            cols.append(
                np.broadcast_to(np.asarray(0.0 if flow is None else flow, float), spot.shape)
            )
        return np.stack([np.broadcast_to(c, spot.shape) for c in cols], axis=-1)

    def forward(self, feats: np.ndarray) -> np.ndarray:
        """Network output (..., 2) from normalised exogenous + endogenous features (..., F+2)."""
        h = feats
        for i, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return h

    def band(
        self,
        exo: np.ndarray,
        book_delta: np.ndarray,
        hedge: np.ndarray,
        cost_rate: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) hedge bounds, base units, from raw exogenous features (W, F)."""
        z = (exo - self.mean) / self.std
        endo = np.stack(
            [
                (np.asarray(book_delta) + np.asarray(hedge)) / self.unit,
                np.broadcast_to(np.asarray(cost_rate, float), np.shape(hedge)) * 1e3,
            ],
            axis=-1,
        )
        out = self.forward(np.concatenate([z, endo], axis=-1))
        w = softplus(out) * self.unit
        return -book_delta - w[..., 0], -book_delta + w[..., 1]

    # -- file ----------------------------------------------------------------------------------

    def to_json(self) -> str:
        doc = {
            "format": FORMAT,
            "unit": self.unit,
            "k_ref": self.k_ref,
            "iv": self.iv,
            "expiries": self.expiries.tolist(),
            "dt": self.dt,
            "horizon": self.horizon,
            "use_flow": self.use_flow,
            "book": self.book.to_dict() if self.book is not None else None,
            "time_origin": self.time_origin,
            "rv_window": self.rv_window,
            "fee": self.fee,
            "features": self.exogenous_names + ENDOGENOUS,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "pnl_unit": self.pnl_unit,
            "layers": [{"w": w.tolist(), "b": b.tolist()} for w, b in self.layers],
            "config": self.config,
            "info": self.info,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))

    def save(self, path: str | Path) -> Path:
        return atomic_write_text(path, self.to_json())

    @classmethod
    def from_json(cls, text: str, where: str = "model") -> BandModel:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as err:
            raise ModelFileError(f"{where}: not a JSON model file ({err})") from err
        if not isinstance(d, dict) or d.get("format") not in (FORMAT, *OLD_FORMATS):
            raise ModelFileError(
                f"{where}: not an {FORMAT} model; train one with `ammlab learn train`"
            )
        config = d.get("config", {})
        if d.get("book"):
            book = BookSnapshot.from_dict(d["book"], where)
        else:  # ntb/1: the book is the config's, on the simulator's clock
            try:
                book = BookSnapshot.from_config(LearnConfig.model_validate(config))
            except ValueError as err:
                raise ModelFileError(f"{where}: its config is not valid ({err})") from err
        return cls(
            unit=float(d["unit"]),
            k_ref=float(d["k_ref"]),
            iv=float(d["iv"]),
            expiries=np.asarray(d["expiries"], dtype=float),
            dt=float(d["dt"]),
            horizon=float(d["horizon"]),
            use_flow=bool(d["use_flow"]),
            mean=np.asarray(d["mean"], dtype=float),
            std=np.asarray(d["std"], dtype=float),
            layers=[(np.asarray(x["w"], float), np.asarray(x["b"], float)) for x in d["layers"]],
            book=book,
            time_origin=float(d.get("time_origin", 0.0)),
            rv_window=int(d.get("rv_window", config.get("train", {}).get("rv_window", 12))),
            fee=float(d.get("fee", config.get("venue", {}).get("fee_bps", 5.0) / 1e4)),
            pnl_unit=float(d.get("pnl_unit", 1.0)),
            config=config,
            info=d.get("info", {}),
        )

    @classmethod
    def load(cls, path: str | Path) -> BandModel:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as err:
            raise ModelFileError(f"model {p}: cannot read it ({err})") from err
        return cls.from_json(text, str(p))


_CACHE: dict[tuple[str, int, int], BandModel] = {}


def load_cached(path: str | Path) -> BandModel:
    """`BandModel.load`, memoised on (resolved path, mtime, size): a policy's decide() runs
    every block and must not re-read the file."""
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError as err:
        raise ModelFileError(f"model {p}: cannot read it ({err})") from err
    key = (str(p), st.st_mtime_ns, st.st_size)
    if key not in _CACHE:
        _CACHE[key] = BandModel.load(p)
    return _CACHE[key]

"""Reference (CEX) price processes and the per-world random streams they draw from.

Units: time in seconds, volatility and drift annualised with a 365-day year (YEAR seconds),
prices in numeraire per risky asset. Every process is a batch over N worlds and is stepped by a
per-world time increment dt (shape (N,)) so fixed and Poisson block times share one code path.

Randomness comes from per-world streams (`sim.streams.WorldStreams`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from numba import prange
from pydantic import Field, model_validator

from sim.config import ConfigModel
from sim.errors import ConfigError
from sim.streams import PARALLEL_MIN, WorldStreams, dual_kernel, normal_pair_draw
from sim.venues.base import NUMERAIRE, RISKY

YEAR = 365.0 * 86400.0
"""Seconds in the year that annualised parameters refer to."""


class PriceProcess(ABC):
    """A batch price process: `price` (N,) now; `step(dt)` advances by dt seconds (N,)."""

    price: np.ndarray

    @abstractmethod
    def step(self, dt: np.ndarray) -> np.ndarray:
        """Advance every world by `dt` seconds (N,) and return the new prices (N,)."""


def _gbm_step_py(log_s, st, spare, has, dt, drift, sigma):
    n = log_s.shape[0]
    for w in prange(n):
        if has[w]:
            z = spare[w]
            has[w] = False
        else:
            s0, s1, s2, s3 = st[w, 0], st[w, 1], st[w, 2], st[w, 3]
            z, z1, s0, s1, s2, s3 = normal_pair_draw(s0, s1, s2, s3)
            st[w, 0], st[w, 1], st[w, 2], st[w, 3] = s0, s1, s2, s3
            spare[w] = z1
            has[w] = True
        log_s[w] += drift * dt[w] + sigma * math.sqrt(dt[w]) * z


_gbm_step_s, _gbm_step_p = dual_kernel(_gbm_step_py)


def _gbm_step(log_s, st, spare, has, dt, drift, sigma):
    n = log_s.shape[0]
    (_gbm_step_p if n >= PARALLEL_MIN else _gbm_step_s)(log_s, st, spare, has, dt, drift, sigma)


class GBM(PriceProcess):
    """Geometric Brownian motion, dS/S = mu dt + sigma dW.

    Exact log step: ln S(t+dt) = ln S(t) + (mu - sigma^2/2) dt + sigma sqrt(dt) Z.
    mu, sigma annualised (per year, per sqrt(year)); dt in seconds.

    Shape:
        price: (N,)
    """

    def __init__(self, n: int, s0: float, sigma: float, mu: float, streams: WorldStreams):
        self.log_s = np.full(n, math.log(s0))
        self.sigma = sigma / math.sqrt(YEAR)
        self.drift = (mu - 0.5 * sigma * sigma) / YEAR
        self.streams = streams
        self.price = np.exp(self.log_s)

    def step(self, dt: np.ndarray) -> np.ndarray:
        st = self.streams
        _gbm_step(self.log_s, st.state, st.spare, st.has_spare, dt, self.drift, self.sigma)
        self.price = np.exp(self.log_s)
        return self.price


class MultiGBM(PriceProcess):
    """Correlated geometric Brownian motions of several risky tokens priced in a numeraire.

    For each asset k: ln S_k(t+dt) = ln S_k(t) + (mu_k - sigma_k^2/2) dt + sigma_k sqrt(dt) Z_k,
    Z = L z with z independent N(0, 1) and L the Cholesky factor of the correlation matrix
    (L L^T = C). mu, sigma annualised; dt in seconds. The numeraire is worth 1 throughout.

    `price` is the primary (first) asset's, what `ctx.ref` is; `prices` holds every token's,
    the numeraire's included.

    Shape:
        price: (N,); prices: {token: (N,)}; log_s: (K, N)
    """

    def __init__(
        self,
        n: int,
        tokens: list[str],
        numeraire: str,
        s0: np.ndarray,
        sigma: np.ndarray,
        mu: np.ndarray,
        chol: np.ndarray,
        streams: WorldStreams,
    ):
        self.tokens = list(tokens)
        self.numeraire = numeraire
        self.log_s = np.repeat(np.log(np.asarray(s0, dtype=np.float64))[:, None], n, axis=1)
        sig = np.asarray(sigma, dtype=np.float64)
        self.sigma = (sig / math.sqrt(YEAR))[:, None]
        self.drift = ((np.asarray(mu, dtype=np.float64) - 0.5 * sig * sig) / YEAR)[:, None]
        self.chol = np.asarray(chol, dtype=np.float64)
        self.streams = streams
        self._one = np.ones(n)
        self._publish()

    def _publish(self) -> None:
        px = np.exp(self.log_s)
        self.prices = {t: px[k] for k, t in enumerate(self.tokens)}
        self.prices[self.numeraire] = self._one
        self.price = px[0]

    def step(self, dt: np.ndarray) -> np.ndarray:
        z = self.chol @ self.streams.normal(len(self.tokens))
        self.log_s += self.drift * dt + self.sigma * np.sqrt(dt) * z
        self._publish()
        return self.price


class Merton(PriceProcess):
    """Merton jump-diffusion: GBM plus compound-Poisson jumps in the log price.

    ln S(t+dt) = ln S(t) + (mu - sigma^2/2 - lam*kbar) dt + sigma sqrt(dt) Z + sum_{i<=K} J_i,
    K ~ Poisson(lam dt), J_i ~ N(m, s^2), kbar = exp(m + s^2/2) - 1 so that E[S(t)] =
    S(0) e^{mu t}. lam per year, m and s in log units.

    Shape:
        price: (N,)
    """

    def __init__(
        self,
        n: int,
        s0: float,
        sigma: float,
        mu: float,
        jump_rate: float,
        jump_mean: float,
        jump_std: float,
        streams: WorldStreams,
        jump_streams: WorldStreams,
    ):
        kbar = math.exp(jump_mean + 0.5 * jump_std**2) - 1.0
        self.gbm = GBM(n, s0, sigma, mu - jump_rate * kbar, streams)
        self.lam = jump_rate / YEAR
        self.m = jump_mean
        self.s = jump_std
        self.jumps = jump_streams
        self.price = self.gbm.price

    def step(self, dt: np.ndarray) -> np.ndarray:
        self.gbm.step(dt)
        k = self.jumps.poisson(self.lam * dt)
        z = self.jumps.normal()
        self.gbm.log_s += k * self.m + np.sqrt(k) * self.s * z
        self.price = np.exp(self.gbm.log_s)
        return self.price


class Heston(PriceProcess):
    """Heston stochastic volatility, full-truncation Euler scheme.

    dS/S = mu dt + sqrt(v) dW1,  dv = kappa (theta - v) dt + xi sqrt(v) dW2,  d<W1,W2> = rho dt.
    v is annualised variance; kappa per year; xi per sqrt(year). With v+ = max(v, 0):
    ln S += (mu - v+/2) dt + sqrt(v+ dt) Z1;  v += kappa (theta - v+) dt + xi sqrt(v+ dt) Z2',
    Z2' = rho Z1 + sqrt(1 - rho^2) Z2 (Lord, Koekkoek and van Dijk 2010).

    Shape:
        price, v: (N,)
    """

    def __init__(
        self,
        n: int,
        s0: float,
        mu: float,
        v0: float,
        kappa: float,
        theta: float,
        xi: float,
        rho: float,
        streams: WorldStreams,
        vol_streams: WorldStreams,
    ):
        self.log_s = np.full(n, math.log(s0))
        self.v = np.full(n, v0)
        self.mu, self.kappa, self.theta, self.xi, self.rho = mu, kappa, theta, xi, rho
        self.streams = streams
        self.vol_streams = vol_streams
        self.price = np.exp(self.log_s)

    def step(self, dt: np.ndarray) -> np.ndarray:
        dty = dt / YEAR
        z1 = self.streams.normal()
        z2 = self.rho * z1 + math.sqrt(1.0 - self.rho**2) * self.vol_streams.normal()
        vp = np.maximum(self.v, 0.0)
        sq = np.sqrt(vp * dty)
        self.log_s += (self.mu - 0.5 * vp) * dty + sq * z1
        self.v += self.kappa * (self.theta - vp) * dty + self.xi * sq * z2
        self.price = np.exp(self.log_s)
        return self.price


def load_price_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a (timestamp, price) CSV with a header; returns (seconds from start, price).

    Raises:
        ConfigError: missing file, bad columns, unsorted timestamps or non-positive prices.
    """
    p = Path(path)
    try:
        data = np.loadtxt(p, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"price.path: cannot read {p} as a 'timestamp,price' CSV ({err}); fix the file"
        ) from err
    if data.shape[1] < 2 or data.shape[0] < 2:
        raise ConfigError(f"price.path: {p} needs a header and >= 2 rows of 'timestamp,price'")
    ts, px = data[:, 0], data[:, 1]
    if np.any(np.diff(ts) <= 0) or np.any(px <= 0):
        raise ConfigError(
            f"price.path: {p} needs strictly increasing timestamps and positive prices"
        )
    return ts - ts[0], px


class Replay(PriceProcess):
    """Replay of a recorded price series: the last recorded price at or before t.

    No look-ahead (a tick is seen only once its timestamp has passed). Past the end the series
    wraps around, rescaled so the path stays continuous. `offsets` (N,) starts each world at a
    different point of the record; zero means every world sees the same path.

    Shape:
        price: (N,)
    """

    def __init__(self, times: np.ndarray, prices: np.ndarray, offsets: np.ndarray):
        self.times = times
        self.log_p = np.log(prices)
        self.span = float(times[-1])
        self.t = offsets.astype(np.float64).copy()
        self.price = self._at(self.t)

    def _at(self, t: np.ndarray) -> np.ndarray:
        laps = np.floor(t / self.span)
        r = t - laps * self.span
        i = np.searchsorted(self.times, r, side="right") - 1
        lap_gain = self.log_p[-1] - self.log_p[0]
        return np.exp(self.log_p[i] + laps * lap_gain)

    def step(self, dt: np.ndarray) -> np.ndarray:
        self.t = self.t + dt
        self.price = self._at(self.t)
        return self.price


# ---------------------------------------------------------------- scenario configs


class ScheduledJump(ConfigModel):
    """A price gap at a set time: every world's price is multiplied by (1 + move) then."""

    time: float = Field(ge=0)
    """When the gap happens, seconds since the start of the run (warm-up included); it lands
    in the first block whose time is at or after it."""
    move: float = Field(gt=-1)
    """Relative price change, e.g. -0.3 for a 30 % drop."""


class _PriceBase(ConfigModel):
    s0: float = Field(2000.0, gt=0)
    """Initial reference price, numeraire per risky asset."""
    mu: float = 0.0
    """Annualised drift of the price (dS/S = mu dt + ...)."""
    scheduled_jumps: list[ScheduledJump] = Field(default_factory=list)
    """Deterministic price gaps on top of the process (stress tests), applied in time order."""


class _SigmaMixin(ConfigModel):
    sigma: float | None = Field(None, ge=0)
    """Annualised volatility (per sqrt(year)). Give this or `sigma_per_day`."""
    sigma_per_day: float | None = Field(None, ge=0)
    """Convenience: volatility per sqrt(day); sigma = sigma_per_day * sqrt(365)."""

    @model_validator(mode="after")
    def _one_sigma(self):
        if (self.sigma is None) == (self.sigma_per_day is None):
            raise ValueError("give exactly one of 'sigma' (annualised) or 'sigma_per_day'")
        return self

    @property
    def sigma_annual(self) -> float:
        """Annualised volatility whichever way it was given."""
        if self.sigma is not None:
            return self.sigma
        return float(self.sigma_per_day) * math.sqrt(365.0)


class GBMConfig(_PriceBase, _SigmaMixin):
    """Geometric Brownian motion."""

    kind: Literal["gbm"] = "gbm"
    """Process selector."""


class MertonConfig(_PriceBase, _SigmaMixin):
    """Merton jump-diffusion: GBM plus log-normal jumps at Poisson times."""

    kind: Literal["merton"] = "merton"
    """Process selector."""
    jump_rate: float = Field(12.0, ge=0)
    """Mean number of jumps per year."""
    jump_mean: float = -0.02
    """Mean of a jump in log price."""
    jump_std: float = Field(0.05, ge=0)
    """Standard deviation of a jump in log price."""


class HestonConfig(_PriceBase):
    """Heston stochastic volatility."""

    kind: Literal["heston"] = "heston"
    """Process selector."""
    v0: float = Field(0.64, ge=0)
    """Initial annualised variance (0.64 = 80% vol)."""
    kappa: float = Field(4.0, ge=0)
    """Mean-reversion speed of the variance, per year."""
    theta: float = Field(0.64, ge=0)
    """Long-run annualised variance."""
    xi: float = Field(1.0, ge=0)
    """Volatility of variance, per sqrt(year)."""
    rho: float = Field(-0.5, ge=-1, le=1)
    """Correlation of price and variance shocks."""


class ReplayConfig(ConfigModel):
    """Replay of a recorded price: a (timestamp, price) CSV, or a pool or feed of a pulled
    history folder at its block times (`sim.history`); timestamps in seconds."""

    kind: Literal["replay"] = "replay"
    """Process selector."""
    path: str | None = None
    """CSV file with a header and columns timestamp,price; relative to the scenario file."""
    source: str | None = None
    """Folder of `ammlab data pull` (instead of `path`); relative to the scenario file."""
    address: str | None = None
    """With `source`: the pool or feed whose price is replayed (None: the folder's only one)."""
    risky: str = "auto"
    """With `source` and a pool: its risky token (token0, token1, a symbol or address)."""
    random_start: bool = False
    """Start each world at a uniformly random point of the record (wrapping around)."""

    @model_validator(mode="after")
    def _one_record(self):
        if (self.path is None) == (self.source is None):
            raise ValueError("give exactly one of 'path' (a CSV) or 'source' (a pulled folder)")
        return self


class AssetConfig(_SigmaMixin):
    """One risky token of a multi-asset price process."""

    token: str
    """Token name (pools name it in `tokens`)."""
    s0: float = Field(gt=0)
    """Initial price, numeraire per token."""
    mu: float = 0.0
    """Annualised drift."""


class MultiGBMConfig(ConfigModel):
    """Correlated GBMs of several risky tokens priced in one numeraire (worth 1). The first
    asset is the primary one: its price is the scenario's reference price (`ctx.ref`), what
    feeds observe and the single-asset venues trade."""

    kind: Literal["multi_gbm"] = "multi_gbm"
    """Process selector."""
    numeraire: str = "USDC"
    """Name of the numeraire token."""
    assets: list[AssetConfig] = Field(min_length=1)
    """The risky tokens, the primary one first."""
    rho: float = Field(0.0, ge=-1, le=1)
    """Correlation of every pair of log-price shocks (when `correlation` is not given)."""
    correlation: list[list[float]] | None = None
    """Full correlation matrix of the assets' shocks, in `assets` order (overrides `rho`)."""

    @model_validator(mode="after")
    def _check(self):
        names = [a.token for a in self.assets]
        if len(set(names)) != len(names):
            raise ValueError("assets: token names must be unique")
        if self.numeraire in names:
            raise ValueError(f"numeraire: '{self.numeraire}' is also an asset; rename one")
        self.cholesky()
        return self

    @property
    def tokens(self) -> tuple[str, ...]:
        """The primary asset, the numeraire, then the other assets."""
        names = [a.token for a in self.assets]
        return (names[0], self.numeraire, *names[1:])

    @property
    def s0(self) -> float:
        """The primary asset's initial price."""
        return self.assets[0].s0

    @property
    def sigma_annual(self) -> float:
        """The primary asset's annualised volatility."""
        return self.assets[0].sigma_annual

    def cholesky(self) -> np.ndarray:
        """L with L L^T = the correlation matrix, (K, K).

        Raises:
            ValueError: naming `correlation` (or `rho`) when it is not a correlation matrix.
        """
        k = len(self.assets)
        if self.correlation is None:
            c = np.full((k, k), self.rho)
            np.fill_diagonal(c, 1.0)
            field = "rho"
        else:
            c = np.asarray(self.correlation, dtype=np.float64)
            field = "correlation"
            if c.shape != (k, k):
                raise ValueError(f"correlation: give a {k} x {k} matrix, one row per asset")
            if not (np.allclose(c, c.T) and np.allclose(np.diag(c), 1.0)):
                raise ValueError("correlation: must be symmetric with ones on the diagonal")
        try:
            return np.linalg.cholesky(c)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"{field}: not positive definite (perfectly correlated assets are one asset)"
            ) from None


def token_names(price: ConfigModel) -> tuple[str, ...]:
    """A price process's tokens: the primary risky asset, the numeraire, then any others.

    Single-asset processes price the risky asset against the numeraire, named by the labels
    every venue uses (`sim.venues.base.RISKY`, `NUMERAIRE`).
    """
    if isinstance(price, MultiGBMConfig):
        return price.tokens
    return (RISKY, NUMERAIRE)


def multi_gbm(cfg: MultiGBMConfig, n: int, streams: WorldStreams) -> MultiGBM:
    """The process of a `MultiGBMConfig` for n worlds."""
    a = cfg.assets
    return MultiGBM(
        n,
        [x.token for x in a],
        cfg.numeraire,
        np.array([x.s0 for x in a]),
        np.array([x.sigma_annual for x in a]),
        np.array([x.mu for x in a]),
        cfg.cholesky(),
        streams,
    )


PriceConfig = Annotated[
    GBMConfig | MertonConfig | HestonConfig | ReplayConfig | MultiGBMConfig,
    Field(discriminator="kind"),
]

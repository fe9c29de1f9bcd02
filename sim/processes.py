"""Reference (CEX) price processes and the per-world random streams they draw from.

Units: time in seconds, volatility and drift annualised with a 365-day year (YEAR seconds),
prices in numeraire per risky asset. Every process is a batch over N worlds and is stepped by a
per-world time increment dt (shape (N,)) so fixed and Poisson block times share one code path.

Randomness: `WorldStreams` gives each world its own xoshiro256** stream, seeded by
splitmix64 from (seed, key, world index). World i therefore draws the same numbers whatever the
batch size, the chunking or the number of threads, and two components with different keys never
share numbers (adding an agent does not move the price path).
"""

from __future__ import annotations

import math
import os
import types
import zlib
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
from numba import njit, prange

from sim.errors import ConfigError

YEAR = 365.0 * 86400.0
"""Seconds in the year that annualised parameters refer to."""

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def _splitmix(x):
    z = x + _M1
    z = (z ^ (z >> np.uint64(30))) * _M2
    z = (z ^ (z >> np.uint64(27))) * _M3
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, inline="always")
def xo_next(s0, s1, s2, s3):
    """One xoshiro256** step on a state held in four locals; returns (out, s0, s1, s2, s3)."""
    out = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return out, s0, s1, s2, s3


@njit(cache=True, inline="always")
def to_unit(r):
    """Map 64 random bits to a float in the open interval (0, 1)."""
    return (float(r >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _seed_states(seed, key, n, offset):
    st = np.empty((n, 4), dtype=np.uint64)
    base = _splitmix(_splitmix(np.uint64(seed)) ^ np.uint64(key))
    for w in range(n):
        z = _splitmix(base ^ _splitmix(np.uint64(w + offset)))
        for j in range(4):
            z = _splitmix(z)
            st[w, j] = z
    return st


@njit(cache=True, inline="always")
def normal_pair_draw(s0, s1, s2, s3):
    """Box-Muller: two independent N(0,1) from two uniforms; returns (z0, z1, s0..s3)."""
    r, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
    u1 = to_unit(r)
    r, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
    u2 = to_unit(r)
    rad = math.sqrt(-2.0 * math.log(u1))
    ang = 2.0 * math.pi * u2
    return rad * math.cos(ang), rad * math.sin(ang), s0, s1, s2, s3


def _normals_py(st, spare, has, out):
    k, n = out.shape
    for w in prange(n):
        s0, s1, s2, s3 = st[w, 0], st[w, 1], st[w, 2], st[w, 3]
        sp = spare[w]
        h = has[w]
        for t in range(k):
            if h:
                out[t, w] = sp
                h = False
            else:
                z0, z1, s0, s1, s2, s3 = normal_pair_draw(s0, s1, s2, s3)
                out[t, w] = z0
                sp = z1
                h = True
        st[w, 0], st[w, 1], st[w, 2], st[w, 3] = s0, s1, s2, s3
        spare[w] = sp
        has[w] = h


def _uniforms_py(st, out):
    k, n = out.shape
    for w in prange(n):
        s0, s1, s2, s3 = st[w, 0], st[w, 1], st[w, 2], st[w, 3]
        for t in range(k):
            r, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
            out[t, w] = to_unit(r)
        st[w, 0], st[w, 1], st[w, 2], st[w, 3] = s0, s1, s2, s3


def _poisson_py(st, lam, out):
    n = out.shape[0]
    for w in prange(n):
        s0, s1, s2, s3 = st[w, 0], st[w, 1], st[w, 2], st[w, 3]
        r, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
        u = to_unit(r)
        # Inverse transform: fine for the small means used per block (< ~50).
        p = math.exp(-lam[w])
        c = p
        k = 0
        while u > c and k < 1000:
            k += 1
            p *= lam[w] / k
            c += p
        out[w] = k
        st[w, 0], st[w, 1], st[w, 2], st[w, 3] = s0, s1, s2, s3


def dual_kernel(fn):
    """A serial and a parallel build of one kernel: thread start-up costs more than small
    batches take, so batches under PARALLEL_MIN worlds run serially (same numbers either way).

    The parallel build gets its own function object and qualified name: numba names its cache
    files after the function, and two builds of one function would otherwise share (and
    clobber) one cache entry, silently running the serial code in place of the parallel one.
    """
    par = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_par")
    par.__qualname__ = fn.__qualname__ + "_par"
    return njit(cache=True, nogil=True)(fn), njit(cache=True, parallel=True, nogil=True)(par)


PARALLEL_MIN = int(os.environ.get("AMMLAB_SIM_PARALLEL_MIN", str(2**62)))
"""Smallest batch for which the general path's per-block kernels run multi-threaded.

Default: never. Each block launches a dozen small kernels, and on a shared 2-core machine the
thread barriers of a dozen launches per block cost more than they save (measured: serial
1.0e6 vs OpenMP 0.6-0.8e6 world-blocks/s on the full scenario under load 4). Set
AMMLAB_SIM_PARALLEL_MIN=4096 on an idle many-core machine. The fused reference kernel is
always parallel (one launch per segment of blocks).
"""
_normals_s, _normals_p = dual_kernel(_normals_py)
_uniforms_s, _uniforms_p = dual_kernel(_uniforms_py)
_poisson_s, _poisson_p = dual_kernel(_poisson_py)


def _normals(st, spare, has, out):
    (_normals_p if out.shape[1] >= PARALLEL_MIN else _normals_s)(st, spare, has, out)


def _uniforms(st, out):
    (_uniforms_p if out.shape[1] >= PARALLEL_MIN else _uniforms_s)(st, out)


def _poisson(st, lam, out):
    (_poisson_p if out.shape[0] >= PARALLEL_MIN else _poisson_s)(st, lam, out)


def stream_key(name: str) -> int:
    """Stable 32-bit key for a component name (crc32, independent of PYTHONHASHSEED)."""
    return zlib.crc32(name.encode())


class WorldStreams:
    """Independent per-world random streams (xoshiro256**, Box-Muller normals).

    Args:
        seed: scenario seed.
        key: component key (see `stream_key`), so components draw disjoint numbers.
        n: number of worlds.
        offset: index of the first world (for chunks of a larger batch).
    """

    def __init__(self, seed: int, key: int, n: int, offset: int = 0):
        self.state = _seed_states(np.uint64(seed), np.uint64(key), n, offset)
        self.spare = np.zeros(n)
        self.has_spare = np.zeros(n, dtype=np.bool_)

    @classmethod
    def from_rng(cls, rng: np.random.Generator, n: int) -> WorldStreams:
        """Streams seeded from a numpy Generator (for the pure generators)."""
        seed, key = (int(v) for v in rng.integers(0, 2**63, size=2))
        return cls(seed, key, n)

    @property
    def n(self) -> int:
        return self.state.shape[0]

    def normal(self, k: int | None = None) -> np.ndarray:
        """Standard normals, shape (N,) or (k, N) when k is given."""
        out = np.empty((1 if k is None else k, self.n))
        _normals(self.state, self.spare, self.has_spare, out)
        return out[0] if k is None else out

    def uniform(self, k: int | None = None) -> np.ndarray:
        """Uniforms on (0, 1), shape (N,) or (k, N)."""
        out = np.empty((1 if k is None else k, self.n))
        _uniforms(self.state, out)
        return out[0] if k is None else out

    def exponential(self) -> np.ndarray:
        """Exp(1) variates, shape (N,)."""
        return -np.log(self.uniform())

    def poisson(self, lam: np.ndarray | float) -> np.ndarray:
        """Poisson counts with per-world means `lam`, shape (N,) int64."""
        lam_arr = np.broadcast_to(np.asarray(lam, dtype=np.float64), (self.n,)).copy()
        out = np.empty(self.n, dtype=np.int64)
        _poisson(self.state, lam_arr, out)
        return out


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


def _simulate(proc: PriceProcess, n_paths: int, n_steps: int, dt: float) -> np.ndarray:
    out = np.empty((n_paths, n_steps + 1))
    out[:, 0] = proc.price
    dts = np.full(n_paths, float(dt))
    for t in range(n_steps):
        out[:, t + 1] = proc.step(dts)
    return out


def generate_gbm(
    n_paths: int,
    n_steps: int,
    s0: float,
    sigma: float,
    mu: float = 0.0,
    dt: float = 12.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Paths of geometric Brownian motion (see `GBM`).

    Args:
        n_paths: N, number of paths.
        n_steps: T, number of steps.
        s0: initial price.
        sigma: annualised volatility.
        mu: annualised drift.
        dt: step in seconds.
        rng: numpy Generator that seeds the per-path streams.

    Shape:
        output: (N, T + 1), column 0 is s0.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    return _simulate(
        GBM(n_paths, s0, sigma, mu, WorldStreams.from_rng(rng, n_paths)), n_paths, n_steps, dt
    )


def generate_merton(
    n_paths: int,
    n_steps: int,
    s0: float,
    sigma: float,
    jump_rate: float,
    jump_mean: float,
    jump_std: float,
    mu: float = 0.0,
    dt: float = 12.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Paths of Merton jump-diffusion (see `Merton`). Shape: (N, T + 1)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    proc = Merton(
        n_paths,
        s0,
        sigma,
        mu,
        jump_rate,
        jump_mean,
        jump_std,
        WorldStreams.from_rng(rng, n_paths),
        WorldStreams.from_rng(rng, n_paths),
    )
    return _simulate(proc, n_paths, n_steps, dt)


def generate_heston(
    n_paths: int,
    n_steps: int,
    s0: float,
    v0: float,
    kappa: float,
    theta: float,
    xi: float,
    rho: float,
    mu: float = 0.0,
    dt: float = 12.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Paths of the Heston model (see `Heston`). Shape: (N, T + 1)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    proc = Heston(
        n_paths,
        s0,
        mu,
        v0,
        kappa,
        theta,
        xi,
        rho,
        WorldStreams.from_rng(rng, n_paths),
        WorldStreams.from_rng(rng, n_paths),
    )
    return _simulate(proc, n_paths, n_steps, dt)

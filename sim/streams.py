"""Per-world random streams: xoshiro256** generators, one per world and component.

`WorldStreams` gives each world its own stream, seeded by splitmix64 from (seed, key, world
index). World i therefore draws the same numbers whatever the batch size, the chunking or the
number of threads, and two components with different keys never share numbers (adding an
agent does not move the price path). The numba kernels here (`xo_next`, `normal_pair_draw`,
`to_unit`) are inlined by every kernel that draws (agents, the fused engine).
"""

from __future__ import annotations

import math
import os
import types
import zlib

import numpy as np
from numba import njit, prange

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

    def poisson(self, lam: np.ndarray | float) -> np.ndarray:
        """Poisson counts with per-world means `lam`, shape (N,) int64."""
        lam_arr = np.broadcast_to(np.asarray(lam, dtype=np.float64), (self.n,)).copy()
        out = np.empty(self.n, dtype=np.int64)
        _poisson(self.state, lam_arr, out)
        return out

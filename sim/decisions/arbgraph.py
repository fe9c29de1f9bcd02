"""Cross-venue arbitrage as a graph: find profitable cycles, size them, and price them.

Tokens are nodes; every venue gives directed edges whose weight is −ln(marginal rate after
fee), the best venue per direction, so a cycle whose rates multiply to more than 1 is a
negative cycle (Bellman–Ford, networkx).

Venues come in two kinds:

* Möbius venues, whose output is a Möbius map of the input, out(x) = A·x / (B + C·x): a
  constant-product pool (`Pool`: A = g·r_out, B = r_in, C = g with g = 1 − fee) and a
  fixed-rate leg such as a CEX at the reference price (`CexLeg`: A = rate, B = 1, C = 0). A
  chain of them is again a Möbius map, so a cycle of Möbius venues has a closed-form
  profit-maximising input, x* = (sqrt(a·b) − b) / c.
* sized venues (`SizedVenue`), whose trade is priced by the venue's own code for a vector of
  sizes at once: the options pool's synthetic forward (`sim.venues.options.forward.OptionsForward`). A
  cycle with one sized hop is sized numerically: rotated to start at that hop, the rest of
  the cycle is a Möbius map m, and the profit m(out(q)) − in(q) of the venue's size q is
  maximised on successively finer grids (it is concave in q where the venue's cost grows
  with size, which is what fees and IV impact do).

Amounts are whole tokens as floats; the swap maths is the float twin's (`sim.venues.cpmm.batch`).

Every edge's weight carries a slack of `SLACK` (a cycle must gain more than `SLACK` per hop in
log-rate): a rate and its reciprocal (a reference leg both ways) round to a two-hop cycle of
weight about ±1e-16, which Bellman–Ford would otherwise report as negative in place of the
cycle that pays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import networkx as nx
import numpy as np

from sim.venues.cpmm.batch import BPS, amount_out_f

SLACK = 1e-12
"""Log-rate each edge gives up in the search (see the module docstring): far below any
profit that pays gas, far above the rounding of a round trip."""


@dataclass(frozen=True)
class Pool:
    """A constant-product pool between `token0` and `token1` (whole-token reserves)."""

    name: str
    token0: str
    token1: str
    reserve0: float
    reserve1: float
    fee_bps: float

    def reserves(self, token_in: str) -> tuple[float, float]:
        """(reserve_in, reserve_out) for a swap selling `token_in`."""
        if token_in == self.token0:
            return self.reserve0, self.reserve1
        if token_in == self.token1:
            return self.reserve1, self.reserve0
        raise ValueError(f"pool {self.name} does not hold {token_in}")

    def other(self, token: str) -> str:
        return self.token1 if token == self.token0 else self.token0

    def mobius(self, token_in: str) -> tuple[float, float, float]:
        """(A, B, C) with out(x) = A·x / (B + C·x) for a swap selling `token_in`."""
        r_in, r_out = self.reserves(token_in)
        g = (BPS - self.fee_bps) / BPS
        return g * r_out, r_in, g

    def amount_out(self, token_in: str, amount: float) -> float:
        r_in, r_out = self.reserves(token_in)
        return amount_out_f(amount, r_in, r_out, self.fee_bps)


@dataclass(frozen=True)
class CexLeg:
    """A fixed-rate leg (the reference market): `rate` tokens out per token in, after fee."""

    name: str
    rate: float
    fee_bps: float

    def mobius(self, token_in: str) -> tuple[float, float, float]:
        return self.rate, 1.0, 0.0

    def amount_out(self, token_in: str, amount: float) -> float:
        return amount * self.rate


@runtime_checkable
class SizedVenue(Protocol):
    """A venue priced by its own code for a vector of trade sizes (see the module docstring).

    `quote(token_in, q)` returns (amount_in, amount_out), each shaped like `q`, for trades of
    venue size `q` selling `token_in` (NaN where the venue refuses the size); `size_range`
    the sizes worth searching; `marginal_rate` tokens out per token in for a vanishing size.
    """

    name: str

    def quote(self, token_in: str, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def size_range(self, token_in: str) -> tuple[float, float]: ...

    def marginal_rate(self, token_in: str) -> float: ...


@dataclass(frozen=True)
class Hop:
    pool: Pool | CexLeg | SizedVenue
    token_in: str
    token_out: str

    @property
    def sized(self) -> bool:
        return isinstance(self.pool, SizedVenue)


def _compose(hops) -> tuple[float, float, float]:
    """(a, b, c) with out(x) = a·x / (b + c·x) for a chain of Möbius hops."""
    a, b, c = 1.0, 1.0, 0.0  # identity
    for hop in hops:
        big_a, big_b, big_c = hop.pool.mobius(hop.token_in)
        # y = A·u / (B + C·u) with u = a·x / (b + c·x)
        a, b, c = big_a * a, big_b * b, big_b * c + big_c * a
    return a, b, c


@dataclass(frozen=True)
class Cycle:
    """A closed path of swaps starting and ending in `hops[0].token_in`."""

    hops: tuple[Hop, ...]

    @property
    def start(self) -> str:
        return self.hops[0].token_in

    def sized_hops(self) -> list[int]:
        """Indices of the hops through sized venues."""
        return [i for i, h in enumerate(self.hops) if h.sized]

    def rotated(self, i: int) -> Cycle:
        """The same cycle starting at hop i."""
        return Cycle(self.hops[i:] + self.hops[:i])

    def mobius(self) -> tuple[float, float, float]:
        """(a, b, c) with out(x) = a·x / (b + c·x) for the whole cycle (no floors)."""
        if self.sized_hops():
            raise ValueError("a cycle through a sized venue is not a Möbius map; use plan()")
        return _compose(self.hops)

    def marginal_rate(self) -> float:
        """Tokens back per token in, for an infinitesimal trade."""
        rate = 1.0
        for hop in self.hops:
            if hop.sized:
                rate *= hop.pool.marginal_rate(hop.token_in)
            else:
                big_a, big_b, _ = hop.pool.mobius(hop.token_in)
                rate *= big_a / big_b
        return rate

    def optimal_input(self) -> float:
        """Input (in `start` tokens) that maximises out(x) − x; 0 if the cycle loses."""
        a, b, c = self.mobius()
        if a <= b or c <= 0:
            return 0.0
        return (math.sqrt(a * b) - b) / c

    def output(self, amount_in: float) -> float:
        """Tokens back for `amount_in`, hop by hop with each venue's float maths."""
        if self.sized_hops():
            raise ValueError("a cycle through a sized venue is evaluated by plan()")
        amount = amount_in
        for hop in self.hops:
            amount = hop.pool.amount_out(hop.token_in, amount)
        return amount


@dataclass(frozen=True)
class Plan:
    """A sized cycle: sell `amount_in` of `cycle.start` around `cycle` for `profit` more.

    `size` is the sized venue's trade size when the cycle starts with a sized hop, else None.
    """

    cycle: Cycle
    amount_in: float
    profit: float
    size: float | None = None


def grid_argmax(f, lo: float, hi: float, n: int = 257, passes: int = 2) -> tuple[float, float]:
    """Maximise a unimodal f over [lo, hi] on successively finer grids; (argmax, max).

    `f` maps an array of points to an array of values (NaN = infeasible). The first pass is
    geometric (sizes span decades), the next ones linear between the best point's neighbours,
    so after `passes` passes the argmax is known to about 2·ln(hi/lo) / n^passes relative
    (6e-4 over nine decades at the defaults). Few wide passes: the cost is per call of `f`.
    """
    q = np.geomspace(lo, hi, n)
    best_q, best_v = math.nan, -math.inf
    for p in range(passes):
        v = np.asarray(f(q), dtype=np.float64)
        v = np.where(np.isfinite(v), v, -np.inf)
        i = int(np.argmax(v))
        if v[i] > best_v:
            best_q, best_v = float(q[i]), float(v[i])
        if p + 1 < passes:
            q = np.linspace(q[max(i - 1, 0)], q[min(i + 1, n - 1)], n)
    return best_q, best_v


def plan(cycle: Cycle) -> Plan | None:
    """The profit-maximising trade around `cycle`, or None if it loses at every size.

    Closed form for Möbius cycles; for a cycle with one sized hop, the cycle is rotated to
    start there and the venue's size is found by `grid_argmax`. More than one sized hop per
    cycle is not sized (one options pool per graph cannot produce one: a simple cycle crosses
    the pair of its forward edges at most once).
    """
    sized = cycle.sized_hops()
    if not sized:
        x = cycle.optimal_input()
        if x <= 0:
            return None
        profit = cycle.output(x) - x
        return Plan(cycle, x, profit) if profit > 0 else None
    if len(sized) > 1:
        raise ValueError("cycles with more than one sized venue are not sized")
    cyc = cycle.rotated(sized[0])
    first = cyc.hops[0]
    a, b, c = _compose(cyc.hops[1:])

    def profit(q: np.ndarray) -> np.ndarray:
        amount_in, amount_out = first.pool.quote(first.token_in, q)
        return a * amount_out / (b + c * amount_out) - amount_in

    lo, hi = first.pool.size_range(first.token_in)
    if not 0 < lo < hi:
        return None
    q, best = grid_argmax(profit, lo, hi)
    if not best > 0:
        return None
    amount_in, _ = first.pool.quote(first.token_in, np.array([q]))
    return Plan(cyc, float(amount_in[0]), best, q)


def add_edge(graph: nx.DiGraph, token_in: str, token_out: str, rate: float, venue) -> None:
    """Add the edge token_in -> token_out at `rate` unless a better one is there already.

    Only the best marginal rate per direction matters for finding cycles (a negative cycle
    through a worse parallel edge is also one through the better edge); the edge keeps its
    venue.
    """
    if not rate > 0:
        return
    weight = SLACK - math.log(rate)
    edge = graph.get_edge_data(token_in, token_out)
    if edge is None or weight < edge["weight"]:
        graph.add_edge(token_in, token_out, weight=weight, pool=venue)


def build_graph(pools: list[Pool], sized: list[tuple[SizedVenue, str, str]] = ()) -> nx.DiGraph:
    """Directed graph of tokens; for each direction the best venue's edge (weight −ln rate,
    plus `SLACK`).

    `sized` adds sized venues as (venue, token_in, token_out) edges at their marginal rates.
    """
    graph = nx.DiGraph()
    for pool in pools:
        for token_in in (pool.token0, pool.token1):
            r_in, r_out = pool.reserves(token_in)
            if r_in <= 0 or r_out <= 0:
                continue
            big_a, big_b, _ = pool.mobius(token_in)
            add_edge(graph, token_in, pool.other(token_in), big_a / big_b, pool)
    for venue, token_in, token_out in sized:
        add_edge(graph, token_in, token_out, venue.marginal_rate(token_in), venue)
    return graph


def find_cycle(graph: nx.DiGraph) -> Cycle | None:
    """One profitable cycle (negative total weight), or None."""
    for source in graph.nodes:
        try:
            nodes = nx.find_negative_cycle(graph, source, weight="weight")
        except nx.NetworkXError:
            continue
        hops = tuple(
            Hop(graph[u][v]["pool"], u, v) for u, v in zip(nodes[:-1], nodes[1:], strict=True)
        )
        return Cycle(hops)
    return None

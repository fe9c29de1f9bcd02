"""Cross-venue arbitrage as a graph: find profitable cycles, size them, and price them.

Tokens are nodes; each constant-product pool gives two directed edges whose weight is
−ln(marginal rate after fee), so a cycle whose rates multiply to more than 1 is a negative
cycle (Bellman–Ford, networkx). A chain of constant-product swaps is a Möbius map of the input,
out(x) = a·x / (b + c·x), so the profit-maximising input of a cycle has a closed form,
x* = (sqrt(a·b) − b) / c, and the trade is worth doing only if its profit exceeds gas.

Amounts are whole tokens as floats; the swap maths is the float twin's (`sim.pools.cpmm_vec`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from sim.pools.cpmm_vec import BPS, amount_out_f


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


@dataclass(frozen=True)
class Hop:
    pool: Pool
    token_in: str
    token_out: str


@dataclass(frozen=True)
class Cycle:
    """A closed path of swaps starting and ending in `hops[0].token_in`."""

    hops: tuple[Hop, ...]

    @property
    def start(self) -> str:
        return self.hops[0].token_in

    def mobius(self) -> tuple[float, float, float]:
        """(a, b, c) with out(x) = a·x / (b + c·x) for the whole cycle (no floors)."""
        a, b, c = 1.0, 1.0, 0.0  # identity
        for hop in self.hops:
            r_in, r_out = hop.pool.reserves(hop.token_in)
            g = (BPS - hop.pool.fee_bps) / BPS
            # one hop: y = g·r_out·x / (r_in + g·x); compose y(out_so_far)
            a, b, c = g * r_out * a, r_in * b, r_in * c + g * a
        return a, b, c

    def marginal_rate(self) -> float:
        """Tokens back per token in, for an infinitesimal trade: a / b."""
        a, b, _ = self.mobius()
        return a / b

    def optimal_input(self) -> float:
        """Input (in `start` tokens) that maximises out(x) − x; 0 if the cycle loses."""
        a, b, c = self.mobius()
        if a <= b:
            return 0.0
        return (math.sqrt(a * b) - b) / c

    def output(self, amount_in: float) -> float:
        """Tokens back for `amount_in`, hop by hop with the float twin's swap maths."""
        amount = amount_in
        for hop in self.hops:
            r_in, r_out = hop.pool.reserves(hop.token_in)
            amount = amount_out_f(amount, r_in, r_out, hop.pool.fee_bps)
        return amount


@dataclass(frozen=True)
class Opportunity:
    cycle: Cycle
    amount_in: float
    profit: float
    """In `cycle.start` tokens, before gas."""
    profit_quote: float
    """Profit valued in the quote numeraire, minus gas."""


def build_graph(pools: list[Pool]) -> nx.DiGraph:
    """Directed graph of tokens; for each direction the best pool's edge (weight −ln rate).

    Only the best marginal rate per direction matters for finding cycles; the edge keeps
    that pool.
    """
    graph = nx.DiGraph()
    for pool in pools:
        for token_in in (pool.token0, pool.token1):
            r_in, r_out = pool.reserves(token_in)
            if r_in <= 0 or r_out <= 0:
                continue
            rate = (BPS - pool.fee_bps) / BPS * r_out / r_in
            token_out = pool.other(token_in)
            weight = -math.log(rate)
            edge = graph.get_edge_data(token_in, token_out)
            if edge is None or weight < edge["weight"]:
                graph.add_edge(token_in, token_out, weight=weight, pool=pool)
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


def best_opportunity(
    pools: list[Pool], prices: dict[str, float], gas_quote_per_hop: float = 0.0
) -> Opportunity | None:
    """The profitable cycle (if any), sized optimally and valued in quote at `prices`.

    `prices` gives each token's value in the quote numeraire (e.g. the reference prices);
    returns None when no cycle pays for its gas.
    """
    cycle = find_cycle(build_graph(pools))
    if cycle is None:
        return None
    amount = cycle.optimal_input()
    if amount <= 0:
        return None
    profit = cycle.output(amount) - amount
    profit_quote = profit * prices[cycle.start] - gas_quote_per_hop * len(cycle.hops)
    if profit_quote <= 0:
        return None
    return Opportunity(cycle, amount, profit, profit_quote)

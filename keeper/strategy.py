"""The keeper's decisions, as pure functions of a `MarketSnapshot` (no chain, no clock).

snapshot → book (`sim.decisions.book.compute_book`: the options pool's positions, LP shares, the
keeper's concentrated position, `keeper.ranges`) → hedge
already held (perp position + spot base beyond the baseline) → `HedgeInputs.from_book` →
`policy.decide` → order = target − hedge → kill-switch mode and caps → `split_order` across
the venues (each pool by its kind's fill, `keeper.venues`: `CpmmVenue` for ammlab's pools and
genuine V2 pairs, `V3Venue` for genuine V3 pools; the perp as `PerpVenue`; gas priced in) → the
keeper's inventory (a sale needs the base it sells, a buy the quote it pays) → legs, each with a
worst-price bound and a deadline.

Worst-price bounds come from the exact integer twins: a pool buy is an exact-out router swap
with amountInMax = ceil(twin amountIn × (1 + tol)); a pool sell an exact-in swap with
amountOutMin = floor(twin amountOut × (1 − tol)); a V3 leg also carries the twin's price after
the trade moved by tol as its sqrtPriceLimitX96; a perp leg's acceptable price is the twin's
fill price × (1 ± tol). The deadline is the block's timestamp + `deadline_s`.

Units: base = WETH, quote = USDC (whole tokens as floats unless the name says wei), prices
quote per base, time seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from keeper.config import KeeperConfig
from keeper.killswitch import order_allowed
from keeper.ranges import position_greeks_args
from keeper.reader import MarketSnapshot, option_positions
from keeper.venues import perp as perp_kind
from keeper.venues import v2, v3
from keeper.venues.base import GWEI, WEI_PER_ETH, LegPlan
from sim.decisions.book import Book, V3Positions, compute_book
from sim.decisions.hedging import HedgeDecision, HedgeInputs, Policy
from sim.decisions.routing import (
    PerpVenue,
    Route,
    RoutingError,
    Venue,
    perp_fill_price,
    route_cost_rate,
    split_order,
)
from sim.venues.options.twin import Board, Strike
from sim.venues.perp.twin import WAD

__all__ = ["GWEI", "LegPlan", "perp_fill_price"]


@dataclass(frozen=True)
class HedgeState:
    """What the keeper remembers between ticks."""

    last_hedge_time: float = -math.inf


# --------------------------------------------------------------------------- book


def hedge_inputs_from_state(
    *,
    spot: float,
    now: float,
    boards: dict[int, Board],
    strikes: dict[int, Strike],
    lp_positions: list[tuple[float, float]],
    perp_size_base: float,
    spot_excess_base: float,
    last_hedge_time: float,
    cost_rate: float | Callable[[float], float],
    v3_position: tuple[V3Positions, float, float] | None = None,
    band_scale: float | None = None,
) -> tuple[Book, HedgeInputs]:
    """The book and the policy's inputs from state in the twins' terms.

    One conversion for the keeper (from a chain snapshot) and the simulator (from its twins):
    `boards`/`strikes` as `sim.venues.options.twin` holds them, `lp_positions` as (base reserve,
    LP share) per pool, the hedge as perp size + spot base beyond the baseline. `cost_rate`
    is the rate, or a function of the expected re-hedge order −(book delta + hedge) that
    prices it (`cost_rate` below), as the simulator's keeper agent does. `v3_position` is a
    concentrated position as (`V3Positions`, its pool's sqrt price, base it is owed)
    (`keeper.ranges.position_greeks_args`).
    """
    lp_base = float(sum(reserve * share for reserve, share in lp_positions))
    v3, sqrt_price, owed = v3_position if v3_position is not None else (None, None, None)
    book = compute_book(spot, now, option_positions(boards, strikes), lp_base, 1.0, v3=v3,
                        v3_sqrt_price=sqrt_price, base_held=owed)  # fmt: skip
    hedge = perp_size_base + spot_excess_base
    if callable(cost_rate):
        cost_rate = cost_rate(expected_order(book, hedge))
    inputs = HedgeInputs.from_book(book, now, hedge, last_hedge_time, cost_rate, band_scale)
    return book, inputs


def expected_order(book: Book, hedge: float) -> float:
    """The re-hedge to zero net delta, −(book delta + hedge), base units: the trade whose cost
    the policies' cost rate prices (the simulator's keeper agent uses the same)."""
    return -(float(np.asarray(book.delta).reshape(-1)[0]) + hedge)


def spot_baseline(snap: MarketSnapshot, baseline_base: float) -> float:
    """Spot base held beyond the baseline (the spot part of the hedge), base units."""
    return snap.keeper_base / 10**snap.base_decimals - baseline_base


def hedge_position(snap: MarketSnapshot, baseline_base: float) -> float:
    """Hedge held now: the perp position plus spot base beyond the baseline."""
    perp = snap.perp.size_base if snap.perp else 0.0
    return perp + spot_baseline(snap, baseline_base)


def lp_positions(snap: MarketSnapshot, include: bool = True) -> list[tuple[float, float]]:
    return [(p.base, p.lp_share) for p in snap.pools] if include else []


# --------------------------------------------------------------------------- venues


def gas_quote(snap: MarketSnapshot, gas_units: int, priority_fee_gwei: float) -> float:
    """Quote cost of `gas_units` at the block's base fee + tip, valued at the oracle."""
    wei = gas_units * (snap.base_fee_wei + priority_fee_gwei * GWEI)
    return wei / WEI_PER_ETH * snap.spot


def build_venues(
    snap: MarketSnapshot, cfg: KeeperConfig, buy: bool, baseline_base: float = 0.0
) -> list[Venue]:
    """Hedging venues for an order on side `buy`, with caps: per-order, depth, the perp's
    position cap, and (optionally) where a leg's marginal price leaves the guards' slippage
    bound. Each pool is priced by its kind (`keeper.venues`)."""
    ex = cfg.execution
    slip = cfg.safety.guards.max_slippage_bps / 1e4
    limit_price = snap.spot * (1 + slip) if buy else snap.spot * (1 - slip)
    venues: list[Venue] = []
    for pool in snap.all_pools:
        vc = cfg.venues.settings(pool.kind, pool.name)
        if vc is None or not vc.enabled:
            continue
        gas = gas_quote(snap, vc.gas_units, ex.priority_fee_gwei)
        if pool.kind == "univ3":
            venue = v3.routing_venue(pool, gas, vc.max_order_base)
        else:
            venue = v2.routing_venue(pool, gas, vc.max_order_base, vc.max_buy_fraction)
        if ex.respect_slippage_in_routing:
            cap = venue.inverse_marginal(limit_price, buy)
            venue = type(venue)(**{**venue.__dict__, "max_order": min(vc.max_order_base, cap)})
        venues.append(venue)
    pc = cfg.venues.perp
    if pc.enabled and snap.perp is not None:
        size = snap.perp.size_base
        venue = PerpVenue(
            name=pc.name,
            state=snap.perp.venue_state(),
            gas_quote=gas_quote(snap, pc.gas_units, ex.priority_fee_gwei),
            funding_horizon_s=pc.funding_horizon_s,
            max_order=pc.max_order_base,
            max_long=max(pc.max_position_base - size, 0.0),
            max_short=max(pc.max_position_base + size, 0.0),
        )
        if ex.respect_slippage_in_routing:
            cap = venue.inverse_marginal(limit_price, buy)
            venue = PerpVenue(**{**venue.__dict__, "max_order": min(pc.max_order_base, cap)})
        venues.append(venue)
    return venues


def cost_rate(venues_buy: list[Venue], venues_sell: list[Venue], order: float) -> float:
    """The policies' `cost_rate` for an expected order of `order` base: fee + impact of the
    split the router would make on that side, as a fraction of its notional at each venue's
    mid; funding and gas excluded (`sim.decisions.routing.route_cost_rate`, where the definition and
    its reasons live). With one venue it equals the simulator's keeper agent's rate."""
    return route_cost_rate(order, venues_buy if order >= 0 else venues_sell)


def token_graph(snap: MarketSnapshot, base: str = "WETH", quote: str = "USDC") -> nx.MultiDiGraph:
    """Tokens as nodes, one edge per venue and direction (weight −ln of the marginal rate
    after fee): the pools as spot swaps and the perp as synthetic base (settled in quote)."""
    g = nx.MultiDiGraph()
    for p in snap.all_pools:
        keep = 1 - p.fee_bps / 1e4
        g.add_edge(quote, base, key=p.name, kind="cpmm", weight=-math.log(keep / p.price))
        g.add_edge(base, quote, key=p.name, kind="cpmm", weight=-math.log(keep * p.price))
    if snap.perp is not None:
        fee = snap.perp.taker_fee_bps / 1e4
        px = snap.perp.oracle_price / WAD
        g.add_edge(quote, base, key="perp", kind="perp", weight=-math.log((1 - fee) / px))
        g.add_edge(base, quote, key="perp", kind="perp", weight=-math.log((1 - fee) * px))
    return g


def route_venues(graph: nx.MultiDiGraph, token_in: str, token_out: str) -> list[str]:
    """Venues that connect `token_in` to `token_out` in one hop, best marginal rate first
    (the graph's shortest single-edge paths)."""
    if (
        token_in not in graph
        or token_out not in graph
        or not nx.has_path(graph, token_in, token_out)
    ):
        return []
    edges = graph.get_edge_data(token_in, token_out) or {}
    return [k for k, _ in sorted(edges.items(), key=lambda kv: kv[1]["weight"])]


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Plan:
    """A tick's decision and how it would be executed."""

    block: int
    now: float
    book: Book
    inputs: HedgeInputs
    decision: HedgeDecision
    hedge: float
    target: float
    order: float
    legs: tuple[LegPlan, ...] = ()
    reason: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def net_delta(self) -> float:
        return float(self.inputs.net_delta[0])

    @property
    def cost_quote(self) -> float:
        """Expected cost against the oracle, quote: what the legs pay beyond order × spot,
        gas included."""
        spot = float(self.inputs.spot[0])
        return sum(leg.expected_cost_quote - leg.size * spot + leg.gas_quote for leg in self.legs)


def plan_leg(
    snap: MarketSnapshot, leg, cfg: KeeperConfig, tol: float, deadline: int, base_token: str,
    quote_token: str,
) -> LegPlan:  # fmt: skip
    """A routed leg as a transaction of its venue's kind, bounded by the exact twin."""
    if leg.venue == cfg.venues.perp.name:
        return perp_kind.plan_leg(snap.perp.venue_state(), leg, tol, deadline,
                                  snap.perp.address, cfg.venues.perp.gas_units)  # fmt: skip
    pool = snap.pool(leg.venue)
    gas = cfg.venues.settings(pool.kind, pool.name).gas_units
    kind = v3 if pool.kind == "univ3" else v2
    return kind.plan_leg(pool, leg, tol, deadline, base_token, quote_token, gas)


def inventory_cap(snap: MarketSnapshot, route: Route, cfg: KeeperConfig) -> float:
    """The share (<= 1) of `route` the keeper's tokens pay for: pool sales spend its base,
    pool buys its quote (the perp settles in margin, not counted here)."""
    pools = [leg for leg in route.legs if leg.venue != cfg.venues.perp.name]
    sold = sum(-leg.size for leg in pools if leg.size < 0)
    paid = sum(leg.cost for leg in pools if leg.size > 0)
    share = 1.0
    if sold > 0:
        share = min(share, snap.keeper_base / 10**snap.base_decimals / sold)
    if paid > 0:
        share = min(share, snap.keeper_quote / 10**snap.quote_decimals / paid)
    return max(share, 0.0)


def plan_hedge(
    snap: MarketSnapshot,
    policy: Policy,
    state: HedgeState,
    cfg: KeeperConfig,
    *,
    mode: str = "running",
    baseline_base: float = 0.0,
    base_token: str = "",
    quote_token: str = "",
    features: Mapping[str, Any] | None = None,
) -> Plan:
    """The tick's plan (see the module docstring). `mode` is the kill switch's; `features`
    the extra state a learned policy takes, or a forecast band's `band_scale` (`keeper.learned`); `base_token`/`quote_token`
    override the snapshot's token addresses (hand-built snapshots)."""
    ex = cfg.execution
    scale = None if features is None else features.get("band_scale")  # a forecast band's
    hedge = hedge_position(snap, baseline_base)
    buy_venues = build_venues(snap, cfg, True, baseline_base)
    sell_venues = build_venues(snap, cfg, False, baseline_base)
    book, inputs = hedge_inputs_from_state(
        spot=snap.spot, now=snap.timestamp, boards=snap.boards, strikes=snap.strikes,
        lp_positions=lp_positions(snap, cfg.inventory.include_lp),
        perp_size_base=snap.perp.size_base if snap.perp else 0.0,
        spot_excess_base=spot_baseline(snap, baseline_base),
        last_hedge_time=state.last_hedge_time,
        cost_rate=lambda order: cost_rate(buy_venues, sell_venues, order),
        v3_position=position_greeks_args(snap.pool(snap.position.pool), snap.position)
        if snap.position is not None else None,
        band_scale=scale,
    )  # fmt: skip
    learned = features is not None and scale is None
    decision = policy.decide(inputs, features) if learned else policy.decide(inputs)
    target = float(decision.target_hedge[0])
    trade = bool(decision.trade[0])
    notes: list[str] = []

    def done(order: float, reason: str, legs: tuple[LegPlan, ...] = ()) -> Plan:
        return Plan(snap.block, snap.timestamp, book, inputs, decision, hedge, target, order,
                    legs, reason, tuple(notes))  # fmt: skip

    if mode == "paused":
        return done(0.0, "kill switch paused: nothing is sent")
    if mode == "flatten":
        target, trade = 0.0, hedge != 0.0
        notes.append("kill switch flatten: unwinding the hedge")
    if not trade:
        return done(0.0, "policy: hold")
    order = target - hedge
    if mode == "reduce_only":
        allowed, why = order_allowed(mode, hedge, order)
        if not allowed:
            clipped = -hedge if order * hedge < 0 else 0.0
            if clipped == 0.0:
                return done(0.0, why)
            notes.append(f"{why}: clipped to {clipped:+.6g}")
            order = clipped
    if abs(order) > ex.max_order_base:
        notes.append(f"order {order:+.6g} capped at {ex.max_order_base:g} per tick")
        order = math.copysign(ex.max_order_base, order)
    if abs(order) < ex.min_order_base:
        return done(0.0, f"order {order:+.3g} below the minimum {ex.min_order_base:g}")
    buy = order > 0
    graph = token_graph(snap)
    reachable = set(
        route_venues(graph, "USDC", "WETH") if buy else route_venues(graph, "WETH", "USDC")
    )
    venues = [v for v in (buy_venues if buy else sell_venues) if v.name in reachable]
    capacity = sum(v.capacity(buy) for v in venues)
    if capacity < abs(order):
        if capacity < ex.min_order_base:
            return done(0.0, f"no depth: venues take {capacity:.4g} base within the limits")
        notes.append(f"depth: order {order:+.6g} cut to the venues' capacity {capacity:.6g}")
        order = math.copysign(capacity * (1 - 1e-9), order)
    try:
        route: Route = split_order(order, venues)
        share = inventory_cap(snap, route, cfg)
        if share < 1.0:
            held = abs(order) * share * (1 - 1e-9)
            if held < ex.min_order_base:
                return done(0.0, f"inventory: the keeper's tokens pay for {held:.4g} base")
            notes.append(f"inventory: order {order:+.6g} cut to {held:.6g} the keeper can pay")
            order = math.copysign(held, order)
            route = split_order(order, venues)
    except RoutingError as err:
        return done(0.0, f"routing: {err}")
    tol = ex.slippage_bps / 1e4
    deadline = snap.timestamp + ex.deadline_s
    base, quote = base_token or snap.base_token, quote_token or snap.quote_token
    legs = [
        plan_leg(snap, leg, cfg, tol, deadline, base, quote)
        for leg in route.legs
        if abs(leg.size) * 10**snap.base_decimals >= 1
    ]
    return done(order, "policy: hedge", tuple(legs))


def as_floats(inputs: HedgeInputs) -> dict[str, float]:
    """One world's inputs as plain floats (logs, comparisons)."""
    return {k: float(np.asarray(getattr(inputs, k))[0]) for k in
            ("now", "spot", "book_delta", "book_gamma", "hedge", "last_hedge_time", "cost_rate")}  # fmt: skip

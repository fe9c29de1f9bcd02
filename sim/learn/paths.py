"""Simulated markets for learned hedging: spot paths, venue costs and the book along them.

Paths come from `sim.processes` (its processes, parameterisation and per-world streams). A
stress window is produced by running the process on a stretched clock: a step of dt seconds
inside the window advances the process by dt·m², so its volatility (and jump intensity, and
Heston's variance dynamics) is multiplied by m there while calendar time runs on unchanged.
Pure numpy; torch never enters here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.decisions.book import OptionPositions, cpmm_lp_greeks, option_greeks
from sim.decisions.routing import cpmm_cost, cpmm_rate
from sim.learn.config import Grid, LearnConfig, Market, Venue
from sim.processes import GBM, YEAR, Heston, Merton
from sim.streams import WorldStreams
from sim.venues.cpmm.batch import BPS

MAX_BUY = 0.999
"""The largest share of the pool's base reserve one hedge buy takes: a buy of all of it has no
price (`sim.decisions.routing.cpmm_cost`), so training and evaluation both cut a buy there."""


@dataclass(frozen=True)
class MarketPaths:
    """One market's paths on the hedging grid.

    Shape:
        spot, fee, depth, delta, gamma, value: (N, T + 1); time: (T + 1,).

    Attributes:
        time: clock time, seconds: `time_origin` + k dt (0 + k dt on the simulator's clock).
        spot: reference price, quote per base.
        fee: fee rate of the venue's pool, a fraction taken from each swap's input (V2).
        depth: base reserve x of the pool; its quote reserve is y = x · spot (arbitrage keeps
            it at the reference price). `pool_cost` and `pool_rate` price a trade on it.
        delta, gamma: the book's delta (base) and gamma (base per quote/base), without hedges.
        value: the book's value (live legs at Black–Scholes with their IV, expired legs at their
            payoff when they expired, LP shares at the reference price), quote.
    """

    name: str
    time: np.ndarray
    spot: np.ndarray
    fee: np.ndarray
    depth: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    value: np.ndarray

    @property
    def n(self) -> int:
        return self.spot.shape[0]

    @property
    def n_steps(self) -> int:
        return self.spot.shape[1] - 1


def stress_multiplier(market: Market, time: np.ndarray) -> np.ndarray:
    """Volatility multiplier m(t) and cost multiplier c(t) of the market's stress window.

    Shape:
        time: (T,); returns two arrays (T,), ones outside the window.
    """
    s = market.stress
    if s is None:
        return np.ones_like(time), np.ones_like(time)
    inside = (time >= s.at - s.before) & (time < s.at + s.after)
    return np.where(inside, s.vol_mult, 1.0), np.where(inside, s.cost_mult, 1.0)


def simulate_spot(market: Market, grid: Grid, n: int, rng: np.random.Generator) -> np.ndarray:
    """Spot paths on the grid, (N, T + 1), column 0 is s0 (see the module docstring)."""
    t = grid.n_steps
    steps = np.arange(t) * grid.dt
    vol_mult, _ = stress_multiplier(market, steps)
    streams = WorldStreams.from_rng(rng, n)
    if market.kind == "gbm":
        proc = GBM(n, grid.s0, market.sigma, market.mu, streams)
    elif market.kind == "merton":
        proc = Merton(
            n, grid.s0, market.sigma, market.mu, market.jump_rate, market.jump_mean,
            market.jump_std, streams, WorldStreams.from_rng(rng, n),
        )  # fmt: skip
    else:
        proc = Heston(
            n, grid.s0, market.mu, market.v0, market.kappa, market.theta, market.xi, market.rho,
            streams, WorldStreams.from_rng(rng, n),
        )  # fmt: skip
    out = np.empty((n, t + 1))
    out[:, 0] = proc.price
    for k in range(t):
        out[:, k + 1] = proc.step(np.full(n, grid.dt * vol_mult[k] ** 2))
    return out


def positions(cfg: LearnConfig) -> OptionPositions:
    """The config's option legs as `sim.decisions.book.OptionPositions` (P,), expiries as clock times
    (`time_origin` + the legs' seconds)."""
    o = cfg.options
    return OptionPositions(
        size=np.array([x.size for x in o], dtype=float),
        strike=np.array([x.strike for x in o], dtype=float),
        expiry=cfg.time_origin + np.array([x.expiry for x in o], dtype=float),
        is_call=np.array([x.type == "call" for x in o]),
        iv=np.array([x.iv for x in o], dtype=float),
    )


def book_along(
    opts: OptionPositions,
    spot: np.ndarray,
    time: np.ndarray,
    lp_base: float = 0.0,
    s0: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(delta, gamma, value) of the book along paths, each (N, T + 1), with `sim.decisions.book`'s
    Black–Scholes; a leg settles at its payoff at the first grid time at or after expiry.

    `lp_base` base held at spot `s0` through LP shares of a constant-product pool kept at the
    reference price: its base is x = lp_base √(s0/S) (`sim.decisions.book.cpmm_lp_greeks` gives its delta
    and gamma) and it is worth its two equal sides, 2 x S.
    """
    n, t1 = spot.shape
    delta, gamma, value = (np.empty((n, t1)) for _ in range(3))
    settled = np.zeros(len(opts.size), dtype=bool)
    settled_value = np.zeros(n)
    for k in range(t1):
        due = (opts.expiry <= time[k]) & ~settled
        if due.any():
            s = spot[:, k, None]
            pay = np.where(
                opts.is_call, np.maximum(s - opts.strike, 0.0), np.maximum(opts.strike - s, 0.0)
            )
            settled_value += np.sum(np.where(due, opts.size * pay, 0.0), axis=1)
            settled |= due
        g = option_greeks(opts, spot[:, k], time[k])
        x = lp_base * np.sqrt(s0 / spot[:, k])
        lp = cpmm_lp_greeks(x, 1.0, spot[:, k])
        delta[:, k], gamma[:, k] = g["delta"] + lp["delta"], g["gamma"] + lp["gamma"]
        value[:, k] = g["price"] + settled_value + 2.0 * x * spot[:, k]
    return delta, gamma, value


def venue_along(
    venue: Venue, market: Market, spot: np.ndarray, time: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(fee rate, base reserve) along paths, (N, T + 1): the pool is kept at the reference
    price by arbitrage, so x = tvl / (2 S); in a stress window the fee is multiplied and the
    depth divided by the cost multiplier. `time`: seconds from the start."""
    _, cost_mult = stress_multiplier(market, time)
    fee = np.broadcast_to(venue.fee_bps / 1e4 * cost_mult, spot.shape).copy()
    depth = venue.tvl / (2.0 * spot) / cost_mult
    return fee, depth


def pool_cost(fee, depth, spot, q):
    """Fee and price impact of trading signed `q` base on the hedge venue at one step: the
    quote paid (`sim.decisions.routing.cpmm_cost`, the keeper's and the simulator's pool cost) less the
    trade's value q · spot, which the hedge P&L accounts for. The pool is `venue_along`'s:
    base reserve x = `depth`, quote reserve y = depth · spot (kept at the reference price, so
    its mid y / x is spot), fee_bps = `fee` · 10⁴ on the input. Arithmetic only: numpy arrays
    in evaluation, torch tensors (differentiably) in training. Buys below `depth` (cut them
    at MAX_BUY · depth)."""
    return cpmm_cost(depth, depth * spot, fee * BPS, q) - q * spot


def pool_rate(fee, depth, spot, q):
    """The policies' cost rate of trading `q` on that pool (`sim.decisions.routing.cpmm_rate`: what the
    keeper agent's `cpmm_cost_rate` and the keeper's `CpmmVenue.cost_rate` give for a pool
    with these reserves). Arithmetic only, as `pool_cost`; buys below `depth`."""
    return cpmm_rate(depth, depth * spot, fee * BPS, q)


def simulate_market(cfg: LearnConfig, market: Market, n: int, seed: int) -> MarketPaths:
    """Paths, costs and book for one market; the same (config, market, n, seed) gives the same
    arrays. The seed is mixed with the market's name so markets never share draws."""
    name_key = int.from_bytes(market.name.encode()[:8].ljust(8, b"\0"), "little")
    rng = np.random.default_rng([seed, name_key])
    grid = cfg.grid
    elapsed = np.arange(grid.n_steps + 1) * grid.dt
    time = cfg.time_origin + elapsed
    spot = simulate_spot(market, grid, n, rng)
    delta, gamma, value = book_along(positions(cfg), spot, time, cfg.lp_base, grid.s0)
    fee, depth = venue_along(cfg.venue, market, spot, elapsed)
    return MarketPaths(market.name, time, spot, fee, depth, delta, gamma, value)


def realised_vol(spot: np.ndarray, dt: float, window: int, default: float) -> np.ndarray:
    """Causal realised volatility, annualised: at step k, sqrt(Σ r² / (m·dt/YEAR)) over the
    last m = min(k, window) log returns; `default` at k = 0. Shape (N, T + 1) -> (N, T + 1)."""
    r2 = np.diff(np.log(spot), axis=1) ** 2
    c = np.concatenate([np.zeros((spot.shape[0], 1)), np.cumsum(r2, axis=1)], axis=1)
    k = np.arange(spot.shape[1])
    lo = np.maximum(k - window, 0)
    m = k - lo
    s = c[:, k] - c[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        rv = np.sqrt(s / (np.maximum(m, 1) * dt / YEAR))
    return np.where(m > 0, rv, default)

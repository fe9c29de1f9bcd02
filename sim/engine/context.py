"""What agents see and touch in one block: `BlockContext`, and the mempool's `Intent`.

An agent is anything with `name`, `priority` (bids for top of block) and `act(ctx)`; it reads
the venues through the context (`ctx.pools`, `ctx.feeds`, `ctx.perps`, ... or
`ctx.market(field)` for any scenario field), trades pools through `ctx.swap`, LP through
`ctx.mint`/`ctx.burn`, pays gas through `ctx.pay_gas`. The exact world subclasses the context
so the same calls go to the integer twins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import prange  # noqa: F401 - prange in the kernels

from sim.blocks import GasConfig, gas_cost
from sim.engine.ledger import Ledger
from sim.streams import PARALLEL_MIN, WorldStreams, dual_kernel, stream_key
from sim.venues.base import NUMERAIRE, RISKY
from sim.venues.cpmm.batch import swap_f


@dataclass
class Intent:
    """A pending swap in the block's mempool (batch: one per world, `active` where sent)."""

    agent: str
    pool: str
    direction: np.ndarray  # +1 numeraire in / risky out, -1 risky in / numeraire out
    amount_in: np.ndarray
    min_out: np.ndarray
    notional: np.ndarray
    active: np.ndarray
    done: bool = False
    backruns: list = field(default_factory=list)


@dataclass
class BlockContext:
    """What agents see and touch in one block (all arrays shape (N,)).

    `markets` holds every venue the engine built, by scenario field and name (e.g.
    `markets["perps"]["perp"]`); the properties below name the common ones.
    """

    block: int
    time: np.ndarray
    dt: np.ndarray
    ref: np.ndarray
    base_fee: np.ndarray
    gas: GasConfig
    markets: dict[str, dict[str, Any]]
    ledger: Ledger
    mempool: list[Intent] = field(default_factory=list)
    prices: dict[str, np.ndarray] = field(default_factory=dict)
    """Every token's reference price when the price process is multi-asset (the engine
    sets it each block); empty otherwise, see `price_of`."""
    _gas: dict[str, np.ndarray] = field(default_factory=dict)
    _feeds: dict[str, Any] | None = None
    _ones: np.ndarray | None = None

    def price_of(self, token: str) -> np.ndarray:
        """Reference price of `token` in numeraire, (N,): from `prices` when the process is
        multi-asset, else `ref` for the risky asset and 1 for the numeraire."""
        if token in self.prices:
            return self.prices[token]
        if token == RISKY:
            return self.ref
        if token == NUMERAIRE:
            return self._unit()
        raise KeyError(f"no reference price of token '{token}'")

    def _unit(self) -> np.ndarray:
        if self._ones is None:
            self._ones = np.ones(self.ref.shape[0])
        return self._ones

    def market(self, field_name: str) -> dict[str, Any]:
        """The venues of a scenario field, by name (empty when the scenario has none)."""
        return self.markets.get(field_name, {})

    @property
    def pools(self) -> dict[str, Any]:
        """Constant-product pools (`CpmmBatch`) by name."""
        return self.market("pools")

    @property
    def feeds(self) -> dict[str, Any]:
        """Oracles by name: Chainlink-style feeds and pool TWAPs."""
        if self._feeds is None:
            self._feeds = {**self.market("oracles"), **self.market("twaps")}
        return self._feeds

    @property
    def venues(self) -> dict[str, Any]:
        """Oracle-priced venues (`OracleVenue`) by name."""
        return self.market("venues")

    @property
    def perps(self) -> dict[str, Any]:
        """Perp markets (`PerpVenue`) by name."""
        return self.market("perps")

    @property
    def options(self) -> dict[str, Any]:
        """Options pools (`OptionsVenue`) by name."""
        return self.market("options_pools")

    def gas_cost(self, kind: str) -> np.ndarray:
        """Cost of one transaction of `kind` (swap, mint, burn, oracle_update), numeraire."""
        # Same for every agent within a block: computed once per kind.
        cost = self._gas.get(kind)
        if cost is None:
            cost = gas_cost(getattr(self.gas.units, kind), self.base_fee, self.gas, self.ref)
            self._gas[kind] = cost
        return cost

    def pay_gas(self, agent: str, kind: str, mask: np.ndarray) -> None:
        """Charge one `kind` transaction to `agent` where `mask`."""
        self.ledger.gas(agent, self.gas_cost(kind), mask)

    def mint(self, agent: str, pool_name: str, value_frac: np.ndarray) -> np.ndarray:
        """`agent` adds `value_frac` of the pool's reserves; returns the shares minted (N,)."""
        return self.pools[pool_name].mint(value_frac)

    def burn(self, agent: str, pool_name: str, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`agent` burns `shares`; returns the (risky, numeraire) it receives, (N,) each."""
        return self.pools[pool_name].burn(shares)

    def take_lp_share(self, agent: str, pool_name: str, share: float) -> np.ndarray:
        """`agent` starts out owning `share` of the pool's existing LP supply (an inventory it
        inherits, not a deposit: nothing moves the pool); returns its shares (N,)."""
        return share * self.pools[pool_name].shares

    def order_refused(self, intent: Intent, mask: np.ndarray) -> None:
        """`intent`'s sender sends it where `mask` although it will not fill within its
        limit: the transaction reverts and only costs gas (booked by the agent). Nothing to
        do here; a chain run sends the reverting transaction."""

    def swap(
        self,
        agent: str,
        pool_name: str,
        amount_in: np.ndarray,
        direction: np.ndarray,
        is_arb: bool = False,
    ) -> np.ndarray:
        """Swap where direction != 0 and book it at the tokens' reference prices; returns
        amount_out (N,)."""
        pool = self.pools[pool_name]
        led = self.ledger
        b = led.books[pool_name]
        fn = _swap_and_book_p if pool.n >= PARALLEL_MIN else _swap_and_book_s
        tokens = getattr(pool, "tokens", None)
        if tokens is None:  # the risky asset against the numeraire
            p0, p1 = self.ref, self._unit()
        else:
            p0, p1 = self.price_of(tokens[0]), self.price_of(tokens[1])
        return fn(
            pool.x,
            pool.y,
            pool.fees_x,
            pool.fees_y,
            np.asarray(amount_in, dtype=np.float64),
            np.asarray(direction, dtype=np.int64),
            p0,
            p1,
            pool.fee_bps,
            pool.fee_to_reserves,
            led.active,
            is_arb,
            b.lvr,
            b.fees,
            b.lvr_frac,
            b.fee_frac,
            b.volume,
            b.n_trades,
            b.lvr_arb_frac,
            b.fee_arb_frac,
            b.arb_frac,
            b.arb_profit,
            b.arb_now,
            led.agent_pnl[agent],
        )


def _swap_and_book(
    x,
    y,
    fxs,
    fys,
    amount_in,
    direction,
    ref,
    quote,
    fee_bps,
    to_res,
    active,
    is_arb,
    lvr_a,
    fees_a,
    lvr_f,
    fee_f,
    vol,
    ntr,
    lvr_arb_f,
    fee_arb_f,
    arb_f,
    arb_p,
    arb_now,
    pnl_a,
):
    """Swap and book in one pass over the worlds that trade (Ledger.swap's arithmetic).

    `ref` and `quote` (N,) price token 0 and token 1 in numeraire; quote is 1 for a pool of
    the risky asset against the numeraire, where multiplying by it changes no bit.
    """
    n = x.shape[0]
    out = np.zeros(n)
    for i in prange(n):
        d = direction[i]
        a = amount_in[i]
        if d == 0 or not a > 0.0:
            continue
        nx, ny, o, fee_x, fee_y = swap_f(a, d, x[i], y[i], fee_bps, to_res)
        x[i] = nx
        y[i] = ny
        out[i] = o
        if not to_res:
            fxs[i] += fee_x
            fys[i] += fee_y
        if d > 0:
            ddx = -o
            ddy = a
        else:
            ddx = a
            ddy = -o
        r = ref[i]
        q = quote[i]
        pnl = -(r * ddx + ddy * q)
        if not active:
            continue
        fee = r * fee_x + fee_y * q
        lvr = pnl + fee
        v = (x[i] + fxs[i]) * r + y[i] * q + fys[i] * q
        lvr_a[i] += lvr
        fees_a[i] += fee
        lvr_f[i] += lvr / v
        fee_f[i] += fee / v
        vol[i] += ddx * r if ddx > 0 else max(ddy, 0.0) * q
        ntr[i] += 1.0
        if is_arb:
            lvr_arb_f[i] += lvr / v
            fee_arb_f[i] += fee / v
            arb_f[i] += pnl / v
            arb_p[i] += pnl
            arb_now[i] = True
        pnl_a[i] += pnl
    return out


_swap_and_book_s, _swap_and_book_p = dual_kernel(_swap_and_book)


@dataclass
class AgentEnv:
    """What an agent kind's `build(cfg, env)` gets: the scenario, the chunk of worlds and
    the pools' names; `streams(name)` is the agent's own per-world random stream."""

    sc: Any
    pools: list[str]
    n: int
    offset: int

    def streams(self, name: str) -> WorldStreams:
        return WorldStreams(self.sc.seed, stream_key("agent/" + name), self.n, self.offset)

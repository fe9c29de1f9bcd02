"""Graph arbitrageur: the most profitable cycle through every venue of the block, repeated.

Each block, in every world where some venue is off the reference prices by more than its fee,
the agent builds the token graph of its venues (`sim.decisions.arbgraph`: edge weight
−ln(marginal rate after fee), best venue per direction):

* constant-product pools on any token pair (`ctx.pools`);
* oracle-priced perps (`ctx.market("oracle_perps")`), constant-product quotes of the primary
  risky asset against the numeraire;
* the reference (CEX) market, when `reference_market`: a leg per risky token against the
  numeraire at its reference price, after `cex_fee_bps`, no gas, infinite depth;
* an options pool's synthetic forwards (`sim.venues.options.forward`), a sized venue priced
  by the pool's own code, traded through the engine's `OptionsVenue`.

It asks for a negative cycle (Bellman–Ford), sizes it (closed form for Möbius cycles, the
pool's own pricing for a cycle through a forward), and executes it when its profit at the
reference prices pays its gas (a swap per pool hop, a perp trade per perp hop, two option
trades per forward) plus `min_profit`; then looks again, at most `max_cycles` times a block.
The screen (every venue inside its fee band, so no cycle can pay: a cycle's log-rate is at most
the sum of its venues' mispricings minus their fees, the reference terms telescoping; for a
forward, one leg's spot fee bounds its cost from below) skips the graph in quiet worlds.

Accounting, per hop selling a of token i for o of token j at the block's reference prices p,
on a venue with fee f:

    fee = f·a·p_i,   LVR = o·p_j − a·p_i + fee,   arbitrage P&L = o·p_j − a·p_i = LVR − fee

so the cycles' gross profit = Σ over venues (LVR − fees) − reference-market fees, exactly
(`identity_error`, tested). A forward's fee is what the options pool charged on top of the
fee-free option values, both legs; its base, delivered at expiry, is valued at the reference
price (zero rate), so boards must outlast the run (`check`). The pools' trades are also booked
by the ledger (`<pool>.lvr`, `.lvr_rate`, ...), the perps' by the venue, the forwards' legs by
the options pool's own accounts. Columns `graph_arb.<name>.<metric>` are per day, numeraire
(see `sim.engine.ledger.GRAPH_ARB_METRICS`).

Worlds are independent, so the agent loops over the worlds that need the graph and trades
each world's cycle hop by hop on the batch venues (the other worlds' inputs are zero).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field

from sim.config import ConfigModel, Ref
from sim.decisions.arbgraph import CexLeg, Pool, add_edge, build_graph, find_cycle, plan
from sim.engine.context import AgentEnv, BlockContext
from sim.processes import token_names
from sim.venues.cpmm.batch import BPS
from sim.venues.options.forward import OptionsForward
from sim.venues.oracle_perp.batch import gamma

DAY = 86400.0
ACCOUNTS = (
    "volume", "gross", "gas", "lvr", "fees", "perp_lvr", "perp_fees", "opt_lvr", "opt_fees",
    "opt_volume", "opt_net", "opt_cycles", "cex_fees", "cycles", "hops", "blocks",
)  # fmt: skip
"""Per-world running totals (numeraire, counts) over the accounted blocks."""
BOOKS = {"pool": ("lvr", "fees"), "perp": ("perp_lvr", "perp_fees"), "opt": ("opt_lvr", "opt_fees")}
"""Where a hop's LVR and fee go, by the kind of venue it went through."""


class GraphArbitrageurConfig(ConfigModel):
    """Arbitrageur over the token graph of every venue (see `sim.agents.graph_arb`)."""

    kind: Literal["graph_arbitrageur"] = "graph_arbitrageur"
    """Agent selector."""
    name: str = "graph_arb"
    """Agent name."""
    max_cycles: int = Field(8, ge=1)
    """Most cycles executed per block and world."""
    reference_market: bool = True
    """Trade the reference (CEX) market: one leg per risky token against the numeraire."""
    cex_fee_bps: float = Field(0.0, ge=0, lt=10_000)
    """Taker fee of the reference-market legs, basis points."""
    min_profit: float = Field(0.0, ge=0)
    """Extra profit over gas a cycle must make, numeraire."""
    pools: list[str] | None = None
    """Pools it trades (None: all)."""
    oracle_perps: list[str] | None = None
    """Oracle-priced perps it trades (None: all)."""
    options_pools: list[str] | None = None
    """Options pools whose forwards it trades (None: all; at most one)."""

    def refs(self) -> list[Ref]:
        msg = "agent '{}' uses unknown {} '{}'"
        out: list[Ref] = []
        for field, what in (
            ("pools", "pool"),
            ("oracle_perps", "oracle perp"),
            ("options_pools", "options pool"),
        ):
            out += [
                ((field,), v, msg.format(self.name, what, v)) for v in getattr(self, field) or []
            ]
        return out

    def check(self, sc) -> None:
        opts = [
            o
            for o in sc.options_pools
            if self.options_pools is None or o.name in self.options_pools
        ]
        if len(opts) > 1:
            raise ValueError(
                f"agents.{self.name}.options_pools: at most one options pool (a cycle is sized "
                "through one forward); name one"
            )
        end = sc.metrics.warmup_blocks + sc.blocks.n_blocks
        run = end * sc.blocks.block_time
        for o in opts:
            for b in o.boards:
                if b.expiry <= run:
                    raise ValueError(
                        f"options_pools.{o.name}.boards: a board expiring at {b.expiry:g} s is "
                        f"within the run ({run:g} s); agent '{self.name}' values its forwards "
                        "at the reference price and does not follow them to settlement: make "
                        "every board outlast the run"
                    )


class GraphArbitrageur:
    """See the module docstring."""

    priority = True
    config = GraphArbitrageurConfig

    @classmethod
    def build(cls, cfg: GraphArbitrageurConfig, env: AgentEnv) -> GraphArbitrageur:
        return cls(cfg, env)

    def __init__(self, cfg: GraphArbitrageurConfig, env: AgentEnv):
        self.cfg = cfg
        self.name = cfg.name
        self.tokens = token_names(env.sc.price)
        self.primary, self.numeraire = self.tokens[:2]
        self.risky = [t for t in self.tokens if t != self.numeraire]
        self.acc = {k: np.zeros(env.n) for k in ACCOUNTS}
        self.plan_error = np.zeros(env.n)

    # -- the block -----------------------------------------------------------------------

    def _venues(self, ctx: BlockContext):
        c = self.cfg

        def pick(found: dict[str, Any], names: list[str] | None) -> dict[str, Any]:
            return {k: v for k, v in found.items() if names is None or k in names}

        return (
            pick(ctx.pools, c.pools),
            pick(ctx.market("oracle_perps"), c.oracle_perps),
            pick(ctx.options, c.options_pools),
        )

    def act(self, ctx: BlockContext) -> None:
        pools, perps, opts = self._venues(ctx)
        px = {t: ctx.price_of(t) for t in self.tokens}
        outside = np.zeros(ctx.ref.shape[0], dtype=bool)
        for pool in pools.values():
            t0, t1 = pool.tokens or (self.primary, self.numeraire)
            mis = np.abs(np.log(pool.y / pool.x * px[t1] / px[t0]))
            outside |= mis > gamma(pool.fee_bps)
        for perp in perps.values():
            outside |= np.abs(np.log(perp.y / perp.x / ctx.ref)) > gamma(perp.fee_bps)
        live = {}
        for name, ov in opts.items():
            spf = ov.cfg.spot_price_fee
            spot = ov.spot(ctx.ref)
            fresh = ov.fresh(ctx.time)
            outside |= fresh & (np.abs(np.log(spot / ctx.ref)) > math.log1p(spf))
            live[name] = fresh
            if self.cfg.reference_market:
                # the forward quotes outside [spot (1 - spf), spot (1 + spf)]: when the
                # reference legs quote inside that, the forward is never the best edge
                g = (BPS - self.cfg.cex_fee_bps) / BPS
                inside = (spot * (1 - spf) <= ctx.ref * g) & (ctx.ref / g <= spot * (1 + spf))
                live[name] = fresh & ~inside
        worlds = np.flatnonzero(outside)
        if worlds.size == 0:
            return
        pnl = np.zeros(ctx.ref.shape[0])
        for w in worlds:
            self._world(ctx, int(w), pools, perps, opts, live, px, pnl)
        ctx.ledger.pnl(self.name, pnl)

    def _world(self, ctx, w, pools, perps, opts, live, px, pnl) -> None:
        """Up to `max_cycles` cycles in world `w`."""
        c = self.cfg
        p = {t: float(v[w]) for t, v in px.items()}
        gas = {k: float(ctx.gas_cost(k)[w]) for k in ("swap", "perp_trade", "option_trade")}
        sized = []
        for name, ov in opts.items():
            if live[name][w]:  # one venue per block: it re-prices itself after each fill
                sized += self._forward(ctx, w, name, ov)
        active = ctx.ledger.active
        acc = self.acc
        traded = False
        for _ in range(c.max_cycles):
            venues = [
                Pool(f"pools/{k}", *(v.tokens or (self.primary, self.numeraire)),
                     float(v.x[w]), float(v.y[w]), v.fee_bps)
                for k, v in pools.items()
            ] + [
                Pool(f"oracle_perps/{k}", self.primary, self.numeraire, float(v.x[w]),
                     float(v.y[w]), v.fee_bps)
                for k, v in perps.items()
            ]  # fmt: skip
            graph = build_graph(venues, sized)
            if c.reference_market:
                g = (BPS - c.cex_fee_bps) / BPS
                for t in self.risky:
                    for a, b in ((t, self.numeraire), (self.numeraire, t)):
                        rate = g * p[a] / p[b]
                        add_edge(graph, a, b, rate, CexLeg(f"cex/{t}", rate, c.cex_fee_bps))
            cycle = find_cycle(graph)
            pl = plan(cycle) if cycle is not None else None
            if pl is None:
                break
            cost = 0.0
            for hop in pl.cycle.hops:
                if hop.sized:
                    cost += 2 * gas["option_trade"]
                elif isinstance(hop.pool, Pool):
                    perp = hop.pool.name.startswith("oracle_perps/")
                    cost += gas["perp_trade"] if perp else gas["swap"]
            start = p[pl.cycle.start]
            if pl.profit * start - cost <= c.min_profit:
                break
            amount = self._execute(ctx, w, pl, pools, perps, p, pnl, active)
            gross = (amount - pl.amount_in) * start
            mask = np.zeros(ctx.ref.shape[0], dtype=bool)
            mask[w] = True
            ctx.ledger.gas(self.name, np.full(mask.shape, cost), mask)
            traded = True
            if not active:
                continue
            self.plan_error[w] = max(self.plan_error[w], abs(gross - pl.profit * start))
            acc["gross"][w] += gross
            acc["gas"][w] += cost
            acc["cycles"][w] += 1
            acc["hops"][w] += len(pl.cycle.hops)
            if pl.size is not None:
                acc["opt_net"][w] += gross - cost
                acc["opt_cycles"][w] += 1
        if traded and active:
            acc["blocks"][w] += 1

    def _forward(self, ctx, w, name, ov) -> list:
        """The options pool's forwards in world w, both directions, traded via the venue."""

        def leg(wv, k, is_call, is_buy, is_open, q):
            return ov.trade(self.name, ctx, wv, k, is_call, is_buy, is_open, q, ledger_pnl=False)

        fw = OptionsForward(
            ov.pool, float(ov.spot(ctx.ref)[w]), float(ctx.time[w]), self.primary,
            self.numeraire, ov.holder(self.name)[w], bool(ov.fresh(ctx.time)[w]),
            f"options_pools/{name}", w, leg,
        )  # fmt: skip
        return [(fw, self.numeraire, self.primary), (fw, self.primary, self.numeraire)]

    def _execute(self, ctx, w, pl, pools, perps, p, pnl, active) -> float:
        """Trade the plan hop by hop in world w and book each hop; returns the amount back."""
        acc = self.acc
        n = ctx.ref.shape[0]
        amount = pl.amount_in
        for hop in pl.cycle.hops:
            v, tin, tout = hop.pool, hop.token_in, hop.token_out
            if hop.sized:
                fill = v.execute(tin, pl.size)
                a_in, out, fee = fill.amount_in, fill.amount_out, fill.fee * p[self.numeraire]
                kind = "opt"
            elif isinstance(v, CexLeg):
                a_in, out = amount, v.amount_out(tin, amount)
                fee = a_in * p[tin] * v.fee_bps / BPS
                kind = "cex"
            else:
                field, name = v.name.split("/", 1)
                a = np.zeros(n)
                a[w] = amount
                d = np.zeros(n, dtype=np.int64)
                d[w] = 1 if tin == v.token1 else -1
                if field == "pools":
                    out = float(ctx.swap(self.name, name, a, d, is_arb=True)[w])
                    kind = "pool"
                else:
                    out = float(perps[name].swap(a, d, ctx.ref, active)[w])
                    kind = "perp"
                a_in = amount
                fee = a_in * p[tin] * v.fee_bps / BPS
            v_in, v_out = a_in * p[tin], out * p[tout]
            if kind != "pool":  # ctx.swap books the pools' P&L itself
                pnl[w] += v_out - v_in
            amount = out
            if not active:
                continue
            if kind == "cex":
                acc["cex_fees"][w] += fee
                continue
            lvr, fees = BOOKS[kind]
            acc[lvr][w] += v_out - v_in + fee
            acc[fees][w] += fee
            acc["volume"][w] += v_in
            if kind == "opt":
                acc["opt_volume"][w] += v_in
        return amount

    # -- the end -------------------------------------------------------------------------

    def finish(self, ctx: BlockContext) -> dict[str, np.ndarray]:
        """Per-world columns 'graph_arb.<name>.<metric>' (see GRAPH_ARB_METRICS)."""
        a = self.acc
        days = ctx.ledger.seconds / DAY
        per_day = np.where(days > 0, days, np.nan)
        cycles = a["cycles"]
        out = {
            "volume": a["volume"] / per_day,
            "profit": (a["gross"] - a["gas"]) / per_day,
            "gross": a["gross"] / per_day,
            "gas": a["gas"] / per_day,
            "lvr": a["lvr"] / per_day,
            "fees": a["fees"] / per_day,
            "lp_loss": (a["lvr"] - a["fees"]) / per_day,
            "perp_lvr": a["perp_lvr"] / per_day,
            "perp_fees": a["perp_fees"] / per_day,
            "perp_loss": (a["perp_lvr"] - a["perp_fees"]) / per_day,
            "options_volume": a["opt_volume"] / per_day,
            "options_profit": a["opt_net"] / per_day,
            "options_lvr": a["opt_lvr"] / per_day,
            "options_fees": a["opt_fees"] / per_day,
            "options_loss": (a["opt_lvr"] - a["opt_fees"]) / per_day,
            "options_cycles": a["opt_cycles"] / per_day,
            "cex_fees": a["cex_fees"] / per_day,
            "cycles": cycles / per_day,
            "hops": np.where(cycles > 0, a["hops"] / np.where(cycles > 0, cycles, 1.0), np.nan),
            "block_frac": a["blocks"] / max(ctx.ledger.blocks, 1),
            "plan_error": self.plan_error,
            "identity_error": a["gross"]
            - (
                a["lvr"]
                - a["fees"]
                + a["perp_lvr"]
                - a["perp_fees"]
                + a["opt_lvr"]
                - a["opt_fees"]
                - a["cex_fees"]
            ),  # fmt: skip
        }
        return {f"graph_arb.{self.name}.{k}": v for k, v in out.items()}

"""The keeper as a simulator agent: hedges an inventory with a `sim.decisions.hedging` policy,
and manages a concentrated-liquidity position with a `sim.decisions.ranges` policy.

Each block, on every world at once, it runs the same code path as the fork keeper:
`sim.decisions.book.compute_book` (LP share via `cpmm_lp_greeks`, static options via Black–Scholes)
-> `HedgeInputs.from_book` -> `policy.decide` -> a trade on its venue where `decision.trade`.

Venues:
* a perp market (`sim.venues.perp.venue.PerpVenue`): the hedge is the keeper's perp position;
* a constant-product pool: the hedge is the risky asset held (negative: borrowed).
The policies' cost rate is that of the expected re-hedge q = −net delta on the venue, fee +
impact as a fraction of notional at the venue's mid, funding excluded: `sim.decisions.routing`'s one
definition (`perp_cost_rate` with the batch's fill price, `cpmm_cost_rate`), which the fork
keeper applies to the same order (`keeper.strategy.cost_rate`).

Inventory: an LP share, a static option book, and/or (`inventory: {options_pool: NAME}`) an
options pool venue's live book: its net positions on live strikes (the pool is long what
traders sold) with the pool's IVs go into `compute_book` beside the static legs, and its
NAV (balance + book, marked at the reference price) into the inventory value; and/or (`v3:`)
a Uniswap V3 position the keeper opens at its first block and moves with its range policy
before each hedge (`sim.agents.keeper_range`): its Greeks (`v3_position_greeks`, at the
pool's price) and the base it holds beside it go into the book, its tokens into the value.

A band policy with a `forecast` (`sim.decisions.hedging.ForecastBand`) has its band scaled by
σ̂ from the spot history (`sim.learn.features.VolForecast`), as the chain keeper does.

Accounting per world, over the accounted period (after warm-up):
    P&L = inventory value change + hedge P&L - gas,
with the inventory marked at the reference price (LP shares at the pool's value, live
options at Black–Scholes with their IV, expired ones at their payoff when they expired), and
the hedge at what it is worth (perp equity, or spot holding at the reference price). Costs are
split out: fees, impact (fill against the mark or the reference price), funding, gas; a V3
position's range moves' gas is taken off the P&L too (`rebalance_gas`, beside `gas`).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from sim.agents.keeper_range import RangeBook, V3Inventory
from sim.config import ConfigModel, Ref
from sim.decisions.book import Book, OptionPositions, compute_book, option_greeks
from sim.decisions.hedging import DeltaBand, HedgeDecision, HedgeInputs, WhalleyWilmott
from sim.decisions.policies import PolicyConfig, RangePolicyConfig, StaticRange
from sim.decisions.ranges import check_width
from sim.decisions.routing import cpmm_cost_rate, perp_cost_rate
from sim.engine.context import AgentEnv, BlockContext
from sim.engine.ledger import CROSS_WORLD_METRICS, KEEPER_METRICS
from sim.learn.features import VolForecast
from sim.learn.policy import Learned, check_model_book
from sim.stats import CVAR_ALPHA, cvar_se, finite, std_se
from sim.venues.cpmm.batch import get_amount_in
from sim.venues.perp.venue import PerpVenue
from sim.venues.univ3.agents import lp_slots


class KeeperInventory(ConfigModel):
    """A live inventory the keeper hedges: an options pool's book."""

    options_pool: str
    """Options pool whose net position (the LPs' book) the keeper hedges."""


class LPInventory(ConfigModel):
    """An LP share of a constant-product pool held by the keeper."""

    pool: str = "pool"
    """Pool."""
    share: float = Field(0.1, gt=0, le=1)
    """Fraction of the pool's LP supply held at the start."""


class OptionLeg(ConfigModel):
    """One static option position of the keeper's book."""

    type: Literal["call", "put"] = "call"
    """Call or put."""
    strike: float = Field(gt=0)
    """Strike, numeraire per risky asset."""
    expiry: float = Field(gt=0)
    """Expiry, seconds since the start of the run."""
    size: float
    """Contracts on one unit of the risky asset; negative when the book is short (the
    options pool sells to traders)."""
    iv: float = Field(0.8, gt=0)
    """Implied volatility that values the leg, annualised."""


class KeeperConfig(ConfigModel):
    """The keeper: hedges an inventory (LP share and/or options) on a venue with a policy."""

    kind: Literal["keeper"] = "keeper"
    """Agent selector."""
    name: str = "keeper"
    """Agent name."""
    lp: LPInventory | None = None
    """LP share in its inventory."""
    options: list[OptionLeg] = Field(default_factory=list)
    """Static option book in its inventory."""
    inventory: KeeperInventory | None = None
    """Live inventory: an options pool's book (its NAV is the keeper's inventory value)."""
    v3: V3Inventory | None = None
    """A Uniswap V3 position it opens at its first block and manages with `range_policy`."""
    range_policy: RangePolicyConfig = StaticRange()
    """Range policy of the V3 position (`sim.decisions.ranges`), chosen by `kind`."""
    venue: str = "perp"
    """Hedging venue: a perp market's or a pool's name."""
    policy: PolicyConfig = DeltaBand()
    """Hedging policy (`sim.decisions.hedging`), chosen by `kind`."""
    oracle: str | None = None
    """Feed the keeper reads spot from (None: the reference price)."""
    margin: float = Field(1e6, gt=0)
    """Margin deposited on the perp at the start, quote units."""
    start_hedged: bool = False
    """Put on the delta-neutral hedge before accounting starts (its cost is not counted);
    the policy manages it from there (with policy `none` it stays as a static hedge)."""
    pay_gas: bool = True
    """Charge gas for hedge trades."""

    def refs(self) -> list[Ref]:
        who = f"keeper '{self.name}'"
        out: list[Ref] = [
            (("pools", "perps"), self.venue, f"{who} hedges on unknown venue '{self.venue}'"),
            (("oracles",), self.oracle, f"{who} reads unknown oracle '{self.oracle}'"),
        ]
        if self.inventory is not None:
            pool = self.inventory.options_pool
            out.append((("options_pools",), pool, f"{who} holds unknown options pool '{pool}'"))
        if self.lp is not None:
            out.append(
                (("pools",), self.lp.pool, f"{who} holds LP of unknown pool '{self.lp.pool}'")
            )
        if self.v3 is not None:
            pool = self.v3.pool
            out.append((("v3_pools",), pool, f"{who} holds a range of unknown V3 pool '{pool}'"))
        return out

    def check(self, sc) -> None:
        """Every range width at least one tick spacing of the keeper's V3 pool."""
        if self.v3 is None:
            return
        c = next(p for p in sc.v3_pools if p.name == self.v3.pool)
        head = f"agents.{self.name}"
        rp = self.range_policy
        widths = [("v3.width", self.v3.width)]
        widths += [(f"range_policy.{f}", getattr(rp, f, None)) for f in ("width", "min_width")]
        for field, width in widths:
            if width is not None:
                check_width(width, c.tick_spacing, f"{head}.{field}", c.name)

    def accounts_on(self, field: str, name: str) -> int:
        return 1 if field == "perps" and name == self.venue else 0

    def v3_slots(self, pool: str) -> int:
        """Position slots it holds in V3 pool `pool` (`sim.venues.univ3.agents.lp_slots`)."""
        return 1 if self.v3 is not None and self.v3.pool == pool else 0


def _payoff(spot: np.ndarray, strike: np.ndarray, is_call: np.ndarray) -> np.ndarray:
    return np.where(is_call, np.maximum(spot - strike, 0.0), np.maximum(strike - spot, 0.0))


class KeeperAgent:
    """Hedging keeper over a batch of worlds (see the module docstring)."""

    priority = False
    config = KeeperConfig

    @classmethod
    def build(cls, cfg: KeeperConfig, env: AgentEnv) -> KeeperAgent:
        agent = cls(cfg, env.n)
        if cfg.v3 is not None:
            slot, _count = lp_slots(env.sc, cfg.v3.pool)[cfg.name]
            spacing = next(p.tick_spacing for p in env.sc.v3_pools if p.name == cfg.v3.pool)
            agent.range = RangeBook(cfg.v3, cfg.range_policy, cfg.name, env.n, slot, spacing)
        return agent

    def __init__(self, cfg: KeeperConfig, n: int):
        self.cfg = cfg
        self.name = cfg.name
        self.policy = cfg.policy
        legs = cfg.options
        self.options = (
            OptionPositions(
                size=np.array([o.size for o in legs]),
                strike=np.array([o.strike for o in legs]),
                expiry=np.array([o.expiry for o in legs]),
                is_call=np.array([o.type == "call" for o in legs]),
                iv=np.array([o.iv for o in legs]),
            )
            if legs
            else None
        )
        self.n = n
        self.lp_shares = np.zeros(n)
        self.settled = np.zeros((n, len(legs)), dtype=bool)
        self.settled_value = np.zeros(n)
        self.spot_held = np.zeros(n)
        self.cash = np.zeros(n)
        self.last_hedge = np.full(n, -math.inf)
        self.started = False
        self.baseline: tuple[np.ndarray, np.ndarray] | None = None
        self.active_blocks = 0
        self.m = {k: np.zeros(n) for k in KEEPER_METRICS}
        # A learned policy takes features of the spot history (`sim.learn.features`).
        self.learned = None
        if isinstance(self.policy, Learned):
            from sim.learn.features import LearnedFeatures

            self.learned = LearnedFeatures(self.policy, n)
        forecast = getattr(self.policy, "forecast", None)
        self.band_vol = None if forecast is None else VolForecast(forecast, n)
        self.range: RangeBook | None = None
        """The V3 position (`build` makes it: it needs the scenario's pool layout)."""

    # -- what the keeper holds -----------------------------------------------------------

    def _perp(self, ctx: BlockContext) -> PerpVenue | None:
        return ctx.perps.get(self.cfg.venue)

    def _slot(self, venue: PerpVenue) -> int:
        return venue.slots[self.name].start

    def _spot(self, ctx: BlockContext) -> np.ndarray:
        if self.cfg.oracle is None:
            return ctx.ref
        return ctx.feeds[self.cfg.oracle].price()

    def _oracle_age(self, ctx: BlockContext) -> np.ndarray:
        """Seconds since the keeper's spot price was updated (0 for the reference price)."""
        feed = None if self.cfg.oracle is None else ctx.feeds[self.cfg.oracle]
        updated = getattr(feed, "updated_at", None)
        return np.zeros(self.n) if updated is None else ctx.time - updated

    def _venue(self, ctx: BlockContext):
        inv = self.cfg.inventory
        return None if inv is None else ctx.options[inv.options_pool]

    def _book_options(self, ctx: BlockContext) -> OptionPositions | None:
        """Static legs plus the options pool's live book, (N, P) arrays when the pool is in."""
        venue = self._venue(ctx)
        if venue is None:
            return self.options
        p = venue.pool
        live = ~p.settled[:, p.board]
        net_call, net_put = p.net()
        vol = p.vol()
        size = np.concatenate([np.where(live, net_call, 0.0), np.where(live, net_put, 0.0)], 1)
        strike = np.concatenate([p.strike, p.strike])
        expiry = np.concatenate([p.k_expiry, p.k_expiry])
        is_call = np.concatenate([np.ones_like(p.strike, bool), np.zeros_like(p.strike, bool)])
        iv = np.concatenate([vol, vol], axis=1)
        n = size.shape[0]
        if self.options is not None:
            o = self.options
            size = np.concatenate([np.broadcast_to(o.size, (n, o.size.size)), size], 1)
            strike = np.concatenate([o.strike, strike])
            expiry = np.concatenate([o.expiry, expiry])
            is_call = np.concatenate([o.is_call, is_call])
            iv = np.concatenate([np.broadcast_to(o.iv, (n, o.iv.size)), iv], 1)
        return OptionPositions(size=size, strike=strike, expiry=expiry, is_call=is_call, iv=iv)

    def _lp(self, ctx: BlockContext) -> tuple[np.ndarray | float, np.ndarray | float]:
        """(base reserve, share of the supply) of the LP inventory."""
        if self.cfg.lp is None:
            return 0.0, 0.0
        pool = ctx.pools[self.cfg.lp.pool]
        return pool.x, self.lp_shares / pool.shares

    def book(self, ctx: BlockContext) -> Book:
        """The inventory's Greeks now, hedges excluded (`sim.decisions.book.compute_book`)."""
        x, share = self._lp(ctx)
        if self.range is None:
            return compute_book(self._spot(ctx), ctx.time, self._book_options(ctx), x, share)
        v3, sqrt_price, base = self.range.positions(ctx)
        return compute_book(
            self._spot(ctx), ctx.time, self._book_options(ctx), x, share,
            v3=v3, v3_sqrt_price=sqrt_price, base_held=base,
        )  # fmt: skip

    def hedge(self, ctx: BlockContext) -> np.ndarray:
        """Current hedge, base units (N,)."""
        venue = self._perp(ctx)
        if venue is not None:
            return venue.batch.size[:, self._slot(venue)].copy()
        return self.spot_held.copy()

    def inventory_value(self, ctx: BlockContext) -> np.ndarray:
        """LP share plus options, marked at the reference price, (N,)."""
        value = np.zeros(self.n)
        if self.cfg.lp is not None:
            pool = ctx.pools[self.cfg.lp.pool]
            value += self.lp_shares / pool.shares * pool.value(ctx.ref)
        if self.options is not None:
            o = self.options
            # Settle legs as they expire, at the reference price of the first block after.
            due = (o.expiry <= ctx.time[:, None]) & ~self.settled
            if due.any():
                pay = o.size * _payoff(ctx.ref[:, None], o.strike, o.is_call)
                self.settled_value += np.sum(np.where(due, pay, 0.0), axis=1)
                self.settled |= due
            value += option_greeks(o, ctx.ref, ctx.time)["price"] + self.settled_value
        venue = self._venue(ctx)
        if venue is not None:
            p = venue.pool
            value += p.pool_balance + p.hedge_capital + p.book(ctx.ref, ctx.time)["mark"]
        if self.range is not None:
            value += self.range.value(ctx)
        return value

    def hedge_value(self, ctx: BlockContext) -> np.ndarray:
        """What the hedge is worth now, net of the margin put in, (N,)."""
        venue = self._perp(ctx)
        if venue is not None:
            a = self._slot(venue)
            eq = venue.batch.equity(venue.mark(ctx.ref), ctx.time)[:, a]
            return eq - self.cfg.margin
        return self.spot_held * ctx.ref + self.cash

    # -- costs ---------------------------------------------------------------------------

    def cost_rate(self, ctx: BlockContext, q: np.ndarray) -> np.ndarray:
        """The policies' cost rate of trading `q` base now on the keeper's venue, (N,)
        (`sim.decisions.routing`: fee + impact per notional at the venue's mid, no funding)."""
        venue = self._perp(ctx)
        if venue is not None:
            b, price = venue.batch, venue.mark(ctx.ref)
            return perp_cost_rate(
                lambda size: b.fill_price(price, size), b.p.taker_fee, b.p.skew_scale, q
            )
        pool = ctx.pools[self.cfg.venue]
        return cpmm_cost_rate(pool.x, pool.y, pool.fee_bps, q)

    # -- the block -----------------------------------------------------------------------

    def _start(self, ctx: BlockContext) -> None:
        self.started = True
        if self.range is not None:
            self.range.open(ctx)
        venue = self._venue(ctx)
        if venue is not None:
            venue.hedgers.append(self)
        if self.cfg.lp is not None:
            self.lp_shares = ctx.take_lp_share(self.name, self.cfg.lp.pool, self.cfg.lp.share)
        venue = self._perp(ctx)
        if venue is not None:
            venue.batch.deposit(self._slot(venue), self.cfg.margin)
        if self.learned is not None:  # a model trained for another book is refused
            x, share = self._lp(ctx)
            opts = self._book_options(ctx) or OptionPositions.empty()
            check_model_book(self.policy, opts, ctx.time, np.multiply(x, share),
                             self._spot(ctx), f"keeper {self.name}")  # fmt: skip
        if self.cfg.start_hedged:
            book = self.book(ctx)
            target = -np.broadcast_to(book.delta, (self.n,))
            if venue is not None:
                venue.trade(self._slot(venue), target, ctx.ref, ctx.time, book=False)
            else:
                # An inherited spot position: no trade, nothing moves the pool.
                self.spot_held = target.copy()
                self.cash = -target * ctx.ref

    def act(self, ctx: BlockContext) -> None:
        if not self.started:
            self._start(ctx)
        active = ctx.ledger.active
        if active and self.baseline is None:
            self.baseline = (self.inventory_value(ctx), self.hedge_value(ctx))
        now = ctx.time
        if self.range is not None:
            self.range.step(ctx, self._spot(ctx), self._oracle_age(ctx), self.cfg.pay_gas)
        book = self.book(ctx)
        hedge = self.hedge(ctx)
        expected = -(np.broadcast_to(book.delta, hedge.shape) + hedge)
        scale = None
        if self.band_vol is not None:
            self.band_vol.observe(now, self._spot(ctx))
            scale = self.band_vol.band_scale(self.policy.forecast)
        inputs = HedgeInputs.from_book(
            book, now, hedge, self.last_hedge, self.cost_rate(ctx, expected), scale
        )
        if self.learned is None:
            decision = self.policy.decide(inputs)
        else:
            self.learned.observe(now, inputs.spot)
            decision = self.policy.decide(inputs, self.learned.features())
        self.record(inputs, decision)
        order = np.where(decision.trade, decision.target_hedge - hedge, 0.0)
        ok = self._execute(ctx, order, active) if decision.trade.any() else decision.trade
        self.last_hedge = np.where(ok, now, self.last_hedge)
        if active:
            m = self.m
            self.active_blocks += 1
            band = self.band(inputs)
            if band is not None:
                m["band_outside_frac"] += np.abs(inputs.net_delta) > band
            net = inputs.book_delta + self.hedge(ctx)
            m["max_abs_net_delta"] = np.maximum(m["max_abs_net_delta"], np.abs(net))
            m["n_trades"] += ok
            m["failed_trades"] += decision.trade & ~ok
            if self.cfg.pay_gas:
                gas = ctx.gas_cost("perp_trade" if self._perp(ctx) else "swap")
                m["gas"] += np.where(decision.trade, gas, 0.0)
        if self.cfg.pay_gas:
            kind = "perp_trade" if self._perp(ctx) else "swap"
            ctx.pay_gas(self.name, kind, decision.trade)

    def band(self, x: HedgeInputs) -> np.ndarray | None:
        """The policy's no-trade half-width, base units (None for policies without one)."""
        if isinstance(self.policy, DeltaBand):
            return np.broadcast_to(self.policy.half_width(x), x.hedge.shape)
        if isinstance(self.policy, WhalleyWilmott):
            return self.policy.band(x)
        return None

    def record(self, inputs: HedgeInputs, decision: HedgeDecision) -> None:
        """Hook called with each block's policy inputs and decision (tests spy on it)."""

    def _execute(self, ctx: BlockContext, order: np.ndarray, book: bool) -> np.ndarray:
        venue = self._perp(ctx)
        m = self.m
        if venue is not None:
            ok, fee, impact, funding = venue.trade(
                self._slot(venue), order, ctx.ref, ctx.time, book
            )
            if book:
                m["fees"] += fee
                m["impact"] += impact
                m["funding"] += funding
                ctx.ledger.pnl(self.name, -(fee + impact))
            return ok
        pool = ctx.pools[self.cfg.venue]
        buy = order > 0
        q = np.abs(order)
        g = 1.0 - pool.fee_bps / 1e4
        ok = (order != 0) & np.where(buy, q < pool.x, True)
        # Exact input for `q` out on the buy side (0 elsewhere, so no division by x - q <= 0).
        need = get_amount_in(np.where(buy & ok, q, 0.0), pool.y, pool.x, pool.fee_bps)
        amount_in = np.where(buy, need, q)
        direction = np.where(ok, np.where(buy, 1, -1), 0)
        out = ctx.swap(self.name, self.cfg.venue, np.where(ok, amount_in, 0.0), direction)
        self.spot_held += np.where(ok, np.where(buy, out, -q), 0.0)
        self.cash += np.where(ok, np.where(buy, -need, out), 0.0)
        if book:
            value_in = np.where(buy, need, q * ctx.ref)
            value_out = np.where(buy, out * ctx.ref, out)
            fee = np.where(ok, value_in * (1.0 - g), 0.0)
            m["fees"] += fee
            m["impact"] += np.where(ok, value_in - value_out, 0.0) - fee
        return ok

    @staticmethod
    def cross_world(columns: dict[str, np.ndarray]) -> dict[str, dict]:
        """Cross-world statistics of the keepers' P&L (`cross_world`)."""
        return cross_world(columns)

    def finish(self, ctx: BlockContext) -> dict[str, np.ndarray]:
        """Per-world hedging metrics as 'keeper.<name>.<metric>' columns."""
        m = dict(self.m)
        venue = self._perp(ctx)
        if venue is not None:
            a = self._slot(venue)
            m["funding"] = m["funding"] + venue.unsettled_funding(a, venue.mark(ctx.ref), ctx.time)
        v0, h0 = self.baseline if self.baseline is not None else (0.0, 0.0)
        m["inventory_pnl"] = self.inventory_value(ctx) - v0
        m["hedge_pnl"] = self.hedge_value(ctx) - h0
        m["pnl"] = m["inventory_pnl"] + m["hedge_pnl"] - m["gas"]
        m["cost"] = m["fees"] + m["impact"] + m["gas"] + m["funding"]
        if self.range is not None:
            m.update(self.range.finish(ctx))
            m["pnl"] = m["pnl"] - m["rebalance_gas"]
        if not isinstance(self.policy, DeltaBand | WhalleyWilmott):
            del m["band_outside_frac"]
        else:
            m["band_outside_frac"] = m["band_outside_frac"] / max(self.active_blocks, 1)
        return {f"keeper.{self.name}.{k}": v for k, v in m.items()}


def cross_world(columns: dict[str, np.ndarray]) -> dict[str, dict]:
    """Statistics across worlds of every keeper's P&L (NaN worlds left out): the standard
    deviation with its delta-method SE (hedged P&L has fat tails: the normal-theory SE would
    understate it) and CVaR 95 % with Hong and Liu's SE (`sim.stats`).
    """
    out: dict[str, dict] = {}
    for name, v in columns.items():
        if not (name.startswith("keeper.") and name.endswith(".pnl")):
            continue
        x = finite(v)
        n = x.size
        base = name[: -len(".pnl")]
        for key, (mean, se) in (
            ("pnl_std", std_se(x)),
            ("pnl_cvar95", cvar_se(x, CVAR_ALPHA)),
        ):
            unit, desc = CROSS_WORLD_METRICS[key]
            out[f"{base}.{key}"] = {
                "mean": mean,
                "se": se,
                "unit": unit,
                "n": n,
                "description": desc,
            }
    return out

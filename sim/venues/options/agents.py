"""Option traders of an options pool venue (`sim.venues.options.venue.OptionsVenue`): uninformed
liquidity demand and informed traders. Each acts on all worlds of a batch at once; the
distributions and rules are documented on their configs (`sim.scenario.OptionTraderConfig`,
`sim.scenario.InformedOptionTraderConfig`).

P&L (ledger, numeraire): premiums paid and received, settlement payoffs (booked by the venue),
the informed trader's delta hedge at the reference price, gas, and at the end the open
positions marked at the reference price with the pool's IVs.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from sim.config import ConfigModel, Ref
from sim.engine.context import AgentEnv, BlockContext
from sim.streams import WorldStreams
from sim.venues.options.batch import OK, YEAR, mark
from sim.venues.options.bs import bs_price_greeks
from sim.venues.options.venue import LONG_CALL, LONG_PUT, SHORT_CALL, SHORT_PUT, OptionsVenue


class OptionTraderConfig(ConfigModel):
    """Liquidity-demand option traders: Poisson arrivals that open positions and hold them
    to expiry.

    Per world and block, K ~ Poisson(rate_per_day x dt / 1 day) arrivals merge into one order
    of K x size_median x exp(size_sigma Z) options. The strike is drawn over every tradable
    strike (all boards) with weight exp(-ln(K/S)^2 / (2 moneyness_width^2)) x
    exp(-tau / tenor_scale) (demand peaks at the money and at short tenors); call with
    probability p_call, buy (open long) with probability p_buy, else sell (open short, posting
    collateral). Refused orders (delta bounds, liquidity, stale oracle) still pay gas.
    """

    kind: Literal["option_trader"] = "option_trader"
    """Agent selector."""
    name: str = "option_traders"
    """Agent name."""
    pool: str = "options"
    """Options pool traded."""
    rate_per_day: float = Field(100.0, ge=0)
    """Mean arrivals per day."""
    size_median: float = Field(2.0, gt=0)
    """Median order size, options (log-normal)."""
    size_sigma: float = Field(0.7, ge=0)
    """Log-normal sigma of the order size."""
    p_call: float = Field(0.5, ge=0, le=1)
    """Probability an order is for calls."""
    p_buy: float = Field(0.7, ge=0, le=1)
    """Probability an order buys (opens long); otherwise it sells (opens short)."""
    moneyness_width: float = Field(0.1, gt=0)
    """Standard deviation of ln(strike / spot) in the strike weights."""
    tenor_scale: float = Field(604_800.0, gt=0)
    """Tenor weight scale, seconds: weight exp(-time to expiry / tenor_scale)."""
    pay_gas: bool = True
    """Charge gas for each order."""

    def refs(self) -> list[Ref]:
        msg = f"agent '{self.name}' uses unknown options pool '{self.pool}'"
        return [(("options_pools",), self.pool, msg)]


class InformedOptionTraderConfig(ConfigModel):
    """Informed option trader: trades only when its expected edge exceeds fees and gas.

    `stale_oracle`: when the reference price has moved more than `threshold_bps` from the
    pool's oracle answer, buys `size` calls (reference above) or puts (below) on the strike
    of best edge = value at the reference price (at today's IV, where the closing trade's
    impact takes it back) - premium - the closing fee -
    2 gas - min_profit, hedges the delta at the reference price, and sells back once a new
    answer has landed (or before the cutoff), unwinding the hedge.
    `volatility`: every `check_every` seconds, when flat on a board, buys (sells) `size`
    options where its volatility `true_vol` is above (below) the pool's IV with edge =
    |BS(true_vol) - BS(IV)| x size - fee - gas - min_profit > 0, holds to settlement and
    delta-hedges each block at the reference price with true_vol.
    """

    kind: Literal["informed_option_trader"] = "informed_option_trader"
    """Agent selector."""
    name: str = "informed"
    """Agent name."""
    pool: str = "options"
    """Options pool traded."""
    signal: Literal["stale_oracle", "volatility"] = "stale_oracle"
    """What it exploits."""
    threshold_bps: float = Field(50.0, ge=0)
    """stale_oracle: smallest |reference / oracle - 1| it acts on, basis points."""
    true_vol: float | None = Field(None, gt=0)
    """volatility: the volatility it believes, annualised (None: the GBM/Merton sigma)."""
    check_every: float = Field(3600.0, gt=0)
    """volatility: seconds between looks at the pool."""
    size: float = Field(10.0, gt=0)
    """Options per trade."""
    min_profit: float = Field(0.0, ge=0)
    """Extra expected edge over fees and gas required to trade, numeraire."""
    pay_gas: bool = True
    """Charge gas (and count it in the edge)."""

    def refs(self) -> list[Ref]:
        msg = f"agent '{self.name}' uses unknown options pool '{self.pool}'"
        return [(("options_pools",), self.pool, msg)]

    def check(self, sc) -> None:
        if (
            self.signal == "volatility"
            and self.true_vol is None
            and not hasattr(sc.price, "sigma_annual")
        ):
            raise ValueError(f"agent '{self.name}': give true_vol for this price process")


class OptionTrader:
    """Liquidity-demand traders (see `OptionTraderConfig`). Draws per block and world: one
    Poisson count, one normal and three uniforms, whatever happens."""

    priority = False
    config = OptionTraderConfig

    @classmethod
    def build(cls, cfg: OptionTraderConfig, env: AgentEnv) -> OptionTrader:
        return cls(cfg, env.n, env.streams(cfg.name))

    def __init__(self, cfg: OptionTraderConfig, n: int, streams: WorldStreams):
        self.cfg = cfg
        self.name = cfg.name
        self.streams = streams

    def act(self, ctx: BlockContext) -> None:
        c = self.cfg
        venue: OptionsVenue = ctx.options[c.pool]
        st = self.streams
        count = st.poisson(c.rate_per_day * ctx.dt / 86400.0)
        z = st.normal()
        u = st.uniform(3)
        w = np.flatnonzero(count > 0)
        if w.size == 0:
            return
        p = venue.pool
        spot = venue.spot(ctx.ref)[w]
        now = ctx.time[w]
        tau = p.k_expiry[None, :] - now[:, None]
        lm = np.log(p.strike[None, :] / spot[:, None])
        weight = np.exp(-0.5 * (lm / c.moneyness_width) ** 2 - tau / c.tenor_scale)
        weight = np.where(
            venue.tradable_at(w[:, None], np.arange(p.strike.shape[0]), ctx.time), weight, 0.0
        )
        cum = np.cumsum(weight, axis=1)
        total = cum[:, -1]
        k = np.argmax(cum >= (u[0, w] * total)[:, None], axis=1)
        go = total > 0
        w, k = w[go], k[go]
        size = count[w] * c.size_median * np.exp(c.size_sigma * z[w])
        is_call = u[1, w] < c.p_call
        is_buy = u[2, w] < c.p_buy
        venue.trade(self.name, ctx, w, k, is_call, is_buy, True, size)
        if c.pay_gas:
            sent = np.zeros(ctx.ref.shape[0], dtype=bool)
            sent[w] = True
            ctx.pay_gas(self.name, "option_trade", sent)

    def finish(self, ctx: BlockContext) -> None:
        """Book the open positions' value at the reference price."""
        venue: OptionsVenue = ctx.options[self.cfg.pool]
        ctx.ledger.pnl(self.name, venue.mark_positions(self.name, ctx.ref, ctx.time))


class InformedOptionTrader:
    """Informed trader on a stale oracle or on mispriced IV (see
    `InformedOptionTraderConfig`). Draws nothing."""

    priority = True
    config = InformedOptionTraderConfig

    @classmethod
    def build(cls, cfg: InformedOptionTraderConfig, env: AgentEnv) -> InformedOptionTrader:
        agent = cls(cfg, env.n, env.streams(cfg.name))
        if agent.true_vol is None:
            agent.true_vol = env.sc.price.sigma_annual  # validated: GBM or Merton
        return agent

    def __init__(self, cfg: InformedOptionTraderConfig, n: int, streams: WorldStreams):
        self.cfg = cfg
        self.name = cfg.name
        self.n = n
        self.true_vol = cfg.true_vol
        self.open = np.zeros(n, dtype=bool)
        self.k = np.zeros(n, dtype=np.int64)
        self.is_call = np.zeros(n, dtype=bool)
        self.opened_at = np.zeros(n)
        self.ref_open = np.zeros(n)
        self.hedge = np.zeros(n)
        self.ref_last: np.ndarray | None = None
        self.next_check = np.zeros(n)
        self.edge = np.zeros(n)
        self.trades = np.zeros(n)

    def _gas(self, ctx: BlockContext) -> np.ndarray:
        return ctx.gas_cost("option_trade") if self.cfg.pay_gas else np.zeros(self.n)

    def act(self, ctx: BlockContext) -> None:
        if self.cfg.signal == "stale_oracle":
            self._stale(ctx)
        else:
            self._volatility(ctx)

    # -- stale oracle --------------------------------------------------------------------

    def _stale(self, ctx: BlockContext) -> None:
        c = self.cfg
        venue: OptionsVenue = ctx.options[c.pool]
        p = venue.pool
        now = ctx.time
        spot = venue.spot(ctx.ref)
        gas = self._gas(ctx)
        # Close where a new answer has landed since the open, or before the cutoff.
        near = now + p.p.trading_cutoff + 3600.0 >= p.k_expiry[self.k]
        close = self.open & ((venue.updated_at(now) > self.opened_at) | near)
        if close.any():
            w = np.flatnonzero(close)
            res = venue.trade(self.name, ctx, w, self.k[w], self.is_call[w], False, False, c.size)
            done = np.zeros(self.n, dtype=bool)
            done[w[res.ok]] = True
            ctx.ledger.pnl(self.name, np.where(done, self.hedge * (ctx.ref - self.ref_open), 0.0))
            self.hedge = np.where(done, 0.0, self.hedge)
            self.open &= ~done
            if c.pay_gas:
                ctx.pay_gas(self.name, "option_trade", close)
        move = ctx.ref / spot - 1.0
        trig = ~self.open & venue.fresh(now) & (np.abs(move) > c.threshold_bps / 1e4)
        if not trig.any():
            return
        w = np.flatnonzero(trig)
        nk = p.strike.shape[0]
        ww = np.repeat(w, nk)
        kk = np.tile(np.arange(nk), w.size)
        cc = np.repeat(move[w] > 0, nk)
        pr = p.pricing(ww, kk, cc, True, c.size, spot[ww], now[ww])
        tau = p.k_expiry[kk] - now[ww]
        ok_tau = tau > p.p.trading_cutoff + 3600.0
        # Closing sells the same size back, which moves the IVs back to where they are now:
        # value the close at today's IV (at the reference price), not the post-trade one.
        fair_unit = mark(
            ctx.ref[ww], p.strike[kk], np.maximum(tau, 0.0), p.vol_at(ww, kk), p.cap_k[kk]
        )
        fair = np.where(cc, fair_unit["call"], fair_unit["put"]) * c.size
        close_fee = p.p.option_price_fee * fair + p.p.spot_price_fee * ctx.ref[ww] * c.size
        edge = fair - pr.premium - close_fee - 2.0 * gas[ww] - c.min_profit
        usable = (
            (pr.code == OK)
            & ok_tau
            & venue.tradable_at(ww, kk, now)
            & (pr.call_delta >= p.p.min_delta)
            & (pr.call_delta <= p.p.max_delta)
        )
        edge = np.where(usable, edge, -math.inf).reshape(w.size, nk)
        best = np.argmax(edge, axis=1)
        best_edge = edge[np.arange(w.size), best]
        go = best_edge > 0
        if not go.any():
            return
        w, best, calls = w[go], best[go], move[w][go] > 0
        res = venue.trade(self.name, ctx, w, best, calls, True, True, c.size)
        ok = res.ok
        wo = w[ok]
        self.open[wo] = True
        self.k[wo] = best[ok]
        self.is_call[wo] = calls[ok]
        self.opened_at[wo] = now[wo]
        self.ref_open[wo] = ctx.ref[wo]
        tau_o = (p.k_expiry[best[ok]] - now[wo]) / YEAR
        g = bs_price_greeks(
            ctx.ref[wo], p.strike[best[ok]], tau_o, p.vol_at(wo, best[ok]), 0.0, calls[ok]
        )
        self.hedge[wo] = -g["delta"] * c.size
        if ctx.ledger.active:
            self.edge[w] += best_edge[go]
            self.trades[wo] += 1.0
        if c.pay_gas:
            sent = np.zeros(self.n, dtype=bool)
            sent[w] = True
            ctx.pay_gas(self.name, "option_trade", sent)

    # -- mispriced volatility ------------------------------------------------------------

    def _positions_delta(self, venue: OptionsVenue, ref, now) -> np.ndarray:
        pos = venue.holder(self.name)
        p = venue.pool
        tau = p.k_expiry[None, :] - now[:, None]
        live = tau > 0
        g = bs_price_greeks(
            ref[:, None], p.strike, np.where(live, tau, 1.0) / YEAR, self.true_vol, 0.0, True
        )
        d = np.where(live, g["delta"], 0.0)
        return np.sum(
            (pos[..., LONG_CALL] - pos[..., SHORT_CALL]) * d
            + (pos[..., LONG_PUT] - pos[..., SHORT_PUT]) * np.where(live, d - 1.0, 0.0),
            axis=1,
        )

    def _volatility(self, ctx: BlockContext) -> None:
        c = self.cfg
        venue: OptionsVenue = ctx.options[c.pool]
        now = ctx.time
        ref = ctx.ref
        # The delta hedge on the CEX at the reference price, rebalanced every block.
        if self.ref_last is not None:
            ctx.ledger.pnl(self.name, self.hedge * (ref - self.ref_last))
        self.ref_last = ref.copy()
        look = now >= self.next_check
        if look.any():
            self.next_check = np.where(look, now + c.check_every, self.next_check)
            self._vol_trade(ctx, venue, np.flatnonzero(look & venue.fresh(now)))
        if venue.positions.get(self.name) is not None:
            self.hedge = -self._positions_delta(venue, ref, now)

    def _vol_trade(self, ctx: BlockContext, venue: OptionsVenue, w: np.ndarray) -> None:
        if w.size == 0:
            return
        c = self.cfg
        p = venue.pool
        now = ctx.time
        spot = venue.spot(ctx.ref)
        pos = venue.holder(self.name)
        # Flat on the board: one position per board at a time.
        held_board = np.any(pos[w] != 0, axis=2)  # (M, K)
        nk = p.strike.shape[0]
        board_held = np.zeros((w.size, p.expiry.shape[0]), dtype=bool)
        for b in range(p.expiry.shape[0]):
            board_held[:, b] = np.any(held_board[:, p.board == b], axis=1)
        gas = self._gas(ctx)
        best_edge = np.full(w.size, -math.inf)
        best = np.zeros((w.size, 3))  # k, is_call, is_buy
        ww = np.repeat(w, nk)
        kk = np.tile(np.arange(nk), w.size)
        tau = p.k_expiry[kk] - now[ww]
        vol_now = p.vol_at(ww, kk)
        for is_call in (True, False):
            buy = self.true_vol > vol_now
            pr = p.pricing(ww, kk, is_call, buy, c.size, spot[ww], now[ww])
            fair = mark(spot[ww], p.strike[kk], np.maximum(tau, 0.0), self.true_vol, p.cap_k[kk])
            value = (fair["call"] if is_call else fair["put"]) * c.size
            edge = np.where(buy, value - pr.premium, pr.premium - value) - gas[ww] - c.min_profit
            usable = (
                (pr.code == OK)
                & venue.tradable_at(ww, kk, now)
                & ~board_held[np.arange(w.size).repeat(nk), p.board[kk]]
                & (pr.call_delta >= p.p.min_delta)
                & (pr.call_delta <= p.p.max_delta)
            )
            edge = np.where(usable, edge, -math.inf).reshape(w.size, nk)
            kb = np.argmax(edge, axis=1)
            eb = edge[np.arange(w.size), kb]
            better = eb > best_edge
            best_edge = np.where(better, eb, best_edge)
            best[better, 0] = kb[better]
            best[better, 1] = is_call
            best[better, 2] = buy.reshape(w.size, nk)[np.arange(w.size), kb][better]
        go = best_edge > 0
        if not go.any():
            return
        wg = w[go]
        res = venue.trade(
            self.name,
            ctx,
            wg,
            best[go, 0].astype(np.int64),
            best[go, 1] > 0.5,
            best[go, 2] > 0.5,
            True,
            c.size,
        )
        if ctx.ledger.active:
            self.edge[wg] += best_edge[go]
            self.trades[wg[res.ok]] += 1.0
        if c.pay_gas:
            sent = np.zeros(self.n, dtype=bool)
            sent[wg] = True
            ctx.pay_gas(self.name, "option_trade", sent)

    def finish(self, ctx: BlockContext) -> dict[str, np.ndarray]:
        """Book the open positions' value at the reference price and unwind the hedge;
        returns `world_columns()`."""
        venue: OptionsVenue = ctx.options[self.cfg.pool]
        ctx.ledger.pnl(self.name, venue.mark_positions(self.name, ctx.ref, ctx.time))
        if self.cfg.signal == "stale_oracle":
            ctx.ledger.pnl(
                self.name, np.where(self.open, self.hedge * (ctx.ref - self.ref_open), 0.0)
            )
        return self.world_columns()

    def world_columns(self) -> dict[str, np.ndarray]:
        """'agent.<name>.expected_edge' (numeraire, summed at trade time) and '.trades'."""
        return {
            f"agent.{self.name}.expected_edge": self.edge,
            f"agent.{self.name}.option_trades": self.trades,
        }

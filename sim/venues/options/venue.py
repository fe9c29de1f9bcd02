"""An options AMM as a venue of the batch engine: `sim.venues.options.batch.OptionsPoolVec` plus
its oracle, the holders' positions, settlement and the pool's P&L split.

The pool prices off a Chainlink-style feed's on-chain answer (or the reference price when it
has no feed), so a stale answer is what traders trade against; an answer older than
`max_oracle_delay` refuses trades and settlement, as the contract reverts. Settlement runs at
the first block at or after a board's expiry whose answer is fresh (anyone may call
`settleBoard`); every holder's claim is paid at once.

Accounting per world over the accounted period (after warm-up), with NAV the contract's
(balance + hedge capital + live book marked at the oracle with the pool's IVs):
    NAV change = premium + fees + payoffs + book mark change          (exactly)
    LP P&L     = NAV change + hedge P&L (of the keepers hedging the pool)
premium is the fee-free option value the pool sold minus what it bought, fees what it
charged on top, payoffs the settlement flows (received from traders' shorts minus owed to
traders' longs), and the book mark change the change of the live book's value.

Holders' P&L (booked to the ledger): minus premiums paid plus premiums received at trade
time, plus longs' payoffs minus shorts' payoffs at settlement; collateral is the trader's
own money and is not P&L. Positions still open at the end are marked at the reference price
with the pool's IVs (`mark_positions`).

Units: options (1.0 = one option on one unit of the asset), quote units, seconds.
Shapes: (N,) per world, (N, K) per world and strike, (N, K, 4) positions by side.
"""

from __future__ import annotations

import numpy as np

from sim.engine.ledger import OPTIONS_METRICS
from sim.venues.options.batch import (
    LONG_CALL,
    LONG_PUT,
    OK,
    SHORT_CALL,
    SHORT_PUT,
    OptionsPoolVec,
    TradeResult,
    VecOptionsParams,
    mark,
)
from sim.venues.options.config import OptionsPoolConfig, OptionsPricing
from sim.venues.pricefeed.batch import ChainlinkFeed

_TYPE = {
    (True, True): "trades_buy_call",
    (True, False): "trades_sell_call",
    (False, True): "trades_buy_put",
    (False, False): "trades_sell_put",
}


def vec_params(cfg: OptionsPricing) -> VecOptionsParams:
    """A pool's pricing parameters (a scenario's pool, the arbitrage study's) as
    `VecOptionsParams`."""
    return VecOptionsParams(
        **{f: getattr(cfg, f) for f in VecOptionsParams.__dataclass_fields__}  # same names
    )


class OptionsVenue:
    """One options pool per world, its holders and its accounting.

    Args:
        cfg: the pool.
        n: worlds.
        feed: the feed that prices it (None: the reference price).
    """

    def __init__(self, cfg: OptionsPoolConfig, n: int, feed: ChainlinkFeed | None):
        self.cfg = cfg
        self.name = cfg.name
        self.feed = feed
        self.n = n
        strikes = [(b, s) for b, board in enumerate(cfg.boards) for s in board.strikes]
        self.pool = OptionsPoolVec(
            n,
            expiry=[b.expiry for b in cfg.boards],
            call_cap=[b.call_cap for b in cfg.boards],
            base_iv=[b.base_iv for b in cfg.boards],
            strike=[s.strike for _, s in strikes],
            board=[b for b, _ in strikes],
            skew=[s.skew for _, s in strikes],
            params=vec_params(cfg),
            liquidity=cfg.liquidity,
        )
        self.n_strikes = len(strikes)
        self.positions: dict[str, np.ndarray] = {}
        self.hedgers: list = []
        self.m = {k: np.zeros(n) for k in OPTIONS_METRICS}
        self.nav0: np.ndarray | None = None
        self.mark0: np.ndarray | None = None

    # -- oracle --------------------------------------------------------------------------

    def spot(self, ref: np.ndarray) -> np.ndarray:
        """The price the pool reads now, (N,)."""
        return ref if self.feed is None else self.feed.price()

    def updated_at(self, now: np.ndarray) -> np.ndarray:
        """When the pool's price was last updated, (N,) seconds."""
        return now if self.feed is None else self.feed.updated_at

    def fresh(self, now: np.ndarray) -> np.ndarray:
        """Worlds whose answer is recent enough to trade and settle on, (N,) bool."""
        if self.feed is None:
            return np.ones(now.shape, dtype=bool)
        return now - self.feed.updated_at <= self.cfg.max_oracle_delay

    def tradable_at(self, w, k, now: np.ndarray) -> np.ndarray:
        """Whether strike k[m] of world w[m] is open to trading now: unsettled and before the
        cutoff, (M,) bool."""
        p = self.pool
        return (now[w] + p.p.trading_cutoff < p.k_expiry[k]) & ~p.settled[w, p.board[k]]

    # -- holders -------------------------------------------------------------------------

    def holder(self, name: str) -> np.ndarray:
        """`name`'s positions (N, K, 4): long call, short call, long put, short put."""
        pos = self.positions.get(name)
        if pos is None:
            pos = self.positions[name] = np.zeros((self.n, self.n_strikes, 4))
        return pos

    def trade(
        self, agent, ctx, w, k, is_call, is_buy, is_open, amount, ledger_pnl: bool = True
    ) -> TradeResult:
        """`agent` opens or closes on strikes `k` in worlds `w` (M,) at the pool's price.

        Books the holder's position, its premium to the ledger (when `ledger_pnl`) and the
        pool's premium, fee and trade counts. Returns the pool's `TradeResult`.
        """
        w = np.asarray(w, dtype=np.int64)
        m = w.shape[0]
        k = np.asarray(k, dtype=np.int64)
        is_call = np.broadcast_to(np.asarray(is_call, dtype=bool), (m,))
        is_buy = np.broadcast_to(np.asarray(is_buy, dtype=bool), (m,))
        is_open = np.broadcast_to(np.asarray(is_open, dtype=bool), (m,))
        amount = np.broadcast_to(np.asarray(amount, dtype=float), (m,))
        pos = self.holder(agent)
        spot = self.spot(ctx.ref)[w]
        now = ctx.time[w]
        res = self._fill(
            agent, w, k, is_call, is_buy, is_open, amount, spot, now, self.fresh(ctx.time)[w], pos
        )
        ok = res.ok
        pnl = np.zeros(self.n)
        pnl[w] = np.where(is_buy, -res.premium, res.premium)
        if ledger_pnl:
            ctx.ledger.pnl(agent, pnl)
        if ctx.ledger.active:
            mm = self.m
            sign = np.where(is_buy, 1.0, -1.0)
            np.add.at(mm["premium"], w, sign * res.base)
            np.add.at(
                mm["fees"], w, np.where(is_buy, res.premium - res.base, res.base - res.premium)
            )
            np.add.at(mm["volume"], w, np.where(ok, amount * spot, 0.0))
            np.add.at(mm["refused"], w, ((res.code != OK) & (amount > 0)).astype(float))
            for (c, b), key in _TYPE.items():
                np.add.at(mm[key], w, (ok & (is_call == c) & (is_buy == b)).astype(float))
        return res

    def _fill(
        self, agent, w, k, is_call, is_buy, is_open, amount, spot, now, fresh, pos
    ) -> TradeResult:
        """The pool's fill of `agent`'s trades and its positions `pos` (N, K, 4) after them.
        (The chain backend's exact stand-in fills on the integer twin instead.)"""
        long_side = is_buy == is_open
        slot = np.where(long_side, LONG_CALL, SHORT_CALL) + np.where(is_call, 0, 2)
        res = self.pool.trade(
            w, k, is_call, is_buy, is_open, amount, spot, now, fresh, pos[w, k, slot]
        )
        ok = res.ok
        pos[w[ok], k[ok], slot[ok]] += np.where(is_open, amount, -amount)[ok]
        return res

    def mark_positions(self, name: str, ref: np.ndarray, now: np.ndarray) -> np.ndarray:
        """Value of `name`'s open positions at the reference price and the pool's IVs, (N,)."""
        pos = self.positions.get(name)
        if pos is None:
            return np.zeros(self.n)
        p = self.pool
        tau = np.maximum(p.k_expiry - now[:, None], 0.0)
        mk = mark(ref[:, None], p.strike, tau, p.vol(), p.cap_k)
        return np.sum(
            (pos[..., LONG_CALL] - pos[..., SHORT_CALL]) * mk["call"]
            + (pos[..., LONG_PUT] - pos[..., SHORT_PUT]) * mk["put"],
            axis=1,
        )

    # -- the block -----------------------------------------------------------------------

    def begin_block(self, ctx) -> None:
        """Start the accounting baseline when the ledger starts; settle expired boards."""
        if ctx.ledger.active and self.nav0 is None:
            self.nav0, self.mark0 = self._nav_mark(ctx)
        for bi in range(self.pool.expiry.shape[0]):
            due = self._due(ctx, bi)
            if due.any():
                self._settle(ctx, bi, due)

    def _due(self, ctx, bi: int) -> np.ndarray:
        """Worlds where board `bi` settles now: expired, unsettled, a fresh answer, (N,)."""
        p = self.pool
        due = (ctx.time >= p.expiry[bi]) & ~p.settled[:, bi]
        return due & self.fresh(ctx.time) if due.any() else due

    def _settle_pool(self, ctx, bi: int, due: np.ndarray) -> dict[str, np.ndarray]:
        """`settleBoard(bi)` in worlds `due`; returns `OptionsPoolVec.settle`'s dict."""
        return self.pool.settle(bi, self.spot(ctx.ref), due)

    def _claim(self, name: str, pos: np.ndarray, out: dict[str, np.ndarray]) -> None:
        """`name`'s claims of its positions `pos` on the strikes just settled (`out`)."""
        self.pool.claim(pos, out["call"], out["put"], out["on"])

    def _settle(self, ctx, bi: int, due: np.ndarray) -> None:
        out = self._settle_pool(ctx, bi, due)
        active = ctx.ledger.active
        if active:
            self.m["payoffs"] += out["received"] - out["owed"]
            self.m["settlements"] += due
        for name, pos in self.positions.items():
            held = np.any(np.where(out["on"][..., None], pos, 0.0) != 0, axis=(1, 2))
            if not held.any():
                continue
            self._claim(name, pos, out)
            on = out["on"][..., None]
            p = np.where(on, pos, 0.0)
            pnl = np.sum(
                (p[..., LONG_CALL] - p[..., SHORT_CALL]) * out["call"]
                + (p[..., LONG_PUT] - p[..., SHORT_PUT]) * out["put"],
                axis=1,
            )
            ctx.ledger.pnl(name, pnl)
            pos[...] = np.where(on, 0.0, pos)
            if name in ctx.ledger.agent_gas:
                ctx.pay_gas(name, "option_claim", held)

    def _nav_mark(self, ctx) -> tuple[np.ndarray, np.ndarray]:
        p = self.pool
        book = p.book(self.spot(ctx.ref), ctx.time)
        return p.pool_balance + p.hedge_capital + book["mark"], book["mark"]

    def greeks(self, ctx) -> dict[str, np.ndarray]:
        """NAV, delta, gamma, vega, theta of the pool now (at its oracle), (N,) each."""
        p = self.pool
        book = p.book(self.spot(ctx.ref), ctx.time)
        return {
            "nav": p.pool_balance + p.hedge_capital + book["mark"],
            "delta": book["delta"],
            "gamma": book["gamma"],
            "vega": book["vega"],
            "theta": book["theta"],
        }

    def board_greeks(self, ctx) -> dict[str, np.ndarray]:
        """Per board b: 'board<b>.<greek>' for delta, gamma, vega, theta (`boardGreeks`),
        (N,) each."""
        book = self.pool.book(self.spot(ctx.ref), ctx.time, by_board=True)
        return {
            f"board{b}.{g}": book[g][:, b]
            for b in range(book["delta"].shape[1])
            for g in ("delta", "gamma", "vega", "theta")
        }

    def hedge_pnl(self, ctx) -> np.ndarray:
        """P&L of the keepers hedging this pool since accounting started, net of gas, (N,)."""
        out = np.zeros(self.n)
        for k in self.hedgers:
            h0 = k.baseline[1] if k.baseline is not None else 0.0
            out += k.hedge_value(ctx) - h0 - k.m["gas"]
        return out

    def world_columns(self, ctx) -> dict[str, np.ndarray]:
        """Per-world metrics at the end, as 'options.<name>.<metric>' columns."""
        m = dict(self.m)
        nav, mk = self._nav_mark(ctx)
        nav0 = self.nav0 if self.nav0 is not None else nav
        mark0 = self.mark0 if self.mark0 is not None else mk
        g = self.greeks(ctx)
        m["nav"] = nav
        m["nav_change"] = nav - nav0
        m["book_mark_change"] = mk - mark0
        m["split_error"] = m["nav_change"] - (
            m["premium"] + m["fees"] + m["payoffs"] + m["book_mark_change"]
        )
        m["hedge_pnl"] = self.hedge_pnl(ctx)
        m["lp_pnl"] = m["nav_change"] + m["hedge_pnl"]
        m["lp_return"] = m["lp_pnl"] / nav0
        m["delta"], m["gamma"], m["vega"], m["theta"] = (
            g["delta"],
            g["gamma"],
            g["vega"],
            g["theta"],
        )
        m.update(self.board_greeks(ctx))
        m["utilisation"] = self.pool.utilisation()
        return {f"options.{self.name}.{k}": v for k, v in m.items()}

    def sample(self, ctx) -> dict[str, np.ndarray]:
        """Per-block series columns: NAV, Greeks, balance and utilisation."""
        g = self.greeks(ctx)
        g["balance"] = self.pool.pool_balance.copy()
        g["utilisation"] = self.pool.utilisation()
        g["base_iv"] = self.pool.base_iv[:, 0].copy()
        g.update(self.board_greeks(ctx))
        return {f"options.{self.name}.{k}": v for k, v in g.items()}


__all__ = ["OptionsVenue", "vec_params", "LONG_CALL", "LONG_PUT", "SHORT_CALL", "SHORT_PUT"]

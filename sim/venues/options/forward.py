"""The options pool as an arbitrage venue: its synthetic forwards, long call − short put at
one strike, are a conversion between the pool's base (WETH) and quote (USDC).

Why a forward. The pool prices calls and puts at one strike with the same IV and a zero rate
(`sim.venues.options.twin`), so without fees put–call parity holds at its oracle spot S_o:
C − P = S_o − K. Buying a call and selling a put at strike K, and posting K as the put's
collateral, pays S_T in cash at expiry (while S_T < (1 + callCap)·K, where the capped call
stops paying; the pool prices calls uncapped, a documented caveat). So, with no carry at a
zero rate, that package is one unit of the base delivered at expiry, bought for
K + C_ask − P_bid; selling the package (short call, long put, against a unit of the base held
to expiry) turns the base into K + C_bid − P_ask of quote. The pool quotes its forward at its
oracle, not at the market: when the oracle lags, or a pool's price strays from it, by more
than the forward's costs, a cycle through the forward and the spot venues is an arbitrage.

Costs, all from the pool's own pricing (`OptionsPoolVec.trade`, the vectorised twin that
matches the contract): both legs' fees (a share of the option value, a share of spot per
option, the vega-utilisation fee on the leg that grows the board's |vega|) and the IV impact:
the first leg moves base IV and skew by amount / standard size × impact and prices at the
moved IV, the second moves them back. Gas (two option trades) is the caller's.

The arbitrageur's options are netted: a leg closes the holder's opposite position at that
strike when it covers the whole leg (which frees the pool's collateral and skips the delta
bounds), else opens. Closing and opening price the same, so the conversion rate is the same.

Units: sizes q in options (one option on one unit of the base), amounts in whole tokens,
quote per base for spots and strikes, seconds.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from sim.venues.options.batch import (
    LONG_CALL,
    LONG_PUT,
    SHORT_CALL,
    SHORT_PUT,
    OptionsPoolVec,
    VecOptionsParams,
)
from sim.venues.options.twin import WAD, OptionsPool

# OptionsPoolVec's per-world state (leading axis = world); everything else is shared.
_PER_WORLD = (
    "base_iv",
    "skew",
    "oi",
    "pool_balance",
    "locked",
    "trader_collateral",
    "payout_reserve",
    "hedge_capital",
    "settled",
    "settlement_spot",
)
_SHARED = ("n", "p", "expiry", "call_cap", "strike", "board", "cap_k", "k_expiry")

MARGINAL_SIZE = 1e-6
"""Size of the probe trade that prices the marginal rate, in standard sizes."""
MAX_SIZE = 1e3
"""Largest size searched, in standard sizes (the pool refuses what its IV bounds or free
liquidity cannot take, which bounds the search sooner)."""


def tile(pool: OptionsPoolVec, m: int, world: int = 0) -> OptionsPoolVec:
    """An independent pool of `m` worlds, each a copy of `pool`'s world `world`.

    Used to price m candidate trades on the same state at once, and to trade their legs in
    sequence on that state without touching `pool`.
    """
    unknown = set(vars(pool)) - set(_PER_WORLD) - set(_SHARED)
    if unknown:
        raise RuntimeError(
            f"OptionsPoolVec has state {sorted(unknown)} that sim.venues.options.forward.tile does not "
            "copy; add it to _PER_WORLD or _SHARED"
        )
    out = copy.copy(pool)
    out.n = m
    for name in _PER_WORLD:
        setattr(out, name, np.repeat(getattr(pool, name)[world : world + 1], m, axis=0))
    return out


def vec_of_twin(twin: OptionsPool) -> tuple[OptionsPoolVec, list[int]]:
    """A one-world `OptionsPoolVec` holding the integer twin's live boards, and the twin's
    strike id of each of its strikes (strike k of the vectorised pool is `ids[k]`)."""
    unit = WAD // twin.quote_scale  # quote base units per quote token
    boards = [twin.boards[b] for b in twin.live_board_ids]
    strikes = [(i, sid) for i, b in enumerate(boards) for sid in b.strike_ids]
    vec = OptionsPoolVec(
        1,
        expiry=[b.expiry for b in boards],
        call_cap=[b.call_cap / WAD for b in boards],
        base_iv=[b.base_iv / WAD for b in boards],
        strike=[twin.strikes[sid].strike / WAD for _, sid in strikes],
        board=[i for i, _ in strikes],
        skew=[twin.strikes[sid].skew / WAD for _, sid in strikes],
        params=VecOptionsParams.from_pool(twin),
        liquidity=twin.pool_balance / unit,
    )
    vec.locked[0] = twin.locked_collateral / unit
    vec.trader_collateral[0] = twin.trader_collateral / unit
    vec.payout_reserve[0] = twin.payout_reserve / unit
    vec.hedge_capital[0] = twin.hedge_capital / unit
    for k, (_, sid) in enumerate(strikes):
        s = twin.strikes[sid]
        vec.oi[0, k] = [s.long_call / WAD, s.short_call / WAD, s.long_put / WAD, s.short_put / WAD]
    return vec, [sid for _, sid in strikes]


@dataclass(frozen=True)
class Fill:
    """One executed forward: `amount_in` of the token sold for `amount_out` of the other.

    fee: what the pool charged on top of the fee-free option values, both legs, quote.
    strike: index of the strike traded; size: options per leg.
    """

    amount_in: float
    amount_out: float
    fee: float
    strike: int
    size: float


class OptionsForward:
    """The synthetic forwards of one options pool (one world of an `OptionsPoolVec`) as a
    `sim.decisions.arbgraph.SizedVenue` between `base` and `quote`.

    Selling `quote` buys the forward (buy call, sell put); selling `base` sells it (sell
    call, buy put). Each direction trades the strike with the best marginal rate. Quotes
    price on copies of the pool's current state; `execute` trades on the pool itself and
    books the holder's positions. An instance caches its strike choice: build a new one
    after the pool's state or the oracle changes (each `execute` clears the cache).

    Args:
        pool: the options pool (its world `world` is this venue).
        spot: the pool's oracle answer now, quote per base.
        now: block time, seconds (the boards' clock).
        base, quote: token names.
        holder: (K, 4) the arbitrageur's positions per strike (long call, short call, long
            put, short put), updated by `execute`.
        fresh: False when the oracle answer is too old to trade on (every trade refused).
        leg: how `execute` trades a leg on the venue itself, `leg(w, k, is_call, is_buy,
            is_open, q) -> TradeResult` (the engine's `OptionsVenue.trade`, which books the
            holder's position and the pool's accounts); None trades `pool` and books `holder`
            here. Quotes always price on copies of `pool`.
    """

    def __init__(
        self,
        pool: OptionsPoolVec,
        spot: float,
        now: float,
        base: str,
        quote: str,
        holder: np.ndarray,
        fresh: bool = True,
        name: str = "options",
        world: int = 0,
        leg=None,
    ):
        if holder.shape != (pool.strike.shape[0], 4):
            raise ValueError(f"holder must be (strikes, 4) = ({pool.strike.shape[0]}, 4)")
        self.pool = pool
        self.spot = float(spot)
        self.now = float(now)
        self.base = base
        self.quote_token = quote
        self.holder = holder
        self.fresh = bool(fresh)
        self.name = name
        self.world = world
        self.leg = leg
        self._best: dict[str, tuple[int, float]] = {}

    # -- the conversion ------------------------------------------------------------------

    def _buy(self, token_in: str) -> bool:
        """True when selling `token_in` buys the forward (call bought, put sold)."""
        if token_in == self.quote_token:
            return True
        if token_in == self.base:
            return False
        raise ValueError(
            f"options venue {self.name} trades {self.base} and {self.quote_token}, not {token_in}"
        )

    def _trade(self, pool: OptionsPoolVec, w, k, q, buy, book: bool = False):
        """Both legs, call first, for worlds w (M,) of `pool` at strikes k, sizes q, buying the
        forward where `buy`; returns (amount_in, amount_out, fee, ok), each (M,)."""
        k = np.asarray(k, dtype=np.int64)
        q = np.asarray(q, dtype=np.float64)
        buy = np.broadcast_to(np.asarray(buy, dtype=bool), q.shape)
        net = pool.strike[k] * q  # K·q + call premium − put premium, quote
        fee = np.zeros(q.shape)
        ok = np.ones(q.shape, dtype=bool)
        for is_call, is_buy in ((True, buy), (False, ~buy)):
            long_, short = (LONG_CALL, SHORT_CALL) if is_call else (LONG_PUT, SHORT_PUT)
            close_slot = np.where(is_buy, short, long_)  # buying closes a short first
            open_slot = np.where(is_buy, long_, short)
            held = self.holder[k, close_slot]
            close = held >= q
            if book and self.leg is not None:  # the venue books the position
                res = self.leg(w, k, is_call, is_buy, ~close, q)
            else:
                res = pool.trade(
                    w, k, is_call, is_buy, ~close, q, self.spot, self.now, self.fresh, held
                )
            ok &= res.ok
            net += res.premium if is_call else -res.premium
            fee += np.where(is_buy, res.premium - res.base, res.base - res.premium)
            if book and self.leg is None:
                c, o = close & res.ok, ~close & res.ok
                np.subtract.at(self.holder, (k[c], close_slot[c]), q[c])
                np.add.at(self.holder, (k[o], open_slot[o]), q[o])
        amount_in = np.where(buy, net, q)
        amount_out = np.where(buy, q, net)
        ok &= (amount_in > 0) & (amount_out > 0)
        return amount_in, amount_out, fee, ok

    def _candidates(self, k, q, buy):
        m = len(q)
        return self._trade(tile(self.pool, m, self.world), np.arange(m), k, q, buy)

    # -- SizedVenue ----------------------------------------------------------------------

    def best_strike(self, token_in: str) -> tuple[int, float]:
        """(strike index, marginal rate) of the best strike for selling `token_in`; rate 0
        when no strike trades. Both directions are priced at once and cached."""
        if not self._best:
            n_k = self.pool.strike.shape[0]
            k = np.tile(np.arange(n_k), 2)
            buy = np.repeat([True, False], n_k)
            q = np.full(2 * n_k, MARGINAL_SIZE * self.pool.p.standard_size)
            a_in, a_out, _, ok = self._candidates(k, q, buy)
            rate = np.where(ok, a_out / np.where(ok, a_in, 1.0), 0.0)
            for token, part in ((self.quote_token, rate[:n_k]), (self.base, rate[n_k:])):
                best = int(np.argmax(part))
                self._best[token] = (best, float(part[best]))
        self._buy(token_in)
        return self._best[token_in]

    def marginal_rate(self, token_in: str) -> float:
        return self.best_strike(token_in)[1]

    def size_range(self, token_in: str) -> tuple[float, float]:
        ss = self.pool.p.standard_size
        return MARGINAL_SIZE * ss, MAX_SIZE * ss

    def quote(self, token_in: str, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = np.atleast_1d(np.asarray(q, dtype=np.float64))
        k, _ = self.best_strike(token_in)
        a_in, a_out, _, ok = self._candidates(np.full(q.shape, k), q, self._buy(token_in))
        return np.where(ok, a_in, np.nan), np.where(ok, a_out, np.nan)

    def execute(self, token_in: str, q: float) -> Fill:
        """Trade a forward of size q selling `token_in` on the pool itself; books the
        holder's positions. Raises if the pool refuses (a plan priced on its own state
        should never be refused; a refusal raises, leaving the pool as far as it got)."""
        k, _ = self.best_strike(token_in)
        a_in, a_out, fee, ok = self._trade(
            self.pool,
            np.array([self.world]),
            np.array([k]),
            np.array([q]),
            self._buy(token_in),
            book=True,
        )
        self._best.clear()
        if not ok[0]:
            # plans are priced on a copy of this state, so this is a bug, not a market event
            raise RuntimeError(f"options venue {self.name} refused a forward of {q} at strike {k}")
        return Fill(float(a_in[0]), float(a_out[0]), float(fee[0]), k, float(q))

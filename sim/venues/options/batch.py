"""Vectorised twin of `contracts/OptionsPool.vy` for W worlds at once, in float64.

The rules are `sim.venues.options.twin.OptionsPool`'s (the exact integer twin, which is the
specification), applied to every world in one numpy pass: Lyra-style pricing with the IV and
skew impact of a trade per standard size, Black–Scholes from `sim.venues.options.bs.bs_price_greeks`
at IV = base IV x skew, calls capped at `callCap x strike`, fees (option price, spot price,
vega utilisation), collateral, the same refusals in the same order, NAV, Greeks and
settlement. Where the integer twin rounds to the wei this twin keeps float64; on random trade
sequences the two agree to ~1e-12 relative (`tests/sim/test_options_vec.py` holds them to
1e-9) and refuse the same trades.

Shared by all worlds: the boards (expiry, call cap) and strikes (strike, board). Per world:
the base IV of each board, the skew of each strike, traders' open interest per strike and
type, the pool's balances, and whether each board is settled.

Units: option amounts in options (1.0 = one option on one unit of the asset); spot, strikes
and premiums in quote units per option or in quote units; IVs, skews, deltas, fee
coefficients and call caps plain ratios; times in seconds (the same clock as the boards'
expiries). Greeks are the pool's book (options the pool is long count +): delta in base units,
gamma in base per quote, vega in quote per 1.0 of vol.

Shape:
    (W,) per world, (W, B) per world and board, (W, K) per world and strike,
    (W, K, 4) open interest by side: traders' long call, short call, long put, short put.
    Trades take flat arrays (M,) of world indices `w` (each world at most once per call),
    strike indices `k` and per-trade flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from sim.venues.options.bs import bs_price_greeks
from sim.venues.options.twin import TAU_MIN, VOL_MAX, VOL_MIN, WAD, OptionsParams, OptionsPool

YEAR = 31_536_000.0

# Open-interest slots (traders' side), as in `Strike`.
LONG_CALL, SHORT_CALL, LONG_PUT, SHORT_PUT = range(4)

# Refusal codes, in the contract's order of checks; REASONS maps them to its revert strings.
OK, NO_TRADE, EXPIRED, POSITION, STALE, IV, SKEW, STRIKE, DELTA, LIQUIDITY = range(10)
REASONS = {
    EXPIRED: "options: board expired",
    POSITION: "options: position too small",
    STALE: "options: stale oracle",
    IV: "options: iv out of bounds",
    SKEW: "options: skew out of bounds",
    STRIKE: "bs: strike out of range",
    DELTA: "options: delta out of range",
    LIQUIDITY: "options: insufficient free liquidity",
}
CODE_OF = {v: k for k, v in REASONS.items()}


_WAD_FIELDS = (
    "standard_size", "iv_impact", "skew_impact", "option_price_fee", "spot_price_fee",
    "vega_fee", "min_delta", "max_delta",
)  # fmt: skip
"""Parameters the contract keeps in wad."""
_IV_BOUNDS = ("min_base_iv", "max_base_iv", "min_skew", "max_skew")
"""Wad bounds the contract's owner sets after deployment (constructor: the defaults)."""


@dataclass(frozen=True)
class VecOptionsParams:
    """`OptionsParams` plus the IV bounds, in float units (wad / 1e18; seconds stay seconds).

    Attributes:
        max_oracle_delay: oldest accepted oracle answer, seconds.
        standard_size: trade size that moves IVs by one impact, options.
        iv_impact: base IV move per standard size.
        skew_impact: skew move per standard size.
        option_price_fee: fee per unit of option value.
        spot_price_fee: fee per unit of spot per option.
        vega_fee: vega-utilisation fee coefficient, quote per option.
        min_delta, max_delta: call-delta bounds to open at.
        trading_cutoff: no trading within this many seconds of expiry.
        min_base_iv, max_base_iv, min_skew, max_skew: IV bounds after a trade.
    """

    max_oracle_delay: float = 3_600.0
    standard_size: float = 5.0
    iv_impact: float = 0.01
    skew_impact: float = 0.0075
    option_price_fee: float = 0.01
    spot_price_fee: float = 0.001
    vega_fee: float = 1_000.0
    min_delta: float = 0.08
    max_delta: float = 0.92
    trading_cutoff: float = 21_600.0
    min_base_iv: float = 0.05
    max_base_iv: float = 2.5
    min_skew: float = 0.5
    max_skew: float = 2.0

    @classmethod
    def from_pool(cls, pool: OptionsPool) -> VecOptionsParams:
        """The float parameters of an integer twin's current settings."""
        return cls._from_wad(pool, _WAD_FIELDS + _IV_BOUNDS)

    @classmethod
    def from_int(cls, p: OptionsParams) -> VecOptionsParams:
        """The float parameters of constructor parameters (default IV bounds)."""
        return cls._from_wad(p, _WAD_FIELDS)

    @classmethod
    def _from_wad(cls, src, wad_fields: tuple[str, ...]) -> VecOptionsParams:
        """Seconds as they are, every field in `wad_fields` from wad to float."""
        return cls(
            max_oracle_delay=float(src.max_oracle_delay),
            trading_cutoff=float(src.trading_cutoff),
            **{f: getattr(src, f) / float(WAD) for f in wad_fields},
        )


class Pricing(NamedTuple):
    """`_pricing` for M trades: premium and fee (quote), base = BS value x amount (quote),
    post-trade IVs, the call delta at the trade IV and the refusal code (OK, IV, SKEW or
    STRIKE). Shapes (M,)."""

    premium: np.ndarray
    fee: np.ndarray
    base: np.ndarray
    new_base_iv: np.ndarray
    new_skew: np.ndarray
    call_delta: np.ndarray
    code: np.ndarray


class TradeResult(NamedTuple):
    """What `trade` did, (M,) each: ok, refusal code, premium and fee (quote), base (the
    fee-free value, quote) and flow (paid by the trader into the pool, collateral included)."""

    ok: np.ndarray
    code: np.ndarray
    premium: np.ndarray
    fee: np.ndarray
    base: np.ndarray
    flow: np.ndarray


def call_payoff(spot, strike, cap_k):
    """Capped call payoff per option: min(max(S - K, 0), callCap K). Broadcasts."""
    return np.minimum(np.maximum(spot - strike, 0.0), cap_k)


def put_payoff(spot, strike):
    """Put payoff per option: max(K - S, 0). Broadcasts."""
    return np.maximum(strike - spot, 0.0)


def mark(spot, strike, tau, vol, cap_k) -> dict[str, np.ndarray]:
    """`OptionsPool._mark`: capped call value, put value (by parity, floored at 0), call
    delta, gamma, vega and theta (the call's = the put's at rate 0), never refusing: payoffs (and delta 1 or 0) where tau < TAU_MIN or
    the strike is outside [spot / 5, 5 spot]; vol clipped to [VOL_MIN, VOL_MAX]. Broadcasts.
    """
    spot, strike, tau, vol, cap_k = np.broadcast_arrays(spot, strike, tau, vol, cap_k)
    dead = (tau < TAU_MIN) | (strike * 5.0 < spot) | (strike > 5.0 * spot)
    v = np.clip(vol, VOL_MIN / WAD, VOL_MAX / WAD)
    g = bs_price_greeks(spot, strike, np.where(dead, 1.0, tau) / YEAR, v, 0.0, True)
    price = np.maximum(g["price"], 0.0)
    put = np.maximum(price + strike - spot, 0.0)
    return {
        "call": np.where(dead, call_payoff(spot, strike, cap_k), np.minimum(price, cap_k)),
        "put": np.where(dead, put_payoff(spot, strike), put),
        "delta": np.where(dead, (spot > strike).astype(float), g["delta"]),
        "gamma": np.where(dead, 0.0, g["gamma"]),
        "vega": np.where(dead, 0.0, g["vega"]),
        "theta": np.where(dead, 0.0, g["theta"]),
    }


class OptionsPoolVec:
    """One options pool per world; boards and strikes shared (see the module docstring).

    Args:
        n: worlds.
        expiry: (B,) board expiries, seconds.
        call_cap: (B,) call caps (a call pays at most call_cap x strike).
        base_iv: (B,) initial base IVs.
        strike: (K,) strikes, quote per base.
        board: (K,) board index of each strike.
        skew: (K,) initial skews.
        params: pricing parameters.
        liquidity: LP deposit at the start, quote units (the pool's balance).
    """

    def __init__(
        self,
        n: int,
        expiry,
        call_cap,
        base_iv,
        strike,
        board,
        skew,
        params: VecOptionsParams | None = None,
        liquidity: float = 0.0,
    ):
        self.n = n
        self.p = params or VecOptionsParams()
        self.expiry = np.asarray(expiry, dtype=float)
        self.call_cap = np.asarray(call_cap, dtype=float)
        self.strike = np.asarray(strike, dtype=float)
        self.board = np.asarray(board, dtype=np.int64)
        self.cap_k = self.call_cap[self.board] * self.strike
        self.k_expiry = self.expiry[self.board]
        nb, nk = self.expiry.shape[0], self.strike.shape[0]
        self.base_iv = np.tile(np.asarray(base_iv, dtype=float), (n, 1))
        self.skew = np.tile(np.asarray(skew, dtype=float), (n, 1))
        self.oi = np.zeros((n, nk, 4))
        self.pool_balance = np.full(n, float(liquidity))
        self.locked = np.zeros(n)
        self.trader_collateral = np.zeros(n)
        self.payout_reserve = np.zeros(n)
        self.hedge_capital = np.zeros(n)
        self.settled = np.zeros((n, nb), dtype=bool)
        self.settlement_spot = np.zeros((n, nb))

    # -- views ---------------------------------------------------------------------------

    def vol(self, w=None) -> np.ndarray:
        """IV of every strike, base IV x skew: (W, K), or (M, K) for world indices `w`."""
        if w is None:
            return self.base_iv[:, self.board] * self.skew
        return self.base_iv[w][:, self.board] * self.skew[w]

    def net(self, w=None) -> tuple[np.ndarray, np.ndarray]:
        """The pool's net (call, put) position per strike: traders' short minus traders' long
        (the pool is long what traders sold), (W, K) (or (M, K) for world indices `w`)."""
        oi = self.oi if w is None else self.oi[w]
        return oi[..., SHORT_CALL] - oi[..., LONG_CALL], oi[..., SHORT_PUT] - oi[..., LONG_PUT]

    def book(self, spot, now, w=None, by_board: bool = False) -> dict[str, np.ndarray]:
        """The pool's option book over live (unsettled) boards: `mark` (value), delta, gamma,
        vega, theta (quote per year), each (W,) (or (M,) for world indices `w`); spot and now
        broadcast likewise. `by_board`: each (W, B) instead, one column per board
        (`boardGreeks`)."""
        spot = np.asarray(spot, dtype=float)[..., None]
        now = np.asarray(now, dtype=float)[..., None]
        settled = self.settled if w is None else self.settled[w]
        live = ~settled[:, self.board]
        nc, npt = self.net(w)
        nc = np.where(live, nc, 0.0)
        npt = np.where(live, npt, 0.0)
        tau = np.maximum(self.k_expiry - now, 0.0)
        m = mark(spot, self.strike, tau, self.vol(w), self.cap_k)
        both = nc + npt
        per_strike = {
            "mark": nc * m["call"] + npt * m["put"],
            "delta": nc * m["delta"] + npt * (m["delta"] - 1.0),
            "gamma": both * m["gamma"],
            "vega": both * m["vega"],
            "theta": both * m["theta"],
        }
        if not by_board:
            return {k: np.sum(v, axis=-1) for k, v in per_strike.items()}
        boards = self.expiry.shape[0]
        return {
            k: np.stack([np.sum(v[..., self.board == b], axis=-1) for b in range(boards)], -1)
            for k, v in per_strike.items()
        }

    def nav(self, spot, now) -> np.ndarray:
        """`nav()`: balance + hedge capital + the live book at `spot`, floored at 0, (W,)."""
        v = self.pool_balance + self.hedge_capital + self.book(spot, now)["mark"]
        return np.maximum(v, 0.0)

    def utilisation(self) -> np.ndarray:
        """Locked collateral over (balance + hedge capital), (W,)."""
        assets = self.pool_balance + self.hedge_capital
        return np.where(assets > 0, self.locked / np.where(assets > 0, assets, 1.0), 0.0)

    def vol_at(self, w, k) -> np.ndarray:
        """IV of strike k[m] in world w[m], (M,)."""
        return self.base_iv[w, self.board[k]] * self.skew[w, k]

    def board_vega(self, w, b, spot, now) -> np.ndarray:
        """The pool's net vega on board `b[m]` of world `w[m]`, (M,) (`_board_greeks`[2]).

        Each distinct world's book is marked once (spot and now are a world's own, so equal
        for every entry of one world), however many entries name it.
        """
        spot = np.asarray(spot, dtype=float)
        now = np.asarray(now, dtype=float)
        uw, first, inv = np.unique(w, return_index=True, return_inverse=True)
        nc, npt = self.net(uw)
        tau = np.maximum(self.k_expiry - now[first, None], 0.0)
        m = mark(spot[first, None], self.strike, tau, self.vol(uw), self.cap_k)
        per_strike = (nc + npt) * m["vega"]  # (U, K)
        nb = self.expiry.shape[0]
        per_board = np.zeros((uw.shape[0], nb))
        for bi in range(nb):
            per_board[:, bi] = per_strike[:, self.board == bi].sum(axis=1)
        per_board = np.where(self.settled[uw], 0.0, per_board)
        return per_board[inv, b]

    # -- pricing and trading -------------------------------------------------------------

    def pricing(self, w, k, is_call, is_buy, amount, spot, now) -> Pricing:
        """`_pricing` for M trades (no state change); arrays (M,) each."""
        p = self.p
        w = np.asarray(w, dtype=np.int64)
        k = np.asarray(k, dtype=np.int64)
        is_call = np.asarray(is_call, dtype=bool)
        is_buy = np.asarray(is_buy, dtype=bool)
        amount = np.asarray(amount, dtype=float)
        spot = np.asarray(spot, dtype=float)
        now = np.asarray(now, dtype=float)
        b = self.board[k]
        iv_move = amount * p.iv_impact / p.standard_size
        skew_move = amount * p.skew_impact / p.standard_size
        iv0 = self.base_iv[w, b]
        sk0 = self.skew[w, k]
        sign = np.where(is_buy, 1.0, -1.0)
        iv1 = iv0 + sign * iv_move
        sk1 = sk0 + sign * skew_move
        bad_iv = (~is_buy & (iv_move > iv0)) | (iv1 < p.min_base_iv) | (iv1 > p.max_base_iv)
        bad_skew = (~is_buy & (skew_move > sk0)) | (sk1 < p.min_skew) | (sk1 > p.max_skew)
        strike = self.strike[k]
        bad_strike = (5.0 * strike < spot) | (strike > 5.0 * spot)
        code = np.select([bad_iv, bad_skew, bad_strike], [IV, SKEW, STRIKE], OK)
        good = code == OK
        vol = np.where(good, iv1 * sk1, 0.2)
        tau = self.expiry[b] - now
        live = good & (tau > 0)  # an expired board is refused before pricing matters
        g = bs_price_greeks(
            np.where(live, spot, strike),
            strike,
            np.where(live, tau, YEAR) / YEAR,
            vol,
            0.0,
            is_call,
        )
        price = np.maximum(g["price"], 0.0)
        price = np.where(is_call, np.minimum(price, self.cap_k[k]), price)
        delta = np.where(is_call, g["delta"], g["delta"] + 1.0)
        base = price * amount
        fee = p.option_price_fee * base + p.spot_price_fee * spot * amount
        pre = self.board_vega(w, b, spot, now)
        change = amount * g["vega"]
        post = pre - sign * change
        assets = self.pool_balance[w] + self.hedge_capital[w]
        grow = (np.abs(post) > np.abs(pre)) & (assets > 0)
        util = vol * np.abs(post) / np.where(assets > 0, assets, 1.0)
        fee = fee + np.where(grow, p.vega_fee * util * amount, 0.0)
        premium = np.where(is_buy, base + fee, np.maximum(base - fee, 0.0))
        z = np.zeros_like(amount)
        return Pricing(
            np.where(good, premium, z),
            np.where(good, fee, z),
            np.where(good, base, z),
            iv1,
            sk1,
            np.where(good, delta, z),
            code,
        )

    def trade(
        self, w, k, is_call, is_buy, is_open, amount, spot, now, fresh=None, position=None
    ) -> TradeResult:
        """`openPosition` / `closePosition` for M worlds at once (each world at most once).

        A trader buying opens a long or closes a short; `position` (M,) is the trader's
        current position on the side the trade changes (needed to close; ignored to open).
        `fresh` (M,) False refuses with STALE (the oracle answer is older than allowed).
        Worlds whose `amount` is not > 0 are left alone (code NO_TRADE). State changes only
        where ok.
        """
        p = self.p
        w = np.asarray(w, dtype=np.int64)
        k = np.asarray(k, dtype=np.int64)
        m = w.shape[0]
        is_call = np.broadcast_to(np.asarray(is_call, dtype=bool), (m,))
        is_buy = np.broadcast_to(np.asarray(is_buy, dtype=bool), (m,))
        is_open = np.broadcast_to(np.asarray(is_open, dtype=bool), (m,))
        amount = np.broadcast_to(np.asarray(amount, dtype=float), (m,))
        spot = np.broadcast_to(np.asarray(spot, dtype=float), (m,))
        now = np.broadcast_to(np.asarray(now, dtype=float), (m,))
        fresh = np.ones(m, dtype=bool) if fresh is None else np.broadcast_to(fresh, (m,))
        pos = np.zeros(m) if position is None else np.broadcast_to(position, (m,))
        b = self.board[k]
        asked = amount > 0
        expired = (now + p.trading_cutoff >= self.expiry[b]) | self.settled[w, b]
        small = ~is_open & (pos < amount)
        pr = self.pricing(w, k, is_call, is_buy, np.where(asked, amount, 0.0), spot, now)
        bad_delta = is_open & ((pr.call_delta < p.min_delta) | (pr.call_delta > p.max_delta))
        long_side = is_buy == is_open
        slot = np.where(long_side, LONG_CALL, SHORT_CALL) + np.where(is_call, 0, 2)
        per_option = np.where(is_call, self.cap_k[k], self.strike[k])
        old_oi = self.oi[w, k, slot]
        sign_oi = np.where(is_open, 1.0, -1.0)
        new_oi = old_oi + sign_oi * amount
        locked = self.locked[w] + np.where(long_side, (new_oi - old_oi) * per_option, 0.0)
        trader_lock = np.where(long_side, 0.0, sign_oi * amount * per_option)
        bal0 = self.pool_balance[w]
        bal = np.where(is_buy, bal0 + pr.premium, bal0 - pr.premium)
        short_of = (~is_buy & (bal0 < locked + pr.premium)) | (bal < locked)
        code = np.select(
            [~asked, expired, small, ~fresh, pr.code != OK, bad_delta, short_of],
            [NO_TRADE, EXPIRED, POSITION, STALE, pr.code, DELTA, LIQUIDITY],
            OK,
        )
        ok = code == OK
        wo, ko, bo = w[ok], k[ok], b[ok]
        self.pool_balance[wo] = bal[ok]
        self.locked[wo] = locked[ok]
        self.trader_collateral[wo] += trader_lock[ok]
        self.base_iv[wo, bo] = pr.new_base_iv[ok]
        self.skew[wo, ko] = pr.new_skew[ok]
        self.oi[wo, ko, slot[ok]] = new_oi[ok]
        z = np.zeros(m)
        premium = np.where(ok, pr.premium, z)
        flow = np.where(ok, trader_lock + np.where(is_buy, premium, -premium), z)
        return TradeResult(
            ok, code, premium, np.where(ok, pr.fee, z), np.where(ok, pr.base, z), flow
        )

    def settle(self, bi: int, spot: np.ndarray, where: np.ndarray) -> dict[str, np.ndarray]:
        """`settleBoard(bi)` at `spot` (W,) in worlds `where` (unsettled, expired: the caller
        checks). Moves the payoffs traders' shorts owe into the balance, the payoffs owed to
        traders' longs out of it (into the payout reserve), frees the collateral.

        Returns:
            owed (to traders' longs), received (from traders' shorts), each (W,), and the
            per-option payoffs `call` and `put`, (W, K) (zero off the board or off `where`),
            and `on` (W, K), the strikes settled.
        """
        on = (self.board == bi)[None, :] & where[:, None]
        s = spot[:, None]
        cp = np.where(on, call_payoff(s, self.strike, self.cap_k), 0.0)
        pp = np.where(on, put_payoff(s, self.strike), 0.0)
        oi = self.oi
        owed = np.sum(oi[..., LONG_CALL] * cp + oi[..., LONG_PUT] * pp, axis=1)
        received = np.sum(oi[..., SHORT_CALL] * cp + oi[..., SHORT_PUT] * pp, axis=1)
        freed = np.sum(
            np.where(on, oi[..., LONG_CALL] * self.cap_k + oi[..., LONG_PUT] * self.strike, 0.0),
            axis=1,
        )
        self.locked -= freed
        self.pool_balance += received - owed
        self.payout_reserve += owed
        self.trader_collateral -= received
        self.settled[:, bi] |= where
        self.settlement_spot[:, bi] = np.where(where, spot, self.settlement_spot[:, bi])
        return {"owed": owed, "received": received, "call": cp, "put": pp, "on": on}

    def claim(
        self, pos: np.ndarray, call: np.ndarray, put: np.ndarray, on: np.ndarray
    ) -> np.ndarray:
        """`claim` of a holder's positions `pos` (W, K, 4) on the strikes `on` (W, K) just
        settled, with the per-option payoffs `call`, `put` (W, K) that `settle` returned.
        Pays longs their payoff (from the payout reserve) and shorts their collateral less
        the payoff (from the traders' collateral); returns the amount paid, (W,). The caller
        clears the claimed positions."""
        pos = np.where(on[..., None], pos, 0.0)
        to_longs = np.sum(pos[..., LONG_CALL] * call + pos[..., LONG_PUT] * put, axis=-1)
        to_shorts = np.sum(
            pos[..., SHORT_CALL] * (self.cap_k - call) + pos[..., SHORT_PUT] * (self.strike - put),
            axis=-1,
        )
        self.payout_reserve -= to_longs
        self.trader_collateral -= to_shorts
        return to_longs + to_shorts

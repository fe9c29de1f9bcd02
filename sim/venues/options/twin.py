"""Exact integer twin of `contracts/OptionsPool.vy`, the Lyra-style options AMM.

`OptionsPool` mirrors the contract's storage and every external function: the same integer
maths (Black–Scholes through `sim.venues.options.bs.bs_greeks_int`, the contract's module to the
wei), the same order of checks and the same revert strings, raised as `sim.errors.Revert`.
A call that reverts raises before it changes any state. The contract's notice is the
specification (pricing, fees, collateral, NAV, settlement); this module repeats only what a
caller needs.

Units: option amounts are wad (1e18 = one option on one unit of the asset); spot, strikes
and option prices wad quote per unit; IVs, skews, deltas, fee coefficients and call caps wad
ratios; token amounts (premiums, fees, collateral, NAV) quote-token base units; shares share
wei; times seconds. Greeks: delta wad asset units, gamma wad per quote unit of spot, vega wad
quote per 1.0 of vol, all of the pool's book (long options count +).

The twin holds no wallets: functions return what moves between the caller and the pool,
and `token_balance` is the pool's own balance of the quote token (what `balanceOf(pool)`
reads on chain when nobody donates).

Why it is long: it is one contract, function for function in the contract's order, so that a
reader checks the twin against `OptionsPool.vy` side by side; splitting it would separate
checks the contract keeps together.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import NamedTuple

from sim.errors import Revert
from sim.venues.options.bs import _sdiv, bs_greeks_int
from sim.venues.pricefeed.twin import PriceFeed

WAD = 10**18
BPS = 10_000
MAX_STRIKES = 8
MAX_BOARDS = 8
TAU_MIN = 3_600
TAU_MAX = 63_072_000
VOL_MIN = 10**16
VOL_MAX = 5 * 10**18
MAX_ORACLE_DELAY = 86_400
MAX_TRADING_CUTOFF = 30 * 86_400
MAX_SIZE = 10**30
MAX_OPTION_PRICE_FEE = 2 * 10**17
MAX_SPOT_PRICE_FEE = 5 * 10**16
MAX_VEGA_FEE = 10**24
MIN_CALL_CAP = 10**17
MAX_CALL_CAP = 100 * WAD
DEFAULT_CALL_CAP = 4 * WAD
"""Suggested `call_cap` for `add_board`: a call pays at most 4 strikes (spot = 5 strikes)."""
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class OptionsParams:
    """Constructor parameters of `OptionsPool` (units and bounds as in the contract).

    Attributes:
        max_oracle_delay: oldest accepted oracle answer, seconds, 1..86_400.
        standard_size: trade size that moves IVs by one impact, wad options.
        iv_impact: base IV move per standard size, wad vol, <= 1e18.
        skew_impact: skew move per standard size, wad ratio, <= 1e18.
        option_price_fee: fee per unit of option value, wad, <= 0.2e18.
        spot_price_fee: fee per unit of spot per option, wad, <= 0.05e18.
        vega_fee: vega-utilisation fee coefficient, wad quote per option, <= 1e24.
        min_delta: lowest call delta to open at, wad.
        max_delta: highest call delta to open at, wad.
        trading_cutoff: no trading within this many seconds of expiry, 3_600..2_592_000.
    """

    max_oracle_delay: int = 3_600
    standard_size: int = 5 * WAD
    iv_impact: int = 10**16
    skew_impact: int = 75 * 10**14
    option_price_fee: int = 10**16
    spot_price_fee: int = 10**15
    vega_fee: int = 1_000 * WAD
    min_delta: int = 8 * 10**16
    max_delta: int = 92 * 10**16
    trading_cutoff: int = 21_600

    def constructor_args(self) -> list[int]:
        """The contract's constructor arguments after `quote_token` and `feed`."""
        return [getattr(self, f.name) for f in fields(self)]


@dataclass
class Board:
    """One board: expiry (s), base IV (wad), call cap (wad), flags, settlement spot, strikes."""

    expiry: int = 0
    base_iv: int = 0
    call_cap: int = 0
    frozen: bool = False
    settled: bool = False
    settlement_spot: int = 0
    strike_ids: list[int] = field(default_factory=list)


@dataclass
class Strike:
    """One strike: its board, strike (wad), skew (wad) and traders' open interest (wad)."""

    board_id: int = 0
    strike: int = 0
    skew: int = 0
    long_call: int = 0
    short_call: int = 0
    long_put: int = 0
    short_put: int = 0


@dataclass
class Position:
    """A trader's long/short call/put amounts on one strike, wad options."""

    long_call: int = 0
    short_call: int = 0
    long_put: int = 0
    short_put: int = 0

    def is_empty(self) -> bool:
        return self.long_call + self.short_call + self.long_put + self.short_put == 0


class Pricing(NamedTuple):
    """What `_pricing` returns: premium and fee (quote base units), post-trade IVs (wad) and
    the strike's call delta at the trade IV (signed wad)."""

    premium: int
    fee: int
    new_base_iv: int
    new_skew: int
    call_delta: int


class PoolState(NamedTuple):
    """`poolState()`: the pool's accounting, quote base units and share wei."""

    pool_balance: int
    locked_collateral: int
    trader_collateral: int
    payout_reserve: int
    hedge_capital: int
    total_supply: int


def call_payoff(spot: int, strike: int, cap_k: int) -> int:
    """Capped call payoff per option, wad: min(max(S - K, 0), callCap * K)."""
    return 0 if spot <= strike else min(spot - strike, cap_k)


def put_payoff(spot: int, strike: int) -> int:
    """Put payoff per option, wad: max(K - S, 0)."""
    return 0 if strike <= spot else strike - spot


class OptionsPool:
    """State and functions of one deployed `OptionsPool`, to the wei.

    Every mutating method takes the caller (`sender`, an address string) and the block
    timestamp (`now`, seconds); views take `now`. The oracle is the `PriceFeed` twin given at
    construction, read at call time.

    Args:
        feed: the price feed twin (its `decimals` sets the spot scale).
        params: constructor parameters.
        owner: the deployer's address.
        quote_decimals: decimals of the quote token (6 for USDC).
    """

    def __init__(
        self,
        feed: PriceFeed,
        params: OptionsParams | None = None,
        owner: str = "owner",
        quote_decimals: int = 6,
    ):
        params = params or OptionsParams()
        if quote_decimals > 18 or feed.decimals > 18:
            raise Revert("options: too many decimals")
        self.feed = feed
        self.quote_scale = 10 ** (18 - quote_decimals)
        self.feed_scale = 10 ** (18 - feed.decimals)
        self.owner = owner
        self.hedger = ZERO_ADDRESS
        self.next_board_id = 1
        self.next_strike_id = 1
        self.pool_balance = 0
        self.locked_collateral = 0
        self.trader_collateral = 0
        self.payout_reserve = 0
        self.hedge_capital = 0
        self.total_supply = 0
        self.balances: dict[str, int] = {}
        self.boards: dict[int, Board] = {}
        self.strikes: dict[int, Strike] = {}
        self.positions: dict[tuple[str, int], Position] = {}
        self.live_board_ids: list[int] = []
        self.token_balance = 0
        self._set_oracle_delay(params.max_oracle_delay)
        self._set_impact(params.standard_size, params.iv_impact, params.skew_impact)
        self._set_fees(params.option_price_fee, params.spot_price_fee, params.vega_fee)
        self._set_delta_bounds(params.min_delta, params.max_delta)
        self._set_trading_cutoff(params.trading_cutoff)
        self._set_iv_bounds(5 * 10**16, 25 * 10**17, 5 * 10**17, 2 * WAD)
        self._set_max_hedge(5_000)

    def copy(self) -> OptionsPool:
        """An independent copy sharing the feed (for what-if pricing)."""
        feed = self.feed
        self.feed = None  # type: ignore[assignment]
        try:
            out = copy.deepcopy(self)
        finally:
            self.feed = feed
        out.feed = feed
        return out

    # -- liquidity providers -------------------------------------------------------------

    def deposit(self, sender: str, amount: int, now: int) -> int:
        """`deposit(amount)`: returns the shares minted (the caller pays `amount`)."""
        if amount <= 0:
            raise Revert("options: zero amount")
        supply = self.total_supply
        shares = amount * self.quote_scale
        if supply > 0:
            nav = self._nav(now)
            if nav <= 0:
                raise Revert("options: zero nav")
            shares = amount * supply // nav
        if shares <= 0:
            raise Revert("options: zero shares")
        self.total_supply = supply + shares
        self.balances[sender] = self.balance_of(sender) + shares
        self.pool_balance += amount
        self.token_balance += amount
        return shares

    def withdraw(self, sender: str, shares: int, now: int) -> int:
        """`withdraw(shares)`: returns the quote base units paid to the caller."""
        if shares <= 0:
            raise Revert("options: zero shares")
        if self.balance_of(sender) < shares:
            raise Revert("options: insufficient shares")
        supply = self.total_supply
        nav = self._nav(now)
        amount = shares * nav // supply
        if amount <= 0:
            raise Revert("options: zero amount")
        if self.pool_balance < self.locked_collateral + amount:
            raise Revert("options: withdrawal exceeds free liquidity")
        self.pool_balance -= amount
        self.total_supply = supply - shares
        self.balances[sender] -= shares
        self.token_balance -= amount
        return amount

    # -- traders -------------------------------------------------------------------------

    def open_position(
        self,
        sender: str,
        strike_id: int,
        is_call: bool,
        is_long: bool,
        amount: int,
        limit_premium: int,
        deadline: int,
        now: int,
    ) -> tuple[int, int]:
        """`openPosition(...)`: returns (premium, flow), flow > 0 paid by the trader."""
        return self._trade(
            sender, strike_id, is_call, is_long, True, amount, limit_premium, deadline, now
        )

    def close_position(
        self,
        sender: str,
        strike_id: int,
        is_call: bool,
        is_long: bool,
        amount: int,
        limit_premium: int,
        deadline: int,
        now: int,
    ) -> tuple[int, int]:
        """`closePosition(...)`: returns (premium, flow), flow > 0 paid by the trader."""
        return self._trade(
            sender, strike_id, is_call, not is_long, False, amount, limit_premium, deadline, now
        )

    def settle_board(self, sender: str, board_id: int, now: int) -> None:
        """`settleBoard(board_id)` (anyone)."""
        board = self.boards.get(board_id)
        if board is None or board.expiry == 0:
            raise Revert("options: unknown board")
        if board.settled:
            raise Revert("options: board settled")
        if now < board.expiry:
            raise Revert("options: board not expired")
        spot = self._spot(now)
        owed = received = freed = 0
        for sid in board.strike_ids:
            s = self.strikes[sid]
            cap_k = board.call_cap * s.strike // WAD
            cp = call_payoff(spot, s.strike, cap_k)
            pp = put_payoff(spot, s.strike)
            owed += self._ceil_quote(s.long_call * cp) + self._ceil_quote(s.long_put * pp)
            received += self._floor_quote(s.short_call * cp) + self._floor_quote(s.short_put * pp)
            freed += self._ceil_quote(s.long_call * cap_k) + self._ceil_quote(s.long_put * s.strike)
        self.locked_collateral -= freed
        self.pool_balance = self.pool_balance + received - owed
        self.payout_reserve += owed
        self.trader_collateral -= received
        board.settled = True
        board.settlement_spot = spot
        live = self.live_board_ids
        i = live.index(board_id)
        live[i] = live[-1]
        live.pop()

    def claim(self, sender: str, strike_id: int, now: int) -> int:
        """`claim(strike_id)`: returns the quote base units paid to the caller."""
        s = self.strikes.get(strike_id)
        if s is None:
            raise Revert("options: unknown strike")
        board = self.boards[s.board_id]
        if not board.settled:
            raise Revert("options: board not settled")
        p = self.position(sender, strike_id)
        if p.is_empty():
            raise Revert("options: nothing to claim")
        cap_k = board.call_cap * s.strike // WAD
        cp = call_payoff(board.settlement_spot, s.strike, cap_k)
        pp = put_payoff(board.settlement_spot, s.strike)
        to_longs = self._floor_quote(p.long_call * cp) + self._floor_quote(p.long_put * pp)
        to_shorts = (
            self._ceil_quote(p.short_call * cap_k)
            - self._ceil_quote(p.short_call * cp)
            + self._ceil_quote(p.short_put * s.strike)
            - self._ceil_quote(p.short_put * pp)
        )
        self.payout_reserve -= to_longs
        self.trader_collateral -= to_shorts
        self.positions.pop((sender, strike_id), None)
        amount = to_longs + to_shorts
        self.token_balance -= amount
        return amount

    # -- hedger --------------------------------------------------------------------------

    def withdraw_for_hedge(self, sender: str, amount: int, now: int) -> None:
        """`withdrawForHedge(amount)` (hedger only)."""
        if sender != self.hedger:
            raise Revert("options: not hedger")
        if amount <= 0:
            raise Revert("options: zero amount")
        if self.pool_balance < self.locked_collateral + amount:
            raise Revert("options: insufficient free liquidity")
        hedge = self.hedge_capital + amount
        if hedge * BPS > (self.pool_balance + self.hedge_capital) * self.max_hedge_bps:
            raise Revert("options: hedge cap exceeded")
        self.pool_balance -= amount
        self.hedge_capital = hedge
        self.token_balance -= amount

    def return_from_hedge(self, sender: str, amount: int, now: int) -> None:
        """`returnFromHedge(amount)` (hedger only; the hedger pays `amount`)."""
        if sender != self.hedger:
            raise Revert("options: not hedger")
        if amount <= 0:
            raise Revert("options: zero amount")
        self.hedge_capital -= min(amount, self.hedge_capital)
        self.pool_balance += amount
        self.token_balance += amount

    # -- owner ---------------------------------------------------------------------------

    def add_board(self, sender: str, expiry: int, base_iv: int, call_cap: int, now: int) -> int:
        """`addBoard(expiry, base_iv, call_cap)`: returns the board id."""
        self._only_owner(sender)
        if expiry <= now + self.trading_cutoff or expiry > now + TAU_MAX:
            raise Revert("options: bad expiry")
        if not self.min_base_iv <= base_iv <= self.max_base_iv:
            raise Revert("options: iv out of bounds")
        if not MIN_CALL_CAP <= call_cap <= MAX_CALL_CAP:
            raise Revert("options: bad call cap")
        if len(self.live_board_ids) >= MAX_BOARDS:
            raise Revert("options: too many boards")
        board_id = self.next_board_id
        self.next_board_id += 1
        self.boards[board_id] = Board(expiry=expiry, base_iv=base_iv, call_cap=call_cap)
        self.live_board_ids.append(board_id)
        return board_id

    def add_strike(self, sender: str, board_id: int, strike: int, skew: int, now: int) -> int:
        """`addStrike(board_id, strike, skew)`: returns the strike id."""
        self._only_owner(sender)
        board = self.boards.get(board_id)
        if board is None:
            raise Revert("options: unknown board")
        if now + self.trading_cutoff >= board.expiry:
            raise Revert("options: board expired")
        if not 10**12 <= strike <= MAX_SIZE:
            raise Revert("options: bad strike")
        if not self.min_skew <= skew <= self.max_skew:
            raise Revert("options: skew out of bounds")
        if len(board.strike_ids) >= MAX_STRIKES:
            raise Revert("options: too many strikes")
        strike_id = self.next_strike_id
        self.next_strike_id += 1
        self.strikes[strike_id] = Strike(board_id=board_id, strike=strike, skew=skew)
        board.strike_ids.append(strike_id)
        return strike_id

    def set_hedger(self, sender: str, new_hedger: str) -> None:
        """`setHedger(new_hedger)`."""
        self._only_owner(sender)
        self.hedger = new_hedger

    def set_iv_bounds(
        self, sender: str, min_base_iv: int, max_base_iv: int, min_skew: int, max_skew: int
    ) -> None:
        self._only_owner(sender)
        self._set_iv_bounds(min_base_iv, max_base_iv, min_skew, max_skew)

    # -- views ---------------------------------------------------------------------------

    def balance_of(self, holder: str) -> int:
        """Shares of `holder`, share wei."""
        return self.balances.get(holder, 0)

    def position(self, trader: str, strike_id: int) -> Position:
        """`positions(trader, strike_id)` (a copy)."""
        return copy.copy(self.positions.get((trader, strike_id), Position()))

    def pool_state(self) -> PoolState:
        """`poolState()`."""
        return PoolState(
            self.pool_balance,
            self.locked_collateral,
            self.trader_collateral,
            self.payout_reserve,
            self.hedge_capital,
            self.total_supply,
        )

    def nav(self, now: int) -> int:
        """`nav()`: net asset value, quote base units."""
        return self._nav(now)

    def utilisation(self) -> int:
        """`utilisation()`: locked / (poolBalance + hedgeCapital), wad."""
        assets = self.pool_balance + self.hedge_capital
        return 0 if assets == 0 else self.locked_collateral * WAD // assets

    def spot_price(self, now: int) -> int:
        """`spotPrice()`: oracle spot, wad."""
        return self._spot(now)

    def quote(
        self, strike_id: int, is_call: bool, is_buy: bool, amount: int, now: int
    ) -> tuple[int, int]:
        """`quote(...)`: (premium, fee) in quote base units, as a trade would price it."""
        if amount <= 0:
            raise Revert("options: zero amount")
        s = self.strikes.get(strike_id)
        if s is None:
            raise Revert("options: unknown strike")
        board = self.boards[s.board_id]
        self._check_board(board, now)
        p = self._pricing(s, board, is_call, is_buy, amount, self._spot(now), now)
        return p.premium, p.fee

    def board_greeks(self, board_id: int, now: int) -> tuple[int, int, int, int]:
        """`boardGreeks(board_id)`: the pool's net (delta, gamma, vega, theta) on one board
        (theta wad quote per year of calendar time)."""
        if board_id not in self.boards:
            raise Revert("options: unknown board")
        return self._board_greeks(board_id, self._spot(now), now)

    def total_greeks(self, now: int) -> tuple[int, int, int, int]:
        """`totalGreeks()`: the pool's net (delta, gamma, vega, theta) over live boards."""
        spot = self._spot(now)
        out = [0, 0, 0, 0]
        for bid in self.live_board_ids:
            for i, g in enumerate(self._board_greeks(bid, spot, now)):
                out[i] += g
        return out[0], out[1], out[2], out[3]

    # -- internals -----------------------------------------------------------------------

    def _trade(
        self,
        trader: str,
        strike_id: int,
        is_call: bool,
        is_buy: bool,
        is_open: bool,
        amount: int,
        limit_premium: int,
        deadline: int,
        now: int,
    ) -> tuple[int, int]:
        if now > deadline:
            raise Revert("options: deadline passed")
        if amount <= 0:
            raise Revert("options: zero amount")
        s = self.strikes.get(strike_id)
        if s is None:
            raise Revert("options: unknown strike")
        board = self.boards[s.board_id]
        self._check_board(board, now)
        pos = self.position(trader, strike_id)
        is_long_side = is_buy == is_open
        attr = ("long_" if is_long_side else "short_") + ("call" if is_call else "put")
        old_pos = getattr(pos, attr)
        if not is_open and old_pos < amount:
            raise Revert("options: position too small")
        p = self._pricing(s, board, is_call, is_buy, amount, self._spot(now), now)
        if is_open and not self.min_delta <= p.call_delta <= self.max_delta:
            raise Revert("options: delta out of range")
        if is_buy and p.premium > limit_premium:
            raise Revert("options: premium above limit")
        if not is_buy and p.premium < limit_premium:
            raise Revert("options: premium below limit")

        per_option = board.call_cap * s.strike // WAD if is_call else s.strike
        old_oi = getattr(s, attr)
        new_oi = old_oi + amount if is_open else old_oi - amount
        new_pos = old_pos + amount if is_open else old_pos - amount
        locked = self.locked_collateral
        trader_lock = 0
        if is_long_side:
            locked = (
                locked
                - self._ceil_quote(old_oi * per_option)
                + self._ceil_quote(new_oi * per_option)
            )
        else:
            trader_lock = self._ceil_quote(new_pos * per_option) - self._ceil_quote(
                old_pos * per_option
            )
        balance = self.pool_balance
        if is_buy:
            balance += p.premium
        else:
            if balance < locked + p.premium:
                raise Revert("options: insufficient free liquidity")
            balance -= p.premium
        if balance < locked:
            raise Revert("options: insufficient free liquidity")

        self.pool_balance = balance
        self.locked_collateral = locked
        self.trader_collateral += trader_lock
        board.base_iv = p.new_base_iv
        s.skew = p.new_skew
        setattr(s, attr, new_oi)
        setattr(pos, attr, new_pos)
        self.positions[(trader, strike_id)] = pos
        flow = trader_lock + (p.premium if is_buy else -p.premium)
        self.token_balance += flow
        return p.premium, flow

    def _check_board(self, board: Board, now: int) -> None:
        if board.frozen:
            raise Revert("options: board frozen")
        if now + self.trading_cutoff >= board.expiry:
            raise Revert("options: board expired")

    def _pricing(
        self,
        s: Strike,
        board: Board,
        is_call: bool,
        is_buy: bool,
        amount: int,
        spot: int,
        now: int,
    ) -> Pricing:
        iv_move = amount * self.iv_impact // self.standard_size
        skew_move = amount * self.skew_impact // self.standard_size
        base_iv, skew = board.base_iv, s.skew
        if is_buy:
            base_iv += iv_move
            skew += skew_move
        else:
            if iv_move > base_iv:
                raise Revert("options: iv out of bounds")
            if skew_move > skew:
                raise Revert("options: skew out of bounds")
            base_iv -= iv_move
            skew -= skew_move
        if not self.min_base_iv <= base_iv <= self.max_base_iv:
            raise Revert("options: iv out of bounds")
        if not self.min_skew <= skew <= self.max_skew:
            raise Revert("options: skew out of bounds")
        vol = base_iv * skew // WAD
        tau = board.expiry - now
        g = bs_greeks_int(spot, s.strike, tau, vol, 0, is_call)
        price, delta, vega = g.price, g.delta, g.vega
        if is_call:
            price = min(price, board.call_cap * s.strike // WAD)
        else:
            delta += WAD
        base = price * amount // WAD
        fee = (
            self.option_price_fee * base // WAD + self.spot_price_fee * spot // WAD * amount // WAD
        )
        pre = self._board_greeks(s.board_id, spot, now)[2]
        change = amount * vega // WAD
        post = pre - change if is_buy else pre + change
        assets = (self.pool_balance + self.hedge_capital) * self.quote_scale
        if abs(post) > abs(pre) and assets > 0:
            util = vol * abs(post) // assets
            fee += self.vega_fee * util // WAD * amount // WAD
        if is_buy:
            premium = self._ceil_quote((base + fee) * WAD)
        elif base > fee:
            premium = self._floor_quote((base - fee) * WAD)
        else:
            premium = 0
        return Pricing(premium, self._floor_quote(fee * WAD), base_iv, skew, delta)

    def _board_greeks(self, board_id: int, spot: int, now: int) -> tuple[int, int, int, int]:
        board = self.boards[board_id]
        tau = board.expiry - now if board.expiry > now else 0
        if board.settled:
            return 0, 0, 0, 0
        delta = gamma = vega = theta = 0
        for sid in board.strike_ids:
            s = self.strikes[sid]
            net_call = s.short_call - s.long_call
            net_put = s.short_put - s.long_put
            if net_call == 0 and net_put == 0:
                continue
            _, _, cd, gm, vg, minus_theta = self._mark(
                spot, s.strike, tau, board.base_iv * s.skew // WAD, board.call_cap
            )
            delta += _sdiv(net_call * cd + net_put * (cd - WAD), WAD)
            gamma += _sdiv((net_call + net_put) * gm, WAD)
            vega += _sdiv((net_call + net_put) * vg, WAD)
            theta -= _sdiv((net_call + net_put) * minus_theta, WAD)
        return delta, gamma, vega, theta

    @staticmethod
    def _mark(
        spot: int, strike: int, tau: int, vol: int, call_cap: int
    ) -> tuple[int, int, int, int, int, int]:
        """(call value capped, put value, call delta, gamma, vega, -theta), never reverting;
        theta at rate 0 is never positive (and equal for the call and the put)."""
        cap_k = call_cap * strike // WAD
        if tau < TAU_MIN or strike * 5 < spot or strike > 5 * spot:
            cd = WAD if spot > strike else 0
            return call_payoff(spot, strike, cap_k), put_payoff(spot, strike), cd, 0, 0, 0
        v = min(max(vol, VOL_MIN), VOL_MAX)
        g = bs_greeks_int(spot, strike, tau, v, 0, True)
        put = g.price + strike - spot if g.price + strike > spot else 0
        return min(g.price, cap_k), put, g.delta, g.gamma, g.vega, -g.theta

    def _nav(self, now: int) -> int:
        nav = (self.pool_balance + self.hedge_capital) * self.quote_scale
        spot = 0
        for bid in self.live_board_ids:
            board = self.boards[bid]
            tau = board.expiry - now if board.expiry > now else 0
            for sid in board.strike_ids:
                s = self.strikes[sid]
                net_call = s.short_call - s.long_call
                net_put = s.short_put - s.long_put
                if net_call == 0 and net_put == 0:
                    continue
                if spot == 0:
                    spot = self._spot(now)
                cv, pv, *_ = self._mark(
                    spot, s.strike, tau, board.base_iv * s.skew // WAD, board.call_cap
                )
                nav += _sdiv(net_call * cv + net_put * pv, WAD)
        return 0 if nav <= 0 else nav // self.quote_scale

    def _spot(self, now: int) -> int:
        rd = self.feed.latest_round_data()
        if rd.answer <= 0:
            raise Revert("options: invalid oracle answer")
        if rd.updated_at + self.max_oracle_delay < now:
            raise Revert("options: stale oracle")
        return rd.answer * self.feed_scale

    def _ceil_quote(self, x: int) -> int:
        d = WAD * self.quote_scale
        return (x + d - 1) // d

    def _floor_quote(self, x: int) -> int:
        return x // (WAD * self.quote_scale)

    def _only_owner(self, sender: str) -> None:
        if sender != self.owner:
            raise Revert("options: not owner")

    def _set_oracle_delay(self, max_oracle_delay: int) -> None:
        if not 0 < max_oracle_delay <= MAX_ORACLE_DELAY:
            raise Revert("options: bad oracle delay")
        self.max_oracle_delay = max_oracle_delay

    def _set_impact(self, standard_size: int, iv_impact: int, skew_impact: int) -> None:
        if not 0 < standard_size <= MAX_SIZE:
            raise Revert("options: bad standard size")
        if iv_impact > WAD or skew_impact > WAD:
            raise Revert("options: bad impact")
        self.standard_size = standard_size
        self.iv_impact = iv_impact
        self.skew_impact = skew_impact

    def _set_fees(self, option_price_fee: int, spot_price_fee: int, vega_fee: int) -> None:
        if (
            option_price_fee > MAX_OPTION_PRICE_FEE
            or spot_price_fee > MAX_SPOT_PRICE_FEE
            or vega_fee > MAX_VEGA_FEE
        ):
            raise Revert("options: fee too high")
        self.option_price_fee = option_price_fee
        self.spot_price_fee = spot_price_fee
        self.vega_fee = vega_fee

    def _set_delta_bounds(self, min_delta: int, max_delta: int) -> None:
        if not 0 < min_delta < max_delta < WAD:
            raise Revert("options: bad delta bounds")
        self.min_delta = min_delta
        self.max_delta = max_delta

    def _set_trading_cutoff(self, trading_cutoff: int) -> None:
        if not TAU_MIN <= trading_cutoff <= MAX_TRADING_CUTOFF:
            raise Revert("options: bad trading cutoff")
        self.trading_cutoff = trading_cutoff

    def _set_iv_bounds(self, min_base_iv: int, max_base_iv: int, min_skew: int, max_skew: int):
        if not (min_base_iv < max_base_iv and min_skew < max_skew):
            raise Revert("options: bad iv bounds")
        if max_base_iv > VOL_MAX or max_skew > 100 * WAD:
            raise Revert("options: bad iv bounds")
        if min_base_iv * min_skew // WAD < VOL_MIN or max_base_iv * max_skew // WAD > VOL_MAX:
            raise Revert("options: bad iv bounds")
        self.min_base_iv = min_base_iv
        self.max_base_iv = max_base_iv
        self.min_skew = min_skew
        self.max_skew = max_skew

    def _set_max_hedge(self, max_hedge_bps: int) -> None:
        if max_hedge_bps > BPS:
            raise Revert("options: bad hedge cap")
        self.max_hedge_bps = max_hedge_bps

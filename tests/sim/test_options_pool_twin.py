"""The options pool's integer twin (`sim.venues.options.twin`): hand-checked pricing, collateral and
settlement numbers, atomic reverts, and a Hypothesis state machine that keeps the pool solvent
(assets >= locked collateral, the token balance covers every claim, a deposit then an
immediate withdrawal never gains) under random trades, oracle moves, hedging and expiries.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sim.errors import Revert
from sim.venues.options.bs import bs_greeks_int
from sim.venues.options.twin import (
    DEFAULT_CALL_CAP,
    WAD,
    OptionsParams,
    OptionsPool,
    call_payoff,
    put_payoff,
)
from sim.venues.pricefeed.twin import PriceFeed

USDC = 10**6
DAY = 86_400
T0 = 1_700_000_000
OWNER, ALICE, BOB, KEEPER = "owner", "alice", "bob", "keeper"
STRIKES = (1_600, 1_800, 2_000, 2_200, 2_500, 3_000)
FAR = 2**255


def make_pool(params: OptionsParams | None = None, liquidity: int = 1_000_000 * USDC):
    feed = PriceFeed(8, "ETH / USD", OWNER, OWNER)
    feed.transmit(OWNER, 2_000 * 10**8, T0)
    pool = OptionsPool(feed, params, OWNER)
    pool.add_board(OWNER, T0 + 30 * DAY, 8 * 10**17, DEFAULT_CALL_CAP, T0)
    for k in STRIKES:
        pool.add_strike(OWNER, 1, k * WAD, WAD, T0)
    if liquidity:
        pool.deposit(OWNER, liquidity, T0)
    return pool, feed


def _ceil(x: int, d: int) -> int:
    return -(-x // d)


def test_premium_matches_the_formula():
    pool, _ = make_pool()
    amount = 3 * WAD
    p = OptionsParams()
    premium, fee = pool.quote(3, True, True, amount, T0)
    iv = 8 * 10**17 + amount * p.iv_impact // p.standard_size
    skew = WAD + amount * p.skew_impact // p.standard_size
    g = bs_greeks_int(2_000 * WAD, 2_000 * WAD, 30 * DAY, iv * skew // WAD, 0, True)
    base = g.price * amount // WAD
    # An empty book: the trade grows |net vega| from 0, so the vega fee applies.
    vega_post = amount * g.vega // WAD
    util = (iv * skew // WAD) * vega_post // (1_000_000 * USDC * 10**12)
    want_fee = (
        p.option_price_fee * base // WAD
        + p.spot_price_fee * 2_000 * WAD // WAD * amount // WAD
        + p.vega_fee * util // WAD * amount // WAD
    )
    assert premium == _ceil(base + want_fee, 10**12)
    assert fee == want_fee // 10**12
    # The trade moves the board's base IV and the strike's skew by Lyra's rule.
    pool.open_position(ALICE, 3, True, True, amount, premium, FAR, T0)
    assert pool.boards[1].base_iv == iv
    assert pool.strikes[3].skew == skew
    # The sale of the same options is priced lower, and at the lowered IV.
    sell, _ = pool.quote(3, True, False, amount, T0)
    assert sell < premium


def test_buy_then_sell_never_profits_the_trader():
    pool, _ = make_pool()
    for sid, is_call in ((2, False), (3, True), (4, True), (3, False)):
        paid, flow_in = pool.open_position(ALICE, sid, is_call, True, 2 * WAD, FAR, FAR, T0)
        got, flow_out = pool.close_position(ALICE, sid, is_call, True, 2 * WAD, 0, FAR, T0)
        assert got < paid and flow_in == paid and flow_out == -got
    assert pool.locked_collateral == 0 and pool.nav(T0) > 1_000_000 * USDC


def test_collateral_locks_and_settlement_pays():
    pool, feed = make_pool()
    pool.open_position(ALICE, 3, True, True, 2 * WAD, FAR, FAR, T0)  # pool short 2 calls
    pool.open_position(BOB, 2, False, False, 5 * WAD, 0, FAR, T0)  # bob short 5 puts 1800
    assert pool.locked_collateral == 2 * 4 * 2_000 * USDC
    assert pool.trader_collateral == 5 * 1_800 * USDC
    before = pool.pool_balance
    feed.transmit(OWNER, 1_700 * 10**8, T0 + 30 * DAY)
    with pytest.raises(Revert, match="board not expired"):
        pool.settle_board(BOB, 1, T0 + 30 * DAY - 1)
    pool.settle_board(BOB, 1, T0 + 30 * DAY)
    assert pool.locked_collateral == 0
    # Calls expire worthless; bob owes 5 * 100 to the pool.
    assert pool.pool_balance == before + 500 * USDC
    assert pool.claim(BOB, 2, 0) == 5 * 1_800 * USDC - 500 * USDC
    assert pool.claim(ALICE, 3, 0) == 0
    assert pool.trader_collateral == 0 and pool.payout_reserve == 0
    with pytest.raises(Revert, match="nothing to claim"):
        pool.claim(ALICE, 3, 0)


def test_call_payoff_is_capped():
    assert call_payoff(20_000 * WAD, 2_000 * WAD, 4 * 2_000 * WAD) == 8_000 * WAD
    assert call_payoff(2_500 * WAD, 2_000 * WAD, 8_000 * WAD) == 500 * WAD
    assert put_payoff(2_500 * WAD, 2_000 * WAD) == 0


def test_reverts_leave_state_unchanged():
    pool, feed = make_pool()
    before = pool.copy()
    cases = [
        (lambda: pool.open_position(ALICE, 3, True, True, WAD, 1, FAR, T0), "premium above"),
        (lambda: pool.open_position(ALICE, 3, True, True, WAD, FAR, T0 - 1, T0), "deadline"),
        (lambda: pool.open_position(ALICE, 6, True, True, WAD, FAR, FAR, T0), "delta out"),
        (lambda: pool.close_position(ALICE, 3, True, True, WAD, 0, FAR, T0), "too small"),
        (lambda: pool.open_position(ALICE, 3, True, True, 1_000 * WAD, FAR, FAR, T0), "iv out"),
        (lambda: pool.withdraw(OWNER, 2 * 10**24, T0), "insufficient shares"),
        (lambda: pool.open_position(ALICE, 3, True, True, WAD, FAR, FAR, T0 + 7200), "stale"),
    ]
    for call, reason in cases:
        with pytest.raises(Revert, match=reason):
            call()
    assert vars(pool) == vars(before) | {"feed": feed}


def test_greeks_are_the_pools_book():
    pool, _ = make_pool()
    pool.open_position(ALICE, 3, True, True, 2 * WAD, FAR, FAR, T0)
    delta, gamma, vega, theta = pool.board_greeks(1, T0)
    g = bs_greeks_int(
        2_000 * WAD,
        2_000 * WAD,
        30 * DAY,
        pool.boards[1].base_iv * pool.strikes[3].skew // WAD,
        0,
        True,
    )
    assert delta == -(2 * g.delta)
    assert gamma == -(2 * g.gamma) and vega == -(2 * g.vega)
    assert theta == -(2 * g.theta) > 0  # the pool sold calls: time decay is its income
    assert pool.total_greeks(T0) == (delta, gamma, vega, theta)


amounts = st.integers(1, 20).map(lambda n: n * WAD // 4)


class PoolMachine(RuleBasedStateMachine):
    """Random LP, trader, oracle, hedger and clock actions; the pool stays solvent."""

    @initialize()
    def setup(self):
        self.pool, self.feed = make_pool()
        self.pool.set_hedger(OWNER, KEEPER)
        self.now = T0
        self.board_expiry = {1: T0 + 30 * DAY}

    def _try(self, fn, *args):
        try:
            out = fn(*args)
        except Revert as err:
            event(f"{fn.__name__}: {err.reason}")
            return None
        event(f"{fn.__name__}: ok")
        return out

    @rule(who=st.sampled_from([ALICE, BOB]), amount=st.integers(1, 10**12))
    def deposit(self, who, amount):
        self._try(self.pool.deposit, who, amount, self.now)

    @rule(who=st.sampled_from([OWNER, ALICE, BOB]), frac=st.integers(1, 100))
    def withdraw(self, who, frac):
        shares = self.pool.balance_of(who) * frac // 100
        self._try(self.pool.withdraw, who, shares, self.now)

    @rule(
        who=st.sampled_from([ALICE, BOB]),
        i=st.integers(0, 40),
        is_call=st.booleans(),
        is_long=st.booleans(),
        amount=amounts,
        close=st.booleans(),
    )
    def trade(self, who, i, is_call, is_long, amount, close):
        sid = 1 + i % (self.pool.next_strike_id - 1)
        fn = self.pool.close_position if close else self.pool.open_position
        limit = 0 if (close == is_long) else FAR
        self._try(fn, who, sid, is_call, is_long, amount, limit, FAR, self.now)

    @rule(move=st.integers(-15, 15))
    def oracle(self, move):
        answer = self.feed.latest_answer() * (100 + move) // 100
        self.feed.transmit(OWNER, max(answer, 1), self.now)

    @rule(seconds=st.sampled_from([60, 3_600, DAY, 7 * DAY]))
    def wait(self, seconds):
        self.now += seconds

    @precondition(lambda self: self.pool.live_board_ids)
    @rule(move=st.integers(-30, 30))
    def expire(self, move):
        self.now = min(self.pool.boards[b].expiry for b in self.pool.live_board_ids) + 60
        self.oracle(move)

    @rule(days=st.integers(2, 60))
    def list_board(self, days):
        bid = self._try(
            self.pool.add_board,
            OWNER,
            self.now + days * DAY,
            6 * 10**17,
            DEFAULT_CALL_CAP,
            self.now,
        )
        if bid is not None:
            spot = self.feed.latest_answer() * 10**10
            for num in (9, 10, 11):
                self.pool.add_strike(OWNER, bid, spot * num // 10, WAD, self.now)

    @precondition(lambda self: self.pool.live_board_ids)
    @rule(i=st.integers(0, 7))
    def settle(self, i):
        live = self.pool.live_board_ids
        self._try(self.pool.settle_board, ALICE, live[i % len(live)], self.now)

    @rule(who=st.sampled_from([ALICE, BOB]), i=st.integers(0, 40))
    def claim(self, who, i):
        self._try(self.pool.claim, who, 1 + i % (self.pool.next_strike_id - 1), self.now)

    @rule()
    def claim_all(self):
        for (who, sid), pos in list(self.pool.positions.items()):
            if self.pool.boards[self.pool.strikes[sid].board_id].settled and not pos.is_empty():
                self._try(self.pool.claim, who, sid, self.now)

    @rule(amount=st.integers(1, 10**12), back=st.booleans())
    def hedge(self, amount, back):
        fn = self.pool.return_from_hedge if back else self.pool.withdraw_for_hedge
        self._try(fn, KEEPER, amount, self.now)

    @precondition(lambda self: self.pool.total_supply > 0)
    @rule(amount=st.integers(1, 10**12))
    def deposit_withdraw_never_gains(self, amount):
        trial = self.pool.copy()
        try:
            shares = trial.deposit(BOB, amount, self.now)
            out = trial.withdraw(BOB, shares, self.now)
        except Revert:
            return
        assert out <= amount

    @invariant()
    def solvent(self):
        p = self.pool
        assert p.pool_balance >= p.locked_collateral
        assert p.trader_collateral >= 0 and p.payout_reserve >= 0 and p.hedge_capital >= 0
        assert p.token_balance == p.pool_balance + p.trader_collateral + p.payout_reserve
        # Every position's worst case is covered: by the pool for longs, by shorts for shorts.
        want_locked = 0
        for s in p.strikes.values():
            if p.boards[s.board_id].settled:
                continue
            cap_k = p.boards[s.board_id].call_cap * s.strike // WAD
            want_locked += p._ceil_quote(s.long_call * cap_k) + p._ceil_quote(s.long_put * s.strike)
        assert p.locked_collateral == want_locked


TestPoolMachine = PoolMachine.TestCase
TestPoolMachine.settings = settings(
    max_examples=80,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

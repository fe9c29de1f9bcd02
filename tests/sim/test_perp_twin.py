"""The perp twin off chain: solvency under random play, a liquidation cascade, the venue
cost model against execution, and the vectorised twin against the integer one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sim.errors import Revert
from sim.venues.perp.batch import PerpBatch, VecParams
from sim.venues.perp.twin import (
    DAY,
    MAX_UINT256,
    WAD,
    HedgeCost,
    PerpMarket,
    PerpParams,
    VenueState,
    hedge_cost,
    tdiv,
)
from sim.venues.pricefeed.twin import PriceFeed

E18 = 10**18
USDC = 10**6
PARAMS = PerpParams(
    skew_scale=100_000 * E18,
    max_funding_rate=10**17,
    liquidation_reward_cap=50 * USDC,
    max_open_interest=10_000 * E18,
    max_position_size=2_000 * E18,
)
USERS = ("alice", "bob", "carol", "dave", "erin")


def make_market(params: PerpParams = PARAMS, insurance: int = 50_000 * USDC, price=2_000):
    feed = PriceFeed(8, "ETH / USD", "oracle", "oracle")
    feed.transmit("oracle", price * 10**8, 0)
    balances = {u: 10**13 for u in [*USERS, "owner", "keeper"]}
    market = PerpMarket(feed=feed, params=PerpParams(**params.__dict__), balances=balances)
    if insurance:
        market.fund_insurance("owner", insurance, 0)
    return market


def buy(market, user, size, ts=0):
    return market.modify_position(user, size, MAX_UINT256 if size > 0 else 0, ts)


def test_tdiv_truncates_toward_zero():
    assert [tdiv(7, 2), tdiv(-7, 2), tdiv(7, -2), tdiv(-7, -2)] == [3, -3, -3, 3]


# --- solvency -----------------------------------------------------------------------------


class Solvency(RuleBasedStateMachine):
    """Random deposits, withdrawals, trades, oracle moves and gaps, waits, liquidations and
    top-ups: the market's token balance always equals total margin + insurance fund - bad
    debt, the stored sums match the positions, and the fund and bad debt are never both
    positive. The oracle is refreshed on every move, so waits make it stale at times."""

    @initialize(insurance=st.integers(0, 20_000 * USDC))
    def setup(self, insurance):
        self.market = make_market(insurance=insurance)
        self.now = 0

    def _try(self, fn, *args):
        try:
            return fn(*args)
        except Revert:
            return None

    @rule(user=st.sampled_from(USERS), amount=st.integers(0, 50_000 * USDC))
    def deposit(self, user, amount):
        self._try(self.market.deposit_margin, user, amount, self.now)

    @rule(user=st.sampled_from(USERS), per_mille=st.integers(0, 1_000))
    def withdraw(self, user, per_mille):
        amount = self.market.position(user).margin * per_mille // 1_000
        self._try(self.market.withdraw_margin, user, amount, self.now)

    @rule(user=st.sampled_from(USERS), size=st.integers(-400, 400), dust=st.integers(-999, 999))
    def trade(self, user, size, dust):
        self._try(buy, self.market, user, size * E18 // 4 + dust, self.now)

    @rule(move_bps=st.integers(-3_500, 3_000))
    def oracle(self, move_bps):
        answer = max(self.market.feed.latest_answer() * (10_000 + move_bps) // 10_000, 1)
        self.market.feed.transmit("oracle", answer, self.now)

    @rule(seconds=st.integers(0, 2 * DAY))
    def wait(self, seconds):
        self.now += seconds

    @rule(keeper=st.sampled_from(USERS), account=st.sampled_from(USERS))
    def liquidate(self, keeper, account):
        self._try(self.market.liquidate, keeper, account, self.now)

    @rule(amount=st.integers(1, 10_000 * USDC))
    def insure(self, amount):
        self.market.fund_insurance("owner", amount, self.now)

    @invariant()
    def solvent(self):
        m = self.market
        m.check_identity()
        assert m.balances[m.address] >= m.total_margin + m.insurance_fund - m.bad_debt
        assert sum(m.balances.values()) == 10**13 * (len(USERS) + 2)  # nothing minted


TestSolvency = Solvency.TestCase
TestSolvency.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)
)


# --- cascade ------------------------------------------------------------------------------


def test_liquidation_cascade_fund_absorbs_the_loss():
    """Four levered longs and one short hedger, a -30 % oracle gap, liquidations in
    sequence, then the hedger takes its profit from the insurance fund."""
    m = make_market()
    positions = {
        "alice": (2_500, 10),  # 8x
        "bob": (4_500, 20),  # 9x
        "carol": (6_500, 30),  # 9x
        "erin": (3_300, 5),  # 3x: survives the gap with equity, below maintenance
        "dave": (20_000, -60),  # the short hedger
    }
    for user, (margin, size) in positions.items():
        m.deposit_margin(user, margin * USDC, 0)
        buy(m, user, size * E18)
    # Fills: 2000 * (1 + (skew before + after) / 2 / 100,000); fees 5 bps of notional.
    fees = 10_000_500 + 20_004_000 + 30_013_500 + 5_003_125 + 60_021_000
    assert m.insurance_fund == 50_000 * USDC + fees
    margins = {u: m.position(u).margin for u in positions}
    assert margins["alice"] == 2_500 * USDC - 10_000_500

    # The gap comes in the same block, so no funding blurs the numbers.
    m.feed.transmit("oracle", 1_400 * 10**8, 0)
    fund = m.insurance_fund
    outcomes = {u: m.liquidate("keeper", u, 0) for u in ("alice", "bob", "carol", "erin")}
    # alice: 2,489.9995 + 10 * (1400 - 2000.1) = -3,511.0005: no reward, deficit.
    assert outcomes["alice"].deficit == 3_511_000_500 and outcomes["alice"].reward == 0
    assert outcomes["bob"].deficit == 7_528_004_000
    assert outcomes["carol"].deficit == 11_557_013_500
    # erin: 3,294.996875 + 5 * (1400 - 2001.25) = 288.746875 < MM 350: reward capped at 50.
    assert (outcomes["erin"].reward, outcomes["erin"].deficit) == (50 * USDC, 0)
    assert m.balances["keeper"] == 10**13 + 50 * USDC
    # The fund takes every liquidated margin, less the reward.
    liquidated = sum(margins[u] for u in outcomes)
    assert m.insurance_fund == fund + liquidated - 50 * USDC
    assert m.long_oi == 0 and m.short_oi == 60 * E18

    # The hedger closes at 1400 * (1 - 60 / 2 / 100,000) = 1399.58: the fund pays its profit,
    # 60 * (2000.7 - 1399.58) = 36,067.2, and gets its fee.
    fund = m.insurance_fund
    trade = buy(m, "dave", 60 * E18, 0)
    assert trade.fill_price == 1_399_580_000_000_000_000_000
    assert trade.realised == 36_067_200_000
    assert m.insurance_fund == fund - trade.realised + trade.fee
    assert m.bad_debt == 0
    # Net: the longs lost 36,060.7625 in all; the fund got their margins less the reward
    # and paid the hedger, so it absorbed the losses beyond the margins (the deficits).
    deficits = sum(o.deficit for o in outcomes.values())
    assert deficits == 22_596_018_000
    assert m.insurance_fund == 50_000 * USDC + fees + trade.fee + liquidated - 50 * USDC - (
        trade.realised
    )
    assert m.insurance_fund == 30_784_808_400
    m.check_identity()


def test_cascade_beyond_the_fund_records_bad_debt():
    m = make_market(insurance=1_000 * USDC)
    for user, margin, size in [("alice", 2_500, 10), ("dave", 20_000, -10)]:
        m.deposit_margin(user, margin * USDC, 0)
        buy(m, user, size * E18)
    m.feed.transmit("oracle", 1_400 * 10**8, 10)
    assert m.liquidate("keeper", "alice", 10).deficit > 0
    before = m.insurance_fund
    trade = buy(m, "dave", 10 * E18, 10)
    assert m.insurance_fund == 0
    assert m.bad_debt == trade.realised - trade.fee - before
    m.check_identity()
    m.fund_insurance("owner", m.bad_debt, 10)
    assert (m.bad_debt, m.insurance_fund) == (0, 0)


# --- venue cost model ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [7 * E18, -13 * E18, 123_456_789, -250 * E18], ids=str)
@pytest.mark.parametrize("skew", [0, 300 * E18, -500 * E18], ids=lambda s: f"skew{s // E18}")
def test_hedge_cost_matches_execution(size, skew):
    m = make_market()
    if skew:
        m.deposit_margin("erin", 200_000 * USDC, 0)
        buy(m, "erin", skew)
    horizon, gas_price, eth = 3 * DAY + 17, 30 * 10**9, 2_000 * E18
    cost = hedge_cost(m.venue_state(0), size, horizon, gas_price, eth)

    m.deposit_margin("alice", 100_000 * USDC, 0)
    equity = m.equity("alice", 0)
    trade = buy(m, "alice", size)
    assert trade.fee == cost.fee
    # Impact: what the fill takes against the oracle, rounded up as the equity view floors.
    assert equity - m.equity("alice", 0) == cost.fee + cost.impact
    assert cost.impact == -((-size * (trade.fill_price - 2_000 * E18)) // WAD // 10**12)

    # Funding over the horizon at constant skew and price: exactly the accrual.
    index = m.funding_index
    m.feed.transmit("oracle", 2_000 * 10**8, horizon)
    accrued = m.current_funding_index(horizon) - index
    assert cost.expected_funding == -((-size * accrued) // (WAD * 10**12))
    # The equity view floors P&L and funding together: ceil(a) + ceil(b) - 1 <= ceil(a + b).
    assert equity - m.equity("alice", horizon) - cost.fee - cost.impact in (
        cost.expected_funding - 1,
        cost.expected_funding,
    )
    assert cost.gas == 160_000 * gas_price * 2_000 // 10**12 == 9_600_000  # 9.6 USDC
    assert cost.total == cost.fee + cost.impact + cost.expected_funding + cost.gas


def test_hedge_cost_signs():
    state = VenueState(2_000 * E18, 1_000 * E18, 100_000 * E18, 5, 10**17)
    against = hedge_cost(state, 10 * E18, DAY, 0, 0)  # adds to a long skew: pays
    along = hedge_cost(state, -10 * E18, DAY, 0, 0)  # reduces it: rebate and receives
    assert isinstance(against, HedgeCost) and against.gas == 0
    assert against.impact > 0 and against.expected_funding > 0
    assert along.impact < 0 and along.expected_funding < 0
    assert against.fee == along.fee + 1 or against.fee > along.fee
    with pytest.raises(Revert, match="perp: invalid fill price"):
        hedge_cost(state._replace(skew=0, skew_scale=E18), -2 * E18, DAY, 0, 0)


# --- vectorised twin ----------------------------------------------------------------------

REL_TOL = 1e-9


def _random_sequence(rng, n_steps):
    ops = []
    for _ in range(n_steps):
        kind = rng.choice(["deposit", "withdraw", "trade", "trade", "oracle", "wait", "liq"])
        user = int(rng.integers(0, 3))
        if kind == "deposit":
            ops.append((kind, user, int(rng.integers(1, 30_000)) * USDC))
        elif kind == "withdraw":
            ops.append((kind, user, int(rng.integers(1, 1_000))))
        elif kind == "trade":
            ops.append((kind, user, int(rng.integers(-120, 120)) * E18 // 4))
        elif kind == "oracle":
            ops.append((kind, user, int(rng.integers(-1_500, 1_200))))
        elif kind == "wait":
            ops.append((kind, user, int(rng.integers(0, DAY))))
        else:
            ops.append((kind, user, 0))
    return ops


def test_vectorised_twin_matches_integer_twin():
    """Each world plays its own random sequence on the integer twin; the batch replays all
    worlds at once, step by step. Ok masks agree and states agree to REL_TOL."""
    n_worlds, n_steps = 24, 40
    rng = np.random.default_rng(20240607)
    params = PerpParams(**{**PARAMS.__dict__, "skew_scale": 2_000 * E18})
    markets = [make_market(params, insurance=5_000 * USDC) for _ in range(n_worlds)]
    users = USERS[:3]
    batch = PerpBatch(n_worlds, 3, VecParams.from_params(params))
    batch.fund_insurance(5_000.0)
    sequences = [_random_sequence(rng, n_steps) for _ in range(n_worlds)]
    now = np.zeros(n_worlds, dtype=np.int64)
    mismatches = 0
    for step in range(n_steps):
        for kind in ("deposit", "withdraw", "trade", "oracle", "wait", "liq"):
            for a in range(3):
                rows = [
                    w
                    for w in range(n_worlds)
                    if sequences[w][step][0] == kind and sequences[w][step][1] == a
                ]
                if not rows:
                    continue
                mask = np.zeros(n_worlds, dtype=bool)
                mask[rows] = True
                arg = np.zeros(n_worlds)
                int_ok = np.zeros(n_worlds, dtype=bool)
                for w in rows:
                    m, x = markets[w], sequences[w][step][2]
                    try:
                        if kind == "deposit":
                            m.deposit_margin(users[a], x, int(now[w]))
                            arg[w] = x / USDC
                        elif kind == "withdraw":
                            amount = m.position(users[a]).margin * x // 1_000
                            arg[w] = amount / USDC
                            m.withdraw_margin(users[a], amount, int(now[w]))
                        elif kind == "trade":
                            arg[w] = x / E18
                            buy(m, users[a], x, int(now[w]))
                        elif kind == "oracle":
                            answer = m.feed.latest_answer() * (10_000 + x) // 10_000
                            m.feed.transmit("oracle", answer, int(now[w]))
                        elif kind == "wait":
                            now[w] += x
                            m.feed.transmit("oracle", m.feed.latest_answer(), int(now[w]))
                        else:
                            m.liquidate("keeper", users[a], int(now[w]))
                        int_ok[w] = True
                    except Revert:
                        pass
                prices = np.array([m.feed.latest_answer() / 10**8 for m in markets])
                if kind == "deposit":
                    ok = batch.deposit(a, np.where(mask, arg, 0.0))
                elif kind == "withdraw":
                    ok = batch.withdraw(a, np.where(mask, arg, 0.0), prices, now)
                elif kind == "trade":
                    ok, _ = batch.modify(a, np.where(mask, arg, 0.0), prices, now)
                elif kind == "liq":
                    ok, _ = batch.liquidate(a, prices, now, where=mask)
                else:
                    ok = mask
                mismatches += int(np.sum(ok[mask] != int_ok[mask]))
    assert mismatches == 0

    def close(vec, exact, scale):
        exact = np.array(exact, dtype=float) / scale
        np.testing.assert_allclose(vec, exact, rtol=REL_TOL, atol=REL_TOL * np.abs(exact).max())

    positions = [[m.position(u) for u in users] for m in markets]
    close(batch.size, [[p.size for p in row] for row in positions], E18)
    close(batch.margin, [[p.margin for p in row] for row in positions], USDC)
    close(batch.last_price, [[p.last_price for p in row] for row in positions], E18)
    close(batch.index, [m.funding_index for m in markets], E18)
    close(batch.fund, [m.insurance_fund for m in markets], USDC)
    close(batch.bad_debt, [m.bad_debt for m in markets], USDC)
    close(batch.balance, [m.balances[m.address] for m in markets], USDC)
    close(batch.skew, [m.skew for m in markets], E18)
    assert sum(m.long_oi > 0 for m in markets) > n_worlds // 4  # positions stayed open

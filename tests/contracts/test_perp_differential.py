"""Random sequences of perp market operations give identical results on chain and on the twin.

Hypothesis draws sequences of margin deposits and withdrawals, trades (with a slippage bound
at, one wei inside, or far from the fill price), oracle moves, waits (some long enough for
the oracle to go stale), liquidations and insurance top-ups by three traders. Every step runs
on the deployed `PerpMarket` and on `sim.venues.perp.twin.PerpMarket`, must succeed or revert with the
same reason on both, and every example ends with identical positions, margins, funding index
and time, open interest, skew, insurance fund, bad debt, total margin, token balances and
equity views. Each example starts from the same fresh market (chain snapshot restored).

Each transaction's block timestamp is pinned (``chain.pending_timestamp``) to a clock that
only the ``wait`` steps move, so the twin sees the same block times as the contract.
"""

from __future__ import annotations

import ape
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import Revert
from sim.venues.perp.twin import PerpMarket, PerpParams
from sim.venues.pricefeed.twin import PriceFeed

pytestmark = [pytest.mark.chain, pytest.mark.slow]

E18 = 10**18
USDC = 10**6
FUNDS = 1_000_000 * USDC
MAX_UINT256 = 2**256 - 1
INSURANCE = 20_000 * USDC
PRICE = 2_000 * 10**8

# Small depth and fast funding so that impact, funding, caps and liquidations all happen.
PARAMS = PerpParams(
    max_oracle_delay=3_600,
    skew_scale=5_000 * E18,
    taker_fee_bps=10,
    max_funding_rate=5 * 10**17,
    initial_margin_bps=1_000,
    maintenance_margin_bps=500,
    liquidation_reward_bps=200,
    liquidation_reward_cap=100 * USDC,
    max_open_interest=400 * E18,
    max_position_size=250 * E18,
)
USERS = ("alice", "bob", "carol")


@pytest.fixture(scope="module")
def traders(accounts):
    return {"alice": accounts[1], "bob": accounts[2], "carol": accounts[3]}


@pytest.fixture(scope="module")
def market(project, owner, traders):
    usdc = owner.deploy(project.ERC20, "USD Coin", "USDC", 6, owner)
    feed = owner.deploy(project.PriceFeed, 8, "ETH / USD", owner)
    feed.transmit(PRICE, sender=owner)
    perp = owner.deploy(project.PerpMarket, usdc, feed, *PARAMS.constructor_args())
    for user in (owner, *traders.values()):
        usdc.mint(user, FUNDS, sender=owner)
        usdc.approve(perp, MAX_UINT256, sender=user)
    perp.fundInsurance(INSURANCE, sender=owner)
    return perp, usdc, feed


class PerpTwinned:
    """The deployed market and its twin, driven step by step with pinned block times."""

    def __init__(self, chain, perp, usdc, feed, owner, traders):
        self.chain, self.perp, self.usdc, self.feed = chain, perp, usdc, feed
        self.owner = owner
        self.traders = traders
        self.clock = chain.blocks.head.timestamp + 1
        round_id, answer, _, updated_at, _ = feed.latestRoundData()
        feed_twin = PriceFeed(8, "ETH / USD", owner.address, owner.address, round_id)
        feed_twin.rounds[round_id] = (answer, updated_at)
        holders = [owner.address, *(t.address for t in traders.values())]
        self.twin = PerpMarket(
            feed=feed_twin,
            params=PerpParams(**PARAMS.__dict__),
            owner=owner.address,
            address=perp.address,
            quote_decimals=6,
            last_funding_time=perp.lastFundingTime(),
            insurance_fund=perp.insuranceFund(),
            balances={h: usdc.balanceOf(h) for h in [perp.address, *holders]},
        )

    def wait(self, seconds: int) -> None:
        self.clock += seconds

    def step(self, on_chain, on_twin) -> str | None:
        self.chain.pending_timestamp = self.clock
        chain_reason = None
        try:
            on_chain()
        except ape.exceptions.ContractLogicError as err:
            chain_reason = getattr(err, "revert_message", None) or ""
        twin_reason = None
        try:
            on_twin(self.clock)
        except Revert as err:
            twin_reason = err.reason
        assert chain_reason == twin_reason, f"chain: {chain_reason!r}, twin: {twin_reason!r}"
        return chain_reason

    def chain_state(self) -> dict:
        p = self.perp
        return {
            "positions": {n: tuple(p.position(a)) for n, a in self.traders.items()},
            "funding": (p.fundingIndex(), p.lastFundingTime()),
            "oi": (p.longOpenInterest(), p.shortOpenInterest(), p.skew()),
            "fund": (p.insuranceFund(), p.badDebt(), p.totalMargin()),
            "balances": {n: self.usdc.balanceOf(a) for n, a in self.traders.items()}
            | {"market": self.usdc.balanceOf(p)},
        }

    def twin_state(self) -> dict:
        t = self.twin
        return {
            "positions": {n: t.position(a.address).as_tuple() for n, a in self.traders.items()},
            "funding": (t.funding_index, t.last_funding_time),
            "oi": (t.long_oi, t.short_oi, t.skew),
            "fund": (t.insurance_fund, t.bad_debt, t.total_margin),
            "balances": {n: t.balances[a.address] for n, a in self.traders.items()}
            | {"market": t.balances[t.address]},
        }

    def assert_same_state(self) -> None:
        assert self.chain_state() == self.twin_state()
        self.twin.check_identity()
        # Views at the head block's time (the clock, when the last step mined a block).
        if self.chain.blocks.head.timestamp == self.clock:
            for account in self.traders.values():
                chain_equity = self._view(lambda a=account: self.perp.equity(a))
                twin_equity = self._twin_view(
                    lambda a=account: self.twin.equity(a.address, self.clock)
                )
                assert chain_equity == twin_equity

    @staticmethod
    def _view(call):
        try:
            return call()
        except ape.exceptions.ContractLogicError as err:
            return getattr(err, "revert_message", None)

    @staticmethod
    def _twin_view(call):
        try:
            return call()
        except Revert as err:
            return err.reason


users = st.sampled_from(USERS)
sizes = st.one_of(
    st.integers(-40, 40).map(lambda n: n * E18 // 2),  # mostly within 10x of the margins
    st.integers(-300, 300).map(lambda n: n * E18),  # caps and insufficient margin
    st.integers(-(10**18), 10**18),  # dust sizes: rounding of fees and P&L
)
trade = st.tuples(st.just("trade"), users, sizes, st.sampled_from(["exact", "tight", "loose"]))
steps = st.one_of(
    st.tuples(st.just("deposit"), users, st.integers(0, 60_000 * USDC)),
    st.tuples(st.just("withdraw"), users, st.integers(0, 1_100)),  # per mille of margin
    trade,
    trade,
    st.tuples(st.just("trade"), users, sizes, st.just("loose")),
    st.tuples(st.just("oracle"), st.integers(-600, 500)),  # bps move
    st.tuples(st.just("oracle"), st.integers(-3_500, 3_000)),  # gaps
    st.tuples(st.just("wait"), st.one_of(st.integers(0, 600), st.integers(3_000, 40_000))),
    st.tuples(st.just("liquidate"), users, users),
    st.tuples(st.just("liquidate"), users, users),
    st.tuples(st.just("insure"), st.integers(0, 5_000 * USDC)),
)
opening = st.tuples(st.just("deposit"), users, st.integers(1_000 * USDC, 60_000 * USDC))
sequences = st.tuples(
    st.lists(opening, min_size=1, max_size=3), st.lists(steps, min_size=4, max_size=14)
)


def run_step(t: PerpTwinned, step) -> None:
    kind = step[0]
    perp, twin = t.perp, t.twin
    if kind == "deposit":
        user, amount = t.traders[step[1]], step[2]
        t.step(
            lambda: perp.depositMargin(amount, sender=user),
            lambda ts: twin.deposit_margin(user.address, amount, ts),
        )
    elif kind == "withdraw":
        user = t.traders[step[1]]
        amount = twin.position(user.address).margin * step[2] // 1_000
        t.step(
            lambda: perp.withdrawMargin(amount, sender=user),
            lambda ts: twin.withdraw_margin(user.address, amount, ts),
        )
    elif kind == "trade":
        user, size, guard = t.traders[step[1]], step[2], step[3]
        try:
            fill = twin.fill_price(size, t.clock)
        except Revert:
            fill = 2_000 * E18
        if guard == "loose":
            acceptable = MAX_UINT256 if size > 0 else 0
        else:
            inside = 1 if guard == "tight" else 0
            acceptable = fill - inside if size > 0 else fill + inside
        t.step(
            lambda: perp.modifyPosition(size, acceptable, sender=user),
            lambda ts: twin.modify_position(user.address, size, acceptable, ts),
        )
    elif kind == "oracle":
        answer = max(twin.feed.latest_answer() * (10_000 + step[1]) // 10_000, 1)
        t.step(
            lambda: t.feed.transmit(answer, sender=t.owner),
            lambda ts: twin.feed.transmit(t.owner.address, answer, ts),
        )
    elif kind == "wait":
        t.wait(step[1])
    elif kind == "liquidate":
        keeper, target = t.traders[step[1]], t.traders[step[2]]
        t.step(
            lambda: perp.liquidate(target, sender=keeper),
            lambda ts: twin.liquidate(keeper.address, target.address, ts),
        )
    elif kind == "insure":
        amount = step[1]
        t.step(
            lambda: perp.fundInsurance(amount, sender=t.owner),
            lambda ts: twin.fund_insurance(t.owner.address, amount, ts),
        )


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(sequence=sequences)
def test_perp_matches_twin(chain, market, owner, traders, sequence):
    perp, usdc, feed = market
    openings, rest = sequence
    snapshot = chain.snapshot()
    try:
        t = PerpTwinned(chain, perp, usdc, feed, owner, traders)
        for step in [*openings, *rest]:
            run_step(t, step)
        t.assert_same_state()
    finally:
        chain.restore(snapshot)


def test_liquidation_cascade_matches_twin(chain, market, owner, traders):
    """A fixed path through the paths random sequences reach rarely: all three traders
    levered long, a 30 % gap, then liquidations of each and a deficit for the fund."""
    perp, usdc, feed = market
    snapshot = chain.snapshot()
    try:
        t = PerpTwinned(chain, perp, usdc, feed, owner, traders)
        positions = [("alice", 10_000, 40), ("bob", 18_000, 60), ("carol", 9_000, -20)]
        for name, margin, size in positions:
            run_step(t, ("deposit", name, margin * USDC))
            run_step(t, ("trade", name, size * E18, "exact"))
        t.wait(60)
        run_step(t, ("oracle", -3_000))
        for name in ("alice", "bob", "carol"):
            run_step(t, ("liquidate", "carol", name))
        # Both longs are under water (deficits, no reward); the short is not liquidatable.
        assert perp.openInterest() == (0, 20 * E18)
        t.assert_same_state()
        run_step(t, ("trade", "carol", 20 * E18, "loose"))
        t.assert_same_state()
        assert perp.openInterest() == (0, 0)
    finally:
        chain.restore(snapshot)


SCRIPTED = [
    ("deposit", "alice", 30_000 * USDC),
    ("deposit", "bob", 30_000 * USDC),
    ("trade", "alice", 251 * E18, "loose"),  # position too large
    ("trade", "alice", 120 * E18, "loose"),
    ("trade", "bob", 150 * E18, "tight"),  # price exceeds acceptable
    ("trade", "bob", 130 * E18, "loose"),
    ("deposit", "carol", 60_000 * USDC),
    ("trade", "carol", 200 * E18, "loose"),  # open interest cap (400 per side)
    ("trade", "carol", -200 * E18, "exact"),  # sells into the skew
    ("wait", 3_601),
    ("trade", "carol", E18, "loose"),  # stale oracle
    ("withdraw", "bob", 1),  # stale oracle (open position)
    ("oracle", -900),
    ("liquidate", "carol", "alice"),
    ("liquidate", "carol", "bob"),
    ("withdraw", "carol", 500),
    ("trade", "carol", 200 * E18, "loose"),  # closes the short: the fund pays its profit
    ("withdraw", "carol", 1_000),
    ("insure", 1_000 * USDC),
]


def test_scripted_revert_paths_match_twin(chain, market, owner, traders):
    """Caps, staleness, slippage, liquidations and fund payouts, in one fixed sequence."""
    perp, usdc, feed = market
    snapshot = chain.snapshot()
    try:
        t = PerpTwinned(chain, perp, usdc, feed, owner, traders)
        for step in SCRIPTED:
            run_step(t, step)
        t.assert_same_state()
    finally:
        chain.restore(snapshot)

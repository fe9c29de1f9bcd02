"""Random sequences on the deployed OptionsPool and its twin give identical results.

Hypothesis draws sequences of deposits, withdrawals, opens and closes (long/short,
call/put), oracle moves, waits, settlement, claims and hedge moves. Each step runs on chain
and on `sim.venues.options.twin.OptionsPool` at the same block timestamp, must succeed on both or
revert with the same reason, and leave identical accounting, boards, strikes, positions,
token balance, NAV and Greeks; the solvency invariants (assets >= locked, the token balance
covers every claim) are checked after every step. Each example starts from the fixture
(chain snapshot restored after it). Reverts are checked with eth_call (see
`test_options_pool.expect_revert`): Ape prints a slow call trace for reverted transactions.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim.errors import Revert
from sim.venues.options.twin import DEFAULT_CALL_CAP, OptionsParams, OptionsPool
from sim.venues.pricefeed.twin import PriceFeed

pytestmark = [pytest.mark.chain, pytest.mark.slow]

E18 = 10**18
USDC = 10**6
DAY = 86_400
MAX = 2**256 - 1
PRICE = 2_000 * 10**8
STRIKES = ((1_800, 105 * 10**16), (2_000, E18), (2_200, 97 * 10**16))
PARAMS = OptionsParams()


@pytest.fixture(scope="module")
def setup(project, accounts, chain):
    owner, alice, bob, carol = accounts[0], accounts[1], accounts[2], accounts[3]
    usdc = owner.deploy(project.ERC20, "USD Coin", "USDC", 6, owner)
    for user in (owner, alice, bob, carol):
        usdc.mint(user, 10**12 * USDC, sender=owner)
    feed = owner.deploy(project.PriceFeed, 8, "ETH / USD", owner)
    pool = owner.deploy(project.OptionsPool, usdc, feed, *PARAMS.constructor_args())
    for user in (owner, alice, bob, carol):
        usdc.approve(pool, MAX, sender=user)
    pool.setHedger(carol, sender=owner)
    return pool, usdc, feed, owner, alice, bob, carol


def _revert_reason(err: Exception) -> str:
    text = str(err.args[0]) if err.args else str(err)
    for prefix in ("execution reverted: ", "revert: "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


class Both:
    """The chain pool and the twin, stepped together."""

    def __init__(self, chain, setup):
        self.chain = chain
        self.pool, self.usdc, self.feed, self.owner, alice, bob, carol = setup
        self.users = {"alice": alice, "bob": bob, "carol": carol, "owner": self.owner}
        self.tf = PriceFeed(8, "ETH / USD", self.owner.address, self.owner.address)
        self.twin = OptionsPool(self.tf, PARAMS, self.owner.address)
        self.twin.set_hedger(self.owner.address, carol.address)

    def now(self) -> int:
        return self.chain.blocks.head.timestamp

    def step(self, method, twin_fn, *args, sender) -> str | None:
        """Send on chain if the eth_call succeeds, else compare the revert reasons."""
        t = self.now() + 3
        self.chain.mine(timestamp=t - 1)  # eth_call then sees the tx's timestamp - 1 ...
        self.chain.pending_timestamp = t
        data = method.encode_input(*args)
        chain_reason = None
        try:
            self.chain.provider.web3.eth.call(
                {"from": sender.address, "to": self.pool.address, "data": data}
            )
        except Exception as err:  # noqa: BLE001 - web3's ContractLogicError
            chain_reason = _revert_reason(err)
        # ... so a reason is checked at that timestamp on the twin, a success at t.
        twin_reason = None
        try:
            trial = self.twin.copy()
            getattr(trial, twin_fn)(sender.address, *args, t - 1)
        except Revert as err:
            twin_reason = err.reason
        assert chain_reason == twin_reason, f"chain: {chain_reason!r}, twin: {twin_reason!r}"
        if chain_reason is None:
            receipt = method(*args, sender=sender)
            assert self.chain.blocks[receipt.block_number].timestamp == t
            getattr(self.twin, twin_fn)(sender.address, *args, t)
        return chain_reason

    def transmit(self, answer: int) -> None:
        receipt = self.feed.transmit(answer, sender=self.owner)
        self.tf.transmit(
            self.owner.address, answer, self.chain.blocks[receipt.block_number].timestamp
        )

    def check(self) -> None:
        p, t = self.pool, self.twin
        assert tuple(p.poolState()) == tuple(t.pool_state())
        assert self.usdc.balanceOf(p) == t.token_balance
        ps = t.pool_state()
        assert ps.pool_balance >= ps.locked_collateral
        assert t.token_balance == ps.pool_balance + ps.trader_collateral + ps.payout_reserve
        b = p.boards(1)
        assert (b.baseIv, b.settled) == (t.boards[1].base_iv, t.boards[1].settled)
        for sid in (1, 2, 3):
            s = p.strikes(sid)
            ts = t.strikes[sid]
            assert (s.skew, s.longCall, s.shortCall, s.longPut, s.shortPut) == (
                ts.skew,
                ts.long_call,
                ts.short_call,
                ts.long_put,
                ts.short_put,
            )
            for who in ("alice", "bob"):
                addr = self.users[who].address
                assert tuple(p.positions(addr, sid)) == tuple(vars(t.position(addr, sid)).values())
        head = self.now()
        for view, twin_view in (
            (p.nav, lambda: t.nav(head)),
            (p.totalGreeks, lambda: t.total_greeks(head)),
        ):
            try:
                want = twin_view()
            except Revert as err:
                with pytest.raises(Exception, match=err.reason):  # noqa: PT011
                    view()
            else:
                got = view()
                assert (tuple(got) if isinstance(got, tuple | list) else got) == want


traders = st.sampled_from(["alice", "bob"])
amounts = st.integers(1, 40).map(lambda n: n * E18 // 4)
trades = st.tuples(
    st.just("trade"),
    traders,
    st.integers(1, 3),
    st.booleans(),
    st.booleans(),
    amounts,
    st.booleans(),
)
steps = st.one_of(
    st.tuples(st.just("deposit"), traders, st.integers(1, 10**11)),
    st.tuples(st.just("withdraw"), st.sampled_from(["owner", "alice"]), st.integers(1, 100)),
    trades,
    trades,
    trades,
    trades,
    st.tuples(st.just("oracle"), st.integers(-20, 20)),
    st.tuples(st.just("wait"), st.sampled_from([60, 3_000, 5 * DAY])),
    st.tuples(st.just("claim"), traders, st.integers(1, 3)),
    st.tuples(st.just("hedge"), st.booleans(), st.integers(1, 10**11)),
)


def run(b: Both, step) -> None:
    kind = step[0]
    p, t = b.pool, b.twin
    reason = None
    if kind == "deposit":
        reason = b.step(p.deposit, "deposit", step[2], sender=b.users[step[1]])
    elif kind == "withdraw":
        user = b.users[step[1]]
        shares = t.balance_of(user.address) * step[2] // 100
        reason = b.step(p.withdraw, "withdraw", shares, sender=user)
    elif kind == "trade":
        _, who, sid, is_call, is_long, amount, close = step
        limit = 0 if close == is_long else MAX
        if close:
            reason = b.step(
                p.closePosition,
                "close_position",
                sid,
                is_call,
                is_long,
                amount,
                limit,
                MAX,
                sender=b.users[who],
            )
        else:
            reason = b.step(
                p.openPosition,
                "open_position",
                sid,
                is_call,
                is_long,
                amount,
                limit,
                MAX,
                sender=b.users[who],
            )
    elif kind == "oracle":
        b.transmit(max(t.feed.latest_answer() * (100 + step[1]) // 100, 1))
    elif kind == "wait":
        b.chain.mine(timestamp=b.now() + step[1])
    elif kind == "expire":
        expiry = t.boards[1].expiry
        if b.now() < expiry:
            b.chain.pending_timestamp = expiry + 5
            b.transmit(max(t.feed.latest_answer() * (100 + step[1]) // 100, 1))
        reason = b.step(p.settleBoard, "settle_board", 1, sender=b.users["bob"])
    elif kind == "claim":
        reason = b.step(p.claim, "claim", step[2], sender=b.users[step[1]])
    elif kind == "hedge":
        if step[1]:
            reason = b.step(
                p.returnFromHedge, "return_from_hedge", step[2], sender=b.users["carol"]
            )
        else:
            reason = b.step(
                p.withdrawForHedge, "withdraw_for_hedge", step[2], sender=b.users["carol"]
            )
    event(f"{kind}: {reason or 'ok'}")


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    opens=st.lists(
        st.tuples(
            st.just("trade"),
            traders,
            st.integers(1, 3),
            st.booleans(),
            st.booleans(),
            amounts,
            st.just(False),
        ),
        min_size=1,
        max_size=3,
    ),
    sequence=st.lists(steps, min_size=2, max_size=8),
    expire=st.one_of(st.none(), st.integers(-30, 30)),
)
def test_pool_matches_twin(chain, setup, opens, sequence, expire):
    snapshot = chain.snapshot()
    try:
        b = Both(chain, setup)
        b.transmit(PRICE)
        now = b.now()
        # Listing, the same on both (owner calls succeed; checked in test_options_pool).
        expiry = now + 20 * DAY
        b.pool.addBoard(expiry, 8 * 10**17, DEFAULT_CALL_CAP, sender=b.owner)
        b.twin.add_board(b.owner.address, expiry, 8 * 10**17, DEFAULT_CALL_CAP, now)
        for k, skew in STRIKES:
            b.pool.addStrike(1, k * E18, skew, sender=b.owner)
            b.twin.add_strike(b.owner.address, 1, k * E18, skew, now)
        b.step(b.pool.deposit, "deposit", 500_000 * USDC, sender=b.owner)
        b.check()
        for step in [*opens, *sequence]:
            run(b, step)
            b.check()
        if expire is not None:
            for step in [("expire", expire)] + [
                ("claim", who, sid) for who in ("alice", "bob") for sid in (1, 2, 3)
            ]:
                run(b, step)
            b.check()
    finally:
        chain.restore(snapshot)

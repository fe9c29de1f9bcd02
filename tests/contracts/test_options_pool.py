"""OptionsPool on chain: a full life cycle checked against the twin to the wei, events,
access control, parameter bounds and every revert path.

Two revert strings cannot be reached with this project's tokens and are not tested:
"options: transfer failed" (the ERC20 reverts with its own reason first) and
"options: zero nav" (NAV >= free liquidity > 0 whenever shares exist).
"""

from __future__ import annotations

import ape
import pytest

from sim.venues.options.twin import DEFAULT_CALL_CAP, OptionsParams, OptionsPool
from sim.venues.pricefeed.twin import PriceFeed

pytestmark = pytest.mark.chain

E18 = 10**18
USDC = 10**6
DAY = 86_400
FUNDS = 10**12 * USDC
MAX = 2**256 - 1
ZERO = "0x0000000000000000000000000000000000000000"
PRICE = 2_000 * 10**8
STRIKES = ((1_800, 105 * 10**16), (2_000, E18), (2_200, 97 * 10**16), (3_000, E18))
LIQUIDITY = 1_000_000 * USDC
PARAMS = OptionsParams()


@pytest.fixture(scope="module")
def carol(accounts):
    return accounts[3]


@pytest.fixture(scope="module")
def usdc(project, owner, alice, bob, carol):
    token = owner.deploy(project.ERC20, "USD Coin", "USDC", 6, owner)
    for user in (owner, alice, bob, carol):
        token.mint(user, FUNDS, sender=owner)
    return token


@pytest.fixture(scope="module")
def feed(project, owner):
    feed = owner.deploy(project.PriceFeed, 8, "ETH / USD", owner)
    feed.transmit(PRICE, sender=owner)
    return feed


@pytest.fixture(scope="module")
def options_pool(project, owner, alice, bob, carol, usdc, feed, chain):
    """A pool with 1M USDC, one 30-day board at base IV 80 % and four strikes; carol hedges."""
    options_pool = owner.deploy(project.OptionsPool, usdc, feed, *PARAMS.constructor_args())
    for user in (owner, alice, bob, carol):
        usdc.approve(options_pool, MAX, sender=user)
    expiry = chain.blocks.head.timestamp + 30 * DAY
    options_pool.addBoard(expiry, 8 * 10**17, DEFAULT_CALL_CAP, sender=owner)
    for k, skew in STRIKES:
        options_pool.addStrike(1, k * E18, skew, sender=owner)
    options_pool.deposit(LIQUIDITY, sender=owner)
    options_pool.setHedger(carol, sender=owner)
    return options_pool


def expect_revert(chain, method, *args, sender, reason: str) -> None:
    """Assert that `method(*args)` sent by `sender` reverts with `reason` in the head block.

    An eth_call through web3: Ape's foundry provider builds and prints a full call trace for
    every reverted transaction, seconds per Black-Scholes evaluation, so reverts past the
    pricing are checked this way (same EVM, same state, same block timestamp).
    """
    data = method.encode_input(*args)
    with pytest.raises(Exception) as err:  # noqa: PT011 - web3's ContractLogicError
        chain.provider.web3.eth.call(
            {"from": sender.address, "to": method.contract.address, "data": data}
        )
    assert reason in str(err.value), str(err.value)


def _expiry(options_pool):
    return options_pool.boards(1).expiry


def _refresh(feed, owner, chain, answer=PRICE, at=None):
    if at is not None:
        chain.pending_timestamp = at
    feed.transmit(answer, sender=owner)


# --- life cycle, to the wei against the twin ------------------------------------------------


def test_life_cycle_matches_twin(chain, options_pool, feed, usdc, owner, alice, bob, carol):
    tf = PriceFeed(8, "ETH / USD", owner.address, owner.address)
    rnd = feed.latestRoundData()
    tf.transmit(owner.address, rnd[1], rnd[3])
    twin = OptionsPool(tf, PARAMS, owner.address)
    # Replay the fixture on the twin (at any time before the board's listing window ends).
    b = options_pool.boards(1)
    listed = b.expiry - 30 * DAY
    twin.add_board(owner.address, b.expiry, b.baseIv, b.callCap, listed)
    for k, skew in STRIKES:
        twin.add_strike(owner.address, 1, k * E18, skew, listed)
    twin.deposit(owner.address, LIQUIDITY, 0)
    twin.set_hedger(owner.address, carol.address)

    def step(fn_chain, fn_twin):
        t = chain.blocks.head.timestamp + 7
        chain.pending_timestamp = t
        receipt = fn_chain()
        out = fn_twin(t)
        assert tuple(options_pool.poolState()) == tuple(twin.pool_state())
        assert usdc.balanceOf(options_pool) == twin.token_balance
        return receipt, out

    r, (premium, _) = step(
        lambda: options_pool.openPosition(2, True, True, 3 * E18, MAX, MAX, sender=alice),
        lambda t: twin.open_position(alice.address, 2, True, True, 3 * E18, MAX, MAX, t),
    )
    assert r.return_value == premium
    ev = r.events.filter(options_pool.Trade)[0]
    assert (ev.trader, ev.strikeId, ev.isCall, ev.isBuy, ev.isOpen) == (alice, 2, True, True, True)
    assert ev.premium == premium and ev.newBaseIv == twin.boards[1].base_iv
    step(
        lambda: options_pool.openPosition(1, False, False, 2 * E18, 0, MAX, sender=bob),
        lambda t: twin.open_position(bob.address, 1, False, False, 2 * E18, 0, MAX, t),
    )
    step(
        lambda: options_pool.openPosition(3, True, False, E18, 0, MAX, sender=bob),
        lambda t: twin.open_position(bob.address, 3, True, False, E18, 0, MAX, t),
    )
    step(
        lambda: options_pool.closePosition(2, True, True, E18, 0, MAX, sender=alice),
        lambda t: twin.close_position(alice.address, 2, True, True, E18, 0, MAX, t),
    )
    step(
        lambda: options_pool.closePosition(1, False, False, E18, MAX, MAX, sender=bob),
        lambda t: twin.close_position(bob.address, 1, False, False, E18, MAX, MAX, t),
    )
    r, _ = step(
        lambda: options_pool.withdrawForHedge(1_000 * USDC, sender=carol),
        lambda t: twin.withdraw_for_hedge(carol.address, 1_000 * USDC, t),
    )
    assert r.events.filter(options_pool.HedgeWithdrawn)[0].hedgeCapital == 1_000 * USDC
    step(
        lambda: options_pool.returnFromHedge(1_200 * USDC, sender=carol),
        lambda t: twin.return_from_hedge(carol.address, 1_200 * USDC, t),
    )
    r, shares = step(
        lambda: options_pool.deposit(5_000 * USDC, sender=alice),
        lambda t: twin.deposit(alice.address, 5_000 * USDC, t),
    )
    assert r.return_value == shares == options_pool.balanceOf(alice)
    step(
        lambda: options_pool.withdraw(shares // 2, sender=alice),
        lambda t: twin.withdraw(alice.address, shares // 2, t),
    )
    head = chain.blocks.head.timestamp
    assert options_pool.nav() == twin.nav(head)
    assert tuple(options_pool.boardGreeks(1)) == twin.board_greeks(1, head)
    assert tuple(options_pool.totalGreeks()) == twin.total_greeks(head)
    assert tuple(options_pool.quote(3, False, True, 2 * E18)) == twin.quote(
        3, False, True, 2 * E18, head
    )
    assert options_pool.utilisation() == twin.utilisation()
    for who in (alice, bob):
        for sid in (1, 2, 3):
            assert tuple(options_pool.positions(who, sid)) == tuple(
                vars(twin.position(who.address, sid)).values()
            )

    # Expiry, settlement at the oracle, claims.
    t = _expiry(options_pool) + 10
    chain.pending_timestamp = t
    feed.transmit(2_150 * 10**8, sender=owner)
    tf.transmit(owner.address, 2_150 * 10**8, t)
    r, _ = step(
        lambda: options_pool.settleBoard(1, sender=bob),
        lambda t: twin.settle_board(bob.address, 1, t),
    )
    ev = r.events.filter(options_pool.BoardSettled)[0]
    assert ev.spot == 2_150 * E18 and ev.owedToLongs == twin.payout_reserve
    for who, sid in ((alice, 2), (bob, 1), (bob, 3)):
        r, paid = step(
            lambda who=who, sid=sid: options_pool.claim(sid, sender=who),
            lambda t, who=who, sid=sid: twin.claim(who.address, sid, t),
        )
        assert r.return_value == paid
        assert r.events.filter(options_pool.Claimed)[0].amount == paid
    assert tuple(options_pool.poolState())[1:4] == (0, 0, twin.payout_reserve)


# --- reverts --------------------------------------------------------------------------------


def test_constructor_reverts(project, owner, usdc, feed):
    args = PARAMS.constructor_args()
    with ape.reverts("options: zero address"):
        owner.deploy(project.OptionsPool, ZERO, feed, *args)
    big = owner.deploy(project.ERC20, "Big", "BIG", 19, owner)
    with ape.reverts("options: too many decimals"):
        owner.deploy(project.OptionsPool, big, feed, *args)
    bad = list(args)
    bad[0] = 0
    with ape.reverts("options: bad oracle delay"):
        owner.deploy(project.OptionsPool, usdc, feed, *bad)


def test_deposit_and_withdraw_reverts(options_pool, owner, alice, carol, usdc):
    with ape.reverts("options: zero amount"):
        options_pool.deposit(0, sender=alice)
    with ape.reverts("options: zero shares"):
        options_pool.withdraw(0, sender=alice)
    with ape.reverts("options: insufficient shares"):
        options_pool.withdraw(1, sender=alice)
    with ape.reverts("options: zero amount"):
        options_pool.withdraw(1, sender=owner)  # 1 share wei is worth 1e-12 quote units
    options_pool.openPosition(2, True, True, 100 * E18, MAX, MAX, sender=alice)
    with ape.reverts("options: withdrawal exceeds free liquidity"):
        options_pool.withdraw(options_pool.balanceOf(owner), sender=owner)


def test_deposit_too_small_for_a_share(options_pool, owner, alice, carol):
    # One quote unit left in shares, then a hedge profit of 1M: a share wei is worth more
    # than a quote unit.
    options_pool.withdraw(options_pool.balanceOf(owner) - 10**12, sender=owner)
    options_pool.returnFromHedge(10**12, sender=carol)
    with ape.reverts("options: zero shares"):
        options_pool.deposit(1, sender=alice)


def test_deposit_withdraw_events_and_roundtrip(options_pool, owner, alice, usdc):
    before = usdc.balanceOf(alice)
    r = options_pool.deposit(12_345 * USDC, sender=alice)
    ev = r.events.filter(options_pool.Deposit)[0]
    assert (ev.account, ev.amount, ev.shares) == (alice, 12_345 * USDC, r.return_value)
    r = options_pool.withdraw(options_pool.balanceOf(alice), sender=alice)
    assert r.events.filter(options_pool.Withdraw)[0].amount == r.return_value
    assert usdc.balanceOf(alice) <= before


def test_trade_reverts(chain, options_pool, feed, owner, alice):
    with ape.reverts("options: deadline passed"):
        options_pool.openPosition(2, True, True, E18, MAX, 1, sender=alice)
    with ape.reverts("options: zero amount"):
        options_pool.openPosition(2, True, True, 0, MAX, MAX, sender=alice)
    with ape.reverts("options: unknown strike"):
        options_pool.openPosition(99, True, True, E18, MAX, MAX, sender=alice)
    with ape.reverts("options: position too small"):
        options_pool.closePosition(2, True, True, E18, 0, MAX, sender=alice)
    expect_revert(
        chain,
        options_pool.openPosition,
        4,
        True,
        True,
        E18,
        MAX,
        MAX,
        sender=alice,
        reason="options: delta out of range",
    )
    expect_revert(
        chain,
        options_pool.openPosition,
        2,
        True,
        True,
        E18,
        1,
        MAX,
        sender=alice,
        reason="options: premium above limit",
    )
    expect_revert(
        chain,
        options_pool.openPosition,
        2,
        True,
        False,
        E18,
        MAX,
        MAX,
        sender=alice,
        reason="options: premium below limit",
    )
    expect_revert(
        chain,
        options_pool.openPosition,
        2,
        True,
        True,
        1_000 * E18,
        MAX,
        MAX,
        sender=alice,
        reason="options: iv out of bounds",
    )
    expect_revert(
        chain,
        options_pool.openPosition,
        2,
        True,
        False,
        500 * E18,
        0,
        MAX,
        sender=alice,
        reason="options: iv out of bounds",
    )  # below zero
    expect_revert(
        chain,
        options_pool.openPosition,
        2,
        True,
        False,
        400 * E18,
        0,
        MAX,
        sender=alice,
        reason="options: iv out of bounds",
    )  # below 0.05
    expect_revert(
        chain,
        options_pool.openPosition,
        2,
        True,
        True,
        200 * E18,
        MAX,
        MAX,
        sender=alice,
        reason="options: insufficient free liquidity",
    )  # 1.6M locked
    options_pool.setImpact(5 * E18, 0, 10**17, sender=owner)
    expect_revert(
        chain,
        options_pool.openPosition,
        2,
        True,
        True,
        60 * E18,
        MAX,
        MAX,
        sender=alice,
        reason="options: skew out of bounds",
    )
    expect_revert(
        chain,
        options_pool.openPosition,
        2,
        True,
        False,
        60 * E18,
        0,
        MAX,
        sender=alice,
        reason="options: skew out of bounds",
    )  # below zero
    expect_revert(
        chain,
        options_pool.openPosition,
        2,
        True,
        False,
        30 * E18,
        0,
        MAX,
        sender=alice,
        reason="options: skew out of bounds",
    )  # below 0.5
    options_pool.setBoardFrozen(1, True, sender=owner)
    with ape.reverts("options: board frozen"):
        options_pool.openPosition(2, True, True, E18, MAX, MAX, sender=alice)
    options_pool.setBoardFrozen(1, False, sender=owner)
    chain.pending_timestamp = chain.blocks.head.timestamp + 2 * 3_600
    with ape.reverts("options: stale oracle"):
        options_pool.openPosition(2, True, True, E18, MAX, MAX, sender=alice)
    _refresh(feed, owner, chain, 10_000 * 10**8)
    expect_revert(
        chain,
        options_pool.openPosition,
        1,
        True,
        True,
        E18,
        MAX,
        MAX,
        sender=alice,
        reason="bs: strike out of range",
    )
    _refresh(feed, owner, chain, PRICE, _expiry(options_pool) - PARAMS.trading_cutoff)
    with ape.reverts("options: board expired"):
        options_pool.openPosition(2, True, True, E18, MAX, MAX, sender=alice)


def test_sell_needs_free_liquidity(chain, options_pool, owner, alice, bob):
    options_pool.openPosition(2, True, True, 120 * E18, MAX, MAX, sender=alice)  # 960k locked
    options_pool.setImpact(5 * E18, 0, 0, sender=owner)
    options_pool.setFees(0, 0, 0, sender=owner)
    free = options_pool.poolBalance() - options_pool.lockedCollateral()
    premium, _ = options_pool.quote(2, False, False, 1_000 * E18)
    assert premium > free
    expect_revert(
        chain,
        options_pool.openPosition,
        2,
        False,
        False,
        1_000 * E18,
        0,
        MAX,
        sender=bob,
        reason="options: insufficient free liquidity",
    )


def test_invalid_oracle_answer(project, owner, usdc):
    bad = owner.deploy(project.PerpTestFeed, 8, 0)
    options_pool = owner.deploy(project.OptionsPool, usdc, bad, *PARAMS.constructor_args())
    with ape.reverts("options: invalid oracle answer"):
        options_pool.spotPrice()


def test_settle_and_claim_reverts(chain, options_pool, feed, owner, alice):
    options_pool.openPosition(2, True, True, E18, MAX, MAX, sender=alice)
    with ape.reverts("options: unknown board"):
        options_pool.settleBoard(7, sender=alice)
    with ape.reverts("options: board not expired"):
        options_pool.settleBoard(1, sender=alice)
    with ape.reverts("options: unknown strike"):
        options_pool.claim(99, sender=alice)
    with ape.reverts("options: board not settled"):
        options_pool.claim(2, sender=alice)
    chain.pending_timestamp = _expiry(options_pool) + 7_200
    with ape.reverts("options: stale oracle"):
        options_pool.settleBoard(1, sender=alice)
    feed.transmit(PRICE, sender=owner)
    options_pool.settleBoard(1, sender=alice)
    with ape.reverts("options: board settled"):
        options_pool.settleBoard(1, sender=alice)
    with ape.reverts("options: nothing to claim"):
        options_pool.claim(1, sender=alice)
    assert options_pool.claim(2, sender=alice).return_value == 0  # at the money


def test_hedge_reverts_and_cap(options_pool, owner, alice, carol):
    with ape.reverts("options: not hedger"):
        options_pool.withdrawForHedge(1, sender=alice)
    with ape.reverts("options: not hedger"):
        options_pool.returnFromHedge(1, sender=alice)
    with ape.reverts("options: zero amount"):
        options_pool.withdrawForHedge(0, sender=carol)
    with ape.reverts("options: zero amount"):
        options_pool.returnFromHedge(0, sender=carol)
    with ape.reverts("options: hedge cap exceeded"):
        options_pool.withdrawForHedge(LIQUIDITY // 2 + 1, sender=carol)
    options_pool.withdrawForHedge(LIQUIDITY // 2, sender=carol)
    assert options_pool.nav() == LIQUIDITY  # hedge capital is counted at face value
    options_pool.setMaxHedgeBps(10_000, sender=owner)
    options_pool.openPosition(2, True, True, 60 * E18, MAX, MAX, sender=alice)  # 480k locked
    with ape.reverts("options: insufficient free liquidity"):
        options_pool.withdrawForHedge(LIQUIDITY // 2, sender=carol)
    r = options_pool.returnFromHedge(LIQUIDITY // 4, sender=carol)
    assert r.events.filter(options_pool.HedgeReturned)[0].hedgeCapital == LIQUIDITY // 4


def test_owner_board_reverts(chain, options_pool, owner, alice):
    now = chain.blocks.head.timestamp
    with ape.reverts("options: not owner"):
        options_pool.addBoard(now + 10 * DAY, E18, DEFAULT_CALL_CAP, sender=alice)
    with ape.reverts("options: bad expiry"):
        options_pool.addBoard(now + 3_600, E18, DEFAULT_CALL_CAP, sender=owner)
    with ape.reverts("options: bad expiry"):
        options_pool.addBoard(now + 800 * DAY, E18, DEFAULT_CALL_CAP, sender=owner)
    with ape.reverts("options: iv out of bounds"):
        options_pool.addBoard(now + 10 * DAY, 3 * E18, DEFAULT_CALL_CAP, sender=owner)
    with ape.reverts("options: bad call cap"):
        options_pool.addBoard(now + 10 * DAY, E18, 10**16, sender=owner)
    r = options_pool.addBoard(now + 10 * DAY, E18, DEFAULT_CALL_CAP, sender=owner)
    bid = r.return_value
    assert r.events.filter(options_pool.BoardAdded)[0].boardId == bid == 2
    with ape.reverts("options: not owner"):
        options_pool.addStrike(bid, 2_000 * E18, E18, sender=alice)
    with ape.reverts("options: unknown board"):
        options_pool.addStrike(9, 2_000 * E18, E18, sender=owner)
    with ape.reverts("options: bad strike"):
        options_pool.addStrike(bid, 10**11, E18, sender=owner)
    with ape.reverts("options: skew out of bounds"):
        options_pool.addStrike(bid, 2_000 * E18, 3 * E18, sender=owner)
    for i in range(8):
        r = options_pool.addStrike(bid, (1_000 + 100 * i) * E18, E18, sender=owner)
    assert r.events.filter(options_pool.StrikeAdded)[0].strikeId == r.return_value
    with ape.reverts("options: too many strikes"):
        options_pool.addStrike(bid, 2_500 * E18, E18, sender=owner)
    for i in range(6):
        options_pool.addBoard(now + (11 + i) * DAY, E18, DEFAULT_CALL_CAP, sender=owner)
    with ape.reverts("options: too many boards"):
        options_pool.addBoard(now + 20 * DAY, E18, DEFAULT_CALL_CAP, sender=owner)
    chain.pending_timestamp = now + 10 * DAY - 3_600
    with ape.reverts("options: board expired"):
        options_pool.addStrike(bid, 2_600 * E18, E18, sender=owner)
    with ape.reverts("options: not owner"):
        options_pool.setBoardFrozen(1, True, sender=alice)
    with ape.reverts("options: unknown board"):
        options_pool.setBoardFrozen(99, True, sender=owner)
    r = options_pool.setBoardFrozen(1, True, sender=owner)
    assert r.events.filter(options_pool.BoardFrozen)[0].frozen


SETTERS = [
    ("setMaxOracleDelay", (0,), "options: bad oracle delay"),
    ("setMaxOracleDelay", (86_401,), "options: bad oracle delay"),
    ("setImpact", (0, 0, 0), "options: bad standard size"),
    ("setImpact", (10**30 + 1, 0, 0), "options: bad standard size"),
    ("setImpact", (E18, E18 + 1, 0), "options: bad impact"),
    ("setImpact", (E18, 0, E18 + 1), "options: bad impact"),
    ("setFees", (2 * 10**17 + 1, 0, 0), "options: fee too high"),
    ("setFees", (0, 5 * 10**16 + 1, 0), "options: fee too high"),
    ("setFees", (0, 0, 10**24 + 1), "options: fee too high"),
    ("setDeltaBounds", (0, E18 // 2), "options: bad delta bounds"),
    ("setDeltaBounds", (E18 // 2, E18 // 2), "options: bad delta bounds"),
    ("setDeltaBounds", (E18 // 2, E18), "options: bad delta bounds"),
    ("setTradingCutoff", (3_599,), "options: bad trading cutoff"),
    ("setTradingCutoff", (30 * DAY + 1,), "options: bad trading cutoff"),
    ("setIvBounds", (E18, E18, E18 // 2, E18), "options: bad iv bounds"),
    ("setIvBounds", (E18 // 2, E18, E18, E18), "options: bad iv bounds"),
    ("setIvBounds", (E18 // 2, 6 * E18, E18 // 2, E18), "options: bad iv bounds"),
    ("setIvBounds", (E18 // 2, E18, E18 // 2, 101 * E18), "options: bad iv bounds"),
    ("setIvBounds", (10**16, E18, E18 // 2, E18), "options: bad iv bounds"),
    ("setIvBounds", (E18 // 2, 3 * E18, E18 // 2, 2 * E18), "options: bad iv bounds"),
    ("setMaxHedgeBps", (10_001,), "options: bad hedge cap"),
]
GOOD = [
    ("setMaxOracleDelay", (600,)),
    ("setImpact", (10 * E18, 2 * 10**16, 10**16)),
    ("setFees", (2 * 10**16, 5 * 10**14, 500 * E18)),
    ("setDeltaBounds", (10**17, 9 * 10**17)),
    ("setTradingCutoff", (7_200,)),
    ("setIvBounds", (10**17, 2 * E18, 6 * 10**17, 15 * 10**17)),
    ("setMaxHedgeBps", (2_500,)),
]


@pytest.mark.parametrize(
    ("name", "args", "reason"), SETTERS, ids=[f"{s[0]}-{s[2][9:]}" for s in SETTERS]
)
def test_setter_bounds(options_pool, owner, name, args, reason):
    with ape.reverts(reason):
        getattr(options_pool, name)(*args, sender=owner)


def test_setters_owner_only_and_events(options_pool, owner, alice, carol):
    for name, args in GOOD:
        with ape.reverts("options: not owner"):
            getattr(options_pool, name)(*args, sender=alice)
        r = getattr(options_pool, name)(*args, sender=owner)
        assert len(r.events.filter(options_pool.ParametersUpdated)) == 1
    assert (
        options_pool.maxOracleDelay(),
        options_pool.standardSize(),
        options_pool.vegaFee(),
        options_pool.maxHedgeBps(),
    ) == (
        600,
        10 * E18,
        500 * E18,
        2_500,
    )
    with ape.reverts("options: not owner"):
        options_pool.setHedger(alice, sender=alice)
    r = options_pool.setHedger(alice, sender=owner)
    assert r.events.filter(options_pool.HedgerChanged)[0].new_hedger == alice
    with ape.reverts("options: not owner"):
        options_pool.transferOwnership(alice, sender=alice)
    with ape.reverts("options: zero address"):
        options_pool.transferOwnership(ZERO, sender=owner)
    options_pool.transferOwnership(alice, sender=owner)
    assert options_pool.owner() == alice
    with ape.reverts("options: not owner"):
        options_pool.setMaxHedgeBps(1, sender=owner)


def test_view_reverts(options_pool, alice):
    with ape.reverts("options: zero amount"):
        options_pool.quote(2, True, True, 0)
    with ape.reverts("options: unknown strike"):
        options_pool.quote(99, True, True, E18)
    with ape.reverts("options: unknown board"):
        options_pool.boardGreeks(99)
    assert options_pool.utilisation() == 0 and options_pool.nav() == LIQUIDITY

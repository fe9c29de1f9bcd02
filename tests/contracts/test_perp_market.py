"""PerpMarket: hand-computed numbers, events, bounds and every revert path on chain."""

from __future__ import annotations

import ape
import pytest

from sim.venues.perp.twin import PerpParams

pytestmark = pytest.mark.chain

E18 = 10**18
USDC = 10**6
FUNDS = 10_000_000 * USDC
MAX_UINT256 = 2**256 - 1
ZERO = "0x0000000000000000000000000000000000000000"
PRICE = 2_000 * 10**8  # feed answer, 8 decimals
INSURANCE = 100_000 * USDC

PARAMS = PerpParams(
    max_oracle_delay=3_600,
    skew_scale=100_000 * E18,
    taker_fee_bps=5,
    max_funding_rate=10**17,
    initial_margin_bps=1_000,
    maintenance_margin_bps=500,
    liquidation_reward_bps=100,
    liquidation_reward_cap=50 * USDC,
    max_open_interest=10_000 * E18,
    max_position_size=2_000 * E18,
)


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


def deploy_market(project, owner, usdc, feed, users, params=PARAMS, insurance=INSURANCE):
    perp = owner.deploy(project.PerpMarket, usdc, feed, *params.constructor_args())
    for user in users:
        usdc.approve(perp, MAX_UINT256, sender=user)
    if insurance:
        perp.fundInsurance(insurance, sender=owner)
    return perp


@pytest.fixture(scope="module")
def perp(project, owner, alice, bob, carol, usdc, feed):
    return deploy_market(project, owner, usdc, feed, [owner, alice, bob, carol])


@pytest.fixture
def no_funding(perp, owner):
    """Funding off, so that exact numbers do not depend on anvil's block times."""
    perp.setMaxFundingRate(0, sender=owner)


def set_price(chain, feed, owner, answer, wait=0):
    """Publish `answer` in a block `wait` seconds after the head."""
    chain.pending_timestamp = chain.blocks.head.timestamp + wait
    feed.transmit(answer, sender=owner)


def open_long(perp, user, margin, size):
    perp.depositMargin(margin, sender=user)
    return perp.modifyPosition(size, MAX_UINT256, sender=user)


# --- deployment ---------------------------------------------------------------------------


def test_deployment_parameters(perp, usdc, feed, owner):
    assert (perp.quoteToken(), perp.priceFeed(), perp.owner()) == (
        usdc.address,
        feed.address,
        owner.address,
    )
    got = [
        perp.maxOracleDelay(),
        perp.skewScale(),
        perp.takerFeeBps(),
        perp.maxFundingRate(),
        perp.initialMarginBps(),
        perp.maintenanceMarginBps(),
        perp.liquidationRewardBps(),
        perp.liquidationRewardCap(),
        perp.maxOpenInterest(),
        perp.maxPositionSize(),
    ]
    assert got == PARAMS.constructor_args()
    assert perp.oraclePrice() == 2_000 * E18
    assert perp.insuranceFund() == INSURANCE == usdc.balanceOf(perp)
    assert (perp.badDebt(), perp.skew(), perp.fundingRate()) == (0, 0, 0)


def test_defaults_are_valid(project, owner, usdc, feed):
    perp = owner.deploy(project.PerpMarket, usdc, feed, *PerpParams().constructor_args())
    assert perp.skewScale() == 1_000_000 * E18 and perp.takerFeeBps() == 5


BAD_PARAMS = [
    ({"max_oracle_delay": 0}, "perp: invalid oracle delay"),
    ({"max_oracle_delay": 86_401}, "perp: invalid oracle delay"),
    ({"skew_scale": 0}, "perp: invalid skew scale"),
    ({"skew_scale": 10**30 + 1}, "perp: invalid skew scale"),
    ({"taker_fee_bps": 101}, "perp: fee too high"),
    ({"max_funding_rate": E18 + 1}, "perp: funding rate too high"),
    ({"maintenance_margin_bps": 1_000}, "perp: invalid margin ratios"),
    ({"initial_margin_bps": 10_001}, "perp: invalid margin ratios"),
    ({"maintenance_margin_bps": 0}, "perp: invalid margin ratios"),
    ({"liquidation_reward_bps": 500}, "perp: reward too high"),
    ({"max_open_interest": 10**30 + 1}, "perp: cap too large"),
    ({"max_position_size": 10**30 + 1}, "perp: cap too large"),
]


@pytest.mark.parametrize(
    ("change", "reason"), BAD_PARAMS, ids=[f"{k}={v}" for c, _ in BAD_PARAMS for k, v in c.items()]
)
def test_deploy_refuses_bad_parameter(project, owner, usdc, feed, change, reason):
    params = PerpParams(**{**PARAMS.__dict__, **change})
    with ape.reverts(reason):
        owner.deploy(project.PerpMarket, usdc, feed, *params.constructor_args())


def test_deploy_refuses_zero_address_and_decimals(project, owner, usdc, feed):
    with ape.reverts("perp: zero address"):
        owner.deploy(project.PerpMarket, ZERO, feed, *PARAMS.constructor_args())
    odd_feed = owner.deploy(project.PerpTestFeed, 19, 1)
    with ape.reverts("perp: too many decimals"):
        owner.deploy(project.PerpMarket, usdc, odd_feed, *PARAMS.constructor_args())
    odd_token = owner.deploy(project.ERC20, "Odd", "ODD", 19, owner)
    with ape.reverts("perp: too many decimals"):
        owner.deploy(project.PerpMarket, odd_token, feed, *PARAMS.constructor_args())


# --- margin -------------------------------------------------------------------------------


def test_deposit_and_withdraw(perp, usdc, alice):
    before = usdc.balanceOf(alice)
    receipt = perp.depositMargin(1_000 * USDC, sender=alice)
    assert [log.delta for log in receipt.decode_logs(perp.MarginTransferred)] == [1_000 * USDC]
    assert perp.position(alice).margin == 1_000 * USDC == perp.totalMargin()
    receipt = perp.withdrawMargin(400 * USDC, sender=alice)
    assert [log.delta for log in receipt.decode_logs(perp.MarginTransferred)] == [-400 * USDC]
    assert usdc.balanceOf(alice) == before - 600 * USDC
    assert perp.equity(alice) == 600 * USDC


def test_margin_reverts(perp, alice):
    with ape.reverts("perp: zero amount"):
        perp.depositMargin(0, sender=alice)
    with ape.reverts("perp: zero amount"):
        perp.withdrawMargin(0, sender=alice)
    perp.depositMargin(100 * USDC, sender=alice)
    with ape.reverts("perp: insufficient margin"):
        perp.withdrawMargin(100 * USDC + 1, sender=alice)


def test_withdraw_keeps_initial_margin(perp, alice, no_funding):
    open_long(perp, alice, 3_000 * USDC, 10 * E18)
    # IM = 10% of 20,000 = 2,000 USDC; equity = 3,000 - fee - impact (0.1 * 10).
    equity = perp.equity(alice)
    assert equity == 3_000 * USDC - 10_000_500 - 1_000_000
    free = equity - 2_000 * USDC
    with ape.reverts("perp: insufficient margin"):
        perp.withdrawMargin(free + 1, sender=alice)
    perp.withdrawMargin(free, sender=alice)
    assert perp.equity(alice) == 2_000 * USDC


def test_withdraw_with_position_needs_fresh_oracle(perp, alice, chain):
    open_long(perp, alice, 3_000 * USDC, 1 * E18)
    chain.pending_timestamp = chain.blocks.head.timestamp + 3_601
    with ape.reverts("perp: stale oracle"):
        perp.withdrawMargin(1, sender=alice)


def test_fund_insurance(perp, owner):
    with ape.reverts("perp: zero amount"):
        perp.fundInsurance(0, sender=owner)
    receipt = perp.fundInsurance(5 * USDC, sender=owner)
    [log] = receipt.decode_logs(perp.InsuranceFundChanged)
    assert (log.delta, log.insuranceFund, log.badDebt) == (5 * USDC, INSURANCE + 5 * USDC, 0)


# --- trading ------------------------------------------------------------------------------


def test_open_long_numbers_and_events(perp, alice, usdc):
    # fill = 2000 * (1 + (0 + 10/100,000) / 2) = 2000.1; fee = 5 bps of 20,001 USDC.
    assert perp.fillPrice(10 * E18) == 2_000_100_000_000_000_000_000
    assert perp.tradeFee(10 * E18) == 10_000_500
    perp.depositMargin(3_000 * USDC, sender=alice)
    receipt = perp.modifyPosition(10 * E18, 2_000_100_000_000_000_000_000, sender=alice)
    [log] = receipt.decode_logs(perp.PositionModified)
    assert (log.sizeDelta, log.size, log.fillPrice, log.fee, log.margin) == (
        10 * E18,
        10 * E18,
        2_000_100_000_000_000_000_000,
        10_000_500,
        3_000 * USDC - 10_000_500,
    )
    pos = perp.position(alice)
    assert (pos.size, pos.margin, pos.lastPrice) == (
        10 * E18,
        3_000 * USDC - 10_000_500,
        2_000_100_000_000_000_000_000,
    )
    assert perp.openInterest() == (10 * E18, 0) and perp.skew() == 10 * E18
    assert perp.insuranceFund() == INSURANCE + 10_000_500
    assert usdc.balanceOf(perp) == perp.totalMargin() + perp.insuranceFund() - perp.badDebt()


def test_short_reduces_skew_at_a_better_price(perp, alice, bob):
    open_long(perp, alice, 3_000 * USDC, 10 * E18)
    # bob sells 10 into a +10 skew: mean premium (10 + 0) / 2 / 100,000 = +0.005 %.
    assert perp.fillPrice(-10 * E18) == 2_000_100_000_000_000_000_000
    perp.depositMargin(3_000 * USDC, sender=bob)
    perp.modifyPosition(-10 * E18, 2_000 * E18, sender=bob)
    assert perp.openInterest() == (10 * E18, 10 * E18) and perp.skew() == 0


def test_funding_accrues_with_skew(perp, alice, bob, owner, feed, chain):
    open_long(perp, alice, 3_000 * USDC, 10 * E18)
    # rate = 10 / 100,000 * 10 % a day = 1e13 wad a day; one day at 2000 adds 0.02 to the index.
    assert perp.fundingRate() == 10**13
    start = chain.blocks.head.timestamp
    set_price(chain, feed, owner, PRICE, wait=86_400)
    assert chain.blocks.head.timestamp == start + 86_400
    assert perp.currentFundingIndex() == 2 * 10**16
    assert perp.equity(alice) == 3_000 * USDC - 10_000_500 - 1_000_000 - 200_000
    # Settled on the next change, in the same second: the accrual uses the rate before it.
    chain.pending_timestamp = start + 86_400
    receipt = perp.modifyPosition(-10 * E18, 0, sender=alice)
    [accrued] = receipt.decode_logs(perp.FundingAccrued)
    assert (accrued.fundingIndex, accrued.fundingRate) == (2 * 10**16, 10**13)
    assert perp.position(alice).size == 0
    assert perp.position(alice).lastFundingIndex == 2 * 10**16


def test_flip_and_close(perp, alice):
    open_long(perp, alice, 10_000 * USDC, 10 * E18)
    perp.modifyPosition(-15 * E18, 0, sender=alice)
    assert perp.position(alice).size == -5 * E18 and perp.openInterest() == (0, 5 * E18)
    perp.modifyPosition(5 * E18, MAX_UINT256, sender=alice)
    assert perp.position(alice).size == 0 and perp.openInterest() == (0, 0)


def test_modify_reverts(perp, alice, chain):
    with ape.reverts("perp: expired"):
        perp.modifyPosition(E18, MAX_UINT256, chain.blocks.head.timestamp - 1, sender=alice)
    with ape.reverts("perp: zero size"):
        perp.modifyPosition(0, 0, sender=alice)
    with ape.reverts("perp: insufficient margin"):
        perp.modifyPosition(E18, MAX_UINT256, sender=alice)
    perp.depositMargin(100_000 * USDC, sender=alice)
    with ape.reverts("perp: price exceeds acceptable"):
        perp.modifyPosition(10 * E18, 2_000_100_000_000_000_000_000 - 1, sender=alice)
    with ape.reverts("perp: price exceeds acceptable"):
        perp.modifyPosition(-10 * E18, 2_000 * E18, sender=alice)
    with ape.reverts("perp: position too large"):
        perp.modifyPosition(2_000 * E18 + 1, MAX_UINT256, sender=alice)


def test_insufficient_margin_to_grow(perp, alice):
    perp.depositMargin(2_000 * USDC, sender=alice)
    # 10 ETH needs 2,000 USDC of IM, plus fee and impact.
    with ape.reverts("perp: insufficient margin"):
        perp.modifyPosition(10 * E18, MAX_UINT256, sender=alice)
    perp.modifyPosition(9 * E18, MAX_UINT256, sender=alice)


def test_reduce_needs_maintenance_margin(perp, alice, owner, feed, chain, no_funding):
    open_long(perp, alice, 2_100 * USDC, 10 * E18)
    set_price(chain, feed, owner, 1_900 * 10**8)
    # equity = 2,089.9995 - 1,001 > MM 950: reducing by 1 realises the loss at the fill
    # 1900.1805 and pays a fee of 0.950091.
    perp.modifyPosition(-1 * E18, 0, sender=alice)
    assert perp.position(alice).margin == 2_089_999_500 - 999_195_000 - 950_091
    set_price(chain, feed, owner, 1_855 * 10**8)
    # equity 683.229909 < MM(9) = 834.75: liquidatable. Selling 1 would leave less than
    # MM(8) = 742, so it is refused; selling 5 leaves more than MM(4) = 371 and de-risks.
    assert perp.equity(alice) == 683_229_909 and perp.liquidatable(alice)
    with ape.reverts("perp: insufficient margin"):
        perp.modifyPosition(-1 * E18, 0, sender=alice)
    perp.modifyPosition(-5 * E18, 0, sender=alice)
    assert perp.position(alice).margin == 1_089_854_409 - 405_539_325 - 4_637_802
    assert not perp.liquidatable(alice)


def test_open_interest_cap(perp, alice, bob, carol, owner):
    perp.setCaps(15 * E18, 2_000 * E18, sender=owner)
    open_long(perp, alice, 10_000 * USDC, 10 * E18)
    perp.depositMargin(10_000 * USDC, sender=bob)
    with ape.reverts("perp: open interest cap"):
        perp.modifyPosition(6 * E18, MAX_UINT256, sender=bob)
    perp.modifyPosition(5 * E18, MAX_UINT256, sender=bob)
    # A lowered cap never traps a position: reducing still works.
    perp.setCaps(0, 0, sender=owner)
    perp.modifyPosition(-5 * E18, 0, sender=bob)
    perp.depositMargin(10_000 * USDC, sender=carol)
    with ape.reverts("perp: position too large"):
        perp.modifyPosition(-1, 0, sender=carol)


def test_invalid_fill_price(perp, alice, owner):
    perp.setSkewScale(1 * E18, sender=owner)
    perp.depositMargin(1_000_000 * USDC, sender=alice)
    # fill = p + p * (-2) / 2 = 0
    with ape.reverts("perp: invalid fill price"):
        perp.modifyPosition(-2 * E18, 0, sender=alice)
    with ape.reverts("perp: invalid fill price"):
        perp.fillPrice(-2 * E18)


def test_oracle_reverts(project, owner, usdc, alice, chain):
    feed = owner.deploy(project.PerpTestFeed, 8, PRICE)
    perp = deploy_market(project, owner, usdc, feed, [owner, alice], insurance=0)
    perp.depositMargin(10_000 * USDC, sender=alice)
    feed.set(0, chain.blocks.head.timestamp, sender=owner)
    with ape.reverts("perp: invalid oracle price"):
        perp.modifyPosition(E18, MAX_UINT256, sender=alice)
    feed.set(-1, chain.blocks.head.timestamp, sender=owner)
    with ape.reverts("perp: invalid oracle price"):
        perp.oraclePrice()
    now = chain.blocks.head.timestamp + 10
    feed.set(PRICE, now - 3_600, sender=owner)
    chain.pending_timestamp = now
    perp.modifyPosition(E18, MAX_UINT256, sender=alice)  # exactly at the limit
    chain.pending_timestamp = now + 1
    with ape.reverts("perp: stale oracle"):
        perp.modifyPosition(E18, MAX_UINT256, sender=alice)


# --- liquidation --------------------------------------------------------------------------


def test_liquidation_numbers(perp, alice, bob, owner, feed, usdc, chain, no_funding):
    open_long(perp, alice, 2_100 * USDC, 10 * E18)
    with ape.reverts("perp: not liquidatable"):
        perp.liquidate(alice, sender=bob)
    with ape.reverts("perp: no position"):
        perp.liquidate(bob, sender=bob)
    set_price(chain, feed, owner, 1_850 * 10**8)
    margin = 2_100 * USDC - 10_000_500
    # equity = margin + 10 * (1850 - 2000.1) = 588.9995 USDC < MM = 925 USDC
    assert perp.equity(alice) == margin - 1_501 * USDC
    assert perp.liquidatable(alice)
    fund, bob_before = perp.insuranceFund(), usdc.balanceOf(bob)
    chain.pending_timestamp = chain.blocks.head.timestamp
    receipt = perp.liquidate(alice, sender=bob)
    [log] = receipt.decode_logs(perp.PositionLiquidated)
    # reward = min(1 % of 18,500, cap 50, equity) = 50 USDC
    assert (log.size, log.price, log.reward, log.deficit) == (10 * E18, 1_850 * E18, 50 * USDC, 0)
    assert usdc.balanceOf(bob) - bob_before == 50 * USDC
    assert perp.insuranceFund() == fund + margin - 50 * USDC
    assert perp.position(alice).size == 0 and perp.openInterest() == (0, 0)
    assert perp.totalMargin() == 0 and not perp.liquidatable(alice)


def test_liquidation_beyond_margin_pays_no_reward(perp, alice, bob, owner, feed, chain, no_funding):
    open_long(perp, alice, 2_100 * USDC, 10 * E18)
    set_price(chain, feed, owner, 1_700 * 10**8)
    margin = 2_100 * USDC - 10_000_500
    equity = margin - 3_001 * USDC
    assert perp.equity(alice) == equity < 0
    fund = perp.insuranceFund()
    chain.pending_timestamp = chain.blocks.head.timestamp
    log = perp.liquidate(alice, sender=bob).decode_logs(perp.PositionLiquidated)[0]
    assert (log.reward, log.deficit) == (0, -equity)
    assert perp.insuranceFund() == fund + margin


def test_bad_debt_recorded_then_repaid(project, owner, usdc, feed, alice, bob, chain):
    params = PerpParams(**{**PARAMS.__dict__, "max_funding_rate": 0})
    perp = deploy_market(project, owner, usdc, feed, [owner, alice, bob], params, insurance=0)
    perp.depositMargin(3_000 * USDC, sender=bob)
    perp.modifyPosition(-10 * E18, 0, sender=bob)  # fills at 1999.9, fee 9.9995
    assert perp.insuranceFund() == 9_999_500
    set_price(chain, feed, owner, 1_500 * 10**8)
    # Buys back at 1499.925: +4,999.75 realised, fee 7.499625; the fund pays what it has.
    receipt = perp.modifyPosition(10 * E18, MAX_UINT256, sender=bob)
    assert perp.position(bob).margin == 3_000 * USDC - 9_999_500 + 4_999_750_000 - 7_499_625
    [change] = receipt.decode_logs(perp.InsuranceFundChanged)
    assert (change.delta, change.insuranceFund, change.badDebt) == (
        7_499_625 - 4_999_750_000,
        0,
        4_999_750_000 - 7_499_625 - 9_999_500,
    )
    assert perp.badDebt() == change.badDebt
    assert usdc.balanceOf(perp) == perp.totalMargin() - perp.badDebt() == 3_000 * USDC
    with ape.reverts("erc20: insufficient balance"):
        perp.withdrawMargin(perp.position(bob).margin, sender=bob)
    debt = perp.badDebt()
    perp.fundInsurance(debt + 7, sender=owner)
    assert (perp.badDebt(), perp.insuranceFund()) == (0, 7)
    perp.withdrawMargin(perp.position(bob).margin, sender=bob)
    assert usdc.balanceOf(perp) == 7


# --- owner --------------------------------------------------------------------------------

SETTERS = [
    ("setMaxOracleDelay", (0,), "perp: invalid oracle delay"),
    ("setMaxOracleDelay", (86_401,), "perp: invalid oracle delay"),
    ("setSkewScale", (0,), "perp: invalid skew scale"),
    ("setSkewScale", (10**30 + 1,), "perp: invalid skew scale"),
    ("setTakerFee", (101,), "perp: fee too high"),
    ("setMaxFundingRate", (E18 + 1,), "perp: funding rate too high"),
    ("setMarginRatios", (500, 500), "perp: invalid margin ratios"),
    ("setMarginRatios", (10_001, 500), "perp: invalid margin ratios"),
    ("setMarginRatios", (1_000, 100), "perp: invalid margin ratios"),
    ("setLiquidationReward", (500, 0), "perp: reward too high"),
    ("setCaps", (10**30 + 1, 0), "perp: cap too large"),
    ("setCaps", (0, 10**30 + 1), "perp: cap too large"),
]
GOOD = {
    "setMaxOracleDelay": (60,),
    "setSkewScale": (E18,),
    "setTakerFee": (100,),
    "setMaxFundingRate": (E18,),
    "setMarginRatios": (10_000, 200),
    "setLiquidationReward": (0, 0),
    "setCaps": (10**30, 10**30),
    "transferOwnership": ("0x000000000000000000000000000000000000dEaD",),
}


@pytest.mark.parametrize(
    ("setter", "args", "reason"), SETTERS, ids=[f"{s}{a}" for s, a, _ in SETTERS]
)
def test_setter_bounds(perp, owner, setter, args, reason):
    with ape.reverts(reason):
        getattr(perp, setter)(*args, sender=owner)


@pytest.mark.parametrize("setter", sorted(GOOD))
def test_setters_owner_only_and_logged(perp, owner, alice, setter):
    with ape.reverts("perp: not owner"):
        getattr(perp, setter)(*GOOD[setter], sender=alice)
    receipt = getattr(perp, setter)(*GOOD[setter], sender=owner)
    if setter == "transferOwnership":
        assert perp.owner() == GOOD[setter][0]
    else:
        assert [log.value for log in receipt.decode_logs(perp.ParameterUpdated)] == list(
            GOOD[setter]
        )


def test_transfer_ownership_refuses_zero(perp, owner):
    with ape.reverts("perp: zero address"):
        perp.transferOwnership(ZERO, sender=owner)


def test_funding_setters_accrue_and_need_oracle(perp, alice, owner, feed, chain):
    open_long(perp, alice, 3_000 * USDC, 10 * E18)
    set_price(chain, feed, owner, PRICE, wait=3_600)
    chain.pending_timestamp = chain.blocks.head.timestamp
    receipt = perp.setMaxFundingRate(0, sender=owner)
    [accrued] = receipt.decode_logs(perp.FundingAccrued)
    assert accrued.fundingIndex == 10**13 * 2_000 * 3_600 // 86_400
    chain.pending_timestamp = chain.blocks.head.timestamp + 3_601
    with ape.reverts("perp: stale oracle"):
        perp.setSkewScale(E18, sender=owner)

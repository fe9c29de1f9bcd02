"""ConstantProductPool: Uniswap V2's published vectors on chain and twin, and every revert."""

from __future__ import annotations

import ape
import pytest

from sim.venues.cpmm.twin import MINIMUM_LIQUIDITY, ZERO_ADDRESS, encode_price

E18 = 10**18

pytestmark = pytest.mark.chain


# --- deployment ---------------------------------------------------------------------------


def test_tokens_sorted_and_metadata(pool, token_a, token_b):
    low, high = sorted([token_a.address, token_b.address], key=lambda a: int(a, 16))
    assert (pool.token0(), pool.token1()) == (low, high)
    assert pool.feeBps() == 30
    assert pool.MINIMUM_LIQUIDITY() == MINIMUM_LIQUIDITY
    assert (pool.name(), pool.symbol(), pool.decimals()) == ("ammlab CPMM LP", "AMM-LP", 18)
    assert pool.getReserves() == (0, 0, 0)


def test_deploy_either_order_same_sorting(project, owner, token_a, token_b, pool):
    other = owner.deploy(project.ConstantProductPool, token_b, token_a, 5)
    assert (other.token0(), other.token1()) == (pool.token0(), pool.token1())
    assert other.feeBps() == 5


@pytest.mark.parametrize(
    ("fee", "same", "reason"),
    [
        (10_000, False, "pool: fee too high"),
        (30, True, "pool: identical tokens"),
    ],
    ids=["fee-10000bps", "identical-tokens"],
)
def test_deploy_refused(project, owner, token_a, token_b, fee, same, reason):
    with ape.reverts(reason):
        owner.deploy(project.ConstantProductPool, token_a, token_a if same else token_b, fee)


def test_deploy_refuses_zero_address(project, owner, token_a):
    with ape.reverts("pool: zero address"):
        owner.deploy(project.ConstantProductPool, token_a, ZERO_ADDRESS, 30)


# --- Uniswap V2 vectors (v2-core test/UniswapV2Pair.spec.ts) -----------------------------


def add_liquidity(t, amount0: int, amount1: int) -> None:
    t.transfer_in(amount0, amount1)
    assert t.mint(t.user).reason is None


def test_mint_v2_vector(twinned, pool, alice):
    twinned.transfer_in(1 * E18, 4 * E18)
    assert pool.totalSupply() == 0
    assert twinned.mint(alice).reason is None
    # isqrt(1e18 * 4e18) = 2e18, of which MINIMUM_LIQUIDITY is locked at address(0).
    assert pool.totalSupply() == 2 * E18
    assert pool.balanceOf(alice) == 2 * E18 - MINIMUM_LIQUIDITY
    assert pool.balanceOf(ZERO_ADDRESS) == MINIMUM_LIQUIDITY
    assert pool.getReserves()[:2] == (1 * E18, 4 * E18)
    twinned.assert_same_state()


def test_mint_events(twinned, pool, alice):
    twinned.transfer_in(1 * E18, 4 * E18)
    receipt = pool.mint(alice, sender=alice)
    transfers = [
        (log.sender, log.receiver, log.value) for log in receipt.decode_logs(pool.Transfer)
    ]
    assert transfers == [
        (ZERO_ADDRESS, ZERO_ADDRESS, MINIMUM_LIQUIDITY),
        (ZERO_ADDRESS, alice.address, 2 * E18 - MINIMUM_LIQUIDITY),
    ]
    [sync] = receipt.decode_logs(pool.Sync)
    assert (sync.reserve0, sync.reserve1) == (1 * E18, 4 * E18)
    [mint] = receipt.decode_logs(pool.Mint)
    assert (mint.sender, mint.amount0, mint.amount1) == (alice.address, 1 * E18, 4 * E18)


# [swapAmount, token0Amount, token1Amount, expectedOutputAmount]
GET_INPUT_PRICE = [
    (1 * E18, 5 * E18, 10 * E18, 1662497915624478906),
    (1 * E18, 10 * E18, 5 * E18, 453305446940074565),
    (2 * E18, 5 * E18, 10 * E18, 2851015155847869602),
    (2 * E18, 10 * E18, 5 * E18, 831248957812239453),
    (1 * E18, 10 * E18, 10 * E18, 906610893880149131),
    (1 * E18, 100 * E18, 100 * E18, 987158034397061298),
    (1 * E18, 1000 * E18, 1000 * E18, 996006981039903216),
]


@pytest.mark.parametrize(
    ("swap_amount", "amount0", "amount1", "expected"),
    GET_INPUT_PRICE,
    ids=[f"getInputPrice:{i}" for i in range(len(GET_INPUT_PRICE))],
)
def test_get_input_price(twinned, alice, swap_amount, amount0, amount1, expected):
    add_liquidity(twinned, amount0, amount1)
    twinned.transfer_in(swap_amount, 0)
    assert twinned.swap(0, expected + 1, alice).reason == "pool: K"
    assert twinned.swap(0, expected, alice).reason is None
    twinned.assert_same_state()


# [outputAmount, token0Amount, token1Amount, inputAmount]
OPTIMISTIC = [
    (997000000000000000, 5 * E18, 10 * E18, 1 * E18),  # amountOut = floor(in * .997)
    (997000000000000000, 10 * E18, 5 * E18, 1 * E18),
    (997000000000000000, 5 * E18, 5 * E18, 1 * E18),
    (1 * E18, 5 * E18, 5 * E18, 1003009027081243732),  # amountIn = ceil(out / .997)
]


@pytest.mark.parametrize(
    ("output", "amount0", "amount1", "input_"),
    OPTIMISTIC,
    ids=[f"optimistic:{i}" for i in range(len(OPTIMISTIC))],
)
def test_optimistic(twinned, alice, output, amount0, amount1, input_):
    add_liquidity(twinned, amount0, amount1)
    twinned.transfer_in(input_, 0)
    assert twinned.swap(output + 1, 0, alice).reason == "pool: K"
    assert twinned.swap(output, 0, alice).reason is None
    twinned.assert_same_state()


@pytest.mark.parametrize(
    ("zero_in", "expected"),
    [(True, 1662497915624478906), (False, 453305446940074565)],
    ids=["swap:token0", "swap:token1"],
)
def test_swap_vectors(twinned, pool, token0, token1, alice, bob, zero_in, expected):
    add_liquidity(twinned, 5 * E18, 10 * E18)
    token_in, token_out = (token0, token1) if zero_in else (token1, token0)
    twinned.transfer_in(*((E18, 0) if zero_in else (0, E18)))
    out_before = token_out.balanceOf(bob)
    outs = (0, expected) if zero_in else (expected, 0)
    receipt = pool.swap(*outs, bob, b"", sender=alice)
    twinned.twin.swap(*outs, bob.address, twinned.chain.blocks[receipt.block_number].timestamp)
    assert token_out.balanceOf(bob) - out_before == expected
    reserves = (5 * E18 + E18, 10 * E18 - expected) if zero_in else (5 * E18 - expected, 11 * E18)
    assert pool.getReserves()[:2] == reserves
    assert (token0.balanceOf(pool), token1.balanceOf(pool)) == reserves
    [swap] = receipt.decode_logs(pool.Swap)
    ins = (E18, 0) if zero_in else (0, E18)
    assert (swap.sender, swap.amount0In, swap.amount1In) == (alice.address, *ins)
    assert (swap.amount0Out, swap.amount1Out, swap.to) == (*outs, bob.address)
    twinned.assert_same_state()


def test_burn_v2_vector(twinned, pool, token0, token1, alice):
    add_liquidity(twinned, 3 * E18, 3 * E18)
    before = (token0.balanceOf(alice), token1.balanceOf(alice))
    assert twinned.transfer_lp(3 * E18 - MINIMUM_LIQUIDITY).reason is None
    receipt = pool.burn(alice, sender=alice)
    twinned.twin.burn(alice.address, twinned.chain.blocks[receipt.block_number].timestamp)
    [burn] = receipt.decode_logs(pool.Burn)
    assert (burn.amount0, burn.amount1, burn.to) == (3 * E18 - 1000, 3 * E18 - 1000, alice.address)
    assert pool.balanceOf(alice) == 0
    assert pool.totalSupply() == MINIMUM_LIQUIDITY
    assert (token0.balanceOf(pool), token1.balanceOf(pool)) == (1000, 1000)
    after = (token0.balanceOf(alice), token1.balanceOf(alice))
    assert (after[0] - before[0], after[1] - before[1]) == (3 * E18 - 1000, 3 * E18 - 1000)
    twinned.assert_same_state()


def test_price_cumulative_last_v2_vector(twinned, pool, alice):
    add_liquidity(twinned, 3 * E18, 3 * E18)
    start = pool.getReserves()[2]
    twinned.chain.pending_timestamp = start + 1
    twinned.sync()
    initial = (encode_price(3 * E18, 3 * E18), encode_price(3 * E18, 3 * E18))
    assert (pool.price0CumulativeLast(), pool.price1CumulativeLast()) == initial
    assert pool.getReserves()[2] == start + 1

    twinned.transfer_in(3 * E18, 0)
    twinned.chain.pending_timestamp = start + 10
    assert twinned.swap(0, 1 * E18, alice).reason is None  # makes the price 6:2
    assert pool.price0CumulativeLast() == initial[0] * 10
    assert pool.price1CumulativeLast() == initial[1] * 10
    assert pool.getReserves()[2] == start + 10

    twinned.chain.pending_timestamp = start + 20
    twinned.sync()
    assert pool.price0CumulativeLast() == initial[0] * 10 + encode_price(2 * E18, 6 * E18) * 10
    assert pool.price1CumulativeLast() == initial[1] * 10 + encode_price(6 * E18, 2 * E18) * 10
    assert pool.getReserves()[2] == start + 20
    twinned.assert_same_state()


def test_fee_to_off_v2_vector(twinned, pool, alice):
    add_liquidity(twinned, 1000 * E18, 1000 * E18)
    twinned.transfer_in(0, E18)
    assert twinned.swap(996006981039903216, 0, alice).reason is None
    assert twinned.transfer_lp(1000 * E18 - MINIMUM_LIQUIDITY).reason is None
    assert twinned.burn(alice).reason is None
    assert pool.totalSupply() == MINIMUM_LIQUIDITY  # no protocol fee is ever minted
    twinned.assert_same_state()


def test_timestamp_wraps_modulo_2_32(twinned, pool):
    add_liquidity(twinned, 3 * E18, 6 * E18)
    twinned.chain.pending_timestamp = 2**32 - 5
    twinned.sync()
    p0 = pool.price0CumulativeLast()
    assert pool.getReserves()[2] == 2**32 - 5
    twinned.chain.pending_timestamp = 2**32 + 5
    twinned.sync()
    assert pool.getReserves()[2] == 5
    assert pool.price0CumulativeLast() - p0 == encode_price(6 * E18, 3 * E18) * 10
    twinned.assert_same_state()


# --- reverts --------------------------------------------------------------------------------


def test_mint_first_too_small(twinned, alice):
    twinned.transfer_in(1000, 1000)  # isqrt = 1000 = MINIMUM_LIQUIDITY: nothing left
    assert twinned.mint(alice).reason == "pool: insufficient liquidity minted"
    twinned.transfer_in(1, 1)
    assert twinned.mint(alice).reason is None
    twinned.assert_same_state()


def test_mint_nothing_deposited(twinned, alice):
    add_liquidity(twinned, E18, E18)
    assert twinned.mint(alice).reason == "pool: insufficient liquidity minted"
    twinned.transfer_in(E18, 0)  # one-sided: the min of both shares is zero
    assert twinned.mint(alice).reason == "pool: insufficient liquidity minted"


def test_burn_without_lp(twinned, alice):
    assert twinned.burn(alice).reason == "pool: insufficient liquidity burned"
    add_liquidity(twinned, E18, E18)
    assert twinned.burn(alice).reason == "pool: insufficient liquidity burned"


@pytest.mark.parametrize(
    ("outs", "reason"),
    [
        ((0, 0), "pool: insufficient output amount"),
        ((E18, 0), "pool: insufficient liquidity"),
        ((0, 2 * E18), "pool: insufficient liquidity"),
        ((1, 0), "pool: insufficient input amount"),
    ],
    ids=["zero-out", "out0-equals-reserve", "out1-above-reserve", "nothing-in"],
)
def test_swap_reverts(twinned, alice, outs, reason):
    add_liquidity(twinned, E18, 2 * E18)
    assert twinned.swap(*outs, alice).reason == reason


def test_swap_to_token_refused(twinned, token0, token1):
    add_liquidity(twinned, E18, E18)
    twinned.transfer_in(E18, 0)
    assert twinned.swap(0, 1, token0).reason == "pool: invalid to"
    assert twinned.swap(0, 1, token1).reason == "pool: invalid to"


def test_overflow_then_skim_recovers(twinned, alice, bob):
    add_liquidity(twinned, E18, E18)
    twinned.transfer_in(2**112, 0)
    assert twinned.sync().reason == "pool: overflow"
    assert twinned.mint(alice).reason == "pool: overflow"
    assert twinned.swap(0, 1, alice).reason == "pool: overflow"
    assert twinned.skim(bob).reason is None
    assert twinned.sync().reason is None
    twinned.assert_same_state()


def test_skim_and_sync(twinned, pool, token0, alice, bob):
    add_liquidity(twinned, E18, E18)
    twinned.transfer_in(123, 456)
    before = token0.balanceOf(bob)
    assert twinned.skim(bob).reason is None
    assert token0.balanceOf(bob) - before == 123
    twinned.transfer_in(7, 0)
    assert twinned.sync().reason is None
    assert pool.getReserves()[:2] == (E18 + 7, E18)
    twinned.assert_same_state()


def test_lp_token_transfer_and_allowance(pool, twinned, alice, bob):
    add_liquidity(twinned, E18, E18)
    with ape.reverts("pool: insufficient balance"):
        pool.transfer(bob, E18, sender=alice)
    with ape.reverts("pool: insufficient allowance"):
        pool.transferFrom(alice, bob, 1, sender=bob)
    pool.approve(bob, 10, sender=alice)
    pool.transferFrom(alice, bob, 4, sender=bob)
    assert pool.allowance(alice, bob) == 6
    pool.approve(bob, 2**256 - 1, sender=alice)
    pool.transferFrom(alice, bob, 5, sender=bob)
    assert pool.allowance(alice, bob) == 2**256 - 1
    assert pool.balanceOf(bob) == 9


# --- flash swaps ---------------------------------------------------------------------------


def test_flash_swap_repaid(twinned, pool, borrower, token0, alice):
    add_liquidity(twinned, 5 * E18, 10 * E18)
    borrowed = E18
    # Repaying the same token: in >= out / 0.997 rounded up, as V2's optimistic:3 vector.
    repay = borrowed * 10_000 // 9_970 + 1
    receipt = borrower.borrow(pool, borrowed, 0, repay, 0, False, sender=alice)
    assert borrower.lastSender() == borrower.address
    assert (borrower.lastAmount0(), borrower.lastAmount1()) == (borrowed, 0)
    [swap] = receipt.decode_logs(pool.Swap)
    assert (swap.amount0In, swap.amount0Out) == (repay, borrowed)
    assert token0.balanceOf(pool) == 5 * E18 + repay - borrowed

    def pay(twin):
        twin.transfer_in(repay, 0)

    ts = twinned.chain.blocks[receipt.block_number].timestamp
    twinned.twin.swap(borrowed, 0, borrower.address, ts, callback=pay)
    twinned.assert_same_state()


def test_flash_swap_underpaid_reverts_k(twinned, pool, borrower, alice):
    add_liquidity(twinned, 5 * E18, 10 * E18)
    with ape.reverts("pool: K"):
        borrower.borrow(pool, E18, 0, E18 * 10_000 // 9_970 - 1, 0, False, sender=alice)
    with ape.reverts("pool: insufficient input amount"):
        borrower.borrow(pool, E18, 0, 0, 0, False, sender=alice)


def test_flash_swap_reentrancy_blocked(twinned, pool, borrower, alice):
    add_liquidity(twinned, 5 * E18, 10 * E18)
    # The callback calls pool.sync() while swap holds the lock: Vyper's @nonreentrant
    # reverts without a reason string.
    with ape.reverts() as info:
        borrower.borrow(pool, E18, 0, 2 * E18, 0, True, sender=alice)
    # Ape's placeholder when the revert data holds no reason string.
    assert info.value.revert_message in (None, "", "Transaction failed.")
    twinned.assert_same_state()
    # The same flash swap without re-entering goes through.
    borrower.borrow(pool, E18, 0, 2 * E18, 0, False, sender=alice)

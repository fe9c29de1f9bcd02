"""The constant-product twin alone (no chain): Uniswap V2's vectors and its invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import Revert
from sim.venues.cpmm import twin as cpmm
from sim.venues.cpmm.twin import MINIMUM_LIQUIDITY, ZERO_ADDRESS, CPMMPool

E18 = 10**18


def seeded(amount0: int, amount1: int, fee_bps: int = 30) -> CPMMPool:
    pool = CPMMPool(fee_bps=fee_bps, address="pool", token0="t0", token1="t1")
    pool.transfer_in(amount0, amount1)
    pool.mint("lp", 1)
    return pool


# --- Uniswap V2 vectors (v2-core test/UniswapV2Pair.spec.ts) -------------------------------

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
def test_get_input_price(swap_amount, amount0, amount1, expected):
    assert cpmm.get_amount_out(swap_amount, amount0, amount1) == expected
    pool = seeded(amount0, amount1)
    pool.transfer_in(swap_amount, 0)
    with pytest.raises(Revert, match="pool: K"):
        pool.swap(0, expected + 1, "user", 2)
    assert pool.swap(0, expected, "user", 2) == (swap_amount, 0)
    assert pool.get_reserves() == (amount0 + swap_amount, amount1 - expected, 2)


OPTIMISTIC = [
    (997000000000000000, 5 * E18, 10 * E18, 1 * E18),
    (997000000000000000, 10 * E18, 5 * E18, 1 * E18),
    (997000000000000000, 5 * E18, 5 * E18, 1 * E18),
    (1 * E18, 5 * E18, 5 * E18, 1003009027081243732),
]


@pytest.mark.parametrize(
    ("output", "amount0", "amount1", "input_"),
    OPTIMISTIC,
    ids=[f"optimistic:{i}" for i in range(len(OPTIMISTIC))],
)
def test_optimistic(output, amount0, amount1, input_):
    pool = seeded(amount0, amount1)
    pool.transfer_in(input_, 0)
    with pytest.raises(Revert, match="pool: K"):
        pool.swap(output + 1, 0, "user", 2)
    pool.swap(output, 0, "user", 2)


def test_first_mint_is_sqrt_minus_minimum():
    pool = CPMMPool()
    pool.transfer_in(1 * E18, 4 * E18)
    assert pool.mint("lp", 1) == 2 * E18 - MINIMUM_LIQUIDITY
    assert pool.total_supply == 2 * E18
    assert pool.lp_balance(ZERO_ADDRESS) == MINIMUM_LIQUIDITY


def test_burn_vector():
    pool = seeded(3 * E18, 3 * E18)
    pool.transfer_lp("lp", "pool", 3 * E18 - MINIMUM_LIQUIDITY)
    assert pool.burn("lp", 2) == (3 * E18 - 1000, 3 * E18 - 1000)
    assert (pool.balance0, pool.balance1, pool.total_supply) == (1000, 1000, MINIMUM_LIQUIDITY)


def test_price_cumulative_vector():
    pool = seeded(3 * E18, 3 * E18)
    pool.sync(2)
    initial = cpmm.encode_price(3 * E18, 3 * E18)
    assert (pool.price0_cumulative_last, pool.price1_cumulative_last) == (initial, initial)
    pool.transfer_in(3 * E18, 0)
    pool.swap(0, E18, "user", 11)
    assert pool.price0_cumulative_last == initial * 10
    pool.sync(21)
    assert pool.price0_cumulative_last == initial * 10 + cpmm.encode_price(2, 6) * 10
    assert pool.price1_cumulative_last == initial * 10 + cpmm.encode_price(6, 2) * 10


def test_router_library_vectors():
    # v2-periphery test/UniswapV2Router01.spec.ts
    assert cpmm.quote(1, 100, 200) == 2
    assert cpmm.quote(2, 200, 100) == 1
    assert cpmm.get_amount_out(2, 100, 100) == 1
    assert cpmm.get_amount_in(1, 100, 100) == 2


# --- wraps and failures -------------------------------------------------------------------


def test_timestamp_and_accumulator_wrap():
    pool = seeded(3 * E18, 6 * E18)
    pool.sync(2**32 - 5)
    pool.price0_cumulative_last = 2**256 - 1
    pool.sync(2**32 + 5)
    assert pool.block_timestamp_last == 5
    assert pool.price0_cumulative_last == cpmm.encode_price(6, 3) * 10 - 1


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda p: p.swap(0, 0, "u", 2), "pool: insufficient output amount"),
        (lambda p: p.swap(E18, 0, "u", 2), "pool: insufficient liquidity"),
        (lambda p: p.swap(1, 0, "t1", 2), "pool: invalid to"),
        (lambda p: p.swap(1, 0, ZERO_ADDRESS, 2), "erc20: transfer to zero address"),
        (lambda p: p.swap(1, 0, "u", 2), "pool: insufficient input amount"),
        (lambda p: p.mint("u", 2), "pool: insufficient liquidity minted"),
        (lambda p: p.burn("u", 2), "pool: insufficient liquidity burned"),
        (lambda p: p.transfer_lp("u", "pool", 1), "pool: insufficient balance"),
        (lambda p: p.skim(ZERO_ADDRESS), "erc20: transfer to zero address"),
    ],
    ids=[
        "zero-out",
        "no-liquidity",
        "to-token",
        "to-zero",
        "nothing-in",
        "mint-nothing",
        "burn-nothing",
        "lp-balance",
        "skim-zero",
    ],
)
def test_reverts_leave_state_unchanged(call, reason):
    pool = seeded(E18, E18)
    before = pool.copy()
    with pytest.raises(Revert, match=reason):
        call(pool)
    assert pool == before


def test_overflow_until_skimmed():
    pool = seeded(E18, E18)
    pool.transfer_in(2**112, 0)
    for call in (lambda: pool.sync(3), lambda: pool.mint("lp", 3), lambda: pool.burn("lp", 3)):
        with pytest.raises(Revert, match="pool: overflow"):
            call()
    assert pool.skim("u") == (2**112, 0)
    pool.sync(3)


def test_fee_bound():
    with pytest.raises(Revert, match="pool: fee too high"):
        CPMMPool(fee_bps=10_000)
    for fn, args in [(cpmm.get_amount_out, (1, 1, 1)), (cpmm.get_amount_in, (1, 2, 2))]:
        with pytest.raises(Revert, match="router: invalid fee"):
            fn(*args, fee_bps=10_000)


# --- flash swaps --------------------------------------------------------------------------


def test_flash_swap_callback_repays_or_reverts_atomically():
    pool = seeded(5 * E18, 10 * E18)
    before = pool.copy()
    with pytest.raises(Revert, match="pool: K"):
        pool.swap(E18, 0, "b", 2, callback=lambda p: p.transfer_in(E18, 0))
    assert pool == before
    repay = E18 * 10_000 // 9_970 + 1
    assert pool.swap(E18, 0, "b", 2, callback=lambda p: p.transfer_in(repay, 0)) == (repay, 0)
    assert pool.get_reserves()[:2] == (5 * E18 + repay - E18, 10 * E18)


# --- properties ---------------------------------------------------------------------------

reserves = st.integers(1_000, 2**100)
fees = st.sampled_from([0, 1, 5, 30, 100, 1_000, 9_999])


@settings(max_examples=300, deadline=None)
@given(amount_in=st.integers(1, 2**100), r_in=reserves, r_out=reserves, fee=fees)
def test_get_amount_out_is_the_largest_output_passing_k(amount_in, r_in, r_out, fee):
    out = cpmm.get_amount_out(amount_in, r_in, r_out, fee)
    pool = CPMMPool(fee_bps=fee, balance0=r_in, balance1=r_out, reserve0=r_in, reserve1=r_out)
    pool.total_supply = math.isqrt(r_in * r_out)
    pool.transfer_in(amount_in, 0)
    if out + 1 < r_out:
        with pytest.raises(Revert, match="pool: K"):
            pool.copy().swap(0, out + 1, "u", 1)
    if out > 0:
        pool.swap(0, out, "u", 1)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), r_in=reserves, r_out=reserves, fee=fees)
def test_get_amount_in_buys_the_output(data, r_in, r_out, fee):
    out = data.draw(st.integers(1, r_out - 1))
    amount_in = cpmm.get_amount_in(out, r_in, r_out, fee)
    assert cpmm.get_amount_out(amount_in, r_in, r_out, fee) >= out
    # With the +1 the input is at most 2 wei above the smallest that works.
    if amount_in > 2:
        assert cpmm.get_amount_out(amount_in - 2, r_in, r_out, fee) < out


@settings(max_examples=200, deadline=None)
@given(a0=st.integers(1, 2**100), a1=st.integers(1, 2**100), r0=reserves, r1=reserves)
def test_add_liquidity_amounts_keep_the_ratio(a0, a1, r0, r1):
    d0, d1 = cpmm.add_liquidity_amounts(a0, a1, 0, 0, r0, r1)
    assert d0 <= a0 and d1 <= a1
    assert d0 == a0 or d1 == a1

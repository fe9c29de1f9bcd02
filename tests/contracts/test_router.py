"""Router: swaps and liquidity with deadlines and slippage bounds; views equal the twin."""

from __future__ import annotations

import ape
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import Revert
from sim.venues.cpmm import twin as cpmm

pytestmark = pytest.mark.chain

E18 = 10**18
LATER = 2**40  # a deadline far in the future, seconds


@pytest.fixture
def seeded(pool, token0, token1, owner):
    """The pool with 5 token0 and 10 token1 of liquidity (Uniswap V2's swap vectors)."""
    token0.transfer(pool, 5 * E18, sender=owner)
    token1.transfer(pool, 10 * E18, sender=owner)
    pool.mint(owner, sender=owner)
    return pool


def test_swap_exact_in_v2_vector(router, seeded, token0, token1, alice, bob):
    before = (token0.balanceOf(alice), token1.balanceOf(bob))
    router.swapExactTokensForTokens(seeded, token0, E18, 0, bob, LATER, sender=alice)
    assert before[0] - token0.balanceOf(alice) == E18
    assert token1.balanceOf(bob) - before[1] == 1662497915624478906
    assert seeded.getReserves()[:2] == (6 * E18, 10 * E18 - 1662497915624478906)


def test_swap_exact_in_token1(router, seeded, token0, token1, alice):
    before = token0.balanceOf(alice)
    router.swapExactTokensForTokens(seeded, token1, E18, 0, alice, LATER, sender=alice)
    assert token0.balanceOf(alice) - before == 453305446940074565


def test_swap_exact_out(router, seeded, token0, token1, alice):
    want = E18
    expected_in = cpmm.get_amount_in(want, 10 * E18, 5 * E18)
    before = (token1.balanceOf(alice), token0.balanceOf(alice))
    router.swapTokensForExactTokens(seeded, token1, want, expected_in, alice, LATER, sender=alice)
    assert before[0] - token1.balanceOf(alice) == expected_in
    assert token0.balanceOf(alice) - before[1] == want


@pytest.mark.parametrize("exact_in", [True, False], ids=["exact-in", "exact-out"])
def test_swap_expired(router, seeded, token0, alice, chain, exact_in):
    deadline = chain.blocks.head.timestamp
    chain.pending_timestamp = deadline + 1
    fn = router.swapExactTokensForTokens if exact_in else router.swapTokensForExactTokens
    with ape.reverts("router: expired"):
        fn(seeded, token0, E18, 10**30 if not exact_in else 0, alice, deadline, sender=alice)


def test_swap_slippage_exact_in(router, seeded, token0, alice):
    out = cpmm.get_amount_out(E18, 5 * E18, 10 * E18)
    with ape.reverts("router: insufficient output amount"):
        router.swapExactTokensForTokens(seeded, token0, E18, out + 1, alice, LATER, sender=alice)
    router.swapExactTokensForTokens(seeded, token0, E18, out, alice, LATER, sender=alice)


def test_swap_slippage_exact_out(router, seeded, token0, alice):
    needed = cpmm.get_amount_in(E18, 5 * E18, 10 * E18)
    with ape.reverts("router: excessive input amount"):
        router.swapTokensForExactTokens(seeded, token0, E18, needed - 1, alice, LATER, sender=alice)
    router.swapTokensForExactTokens(seeded, token0, E18, needed, alice, LATER, sender=alice)


def test_swap_invalid_token(router, seeded, alice):
    with ape.reverts("router: invalid token"):
        router.swapExactTokensForTokens(seeded, router, E18, 0, alice, LATER, sender=alice)


def test_swap_empty_pool(router, pool, token0, alice):
    with ape.reverts("router: insufficient liquidity"):
        router.swapExactTokensForTokens(pool, token0, E18, 0, alice, LATER, sender=alice)


def test_add_liquidity_empty_then_ratio(router, pool, token0, token1, alice, bob):
    a0, a1, liq = router.addLiquidity(
        pool, E18, 4 * E18, 0, 0, alice, LATER, sender=alice
    ).return_value
    assert (a0, a1, liq) == (E18, 4 * E18, 2 * E18 - 1000)
    # The pool is at 1:4; asking for 1:1 deposits 0.25:1, then 1:8 deposits 1:4.
    expected = cpmm.add_liquidity_amounts(E18, E18, 0, 0, E18, 4 * E18)
    assert expected == (E18 // 4, E18)
    before = (token0.balanceOf(bob), token1.balanceOf(bob))
    router.addLiquidity(pool, E18, E18, 0, 0, bob, LATER, sender=bob)
    spent = (before[0] - token0.balanceOf(bob), before[1] - token1.balanceOf(bob))
    assert spent == expected
    assert pool.balanceOf(bob) == E18 // 2
    router.addLiquidity(pool, E18, 8 * E18, 0, 0, bob, LATER, sender=bob)
    assert pool.getReserves()[:2] == (E18 + E18 // 4 + E18, 4 * E18 + E18 + 4 * E18)


@pytest.mark.parametrize(
    ("desired", "mins", "reason"),
    [
        ((E18, E18), (0, E18), "router: insufficient amount1"),
        ((8 * E18, E18), (2 * E18 + 1, 0), "router: insufficient amount0"),
    ],
    ids=["amount1-below-min", "amount0-below-min"],
)
def test_add_liquidity_slippage(router, pool, alice, desired, mins, reason):
    # Pool at 2:1 (token0:token1).
    router.addLiquidity(pool, 2 * E18, E18, 0, 0, alice, LATER, sender=alice)
    with pytest.raises(Revert, match=reason):
        cpmm.add_liquidity_amounts(*desired, *mins, 2 * E18, E18)
    with ape.reverts(reason):
        router.addLiquidity(pool, *desired, *mins, alice, LATER, sender=alice)


def test_add_liquidity_expired(router, pool, alice, chain):
    deadline = chain.blocks.head.timestamp
    chain.pending_timestamp = deadline + 1
    with ape.reverts("router: expired"):
        router.addLiquidity(pool, E18, E18, 0, 0, alice, deadline, sender=alice)


def test_remove_liquidity(router, pool, token0, token1, alice):
    router.addLiquidity(pool, 3 * E18, 3 * E18, 0, 0, alice, LATER, sender=alice)
    pool.approve(router, 2**256 - 1, sender=alice)
    lp = pool.balanceOf(alice)
    with ape.reverts("router: insufficient amount0"):
        router.removeLiquidity(pool, lp, 3 * E18, 0, alice, LATER, sender=alice)
    with ape.reverts("router: insufficient amount1"):
        router.removeLiquidity(pool, lp, 0, 3 * E18, alice, LATER, sender=alice)
    before = (token0.balanceOf(alice), token1.balanceOf(alice))
    router.removeLiquidity(pool, lp, 3 * E18 - 1000, 3 * E18 - 1000, alice, LATER, sender=alice)
    got = (token0.balanceOf(alice) - before[0], token1.balanceOf(alice) - before[1])
    assert got == (3 * E18 - 1000, 3 * E18 - 1000)
    assert pool.totalSupply() == 1000


def test_remove_liquidity_needs_allowance_and_deadline(router, pool, alice, chain):
    router.addLiquidity(pool, 3 * E18, 3 * E18, 0, 0, alice, LATER, sender=alice)
    with ape.reverts("pool: insufficient allowance"):
        router.removeLiquidity(pool, E18, 0, 0, alice, LATER, sender=alice)
    deadline = chain.blocks.head.timestamp
    chain.pending_timestamp = deadline + 1
    with ape.reverts("router: expired"):
        router.removeLiquidity(pool, E18, 0, 0, alice, deadline, sender=alice)


# --- views: the router and the twin agree everywhere, failures included -------------------

amounts = st.one_of(st.integers(0, 10), st.integers(0, 2**112))
fees = st.one_of(st.sampled_from([0, 1, 5, 30, 100, 9_999, 10_000]), st.integers(0, 10_500))


def _same(chain_fn, twin_fn, *args):
    try:
        expected = twin_fn(*args)
    except Revert as err:
        with ape.reverts(err.reason):
            chain_fn(*args)
    else:
        assert chain_fn(*args) == expected


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(amount=amounts, reserve_in=amounts, reserve_out=amounts, fee=fees)
def test_views_equal_twin(router, amount, reserve_in, reserve_out, fee):
    _same(router.getAmountOut, cpmm.get_amount_out, amount, reserve_in, reserve_out, fee)
    _same(router.getAmountIn, cpmm.get_amount_in, amount, reserve_in, reserve_out, fee)
    _same(router.quote, cpmm.quote, amount, reserve_in, reserve_out)


def test_views_v2_vectors(router):
    # v2-periphery test/UniswapV2Router01.spec.ts (quote, getAmountOut, getAmountIn) and
    # v2-core's swap vector.
    assert router.quote(1, 100, 200) == 2
    assert router.quote(2, 200, 100) == 1
    assert router.getAmountOut(2, 100, 100, 30) == 1
    assert router.getAmountIn(1, 100, 100, 30) == 2
    assert router.getAmountOut(E18, 5 * E18, 10 * E18, 30) == 1662497915624478906

"""The Uniswap V3 twin alone (no chain): v3-core's test vectors and the pool's invariants.

The vectors are v3-core 1.0.1's own (test/TickMath.spec.ts, SqrtPriceMath.spec.ts,
SwapMath.spec.ts and their Jest snapshots); `encode_price_sqrt` reproduces the tests'
``encodePriceSqrt`` (BigNumber.js set to 40 decimal places, half-up, then floored times
2**96).
"""

from __future__ import annotations

import contextlib
from decimal import ROUND_HALF_UP, Decimal, localcontext
from unittest import mock

import pytest
from eth_abi.packed import encode_packed
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import Revert
from sim.venues.univ3 import twin as twin_module
from sim.venues.univ3.checks import check_fee_tier, check_liquidity, check_range, check_tick
from sim.venues.univ3.periphery import (
    amounts_for_liquidity,
    count_initialized_ticks_crossed,
    liquidity_for_amounts,
    quote_exact_input_single,
    quote_exact_output_single,
)
from sim.venues.univ3.twin import UniswapV3Pool, position_key
from sim.venues.univ3.v3math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    Q96,
    UINT128_MAX,
    UINT256_MAX,
    add_delta,
    compute_swap_step,
    get_amount0_delta,
    get_amount1_delta,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
    mul_div,
    mul_div_rounding_up,
    tick_spacing_to_max_liquidity_per_tick,
)

E18 = 10**18


def encode_price_sqrt(reserve1: int, reserve0: int) -> int:
    """v3-core's test helper: ``floor(sqrt(reserve1 / reserve0) * 2**96)`` as BigNumber.js
    computes it (quotient and root each rounded half-up to 40 decimal places)."""
    places = Decimal(10) ** -40
    with localcontext() as ctx:
        ctx.prec = 200
        ratio = (Decimal(reserve1) / Decimal(reserve0)).quantize(places, ROUND_HALF_UP)
        root = ratio.sqrt().quantize(places, ROUND_HALF_UP)
        return int(root * Q96)


# --- TickMath (TickMath.spec.ts and its snapshot) ------------------------------------------

SQRT_RATIO_AT_TICK = {
    50: 79426470787362580746886972461,
    100: 79625275426524748796330556128,
    250: 80224679980005306637834519095,
    500: 81233731461783161732293370115,
    1000: 83290069058676223003182343270,
    2500: 89776708723587163891445672585,
    3000: 92049301871182272007977902845,
    4000: 96768528593268422080558758223,
    5000: 101729702841318637793976746270,
    50000: 965075977353221155028623082916,
    150000: 143194173941309278083010301478497,
    250000: 21246587762933397357449903968194344,
    738203: 847134979253254120489401328389043031315994541,
    -50: 79030349367926598376800521322,
    -100: 78833030112140176575862854579,
    -250: 78244023372248365697264290337,
    -500: 77272108795590369356373805297,
    -1000: 75364347830767020784054125655,
    -2500: 69919044979842180277688105136,
    -3000: 68192822843687888778582228483,
    -4000: 64867181785621769311890333195,
    -5000: 61703726247759831737814779831,
    -50000: 6504256538020985011912221507,
    -150000: 43836292794701720435367485,
    -250000: 295440463448801648376846,
    -500000: 1101692437043807371,
    -738203: 7409801140451,
    MIN_TICK: 4295128739,
    MIN_TICK + 1: 4295343490,
    MAX_TICK - 1: 1461373636630004318706518188784493106690254656249,
    MAX_TICK: 1461446703485210103287273052203988822378723970342,
}


@pytest.mark.parametrize(("tick", "expected"), sorted(SQRT_RATIO_AT_TICK.items()))
def test_get_sqrt_ratio_at_tick_vectors(tick, expected):
    assert get_sqrt_ratio_at_tick(tick) == expected


@pytest.mark.parametrize("tick", [MIN_TICK - 1, MAX_TICK + 1])
def test_get_sqrt_ratio_at_tick_out_of_range(tick):
    with pytest.raises(Revert, match="^T$"):
        get_sqrt_ratio_at_tick(tick)


TICK_AT_SQRT_RATIO = [
    (MIN_SQRT_RATIO, MIN_TICK),
    (4295343490, MIN_TICK + 1),
    ((10**12, 1), 276324),
    ((10**6, 1), 138162),
    ((1, 64), -41591),
    ((1, 8), -20796),
    ((1, 2), -6932),
    ((1, 1), 0),
    ((2, 1), 6931),
    ((8, 1), 20795),
    ((64, 1), 41590),
    ((1, 10**6), -138163),
    ((1, 10**12), -276325),
    (1461373636630004318706518188784493106690254656249, MAX_TICK - 1),
    (MAX_SQRT_RATIO - 1, MAX_TICK - 1),
]


@pytest.mark.parametrize(("ratio", "expected"), TICK_AT_SQRT_RATIO, ids=str)
def test_get_tick_at_sqrt_ratio_vectors(ratio, expected):
    if isinstance(ratio, tuple):
        ratio = encode_price_sqrt(*ratio)
    assert get_tick_at_sqrt_ratio(ratio) == expected


def test_encode_price_sqrt_reproduces_the_snapshot_ratios():
    assert encode_price_sqrt(1, 2) == 56022770974786139918731938227
    assert encode_price_sqrt(10**12, 1) == 79228162514264337593543950336000000
    assert encode_price_sqrt(1, 10**6) == 79228162514264337593543950
    assert encode_price_sqrt(8, 1) == 224091083899144559674927752909


@pytest.mark.parametrize("ratio", [MIN_SQRT_RATIO - 1, MAX_SQRT_RATIO, 0])
def test_get_tick_at_sqrt_ratio_out_of_range(ratio):
    with pytest.raises(Revert, match="^R$"):
        get_tick_at_sqrt_ratio(ratio)


@settings(max_examples=300, deadline=None)
@given(st.integers(MIN_TICK, MAX_TICK - 1))
def test_tick_round_trips(tick):
    """Each tick's ratio maps back to it, and so does every price below the next tick's."""
    ratio = get_sqrt_ratio_at_tick(tick)
    assert get_tick_at_sqrt_ratio(ratio) == tick
    assert get_tick_at_sqrt_ratio(get_sqrt_ratio_at_tick(tick + 1) - 1) == tick
    assert ratio < get_sqrt_ratio_at_tick(tick + 1)


# --- SqrtPriceMath (SqrtPriceMath.spec.ts) ---------------------------------------------------


def test_get_next_sqrt_price_from_input_vectors():
    one = encode_price_sqrt(1, 1)
    assert (
        get_next_sqrt_price_from_input(one, E18, E18 // 10, False) == 87150978765690771352898345369
    )
    assert (
        get_next_sqrt_price_from_input(one, E18, E18 // 10, True) == 72025602285694852357767227579
    )
    assert get_next_sqrt_price_from_input(one, 10 * E18, 2**100, True) == 624999999995069620
    assert get_next_sqrt_price_from_input(one, 1, UINT256_MAX // 2, True) == 1
    assert get_next_sqrt_price_from_input(1, 1, 2**255, True) == 1
    assert get_next_sqrt_price_from_input(one, E18 // 10, 0, True) == one
    assert get_next_sqrt_price_from_input(one, E18 // 10, 0, False) == one
    sqrt_p = 2**160 - 1
    max_amount = UINT256_MAX - (UINT128_MAX << 96) // sqrt_p
    assert get_next_sqrt_price_from_input(sqrt_p, UINT128_MAX, max_amount, True) == 1
    sqrt_p, liquidity = (
        1025574284609383690408304870162715216695788925244,
        50015962439936049619261659728067971248,
    )
    sqrt_q = get_next_sqrt_price_from_input(sqrt_p, liquidity, 406, True)
    assert sqrt_q == 1025574284609383582644711336373707553698163132913
    assert get_amount0_delta(sqrt_q, sqrt_p, liquidity, True) == 406


@pytest.mark.parametrize(
    ("price", "liquidity", "amount", "zero_for_one"),
    [(0, 0, E18 // 10, False), (1, 0, E18 // 10, True), (2**160 - 1, 1024, 1024, False)],
)
def test_get_next_sqrt_price_from_input_fails(price, liquidity, amount, zero_for_one):
    with pytest.raises(Revert, match="^$"):
        get_next_sqrt_price_from_input(price, liquidity, amount, zero_for_one)


def test_get_next_sqrt_price_from_output_vectors():
    one = encode_price_sqrt(1, 1)
    price = 20282409603651670423947251286016
    assert get_next_sqrt_price_from_output(price, 1024, 262143, True) == 77371252455336267181195264
    assert (
        get_next_sqrt_price_from_output(one, E18, E18 // 10, False) == 88031291682515930659493278152
    )
    assert (
        get_next_sqrt_price_from_output(one, E18, E18 // 10, True) == 71305346262837903834189555302
    )
    assert get_next_sqrt_price_from_output(one, E18 // 10, 0, True) == one
    assert get_next_sqrt_price_from_output(one, E18 // 10, 0, False) == one


@pytest.mark.parametrize(
    ("price", "liquidity", "amount", "zero_for_one"),
    [
        (0, 0, E18 // 10, False),
        (1, 0, E18 // 10, True),
        (20282409603651670423947251286016, 1024, 4, False),
        (20282409603651670423947251286016, 1024, 5, False),
        (20282409603651670423947251286016, 1024, 262145, True),
        (20282409603651670423947251286016, 1024, 262144, True),
        (Q96, 1, UINT256_MAX, True),
        (Q96, 1, UINT256_MAX, False),
    ],
)
def test_get_next_sqrt_price_from_output_fails(price, liquidity, amount, zero_for_one):
    with pytest.raises(Revert, match="^$"):
        get_next_sqrt_price_from_output(price, liquidity, amount, zero_for_one)


def test_amount_deltas():
    one, p121 = encode_price_sqrt(1, 1), encode_price_sqrt(121, 100)
    assert get_amount0_delta(one, encode_price_sqrt(2, 1), 0, True) == 0
    assert get_amount0_delta(one, one, 0, True) == 0
    assert get_amount0_delta(one, p121, E18, True) == 90909090909090910
    assert get_amount0_delta(one, p121, E18, False) == 90909090909090909
    assert get_amount1_delta(one, p121, E18, True) == 100000000000000000
    assert get_amount1_delta(one, p121, E18, False) == 99999999999999999
    low, high = encode_price_sqrt(2**90, 1), encode_price_sqrt(2**96, 1)
    assert get_amount0_delta(low, high, E18, True) == get_amount0_delta(low, high, E18, False) + 1


# --- SwapMath (SwapMath.spec.ts) ---------------------------------------------------------------

SWAP_STEPS = [
    # (price, target, liquidity, amount remaining, fee) -> (next price, in, out, fee)
    ((Q96, encode_price_sqrt(101, 100), 2 * E18, E18, 600),
     (encode_price_sqrt(101, 100), 9975124224178055, 9925619580021728, 5988667735148)),
    ((Q96, encode_price_sqrt(101, 100), 2 * E18, -E18, 600),
     (encode_price_sqrt(101, 100), 9975124224178055, 9925619580021728, 5988667735148)),
    ((Q96, encode_price_sqrt(1000, 100), 2 * E18, E18, 600),
     (get_next_sqrt_price_from_input(Q96, 2 * E18, E18 - 600000000000000, False),
      999400000000000000, 666399946655997866, 600000000000000)),
    ((Q96, encode_price_sqrt(10000, 100), 2 * E18, -E18, 600),
     (get_next_sqrt_price_from_output(Q96, 2 * E18, E18, False),
      2000000000000000000, E18, 1200720432259356)),
    ((417332158212080721273783715441582, 1452870262520218020823638996,
      159344665391607089467575320103, -1, 1),
     (417332158212080721273783715441581, 1, 1, 1)),
    ((2, 1, 1, 3915081100057732413702495386755767, 1),
     (1, 39614081257132168796771975168, 0, 39614120871253040049813)),
    ((2413, 79887613182836312, 1985041575832132834610021537970, 10, 1872), (2413, 0, 0, 10)),
    ((20282409603651670423947251286016, 20282409603651670423947251286016 * 11 // 10, 1024, -4,
      3000),
     (20282409603651670423947251286016 * 11 // 10, 26215, 0, 79)),
    ((20282409603651670423947251286016, 20282409603651670423947251286016 * 9 // 10, 1024,
      -263000, 3000),
     (20282409603651670423947251286016 * 9 // 10, 1, 26214, 1)),
]  # fmt: skip


@pytest.mark.parametrize(("args", "expected"), SWAP_STEPS)
def test_compute_swap_step_vectors(args, expected):
    assert compute_swap_step(*args) == expected


@settings(max_examples=300, deadline=None)
@given(
    price=st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1),
    target=st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1),
    liquidity=st.integers(1, UINT128_MAX),
    amount=st.integers(-(2**200), 2**200),
    fee=st.integers(1, 999_999),
)
def test_compute_swap_step_invariants(price, target, liquidity, amount, fee):
    """SwapMathEchidnaTest's properties: the step stays on its side of the target, never takes
    more than offered, never pays more than asked."""
    try:
        nxt, amount_in, amount_out, fee_amount = compute_swap_step(
            price, target, liquidity, amount, fee
        )
    except Revert:
        return
    if price >= target:
        assert target <= nxt <= price
    else:
        assert price <= nxt <= target
    if amount >= 0:
        assert amount_in + fee_amount <= amount
    else:
        assert amount_out <= -amount
    if nxt == price and amount != 0:
        assert amount_in == 0 and amount_out == 0


# --- FullMath, LiquidityMath, Tick -------------------------------------------------------------


def test_full_math_bounds():
    assert mul_div(Q96, Q96, Q96) == Q96
    assert mul_div(UINT256_MAX, UINT256_MAX, UINT256_MAX) == UINT256_MAX
    assert mul_div_rounding_up(1, 1, 3) == 1
    for args in ((1, 1, 0), (UINT256_MAX, 2, 1)):
        with pytest.raises(Revert, match="^$"):
            mul_div(*args)
    with pytest.raises(Revert, match="^$"):
        mul_div_rounding_up(
            535006138814359, 432862656469423142931042426214547535783388063929571229938474969, 2
        )


def test_add_delta():
    assert add_delta(1, 0) == 1
    assert add_delta(1, -1) == 0
    assert add_delta(2**128 - 15, 14) == UINT128_MAX
    with pytest.raises(Revert, match="^LA$"):
        add_delta(2**128 - 15, 15)
    with pytest.raises(Revert, match="^LS$"):
        add_delta(0, -1)


@pytest.mark.parametrize(
    ("spacing", "expected"),
    [(10, 1917569901783203986719870431555990), (60, 11505743598341114571880798222544994),
     (200, 38350317471085141830651933667504588), (887272, UINT128_MAX // 3),
     (2302, 441351967472034323558203122479595605)],
)  # fmt: skip
def test_max_liquidity_per_tick(spacing, expected):
    assert tick_spacing_to_max_liquidity_per_tick(spacing) == expected


# --- the pool ----------------------------------------------------------------------------------

LPS = ["0x" + f"{i:040x}" for i in range(1, 5)]


def pool_with_liquidity(fee: int = 3000, start: int = 1_000_000) -> UniswapV3Pool:
    pool = UniswapV3Pool(fee)
    pool.initialize(encode_price_sqrt(1, 10), start)
    spacing = pool.tick_spacing
    for i, (lower, upper, liquidity) in enumerate(
        [
            (-600, 600, 3 * E18),
            (-23_100, -22_980, 10**19),
            (-24_000, -21_000, E18),
            (-887_220, 887_220, E18 // 10),
        ]
    ):
        lower, upper = lower // spacing * spacing, upper // spacing * spacing
        pool.mint(LPS[i], lower, upper, liquidity, start)
    return pool


def state(pool: UniswapV3Pool) -> dict:
    return {
        k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
        for k, v in vars(pool).items()
    }


def test_failed_operations_leave_the_pool_unchanged():
    pool = pool_with_liquidity()
    before = state(pool)
    cap = pool.max_liquidity_per_tick
    failing = [
        (lambda: pool.mint(LPS[0], 60, -60, 1, 5), "TLU"),
        (lambda: pool.mint(LPS[0], MIN_TICK - 1, 0, 1, 5), "TLM"),
        (lambda: pool.mint(LPS[0], 0, MAX_TICK + 1, 1, 5), "TUM"),
        (lambda: pool.mint(LPS[0], -600, 600, cap, 5), "LO"),
        (lambda: pool.mint(LPS[0], -599, 600, 1, 5), ""),
        (lambda: pool.mint(LPS[0], -600, 600, 0, 5), ""),
        (lambda: pool.mint(LPS[0], -600, 600, 10, 5, lambda p, a0, a1: p.transfer_in(a0 - 1, a1)), "M0"),
        (lambda: pool.burn(LPS[0], -600, 600, 3 * E18 + 1, 5), "LS"),
        (lambda: pool.burn(LPS[3], -600, 600, 0, 5), "NP"),
        (lambda: pool.swap(True, 0, MIN_SQRT_RATIO + 1, 5), "AS"),
        (lambda: pool.swap(True, E18, pool.sqrt_price_x96, 5), "SPL"),
        (lambda: pool.swap(False, E18, MAX_SQRT_RATIO, 5), "SPL"),
        (lambda: pool.swap(True, E18, MIN_SQRT_RATIO + 1, 5, lambda p, a0, a1: None), "IIA"),
        (lambda: pool.swap(True, E18, MIN_SQRT_RATIO + 1, 5, lambda p, a0, a1: p.swap(True, 1, MIN_SQRT_RATIO + 1, 5)), "LOK"),
        (lambda: pool.initialize(Q96, 5), "AI"),
        (lambda: pool.observe([10**6], 1_000_100), "OLD"),
        (lambda: pool.set_fee_protocol(3, 0), ""),
    ]  # fmt: skip
    for operation, reason in failing:
        with pytest.raises(Revert) as err:
            operation()
        assert err.value.reason == reason
        assert state(pool) == before


def test_copy_is_independent():
    pool = pool_with_liquidity()
    before = state(pool)
    trial = pool.copy()
    trial.swap(True, 10 * E18, MIN_SQRT_RATIO + 1, 1_000_010)
    trial.mint(LPS[1], -60, 60, E18, 1_000_010)
    trial.increase_observation_cardinality_next(10)
    assert state(pool) == before
    assert state(trial) != before


def test_position_key_is_the_pools():
    owner = "0x" + "ab" * 20
    expected = keccak(encode_packed(["address", "int24", "int24"], [owner, -887220, 60]))
    assert position_key(owner, -887220, 60) == expected


def test_quotes_equal_the_swaps_they_quote():
    pool = pool_with_liquidity()
    crossings = 0
    for zero_for_one, exact_in in [(True, True), (False, True), (True, False), (False, False)]:
        # Exact outputs of a third of what the pool holds: filled without a price limit.
        amount = (pool.balance1 if zero_for_one else pool.balance0) // 3
        quote = quote_exact_input_single if exact_in else quote_exact_output_single
        amount_quoted, price_after, crossed = quote(pool, zero_for_one, amount)
        tick_before = pool.tick
        amount0, amount1 = pool.swap(
            zero_for_one, amount if exact_in else -amount,
            MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1, 1_000_050,
        )  # fmt: skip
        paid, received = (amount0, -amount1) if zero_for_one else (amount1, -amount0)
        assert amount_quoted == (received if exact_in else paid)
        assert price_after == pool.sqrt_price_x96
        assert crossed == count_initialized_ticks_crossed(pool, tick_before, pool.tick)
        crossings += crossed
    assert crossings > 0


def test_exact_output_without_limit_that_cannot_fill_fails_to_quote():
    pool = pool_with_liquidity()
    with pytest.raises(Revert, match="^Unexpected error$"):
        quote_exact_output_single(pool, True, 10**40)
    with pytest.raises(Revert, match="^SPL$"):
        quote_exact_input_single(pool, True, E18, pool.sqrt_price_x96 + 1)


@contextlib.contextmanager
def recording_fees():
    """Every swap step's fee as ``(zero_for_one, fee)`` (the twin does not return them)."""
    fees: list[tuple[bool, int]] = []

    def recording(price, target, liquidity, remaining, fee):
        result = compute_swap_step(price, target, liquidity, remaining, fee)
        fees.append((price >= target, result[3]))
        return result

    with mock.patch.object(twin_module, "compute_swap_step", recording):
        yield fees


@pytest.mark.parametrize("growth_start", [0, UINT256_MAX - 10**40], ids=["zero", "wrapping"])
@settings(max_examples=30, deadline=None)
@given(
    swaps=st.lists(
        st.tuples(st.booleans(), st.booleans(), st.integers(10**6, 5 * E18)),
        min_size=1,
        max_size=25,
    )
)
def test_fees_paid_are_fees_owed(growth_start, swaps):
    """Every fee a swap pays ends up owed to the in-range positions, rounded down and never
    more, also when the fee growth accumulators wrap past 2**256."""
    pool = UniswapV3Pool(3000)
    pool.fee_growth_global0_x128 = pool.fee_growth_global1_x128 = growth_start
    pool.initialize(encode_price_sqrt(1, 10), 1_000_000)
    ranges = [
        (-600, 600, 3 * E18),
        (-23_100, -22_980, 10**19),
        (-24_000, -21_000, E18),
        (-887_220, 887_220, E18 // 10),
    ]
    for i, (lower, upper, liquidity) in enumerate(ranges):
        pool.mint(LPS[i], lower, upper, liquidity, 1_000_000)
    with recording_fees() as fees:
        for zero_for_one, exact_in, amount in swaps:
            limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
            with contextlib.suppress(Revert):  # a trade past the liquidity
                pool.swap(zero_for_one, amount if exact_in else -amount, limit, 1_000_010)
    paid0 = sum(f for zero_for_one, f in fees if zero_for_one)
    paid1 = sum(f for zero_for_one, f in fees if not zero_for_one)

    owed0 = owed1 = 0
    for i, (lower, upper, liquidity) in enumerate(ranges):
        burned = pool.burn(LPS[i], lower, upper, liquidity, 1_000_020)
        collected = pool.collect(LPS[i], lower, upper, UINT128_MAX, UINT128_MAX)
        owed0 += collected[0] - burned[0]
        owed1 += collected[1] - burned[1]
    bound = len(fees) + len(ranges)
    assert 0 <= paid0 - owed0 <= bound
    assert 0 <= paid1 - owed1 <= bound
    assert pool.balance0 >= 0 and pool.balance1 >= 0
    assert pool.liquidity == 0 and not pool.ticks


def test_oracle_accumulates_and_interpolates_across_the_uint32_wrap():
    start = 2**32 - 100
    pool = UniswapV3Pool(500)
    pool.initialize(Q96, start)
    pool.increase_observation_cardinality_next(4)
    pool.mint(LPS[0], -100, 100, E18, start)
    pool.swap(True, 10**15, MIN_SQRT_RATIO + 1, start + 50)  # an observation at start + 50
    tick_after = pool.tick
    pool.swap(False, 10**15, MAX_SQRT_RATIO - 1, start + 150)  # past the wrap
    assert pool.observation(2).block_timestamp == (start + 150) % 2**32
    now = start + 250
    cumulatives, _ = pool.observe([250, 200, 150, 100, 0], now)
    tick_now = pool.tick
    assert cumulatives[:2] == [0, 0]  # tick 0 from start to start + 50
    assert cumulatives[2] == 50 * tick_after  # interpolated between two observations
    assert cumulatives[3] == 100 * tick_after
    assert cumulatives[4] == 100 * tick_after + 100 * tick_now
    with pytest.raises(Revert, match="^OLD$"):
        pool.observe([251], now)


def test_liquidity_amount_round_trip():
    """The liquidity the amounts buy is worth no more than them, and all of one of them (to
    the floors of LiquidityAmounts: within a billionth)."""
    price = encode_price_sqrt(1, 10)
    desired0, desired1 = 5 * E18, 7 * E18
    for lower, upper in [(-30_000, -10_000), (-60, 60), (0, 600), (-887_220, 887_220), (-60, 0)]:
        liquidity = liquidity_for_amounts(price, lower, upper, desired0, desired1)
        amount0, amount1 = amounts_for_liquidity(price, lower, upper, liquidity)
        assert amount0 <= desired0 and amount1 <= desired1
        assert amount0 >= desired0 - desired0 // 10**9 or amount1 >= desired1 - desired1 // 10**9


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 10**30), st.integers(1, 10**30))
def test_amounts_grow_with_liquidity(smaller, larger):
    smaller, larger = sorted((smaller, larger))
    a, b = get_sqrt_ratio_at_tick(-1000), get_sqrt_ratio_at_tick(2000)
    assert get_amount0_delta(a, b, smaller, True) <= get_amount0_delta(a, b, larger, True)
    assert get_amount1_delta(a, b, smaller, False) <= get_amount1_delta(a, b, larger, False)


# --- configuration checks ----------------------------------------------------------------------


def test_checks_name_the_field_and_the_allowed_values():
    assert check_fee_tier(500) == 10 and check_fee_tier(3000) == 60 and check_fee_tier(10000) == 200
    with pytest.raises(
        ValueError, match=r"^pools\.0\.fee: 100 is not a fee tier .*500 \(spacing 10\)"
    ):
        check_fee_tier(100, "pools.0.fee")
    with pytest.raises(ValueError, match=r"^lp\.tick_lower: -601 is not a multiple of .* 60$"):
        check_range(-601, 600, 60, "lp")
    with pytest.raises(ValueError, match=r"^lp: tick_lower 600 must be below tick_upper 600$"):
        check_range(600, 600, 60, "lp")
    with pytest.raises(ValueError, match=r"^tick: 887273 is outside \[-887272, 887272\]$"):
        check_tick(887273, 1)
    with pytest.raises(ValueError, match=r"^liquidity: 0 must be in \[1, 2\*\*127 - 1\]$"):
        check_liquidity(0)
    check_range(-887_220, 887_220, 60)
    check_liquidity(2**127 - 1)

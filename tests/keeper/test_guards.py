"""Guards: TWAP from Uniswap-V2 cumulatives (against the pool twin), and every check's verdict."""

import pytest

from keeper.guards import (
    UINT32,
    UINT256,
    CumulativeObservation,
    GuardInputs,
    check_gas_price,
    check_native_balance,
    check_notional_per_hedge,
    check_notional_per_hour,
    check_oracle_deviation,
    check_oracle_fresh,
    check_slippage,
    current_cumulative,
    run_guards,
    slippage_bps,
    twap_price,
    twap_price0,
)
from keeper.safety_config import GuardLimits
from sim.venues.cpmm.twin import CPMMPool, encode_price

WETH, USDC = 10**18, 10**6


def pool_at(r0: int, r1: int, t: int) -> CPMMPool:
    pool = CPMMPool(fee_bps=30, address="0xpool", token0="0xweth", token1="0xusdc")
    pool.transfer_in(r0, r1)
    pool.sync(t)
    return pool


def observe(pool: CPMMPool) -> CumulativeObservation:
    return CumulativeObservation(pool.price0_cumulative_last, pool.block_timestamp_last)


def test_twap_is_the_time_weighted_mean_of_the_pools_prices():
    pool = pool_at(1000 * WETH, 3_000_000 * USDC, 1_000)
    start = observe(pool)
    # 100 s at 3000, then the price moves to 3300 for 300 s.
    pool.transfer_in(0, 300_000 * USDC)
    pool.sync(1_100)
    pool.sync(1_400)
    end = observe(pool)
    raw = (encode_price(3_000_000 * USDC, 1000 * WETH) * 100
           + encode_price(3_300_000 * USDC, 1000 * WETH) * 300)  # fmt: skip
    assert end.price0_cumulative - start.price0_cumulative == raw
    assert twap_price0(start, end, 18, 6) == pytest.approx((3000 * 100 + 3300 * 300) / 400)
    assert twap_price(start, end, 18, 6, base_is_token0=False) == pytest.approx(1 / 3225)


def test_counterfactual_cumulative_equals_the_pool_updated_now():
    pool = pool_at(1000 * WETH, 3_000_000 * USDC, 1_000)
    r0, r1, ts = pool.get_reserves()
    now = current_cumulative(pool.price0_cumulative_last, r0, r1, ts, 1_777)
    pool.sync(1_777)
    assert now == observe(pool)


def test_twap_survives_counter_wraparound():
    price = encode_price(3_000_000 * USDC, 1000 * WETH)
    start = CumulativeObservation(UINT256 - price * 5, UINT32 - 5)
    end = current_cumulative(start.price0_cumulative, 1000 * WETH, 3_000_000 * USDC,
                             start.timestamp, 7)  # fmt: skip
    assert end.price0_cumulative < start.price0_cumulative and end.timestamp < start.timestamp
    assert twap_price0(start, end, 18, 6) == pytest.approx(3000)


def test_twap_over_zero_seconds_is_refused():
    obs = CumulativeObservation(0, 10)
    with pytest.raises(ValueError, match="zero seconds"):
        twap_price0(obs, obs)


@pytest.mark.parametrize(
    "updated_at, action",
    [(1000, "allow"), (1000 - 3600, "allow"), (1000 - 3601, "reduce_only"), (2000, "reduce_only")],
    ids=["fresh", "at-limit", "stale", "future"],
)
def test_oracle_staleness(updated_at, action):
    assert check_oracle_fresh(updated_at, 1000, 3600).action == action


@pytest.mark.parametrize(
    "oracle, reference, action",
    [
        (3000, 3000, "allow"),
        (3059, 3000, "allow"),
        (3061, 3000, "reduce_only"),
        (2939, 3000, "reduce_only"),
        (0, 3000, "reduce_only"),
    ],  # fmt: skip
    ids=["equal", "inside", "above", "below", "zero"],
)
def test_oracle_deviation_from_the_twap(oracle, reference, action):
    verdict = check_oracle_deviation(oracle, reference, max_bps=200)
    assert verdict.action == action
    if action != "allow":
        assert verdict.guard == "oracle_deviation" and verdict.reason


def test_notional_caps_per_hedge_and_per_rolling_hour():
    assert check_notional_per_hedge(-100, 100).ok
    assert check_notional_per_hedge(-101, 100).action == "refuse"
    assert check_notional_per_hour(900, 100, 1000).ok
    refused = check_notional_per_hour(901, 100, 1000)
    assert refused.action == "refuse" and "hourly cap" in refused.reason


def test_slippage_is_signed_by_side():
    assert slippage_bps(3000, 3030, is_buy=True) == pytest.approx(100)
    assert slippage_bps(3000, 3030, is_buy=False) == pytest.approx(-100)
    assert check_slippage(3000, 3014, True, 50).ok
    assert check_slippage(3000, 3016, True, 50).action == "refuse"
    assert check_slippage(3000, 2984, False, 50).action == "refuse"


def test_gas_price_and_balance():
    assert check_gas_price(200 * 10**9, 200).ok
    assert check_gas_price(200 * 10**9 + 1, 200).action == "refuse"
    assert check_native_balance(10**17, 4 * 10**16, 6 * 10**16).ok
    low = check_native_balance(10**17, 5 * 10**16, 6 * 10**16)
    assert low.action == "refuse" and "fund the keeper" in low.reason


def inputs(**changes) -> GuardInputs:
    base = dict(
        now=10_000.0, notional=10_000.0, used_last_hour=0.0, oracle_price=3000.0,
        oracle_updated_at=9_990.0, reference_price=3001.0, execution_price=3003.0, is_buy=True,
        gas_price_wei=30 * 10**9, gas_cost_wei=10**16, native_balance_wei=10**18,
    )  # fmt: skip
    return GuardInputs(**{**base, **changes})


def test_run_guards_allows_a_sane_hedge():
    report = run_guards(inputs(), GuardLimits())
    assert report.ok and report.action == "allow" and report.reason == ""


def test_run_guards_takes_the_most_severe_action_and_lists_every_objection():
    report = run_guards(inputs(oracle_updated_at=0.0, gas_price_wei=10**12), GuardLimits())
    assert report.action == "refuse"
    assert report.reason.startswith("gas_price:")  # most severe first
    assert "oracle_stale" in report.reason
    only_oracle = run_guards(inputs(reference_price=4000.0, execution_price=None), GuardLimits())
    assert only_oracle.action == "reduce_only"
    assert [v.guard for v in only_oracle.objections] == ["oracle_deviation"]


def test_optional_checks_are_skipped_without_their_inputs():
    report = run_guards(inputs(reference_price=None, execution_price=None), GuardLimits())
    guards = {v.guard for v in report.verdicts}
    assert "oracle_deviation" not in guards and "slippage" not in guards

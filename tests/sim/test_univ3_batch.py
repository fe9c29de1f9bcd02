"""The vectorised V3 pool (`sim.venues.univ3.batch`) against the exact integer twin, the
arbitrageur's closed form, and the scenario config's refusals.

Tolerance of "equal to the twin", for one operation on the same state: the twin rounds where
the contract does, and the float pool does not. Each step of the twin's swap loop (one per initialised tick crossed or bitmap word
entered, plus the last) floors its output, and rounds its input and fee up, by less than one
base unit each; one unit of the input is worth `rate` units of the output at the pool price.
So a swap's output agrees within `steps * (1 + rate) + 1` base units plus float64's 1e-12
relative, and a position's fees within two units per step over the sequence (each step floors
the fee growth and rounds the fee up). Prices and liquidity agree to 1e-12 relative.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from sim.cli.run import sim_group
from sim.errors import ConfigError, Revert
from sim.scenario import scenario_from_dict
from sim.venues.univ3.batch import V3Batch
from sim.venues.univ3.config import V3PoolConfig, usable_ticks, width_ticks
from sim.venues.univ3.kernels import P_FEE0, P_FEE1, plan_to, sqrt_at_tick
from sim.venues.univ3.twin import FEE_TIERS, UniswapV3Pool
from sim.venues.univ3.v3math import (
    MAX_SQRT_RATIO,
    MIN_SQRT_RATIO,
    Q96,
    Q128,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)

REL = 1e-12
T0 = 1_700_000_000
OWNER = "0x000000000000000000000000000000000000dEaD"


def _word(tick: int, spacing: int) -> int:
    return (tick // spacing) >> 8


class Pair:
    """The same pool as a twin (base units) and as a one-world batch (price scale 1)."""

    def __init__(self, fee: int, tick0: int, slots: int):
        self.spacing = FEE_TIERS[fee]
        self.twin = UniswapV3Pool(fee)
        sp = get_sqrt_ratio_at_tick(tick0) + 12345
        self.twin.initialize(sp, T0)
        self.batch = V3Batch("p", 1, fee, self.spacing, slots, price_scale=1.0)
        self.batch.initialize(np.array([(sp / Q96) ** 2]))
        self.ranges: dict[int, tuple[int, int, int]] = {}
        self.steps = 0

    def mint(self, slot: int, lower: int, upper: int, liquidity: int):
        a0, a1 = self.twin.mint(OWNER, lower, upper, liquidity, T0)
        x, y = self.batch.mint_raw(
            slot, np.array([lower]), np.array([upper]), np.array([liquidity])
        )
        self.ranges[slot] = (lower, upper, liquidity)
        return (a0, a1), (float(x[0]), float(y[0]))

    def sync(self):
        """Start the next operation from the twin's exact price and liquidity: every
        comparison is one operation on one state (the twin's input roundings would otherwise
        add up in the float's price, by one unit of input per step)."""
        self.batch.s[0] = self.twin.sqrt_price_x96 / Q96
        self.batch.L[0] = float(self.twin.liquidity)

    def swap(self, up: bool, amount: int, limit: int | None):
        tw = self.twin
        self.sync()
        tick_before = tw.tick
        if limit is None:
            limit = MAX_SQRT_RATIO - 1 if up else MIN_SQRT_RATIO + 1
        crossed = tw.swap_steps(not up, amount, limit)[7]
        a0, a1 = tw.swap(not up, amount, limit, T0)
        steps = len(crossed) + abs(_word(tw.tick, self.spacing) - _word(tick_before, self.spacing))
        self.steps += steps + 1
        used, out = self.batch.swap_raw(
            np.array([float(amount)]), np.array([1 if up else -1]), np.array([limit / Q96])
        )
        twin_in, twin_out = (a1, -a0) if up else (a0, -a1)
        return (twin_in, twin_out), (float(used[0]), float(out[0])), steps + 1

    def check_state(self):
        tw, b = self.twin, self.batch
        assert b.s[0] == pytest.approx(tw.sqrt_price_x96 / Q96, rel=REL)
        assert b.L[0] == pytest.approx(tw.liquidity, rel=REL, abs=1e-6)
        assert int(b.tick[0]) == tw.tick
        assert b.fee_growth[0, 0] == pytest.approx(
            tw.fee_growth_global0_x128 / Q128, rel=1e-9, abs=self.steps * 2 / max(tw.liquidity, 1)
        )


@pytest.mark.parametrize("fee", [500, 3000])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_match_the_integer_twin(fee, seed):
    rng = np.random.default_rng(seed)
    tick0 = -200_000 + int(rng.integers(-500, 500))
    pair = Pair(fee, tick0, slots=6)
    sp = pair.spacing
    # Six positions of random width around the price, one of them full range.
    lo, hi = usable_ticks(sp)
    for slot in range(6):
        if slot == 0:
            lower, upper = lo, hi
        else:
            lower = (tick0 // sp - int(rng.integers(1, 300))) * sp
            upper = lower + int(rng.integers(1, 500)) * sp
        liquidity = int(10.0 ** rng.uniform(15, 19))
        twin_amounts, float_amounts = pair.mint(slot, lower, upper, liquidity)
        for exact, approx in zip(twin_amounts, float_amounts, strict=True):
            assert abs(approx - exact) <= 1.0 + REL * exact
    pair.check_state()
    for _ in range(150):
        up = bool(rng.integers(2))
        token_unit_value = 1.0 if up else (pair.twin.sqrt_price_x96 / Q96) ** 2
        amount = int(10.0 ** rng.uniform(8, 14) / token_unit_value)
        limit = None
        if rng.random() < 0.3:
            move = math.exp(rng.uniform(0.0, 0.05)) ** (1 if up else -1)
            limit = int(pair.twin.sqrt_price_x96 * move)
        (t_in, t_out), (f_in, f_out), steps = pair.swap(up, max(amount, 1), limit)
        rate = (pair.twin.sqrt_price_x96 / Q96) ** (-2 if up else 2)
        tol = steps * (1.0 + rate) + 1.0 + REL * abs(t_out)
        assert abs(f_out - t_out) <= tol, (up, amount, t_out, f_out, steps)
        assert abs(f_in - t_in) <= steps + 1.0 + REL * t_in
        pair.check_state()
    # Each position's fees: poke the twin (burn 0) and compare the tokens owed.
    for lower, upper, _liq in pair.ranges.values():
        pair.twin.burn(OWNER, lower, upper, 0, T0)
    # Positions sharing a range share the twin's position: compare the sums per range.
    owed: dict[tuple[int, int], list[float]] = {}
    for slot, (lower, upper, _liq) in pair.ranges.items():
        acc = owed.setdefault((lower, upper), [0.0, 0.0])
        acc[0] += pair.batch.pacc[0, slot, P_FEE0]
        acc[1] += pair.batch.pacc[0, slot, P_FEE1]
    for (lower, upper), (f0, f1) in owed.items():
        pos = pair.twin.position(OWNER, lower, upper)
        assert abs(f0 - pos.tokens_owed0) <= 2 * pair.steps + REL * pos.tokens_owed0
        assert abs(f1 - pos.tokens_owed1) <= 2 * pair.steps + REL * pos.tokens_owed1
    # Burning every position returns what the twin's burn returns.
    for slot, (lower, upper, liq) in pair.ranges.items():
        a0, a1 = pair.twin.burn(OWNER, lower, upper, liq, T0)
        x, y = pair.batch.burn_raw(slot, np.array([True]))
        pos = pair.twin.position(OWNER, lower, upper)
        assert abs(x[0] - pos.tokens_owed0) <= 2 * pair.steps + 1 + REL * pos.tokens_owed0
        assert abs(y[0] - pos.tokens_owed1) <= 2 * pair.steps + 1 + REL * pos.tokens_owed1
        pair.twin.collect(OWNER, lower, upper, 2**128 - 1, 2**128 - 1)
        assert a0 >= 0 and a1 >= 0
    assert pair.twin.liquidity == 0 and pair.batch.L[0] == 0.0
    assert pair.batch.nk[0] == 0 and not pair.twin.ticks


def test_swap_crossing_a_gap_without_liquidity_lands_where_the_twin_does():
    pair = Pair(500, -200_000, slots=2)
    pair.mint(0, -200_100, -199_900, 10**18)
    pair.mint(1, -199_500, -199_000, 10**18)
    (t_in, t_out), (f_in, f_out), steps = pair.swap(True, 10**14, None)
    assert pair.twin.tick >= -199_500 and int(pair.batch.tick[0]) == pair.twin.tick
    assert abs(f_out - t_out) <= steps * (1 + 1e9) + 1 + REL * t_out
    pair.check_state()


def test_tick_functions_agree_with_tickmath():
    rng = np.random.default_rng(5)
    for t in rng.integers(-800_000, 800_000, 200):
        exact = get_sqrt_ratio_at_tick(int(t)) / Q96
        assert sqrt_at_tick(int(t), 1.0) == pytest.approx(exact, rel=1e-13)
    b = V3Batch("p", 1, 500, 10, 1, price_scale=1.0)
    for r in 10.0 ** rng.uniform(-30, 30, 200):
        sp = int(math.sqrt(r) * Q96)
        b.initialize(np.array([(sp / Q96) ** 2]))
        assert abs(int(b.tick[0]) - get_tick_at_sqrt_ratio(sp)) <= 1


@pytest.mark.parametrize("move", [0.9, 0.9993, 1.0007, 1.2])
def test_arbitrage_to_the_band_edge_is_optimal_across_ticks(move):
    b = V3Batch("p", 1, 3000, 60, 3)
    b.initialize(np.array([2000.0]))
    t0 = int(b.tick[0])
    lo, hi = usable_ticks(60)
    b.mint_raw(0, np.array([lo]), np.array([hi]), np.array([1e5]))
    b.mint_raw(
        1, np.array([(t0 // 60 - 20) * 60]), np.array([(t0 // 60 + 20) * 60]), np.array([3e5])
    )
    b.mint_raw(
        2, np.array([(t0 // 60 + 5) * 60]), np.array([(t0 // 60 + 60) * 60]), np.array([2e5])
    )
    ref = 2000.0 * move
    g = b.g
    up = ref * g > 2000.0
    down = ref / g < 2000.0
    if not (up or down):
        return
    target = math.sqrt(ref * g) if up else math.sqrt(ref / g)
    a, out = plan_to(0, target, b.s, b.L, b.idx, b.nk, b.tks, b.tnet, g)

    def profit(amount):
        trial = V3Batch("p", 1, 3000, 60, 3)
        for k, v in vars(b).items():
            setattr(trial, k, v.copy() if isinstance(v, np.ndarray) else v)
        _u, o = trial.swap_raw(np.array([amount]), np.array([1 if up else -1]))
        return (o[0] * ref - amount) if up else (o[0] - amount * ref)

    best = profit(a)
    assert best > 0
    assert best == pytest.approx((out * ref - a) if up else (out - a * ref), rel=1e-9)
    for eps in (1e-3, 1e-6):
        assert profit(a * (1 + eps)) <= best
        assert profit(a * (1 - eps)) <= best
    b.swap_raw(np.array([a]), np.array([1 if up else -1]), np.array([target]))
    assert b.s[0] == pytest.approx(target, rel=1e-12)


# --- the scenario config's refusals ----------------------------------------------------------


def _v3(**pool):
    return {"pools": [], "v3_pools": [{"name": "v3", **pool}], "agents": []}


@pytest.mark.parametrize(
    ("pool", "says"),
    [
        (
            {"fee": 700},
            "fee: 700 is not a fee tier of the Uniswap V3 factory; use 500 (spacing 10)",
        ),
        (
            {"positions": [{"name": "a", "tick_lower": -205, "tick_upper": 100}]},
            "positions.a.tick_lower: -205 is not a multiple of the pool's tick spacing 10",
        ),
        (
            {"positions": [{"name": "a", "tick_lower": 100, "tick_upper": 100}]},
            "positions.a: tick_lower 100 must be below tick_upper 100",
        ),
        (
            {"positions": [{"name": "a", "tick_lower": -900_000, "tick_upper": 100}]},
            "positions.a.tick_lower: -900000 is outside [-887272, 887272]",
        ),
        ({"positions": [{"name": "a", "full_range": True, "value": 0}]}, "positions.0.value"),
        ({"positions": [{"name": "a", "width": 0.1, "full_range": True}]}, "give its range one"),
        ({"positions": [{"name": "a", "tick_lower": 10}]}, "give its range one way"),
        ({"positions": []}, "a pool needs at least one position"),
    ],
    ids=["tier", "spacing", "order", "range", "zero", "two-ways", "half", "none"],
)
def test_bad_pool_config_is_refused_in_one_line(pool, says):
    with pytest.raises(ConfigError) as err:
        scenario_from_dict(_v3(**pool))
    msg = str(err.value)
    assert says in msg and "\n" not in msg, msg
    assert "v3_pools.0" in msg


def test_ranges_from_widths_and_full_range():
    cfg = V3PoolConfig(
        fee=500,
        positions=[
            {"name": "full", "full_range": True},
            {"name": "w10", "width": 0.1},
            {"name": "t", "tick_lower": -200_000, "tick_upper": -199_000},
        ],
    )
    assert cfg.positions[0].ticks(2000.0, 10) == usable_ticks(10) == (-887270, 887270)
    lower, upper = cfg.positions[1].ticks(2000.0, 10)
    assert lower % 10 == 0 and upper % 10 == 0
    assert sqrt_at_tick(lower, 1e6) ** 2 <= 2000.0 / 1.1 < sqrt_at_tick(lower + 10, 1e6) ** 2
    assert sqrt_at_tick(upper - 10, 1e6) ** 2 < 2000.0 * 1.1 <= sqrt_at_tick(upper, 1e6) ** 2
    assert cfg.positions[2].ticks(2000.0, 10) == (-200_000, -199_000)
    assert width_ticks(2000.0, 1e-9, 10)[1] - width_ticks(2000.0, 1e-9, 10)[0] >= 10


def test_twin_refuses_what_the_config_refuses():
    # The config's checks stand in for the pool's own reverts, which carry no field name.
    pool = UniswapV3Pool(500)
    pool.initialize(get_sqrt_ratio_at_tick(0), T0)
    for lower, upper in ((10, 10), (-887280, 0)):
        with pytest.raises(Revert):
            pool.mint(OWNER, lower, upper, 10**18, T0)


def test_bad_scenario_file_fails_in_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "pools: []\n"
        "v3_pools:\n"
        "  - name: v3\n"
        "    fee: 3000\n"
        "    positions:\n"
        "      - {name: narrow, tick_lower: -196_310, tick_upper: -195_780}\n"
        "agents: [{kind: v3_arbitrageur}]\n"
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(sim_group, ["run", str(bad), "--out", str(out), "--no-progress"])
    assert res.exit_code != 0
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1, res.output
    assert "v3_pools.0" in lines[0] and "positions.narrow.tick_lower" in lines[0]
    assert "multiples of 60 in [-887220, 887220]" in lines[0]
    assert not out.exists()

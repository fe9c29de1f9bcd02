"""Uniswap V3 in the fast engine against the published theory, and its exact identities.
Monte Carlo checks compare at K standard errors.

Sources:
* Milionis, Moallemi, Roughgarden, Zhang (2022), "Automated Market Making and Loss-Versus-
  Rebalancing", arXiv:2208.06046: a pool that holds x(P) of the risky asset at price P loses
  to the rebalancing portfolio at the instantaneous rate LVR = sigma^2 P^2 |x'(P)| / 2 per unit
  time (their Theorem 1), with no fee and continuous arbitrage. A Uniswap V3 position of
  liquidity L on [Pa, Pb] holds x(P) = L (1/sqrt(P) - 1/sqrt(Pb)) and y(P) = L (sqrt(P) -
  sqrt(Pa)) while Pa < P < Pb (Uniswap V3 whitepaper, section 6.2.3), so |x'(P)| =
  L / (2 P^(3/2)) and
      LVR = sigma^2 L sqrt(P) / 4                                  (in range; 0 outside).
  Its value is V(P) = P x + y = L (2 sqrt(P) - sqrt(Pa) - P / sqrt(Pb)), so per unit of value
      LVR / V = sigma^2 sqrt(P) / (4 (2 sqrt(P) - sqrt(Pa) - P / sqrt(Pb))),
  which is sigma^2 / 8, the constant-product result, for the full range (Pa -> 0, Pb -> inf).
  The engine's `lvr_rate` of a position sums LVR / V trade by trade (V after the trade), so its
  expectation over a run is the time average of E[LVR/V (P_t)] over the law of P_t: with a
  driftless log price (mu = sigma^2 / 2), log P_t ~ N(log P0, sigma^2 t), integrated here on a
  grid. Discrete blocks change it by O(sigma^2 dt) ~ 1e-7 relative (the one-block kernel smooths
  the rate's jumps at the range's ends, which moves its integral by the kernel's variance).
* Milionis, Moallemi, Roughgarden (2023), "Automated Market Making and Arbitrage Profits in the
  Presence of Fees", arXiv:2305.14604: the trade probability per Poisson block
  1 / (1 + gamma / (sigma sqrt(dt/2))) and the arbitrage profit rate
  sigma^2/8 P_trade e^(gamma/2) / (1 - sigma^2 / (8 lambda)) per unit of V(P) = 2 L sqrt(P),
  with the fee on the input (derived in tests/sim/test_theory.py). A full-range V3 position is a
  constant-product pool whose fee is paid out of the curve; the engine divides by the value
  after the trade, V(P) cosh(gamma/2) (the pool sits on the edge of the fee band).

Tick discreteness: the full range ends at ticks -887270 and 887270, not at 0 and infinity, so
its value differs from 2 L sqrt(P) by L (P / sqrt(Pb) + sqrt(Pa)), a relative
`FULL_RANGE_BOUND` ~ 1e-20 (computed below), far inside every tolerance; the float pool has no
tick rounding of the price itself.
"""

import math

import numpy as np
import pytest

from sim.engine.core import Engine, EngineHooks
from sim.scenario import scenario_from_dict
from sim.studies.univ3_theory import (
    S0,
    SIG_DAY,
    expected_lvr_rate,
    mmr_theory,
    theory_scenario,
    tick_bounds,
    zero_fee,
)
from sim.venues.univ3.config import PRICE_SCALE, usable_ticks, width_ticks
from sim.venues.univ3.engine import make_v3_pools

K = 4.0  # standard errors
LO, HI = usable_ticks(10)
FULL_RANGE_BOUND = math.sqrt(S0 / (PRICE_SCALE * 1.0001**HI)) + math.sqrt(
    PRICE_SCALE * 1.0001**LO / S0
)
ZERO_FEE = EngineHooks(factories={"v3_pools": zero_fee(make_v3_pools)})


def _scenario(positions, fee=500, **kw):
    return scenario_from_dict(theory_scenario(positions, fee, **kw))


def _mean_se(v):
    v = np.asarray(v, dtype=float)
    return v.mean(), v.std(ddof=1) / math.sqrt(v.size)


@pytest.mark.statistical
def test_zero_fee_lvr_of_full_range_and_concentrated_positions():
    positions = [
        {"name": "full", "full_range": True, "value": 1e7},
        {"name": "w10", "width": 0.10, "value": 2e6},
        {"name": "w3", "width": 0.03, "value": 2e6},
    ]
    w = Engine(_scenario(positions), hooks=ZERO_FEE).run().worlds
    # Full range: the constant-product sigma^2 / 8, within the tick bound.
    m, se = _mean_se(w["v3.v3.full.lvr_rate"])
    theory = SIG_DAY**2 / 8
    assert abs(m - theory) < K * se + theory * FULL_RANGE_BOUND, (m, se, theory)
    # Concentrated: sigma^2 sqrt(P) / (4 (2 sqrt(P) - sqrt(Pa) - P / sqrt(Pb))) over the
    # law of P_t (in range) and 0 outside.
    for name, width in (("w10", 0.10), ("w3", 0.03)):
        pa, pb = tick_bounds(*width_ticks(S0, width, 10))
        theory = expected_lvr_rate(pa, pb, 7200)
        m, se = _mean_se(w[f"v3.v3.{name}.lvr_rate"])
        assert abs(m - theory) < K * se, (name, m, se, theory)
        # ... which is well above the full range's, as the theory says (about 1 / width).
        assert m > 2 * SIG_DAY**2 / 8
    # Every block trades (zero fee): the pool's arbitrage profit is its LVR, trade by trade.
    np.testing.assert_allclose(w["v3.v3.arb_profit"], w["v3.v3.lvr"], rtol=1e-12)
    assert np.all(w["v3.v3.arb_block_frac"] == 1.0)


@pytest.mark.statistical
@pytest.mark.parametrize("fee", [500, 3000])
def test_full_range_fees_poisson_blocks_trade_probability_and_profit(fee):
    p_trade, arb = mmr_theory(fee)
    sc = _scenario(
        [{"name": "full", "full_range": True, "value": 2e7}], fee=fee, poisson=True,
        paths=3000, n_blocks=14_400, warmup=3000,
    )  # fmt: skip
    w = Engine(sc).run().worlds
    m, se = _mean_se(w["v3.v3.arb_block_frac"])
    assert abs(m - p_trade) < K * se, (m, se, p_trade)
    m, se = _mean_se(w["v3.v3.arb_profit_rate"])
    assert abs(m - arb) < K * se + arb * FULL_RANGE_BOUND, (m, se, arb)


POSITIONS = [
    {"name": "full", "full_range": True, "value": 1e7},
    {"name": "w5", "width": 0.05, "value": 2e6},
    {"name": "t", "tick_lower": -196_320, "tick_upper": -195_780, "value": 1e6},
]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "general"])
def test_arb_profit_plus_fees_is_lvr_in_every_world(fused):
    sc = _scenario(POSITIONS, fee=3000, poisson=True, paths=200, n_blocks=2000)
    w = Engine(sc, fused=fused).run().worlds
    np.testing.assert_allclose(w["v3.v3.arb_profit"] + w["v3.v3.fees"], w["v3.v3.lvr"], rtol=1e-9)
    np.testing.assert_allclose(
        w["v3.v3.arb_profit_rate"] + w["v3.v3.arb_fee_rate"], w["v3.v3.lvr_arb_rate"], rtol=1e-9
    )
    # The positions' LVR and fees add up to the pool's.
    names = [p["name"] for p in POSITIONS]
    for metric in ("lvr", "fees"):
        total = sum(w[f"v3.v3.{n}.{metric}"] for n in names)
        np.testing.assert_allclose(total, w[f"v3.v3.{metric}"], rtol=1e-9, atol=1e-6)
    assert np.all(w["v3.v3.n_trades"] > 100)


def test_fused_kernel_equals_the_general_path():
    sc = _scenario(POSITIONS, fee=500, paths=300, n_blocks=1500, poisson=True, warmup=200)
    fused = Engine(sc, fused=True).run()
    general = Engine(sc, fused=False).run()
    assert fused.path == "fused" and general.path == "general"
    assert set(fused.worlds) == set(general.worlds)
    for k, v in general.worlds.items():
        np.testing.assert_allclose(fused.worlds[k], v, rtol=1e-9, atol=1e-9, err_msg=k)


def _tokens(p, pa, pb):
    """(x, y) / L of a position on [pa, pb] at price p."""
    sp = np.sqrt(np.clip(p, pa, pb))
    return 1 / sp - 1 / math.sqrt(pb), sp - math.sqrt(pa)


def test_impermanent_loss_and_time_in_range_closed_forms():
    # Zero fee and an arbitrage every block: the pool ends on the reference price, so each
    # position's value over holding its initial tokens is its closed form at P_T = S0 r,
    # world by world (for the full range, 2 sqrt(r) / (1 + r) - 1 within the tick bound).
    sc = _scenario(POSITIONS, paths=300, n_blocks=500, sigma=3.0)
    w = Engine(sc, hooks=ZERO_FEE).run().worlds
    r = w["v3.v3.price_ratio"]
    assert np.ptp(r) > 0.1  # the check spans a real range of price moves
    for pos in POSITIONS:
        if pos.get("full_range"):
            pa, pb = tick_bounds(LO, HI)
        elif "width" in pos:
            pa, pb = tick_bounds(*width_ticks(S0, pos["width"], 10))
        else:
            pa, pb = tick_bounds(pos["tick_lower"], pos["tick_upper"])
        hold_x, hold_y = _tokens(S0, pa, pb)
        p_end = S0 * r
        x, y = _tokens(p_end, pa, pb)
        il = (x * p_end + y) / (hold_x * p_end + hold_y) - 1
        np.testing.assert_allclose(w[f"v3.v3.{pos['name']}.il"], il, rtol=1e-9, atol=1e-12)
        tir = w[f"v3.v3.{pos['name']}.time_in_range"]
        assert np.all((tir >= 0) & (tir <= 1))
    full = 2 * np.sqrt(r) / (1 + r) - 1
    np.testing.assert_allclose(w["v3.v3.full.il"], full, rtol=1e-9, atol=FULL_RANGE_BOUND)
    assert np.all(w["v3.v3.full.time_in_range"] == 1.0)
    assert np.any(w["v3.v3.w5.time_in_range"] < 1.0)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "general"])
def test_sigma_zero_no_trades_no_lvr(fused):
    sc = _scenario(POSITIONS, fee=3000, sigma=0.0, mu=0.0, paths=50, n_blocks=300, poisson=True)
    w = Engine(sc, fused=fused).run().worlds
    for k in ("v3.v3.n_trades", "v3.v3.lvr", "v3.v3.arb_profit", "v3.v3.fees", "v3.v3.w5.lvr"):
        assert np.all(w[k] == 0.0), k
    np.testing.assert_array_equal(w["v3.v3.w5.il"], 0.0)


def test_sigma_zero_with_mispriced_pool_trades_once():
    sc = _scenario(POSITIONS, fee=3000, sigma=0.0, mu=0.0, paths=20, n_blocks=100, offset=100.0)
    w = Engine(sc).run().worlds
    assert np.all(w["v3.v3.n_trades"] == 1.0)
    assert np.all(w["v3.v3.arb_profit"] > 0)


def test_range_lp_and_scenario_positions_add_up_to_the_pool():
    # An LP opening and closing ranges all day: its positions' fees and LVR, closed or still
    # open, plus the scenario positions', are the pool's, world by world.
    data = theory_scenario(POSITIONS, fee=500, paths=100, n_blocks=1500, poisson=True)
    data["agents"].append(
        {"kind": "v3_lp", "name": "lp", "pool": "v3", "width": 0.01, "value": 3e5,
         "open_rate": 300.0, "close_rate": 300.0, "max_positions": 3}
    )  # fmt: skip
    w = Engine(scenario_from_dict(data)).run().worlds
    assert np.all(w["v3.v3.lp.lp.positions"] > 5)
    for metric in ("fees", "lvr"):
        total = w[f"v3.v3.lp.lp.{metric}"] + sum(
            w[f"v3.v3.{p['name']}.{metric}"] for p in POSITIONS
        )
        np.testing.assert_allclose(total, w[f"v3.v3.{metric}"], rtol=1e-9, atol=1e-6)


def test_series_hold_the_pools_price_tick_and_in_range_liquidity():
    rows = []
    sc = _scenario(POSITIONS, paths=3, n_blocks=50)
    sc.metrics.series_every = 10
    Engine(sc).run(series_sink=rows.append)
    assert len(rows) == 5
    for row in rows:
        price, tick, liquidity = row["v3.v3.price"], row["v3.v3.tick"], row["v3.v3.liquidity"]
        # The tick is the pool's price on the tick grid; some position is in range.
        assert np.all(PRICE_SCALE * 1.0001**tick <= price * (1 + 1e-12))
        assert np.all(price < PRICE_SCALE * 1.0001 ** (tick + 1))
        assert np.all(liquidity > 0)

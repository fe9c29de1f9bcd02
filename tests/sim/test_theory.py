"""Validation against LVR theory. Monte Carlo checks compare at K standard errors.

Sources:
* Milionis, Moallemi, Roughgarden, Zhang (2022), "Automated Market Making and Loss-Versus-
  Rebalancing", arXiv:2208.06046: for constant product, LVR per unit pool value = sigma^2/8
  per unit time (instantaneous rate, continuous arbitrage, no fee).
* Milionis, Moallemi, Roughgarden (2023), "Automated Market Making and Arbitrage Profits in the
  Presence of Fees", arXiv:2305.14604. With Poisson blocks of rate lambda = 1/dt and a fee
  gamma in log units, the mispricing z = log(P / pool price) seen by an arriving block is
  stationary with an atom-free law: uniform on [-gamma, gamma] with mass 1 - P_trade and an
  exponential tail of rate eta = sqrt(2 lambda)/sigma beyond each edge with mass P_trade/2:
      P_trade = 1 / (1 + gamma / (sigma sqrt(dt/2)))          (their Theorem 1 / Corollary).
  The arbitrage profit rate is lambda E[A(z)] (their Theorem 2). For a V2 pool (fee on the
  input, fee paid out of the curve) the profit of a block at mispricing |z| = gamma + u is
  A = 2 L sqrt(P) e^{gamma/2} (cosh(u/2) - 1) (derived in this file's helper); averaging over
  u ~ Exp(eta), E[cosh(u/2) - 1] = 1/(4 eta^2 - 1), so, per unit of V(P) = 2 L sqrt(P),
      ARB / V = sigma^2/8 * P_trade * e^{gamma/2} / (1 - sigma^2 / (8 lambda)).
  The paper's Corollary for constant product states the same structure (sigma^2/8 scaled by
  P_trade, with an O(gamma) factor of exponentials set by its fee convention, and the same
  1/(1 - sigma^2/(8 lambda))); the e^{gamma/2} here is the V2 fee-on-input convention this
  simulator implements. Both results are exact in the model (not asymptotic) when the log
  price has no drift (mu = sigma^2/2) and the pool starts from the stationary law, which the
  warm-up provides.

Every theory value below is exact for the simulated model up to terms of relative size
sigma^2 dt ~ 1e-8 and (cosh(gamma/2) - 1) ~ 1e-6, far below the standard errors (~1e-3).
"""

import math

import numpy as np
import pytest

from sim.engine.core import Engine
from sim.scenario import scenario_from_dict
from sim.stats import mean_se

K = 4.0  # standard errors; a correct model fails one check in ~16,000
SIG_DAY = 0.05
SIG = SIG_DAY * math.sqrt(365.0)  # annualised


def _scenario(**kw):
    fee = kw.pop("fee_bps", 0.0)
    data = {
        "seed": kw.pop("seed", 11),
        "paths": kw.pop("paths", 4000),
        "price": {
            "kind": "gbm",
            "s0": 2000.0,
            "sigma": kw.pop("sigma", SIG),
            "mu": kw.pop("mu", SIG**2 / 2),
        },
        "blocks": {
            "n_blocks": kw.pop("n_blocks", 7200),
            "block_time": 12.0,
            "poisson": kw.pop("poisson", False),
        },
        "pools": [
            {
                "name": "pool",
                "fee_bps": fee,
                "fee_to_reserves": kw.pop("fee_to_reserves", False),
                "price_offset_bps": kw.pop("offset", 0.0),
            }
        ],
        "agents": [{"kind": "arbitrageur", "name": "arb", "pay_gas": False}],
        "metrics": {"warmup_blocks": kw.pop("warmup", 0)},
    }
    assert not kw
    return scenario_from_dict(data)


@pytest.mark.statistical
def test_lvr_zero_fee_is_sigma2_over_8():
    res = Engine(_scenario(paths=10_000)).run()
    w = res.worlds
    theory = SIG_DAY**2 / 8  # per day, fraction of pool value
    # Discrete blocks: E[cosh(z/2) - 1] = exp(sigma^2 dt / 8) - 1 per block (driftless log
    # price), i.e. theory * (1 + O(sigma^2 dt)); the difference is ~2e-8 relative.
    mean, se = mean_se(w["pool.lvr_rate"])
    print(f"\nTHEORY LVR zero fee per day: {mean:.6e} ± {se:.1e} (σ²/8 = {theory:.6e})")
    assert abs(mean - theory) < K * se, (mean, se, theory)
    # Every block trades (zero fee): arbitrage profit is the LVR, trade by trade.
    np.testing.assert_allclose(w["pool.arb_profit_rate"], w["pool.lvr_rate"], rtol=1e-12)
    assert np.all(w["pool.arb_block_frac"] == 1.0)


def _mmr_theory(fee_bps):
    f = fee_bps / 1e4
    gamma = -math.log(1 - f)
    dt_day = 12.0 / 86400
    lam = 1 / dt_day
    p_trade = 1 / (1 + gamma / (SIG_DAY * math.sqrt(dt_day / 2)))
    arb = SIG_DAY**2 / 8 * p_trade * math.exp(gamma / 2) / (1 - SIG_DAY**2 / (8 * lam))
    # The engine divides by the pool value after the trade, V(P) cosh(gamma/2).
    return p_trade, arb / math.cosh(gamma / 2), gamma


@pytest.mark.statistical
@pytest.mark.parametrize("fee_bps", [5.0, 30.0])
def test_fees_poisson_blocks_trade_probability_and_profit(fee_bps):
    p_trade, arb, _ = _mmr_theory(fee_bps)
    sc = _scenario(fee_bps=fee_bps, poisson=True, paths=3000, n_blocks=14_400, warmup=3000)
    w = Engine(sc).run().worlds
    m, se = mean_se(w["pool.arb_block_frac"])
    print(f"\nTHEORY {fee_bps:g} bp arbitrage block fraction: {m:.6f} ± {se:.1e} ({p_trade:.6f})")
    assert abs(m - p_trade) < K * se, (m, se, p_trade)
    m, se = mean_se(w["pool.arb_profit_rate"])
    print(f"THEORY {fee_bps:g} bp arbitrage profit rate: {m:.6e} ± {se:.1e} ({arb:.6e})")
    assert abs(m - arb) < K * se, (m, se, arb)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "general"])
@pytest.mark.parametrize("to_res", [True, False], ids=["fee_to_reserves", "fee_on_side"])
def test_arb_profit_plus_fees_is_lvr(fused, to_res):
    sc = _scenario(fee_bps=30.0, poisson=True, paths=200, n_blocks=2000, fee_to_reserves=to_res)
    w = Engine(sc, fused=fused).run().worlds
    np.testing.assert_allclose(
        w["pool.arb_profit_rate"] + w["pool.arb_fee_rate"], w["pool.lvr_arb_rate"], rtol=1e-9
    )
    np.testing.assert_allclose(w["pool.arb_profit"] + w["pool.fees"], w["pool.lvr"], rtol=1e-9)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "general"])
def test_impermanent_loss_closed_form(fused):
    # Zero fee and an arbitrage every block: the pool ends exactly at the reference price, so
    # LP / hold - 1 = 2 sqrt(r) / (1 + r) - 1 with r = P_T / P_0, world by world.
    sc = _scenario(paths=300, n_blocks=500, sigma=3.0, fee_to_reserves=True)
    w = Engine(sc, fused=fused).run().worlds
    r = w["pool.price_ratio"]
    np.testing.assert_allclose(
        w["pool.lp_vs_hold"], 2 * np.sqrt(r) / (1 + r) - 1, rtol=1e-9, atol=1e-12
    )
    assert np.ptp(r) > 0.1  # the check spans a real range of price moves


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "general"])
def test_sigma_zero_no_trades_no_lvr(fused):
    sc = _scenario(sigma=0.0, mu=0.0, fee_bps=30.0, paths=50, n_blocks=300, poisson=True)
    w = Engine(sc, fused=fused).run().worlds
    for k in ("pool.n_trades", "pool.lvr", "pool.lvr_rate", "pool.arb_profit", "pool.fees"):
        assert np.all(w[k] == 0.0), k
    np.testing.assert_array_equal(w["pool.lp_vs_hold"], 0.0)


def test_sigma_zero_with_mispriced_pool_trades_once():
    sc = _scenario(sigma=0.0, mu=0.0, fee_bps=30.0, paths=20, n_blocks=100, offset=100.0)
    w = Engine(sc).run().worlds
    assert np.all(w["pool.n_trades"] == 1.0)
    assert np.all(w["pool.arb_profit"] > 0)

"""The published theory a Uniswap V3 pool is checked against: the values the statistical tests
(`tests/sim/test_univ3_theory.py`, where the formulas are derived) and the README's table
(`scripts/study_univ3.py --theory`) compare the fast engine with, and the scenarios they run.

Sources: Milionis, Moallemi, Roughgarden, Zhang (2022), "Automated Market Making and
Loss-Versus-Rebalancing", arXiv:2208.06046 (LVR = sigma^2 P^2 |x'(P)| / 2); Milionis, Moallemi,
Roughgarden (2023), "Automated Market Making and Arbitrage Profits in the Presence of Fees",
arXiv:2305.14604 (trade probability and arbitrage profit with Poisson blocks).

Units: prices in numeraire per risky (whole units), sigma per sqrt(day), rates per day.
"""

from __future__ import annotations

import math

import numpy as np

from sim.venues.univ3.config import PRICE_SCALE

SIG_DAY = 0.05
"""Volatility of the checks, per sqrt(day)."""
S0 = 2000.0
"""Initial price."""
DT_DAY = 12.0 / 86400
"""Block time, days."""


def tick_bounds(lower: int, upper: int) -> tuple[float, float]:
    """Whole-unit prices (Pa, Pb) of canonical ticks."""
    return PRICE_SCALE * 1.0001**lower, PRICE_SCALE * 1.0001**upper


def lvr_per_value(p: np.ndarray, pa: float, pb: float) -> np.ndarray:
    """LVR / V per unit time over sigma^2 of a position on [pa, pb] at price p:
    sqrt(P) / (4 (2 sqrt(P) - sqrt(Pa) - P / sqrt(Pb))) in range, 0 outside."""
    inside = (p > pa) & (p < pb)
    sp = np.sqrt(p)
    v = 2 * sp - math.sqrt(pa) - p / math.sqrt(pb)
    return np.where(inside, sp / (4 * np.where(inside, v, 1.0)), 0.0)


def expected_lvr_rate(
    pa: float, pb: float, n_blocks: int, sig_day: float = SIG_DAY, every: int = 10
) -> float:
    """Time average over a run of `n_blocks` of E[LVR/V (P_t)], per day, for a driftless log
    price from S0: log P_t ~ N(log S0, sigma^2 t), on a fine grid of z at every `every`-th
    block's starting time."""
    z = np.linspace(-9.0, 9.0, 6001)
    w = np.exp(-0.5 * z * z)
    w /= w.sum()
    rates = []
    for t in np.arange(0, n_blocks, every) * DT_DAY:
        p = S0 * np.exp(sig_day * math.sqrt(t) * z)
        rates.append(float((lvr_per_value(p, pa, pb) * w).sum()))
    return sig_day**2 * float(np.mean(rates))


def mmr_theory(fee_pips: int, sig_day: float = SIG_DAY) -> tuple[float, float]:
    """(trade probability per Poisson block, arbitrage profit per day over the value after the
    trade) of a constant-product pool with the fee on the input and paid out of the curve
    (MMR 2023; the V2 fee convention derived in tests/sim/test_theory.py)."""
    gamma = -math.log(1 - fee_pips / 1e6)
    lam = 1 / DT_DAY
    p_trade = 1 / (1 + gamma / (sig_day * math.sqrt(DT_DAY / 2)))
    arb = sig_day**2 / 8 * p_trade * math.exp(gamma / 2) / (1 - sig_day**2 / (8 * lam))
    return p_trade, arb / math.cosh(gamma / 2)


def theory_scenario(positions: list[dict], fee: int = 500, **kw) -> dict:
    """The checks' scenario (a dict for `sim.scenario.scenario_from_dict`): GBM from S0 with a
    driftless log price, 12 s blocks, one V3 pool with `positions`, a gas-free arbitrageur."""
    sig = kw.pop("sigma", SIG_DAY * math.sqrt(365.0))
    data = {
        "seed": kw.pop("seed", 11),
        "paths": kw.pop("paths", 2000),
        "price": {"kind": "gbm", "s0": S0, "sigma": sig, "mu": kw.pop("mu", sig**2 / 2)},
        "blocks": {"n_blocks": kw.pop("n_blocks", 7200), "block_time": 12.0,
                   "poisson": kw.pop("poisson", False)},
        "pools": [],
        "v3_pools": [{"name": "v3", "fee": fee, "positions": positions,
                      "price_offset_bps": kw.pop("offset", 0.0)}],
        "agents": [{"kind": "v3_arbitrageur", "name": "arb", "pay_gas": False}],
        "metrics": {"warmup_blocks": kw.pop("warmup", 0)},
    }  # fmt: skip
    if kw:
        raise TypeError(f"theory_scenario: unknown settings {sorted(kw)}")
    return data


def zero_fee(make):
    """Wrap a `v3_pools` factory so its pools charge no fee: the factory has no zero tier, the
    float pool does (for `sim.engine.core.EngineHooks.factories`)."""

    def build(sc, ref):
        pools = make(sc, ref)
        for p in pools.values():
            p.fee, p.f, p.g = 0, 0.0, 1.0
        return pools

    return build

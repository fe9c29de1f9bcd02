"""Float batch pool against the exact integer twin, and the closed-form arbitrage."""

import numpy as np
import pytest

from sim.venues.cpmm import twin as cpmm
from sim.venues.cpmm.batch import (
    CpmmBatch,
    amount_out_f,
    get_amount_in,
    get_amount_out,
    optimal_arb_input,
)

# Float64 carries ~16 significant digits; the integer twin floors once (getAmountIn adds 1).
# So |float - int| <= 1 base unit + 1e-12 relative covers every case below.
REL = 1e-12


def _random_trades(seed: int, n: int = 2000):
    rng = np.random.default_rng(seed)
    # Reserves from 1e15 to 1e27 base units (a thousandth of a token to a billion tokens).
    r_in = [int(10.0**e) for e in rng.uniform(15, 27, n)]
    r_out = [int(10.0**e) for e in rng.uniform(15, 27, n)]
    frac = 10.0 ** rng.uniform(-9, -0.3, n)
    fees = rng.choice([0, 5, 30, 100], n)
    return r_in, r_out, frac, fees


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_amount_out_matches_integer_twin(seed):
    r_in, r_out, frac, fees = _random_trades(seed)
    for ri, ro, fr, fee in zip(r_in, r_out, frac, fees, strict=True):
        a = max(int(ri * fr), 1)
        exact = cpmm.get_amount_out(a, int(ri), int(ro), int(fee))
        approx = float(get_amount_out(float(a), float(ri), float(ro), float(fee)))
        assert abs(approx - exact) <= 1.0 + REL * exact
        # The numba compilation of the same source: the same bits.
        assert amount_out_f(float(a), float(ri), float(ro), float(fee)) == approx


@pytest.mark.parametrize("seed", [4, 5])
def test_amount_in_matches_integer_twin(seed):
    r_in, r_out, frac, fees = _random_trades(seed)
    for ri, ro, fr, fee in zip(r_in, r_out, frac, fees, strict=True):
        out = max(int(ro * fr), 1)
        exact = cpmm.get_amount_in(out, int(ri), int(ro), int(fee))
        approx = float(get_amount_in(float(out), float(ri), float(ro), float(fee)))
        assert abs(approx - exact) <= 1.0 + REL * exact


@pytest.mark.parametrize("to_res", [True, False], ids=["fee_to_reserves", "fee_on_side"])
@pytest.mark.parametrize("fee_bps", [0.0, 5.0, 30.0, 100.0])
@pytest.mark.parametrize("move", [0.9, 0.999, 1.001, 1.2])
def test_closed_form_arb_is_optimal_and_hits_band_edge(fee_bps, move, to_res):
    x, y = 1000.0, 2_000_000.0
    p = 2000.0 * move
    a, d = optimal_arb_input(x, y, p, fee_bps)
    g = 1 - fee_bps / 1e4
    if (move > 1 and p * g <= 2000.0) or (move < 1 and p >= g * 2000.0):
        assert d == 0
        return
    assert d == (1 if move > 1 else -1)

    def profit(amt):
        if d > 0:
            return amount_out_f(amt, y, x, fee_bps) * p - amt
        return amount_out_f(amt, x, y, fee_bps) - amt * p

    best = profit(a)
    assert best > 0
    for eps in (1e-3, 1e-6):
        assert profit(a * (1 + eps)) <= best
        assert profit(a * (1 - eps)) <= best
    pool = CpmmBatch("p", np.array([x]), np.array([y]), fee_bps, to_res)
    pool.swap(np.array([a]), np.array([d]))
    if not to_res:
        # On the curve x*y = k the marginal price lands exactly on the fee band's edge.
        edge = p * g if d > 0 else p / g
        assert pool.price()[0] == pytest.approx(edge, rel=1e-12)
        assert pool.x[0] * pool.y[0] == pytest.approx(x * y, rel=1e-12)


def test_mint_burn_round_trip():
    pool = CpmmBatch("p", np.array([10.0, 20.0]), np.array([100.0, 50.0]), 30.0)
    s = pool.mint(np.array([0.5, 0.1]))
    ox, oy = pool.burn(s)
    np.testing.assert_allclose(ox, [5.0, 2.0])
    np.testing.assert_allclose(oy, [50.0, 5.0])
    np.testing.assert_allclose(pool.x, [10.0, 20.0])

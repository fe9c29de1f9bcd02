"""BlackScholes.vy through its harness: wei-exact parity with the integer twin, published
reference values, every revert, and the gas targets.

Evaluations are batched (`greeks_batch`, `unary_batch`: up to 256 per eth_call) so the whole
module runs in a few seconds.
"""

from __future__ import annotations

import itertools

import ape
import numpy as np
import pytest

from sim.errors import Revert
from sim.venues.options import bs

pytestmark = pytest.mark.chain

WAD = 10**18
DAY = 86_400
BATCH = 256

# Gas anchors (per transaction, eth_estimateGas on anvil, 21_000 intrinsic gas included):
# Lyra v1 BlackScholes.sol optionPrices ~58_000, pricesDeltaStdVega ~79_600.
LYRA_PRICE_GAS = 58_000
LYRA_PRICE_DELTA_VEGA_GAS = 79_600


@pytest.fixture(scope="module")
def harness(project, accounts):
    return accounts[0].deploy(project.BlackScholesHarness)


def _chunks(items, n=BATCH):
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _grid() -> list[tuple]:
    spots = [10**12, WAD, 1_500 * WAD, 10**30]
    moneyness = [(1, 5), (7, 10), (1, 1), (13, 10), (5, 1)]  # strike / spot
    taus = [3_600, DAY, 30 * DAY, bs.YEAR, 2 * bs.YEAR]
    vols = [10**16, 2 * 10**17, WAD, 5 * WAD]
    rates = [0, 5 * 10**16, -2 * 10**16]
    out = []
    for s, (num, den), t, v, r, c in itertools.product(
        spots, moneyness, taus, vols, rates, (True, False)
    ):
        out.append((s, s * num // den, t, v, r, c))
    return out


def _random(n: int, seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = int(10 ** rng.uniform(12, 30))
        k = int(s * 10 ** rng.uniform(np.log10(0.2), np.log10(5)))
        k = min(max(k, (s + 4) // 5), 5 * s)
        t = int(rng.integers(3_600, 2 * bs.YEAR, endpoint=True))
        v = int(rng.integers(10**16, 5 * WAD, endpoint=True))
        r = int(rng.integers(-WAD, WAD, endpoint=True)) if rng.random() < 0.5 else 0
        out.append((s, k, t, v, r, bool(rng.random() < 0.5)))
    return out


def _assert_twin_parity(harness, options: list[tuple]) -> None:
    for chunk in _chunks(options):
        got = harness.greeks_batch(chunk)
        prices = harness.price_batch(chunk)
        for o, g, p in zip(chunk, got, prices, strict=True):
            want = bs.bs_greeks_int(*o)
            assert tuple(g) == tuple(want), o
            assert p == want.price == bs.bs_price_int(*o), o


# --- wei-exact parity with the integer twin -----------------------------------------------


def test_twin_parity_grid(harness):
    """2,400 grid points (spot x moneyness x tau x vol x rate x call/put), equal to the wei."""
    _assert_twin_parity(harness, _grid())


def test_twin_parity_random(harness):
    _assert_twin_parity(harness, _random(768, seed=20240611))


@pytest.mark.parametrize(
    "op,name,xs",
    [
        (0, "ln", [1, 10**9, WAD // 5, WAD - 1, WAD, WAD + 1, 7 * WAD, 10**30, 2**160 - 1]),
        (1, "exp", [-64 * WAD - 1, -64 * WAD, -41 * WAD, -WAD, -1, 0, 1, WAD, 50 * WAD, 100 * WAD]),
        (2, "sqrt", [0, 1, 2, WAD, 2 * WAD, 10**40, 2**196 - 1]),
        (3, "ncdf", [-(10**30), -12 * WAD, -11_500 * 10**15, -6 * WAD, -WAD, 0, WAD, 38 * WAD]),
        (4, "npdf", [-(10**30), -12 * WAD, -6 * WAD, -WAD, 0, 674_489_750 * 10**9, 10**30]),
    ],
)
def test_unary_parity_edges(harness, op, name, xs):
    twin = [bs.ln_wad, bs.exp_wad, bs.sqrt_wad, bs.ncdf_wad, bs.npdf_wad][op]
    assert list(harness.unary_batch(op, xs)) == [twin(x) for x in xs]


def test_unary_parity_random(harness):
    rng = np.random.default_rng(7)
    cases = {
        0: [int(10 ** rng.uniform(0, 48)) for _ in range(BATCH)],
        1: [int(rng.uniform(-64, 100) * WAD) for _ in range(BATCH)],
        2: [int(10 ** rng.uniform(0, 59)) for _ in range(BATCH)],
        3: [int(rng.uniform(-13, 13) * WAD) for _ in range(BATCH)],
        4: [int(rng.uniform(-13, 13) * WAD) for _ in range(BATCH)],
    }
    twins = [bs.ln_wad, bs.exp_wad, bs.sqrt_wad, bs.ncdf_wad, bs.npdf_wad]
    for op, xs in cases.items():
        assert list(harness.unary_batch(op, xs)) == [twins[op](x) for x in xs]


# --- published values --------------------------------------------------------------------


def test_hull_example_on_chain(harness):
    """Hull, Options, Futures and Other Derivatives, Example 15.6 (S=42, K=40, r=10 %,
    sigma=20 %, T=0.5): call 4.76, put 0.81."""
    t = bs.YEAR // 2
    call = harness.price(42 * WAD, 40 * WAD, t, WAD // 5, WAD // 10, True)
    put = harness.price(42 * WAD, 40 * WAD, t, WAD // 5, WAD // 10, False)
    assert round(call / WAD, 2) == 4.76
    assert round(put / WAD, 2) == 0.81


# --- reverts -------------------------------------------------------------------------------

GOOD = (100 * WAD, 100 * WAD, 30 * DAY, WAD // 2, 0, True)


@pytest.mark.parametrize(
    "index,value,reason",
    [
        (0, 10**12 - 1, "bs: spot out of range"),
        (0, 10**30 + 1, "bs: spot out of range"),
        (1, 20 * WAD - 1, "bs: strike out of range"),
        (1, 500 * WAD + 1, "bs: strike out of range"),
        (2, 3_599, "bs: time out of range"),
        (2, 2 * bs.YEAR + 1, "bs: time out of range"),
        (3, 10**16 - 1, "bs: vol out of range"),
        (3, 5 * WAD + 1, "bs: vol out of range"),
        (4, -WAD - 1, "bs: rate out of range"),
        (4, WAD + 1, "bs: rate out of range"),
    ],
    ids=lambda x: str(x) if isinstance(x, str) else None,
)
def test_domain_reverts(harness, index, value, reason):
    args = list(GOOD)
    args[index] = value
    with ape.reverts(reason):
        harness.greeks(*args)
    with ape.reverts(reason):
        harness.price(*args)
    with pytest.raises(Revert, match=reason):
        bs.bs_greeks_int(*args)
    with pytest.raises(Revert, match=reason):
        bs.bs_price_int(*args)


def test_domain_edges_accepted(harness):
    edges = [
        (10**12, 5 * 10**12, 3_600, 10**16, -WAD, True),
        (10**30, 2 * 10**29, 2 * bs.YEAR, 5 * WAD, WAD, False),
        (10**30, 5 * 10**30, 2 * bs.YEAR, 5 * WAD, WAD, True),
    ]
    _assert_twin_parity(harness, edges)


@pytest.mark.parametrize(
    "fn,arg,reason,twin",
    [
        ("ln_wad", 0, "bs: ln of zero", bs.ln_wad),
        ("ln_wad", 2**160, "bs: ln input too large", bs.ln_wad),
        ("exp_wad", 100 * WAD + 1, "bs: exp overflow", bs.exp_wad),
        ("sqrt_wad", 2**196, "bs: sqrt input too large", bs.sqrt_wad),
        ("ncdf_wad", 10**30 + 1, "bs: cdf input out of range", bs.ncdf_wad),
        ("npdf_wad", -(10**30) - 1, "bs: cdf input out of range", bs.npdf_wad),
    ],
)
def test_math_reverts(harness, fn, arg, reason, twin):
    with ape.reverts(reason):
        getattr(harness, fn)(arg)
    with pytest.raises(Revert, match=reason):
        twin(arg)


# --- gas ------------------------------------------------------------------------------------


def test_gas_targets(harness, accounts):
    """eth_estimateGas of one call (21,000 intrinsic + calldata + execution), worst case
    over a few representative inputs, against the Lyra v1 anchors."""
    cases = [
        (1_500 * WAD, 1_500 * WAD, 30 * DAY, 8 * 10**17, 0, True),
        (1_500 * WAD, 1_800 * WAD, 7 * DAY, 6 * 10**17, 5 * 10**16, False),
        (1_500 * WAD, 400 * WAD, bs.YEAR, 10**18, 5 * 10**16, True),
        (1_500 * WAD, 1_450 * WAD, 3_600, 10**16, 5 * 10**16, True),
    ]
    sender = accounts[0]
    greeks = max(harness.greeks.estimate_gas_cost(*c, sender=sender) for c in cases)
    price = max(harness.price.estimate_gas_cost(*c, sender=sender) for c in cases)
    print(f"gas per call: price {price}, price + 5 Greeks {greeks}")
    assert greeks < LYRA_PRICE_DELTA_VEGA_GAS
    assert price < LYRA_PRICE_GAS

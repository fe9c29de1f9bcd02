"""The options pool's synthetic forward as an arbitrage venue (`sim.venues.options.forward`): priced by
the vectorised pool, detected in the token graph, sized, and executed on the exact integer
twins (`sim.venues.options.twin.OptionsPool`, `sim.venues.cpmm.twin.get_amount_out`) for the predicted
profit to the rounding."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sim.decisions.arbgraph import (
    CexLeg,
    Pool,
    add_edge,
    build_graph,
    find_cycle,
    grid_argmax,
    plan,
)
from sim.venues.cpmm.twin import get_amount_out
from sim.venues.options.forward import OptionsForward, tile, vec_of_twin
from sim.venues.options.twin import DEFAULT_CALL_CAP, WAD, OptionsParams, OptionsPool
from sim.venues.pricefeed.twin import PriceFeed

T0 = 1_700_000_000
DAY = 86_400
OWNER = "owner"
ARB = "arb"
STRIKES = (2_700, 3_000, 3_300)
USDC = 10**6  # base units per USDC


def options_twin(oracle: float = 3000.0) -> OptionsPool:
    """A WETH options pool on a USDC (6 decimals) quote, one 7-day board, 10 M USDC deep."""
    feed = PriceFeed(8, "ETH / USD", OWNER, OWNER)
    feed.transmit(OWNER, round(oracle * 10**8), T0)
    pool = OptionsPool(feed, OptionsParams(), OWNER, quote_decimals=6)
    board = pool.add_board(OWNER, T0 + 7 * DAY, 9 * 10**17, DEFAULT_CALL_CAP, T0)
    for k, skew in zip(STRIKES, (1.04, 1.0, 0.98), strict=True):
        pool.add_strike(OWNER, board, k * WAD, int(skew * WAD), T0)
    pool.deposit(OWNER, 10**7 * USDC, T0)
    return pool


def venue(twin: OptionsPool, holder: np.ndarray | None = None) -> tuple[OptionsForward, list]:
    vec, ids = vec_of_twin(twin)
    spot = twin.spot_price(T0) / WAD
    holder = np.zeros((len(ids), 4)) if holder is None else holder
    return OptionsForward(vec, spot, T0, "WETH", "USDC", holder), ids


def weth_pool(price: float, fee_bps: int = 30) -> Pool:
    return Pool("weth-usdc", "WETH", "USDC", 1000.0, 1000.0 * price, fee_bps)


def graph(pools, fw: OptionsForward, cex: float | None = None):
    g = build_graph(pools, [(fw, "USDC", "WETH"), (fw, "WETH", "USDC")])
    if cex is not None:
        add_edge(g, "WETH", "USDC", cex, CexLeg("cex", cex, 0.0))
        add_edge(g, "USDC", "WETH", 1.0 / cex, CexLeg("cex", 1.0 / cex, 0.0))
    return g


def test_the_forward_is_quoted_around_the_oracle_and_costs_more_with_size():
    fw, _ = venue(options_twin(3000.0))
    ask = 1.0 / fw.marginal_rate("USDC")  # USDC per WETH to buy the forward
    bid = fw.marginal_rate("WETH")
    # both legs pay at least the spot-price fee (0.1 % of spot per option)
    assert ask > 3000.0 * 1.001 and bid < 3000.0 * 0.999
    assert ask - 3000.0 == pytest.approx(3000.0 - bid, rel=0.05)  # symmetric to first order
    q = np.array([0.1, 1.0, 10.0, 100.0])
    a_in, a_out = fw.quote("USDC", q)
    assert np.all(np.diff(a_in / a_out) > 0)  # IV impact: the average price rises with size
    a_in, a_out = fw.quote("WETH", q)
    assert np.all(np.diff(a_out / a_in) < 0)


@pytest.mark.parametrize(
    "pool_price, cex",
    [(3003.0, None), (2997.0, None), (3000.0, 3000.0), (3006.0, 3006.0), (2994.0, 2994.0)],
    ids=["pool+0.1%", "pool-0.1%", "cex-at-oracle", "cex+0.2%", "cex-0.2%"],
)
def test_no_cycle_when_parity_holds_within_the_fees(pool_price, cex):
    fw, _ = venue(options_twin(3000.0))
    assert find_cycle(graph([weth_pool(pool_price)], fw, cex)) is None


def realise_on_twins(twin: OptionsPool, ids, pl, pool: Pool) -> float:
    """Execute the plan's cycle (options forward, then the constant-product pool) on the
    integer twins; return the profit in the start token."""
    opt, swap = pl.cycle.hops
    assert opt.pool.name == "options" and swap.pool is pool
    k, _ = opt.pool.best_strike(opt.token_in)
    sid = ids[k]
    q = round(pl.size * WAD)
    r_weth, r_usdc = round(pool.reserve0 * WAD), round(pool.reserve1 * USDC)
    huge = 2**200
    if opt.token_in == "USDC":  # buy call, sell put (posting the strike), sell WETH in the pool
        _, flow_call = twin.open_position(ARB, sid, True, True, q, huge, T0, T0)
        _, flow_put = twin.open_position(ARB, sid, False, False, q, 0, T0, T0)
        paid = flow_call + flow_put  # premium + collateral − premium, USDC base units
        got = get_amount_out(q, r_weth, r_usdc, int(pool.fee_bps))
        return (got - paid) / USDC
    # sell call, buy put: K + C − P of USDC per WETH held to expiry; buy WETH in the pool
    prem_call, _ = twin.open_position(ARB, sid, True, False, q, 0, T0, T0)
    prem_put, _ = twin.open_position(ARB, sid, False, True, q, huge, T0, T0)
    usdc = q * twin.strikes[sid].strike // WAD // 10**12 + prem_call - prem_put
    got = get_amount_out(usdc, r_usdc, r_weth, int(pool.fee_bps))
    return (got - q) / WAD


@pytest.mark.parametrize("pool_price, start", [(3100.0, "USDC"), (2900.0, "WETH")])
def test_a_mispricing_beyond_the_fees_is_found_and_realised_on_the_twins(pool_price, start):
    twin = options_twin(3000.0)
    fw, ids = venue(twin)
    pool = weth_pool(pool_price)
    cycle = find_cycle(graph([pool], fw))
    assert cycle is not None and cycle.marginal_rate() > 1
    pl = plan(cycle)
    assert pl is not None and pl.profit > 0 and pl.size > 0
    assert pl.cycle.start == start  # rotated to start at the forward
    # the profit predicted from the vectorised pool is what the exact twins pay
    realised = realise_on_twins(twin, ids, pl, pool)
    unit = 1 / USDC if start == "USDC" else 1 / USDC / pool_price  # one USDC base unit
    assert abs(realised - pl.profit) <= 4 * unit + 1e-9 * pl.profit, (realised, pl.profit)
    # and the size is the best one: no size on a fine grid does better
    qs = np.linspace(pl.size / 3, 3 * pl.size, 601)
    a_in, a_out = fw.quote(start, qs)
    rest = pl.cycle.hops[1]
    back = np.array([rest.pool.amount_out(rest.token_in, x) for x in a_out])
    assert pl.profit >= np.nanmax(back - a_in) - 1e-9 * pl.profit


def test_execute_trades_the_pool_books_the_holder_and_nets_the_opposite_side():
    twin = options_twin(3000.0)
    fw, _ = venue(twin)
    k, _ = fw.best_strike("USDC")
    predicted = fw.quote("USDC", np.array([4.0]))
    fill = fw.execute("USDC", 4.0)
    assert (fill.amount_in, fill.amount_out) == (predicted[0][0], predicted[1][0])
    assert fill.fee > 0 and fill.strike == k
    h = fw.holder
    assert h[k, 0] == 4.0 and h[k, 3] == 4.0 and h.sum() == 8.0  # long call, short put
    locked = fw.pool.locked[0]
    assert locked == pytest.approx(4.0 * DEFAULT_CALL_CAP / WAD * STRIKES[k])
    # selling the forward back at the same strike closes both legs and frees the collateral
    fw2 = OptionsForward(fw.pool, fw.spot, fw.now, "WETH", "USDC", h)
    assert fw2.best_strike("WETH")[0] == k  # at the money both ways
    fw2.execute("WETH", 4.0)
    assert h.sum() == 0.0 and fw.pool.locked[0] == pytest.approx(0.0, abs=1e-9)


def test_a_tiled_copy_trades_like_the_pool_and_leaves_it_alone():
    twin = options_twin(3000.0)
    twin.open_position("lp-trader", 1, True, True, 3 * WAD, 2**200, T0, T0)  # some book
    vec, _ = vec_of_twin(twin)
    before = copy.deepcopy(vec)
    t = tile(vec, 3)
    res = t.trade(np.arange(3), np.array([0, 1, 2]), True, True, True, 2.0, 3000.0, T0)
    assert res.ok.all()
    for i in range(3):
        ref = copy.deepcopy(before)
        r = ref.trade(np.array([0]), np.array([i]), True, True, True, 2.0, 3000.0, T0)
        assert r.premium[0] == res.premium[i] and r.fee[0] == res.fee[i]
    for name, v in vars(before).items():
        assert np.array_equal(getattr(vec, name), v) if isinstance(v, np.ndarray) else True
    vec.extra = np.zeros(1)
    with pytest.raises(RuntimeError, match="extra"):
        tile(vec, 2)


def test_the_vectorised_copy_of_the_twin_quotes_like_the_twin():
    twin = options_twin(3000.0)
    twin.open_position("t1", 2, True, True, 7 * WAD, 2**200, T0, T0)
    twin.open_position("t2", 3, False, False, 5 * WAD, 0, T0, T0)
    vec, ids = vec_of_twin(twin)
    for k, sid in enumerate(ids):
        for is_call in (True, False):
            for is_buy in (True, False):
                prem, fee = twin.quote(sid, is_call, is_buy, 2 * WAD, T0)
                pr = vec.pricing([0], [k], [is_call], [is_buy], [2.0], [3000.0], [float(T0)])
                assert pr.premium[0] == pytest.approx(prem / USDC, abs=2e-6)
                assert pr.fee[0] == pytest.approx(fee / USDC, abs=2e-6)


def test_grid_argmax_finds_a_concave_maximum():
    q, v = grid_argmax(lambda x: 3.0 * x - x * x, 1e-6, 1e3)
    assert q == pytest.approx(1.5, rel=1e-3) and v == pytest.approx(2.25, rel=1e-6)

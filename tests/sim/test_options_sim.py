"""The options pool as a venue of the engine: degenerate case, put-call parity of its quotes,
settlement at the capped intrinsic value, informed traders against a stale and a fresh
oracle (k standard errors), the pool's P&L split, and the scenarios from the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from sim.engine.core import Engine
from sim.engine.fused import is_fusable
from sim.engine.ledger import Ledger
from sim.errors import ConfigError
from sim.results import parquet_available
from sim.run import run_file as run_to_dir
from sim.scenario import load_scenario, scenario_from_dict
from sim.venues.options.config import OptionsPoolConfig
from sim.venues.options.venue import OptionsVenue

SCEN = Path(__file__).resolve().parents[2] / "scenarios"
FMT = "parquet" if parquet_available() else "csv"
OPT = "options.options."
K_SE = 3.0


def _opts(*over: str, paths: int = 20, blocks: int = 200, keep=None):
    """options.yaml, small; agents: 0 arb, 1 sniper, 2 vol_buyer, 3 option_traders, 4 keeper.
    `keep`: names of the agents to keep (None: all)."""
    sc = load_scenario(
        SCEN / "options.yaml", [f"paths={paths}", f"blocks.n_blocks={blocks}", *over]
    )
    if keep is not None:
        sc.agents = [a for a in sc.agents if a.name in keep]
    return sc


def test_no_volatility_no_traders_nothing_happens():
    """sigma = 0 and no option traders: no trade, no fee, no settlement flow, NAV constant
    (the short board still settles, on an empty book), the keeper never hedges."""
    sc = _opts("price.sigma_per_day=0", paths=6, blocks=150, keep={"arb", "keeper"})
    assert not is_fusable(sc)
    w = Engine(sc).run().worlds
    for key in (
        "premium",
        "fees",
        "payoffs",
        "nav_change",
        "book_mark_change",
        "hedge_pnl",
        "volume",
        "refused",
        "delta",
        "gamma",
        "vega",
    ):
        assert np.all(w[OPT + key] == 0), key
    for t in ("buy_call", "sell_call", "buy_put", "sell_put"):
        assert np.all(w[OPT + "trades_" + t] == 0)
    np.testing.assert_array_equal(w[OPT + "nav"], 5_000_000.0)
    assert np.all(w["keeper.keeper.n_trades"] == 0)


def _venue(n: int = 3, **cfg) -> tuple[OptionsVenue, SimpleNamespace]:
    c = OptionsPoolConfig(
        liquidity=1e7,
        boards=[
            {
                "expiry": 7 * 86400,
                "base_iv": 0.8,
                "call_cap": cfg.pop("call_cap", 4.0),
                "strikes": [
                    {"strike": k, "skew": s} for k, s in ((1800, 1.1), (2000, 1.0), (2200, 0.95))
                ],
            },
            {
                "expiry": 30 * 86400,
                "base_iv": 0.6,
                "strikes": [{"strike": 1600, "skew": 1.2}, {"strike": 2500, "skew": 0.9}],
            },
        ],
        **cfg,
    )
    venue = OptionsVenue(c, n, None)
    ledger = Ledger(n, {}, ["alice", "bob"], [])
    ledger.active = True
    ctx = SimpleNamespace(
        ref=np.array([2000.0, 1900.0, 2150.0])[:n],
        time=np.zeros(n),
        ledger=ledger,
        pay_gas=lambda *a, **k: None,
    )
    return venue, ctx


@pytest.mark.parametrize("is_buy", [True, False], ids=["buy", "sell"])
def test_put_call_parity_of_quotes_before_fees(is_buy):
    """Fee-free values of a call and a put on the same strike, same size, same side (so the
    same post-trade IV): C - P = (S - K) x amount, rate 0, wherever the call cap is slack."""
    venue, ctx = _venue()
    p = venue.pool
    n, nk = 3, p.strike.shape[0]
    w = np.repeat(np.arange(n), nk)
    k = np.tile(np.arange(nk), n)
    amount = 3.0
    spot = ctx.ref[w]
    call = p.pricing(w, k, True, is_buy, amount, spot, ctx.time[w])
    put = p.pricing(w, k, False, is_buy, amount, spot, ctx.time[w])
    np.testing.assert_allclose(call.new_base_iv, put.new_base_iv)
    parity = (spot - p.strike[k]) * amount
    np.testing.assert_allclose(call.base - put.base, parity, rtol=0, atol=1e-9 * 2000 * amount)
    # and the fees sit on top: buyers pay more, sellers get less than the fee-free value
    sign = 1.0 if is_buy else -1.0
    assert np.all(sign * (call.premium - call.base) > 0)
    assert np.all(sign * (put.premium - put.base) > 0)


@pytest.mark.parametrize("spot", [1500.0, 2000.0, 2100.0, 9000.0], ids=str)
def test_settlement_pays_exactly_the_capped_intrinsic_values(spot):
    """Holders long and short every strike of the short board; at expiry the venue settles at
    the oracle (here the reference) price: longs get min(max(S - K, 0), cap K) per call and
    max(K - S, 0) per put, shorts pay it, the pool's payoffs are what it received minus owed,
    and all collateral on the board is released."""
    venue, ctx = _venue(n=1, call_cap=0.5)
    p = venue.pool
    ks = np.flatnonzero(p.board == 0)
    sizes = {}
    for i, k in enumerate(ks):
        for is_call in (True, False):
            a, b = 1.0 + i, 2.0 + i  # alice buys a, bob sells b
            for who, buy, amt in (("alice", True, a), ("bob", False, b)):
                r = venue.trade(who, ctx, [0], [k], is_call, buy, True, amt)
                assert r.ok[0], r.code
            sizes[(k, is_call)] = (a, b)
    before = {who: ctx.ledger.agent_pnl[who].copy() for who in ("alice", "bob")}
    bal0, coll0 = p.pool_balance.copy(), p.trader_collateral.copy()
    ctx.time = np.array([7 * 86400.0])
    ctx.ref = np.array([spot])
    venue.begin_block(ctx)
    assert p.settled[0, 0] and not p.settled[0, 1]
    owed = received = 0.0
    for (k, is_call), (a, b) in sizes.items():
        strike = p.strike[k]
        pay = min(max(spot - strike, 0.0), 0.5 * strike) if is_call else max(strike - spot, 0.0)
        owed += a * pay
        received += b * pay
    assert ctx.ledger.agent_pnl["alice"][0] - before["alice"][0] == pytest.approx(owed, abs=1e-9)
    assert ctx.ledger.agent_pnl["bob"][0] - before["bob"][0] == pytest.approx(-received, abs=1e-9)
    assert venue.m["payoffs"][0] == pytest.approx(received - owed, abs=1e-9)
    assert p.pool_balance[0] - bal0[0] == pytest.approx(received - owed, abs=1e-9)
    assert p.locked[0] == pytest.approx(0.0, abs=1e-6)
    # bob's collateral came back less what he owed; nothing of the board is left
    assert p.trader_collateral[0] == pytest.approx(
        coll0[0]
        - sum(b * (0.5 * p.strike[k] if c else p.strike[k]) for (k, c), (_, b) in sizes.items()),
        abs=1e-6,
    )
    assert p.trader_collateral[0] == pytest.approx(0.0, abs=1e-6)
    assert p.payout_reserve[0] == pytest.approx(0.0, abs=1e-9)
    for who in ("alice", "bob"):
        assert np.all(venue.positions[who][0, ks] == 0)


def _sniper(*over: str):
    return _opts(*over, paths=120, blocks=400, keep={"arb", "sniper"})


def test_informed_trader_profits_against_a_stale_oracle_not_a_fresh_one():
    """The sniper's P&L (premiums, hedge at the reference price, gas) is positive beyond
    K_SE standard errors when the feed lags (50 bp deviation, 2 blocks latency); with a feed
    that lands the reference price every block it never sees an edge, never trades."""
    stale = Engine(_sniper()).run().summary
    pnl = stale["agent.sniper.pnl"]
    assert stale["agent.sniper.option_trades"]["mean"] > 1
    assert pnl["mean"] > K_SE * pnl["se"], pnl
    fresh = Engine(_sniper("oracles.0.deviation_bps=0", "oracles.0.latency_blocks=0")).run()
    w = fresh.worlds
    assert np.all(w["agent.sniper.option_trades"] == 0)
    assert np.all(w["agent.sniper.pnl"] == 0)
    assert np.all(w[OPT + "volume"] == 0)


def test_pnl_split_adds_up_to_the_nav_change():
    """Every agent, the short board expiring and settling inside the run: premium + fees +
    payoffs + book mark change = NAV change to rounding, the LPs' P&L adds the keeper's
    hedge P&L net of its gas, and the LP return is that over the starting NAV."""
    sc = _opts(
        "options_pools.0.trading_cutoff=3600",
        "options_pools.0.boards.0.expiry=5400",
        paths=16,
        blocks=500,
    )
    w = Engine(sc).run().worlds
    assert np.all(w[OPT + "settlements"] == 1)
    assert w[OPT + "volume"].sum() > 0 and np.any(w[OPT + "payoffs"] != 0)
    parts = w[OPT + "premium"] + w[OPT + "fees"] + w[OPT + "payoffs"] + w[OPT + "book_mark_change"]
    np.testing.assert_allclose(parts, w[OPT + "nav_change"], rtol=0, atol=1e-9 * 5e6)
    assert np.all(np.abs(w[OPT + "split_error"]) <= 1e-9 * 5e6)
    hedge = w["keeper.keeper.hedge_pnl"] - w["keeper.keeper.gas"]
    np.testing.assert_allclose(w[OPT + "hedge_pnl"], hedge, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(w[OPT + "lp_pnl"], w[OPT + "nav_change"] + hedge, atol=1e-6)
    np.testing.assert_allclose(w[OPT + "lp_return"], w[OPT + "lp_pnl"] / 5e6, rtol=1e-12)
    assert np.all(w[OPT + "fees"] > 0)


@pytest.mark.parametrize(
    "data, msg",
    [
        (
            {
                "options_pools": [
                    {"oracle": "nope", "boards": [{"expiry": 86400, "strikes": [{"strike": 2000}]}]}
                ]
            },
            "unknown oracle",
        ),
        (
            {"options_pools": [{"boards": [{"expiry": 600, "strikes": [{"strike": 2000}]}]}]},
            "trading cutoff",
        ),
        ({"agents": [{"kind": "option_trader", "pool": "nope"}]}, "unknown options pool"),
        (
            {"agents": [{"kind": "keeper", "inventory": {"options_pool": "nope"}}], "perps": [{}]},
            "unknown options pool",
        ),
    ],
    ids=["oracle", "expiry", "trader-pool", "keeper-pool"],
)
def test_bad_options_config_is_rejected(data, msg):
    with pytest.raises(ConfigError, match=msg):
        scenario_from_dict(data)


@pytest.mark.parametrize("name", ["options", "full_options"])
def test_options_scenarios_run_from_the_cli(tmp_path, name):
    run_to_dir(
        SCEN / f"{name}.yaml",
        tmp_path,
        paths=6,
        overrides=["blocks.n_blocks=40", "metrics.series_every=10"],
        fmt=FMT,
    )
    m = json.loads((tmp_path / "summary.json").read_text())["metrics"]
    for key in (
        "premium",
        "fees",
        "payoffs",
        "hedge_pnl",
        "lp_return",
        "nav_change",
        "trades_buy_call",
        "trades_sell_put",
        "delta",
        "gamma",
        "vega",
    ):
        assert OPT + key in m, key
        assert m[OPT + key]["unit"], key
    informed = "agent.sniper.pnl" if name == "options" else "agent.option_sniper.pnl"
    assert informed in m
    series = list(tmp_path.glob("series.*"))
    assert series
    if FMT == "parquet":
        import pyarrow.parquet as pq

        cols = pq.read_schema(series[0]).names
        for g in ("nav", "delta", "gamma", "vega"):
            assert OPT + g in cols

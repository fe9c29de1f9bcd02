"""The keeper on a fork of the upstream: dry run sends nothing; live, it keeps the options
pool's net delta within its band while traders buy options and swap, hedging on the perp and
on the pools; the simulator's path gives the same hedge decisions as the fork's."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from ape import project
from ape_suite import role_account

from keeper.config import load_keeper_config
from keeper.logs import KeeperLog
from keeper.networks import ape_network
from keeper.reader import option_positions
from keeper.runtime import Keeper
from keeper.strategy import build_venues, cost_rate, hedge_inputs_from_state
from sim.decisions.book import compute_book
from sim.decisions.hedging import DeltaBand, FixedInterval, NoHedge, WhalleyWilmott
from sim.venues.options.twin import Board, Strike
from sim.venues.perp.twin import VenueState

pytestmark = [pytest.mark.chain, pytest.mark.fork, pytest.mark.slow]

FORK = "ethereum:mainnet-fork:foundry"
BAND = 1.0
E18 = 10**18


@pytest.fixture(scope="module")
def fork(upstream):
    _, manifest = upstream
    with ape_network(FORK) as provider:
        yield provider, manifest


def _cfg(tmp_path, live: bool, **over):
    return load_keeper_config(
        dry_run=not live,
        policy={"kind": "delta_band", "band": BAND, "min_delay": 0, "override": 5},
        venues={"perp": {"max_position_base": 5.0, "margin_quote": 100_000}},
        journal_path=tmp_path / "journal.sqlite",
        # The test moves the oracle 2 % within seconds, faster than a pool TWAP follows:
        # a wider deviation bound keeps the kill switch out of reduce-only (timing-dependent).
        safety={"guards": {"max_slippage_bps": 120, "oracle_max_deviation_bps": 400}},
        **over,
    )


def _transmit(manifest, price: float) -> None:
    feed = project.PriceFeed.at(manifest["feed"]["address"])
    feed.transmit(int(price * 1e8), sender=role_account("transmitter"))


def _trader(manifest):
    trader = role_account("trader")
    deployer = role_account("deployer")
    usdc = project.ERC20.at(manifest["tokens"]["USDC"]["address"])
    weth = project.ERC20.at(manifest["tokens"]["WETH"]["address"])
    usdc.mint(trader, 10_000_000 * 10**6, sender=deployer)
    weth.mint(trader, 1_000 * E18, sender=deployer)
    for spender in (manifest["options"]["address"], manifest["router"]["address"]):
        usdc.approve(spender, 2**256 - 1, sender=trader)
        weth.approve(spender, 2**256 - 1, sender=trader)
    return trader


def _buy_calls(manifest, trader, strike_id: int, amount: float, is_call: bool = True) -> None:
    """Buy `amount` calls from the pool (a negative amount sells back held ones)."""
    from ape import chain

    options = project.OptionsPool.at(manifest["options"]["address"])
    deadline = chain.blocks.head.timestamp + 600
    if amount > 0:
        options.openPosition(strike_id, is_call, True, int(amount * E18), 10**15, deadline,
                             sender=trader)  # fmt: skip
    else:
        options.closePosition(strike_id, is_call, True, int(-amount * E18), 0, deadline,
                              sender=trader)  # fmt: skip


def _net_delta(keeper: Keeper) -> float:
    snap = keeper.reader.read()
    from keeper.strategy import hedge_position

    book = compute_book(snap.spot, snap.timestamp, snap.option_positions(),
                        sum(p.base * p.lp_share for p in snap.pools), 1.0)  # fmt: skip
    return float(book.delta) + hedge_position(snap, keeper.baseline)


def test_dry_run_plans_but_sends_nothing(fork, tmp_path):
    provider, manifest = fork
    trader = _trader(manifest)
    _transmit(manifest, 3000)
    _buy_calls(manifest, trader, 3, 12.0)  # ATM calls: the pool is short ~6 delta
    keeper_addr = manifest["keeper"]["address"]
    nonce = provider.web3.eth.get_transaction_count(keeper_addr)
    log = KeeperLog(stream=None)
    with Keeper(_cfg(tmp_path, live=False), manifest, rpc_url=provider.uri, log=log) as keeper:
        result = keeper.tick()
        assert result.plan.legs, result.plan.reason
        assert all(r.status == "dry_run" for r in result.legs)
        assert keeper.journal.intents() == []
    assert provider.web3.eth.get_transaction_count(keeper_addr) == nonce
    assert any(r["event"] == "leg" and r["mode"] == "dry_run" for r in log.records)


def test_live_keeper_holds_the_band_on_both_venue_kinds(fork, tmp_path):
    provider, manifest = fork
    trader = _trader(manifest)  # Ape's per-test snapshots undid the dry-run test's trades
    _transmit(manifest, 3000)
    _buy_calls(manifest, trader, 3, 12.0)
    router = project.Router.at(manifest["router"]["address"])
    usdc = manifest["tokens"]["USDC"]["address"]
    weth = manifest["tokens"]["WETH"]["address"]
    pools = [p["address"] for p in manifest["pools"].values()]
    log = KeeperLog(stream=None)
    with Keeper(_cfg(tmp_path, live=True), manifest, rpc_url=provider.uri, log=log) as keeper:
        from ape import chain

        first = keeper.tick()  # set-up, then the hedge of those calls
        assert abs(first.plan.net_delta) > BAND
        assert abs(_net_delta(keeper)) <= BAND
        # Moves of 1 % a block keep the oracle within the guard's 2 % of the pools' TWAP;
        # the trader's swaps push the pools the same way.
        # The last step closes calls: the pool's delta shrinks and the keeper sells hedge.
        steps = [(3030, 3, 6.0, usdc), (3060, 4, 8.0, usdc), (3030, 2, 5.0, weth),
                 (3000, 3, -10.0, weth)]  # fmt: skip
        for i, (price, strike_id, amount, token_in) in enumerate(steps):
            _transmit(manifest, price)
            _buy_calls(manifest, trader, strike_id, amount)
            deadline = chain.blocks.head.timestamp + 600
            size = 3_000 * 10**6 if token_in == usdc else E18
            router.swapExactTokensForTokens(pools[i % 2], token_in, size, 0, trader, deadline,
                                            sender=trader)  # fmt: skip
            keeper.tick()
            assert abs(_net_delta(keeper)) <= BAND + 1e-6, json.dumps(
                list(log.records)[-4:], default=str
            )
        mined = [i for i in keeper.journal.intents(("mined",)) if i.kind == "hedge"]
        venues = {i.meta["venue"] for i in mined}
        assert "perp" in venues, venues
        assert venues & {"venue_a", "venue_b"}, venues
        assert keeper.metrics.hedges == len(mined)
        perp = project.PerpMarket.at(manifest["perp"]["address"])
        assert perp.position(manifest["keeper"]["address"]).size == pytest.approx(5 * E18, rel=1e-9)


def test_sim_state_gives_the_fork_decisions(fork, tmp_path):
    """HedgeInputs from the keeper's batched snapshot equal those built from the twins' state
    (read through Ape's contract objects), and every policy decides the same on both."""
    provider, manifest = fork
    trader = _trader(manifest)
    _transmit(manifest, 3000)
    _buy_calls(manifest, trader, 3, 10.0)
    _buy_calls(manifest, trader, 2, 6.0, is_call=False)
    _buy_calls(manifest, trader, 7, 4.0)
    cfg = _cfg(tmp_path, live=False)
    with Keeper(cfg, manifest, rpc_url=provider.uri, log=KeeperLog(stream=None)) as keeper:
        snap = keeper.reader.read()
        buy, sell = build_venues(snap, cfg, True), build_venues(snap, cfg, False)

        def rate(order: float) -> float:  # each side prices its own expected re-hedge
            return cost_rate(buy, sell, order)

        _, fork_inputs = hedge_inputs_from_state(
            spot=snap.spot, now=snap.timestamp, boards=snap.boards, strikes=snap.strikes,
            lp_positions=[(p.base, p.lp_share) for p in snap.pools],
            perp_size_base=snap.perp.size_base,
            spot_excess_base=snap.keeper_base / E18 - keeper.baseline,
            last_hedge_time=snap.timestamp - 120, cost_rate=rate,
        )  # fmt: skip
    # The twins' state, read independently through Ape at the same block.
    block = snap.block
    options = project.OptionsPool.at(manifest["options"]["address"])
    boards, strikes = {}, {}
    for i in range(8):
        try:
            bid = options.liveBoardIds(i, block_id=block)
        except Exception:  # noqa: BLE001 - past the end of the array
            break
        b = options.boards(bid, block_id=block)
        boards[bid] = Board(b.expiry, b.baseIv, b.callCap, b.frozen, b.settled,
                            b.settlementSpot, list(b.strikeIds))  # fmt: skip
        for sid in b.strikeIds:
            s = options.strikes(sid, block_id=block)
            strikes[sid] = Strike(s.boardId, s.strike, s.skew, s.longCall, s.shortCall,
                                  s.longPut, s.shortPut)  # fmt: skip
    keeper_addr = manifest["keeper"]["address"]
    lp = []
    for entry in manifest["pools"].values():
        pool = project.ConstantProductPool.at(entry["address"])
        r0, r1, _ = pool.getReserves(block_id=block)
        base = r0 if pool.token0() == manifest["tokens"]["WETH"]["address"] else r1
        share = pool.balanceOf(keeper_addr, block_id=block) / pool.totalSupply(block_id=block)
        lp.append((base / E18, share))
    perp = project.PerpMarket.at(manifest["perp"]["address"])
    venue = VenueState(perp.oraclePrice(block_id=block), perp.skew(block_id=block),
                       perp.skewScale(block_id=block), perp.takerFeeBps(block_id=block),
                       perp.maxFundingRate(block_id=block))  # fmt: skip
    assert venue == snap.perp.venue_state()
    feed = project.PriceFeed.at(manifest["feed"]["address"])
    spot = feed.latestRoundData(block_id=block)[1] / 1e8
    weth = project.ERC20.at(manifest["tokens"]["WETH"]["address"])
    _, sim_inputs = hedge_inputs_from_state(
        spot=spot, now=snap.timestamp, boards=boards, strikes=strikes, lp_positions=lp,
        perp_size_base=perp.position(keeper_addr, block_id=block).size / E18,
        spot_excess_base=weth.balanceOf(keeper_addr, block_id=block) / E18 - keeper.baseline,
        last_hedge_time=snap.timestamp - 120, cost_rate=rate,
    )  # fmt: skip
    assert len(option_positions(boards, strikes).size) > 0
    for name in ("now", "spot", "book_delta", "book_gamma", "hedge", "last_hedge_time",
                 "cost_rate"):  # fmt: skip
        np.testing.assert_allclose(getattr(sim_inputs, name), getattr(fork_inputs, name),
                                   rtol=1e-12, err_msg=name)  # fmt: skip
    policies = [
        DeltaBand(band=0.5, min_delay=60),
        DeltaBand(band=50),
        FixedInterval(interval=60),
        FixedInterval(interval=3600),
        WhalleyWilmott(risk_aversion=1e-3),
        NoHedge(),
    ]
    for policy in policies:
        a, b = policy.decide(fork_inputs), policy.decide(sim_inputs)
        assert a.trade.tolist() == b.trade.tolist(), policy
        np.testing.assert_allclose(a.target_hedge, b.target_hedge, rtol=1e-12)
    # And the pool's own totalGreeks agree with the book's options part (no LP, no hedge).
    d, g, _, _ = options.totalGreeks(block_id=block)
    opts = compute_book(spot, snap.timestamp, option_positions(boards, strikes))
    assert float(opts.delta) == pytest.approx(d / 1e18, rel=1e-6, abs=1e-6)
    assert float(opts.gamma) == pytest.approx(g / 1e18, rel=1e-5, abs=1e-9)
    assert not math.isnan(float(opts.vega))


def test_stale_oracle_means_no_hedge_and_reduce_only_then_resume(fork, tmp_path):
    """Chaos on the fork: the feed goes stale while the pool's book needs a hedge → the keeper
    sends nothing and is reduce-only; a fresh answer → after the recovery checks it runs and
    hedges. Every transition is journaled with its cause."""
    from ape import chain

    from keeper.killswitch import status

    provider, manifest = fork
    trader = _trader(manifest)
    _transmit(manifest, 3000)
    _buy_calls(manifest, trader, 3, 12.0)  # the pool is short ~6 delta: a hedge is due
    chain.pending_timestamp = chain.blocks.head.timestamp + 4_000  # > oracle_max_age_s (1 h)
    chain.mine()
    cfg = _cfg(tmp_path, live=True)
    with Keeper(cfg, manifest, rpc_url=provider.uri, log=KeeperLog(stream=None)) as keeper:
        stale = keeper.tick()
        assert stale.mode == "reduce_only"
        assert not [i for i in keeper.journal.intents(("mined",)) if i.kind == "hedge"]
        assert abs(_net_delta(keeper)) > BAND  # the hedge it wanted did not go out

        _transmit(manifest, 3000)  # a fresh answer: sane from now on
        modes = []
        for _ in range(cfg.safety.killswitch.oracle_recovery_checks + 1):
            chain.mine()
            modes.append(keeper.tick().mode)
        assert modes[-1] == "running", modes
        assert abs(_net_delta(keeper)) <= BAND
        journal_path = cfg.journal_path
    causes = [t["cause"] for t in status(journal_path)["transitions"]]
    assert causes[:2] == ["oracle", "oracle_recovered"], causes


def test_manipulated_pool_means_no_hedge_and_reduce_only_then_resume(fork, tmp_path):
    """Chaos on the fork: the deepest pool is pushed 10 % above the oracle and held there →
    its TWAP leaves the oracle's deviation bound → reduce-only: the hedge position may only
    shrink, so the due hedge is not put on; the pool is traded back and time passes → the
    keeper resumes by itself and hedges."""
    from ape import chain

    from keeper.strategy import hedge_position

    provider, manifest = fork
    trader = _trader(manifest)
    _transmit(manifest, 3000)
    router = project.Router.at(manifest["router"]["address"])
    venue_a = manifest["pools"]["venue_a"]["address"]  # the deepest pool: the TWAP source
    usdc = manifest["tokens"]["USDC"]["address"]
    weth = project.ERC20.at(manifest["tokens"]["WETH"]["address"])
    cfg = _cfg(tmp_path, live=True)
    window = cfg.safety.guards.twap_window_s

    def later(seconds: int) -> None:
        chain.pending_timestamp = chain.blocks.head.timestamp + seconds
        chain.mine()

    with Keeper(cfg, manifest, rpc_url=provider.uri, log=KeeperLog(stream=None)) as keeper:
        assert keeper.tick().mode == "running"  # sane: the first TWAP observation
        bought = weth.balanceOf(trader)
        router.swapExactTokensForTokens(venue_a, usdc, 150_000 * 10**6, 0, trader,
                                        chain.blocks.head.timestamp + 600, sender=trader)  # fmt: skip
        bought = weth.balanceOf(trader) - bought
        _buy_calls(manifest, trader, 3, 12.0)  # a hedge is now due
        later(window + 60)
        before = hedge_position(keeper.reader.read(), keeper.baseline)
        manipulated = keeper.tick()
        after = hedge_position(keeper.reader.read(), keeper.baseline)
        assert manipulated.mode == "reduce_only"
        assert abs(after) <= abs(before) + 1e-9 and after * before >= 0, (before, after)
        assert abs(_net_delta(keeper)) > BAND  # the due hedge was not put on

        router.swapExactTokensForTokens(venue_a, weth, bought, 0, trader,
                                        chain.blocks.head.timestamp + 600, sender=trader)  # fmt: skip
        _transmit(manifest, 3000)  # keep the feed fresh across the wait
        modes = []
        for _ in range(cfg.safety.killswitch.oracle_recovery_checks + 2):
            later(window // 2)
            _transmit(manifest, 3000)
            modes.append(keeper.tick().mode)
        assert modes[-1] == "running", modes
        assert abs(_net_delta(keeper)) <= BAND

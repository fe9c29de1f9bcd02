"""The keeper on genuine Uniswap V2 and V3 at their mainnet addresses: the mainnet preset
(`ammlab chain up --preset mainnet`) and forks of it.

Each test forks the module's preset (ammlab's options pool and perp placed beside the genuine
contracts; the pools seeded shallower than the preset's default so that a hedge of a few WETH
splits across venues), and drives the keeper with keeper/mainnet.example.yaml made live, the
options pool added as its book. After every planned hedge, each pool leg's twin amounts are
held to QuoterV2's and UniswapV2Router02's quotes at the plan's block, and each mined leg to
the pool's own Swap event.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
import yaml
from mainnet_market import EXAMPLE, Market, keeper_config, mainnet_preset, preset_fork, write_config
from test_keeper_chaos import (  # noqa: F401 - _no_stray_keepers is an autouse fixture
    KeeperProcess,
    _no_stray_keepers,
    hedge_intents,
    set_up_keeper,
)

from keeper.config import KeeperConfigError, load_keeper_config
from keeper.killswitch import request_command, status
from keeper.logs import KeeperLog
from keeper.runtime import Keeper
from keeper.strategy import HedgeState, hedge_position, plan_hedge
from keeper.txmanager import CHAOS_ENV
from keeper.venues.base import LegPlan, VenueError
from sim.chain import node as chainmod
from sim.chain.mainnet import V3Range
from sim.errors import ManifestError

pytestmark = [pytest.mark.chain, pytest.mark.fork, pytest.mark.slow]

BAND = 1.0
SHALLOW_V3 = {
    500: (V3Range(Decimal(20)), V3Range(Decimal(40), Decimal("0.1"))),
    3000: (V3Range(Decimal(60)), V3Range(Decimal(60), Decimal("0.1"))),
}
"""About 900 and 1,350 WETH of virtual depth at the price, beside the V2 pair's 1,000."""


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    """The mainnet preset on its own anvil: (url, manifest, head block)."""
    with mainnet_preset(tmp_path_factory.mktemp("mainnet-preset"), SHALLOW_V3) as chain:
        yield chain


@pytest.fixture
def fork(preset, tmp_path):
    with preset_fork(preset, tmp_path) as chain:
        yield chain


class _OnThePreset:
    """The preset's own node, for a test that runs there (reverted afterwards)."""

    def __init__(self, url: str):
        self.url = url


@pytest.fixture(params=["preset", "fork"])
def chain(request, preset):
    """The preset itself (its state restored after the test) or a fork of it."""
    url, manifest, _ = preset
    if request.param == "fork":
        yield request.getfixturevalue("fork")
        return
    market = Market(url, manifest)
    snapshot = market.rpc("evm_snapshot")
    try:
        yield _OnThePreset(url), market, manifest
    finally:
        assert market.rpc("evm_revert", snapshot)


def live_keeper(tmp_path, url, manifest, **cfg) -> Keeper:
    config = load_keeper_config(write_config(tmp_path, keeper_config(tmp_path, url, manifest,
                                                                     **cfg)))  # fmt: skip
    return Keeper(config, manifest, rpc_url=url, log=KeeperLog(stream=None), home=tmp_path / "h")


def net_delta(keeper: Keeper) -> float:
    snap = keeper.reader.read()
    return plan_hedge(snap, keeper.policy, HedgeState(), keeper.cfg, mode="paused",
                      baseline_base=keeper.baseline).net_delta  # fmt: skip


def tick_checked(keeper: Keeper, market: Market):
    """One tick; its plan's pool legs held to the protocols' quotes and, mined, to the
    pools' Swap events. Returns the tick and the number of legs checked."""
    result = keeper.tick()
    checked = market.assert_quotes(result.plan.legs, result.snapshot.block)
    mined = [(leg, r.tx_hash) for leg, r in zip(result.plan.legs, result.legs, strict=False)
             if r.status == "mined"]  # fmt: skip
    market.assert_fills([leg for leg, _ in mined], [tx for _, tx in mined])
    return result, checked


# --------------------------------------------------------------------------- hedging


def test_live_keeper_hedges_options_and_lp_across_genuine_v2_v3_and_the_perp(chain, tmp_path):
    """On the preset and on a fork of it: the options pool sells calls (the pool goes short
    ~10 delta; the keeper's V2 LP share is long 2): the keeper buys the hedge across the V2
    pair, both V3 pools and the capped perp, every leg at the twins' amounts; price moves,
    trades on the pools and a close of calls follow, and the band holds."""
    node, market, manifest = chain
    market.transmit(3000)
    market.buy_calls(3, 20.0)
    with live_keeper(tmp_path, node.url, manifest, perp=3.0) as keeper:
        first, checked = tick_checked(keeper, market)
        kinds = {leg.kind for leg in first.plan.legs}
        assert kinds == {"univ2", "univ3", "perp"}, first.plan.legs
        assert checked == sum(leg.kind != "perp" for leg in first.plan.legs) >= 3
        assert [r.status for r in first.legs] == ["mined"] * len(first.legs)
        assert abs(net_delta(keeper)) <= BAND
        steps = [(3030, 3, 6.0, "usdc"), (3060, 4, 8.0, "usdc"), (3000, 3, -12.0, "weth")]
        for price, strike_id, amount, side in steps:
            market.transmit(price)
            if amount > 0:
                market.buy_calls(strike_id, amount)
            token = market.usdc if side == "usdc" else market.weth
            market.swap_v3(500, token, 30_000 * 10**6 if side == "usdc" else 10 * 10**18)
            market.swap_v2(token, 30_000 * 10**6 if side == "usdc" else 10 * 10**18)
            tick_checked(keeper, market)
            assert abs(net_delta(keeper)) <= BAND + 1e-6
        mined = [i for i in keeper.journal.intents(("mined",)) if i.kind == "hedge"]
        assert {i.meta["kind"] for i in mined} == {"univ2", "univ3", "perp"}


# --------------------------------------------------------------------------- guards


def _v3_reference(market: Market, pool: str, window: int, block: int) -> float:
    """The pool's TWAP from its own `observe([window, 0])` at `block`: USDC per WETH."""
    (cums, _) = market.call(pool, "observe(uint32[])", ["uint32[]"], [[window, 0]],
                            ["int56[]", "uint160[]"], hex(block))  # fmt: skip
    tick = (cums[1] - cums[0]) / window
    return 10**12 / 1.0001**tick  # token0 USDC (6), token1 WETH (18)


def _v2_reference(market: Market, start: int, end: int) -> float:
    """The pair's TWAP between two blocks from its cumulative prices (counterfactual at each
    block, as UniswapV2OracleLibrary.currentCumulativePrices): the mean of price0 (WETH wei per
    USDC unit) inverted into USDC per WETH, as `keeper.guards.twap_price` takes it."""

    def cumulative(block: int) -> tuple[int, int]:
        at = hex(block)
        (c0,) = market.call(market.pair, "price0CumulativeLast()", [], [], ["uint256"], at)
        r0, r1, last = market.call(market.pair, "getReserves()", [], [],
                                   ["uint112", "uint112", "uint32"], at)  # fmt: skip
        now = int(market.rpc("eth_getBlockByNumber", at, False)["timestamp"], 16)
        return c0 + (r1 << 112) // r0 * (now - last), now

    (c0, t0), (c1, t1) = cumulative(start), cumulative(end)
    return 10**12 / ((c1 - c0) / (t1 - t0) / 2**112)


@pytest.mark.parametrize("source", ["univ3", "univ2"])
def test_a_manipulated_pools_twap_makes_the_keeper_reduce_only_then_it_resumes(
    fork, tmp_path, source
):
    """The guard's reference is the deepest pool's TWAP: the 0.3 % V3 pool's own oracle
    (`observe`) with every venue configured, the V2 pair's cumulative prices with the pair
    alone. That pool is pushed 10 % above the oracle and held there past the TWAP window →
    reduce-only: the due hedge is not put on; the pool is traded back and time passes → the
    keeper resumes by itself and hedges, every leg at the twins' amounts."""
    node, market, manifest = fork
    only = ("uniswap_v2",) if source == "univ2" else None
    market.transmit(3000)
    with live_keeper(tmp_path, node.url, manifest, only=only) as keeper:
        window = keeper.cfg.safety.guards.twap_window_s
        sane = keeper.tick()
        assert sane.mode == "running"
        first_block = sane.snapshot.block
        deepest = max(sane.snapshot.all_pools, key=lambda p: p.depth_base)
        assert deepest.name == ("uniswap_v2" if only else "uniswap_v3_30bp")
        weth_before = market.balance(market.weth, market.trader)
        if source == "univ3":
            market.swap_v3(3000, market.usdc, 0, price_up=0.10)
        else:
            market.swap_v2(market.usdc, 145_000 * 10**6)
        weth_bought = market.balance(market.weth, market.trader) - weth_before
        market.buy_calls(3, 12.0)  # a hedge is now due
        market.later(window + 60)
        before = hedge_position(keeper.reader.read(), keeper.baseline)
        manipulated = keeper.tick()
        block = manipulated.snapshot.block
        reference = keeper.reference_price()
        if source == "univ3":
            assert reference == pytest.approx(
                _v3_reference(market, market.v3[3000], window, block), rel=1e-12
            )
        else:
            assert reference == pytest.approx(_v2_reference(market, first_block, block), rel=1e-9)
        assert reference > 3000 * 1.05
        assert manipulated.mode == "reduce_only"
        after = hedge_position(keeper.reader.read(), keeper.baseline)  # it may only shrink
        assert abs(after) <= abs(before) + 1e-9 and after * before >= 0, (before, after)
        assert abs(net_delta(keeper)) > BAND  # the due hedge was not put on

        # Trade the pool back with what was bought, keep the feed fresh, let time pass.
        if source == "univ3":
            market.swap_v3(3000, market.weth, weth_bought)
        else:
            market.swap_v2(market.weth, weth_bought)
        modes = []
        for _ in range(keeper.cfg.safety.killswitch.oracle_recovery_checks + 2):
            market.later(window // 2)
            market.transmit(3000)
            result, _ = tick_checked(keeper, market)
            modes.append(result.mode)
        assert modes[-1] == "running", modes
        assert abs(net_delta(keeper)) <= BAND
        causes = [t["cause"] for t in status(keeper.cfg.journal_path)["transitions"]]
        assert causes[:2] == ["oracle", "oracle_recovered"], causes


# --------------------------------------------------------------------------- kill switch


def test_pause_resume_and_flatten_steer_the_keeper_on_genuine_venues(fork, tmp_path):
    """Paused, a due hedge is not sent; resumed, it lands on the genuine pools; flatten sells
    the spot hedge back through them until the hedge is gone, then nothing more is sent."""
    node, market, manifest = fork
    market.transmit(3000)
    market.buy_calls(3, 12.0)
    with live_keeper(tmp_path, node.url, manifest) as keeper:
        keeper.start()
        journal = keeper.cfg.journal_path
        request_command(journal, "pause", "maintenance")
        nonce = market.nonce(market.keeper)
        paused = keeper.tick()
        assert paused.mode == "paused" and paused.legs == ()
        assert market.nonce(market.keeper) == nonce

        request_command(journal, "resume", "done")
        resumed, checked = tick_checked(keeper, market)
        assert resumed.mode == "running" and checked == len(resumed.legs) > 0
        assert all(r.status == "mined" for r in resumed.legs)
        assert abs(net_delta(keeper)) <= BAND
        hedge = hedge_position(keeper.reader.read(), keeper.baseline)
        assert hedge > BAND  # bought WETH on the pools

        request_command(journal, "flatten", "unwind")
        flat, checked = tick_checked(keeper, market)
        assert flat.mode == "flatten" and checked == len(flat.legs) > 0
        assert all(leg.size < 0 and leg.kind in ("univ2", "univ3") for leg in flat.plan.legs)
        assert hedge_position(keeper.reader.read(), keeper.baseline) == pytest.approx(0, abs=1e-6)
        nonce = market.nonce(market.keeper)
        assert keeper.tick().legs == ()  # flat: nothing more is sent
        assert market.nonce(market.keeper) == nonce


# --------------------------------------------------------------------------- venues


def test_a_genuine_venue_that_reverts_fails_over_in_the_same_tick_then_none_left_pauses(
    fork, tmp_path
):
    """The operator withdraws the keeper's USDC allowance to SwapRouter (a transaction from
    the keeper's own account: the keeper pauses, cause foreign_signer, until resumed): the V3
    legs revert in the pre-send simulation ('STF'), are journaled refused, and the V2 pair
    takes the hedge in the same tick. Then Router02's allowance goes too: no venue is left,
    the kill switch pauses."""
    node, market, manifest = fork
    market.transmit(3000)
    with live_keeper(tmp_path, node.url, manifest) as keeper:
        keeper.start()

        def revoke_by_hand(router: str) -> None:
            market.revoke(market.usdc, router)
            keeper.tick()
            assert (keeper.killswitch.mode, keeper.killswitch.state.cause) == (
                "paused", "foreign_signer")  # fmt: skip
            request_command(keeper.cfg.journal_path, "resume", "the revoke was ours")

        revoke_by_hand(market.swap_router)
        market.buy_calls(3, 12.0)
        result, _ = tick_checked(keeper, market)
        faults = {r.venue: r.venue_fault for r in result.legs if r.venue_fault}
        assert faults and all(v.startswith("uniswap_v3") and "STF" in f
                              for v, f in faults.items())  # fmt: skip
        mined = {r.venue for r in result.legs if r.status == "mined"}
        assert mined == {"uniswap_v2"} and abs(net_delta(keeper)) <= BAND
        assert keeper.killswitch.mode == "running" and keeper.metrics.failovers == 1

        revoke_by_hand(market.router02)
        market.buy_calls(3, 8.0)
        nonce = market.nonce(market.keeper)
        stuck = keeper.tick()
        assert {r.status for r in stuck.legs} == {"refused"}
        assert keeper.killswitch.mode == "paused"
        assert market.nonce(market.keeper) == nonce
        (*_, last) = status(keeper.cfg.journal_path)["transitions"]
        assert (last["to"], last["cause"]) == ("paused", "venue")


# --------------------------------------------------------------------------- exactly once


@pytest.mark.parametrize(
    "stage, venue", [("signed", "uniswap_v2"), ("sent", "uniswap_v3_5bp")],
    ids=["signed-v2", "sent-v3"],
)  # fmt: skip
def test_kill_9_then_restart_lands_a_genuine_pool_hedge_exactly_once(fork, tmp_path, stage, venue):
    """`ammlab keeper run --live` killed -9 with its hedge on a genuine pool signed (or in the
    mempool), then restarted: the journaled transaction itself lands, once, one nonce used."""
    node, market, manifest = fork
    cfg_path = write_config(tmp_path, keeper_config(tmp_path, node.url, manifest, only=(venue,)))
    home = tmp_path / "home"
    set_up_keeper(cfg_path, manifest, node.url, home)
    market.transmit(3000)
    market.buy_calls(3, 8.0)
    router = market.router02 if venue == "uniswap_v2" else market.swap_router
    start, nonce0 = node.head(), node.nonce(market.keeper)
    node.rpc("evm_setAutomine", False)
    frozen = KeeperProcess(cfg_path, home, **{CHAOS_ENV: f"{stage}:hedge"})
    frozen.wait_line(f"CHAOS stopped at {stage}")
    frozen.kill()
    journal = cfg_path.parent / "journal.sqlite"
    (crashed,) = hedge_intents(journal)
    assert crashed.status == stage and crashed.meta["kind"] in ("univ2", "univ3")
    assert node.txs_from(market.keeper, router, start) == []

    with node.mining():
        restarted = KeeperProcess(cfg_path, home, blocks=4)
        assert restarted.finish() == 0, restarted.lines()[-10:]
    landed = node.txs_from(market.keeper, router, start)
    assert len(landed) == 1 and landed[0]["status"] == "0x1", landed
    assert node.nonce(market.keeper) == nonce0 + 1
    (mined,) = [i for i in hedge_intents(journal) if i.status == "mined"]
    assert mined.id == crashed.id
    m = mined.meta  # the twin's amounts, journaled with the intent
    leg = LegPlan(m["venue"], m["kind"], m["size"], 0, 0.0, 0.0, 0.0, 0, token_in=m["token_in"],
                  token_out=m["token_out"], amount_in=m["amount_in"],
                  amount_out=m["amount_out"], fee_pips=m.get("fee_pips", 0),
                  sqrt_price_limit_x96=m.get("sqrt_price_limit_x96", 0))  # fmt: skip
    assert market.assert_quotes([leg], m["block"]) == 1
    market.assert_fills([leg], [landed[0]["hash"]])
    (tmp_path / "check").mkdir()
    with live_keeper(tmp_path / "check", node.url, manifest, only=(venue,)) as keeper:
        assert abs(net_delta(keeper)) <= BAND


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "case, over, error, words",
    [
        ("no-code", {"venues": {"univ2": [{"name": "uniswap_v2", "address": "0x" + "ab" * 20}]}},
         ManifestError, ["no contract code at 0x" + "ab" * 20, "pool uniswap_v2"]),
        ("other-pair", {"addresses": {"quote_token": "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc"}},
         VenueError, ["venues.univ2.uniswap_v2", "not the configured pair"]),
        ("fee-tier", {"venues": {"univ3": [{"name": "uniswap_v3_5bp", "fee": 100,
                                            "address": "0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640"}]}},
         VenueError, ["venues.univ3.uniswap_v3_5bp.fee: 100", "factory"]),
        ("chain-id", {"chain_id": 5}, KeeperConfigError, ["chain_id: 5", "is chain id 1"]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)  # fmt: skip
def test_bad_input_is_one_line_before_any_transaction(preset, tmp_path, case, over, error, words):
    url, manifest, _ = preset
    market = Market(url, manifest)
    nonce = market.nonce(market.keeper)
    with pytest.raises(error) as err, live_keeper(tmp_path, url, manifest, options=False,
                                                  **over) as keeper:  # fmt: skip
        keeper.tick()
    message = str(err.value)
    assert "\n" not in message and all(w.lower() in message.lower() for w in words), message
    assert market.nonce(market.keeper) == nonce


# --------------------------------------------------------------------------- the example


def test_the_mainnet_example_runs_unchanged_on_the_preset_and_on_a_fork_of_it(
    preset, tmp_path, ammlab
):
    """`ammlab keeper run --config keeper/mainnet.example.yaml` as a user runs it, on the
    preset itself (`--network ethereum:mainnet:node`) and on the fork `keeper run` starts by
    default: it reads the genuine pools, holds the LP share as its book and plans its hedge on
    them (dry run: nothing signed), each logged leg at the protocols' own quotes; a fee tier
    the factory does not know is one line."""
    url, manifest, _ = preset
    market = Market(url, manifest)
    nonce = market.nonce(market.keeper)
    env = {chainmod.UPSTREAM_ENV: url, chainmod.HOME_ENV: str(tmp_path / "home")}
    args = ["keeper", "run", "--config", str(EXAMPLE), "--blocks", "1"]
    for network in ("ethereum:mainnet:node", None):
        done = ammlab(*args, *(["--network", network] if network else []), env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "1 ticks, 0 hedge legs mined" in done.stdout
        events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
        (tick,) = [e for e in events if e["event"] == "tick"]
        logged = [e for e in events if e["event"] == "leg"]
        assert tick["book_delta"] == pytest.approx(2.0, rel=1e-3)  # the V2 LP share
        assert logged and {e["mode"] for e in logged} == {"dry_run"}
        assert {e["kind"] for e in logged} <= {"univ2", "univ3"}
        assert math.fsum(e["size"] for e in logged) == pytest.approx(-tick["net_delta"], rel=1e-6)
        legs = [LegPlan(e["venue"], e["kind"], e["size"], 0, 0.0, 0.0, 0.0, 0,
                        token_in=e["token_in"], token_out=e["token_out"],
                        amount_in=e["amount_in"], amount_out=e["amount_out"],
                        fee_pips=e.get("fee_pips", 0),
                        sqrt_price_limit_x96=e.get("sqrt_price_limit_x96", 0))
                for e in logged]  # fmt: skip
        # The fork read the upstream's head, unchanged by a dry run: quote there.
        assert market.assert_quotes(legs, tick["block"]) == len(legs)
    assert market.nonce(market.keeper) == nonce

    config = yaml.safe_load(EXAMPLE.read_text())
    config["venues"]["univ3"][0]["fee"] = 100  # no such tier on the preset's factory
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    done = ammlab("keeper", "run", "--config", str(bad), "--live", "--blocks", "1",
                  "--network", "ethereum:mainnet:node", env=env)  # fmt: skip
    errors = [line for line in done.stderr.splitlines() if line.lower().startswith("error")]
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(errors) == 1 and "uniswap_v3_5bp.fee: 100 is not a fee tier" in errors[0], errors
    assert market.nonce(market.keeper) == nonce

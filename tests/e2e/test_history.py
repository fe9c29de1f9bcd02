"""Pull → replay on the mainnet-shaped local chain: activity on the genuine V2 pair, both V3
pools and the feed (`sim.chain.activity`), pulled over RPC through a proxy that refuses wide
eth_getLogs ranges and fails some requests, replayed on the integer twins, and compared with
the contracts' own state read at every block. Also: an interrupted pull resumed, a reorg made
with anvil's snapshots repaired, and bad arguments refused in one line."""

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from web3 import Web3

from sim.chain import mainnet as mn
from sim.chain import node
from sim.chain.activity import make_activity
from sim.chain.history import PullSpec, pull
from sim.chain.logs import HistoryPullError
from sim.history.replay import replay
from sim.history.schema import chunk_file
from sim.history.store import open_history

pytestmark = pytest.mark.chain

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = 30


class RefusingProxy:
    """JSON-RPC proxy to anvil that refuses eth_getLogs over more than `max_range` blocks (in
    Alchemy's words), answers every `fail_every`-th request with HTTP 503, and records the
    ranges it served."""

    def __init__(self, upstream: str, max_range: int = 8, fail_every: int = 9):
        self.ranges: list[tuple[int, int]] = []
        self.refused = self.failed = self.seen = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.seen += 1
                if fail_every and proxy.seen % fail_every == 0:
                    proxy.failed += 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = json.loads(body)
                if isinstance(request, dict) and request["method"] == "eth_getLogs":
                    f = request["params"][0]
                    a, b = int(f["fromBlock"], 16), int(f["toBlock"], 16)
                    if b - a + 1 > max_range:
                        proxy.refused += 1
                        return self._reply({"jsonrpc": "2.0", "id": request["id"], "error": {
                            "code": -32602, "message": "Log response size exceeded. You can "
                            "make eth_getLogs requests with up to a 2K block range"}})  # fmt: skip
                    proxy.ranges.append((a, b))
                up = urllib.request.Request(upstream, data=body,
                                            headers={"Content-Type": "application/json"})  # fmt: skip
                with urllib.request.urlopen(up, timeout=30) as response:
                    self._reply(json.loads(response.read()))

            def _reply(self, obj):
                out = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture(scope="module")
def chain():
    """(url, manifest, pool addresses, first traded block) of an anvil (chain id 1) holding the preset and BLOCKS
    blocks of activity."""
    port = node.free_port()
    proc = subprocess.Popen(
        [node.find_anvil(), "--host", "127.0.0.1", "--port", str(port), "--chain-id", "1",
         "--silent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        w3 = Web3(Web3.HTTPProvider(url))
        deadline = time.monotonic() + 20
        while not w3.is_connected():
            assert proc.poll() is None and time.monotonic() < deadline, "anvil did not start"
            time.sleep(0.05)
        manifest = mn.place_mainnet_preset(url)
        activity = make_activity(url, manifest, BLOCKS, seed=3)
        pools = [manifest["uniswap_v2"]["pairs"]["weth_usdc"]["address"]] + [
            p["address"] for p in manifest["uniswap_v3"]["pools"].values()
        ]
        yield url, manifest, pools, activity.first_block
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def spec(url, pools, out, **kw) -> PullSpec:
    return PullSpec(url, pools, [mn.ETH_USD_FEED], kw.pop("from_block", 0), kw.pop("to", None),
                    out, confirmations=0, span=kw.pop("span", 64), progress=False, **kw)  # fmt: skip


def contents(folder: Path) -> dict[str, list]:
    """Every event table's rows, as the reader returns them."""
    h = open_history(folder)
    from sim.history.schema import EVENTS

    return {e.table: h.rows(e.table) for e in EVENTS}


def chain_state(w3: Web3, kind: str, address: str, block: int) -> dict[str, int]:
    from sim.chain.artifacts import load_artifact

    if kind == "v2":
        c = w3.eth.contract(address=address,
                            abi=load_artifact("UniswapV2Pair", "@uniswap/v2-core").abi)  # fmt: skip
        r0, r1, ts = c.functions.getReserves().call(block_identifier=block)
        return {"reserve0": r0, "reserve1": r1, "blockTimestampLast": ts,
                "totalSupply": c.functions.totalSupply().call(block_identifier=block),
                "price0CumulativeLast": c.functions.price0CumulativeLast().call(
                    block_identifier=block),
                "price1CumulativeLast": c.functions.price1CumulativeLast().call(
                    block_identifier=block)}  # fmt: skip
    c = w3.eth.contract(address=address, abi=load_artifact("UniswapV3Pool", "@uniswap/v3-core").abi)
    s = c.functions.slot0().call(block_identifier=block)
    return {"sqrtPriceX96": s[0], "tick": s[1], "observationIndex": s[2],
            "observationCardinality": s[3], "observationCardinalityNext": s[4],
            "feeProtocol": s[5], "liquidity": c.functions.liquidity().call(block_identifier=block),
            "feeGrowthGlobal0X128": c.functions.feeGrowthGlobal0X128().call(block_identifier=block),
            "feeGrowthGlobal1X128": c.functions.feeGrowthGlobal1X128().call(
                block_identifier=block)}  # fmt: skip


def test_pull_through_a_refusing_rpc_then_replay_reproduces_every_block(chain, tmp_path):
    url, manifest, pools, _ = chain
    proxy = RefusingProxy(url)
    try:
        report = pull(spec(proxy.url, pools, tmp_path / "h"))
    finally:
        proxy.server.shutdown()
    assert proxy.refused > 0 and proxy.failed > 0  # halved, and retried after a 503
    assert all(b - a + 1 <= 8 for a, b in proxy.ranges)
    assert report.rows > 0 and report.to_block == Web3(Web3.HTTPProvider(url)).eth.block_number
    h = open_history(tmp_path / "h")
    w3 = Web3(Web3.HTTPProvider(url))
    checked = 0
    for address in pools:
        kind = h.sources[address]["kind"]
        result = replay(h, address)
        assert result.metrics["refused"] == 0 and len(result.states) > BLOCKS // 2
        for block, state in result.states:
            assert state == chain_state(w3, kind, address, block), (kind, block)
            checked += 1
    assert checked > 60
    # the feed's price path: every answer at its block
    feed = w3.eth.contract(address=mn.ETH_USD_FEED, abi=[{
        "name": "latestAnswer", "type": "function", "stateMutability": "view", "inputs": [],
        "outputs": [{"name": "", "type": "int256"}]}])  # fmt: skip
    answers = h.rows("feed_answer", mn.ETH_USD_FEED)
    assert len(answers) >= BLOCKS
    for r in answers[-5:]:
        assert (
            feed.functions.latestAnswer().call(block_identifier=r["block_number"]) == r["current"]
        )


def test_interrupted_pull_resumes_only_what_is_missing(chain, tmp_path):
    url, _, pools, _ = chain
    whole = tmp_path / "whole"
    pull(spec(url, pools, whole, span=16))

    class Stop(Exception):
        pass

    def stop_after_three(a, b, seen=[]):  # noqa: B006 - counts calls within this test
        seen.append((a, b))
        if len(seen) == 3:
            raise Stop

    part = tmp_path / "part"
    with pytest.raises(Stop):
        pull(spec(url, pools, part, span=16), on_range=stop_after_three)
    first = open_history(part).manifest["chunks"]
    assert len(first) == 3
    # a crash between writing a part and committing its range leaves an orphan
    orphan = part / chunk_file("v2_sync", 900, 901)
    orphan.parent.mkdir(exist_ok=True)
    shutil.copy(next((part / "blocks").iterdir()), orphan)
    proxy = RefusingProxy(url, max_range=10**6, fail_every=0)
    try:
        report = pull(spec(proxy.url, pools, part, span=16))
    finally:
        proxy.server.shutdown()
    assert not orphan.exists()
    done_before = {b for s, e in first for b in range(s, e + 1)}
    assert proxy.ranges and all(
        not done_before & set(range(a, b + 1)) for a, b in proxy.ranges
    )  # only what was missing
    assert report.fetched[0][0] == first[-1][1] + 1
    assert contents(part) == contents(whole)
    # and a third run has nothing left to fetch
    assert pull(spec(url, pools, part, span=16)).fetched == []


def test_reorg_is_detected_and_repaired(chain, tmp_path):
    url, manifest, pools, _ = chain
    w3 = Web3(Web3.HTTPProvider(url))
    base = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        fork_block = w3.eth.block_number + 1
        make_activity(url, manifest, 4, seed=11)
        out = tmp_path / "h"
        pull(spec(url, pools, out))
        assert w3.provider.make_request("evm_revert", [base])["result"]
        make_activity(url, manifest, 6, seed=12)  # other blocks at the same heights
        report = pull(spec(url, pools, out))
        assert report.repaired_from == fork_block
        fresh = tmp_path / "fresh"
        pull(spec(url, pools, fresh))
        assert contents(out) == contents(fresh)
        h = open_history(out)
        for address in pools:
            kind = h.sources[address]["kind"]
            block, state = replay(h, address).states[-1]
            assert state == chain_state(w3, kind, address, block)
    finally:
        w3.provider.make_request("evm_revert", [base])


@pytest.mark.parametrize(
    "kw, expect",
    [
        ({"pools": ["0x12"]}, "--pool '0x12': not an address"),
        ({"pools": ["0xb4E16d0168e52d35CaCD2c6185b44281Ec28C9Dc"]}, "not a valid checksum"),
        ({"from_block": 10, "to": 5}, "--to-block 5 is before --from-block 10"),
        ({"from_block": 10**7}, "the range is empty"),
        ({"pools": [mn.USDC]}, "neither a Uniswap V2 pair"),
    ],
    ids=["malformed", "bad-checksum", "to-before-from", "past-the-head", "not-a-pool"],
)
def test_bad_arguments_are_refused_in_one_line(chain, tmp_path, kw, expect):
    url, _, pools, _ = chain
    with pytest.raises(HistoryPullError) as err:
        pull(spec(url, kw.pop("pools", pools), tmp_path / "h", **kw))
    assert expect in str(err.value) and "\n" not in str(err.value)


def test_cli_pull_and_fee_tier_study(chain, tmp_path, ammlab):
    url, _, pools, _ = chain
    out = tmp_path / "cli"
    done = ammlab("data", "pull", "--rpc", url, "--pool", pools[0], "--pool", pools[1], "--feed",
                  mn.ETH_USD_FEED, "--from-block", "0", "--confirmations", "0", "--out",
                  str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "pulled" in done.stdout
    for pool, how in ((pools[0], "exact replay"), (pools[1], "fast engine, 12 s blocks")):
        study = ammlab("study", "fee-tiers", "--source", str(out), "--pool", pool)
        assert study.returncode == 0, study.stderr
        assert how in study.stdout.splitlines()[0]
        for tier in ("1 bp", "5 bp", "30 bp", "100 bp"):
            assert tier in study.stdout
    bad = ammlab(
        "data", "pull", "--rpc", url, "--pool", "0xnothex", "--from-block", "0", "--out", str(out)
    )
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "--pool" in bad.stderr


def test_parts_are_parquet_with_raw_and_human_columns(chain, tmp_path):
    url, _, pools, _ = chain
    pull(spec(url, pools[:1], tmp_path / "h"))
    h = open_history(tmp_path / "h")
    sync = pq.read_table(next((tmp_path / "h" / "v2_sync").iterdir()))
    assert sync.schema.field("reserve0").type == "string"  # uint112: exact, as text
    assert sync.schema.field("reserve0_human").type == "double"
    row = h.rows("v2_sync")[-1]
    usdc = h.sources[pools[0]]["token0"]
    assert usdc["symbol"] == "USDC" and usdc["decimals"] == 6
    assert row["reserve0_human"] == row["reserve0"] / 10**6


def test_fast_engine_flow_replay_follows_the_exact_replay(chain, tmp_path):
    """`price: {kind: replay, source}` and `flow: {kind: replay, source}` in a scenario: the
    float pool at the recorded fee tracks the exact replay (and so the chain) block by block."""
    from sim.engine.core import Engine
    from sim.scenario import scenario_from_dict

    url, _, pools, first = chain  # the anchor (first - 1): the pair seeded, 12 s before
    out = tmp_path / "h"
    pull(spec(url, pools[:1], out, from_block=first))
    h = open_history(out)
    exact = dict(replay(h, pools[0]).states)
    ts, t0 = h.timestamps, h.time_origin()
    n_blocks = (max(ts.values()) - t0) // 12
    sc = scenario_from_dict({
        "paths": 2, "agents": [], "metrics": {"series_every": 1},
        "blocks": {"n_blocks": n_blocks, "block_time": 12},
        "price": {"kind": "replay", "source": str(out), "address": mn.ETH_USD_FEED},
        "pools": [{"name": "pool", "fee_bps": 30}],
        "flow": {"kind": "replay", "source": str(out)},
    })  # fmt: skip
    rows = []
    Engine(sc).run(series_sink=rows.append)
    compared = 0
    for row in rows:
        t = int(row["block"][0])
        block = next((b for b in exact if ts[b] - t0 == 12 * (t + 1)), None)
        if block is None:
            continue
        state = exact[block]
        price = (state["reserve0"] / 1e6) / (state["reserve1"] / 1e18)  # USDC per WETH
        assert row["pool.price"] == pytest.approx(np.full(2, price), rel=1e-9)
        compared += 1
    assert compared > BLOCKS // 2


def test_fast_engine_v3_flow_replay_equals_the_chain_at_every_block(chain, tmp_path):
    """`flow: {kind: replay, source, v3_pool}` on both pulled V3 pools (pulled from block 0: a
    V3 pool replays from its Initialize): the engine's float pool after every 12 s block
    against the genuine pool's state at the last chain block before it (the exact replay's
    states name which; it equals the chain, checked above): the tick exactly, the sqrt price
    and the in-range liquidity to 1e-9 relative.

    Why 1e-9 holds: each swap step of the contract rounds the price move against the trader
    by less than one base unit of the input (plus one for its fee, rounded up): |d sqrtP| <
    2/L per step with token1 in, |d (1/sqrtP)| < 2/L with token0 in (raw units), and the float
    pool does not round; nothing else differs but float64's 1e-16 per operation. Over k steps
    the gap is under 2k/L. On this chain the in-range liquidity at every swap is >= 4.7e17 and
    1/sqrtP ~ 5.5e-5 for USDC in (token0, 6 decimals), so a step is worth < 8e-14 relative and
    the ~35 swaps a pool takes in 30 blocks (a few steps each) stay far below 1e-9 (WETH's
    steps, at 1e-18 per unit, are nothing); over the benchmark's 300 blocks the worst gap
    measured was 1.5e-13. Liquidity is exact integers per position summed in float (1e-15).
    The tick is an integer function of the price and agrees unless a block ends within 1e-13
    of a tick's price (ticks are 1e-4 apart). Fee growth is not compared at 1e-9: the contract
    rounds every step's fee up by under one base unit, up to 1e-5 of a small USDC fee (5e-7
    relative measured over 300 blocks); the fees the study books (rate times input, as the
    exact replay books them) agree to 1e-9 of the volume (below)."""
    from sim.engine.core import Engine, EngineHooks
    from sim.scenario import scenario_from_dict
    from sim.studies.fee_tiers import fee_tier_study

    url, _, pools, _ = chain
    out = tmp_path / "h"
    pull(spec(url, pools[1:], out))
    h = open_history(out)
    w3 = Web3(Web3.HTTPProvider(url))
    t0 = h.time_origin()
    for address in pools[1:]:
        blocks = [b for b, _ in replay(h, address).states]
        times = [h.timestamps[b] - t0 for b in blocks]
        on_chain: dict[int, dict[str, int]] = {}
        checked = []

        def end_block(ctx, address=address, blocks=blocks, times=times, on_chain=on_chain,
                      checked=checked):  # fmt: skip
            block = blocks[int(np.searchsorted(times, ctx.time[0], side="right")) - 1]
            if block not in on_chain:
                on_chain[block] = chain_state(w3, "v3", address, block)
            state = on_chain[block]
            pool = ctx.markets["v3_pools"]["v3pool"]
            # USDC is token0, WETH (the risky asset) token1: canonical = the pool's inverted
            assert (pool.tick == -state["tick"] - 1).all(), (ctx.block, block)
            np.testing.assert_allclose(pool.s, 2**96 / state["sqrtPriceX96"] * 1e6, rtol=1e-9)
            np.testing.assert_allclose(pool.L, state["liquidity"] / 1e12, rtol=1e-9)
            checked.append(block)

        sc = scenario_from_dict({
            "paths": 2, "agents": [],
            "blocks": {"n_blocks": int(np.ceil(times[-1] / 12)), "block_time": 12},
            "price": {"kind": "replay", "source": str(out), "address": mn.ETH_USD_FEED},
            "v3_pools": [{"name": "v3pool", "fee": h.sources[address]["fee"]}],
            "flow": {"kind": "replay", "source": str(out), "address": address,
                     "v3_pool": "v3pool"},
        })  # fmt: skip
        Engine(sc, hooks=EngineHooks(end_block=end_block)).run()
        assert set(checked) >= set(blocks[-BLOCKS // 2 :]) and len(on_chain) > BLOCKS // 2
        # a counterfactual (30 bp, the arbitrageur against the feed) as the exact replay has it
        fast, exact = (fee_tier_study(h, address, mn.ETH_USD_FEED, [30], 12.0, True,
                                      exact=e)["rows"][0] for e in (False, True))  # fmt: skip
        assert (fast["swaps"], fast["refused"]) == (exact["swaps"], exact["refused"])
        assert exact["arb_profit"] > 0
        for key in ("fees", "lvr", "volume", "arb_profit"):
            assert abs(fast[key] - exact[key]) <= 1e-9 * exact["volume"], (address, key)


def test_agents_trade_beside_a_replayed_v3_flow(chain, tmp_path):
    """An arbitrageur and a range LP beside the flow of the 5 bp pool at 1 bp: both trade, and
    the LP's random ranges make the flow's outcome differ from world to world."""
    from sim.engine.core import Engine
    from sim.scenario import scenario_from_dict

    url, manifest, pools, _ = chain
    pull(spec(url, pools[1:2], tmp_path / "h"))
    h = open_history(tmp_path / "h")
    n_blocks = int(np.ceil((max(h.timestamps.values()) - h.time_origin()) / 12))
    w = Engine(scenario_from_dict({
        "paths": 4, "blocks": {"n_blocks": n_blocks, "block_time": 12},
        "price": {"kind": "replay", "source": str(tmp_path / "h"), "address": mn.ETH_USD_FEED},
        "v3_pools": [{"name": "v3pool", "fee": 500}],
        "flow": {"kind": "replay", "source": str(tmp_path / "h"), "v3_pool": "v3pool",
                 "fee": 100},
        "agents": [{"kind": "v3_arbitrageur", "pay_gas": False},
                   {"kind": "v3_lp", "width": 0.01, "open_rate": 5000, "close_rate": 2000}],
    })).run().worlds  # fmt: skip
    assert (w["v3.v3pool.arb_profit"] > 0).all()
    assert (w["v3.v3pool.lp.v3lp.positions"] > 0).all()
    assert (w["flow.swaps"] > BLOCKS // 2).all()
    assert len(set(w["agent.flow.pnl"])) == 4

"""Pull and replay throughput on the mainnet-shaped local chain, and a pulled folder to study.

Starts an anvil (chain id 1), places the mainnet preset, mines `--blocks` blocks of activity on
the genuine V2 pair, both V3 pools and the feed (`sim.chain.activity`), pulls them with
`sim.chain.history.pull` into `--out` (logs per second, one eth_getLogs range per `--span`
blocks) and stops anvil. Then it times, best of 3 (the machine is shared): every pool replayed
exactly (`sim.history.replay.replay`: calls per second, each applied to the replica and the
counterfactual pool); each V3 pool through the fast engine (`flow: {kind: replay, v3_pool}`,
12 s blocks, priced at the feed, at the recorded fee) in one world, its flow read afresh on
the exact replica and then run (events per second), and in `--worlds` worlds on the flow read
once (event-worlds per second). Last, how far the engine's float pool is from the exact
replay's after every block: the worst relative gaps of the price, the in-range liquidity and
each token's fee growth, and the blocks whose ticks differ. Then:

    ammlab study fee-tiers --source OUT --pool 0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc

    python scripts/bench_history.py --blocks 300 --out runs/history
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
from web3 import Web3

from sim.chain import mainnet as mn
from sim.chain import node
from sim.chain.activity import make_activity
from sim.chain.history import PullSpec, pull
from sim.engine.core import Engine, EngineHooks
from sim.history.replay import replay
from sim.history.schema import V3
from sim.history.store import open_history
from sim.history.v3flow import forget_flows
from sim.studies.fee_tiers import engine_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=300)
    ap.add_argument("--per-block", type=int, default=6, help="noise transactions per block")
    ap.add_argument("--span", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--worlds", type=int, default=1000, help="worlds of the engine's V3 run")
    ap.add_argument("--out", type=Path, default=Path("runs/history"))
    args = ap.parse_args()
    port = node.free_port()
    anvil = subprocess.Popen([node.find_anvil(), "--port", str(port), "--chain-id", "1",
                              "--silent"])  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        w3 = Web3(Web3.HTTPProvider(url))
        while not w3.is_connected():
            time.sleep(0.05)
        manifest = mn.place_mainnet_preset(url)
        activity = make_activity(url, manifest, args.blocks, args.seed, args.per_block)
        pools = [manifest["uniswap_v2"]["pairs"]["weth_usdc"]["address"]] + [
            p["address"] for p in manifest["uniswap_v3"]["pools"].values()
        ]
        shutil.rmtree(args.out, ignore_errors=True)
        report = pull(PullSpec(url, pools, [mn.ETH_USD_FEED], 0, None, args.out,
                               confirmations=0, span=args.span, progress=False))  # fmt: skip
    finally:
        anvil.terminate()
        anvil.wait(timeout=10)
    print(f"{args.blocks} blocks of activity ({activity.sent} transactions), pulled into "
          f"{args.out}\n")  # fmt: skip
    print("| step | count | seconds | per second |")
    print("|---|---:|---:|---:|")
    print(f"| pull (eth_getLogs + headers + Parquet), logs | {report.logs:,} | "
          f"{report.seconds:.2f} | {report.logs / report.seconds:,.0f} |")  # fmt: skip
    h = open_history(args.out)
    v3_pools = [a for a in pools if h.sources[a]["kind"] == V3]
    for address in pools:
        kind = h.sources[address]["kind"]
        replay(h, address)  # read the tables once (cached by the OS), then time the replay
        took, r = _best(lambda address=address: replay(h, address))
        calls = int(r.metrics["calls"])
        print(f"| replay {kind} {address[:10]}…, events, exact (integer twins) | {calls:,} | "
              f"{took:.2f} | {calls / took:,.0f} |")  # fmt: skip
        if kind == V3:
            _engine_rows(h, address, calls, args.worlds)
    print("\nThe engine's V3 pool against the exact replay after every 12 s block, at the "
          "recorded fee:\n")  # fmt: skip
    print("| pool | blocks | ticks differing | price | liquidity | fee growth risky | "
          "fee growth numeraire |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for address in v3_pools:
        g = _parity(h, address)
        print(f"| {address[:10]}… | {g['blocks']} | {g['ticks']} | {g['price']:.1e} | "
              f"{g['liquidity']:.1e} | {g['fg0']:.1e} | {g['fg1']:.1e} |")  # fmt: skip


def _parity(h, address: str) -> dict[str, float]:
    """Worst relative gaps of the engine's pool (one world) from the exact replay's state at
    the last chain block before each engine block, in the engine's canonical units."""
    src = h.sources[address]
    side = h.risky_side(address)
    d = (src["token0"]["decimals"], src["token1"]["decimals"])
    liq = 10.0 ** ((d[0] + d[1]) / 2)
    states = replay(h, address).states
    t0 = h.time_origin()
    times = [h.timestamps[b] - t0 for b, _ in states]
    gap = dict.fromkeys(("blocks", "ticks", "price", "liquidity", "fg0", "fg1"), 0.0)

    def rel(a: float, b: float) -> float:
        return abs(a / b - 1.0) if b else abs(a)

    def end_block(ctx) -> None:
        i = int(np.searchsorted(times, ctx.time[0], side="right")) - 1
        if i < 0:
            return
        st = states[i][1]
        pool = ctx.markets["v3_pools"]["v3pool"]
        root = st["sqrtPriceX96"] / 2**96
        s = root * 10 ** ((d[0] - d[1]) / 2) if side == 0 else 10 ** ((d[1] - d[0]) / 2) / root
        tick = st["tick"] if side == 0 else -st["tick"] - 1
        growth = [st[f"feeGrowthGlobal{k}X128"] / 2**128 * liq / 10 ** d[k] for k in (0, 1)]
        gap["blocks"] += 1
        gap["ticks"] += int(pool.tick[0] != tick)
        gap["price"] = max(gap["price"], rel(pool.s[0], s))
        gap["liquidity"] = max(gap["liquidity"], rel(pool.L[0], st["liquidity"] / liq))
        for k, token in ((0, side), (1, 1 - side)):  # canonical 0: the risky asset
            gap[f"fg{k}"] = max(gap[f"fg{k}"], rel(pool.fee_growth[0, k], growth[token]))

    sc = engine_scenario(h, address, mn.ETH_USD_FEED, src["fee"], 12.0)
    Engine(sc, hooks=EngineHooks(end_block=end_block)).run()
    return {k: int(v) if k in ("blocks", "ticks") else v for k, v in gap.items()}


def _best(fn, repeat: int = 3):
    """(best wall time of `repeat` calls of `fn`, its last result): the machine is shared."""
    best, out = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
    return best, out


def _engine_rows(h, address: str, calls: int, worlds: int) -> None:
    """The V3 pool through the fast engine: one world with a fresh read of the flow, then
    `worlds` worlds on the flow read once (numba's kernels warmed by a first run)."""
    fee = h.sources[address]["fee"]
    Engine(engine_scenario(h, address, mn.ETH_USD_FEED, fee, 12.0)).run()

    def fresh():
        forget_flows()
        return Engine(engine_scenario(h, address, mn.ETH_USD_FEED, fee, 12.0)).run()

    took, _ = _best(fresh)
    print(f"| replay v3 {address[:10]}…, events, fast engine, 1 world (flow read + run) | "
          f"{calls:,} | {took:.2f} | {calls / took:,.0f} |")  # fmt: skip
    sc = engine_scenario(h, address, mn.ETH_USD_FEED, fee, 12.0, paths=worlds)
    took, _ = _best(lambda: Engine(sc).run())
    print(f"| replay v3 {address[:10]}…, event-worlds, fast engine, {worlds:,} worlds | "
          f"{calls * worlds:,} | {took:.2f} | {calls * worlds / took:,.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()

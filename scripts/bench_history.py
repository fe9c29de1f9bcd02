"""Pull and replay throughput on the mainnet-shaped local chain, and a pulled folder to study.

Starts an anvil (chain id 1), places the mainnet preset, mines `--blocks` blocks of activity on
the genuine V2 pair, both V3 pools and the feed (`sim.chain.activity`), pulls them with
`sim.chain.history.pull` into `--out` (logs per second, one eth_getLogs range per `--span`
blocks), replays every pool exactly (`sim.history.replay.replay`: calls per second, each call
applied to the replica and the counterfactual pool), and stops anvil. Then:

    ammlab study fee-tiers --source OUT --pool 0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc

    python scripts/bench_history.py --blocks 300 --out runs/history
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from pathlib import Path

from web3 import Web3

from sim.chain import mainnet as mn
from sim.chain import node
from sim.chain.activity import make_activity
from sim.chain.history import PullSpec, pull
from sim.history.replay import replay
from sim.history.store import open_history


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=300)
    ap.add_argument("--per-block", type=int, default=6, help="noise transactions per block")
    ap.add_argument("--span", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
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
    for address in pools:
        kind = h.sources[address]["kind"]
        replay(h, address)  # read the tables once (cached by the OS), then time the replay
        started = time.perf_counter()
        r = replay(h, address)
        took = time.perf_counter() - started
        calls = int(r.metrics["calls"])
        print(f"| replay {kind} {address[:10]}…, events | {calls:,} | {took:.2f} | "
              f"{calls / took:,.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()

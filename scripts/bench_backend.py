"""Chain backend throughput and health on one plain anvil.

Usage: python scripts/bench_backend.py [--scenario scenarios/parity.yaml] [--repeats 3]
                                       [--dense 60] [--long 3000] [--client 20] [--rpc URL]
       python scripts/bench_backend.py --scenario scenarios/univ3.yaml --blocks 300 --long 0

1. Throughput: the scenario (and a dense variant with `--dense` extra noise traders, so a block
   holds ~that many transactions) is deployed once and simulated once in the exact world; then
   its blocks are sent, mined and checked (parity at every block) `--repeats` times on the same
   anvil, rewinding with evm_snapshot / evm_revert between runs. Prints tx/s and blocks/s.
2. Client cost (`--client` rounds): what `sim.chain.rpc.Rpc` (web3.py's HTTPProvider) costs per
   request against a bare keep-alive `requests` session posting the same JSON (the block
   builder's client before), and against itself with web3.py's stock batch encoding,
   alternating on the same anvil: one call, and a batch of 60 (a dense block sends two such
   batches and two single calls). Prints median microseconds per request.
3. Health: a run of `--long` blocks with parity at every block; prints time per block and RSS
   (anvil's and this process's) at the start and at the end.

Numbers exclude deployment and the exact world's simulation (printed separately).

Known: anvil 1.7.1's own `evm_mine` slows down linearly with the chain's length (an empty
block: ~1.9 ms at block 0, ~9 ms at block 3,000, ~6 ms with --prune-history), so time per
block grows over a long run while RSS stays flat; the backend's own share per block does not.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from sim.chain import node as chainmod
from sim.chain.backend import ChainSession
from sim.run import cut_for_chain as cut_scenario
from sim.scenario import load_scenario, scenario_from_dict


def rss_mib(pid: int) -> float:
    """Resident set size of a process, MiB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dense(sc, k: int):
    """The scenario plus `k` always-on noise traders spread over its pools (constant-product
    and Uniswap V3 alike)."""
    data = sc.model_dump(mode="json")
    pools = [("noise", p["name"]) for p in data["pools"]]
    pools += [("v3_noise", p["name"]) for p in data.get("v3_pools", [])]
    for i in range(k):
        kind, pool = pools[i % len(pools)]
        data["agents"].append(
            {
                "kind": kind,
                "name": f"flow{i}",
                "pool": pool,
                "rate_per_block": 5.0,
                "size_median": 1000.0,
                "size_sigma": 0.5,
                "slippage_bps": 100.0,
            }
        )
    data["name"] = f"{data['name']}_dense{k}"
    return scenario_from_dict(data)


def throughput(url: str, sc, repeats: int) -> str:
    t0 = time.perf_counter()
    session = ChainSession(url, sc)
    t_deploy = time.perf_counter() - t0
    t0 = time.perf_counter()
    exact = session.world.run()
    t_sim = time.perf_counter() - t0
    snap = session.snapshot()
    rates = []
    for _ in range(repeats):
        rep = session.run_blocks(exact.blocks)
        assert rep.divergence is None, rep.divergence.describe()
        rates.append((rep.transactions / rep.seconds, rep.blocks / rep.seconds, rep.transactions))
        session.revert(snap)
        snap = session.snapshot()
    tx_s = statistics.median(r[0] for r in rates)
    bl_s = statistics.median(r[1] for r in rates)
    n_tx = rates[0][2]
    return (
        f"| {sc.name} | {len(exact.blocks)} | {n_tx / len(exact.blocks):.1f} | {tx_s:,.0f} | "
        f"{bl_s:,.1f} | {t_deploy:.2f} | {t_sim:.2f} |"
    )


def client_cost(url: str, rounds: int) -> list[str]:
    """Median µs per request of `Rpc` and of a bare `requests` session (see the docstring)."""
    import types

    import requests
    from web3 import HTTPProvider

    from sim.chain.abi import address_of
    from sim.chain.rpc import Rpc

    rpc = Rpc(url)
    stock = Rpc(url)  # with web3.py's own batch encoding, which Rpc replaces (see its docstring)
    stock.provider.encode_batch_rpc_request = types.MethodType(
        HTTPProvider.encode_batch_rpc_request, stock.provider
    )
    bare = requests.Session()
    bare.trust_env = False  # as Rpc does on loopback

    def post(calls: list[tuple[str, list]]) -> list:
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p}
                for i, (m, p) in enumerate(calls)]  # fmt: skip
        return bare.post(url, json=body, timeout=60).json()

    one = [("eth_blockNumber", [])]
    sixty = [("eth_getBalance", [address_of(f"bench:{i}"), "latest"]) for i in range(60)]
    cases = {
        "one call (eth_blockNumber)": (
            lambda: post(one),
            lambda: stock.call(*one[0]),
            lambda: rpc.call(*one[0]),
        ),
        "batch of 60 (eth_getBalance)": (
            lambda: post(sixty),
            lambda: stock.many(sixty),
            lambda: rpc.many(sixty),
        ),
    }
    per_request = 50
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for name, pair in cases.items():
            for which, fn in enumerate(pair):
                t0 = time.perf_counter()
                for _ in range(per_request):
                    fn()
                times.setdefault((name, which), []).append(
                    1e6 * (time.perf_counter() - t0) / per_request
                )
    lines = [
        "| request | bare requests µs | web3.py's batch encoding µs | Rpc µs | Rpc - bare µs |",
        "|---|---|---|---|---|",
    ]
    for name in cases:
        bare_us, stock_us, rpc_us = (statistics.median(times[(name, w)]) for w in (0, 1, 2))
        lines.append(f"| {name} | {bare_us:,.0f} | {stock_us:,.0f} | {rpc_us:,.0f} | "
                     f"{rpc_us - bare_us:+,.0f} |")  # fmt: skip
    return lines


def health(url: str, anvil_pid: int | None, sc, blocks: int) -> list[str]:
    sc = cut_scenario(sc, blocks)
    session = ChainSession(url, sc)
    exact = session.world.run()
    marks: dict[str, tuple[float, float]] = {}
    window = max(1, blocks // 10)

    def on_block(b: int, _dt: float) -> None:
        if b in (0, blocks - 1):
            a = rss_mib(anvil_pid) if anvil_pid else float("nan")
            marks[f"block {b}"] = (a, rss_mib(os.getpid()))

    rep = session.run_blocks(exact.blocks, on_block=on_block)
    assert rep.divergence is None, rep.divergence.describe()
    first = 1e3 * statistics.mean(rep.block_seconds[:window])
    last = 1e3 * statistics.mean(rep.block_seconds[-window:])
    lines = [
        f"health: {rep.blocks} blocks, {rep.transactions} tx, parity at every block, "
        f"{rep.seconds:.1f} s ({rep.transactions / rep.seconds:,.0f} tx/s)",
        f"  time per block: first {window} blocks {first:.2f} ms, last {window} {last:.2f} ms",
    ]
    for k, (a, me) in marks.items():
        lines.append(f"  RSS at {k}: anvil {a:,.0f} MiB, this process {me:,.0f} MiB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines.append(f"  this process peak RSS {peak:,.0f} MiB")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/parity.yaml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dense", type=int, default=60, help="extra noise traders (0: skip)")
    parser.add_argument("--long", type=int, default=3000, help="blocks of the health run")
    parser.add_argument("--client", type=int, default=20, help="rounds of client cost (0: skip)")
    parser.add_argument("--rpc", default=None, help="a running anvil (default: a private one)")
    parser.add_argument("--blocks", type=int, default=None, help="cut the scenario to N blocks")
    args = parser.parse_args()

    sc = cut_scenario(load_scenario(args.scenario), args.blocks)
    home = Path(tempfile.mkdtemp(prefix="ammlab-bench-backend-"))
    record = None
    if args.rpc is None:
        record = chainmod.start_upstream(
            port=chainmod.free_port(), home=home, extra_args=("--prune-history",)
        )
    url = args.rpc or record.url
    try:
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; anvil {url}\n")
        print("| scenario | blocks | tx/block | tx/s | blocks/s | deploy s | exact world s |")
        print("|---|---|---|---|---|---|---|")
        print(throughput(url, sc, args.repeats))
        if args.dense:
            print(throughput(url, dense(sc, args.dense), args.repeats))
        if args.client:
            print()
            for line in client_cost(url, args.client):
                print(line)
        if args.long:
            print()
            for line in health(url, record.pid if record else None, sc, args.long):
                print(line)
        print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    finally:
        if record is not None:
            chainmod.stop_upstream(home)


if __name__ == "__main__":
    main()

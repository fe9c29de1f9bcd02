"""Benchmark of the keeper's pure path: the book of 1,000 option positions and a full plan.

    python scripts/bench_keeper.py [--positions 1000] [--repeat 200] [--read 0]

Prints the median and 95th percentile of: `compute_book` on N positions (target < 5 ms),
the conversion of an options pool snapshot (boards/strikes) into positions, and one
`plan_hedge` (book, policy, venues with gas, water-filling split, worst-price bounds) on a
snapshot of the suite's shape (8 boards x 8 strikes, two pools, the perp).

`--read N` adds the chain side: N `ChainReader.read()` (eth_blockNumber, then one batched
request of the tick's eth_calls) on the suite `ammlab chain up` deploys, on a private anvil.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keeper.config import load_keeper_config  # noqa: E402
from keeper.reader import MarketSnapshot, PerpSnapshot, PoolSnapshot  # noqa: E402
from keeper.strategy import HedgeState, plan_hedge  # noqa: E402
from sim.decisions.book import OptionPositions, compute_book  # noqa: E402
from sim.venues.options.twin import Board, Strike  # noqa: E402

E18 = 10**18
NOW = 1_700_000_000


def timeit(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 95))


def positions(n: int, rng: np.random.Generator) -> OptionPositions:
    return OptionPositions(
        size=rng.normal(0, 5, n),
        strike=rng.uniform(1500, 4500, n),
        expiry=NOW + rng.uniform(1, 180, n) * 86_400,
        is_call=rng.random(n) < 0.5,
        iv=rng.uniform(0.4, 1.2, n),
    )


def snapshot(rng: np.random.Generator) -> MarketSnapshot:
    boards, strikes, sid = {}, {}, 1
    for b in range(1, 9):
        ids = []
        for k in range(8):
            strikes[sid] = Strike(b, int((2200 + 200 * k) * E18), E18,
                                  int(rng.uniform(0, 50) * E18), int(rng.uniform(0, 10) * E18),
                                  int(rng.uniform(0, 30) * E18), 0)  # fmt: skip
            ids.append(sid)
            sid += 1
        boards[b] = Board(NOW + 7 * b * 86_400, 8 * 10**17, 4 * E18, False, False, 0, ids)

    def pool(i: int, name: str, fee: float, w: float) -> PoolSnapshot:
        return PoolSnapshot(name, "0x" + str(i) * 40, fee, True, int(w * E18), int(w * 3000e6),
                            NOW, 0, 0, 10**18, 0, 18, 6)  # fmt: skip

    pools = tuple(
        pool(i, *p) for i, p in enumerate((("venue_a", 30, 1000), ("venue_b", 5, 400)), 1)
    )
    perp = PerpSnapshot("0x" + "ab" * 20, 0, 10**11, 0, 0, 50 * E18, 50_000 * E18, 8, 10**16,
                        0, 3000 * E18, 6)  # fmt: skip
    return MarketSnapshot(100, "0x" + "11" * 32, NOW, 10**9, 3000 * 10**8, 8, NOW, 18, 6,
                          "0x" + "cd" * 20, 100 * E18, 10**12, 10**20, pools, boards, strikes,
                          None, perp)  # fmt: skip


def read_latency(reads: int) -> str:
    """Median and p95 ms of `ChainReader.read()` on a freshly deployed suite."""
    import tempfile

    from keeper.config import resolve_addresses
    from keeper.reader import ChainReader
    from sim.chain import node as chainmod
    from sim.chain.suite import deploy_suite

    home = Path(tempfile.mkdtemp(prefix="ammlab-bench-read-"))
    record = chainmod.start_upstream(port=chainmod.free_port(), home=home)
    try:
        addresses, _ = resolve_addresses(load_keeper_config(), deploy_suite(record.url))
        reader = ChainReader(record.url, addresses)
        snap = reader.read()
        med, p95 = timeit(reader.read, reads)
    finally:
        chainmod.stop_upstream(home)
    perp = ", a perp" if snap.perp is not None else ""
    return (f"ChainReader.read() ({len(snap.pools)} pools, {len(snap.boards)} boards, "
            f"{len(snap.strikes)} strikes{perp}; plain anvil): median {med:.2f} ms, "
            f"p95 {p95:.2f} ms over {reads} reads")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--read", type=int, default=0, help="chain reads to time (0: skip)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pos = positions(args.positions, rng)
    med, p95 = timeit(lambda: compute_book(3000.0, NOW, pos, 2.0, 1.0), args.repeat)
    verdict = "ok" if med < 5 else "ABOVE TARGET"
    print(f"compute_book, {args.positions:,} option positions: median {med:.3f} ms, "
          f"p95 {p95:.3f} ms (target < 5 ms: {verdict})")  # fmt: skip
    snap = snapshot(rng)
    med, p95 = timeit(snap.option_positions, args.repeat)
    print(f"snapshot -> positions (8 boards x 8 strikes): median {med:.3f} ms, p95 {p95:.3f} ms")
    for kind, policy in (("delta_band", {"kind": "delta_band", "band": 1.0, "min_delay": 0}),
                         ("whalley_wilmott", {"kind": "whalley_wilmott"})):  # fmt: skip
        cfg = load_keeper_config(policy=policy, venues={"perp": {"max_position_base": 20}},
                                 safety={"guards": {"max_slippage_bps": 150}})  # fmt: skip
        plan = plan_hedge(snap, cfg.policy, HedgeState(), cfg, baseline_base=100.0)
        med, p95 = timeit(lambda c=cfg: plan_hedge(snap, c.policy, HedgeState(), c,
                                                   baseline_base=100.0), args.repeat)  # fmt: skip
        legs = ", ".join(f"{leg.venue} {leg.size:+.3f}" for leg in plan.legs) or "none"
        print(f"plan_hedge ({kind}, order {plan.order:+.3f} WETH -> {legs}): "
              f"median {med:.3f} ms, p95 {p95:.3f} ms")  # fmt: skip
    if args.read:
        print(read_latency(args.read))


if __name__ == "__main__":
    main()

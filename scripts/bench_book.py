"""Time the book's Greeks for N option positions (issue target: 1,000 positions < 5 ms).

Usage: python scripts/bench_book.py [N ...]
"""

import sys
import time

import numpy as np

from sim.decisions.book import OptionPositions, compute_book

DAY = 86_400.0


def positions(n: int, rng: np.random.Generator) -> OptionPositions:
    return OptionPositions(
        size=rng.normal(0, 10, n),
        strike=3000.0 * rng.uniform(0.5, 2.0, n),
        expiry=rng.uniform(1, 365, n) * DAY,
        is_call=rng.integers(0, 2, n).astype(bool),
        iv=rng.uniform(0.3, 1.5, n),
    )


def main(sizes: list[int]) -> None:
    rng = np.random.default_rng(0)
    print("| option positions | median time per book | best |")
    print("|---:|---:|---:|")
    for n in sizes:
        pos = positions(n, rng)
        compute_book(3000.0, 0.0, pos, lp_reserve_base=1000.0, lp_share=0.1)  # warm up
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            compute_book(3000.0, 0.0, pos, lp_reserve_base=1000.0, lp_share=0.1)
            times.append(time.perf_counter() - t0)
        print(f"| {n:,} | {np.median(times) * 1e3:.3f} ms | {min(times) * 1e3:.3f} ms |")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 1000, 10000])

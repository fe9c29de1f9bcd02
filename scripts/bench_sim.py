"""Print the simulator benchmark table (see sim/engine/bench.py), plus rows for the perp and keeper
scenarios. Usage: python scripts/bench_sim.py [--quick].

The extra rows run on the general path (every agent acts on the whole batch each block), so
their cost is per-block Python work amortised over the worlds of a chunk: keeper_lp prices an
LP book and asks its policy every block, keeper_options Black-Scholes Greeks of its legs too,
cascade loops over every trader account, options prices its pool's quotes for every arriving
order and candidate strike (Black-Scholes over worlds x strikes) and hedges the live book.
"""

import sys

from sim.engine.bench import main, throughput

EXTRA = [
    ("keeper_lp", "keeper_lp (LP share hedged on the perp, delta band)"),
    ("keeper_options", "keeper_options (short options book on the perp, Whalley-Wilmott)"),
    ("cascade", "cascade (-30 % gap, 16 leveraged traders, liquidator)"),
    ("options", "options (options pool on a feed, 4 option agents, keeper on the perp)"),
]


def extra_rows(quick: bool) -> None:
    """Rows in the same columns as sim.engine.bench's table, printed right after it."""
    paths, blocks = (1_000, 200) if quick else (10_000, 720)
    for name, label in EXTRA:
        rate, secs, per_cpu, path = throughput(name, paths, blocks)
        cells = (label, f"{paths} x {blocks}", path, f"{rate:.3g}", f"{per_cpu:.3g}", f"{secs:.2f}")
        print("| " + " | ".join(cells) + " | general path |")


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    main(quick=quick)
    extra_rows(quick)

"""Print the simulator benchmark table (see sim/bench.py). Usage: python scripts/bench_sim.py [--quick]."""

import sys

from sim.bench import main

if __name__ == "__main__":
    main(quick="--quick" in sys.argv)

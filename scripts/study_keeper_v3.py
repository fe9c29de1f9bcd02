"""Print the README's active-liquidity tables for scenarios/keeper_v3.yaml: each range policy
(and the position left unhedged) in the fast engine, mean ± SE over worlds, and the scenario on
the chain backend for one world (the keeper's moves through the genuine position manager and
router, parity at every block) beside the fast engine's figures for that world.

Usage: python scripts/study_keeper_v3.py [--worlds 200] [--chain-blocks 900] [--chain-sigma 0.4]
       python scripts/study_keeper_v3.py --no-chain      # the fast engine's table only
       python scripts/study_keeper_v3.py --no-fast       # the chain run only

The chain run is more volatile than the scenario (price.sigma_per_day = --chain-sigma) so a
short run holds several range moves.

A script, not a test: it prints figures and asserts nothing (a parity failure is printed).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

from sim.engine.core import Engine
from sim.run import cut_for_chain
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "keeper_v3.yaml"
K = "keeper.keeper."
COLUMNS = (
    ("lp_fees", "LP fees"),
    ("lp_lvr", "LVR"),
    ("rebalance_cost", "rebalancing cost"),
    ("n_rebalances", "moves"),
    ("pnl", "hedged P&L"),
    ("pnl_std", "P&L std"),
    ("pnl_cvar95", "P&L CVaR 95 %"),
    ("time_in_range", "time in range"),
    ("n_trades", "hedge trades"),
)
VARIANTS = (
    ("static", "delta band", ["agents.3.range_policy={kind: static}"]),
    ("recentre", "delta band", []),
    ("vol_width", "delta band", ["agents.3.range_policy={kind: vol_width}"]),
    ("periodic (6 h)", "delta band", ["agents.3.range_policy={kind: periodic}"]),
    ("recentre, LVR counted", "delta band",
     ["agents.3.range_policy={kind: recentre, count_lvr: true}"]),
    ("none (hold)", "delta band", ["agents.3.range_policy={kind: none}"]),
    ("recentre", "none", ["agents.3.policy={kind: none}", "agents.3.start_hedged=false"]),
)  # fmt: skip


def _fmt(mean: float, se: float) -> str:
    if abs(mean) >= 100 or abs(se) >= 100:
        return f"{mean:,.0f} ± {se:,.0f}"
    return f"{mean:.3g} ± {se:.2g}"


def policies_table(worlds: int) -> list[str]:
    lines = [
        f"{SCENARIO.name}: {worlds} worlds x one day, mean ± SE (numeraire; time in range a "
        "fraction)",
        "",
        "| range policy | hedge | " + " | ".join(c[1] for c in COLUMNS) + " |",
        "|" + "---|" * (len(COLUMNS) + 2),
    ]
    for name, hedge, over in VARIANTS:
        t0 = time.perf_counter()
        summary = Engine(load_scenario(SCENARIO, [f"paths={worlds}", *over])).run().summary
        cells = [_fmt(summary[K + c]["mean"], summary[K + c]["se"]) for c, _l in COLUMNS]
        lines.append(f"| {name} | {hedge} | " + " | ".join(cells) + " |")
        print(f"  ({name}, hedge {hedge}: {time.perf_counter() - t0:.1f} s)", flush=True)
    return lines


def chain_lines(blocks: int, sigma: float) -> list[str]:
    from sim.chain.backend import run_on_chain
    from sim.chain.node import private_anvil

    sc = cut_for_chain(load_scenario(SCENARIO, [f"price.sigma_per_day={sigma}"]), blocks)
    t0 = time.perf_counter()
    with private_anvil(None) as url:
        run = run_on_chain(sc, url)
    seconds = time.perf_counter() - t0
    rep = run.report
    kinds = Counter((a["kind"], a.get("agent")) for r in run.records for a in r.actions)
    fast = Engine(sc, fused=False).run().worlds
    worst = max(
        abs(run.result.worlds[k][0] / v[0] - 1.0)
        for k, v in fast.items()
        if k.startswith(K) and v[0] != 0 and np.isfinite(v[0])
    )
    gas = rep.gas_summary()
    moves = kinds[("v3_decrease", "keeper")]
    lines = [
        f"chain backend: one world (seed {sc.seed}, σ {sigma:g}/day), {rep.blocks} blocks, "
        f"{rep.transactions} "
        f"transactions in {seconds:.0f} s, parity at every block: "
        f"{'ok' if rep.divergence is None else 'LOST at ' + str(rep.divergence)}; the keeper's "
        f"range moves: {moves} (each decreaseLiquidity, collect, "
        f"{kinds[('v3_swap', 'keeper')]} swaps in all, mint), its perp trades: "
        f"{kinds[('perp_trade', 'keeper')]}; worst relative difference of a keeper metric, "
        f"exact world vs fast engine: {worst:.1e}",
        "",
        "| keeper metric | chain | fast engine |",
        "|---|---|---|",
    ]
    for c, label in COLUMNS:
        if c in ("pnl_std", "pnl_cvar95"):
            continue
        lines.append(f"| {label} | {run.result.worlds[K + c][0]:,.2f} | {fast[K + c][0]:,.2f} |")
    lines += ["", "| action (all senders) | gasUsed, mean (max) |", "|---|---|"]
    for kind in ("v3_decrease", "v3_collect", "v3_swap", "v3_mint", "perp_trade"):
        if kind in gas:
            g = gas[kind]
            lines.append(f"| {kind} | {g['mean']:,.0f} ({g['max']:,}) |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=200)
    parser.add_argument("--chain-blocks", type=int, default=900)
    parser.add_argument("--chain-sigma", type=float, default=0.4)
    parser.add_argument("--no-chain", action="store_true")
    parser.add_argument("--no-fast", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"1-min load average before the run: {load:.1f}")
    if not args.no_fast:
        print("\n".join(policies_table(args.worlds)))
    if not args.no_chain:
        print()
        print("\n".join(chain_lines(args.chain_blocks, args.chain_sigma)))


if __name__ == "__main__":
    main()

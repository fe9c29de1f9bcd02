"""Print the README's Uniswap V3 tables: LP outcomes by range width in the fast engine (mean +-
SE over worlds), the same scenario on the chain backend for one world (genuine contracts,
parity at every block) beside the fast engine's value for that world, and gas per action of
the genuine V3 periphery beside the constant-product pool's router.

Usage: python scripts/study_univ3.py [--worlds 2000] [--chain-blocks 7200] [--gas-blocks 300]
       python scripts/study_univ3.py --theory   # the statistical checks' measured values

A script, not a test: it prints figures and asserts nothing (a parity failure is printed).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np
from chain_examples import example_row, row, worst_gap

from sim.chain.backend import run_on_chain
from sim.chain.node import private_anvil
from sim.engine.core import Engine, EngineHooks
from sim.run import cut_for_chain
from sim.scenario import load_scenario, scenario_from_dict
from sim.studies.univ3_theory import (
    S0,
    SIG_DAY,
    expected_lvr_rate,
    mmr_theory,
    theory_scenario,
    tick_bounds,
    zero_fee,
)
from sim.venues.univ3.config import width_ticks
from sim.venues.univ3.engine import make_v3_pools

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "univ3.yaml"
COLUMNS = (
    ("time_in_range", "time in range", "{:.3f}"),
    ("fees", "fees", "{:,.0f}"),
    ("lvr", "LVR", "{:,.0f}"),
    ("il", "IL", "{:.2e}"),
    ("lp_vs_hold", "LP vs hold (fees in)", "{:.2e}"),
    ("fee_rate", "fees /day /value", "{:.2e}"),
    ("lvr_rate", "LVR /day /value", "{:.2e}"),
)


def _ms(v: np.ndarray, fmt: str) -> str:
    v = v[np.isfinite(v)]
    se = v.std(ddof=1) / math.sqrt(v.size)
    return f"{fmt.format(v.mean())} ± {fmt.format(se)}"


def _range(sc, pos) -> str:
    if pos.full_range:
        return "full range"
    if pos.width is not None:
        return f"±{pos.width:.0%}"
    return f"ticks [{pos.tick_lower}, {pos.tick_upper})"


def fast_table(worlds: int) -> list[str]:
    sc = load_scenario(SCENARIO, [f"paths={worlds}"])
    t0 = time.perf_counter()
    w = Engine(sc).run().worlds
    secs = time.perf_counter() - t0
    pool = sc.v3_pools[0]
    head = "| position | range | value | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = [
        f"fast engine: {worlds} worlds x {sc.blocks.n_blocks} blocks in {secs:.1f} s "
        f"(mean ± SE; fees and LVR in numeraire over the day)",
        "",
        head,
        "|" + "---|" * (3 + len(COLUMNS)),
    ]
    for pos in pool.positions:
        cells = [_ms(w[f"v3.{pool.name}.{pos.name}.{k}"], fmt) for k, _l, fmt in COLUMNS]
        lines.append(
            f"| {pos.name} | {_range(sc, pos)} | {pos.value:,.0f} | " + " | ".join(cells) + " |"
        )
    lp = next(a for a in sc.agents if a.kind == "v3_lp")
    h = f"v3.{pool.name}.lp.{lp.name}."
    lines += [
        "",
        f"range LP `{lp.name}` (±{lp.width:.0%} ranges of {lp.value:,.0f}, opened and closed "
        f"{lp.open_rate:g}/day): positions {_ms(w[h + 'positions'], '{:.1f}')}, fees "
        f"{_ms(w[h + 'fees'], '{:,.0f}')}, LVR {_ms(w[h + 'lvr'], '{:,.0f}')}, P&L net of gas "
        f"{_ms(w[f'agent.{lp.name}.pnl'], '{:,.0f}')}",
        f"pool: arbitrage profit {_ms(w['v3.v3.arb_profit'], '{:,.0f}')}, fees "
        f"{_ms(w['v3.v3.fees'], '{:,.0f}')}, LVR {_ms(w['v3.v3.lvr'], '{:,.0f}')}, blocks with "
        f"an arbitrage {_ms(w['v3.v3.arb_block_frac'], '{:.3f}')}; V2 pool (30 bp) LVR "
        f"{_ms(w['v2.lvr'], '{:,.0f}')}, fees {_ms(w['v2.fees'], '{:,.0f}')}",
    ]
    return lines


def chain_table(url: str, blocks: int) -> list[str]:
    sc = cut_for_chain(load_scenario(SCENARIO), blocks)
    t0 = time.perf_counter()
    run = run_on_chain(sc, url)
    secs = time.perf_counter() - t0
    rep = run.report
    fast = Engine(sc, fused=False).run().worlds
    worst = worst_gap(run.result.worlds, fast)
    parity = "ok" if rep.divergence is None else rep.divergence.describe()
    pool = sc.v3_pools[0]
    lines = [
        f"chain backend: one world (seed {sc.seed}), {rep.blocks} blocks, {rep.transactions} "
        f"transactions through the genuine contracts in {secs:.0f} s, parity at every block: "
        f"{parity}; worst relative difference of any metric, exact world vs fast engine: "
        f"{worst:.1e}",
        "",
        "| position | " + " | ".join(f"{c[1]} (chain / fast)" for c in COLUMNS[:5]) + " |",
        "|" + "---|" * 6,
    ]
    for pos in pool.positions:
        cells = []
        for k, _l, fmt in COLUMNS[:5]:
            col = f"v3.{pool.name}.{pos.name}.{k}"
            cells.append(f"{fmt.format(run.result.worlds[col][0])} / {fmt.format(fast[col][0])}")
        lines.append(f"| {pos.name} | " + " | ".join(cells) + " |")
    lines += ["", "examples row: " + row(sc.name, rep, worst)]
    return lines


def reference_row(url: str, blocks: int | None = None) -> str:
    return "examples row: " + example_row(ROOT / "scenarios" / "univ3_reference.yaml", url, blocks)


def gas_table(url: str, blocks: int) -> list[str]:
    """Gas per action kind on one chain run of the scenario with busy LPs on both pools."""
    sc = load_scenario(SCENARIO, ["agents.6.open_rate=400", "agents.6.close_rate=400"])
    data = sc.model_dump(mode="json")
    data["agents"].append(
        {"kind": "lp", "name": "v2lp", "pool": "v2", "deposit_rate": 400, "withdraw_rate": 400}
    )

    sc = cut_for_chain(scenario_from_dict(data), blocks)
    rep = run_on_chain(sc, url).report
    gas = rep.gas_summary()
    rows = (
        ("swap (exact input, router)", "v3_swap", "SwapRouter.exactInputSingle", "swap",
         "Router.swapExactTokensForTokens"),
        ("add liquidity", "v3_mint", "NonfungiblePositionManager.mint (new token)", "mint",
         "Router.addLiquidity"),
        ("remove liquidity", "v3_decrease", "NonfungiblePositionManager.decreaseLiquidity (all)",
         "burn", "Router.removeLiquidity"),
        ("collect", "v3_collect", "NonfungiblePositionManager.collect (all)", None,
         "(paid in the same call)"),
    )  # fmt: skip
    lines = [
        f"gas: {blocks} blocks of {sc.name} with busy LPs on both pools; parity "
        f"{'ok' if rep.divergence is None else rep.divergence.describe()}; whole-transaction "
        "gasUsed, mean (max) over the run",
        "",
        "| action | genuine Uniswap V3 (v3-core 1.0.1, v3-periphery 1.4.4) | gas | "
        "ammlab constant-product pool | gas |",
        "|---|---|---:|---|---:|",
    ]
    for label, v3, v3_call, v2, v2_call in rows:
        g3 = gas.get(v3)
        g2 = gas.get(v2) if v2 else None
        c3 = f"{g3['mean']:,.0f} ({g3['max']:,.0f})" if g3 else "—"
        c2 = f"{g2['mean']:,.0f} ({g2['max']:,.0f})" if g2 else "—"
        lines.append(f"| {label} | {v3_call} | {c3} | {v2_call} | {c2} |")
    return lines


def theory_table() -> list[str]:
    """The statistical tests' checks (tests/sim/test_univ3_theory.py), measured and theory."""
    positions = [
        {"name": "full", "full_range": True, "value": 1e7},
        {"name": "w10", "width": 0.10, "value": 2e6},
        {"name": "w3", "width": 0.03, "value": 2e6},
    ]
    hooks = EngineHooks(factories={"v3_pools": zero_fee(make_v3_pools)})
    w = Engine(scenario_from_dict(theory_scenario(positions)), hooks=hooks).run().worlds
    lines = [
        "| check | measured | theory |",
        "|---|---|---|",
        f"| LVR of the full range, zero fee, arbitrage every block (per day, fraction of "
        f"value) | {_ms(w['v3.v3.full.lvr_rate'], '{:.6e}')} | σ²/8 = {SIG_DAY**2 / 8:.6e} |",
    ]
    for name, width in (("w10", 0.10), ("w3", 0.03)):
        pa, pb = tick_bounds(*width_ticks(S0, width, 10))
        lines.append(
            f"| LVR of a ±{width:.0%} position, zero fee | "
            f"{_ms(w[f'v3.v3.{name}.lvr_rate'], '{:.6e}')} | "
            f"{expected_lvr_rate(pa, pb, 7200):.6e} = E[σ²√P / (4(2√P − √Pa − P/√Pb))] |"
        )
    for fee in (500, 3000):
        p_trade, arb = mmr_theory(fee)
        sc = theory_scenario(
            [{"name": "full", "full_range": True, "value": 2e7}], fee=fee, poisson=True,
            paths=3000, n_blocks=14_400, warmup=3000,
        )  # fmt: skip
        w = Engine(scenario_from_dict(sc)).run().worlds
        lines += [
            f"| full range, fee {fee / 100:g} bp, Poisson 12 s blocks: fraction of blocks with "
            f"an arbitrage | {_ms(w['v3.v3.arb_block_frac'], '{:.6f}')} | {p_trade:.6f} |",
            f"| ... arbitrage profit rate | {_ms(w['v3.v3.arb_profit_rate'], '{:.6e}')} | "
            f"{arb:.6e} |",
        ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=2000)
    parser.add_argument("--chain-blocks", type=int, default=7200)
    parser.add_argument("--gas-blocks", type=int, default=300)
    parser.add_argument("--theory", action="store_true", help="only the theory checks' table")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n")
    if args.theory:
        for line in theory_table():
            print(line)
        return
    for line in fast_table(args.worlds):
        print(line)
    print()
    with private_anvil(None) as url:
        for line in chain_table(url, args.chain_blocks):
            print(line)
        print(reference_row(url, None if args.chain_blocks >= 7200 else args.chain_blocks))
        print()
        for line in gas_table(url, args.gas_blocks):
            print(line)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()

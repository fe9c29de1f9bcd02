"""Speed of the Uniswap V3 twin, and gas of the genuine V3 pool's transactions.

Run from the repository root::

    python scripts/bench_univ3_twin.py            # twin: swaps/s by ticks crossed, mints/s, ...
    python scripts/bench_univ3_twin.py --gas      # also gas on anvil (ethereum:local:foundry)

The twin figures come from a 0.3 % pool (spacing 60) with a position on every spacing from
tick -12,000 to 12,000 (so every spacing tick is initialised) and a full-range position; swaps
alternate direction, each stopped by a price limit that makes it cross exactly k initialised
ticks (k = 0: trades too small to leave the spacing). One core, plain CPython; each figure is
the best of `--repeats` runs.

``--gas`` deploys the genuine v3-core 1.0.1 factory and a 0.3 % pool (npm artifacts, as
shipped) with two ammlab ERC20s and ``contracts/test/V3Callee.vy`` as the payer, and prints
each transaction's receipt ``gasUsed`` (21,000 intrinsic and calldata included; mint and swap
go through V3Callee, so they include its call and the callback's token transfer; burn and
collect are sent to the pool by the owner). Every transaction is in a new block, one second
after the previous one, so each swap that moves the tick also writes an oracle observation.
"""

from __future__ import annotations

import argparse
import time

from sim.venues.univ3.periphery import quote_exact_input_single
from sim.venues.univ3.twin import UniswapV3Pool
from sim.venues.univ3.v3math import MAX_SQRT_RATIO, MIN_SQRT_RATIO, get_sqrt_ratio_at_tick

E18 = 10**18
SPACING = 60
LP = "0x" + "11" * 20


def laddered_pool() -> UniswapV3Pool:
    """A 0.3 % pool at tick 30 with a position on each spacing in [-12,000, 12,000)."""
    pool = UniswapV3Pool(3000)
    pool.initialize(get_sqrt_ratio_at_tick(30), 1_000_000)
    pool.increase_observation_cardinality_next(100)
    pool.mint(LP, -887_220, 887_220, E18, 1_000_000)
    for lower in range(-12_000, 12_000, SPACING):
        pool.mint(LP, lower, lower + SPACING, 10 * E18, 1_000_000)
    return pool


def swap_sequence(crossings: int, n: int) -> list[tuple[bool, int, int]]:
    """`n` swaps ``(zero_for_one, amount, limit)`` alternating between the middle of the start
    spacing (tick 30) and the middle of the spacing `crossings` below it, so that each crosses
    exactly `crossings` initialised ticks (0: trades too small to leave the spacing)."""
    swaps = []
    for i in range(n):
        zero_for_one = i % 2 == 0
        if crossings == 0:
            limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
            swaps.append((zero_for_one, 10**12, limit))
        else:
            target = 30 - crossings * SPACING if zero_for_one else 30
            swaps.append((zero_for_one, 10**24, get_sqrt_ratio_at_tick(target)))
    return swaps


def bench_swaps(crossings: int, n: int) -> tuple[float, float]:
    """Swaps/s of `swap_sequence`, and the mean number of initialised ticks each crossed
    (counted in an untimed run first)."""
    swaps = swap_sequence(crossings, n)
    pool = laddered_pool()
    crossed = 0
    for i, (zero_for_one, amount, limit) in enumerate(swaps):
        crossed += len(pool.swap_steps(zero_for_one, amount, limit)[-1])
        pool.swap(zero_for_one, amount, limit, 1_000_001 + i // 10)
    pool = laddered_pool()
    began = time.perf_counter()
    for i, (zero_for_one, amount, limit) in enumerate(swaps):
        pool.swap(zero_for_one, amount, limit, 1_000_001 + i // 10)
    return n / (time.perf_counter() - began), crossed / n


def bench_mints(n: int) -> float:
    """Mints/s of new positions over ranges 1..40 spacings wide around the price."""
    pool = laddered_pool()
    began = time.perf_counter()
    for i in range(n):
        lower = (i * 7919 % 400 - 200) * SPACING
        pool.mint(LP, lower, lower + (1 + i % 40) * SPACING, 10**15 + i, 1_000_001 + i // 10)
    return n / (time.perf_counter() - began)


def bench_quotes(n: int) -> float:
    """QuoterV2-equivalent quotes/s (exact input crossing about five ticks)."""
    pool = laddered_pool()
    limit = get_sqrt_ratio_at_tick(30 - 5 * SPACING)
    began = time.perf_counter()
    for _ in range(n):
        quote_exact_input_single(pool, True, 10**24, limit)
    return n / (time.perf_counter() - began)


def bench_copies(n: int) -> float:
    """copy()/s of the laddered pool (402 ticks, 401 positions)."""
    pool = laddered_pool()
    began = time.perf_counter()
    for _ in range(n):
        pool.copy()
    return n / (time.perf_counter() - began)


def twin_table(repeats: int) -> str:
    rows = []
    for crossings, n in ((0, 20_000), (1, 10_000), (5, 4_000)):
        rate, crossed = max(bench_swaps(crossings, n) for _ in range(repeats))
        rows.append((f"swap crossing {crossings} ticks", rate, f"{crossed:.2f} crossed on average"))
    rows.append(("mint (new position)", max(bench_mints(10_000) for _ in range(repeats)), ""))
    rows.append(
        ("quote_exact_input_single, ~5 ticks", max(bench_quotes(4_000) for _ in range(repeats)), "")
    )
    rows.append(("copy()", max(bench_copies(2_000) for _ in range(repeats)), "402 ticks"))
    lines = ["| twin operation | per second | note |", "|---|---:|---|"]
    lines += [f"| {name} | {rate:,.0f} | {note} |" for name, rate, note in rows]
    return "\n".join(lines)


# --- gas of the genuine pool ------------------------------------------------------------------


def gas_table() -> str:
    """Deploy the genuine factory and a 0.3 % pool on anvil; gas of each transaction."""
    from ape import accounts, chain, networks, project
    from ape.contracts import ContractContainer
    from ethpm_types import ContractType

    from sim.chain.artifacts import load_artifact

    def genuine(name: str) -> ContractContainer:
        art = load_artifact(name, "@uniswap/v3-core")
        return ContractContainer(
            ContractType.model_validate(
                {
                    "contractName": name,
                    "abi": art.abi,
                    "deploymentBytecode": {"bytecode": "0x" + art.bytecode.hex()},
                    "runtimeBytecode": {"bytecode": "0x" + art.runtime.hex()},
                }
            )
        )

    gas: dict[str, int] = {}
    with networks.parse_network_choice("ethereum:local:foundry"):
        owner, lp = accounts.test_accounts[0], accounts.test_accounts[1]
        callee = owner.deploy(project.V3Callee)
        tokens = []
        for symbol, decimals in (("TKA", 18), ("TKB", 6)):
            token = owner.deploy(project.ERC20, symbol, symbol, decimals, owner)
            token.mint(callee, 10**30, sender=owner)
            tokens.append(token)
        factory = owner.deploy(genuine("UniswapV3Factory"))
        factory.createPool(tokens[0], tokens[1], 3000, sender=owner)
        pool = genuine("UniswapV3Pool").at(factory.getPool(tokens[0], tokens[1], 3000))

        def step(name: str, send) -> None:
            chain.pending_timestamp = chain.blocks.head.timestamp + 1
            gas[name] = send().gas_used

        step("initialize", lambda: pool.initialize(get_sqrt_ratio_at_tick(30), sender=owner))
        step("mint, both ticks new (via V3Callee)",
             lambda: callee.mint(pool, lp, -600, 600, 10 * E18, 0, sender=lp))  # fmt: skip
        step("mint, both ticks initialised (via V3Callee)",
             lambda: callee.mint(pool, lp, -600, 600, 10 * E18, 0, sender=lp))  # fmt: skip
        callee.mint(pool, lp, 120, 180, 10 * E18, 0, sender=lp)
        step("swap, exact in, 0 ticks crossed (via V3Callee)",
             lambda: callee.swap(pool, lp, False, 10**15, get_sqrt_ratio_at_tick(119), 0, sender=lp))  # fmt: skip
        step("swap, exact in, 1 tick crossed (via V3Callee)",
             lambda: callee.swap(pool, lp, False, 10**19, get_sqrt_ratio_at_tick(150), 0, sender=lp))  # fmt: skip
        step("swap, exact out, 1 tick crossed (via V3Callee)",
             lambda: callee.swap(pool, lp, True, -(10**15), get_sqrt_ratio_at_tick(60), 0, sender=lp))  # fmt: skip
        step("burn, part of a position", lambda: pool.burn(-600, 600, 5 * E18, sender=lp))
        step("burn 0 (poke)", lambda: pool.burn(-600, 600, 0, sender=lp))
        max128 = 2**128 - 1
        step("collect, all owed", lambda: pool.collect(lp, -600, 600, max128, max128, sender=lp))
        step(
            "burn, whole position (ticks cleared)", lambda: pool.burn(120, 180, 10 * E18, sender=lp)
        )
    lines = ["| genuine UniswapV3Pool transaction | gasUsed |", "|---|---:|"]
    lines += [f"| {name} | {used:,} |" for name, used in gas.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gas", action="store_true", help="also measure the genuine pool's gas")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (best kept)")
    args = parser.parse_args()
    print(twin_table(args.repeats))
    if args.gas:
        print()
        print(gas_table())


if __name__ == "__main__":
    main()

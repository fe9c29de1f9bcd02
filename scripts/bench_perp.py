"""Gas of the perp market's transactions and throughput of its twins.

Run from the repository root: ``python scripts/bench_perp.py``. It starts its own anvil
(``ethereum:local:foundry``), deploys a 6-decimal quote token, an 8-decimal price feed and
a `PerpMarket` with the default parameters, and measures each transaction's ``gasUsed``
(21,000 intrinsic and calldata included): the first deposit, a later deposit, opening a
position (first trade in a new second: funding accrues), growing it, closing it,
withdrawing, and a liquidation after a 30 % oracle gap. Then it times the exact integer
twin (`sim.venues.perp.twin.PerpMarket`: transitions per second, one Python thread) and the vectorised
twin (`sim.venues.perp.batch.PerpBatch`: world-transitions per second) on a mixed workload of
deposits, trades, oracle moves and liquidation attempts. It prints markdown tables that the
README can include.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from ape import accounts, chain, networks, project

from sim.errors import Revert
from sim.venues.perp.batch import PerpBatch, VecParams
from sim.venues.perp.twin import MAX_UINT256, PerpMarket, PerpParams
from sim.venues.pricefeed.twin import PriceFeed

E18 = 10**18
USDC = 10**6


def _next_block_in(seconds: int) -> None:
    chain.pending_timestamp = chain.blocks.head.timestamp + seconds


def measure_gas() -> dict[str, int]:
    """Deploy a fresh market; {transaction: gas used}."""
    owner, alice, bob, keeper = accounts.test_accounts[:4]
    usdc = owner.deploy(project.ERC20, "USD Coin", "USDC", 6, owner)
    feed = owner.deploy(project.PriceFeed, 8, "ETH / USD", owner)
    feed.transmit(2_000 * 10**8, sender=owner)
    perp = owner.deploy(project.PerpMarket, usdc, feed, *PerpParams().constructor_args())
    for user in (owner, alice, bob):
        usdc.mint(user, 10_000_000 * USDC, sender=owner)
        usdc.approve(perp, MAX_UINT256, sender=user)
    perp.fundInsurance(100_000 * USDC, sender=owner)

    gas: dict[str, int] = {}
    _next_block_in(1)
    gas["depositMargin (first)"] = perp.depositMargin(5_000 * USDC, sender=alice).gas_used
    _next_block_in(1)
    gas["depositMargin (again)"] = perp.depositMargin(1_000 * USDC, sender=alice).gas_used
    _next_block_in(1)
    gas["modifyPosition: open"] = perp.modifyPosition(10 * E18, MAX_UINT256, sender=alice).gas_used
    _next_block_in(1)
    gas["modifyPosition: grow"] = perp.modifyPosition(5 * E18, MAX_UINT256, sender=alice).gas_used
    _next_block_in(1)
    gas["modifyPosition: close"] = perp.modifyPosition(-15 * E18, 0, sender=alice).gas_used
    _next_block_in(1)
    gas["withdrawMargin (no position)"] = perp.withdrawMargin(1_000 * USDC, sender=alice).gas_used

    perp.depositMargin(2_100 * USDC, sender=bob)
    perp.modifyPosition(10 * E18, MAX_UINT256, sender=bob)
    _next_block_in(1)
    gas["withdrawMargin (open position)"] = perp.withdrawMargin(1 * USDC, sender=bob).gas_used
    feed.transmit(1_400 * 10**8, sender=owner)
    _next_block_in(1)
    gas["liquidate (30 % gap)"] = perp.liquidate(bob, sender=keeper).gas_used
    return gas


def twin_throughput(n: int = 20_000, seed: int = 7) -> float:
    """Transitions per second of the integer twin on a mixed random workload."""
    rng = np.random.default_rng(seed)
    feed = PriceFeed(8, "ETH / USD", "oracle", "oracle")
    feed.transmit("oracle", 2_000 * 10**8, 0)
    users = [f"u{i}" for i in range(8)]
    params = PerpParams(skew_scale=10_000 * E18)
    market = PerpMarket(feed=feed, params=params, balances={u: 10**15 for u in [*users, "o"]})
    market.fund_insurance("o", 1_000_000 * USDC, 0)
    kinds = rng.integers(0, 10, n)
    who = rng.integers(0, len(users), n)
    sizes = rng.integers(-40, 41, n) * E18 // 4
    moves = rng.integers(-300, 301, n)
    now = 0
    start = time.perf_counter()
    for i in range(n):
        user, kind = users[who[i]], kinds[i]
        try:
            if kind == 0:
                market.deposit_margin(user, 20_000 * USDC, now)
            elif kind <= 5:
                size = int(sizes[i]) or E18
                market.modify_position(user, size, MAX_UINT256 if size > 0 else 0, now)
            elif kind <= 7:
                now += 12
                answer = market.feed.latest_answer() * (10_000 + int(moves[i])) // 10_000
                market.feed.transmit("oracle", answer, now)
            else:
                market.liquidate("o", user, now)
        except Revert:
            pass
    return n / (time.perf_counter() - start)


def vec_throughput(n_worlds: int = 10_000, n_steps: int = 200, seed: int = 7) -> float:
    """World-transitions per second of the vectorised twin (trades and liquidations)."""
    rng = np.random.default_rng(seed)
    batch = PerpBatch(n_worlds, 8, VecParams.from_params(PerpParams(skew_scale=10_000 * E18)))
    batch.fund_insurance(1_000_000.0)
    for a in range(8):
        batch.deposit(a, 20_000.0)
    price = np.full(n_worlds, 2_000.0)
    start = time.perf_counter()
    for step in range(n_steps):
        price *= np.exp(0.01 * rng.standard_normal(n_worlds))
        a = step % 8
        batch.modify(a, rng.integers(-40, 41, n_worlds) / 4, price, 12.0 * step)
        batch.liquidate((a + 3) % 8, price, 12.0 * step)
    return 2 * n_worlds * n_steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=20_000)
    args = parser.parse_args()
    with networks.parse_network_choice("ethereum:local:foundry"):
        gas = measure_gas()
    print("| PerpMarket transaction | gas |")
    print("|---|---:|")
    for name, used in gas.items():
        print(f"| {name} | {used:,} |")
    print()
    print("| twin | throughput |")
    print("|---|---:|")
    print(
        f"| sim.venues.perp.twin.PerpMarket (exact ints) | {twin_throughput(args.transitions):,.0f} transitions/s |"
    )
    print(
        f"| sim.venues.perp.batch.PerpBatch (10,000 worlds) | {vec_throughput():,.0f} world-transitions/s |"
    )


if __name__ == "__main__":
    main()

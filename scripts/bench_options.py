"""Gas of contracts/OptionsPool.vy per transaction on a fresh local anvil.

Run from the repository root::

    python scripts/bench_options.py

What is measured: `gas_used` of each transaction's receipt (21,000 intrinsic gas and calldata
included), on a pool with one 30-day board of one at-the-money strike (spot 2,000, base IV 80 %,
default parameters), in this order: the first deposit (no NAV needed), opens of 1 option each
(long call, short call, long put, short put, each the first of its kind on the strike, so its
open interest and the trader's position go from zero to non-zero), a second deposit (NAV marks
the strike), closes of 0.5 option each (non-zero to non-zero), then `settleBoard` after expiry
with all four kinds open and each `claim`. The views (`nav`, `boardGreeks`, `totalGreeks`,
`quote`) are eth_estimateGas of a call with the four positions open. Pricing gas grows with the
number of strikes with open interest on the board (the vega fee marks each), and NAV with
every such strike of every live board. It prints a markdown table.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.venues.options.twin import DEFAULT_CALL_CAP, OptionsParams  # noqa: E402

E18 = 10**18
USDC = 10**6
DAY = 86_400
MAX = 2**256 - 1


def measure() -> list[tuple[str, int]]:
    import ape

    rows: list[tuple[str, int]] = []
    with ape.networks.parse_network_choice("ethereum:local:foundry"):
        owner, alice, bob = ape.accounts.test_accounts[:3]
        usdc = owner.deploy(ape.project.ERC20, "USD Coin", "USDC", 6, owner)
        feed = owner.deploy(ape.project.PriceFeed, 8, "ETH / USD", owner)
        feed.transmit(2_000 * 10**8, sender=owner)
        pool = owner.deploy(
            ape.project.OptionsPool, usdc, feed, *OptionsParams().constructor_args()
        )
        for user in (owner, alice, bob):
            usdc.mint(user, 10**9 * USDC, sender=owner)
            usdc.approve(pool, MAX, sender=user)
        expiry = ape.chain.blocks.head.timestamp + 30 * DAY
        rows.append(
            ("addBoard", pool.addBoard(expiry, 8 * 10**17, DEFAULT_CALL_CAP, sender=owner).gas_used)
        )
        rows.append(("addStrike", pool.addStrike(1, 2_000 * E18, E18, sender=owner).gas_used))
        rows.append(("deposit (first)", pool.deposit(1_000_000 * USDC, sender=owner).gas_used))
        kinds = [
            ("long call", True, True, alice),
            ("short call", True, False, bob),
            ("long put", False, True, alice),
            ("short put", False, False, bob),
        ]
        for name, is_call, is_long, who in kinds:
            limit = MAX if is_long else 0
            r = pool.openPosition(1, is_call, is_long, E18, limit, MAX, sender=who)
            rows.append((f"openPosition, {name}", r.gas_used))
        rows.append(
            ("deposit (NAV marks 1 strike)", pool.deposit(1_000 * USDC, sender=alice).gas_used)
        )
        rows.append(("nav() (view)", pool.nav.estimate_gas_cost(sender=owner)))
        rows.append(("boardGreeks(1) (view)", pool.boardGreeks.estimate_gas_cost(1, sender=owner)))
        rows.append(("totalGreeks() (view)", pool.totalGreeks.estimate_gas_cost(sender=owner)))
        rows.append(
            ("quote(...) (view)", pool.quote.estimate_gas_cost(1, True, True, E18, sender=owner))
        )
        for name, is_call, is_long, who in kinds:
            limit = 0 if is_long else MAX
            r = pool.closePosition(1, is_call, is_long, E18 // 2, limit, MAX, sender=who)
            rows.append((f"closePosition, {name}", r.gas_used))
        rows.append(("withdraw (NAV marks 1 strike)", pool.withdraw(10**20, sender=alice).gas_used))
        ape.chain.pending_timestamp = expiry + 10
        feed.transmit(2_100 * 10**8, sender=owner)
        rows.append(
            ("settleBoard (1 strike, 4 kinds open)", pool.settleBoard(1, sender=bob).gas_used)
        )
        rows.append(("claim (long call + long put)", pool.claim(1, sender=alice).gas_used))
        rows.append(("claim (short call + short put)", pool.claim(1, sender=bob).gas_used))
    return rows


def main() -> None:
    rows = measure()
    print("OptionsPool gas per transaction (receipt gas_used, 21,000 intrinsic included; views:")
    print("eth_estimateGas of a call), one ATM strike on a 30-day board, fresh anvil.")
    print()
    print("| operation | gas |")
    print("|---|---|")
    for name, g in rows:
        print(f"| {name} | {g:,} |")


if __name__ == "__main__":
    main()

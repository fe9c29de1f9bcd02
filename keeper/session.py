"""A short trading session on a fork: random swaps through the router, each checked against
the exact Python twin, and the pools' state before and after.

This is the first version of the main job: it proves end to end that the deployed pools are
the twin (every amount out predicted to the wei) and that a fork leaves its upstream alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from keeper.deploy import Suite, role_account
from keeper.errors import ChainError
from sim.pools.cpmm import get_amount_out

Q112 = 2**112


@dataclass(frozen=True)
class PoolState:
    name: str
    fee_bps: int
    reserve_weth: int
    reserve_usdc: int
    lp_supply: int
    price0_cumulative: int
    price1_cumulative: int

    @property
    def price(self) -> float:
        """USDC per WETH, in whole tokens."""
        return (self.reserve_usdc / 1e6) / (self.reserve_weth / 1e18)


def read_pool_state(suite: Suite, name: str) -> PoolState:
    """Read a pool through the Uniswap V2 pair interface only."""
    pool = suite.pools[name]
    reserve0, reserve1, _ = pool.getReserves()
    weth_is_token0 = pool.token0() == suite.weth.address
    return PoolState(
        name=name,
        fee_bps=suite.manifest["pools"][name]["fee_bps"],
        reserve_weth=reserve0 if weth_is_token0 else reserve1,
        reserve_usdc=reserve1 if weth_is_token0 else reserve0,
        lp_supply=pool.totalSupply(),
        price0_cumulative=pool.price0CumulativeLast(),
        price1_cumulative=pool.price1CumulativeLast(),
    )


@dataclass(frozen=True)
class SwapRecord:
    pool: str
    token_in: str
    amount_in: int
    amount_out: int
    predicted_out: int
    gas_used: int


def fund_trader(suite: Suite, trader: Any, weth: int, usdc: int) -> None:
    """Mint tokens to the trader (the deployer is the minter) and approve the router."""
    deployer = role_account("deployer")
    suite.weth.mint(trader, weth, sender=deployer)
    suite.usdc.mint(trader, usdc, sender=deployer)
    suite.weth.approve(suite.router, 2**256 - 1, sender=trader)
    suite.usdc.approve(suite.router, 2**256 - 1, sender=trader)


def run_swap_session(suite: Suite, n_swaps: int, seed: int) -> list[SwapRecord]:
    """Send `n_swaps` random exact-in swaps through the router; each must equal the twin.

    Sizes are log-uniform between 0.01 % and 2 % of the input reserve; pool and direction
    are uniform. amountOutMin is the twin's prediction, so any disagreement reverts.
    """
    from ape import chain

    if n_swaps < 0:
        raise ChainError(f"swaps must be >= 0 (got {n_swaps})")
    rng = np.random.default_rng(seed)
    trader = role_account("trader")
    fund_trader(suite, trader, weth=10_000 * 10**18, usdc=30_000_000 * 10**6)
    names = sorted(suite.pools)
    records = []
    for _ in range(n_swaps):
        name = names[rng.integers(len(names))]
        pool = suite.pools[name]
        fee_bps = suite.manifest["pools"][name]["fee_bps"]
        sell_weth = bool(rng.integers(2))
        token_in, token_out = (suite.weth, suite.usdc) if sell_weth else (suite.usdc, suite.weth)
        reserve0, reserve1, _ = pool.getReserves()
        in_is_token0 = pool.token0() == token_in.address
        reserve_in, reserve_out = (reserve0, reserve1) if in_is_token0 else (reserve1, reserve0)
        amount_in = int(reserve_in * 10 ** rng.uniform(-4, np.log10(0.02)))
        predicted = get_amount_out(amount_in, reserve_in, reserve_out, fee_bps)
        deadline = chain.pending_timestamp + 60
        balance_before = token_out.balanceOf(trader)
        receipt = suite.router.swapExactTokensForTokens(
            pool, token_in, amount_in, predicted, trader, deadline, sender=trader
        )
        amount_out = token_out.balanceOf(trader) - balance_before
        records.append(
            SwapRecord(name, token_in.symbol(), amount_in, amount_out, predicted, receipt.gas_used)
        )
        if amount_out != predicted:
            raise ChainError(
                f"pool {name} paid {amount_out} but the twin predicts {predicted}: "
                "the contract and sim.pools.cpmm disagree"
            )
    return records


def format_pool_table(before: list[PoolState], after: list[PoolState]) -> str:
    lines = [
        f"{'pool':<9} {'fee':>5} {'WETH reserve':>14} {'USDC reserve':>16} {'price':>10} "
        f"{'LP supply':>12}",
    ]
    for label, states in (("before", before), ("after", after)):
        lines.append(f"-- {label}")
        for s in states:
            lines.append(
                f"{s.name:<9} {s.fee_bps:>3}bp {s.reserve_weth / 1e18:>14.4f} "
                f"{s.reserve_usdc / 1e6:>16.2f} {s.price:>10.2f} {s.lp_supply / 1e18:>12.4f}"
            )
    return "\n".join(lines)

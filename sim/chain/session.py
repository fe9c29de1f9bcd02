"""A short trading session on a fork: random swaps through the router, each checked against
the exact Python twin, and the pools' state before and after.

It proves end to end that the deployed pools are the twin (every amount out predicted to the
wei) and that a fork leaves its upstream alone. The suite is read from its manifest through
the Uniswap V2 pair interface only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.chain.artifacts import load_artifact
from sim.chain.client import Chain
from sim.chain.node import ROLE_ADDRESSES
from sim.errors import ChainError, ManifestError
from sim.venues.cpmm.twin import get_amount_out

MAX_UINT = 2**256 - 1


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


@dataclass
class Suite:
    """A deployed suite's contracts (web3.py) on one chain, from its manifest."""

    chain: Chain
    manifest: dict[str, Any]
    weth: Any
    usdc: Any
    router: Any
    pools: dict[str, Any]


def load_suite(url: str, manifest: dict[str, Any]) -> Suite:
    """Bind a manifest to the chain at `url`, checking its chain id and that code exists."""
    chain = Chain(url)
    if manifest["chain_id"] != chain.w3.eth.chain_id:
        raise ManifestError(
            f"manifest is for chain id {manifest['chain_id']} but the connected chain has id "
            f"{chain.w3.eth.chain_id} ({url}): redeploy with `ammlab chain up` or pass the "
            "right manifest"
        )

    def at(entry: dict[str, Any]) -> Any:
        if chain.w3.eth.get_code(entry["address"]) in (b"", None):
            raise ManifestError(
                f"no contract code at {entry['address']} ({entry['contract']}): the chain was "
                "reset since the manifest was written; redeploy with `ammlab chain up`"
            )
        return chain.contract(entry["address"], load_artifact(entry["contract"]))

    return Suite(
        chain=chain,
        manifest=manifest,
        weth=at(manifest["tokens"]["WETH"]),
        usdc=at(manifest["tokens"]["USDC"]),
        router=at(manifest["router"]),
        pools={name: at(entry) for name, entry in manifest["pools"].items()},
    )


def read_pool_state(suite: Suite, name: str) -> PoolState:
    """Read a pool through the Uniswap V2 pair interface only."""
    pool = suite.pools[name].functions
    reserve0, reserve1, _ = pool.getReserves().call()
    weth_is_token0 = pool.token0().call() == suite.weth.address
    return PoolState(
        name=name,
        fee_bps=suite.manifest["pools"][name]["fee_bps"],
        reserve_weth=reserve0 if weth_is_token0 else reserve1,
        reserve_usdc=reserve1 if weth_is_token0 else reserve0,
        lp_supply=pool.totalSupply().call(),
        price0_cumulative=pool.price0CumulativeLast().call(),
        price1_cumulative=pool.price1CumulativeLast().call(),
    )


@dataclass(frozen=True)
class SwapRecord:
    pool: str
    token_in: str
    amount_in: int
    amount_out: int
    predicted_out: int
    gas_used: int


def fund_trader(suite: Suite, trader: str, weth: int, usdc: int) -> None:
    """Mint tokens to the trader (the deployer is the minter) and approve the router."""
    deployer = ROLE_ADDRESSES["deployer"]
    send = suite.chain.send
    send(suite.weth.functions.mint(trader, weth), deployer, "fund the trader")
    send(suite.usdc.functions.mint(trader, usdc), deployer, "fund the trader")
    for token in (suite.weth, suite.usdc):
        send(token.functions.approve(suite.router.address, MAX_UINT), trader, "approve the router")


def run_swap_session(suite: Suite, n_swaps: int, seed: int) -> list[SwapRecord]:
    """Send `n_swaps` random exact-in swaps through the router; each must equal the twin.

    Sizes are log-uniform between 0.01 % and 2 % of the input reserve; pool and direction
    are uniform. amountOutMin is the twin's prediction, so any disagreement reverts.
    """
    if n_swaps < 0:
        raise ChainError(f"swaps must be >= 0 (got {n_swaps})")
    rng = np.random.default_rng(seed)
    trader = ROLE_ADDRESSES["trader"]
    fund_trader(suite, trader, weth=10_000 * 10**18, usdc=30_000_000 * 10**6)
    names = sorted(suite.pools)
    w3 = suite.chain.w3
    records = []
    for _ in range(n_swaps):
        name = names[rng.integers(len(names))]
        pool = suite.pools[name].functions
        fee_bps = suite.manifest["pools"][name]["fee_bps"]
        sell_weth = bool(rng.integers(2))
        token_in, token_out = (suite.weth, suite.usdc) if sell_weth else (suite.usdc, suite.weth)
        reserve0, reserve1, _ = pool.getReserves().call()
        in_is_token0 = pool.token0().call() == token_in.address
        reserve_in, reserve_out = (reserve0, reserve1) if in_is_token0 else (reserve1, reserve0)
        amount_in = int(reserve_in * 10 ** rng.uniform(-4, np.log10(0.02)))
        predicted = get_amount_out(amount_in, reserve_in, reserve_out, fee_bps)
        deadline = w3.eth.get_block("latest")["timestamp"] + 60
        balance_before = token_out.functions.balanceOf(trader).call()
        receipt = suite.chain.send(
            suite.router.functions.swapExactTokensForTokens(
                suite.pools[name].address, token_in.address, amount_in, predicted, trader,
                deadline,
            ),
            trader,
            f"swap on {name}",
        )  # fmt: skip
        amount_out = token_out.functions.balanceOf(trader).call() - balance_before
        symbol = token_in.functions.symbol().call()
        records.append(SwapRecord(name, symbol, amount_in, amount_out, predicted, receipt.gasUsed))
        if amount_out != predicted:
            raise ChainError(
                f"pool {name} paid {amount_out} but the twin predicts {predicted}: "
                "the contract and sim.venues.cpmm.twin disagree"
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

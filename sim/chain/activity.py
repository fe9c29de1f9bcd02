"""Trading activity on the mainnet preset, for pulling and replaying it back.

`make_activity` drives the genuine contracts a placed preset holds (`sim.chain.mainnet`) for a
number of blocks, several transactions a block (anvil's automine off, each block mined at 12 s
past the last): the feed's transmitter follows a GBM price (`sim.processes.GBM`, the
simulator's own process); a CEX-DEX arbitrageur trades the V2 pair to the edge of its fee band
around that price (`sim.venues.cpmm.batch.optimal_arb_input`, the simulator's closed form) and
noise traders trade every kind of order the routers have: V2 exact-in and exact-out swaps, V2
adds and removes, a donation the pair syncs; V3 exact-in, exact-out and price-limited swaps on
both pools, position mints, increases, decreases and collects through the position manager,
and one oracle-cardinality increase. Scripted with web3.py (not the simulator's chain backend,
which deploys ammlab's own pool rather than driving the genuine ones at mainnet addresses).

Returns the blocks it mined; any failed setup step raises ChainError.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.chain.artifacts import load_artifact
from sim.chain.client import Chain
from sim.chain.mainnet import (
    ETH_USD_FEED,
    FEED_DECIMALS,
    USDC,
    V2_ROUTER,
    V3_POSITION_MANAGER,
    V3_SWAP_ROUTER,
    WETH9,
)
from sim.chain.node import ROLE_ADDRESSES
from sim.processes import GBM
from sim.streams import WorldStreams
from sim.venues.cpmm.batch import optimal_arb_input

GAS = 1_500_000
BLOCK_TIME = 12
MAX = 2**256 - 1


@dataclass
class Activity:
    """What `make_activity` did: the blocks it mined and the transactions it sent."""

    first_block: int
    last_block: int
    sent: int


def _c(chain: Chain, address: str, name: str, package: str | None) -> Any:
    return chain.contract(address, load_artifact(name, package))


def make_activity(
    rpc_url: str, manifest: dict[str, Any], blocks: int, seed: int = 0, per_block: int = 6
) -> Activity:
    """Mine `blocks` blocks of trading on the preset at `rpc_url` (placed with `manifest`).

    Args:
        rpc_url: the anvil holding the preset.
        manifest: `place_mainnet_preset`'s manifest.
        blocks: blocks to mine, each with the feed's answer, an arbitrage when profitable and
            about `per_block` noise transactions.
        seed: seed of the price path and the traders' draws (same seed, same chain).
    """
    chain = Chain(rpc_url)
    w3 = chain.w3
    rng = np.random.default_rng(seed)
    deployer, trader, keeper = (ROLE_ADDRESSES[r] for r in ("deployer", "trader", "keeper"))
    transmitter = ROLE_ADDRESSES["transmitter"]
    weth = _c(chain, WETH9, "WETH9", "@uniswap/v2-periphery")
    usdc = _c(chain, USDC, "ERC20", None)
    feed = _c(chain, ETH_USD_FEED, "PriceFeed", None)
    router = _c(chain, V2_ROUTER, "UniswapV2Router02", "@uniswap/v2-periphery")
    swap_router = _c(chain, V3_SWAP_ROUTER, "SwapRouter", "@uniswap/v3-periphery")
    manager = _c(chain, V3_POSITION_MANAGER, "NonfungiblePositionManager", "@uniswap/v3-periphery")
    pair_address = manifest["uniswap_v2"]["pairs"]["weth_usdc"]["address"]
    pair = _c(chain, pair_address, "UniswapV2Pair", "@uniswap/v2-core")
    pools = {p["fee"]: _c(chain, p["address"], "UniswapV3Pool", "@uniswap/v3-core")
             for p in manifest["uniswap_v3"]["pools"].values()}  # fmt: skip

    # Setup (automine on): every actor holds both tokens and has approved every spender.
    chain.fund(deployer, 10**24)
    for account in (trader, keeper):
        chain.fund(account, 10**24)
        chain.send(weth.functions.deposit(), account, "wrap", value=10**23)
        chain.send(usdc.functions.mint(account, 10**18), deployer, "mint USDC")
    chain.send(usdc.functions.mint(deployer, 10**18), deployer, "mint USDC")
    chain.send(weth.functions.deposit(), deployer, "wrap", value=10**22)
    for account in (trader, keeper, deployer):
        for token in (weth, usdc):
            for spender in (V2_ROUTER, V3_SWAP_ROUTER, V3_POSITION_MANAGER):
                chain.send(token.functions.approve(spender, MAX), account, "approve")
    chain.send(pair.functions.approve(V2_ROUTER, MAX), deployer, "approve LP")
    tokens = [p["token_id"] for v in manifest["uniswap_v3"]["pools"].values()
              for p in v["positions"]]  # fmt: skip

    price = GBM(1, float(manifest["seed_price"]), 0.05 * math.sqrt(365), 0.0,
                WorldStreams(seed, 7, 1, 0))  # fmt: skip
    chain.rpc("evm_setAutomine", [False])
    first = w3.eth.block_number + 1
    sent = 0
    try:
        for _ in range(blocks):
            p = float(price.step(np.array([float(BLOCK_TIME)]))[0])
            deadline = w3.eth.get_block("latest")["timestamp"] + 3600
            txs = [(feed.functions.transmit(int(p * 10**FEED_DECIMALS)), transmitter)]
            r_usdc, r_weth, _ = pair.functions.getReserves().call()
            amount, direction = optimal_arb_input(r_weth / 1e18, r_usdc / 1e6, p, 30.0)
            if direction > 0 and amount * 1e6 >= 1:
                txs.append((router.functions.swapExactTokensForTokens(
                    int(amount * 1e6), 0, [USDC, WETH9], keeper, deadline), keeper))  # fmt: skip
            elif direction < 0 and amount * 1e18 >= 1:
                txs.append((router.functions.swapExactTokensForTokens(
                    int(amount * 1e18), 0, [WETH9, USDC], keeper, deadline), keeper))  # fmt: skip
            for _ in range(rng.poisson(per_block)):
                txs.append(_noise(rng, p, deadline, trader, deployer, router, swap_router,
                                  manager, pools, pair, usdc, tokens))  # fmt: skip
            if rng.random() < 0.05:
                fee = int(rng.choice(sorted(pools)))
                txs.append((pools[fee].functions.increaseObservationCardinalityNext(
                    int(rng.integers(2, 20))), trader))  # fmt: skip
            for call, sender in txs:
                call.transact({"from": sender, "gas": GAS})
            sent += len(txs)
            chain.rpc("evm_mine", [w3.eth.get_block("latest")["timestamp"] + BLOCK_TIME])
    finally:
        chain.rpc("evm_setAutomine", [True])
    return Activity(first, w3.eth.block_number, sent)


def _noise(rng, p, deadline, trader, deployer, router, swap_router, manager, pools, pair, usdc,
           tokens) -> tuple[Any, str]:  # fmt: skip
    """One random noise transaction: (contract call, sender)."""
    kind = rng.choice(["v2_in", "v2_out", "v2_add", "v2_remove", "v2_donate", "v3_in", "v3_out",
                       "v3_limit", "v3_mint", "v3_increase", "v3_decrease", "v3_collect"],
                      p=[.16, .1, .06, .05, .03, .16, .1, .08, .06, .06, .07, .07])  # fmt: skip
    weth_size = float(rng.lognormal(0.0, 1.0))  # WETH, median 1
    buy = bool(rng.random() < 0.5)
    path = [USDC, WETH9] if buy else [WETH9, USDC]
    amount_in = int(weth_size * p * 1e6) if buy else int(weth_size * 1e18)
    if kind == "v2_in":
        return router.functions.swapExactTokensForTokens(amount_in, 0, path, trader,
                                                         deadline), trader  # fmt: skip
    if kind == "v2_out":
        out = int(weth_size * 1e18) if buy else int(weth_size * p * 1e6)
        return router.functions.swapTokensForExactTokens(out, MAX >> 1, path, trader,
                                                         deadline), trader  # fmt: skip
    if kind == "v2_add":
        return router.functions.addLiquidity(USDC, WETH9, int(weth_size * p * 1e6 * 5),
                                             int(weth_size * 1e18 * 5), 0, 0, deployer,
                                             deadline), deployer  # fmt: skip
    if kind == "v2_remove":
        lp = pair.functions.balanceOf(deployer).call()
        return router.functions.removeLiquidity(USDC, WETH9, lp // 200, 0, 0, deployer,
                                                deadline), deployer  # fmt: skip
    if kind == "v2_donate":
        return usdc.functions.transfer(pair.address, int(rng.integers(1, 10**9))), trader
    fee = int(rng.choice(sorted(pools)))
    if kind == "v3_in":
        return swap_router.functions.exactInputSingle(
            (path[0], path[1], fee, trader, deadline, amount_in, 0, 0)
        ), trader
    if kind == "v3_out":
        out = int(weth_size * 1e18) if buy else int(weth_size * p * 1e6)
        return swap_router.functions.exactOutputSingle(
            (path[0], path[1], fee, trader, deadline, out, MAX >> 1, 0)
        ), trader
    if kind == "v3_limit":
        sqrt_now = pools[fee].functions.slot0().call()[0]
        # USDC in (buy WETH) raises the WETH-per-USDC price: token0 in, price falls
        limit = sqrt_now * (9995 if buy else 10005) // 10000
        return swap_router.functions.exactInputSingle(
            (path[0], path[1], fee, trader, deadline, amount_in * 50, 0, limit)
        ), trader
    if kind == "v3_mint":
        spacing = pools[fee].functions.tickSpacing().call()
        tick = pools[fee].functions.slot0().call()[1]
        lower = (tick // spacing - int(rng.integers(1, 40))) * spacing
        upper = (tick // spacing + int(rng.integers(1, 40))) * spacing
        return manager.functions.mint((USDC, WETH9, fee, lower, upper, int(weth_size * p * 1e6),
                                       int(weth_size * 1e18), 0, 0, deployer,
                                       deadline)), deployer  # fmt: skip
    token_id = int(rng.choice(tokens))
    if kind == "v3_increase":
        return manager.functions.increaseLiquidity((token_id, int(weth_size * p * 1e6),
                                                    int(weth_size * 1e18), 0, 0,
                                                    deadline)), deployer  # fmt: skip
    if kind == "v3_decrease":
        liquidity = manager.functions.positions(token_id).call()[7]
        return manager.functions.decreaseLiquidity((token_id, liquidity // 50, 0, 0,
                                                    deadline)), deployer  # fmt: skip
    return manager.functions.collect((token_id, deployer, 2**128 - 1, 2**128 - 1)), deployer

"""Chain part of the constant-product pools (`sim.venues.cpmm.exact.CpmmPart`):
`contracts/ConstantProductPool.vy` and its periphery `contracts/Router.vy`.

Creations: the router, then one pool per scenario pool with its fee. Setup: every account
approves the router for both tokens (LP holders their LP tokens too); each recorded seed is the
deployer minting both tokens to the pool and calling `mint(deployer)`. Actions become router
calls: `swapExactTokensForTokens` (amountOutMin = the twin's prediction), `addLiquidity`,
`removeLiquidity`, and an LP `transfer`. State reads: reserves, blockTimestampLast, LP supply,
cumulative prices, and the LP holders' balances.
"""

from __future__ import annotations

from typing import Any

from sim.chain.abi import calldata
from sim.venues.base import (
    DEADLINE_SLACK,
    DEPLOYER,
    MAX_UINT,
    NUMERAIRE,
    RISKY,
    SETUP_GAS,
    ChainPart,
    Creation,
    Layout,
    Read,
    Tx,
)

GAS = {"swap": 250_000, "mint": 350_000, "burn": 300_000, "lp_transfer": 100_000}
"""Gas limit per action kind (actual use is in the receipts)."""


def pool_label(name: str) -> str:
    """Layout label of a pool's contract."""
    return f"pool:{name}"


class CpmmChainPart(ChainPart):
    """Deploys, seeds, encodes and reads the scenario's pools and the router."""

    kinds = frozenset(GAS)

    def creations(self, sc: Any) -> list[Creation]:
        out: list[Creation] = [("router", lambda a, code: code("Router", [], []))]
        for p in sc.pools:
            out.append(
                (
                    pool_label(p.name),
                    lambda a, code, fee=int(p.fee_bps): code(
                        "ConstantProductPool",
                        ["address", "address", "uint256"],
                        [a[RISKY], a[NUMERAIRE], fee],
                    ),
                )
            )
        return out

    def setup_txs(self, layout: Layout, world: Any) -> list[Tx]:
        t0, t1 = layout.token01()
        router = layout.contracts["router"]
        dep = layout.deployer
        lp_agents = world.part("cpmm").lp_agents
        txs: list[Tx] = []
        for a in world.setup.actions:
            if a["kind"] == "seed":
                pool = layout.contracts[pool_label(a["pool"])]
                for token, amount in ((t0, a["amount0"]), (t1, a["amount1"])):
                    txs.append((dep, token, calldata("mint(address,uint256)", pool, amount),
                                SETUP_GAS))  # fmt: skip
                txs.append((dep, pool, calldata("mint(address)", dep), SETUP_GAS))
        approve = calldata("approve(address,uint256)", router, MAX_UINT)
        for name in world.accounts:
            addr = layout.agents[name]
            for tok in (RISKY, NUMERAIRE):
                txs.append((addr, layout.tokens[tok], approve, SETUP_GAS))
            if name in lp_agents:
                txs.append((addr, layout.contracts[pool_label(lp_agents[name])], approve,
                            SETUP_GAS))  # fmt: skip
        return txs

    def encode(self, a: dict[str, Any], layout: Layout, timestamp: int) -> Tx:
        kind = a["kind"]
        deadline = timestamp + DEADLINE_SLACK
        agent = layout.agents[a["agent"]]
        pool = layout.contracts[pool_label(a["pool"])]
        router = layout.contracts["router"]
        if kind == "lp_transfer":
            data = calldata("transfer(address,uint256)", agent, a["liquidity"])
            sender = layout.deployer if a["from"] == DEPLOYER else layout.agents[a["from"]]
            return (sender, pool, data, GAS[kind])
        if kind == "swap":
            data = calldata(
                "swapExactTokensForTokens(address,address,uint256,uint256,address,uint256)",
                pool, layout.tokens[a["token_in"]], a["amount_in"], a["min_out"], agent, deadline,
            )  # fmt: skip
        elif kind == "mint":
            data = calldata(
                "addLiquidity(address,uint256,uint256,uint256,uint256,address,uint256)",
                pool, a["amount0"], a["amount1"], a["min0"], a["min1"], agent, deadline,
            )  # fmt: skip
        else:
            data = calldata(
                "removeLiquidity(address,uint256,uint256,uint256,address,uint256)",
                pool, a["liquidity"], a["min0"], a["min1"], agent, deadline,
            )  # fmt: skip
        return (agent, router, data, GAS[kind])

    def reads(self, layout: Layout, world: Any) -> list[Read]:
        reads: list[Read] = []
        for name, pool in layout.labelled("pool").items():
            f = f"pool.{name}."
            reads.append(
                (
                    pool,
                    calldata("getReserves()"),
                    [(f + "reserve0", 0), (f + "reserve1", 1), (f + "blockTimestampLast", 2)],
                )
            )
            for fn in ("totalSupply", "price0CumulativeLast", "price1CumulativeLast"):
                reads.append((pool, calldata(f"{fn}()"), [(f + fn, 0)]))
        for name, pool in world.part("cpmm").lp_agents.items():
            data = calldata("balanceOf(address)", layout.agents[name])
            reads.append((layout.contracts[pool_label(pool)], data,
                          [(f"agent.{name}.lp.{pool}", 0)]))  # fmt: skip
        return reads

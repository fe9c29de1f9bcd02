"""Chain part of the Uniswap V3 pools (`sim.venues.univ3.exact.Univ3Part`): the genuine
v3-core 1.0.1 factory and pools and v3-periphery 1.4.4's SwapRouter and
NonfungiblePositionManager, deployed from their npm artifacts as shipped.

Creations: the factory, the SwapRouter(factory, WETH9) and the NonfungiblePositionManager
(factory, WETH9, token descriptor); the run's risky token stands in for WETH9 (no ETH path is
used) and the factory's address for the token descriptor (no tokenURI is read). Setup: the
swapping agents approve the router and the LPs (agents and each pool's LP account) the manager
for both tokens; the recorded setup actions create
each pool through the factory, initialise it and mint the scenario's positions. Pools live at
their CREATE2 addresses (the npm pool's init code hash is mainnet's, which the periphery
assumes). State reads: each pool's slot0, liquidity, fee growth, observation 0, every tick and
manager position the run touched, its token balances, and the manager's `positions(tokenId)`
of every token the run minted, through `contracts/V3PositionLens.vy` (zeros before the mint).
"""

from __future__ import annotations

from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from sim.agents.keeper import KeeperConfig
from sim.chain.abi import calldata
from sim.chain.artifacts import load_artifact
from sim.errors import ChainError
from sim.venues.base import (
    DEADLINE_SLACK,
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
from sim.venues.univ3.agents import (
    V3ArbitrageurConfig,
    V3CrossArbitrageurConfig,
    V3LPConfig,
    V3NoiseTraderConfig,
    V3SandwichConfig,
)
from sim.venues.univ3.exact import _MANAGED, _OBSERVATION, _POSITION, _SLOT0, _TICK, lp_account
from sim.venues.univ3.twin import position_key
from sim.venues.univ3.v3math import UINT128_MAX

CORE = "@uniswap/v3-core"
PERIPHERY = "@uniswap/v3-periphery"
FACTORY, ROUTER, MANAGER, LENS = "v3factory", "v3router", "v3npm", "v3lens"
"""Layout labels of the singletons."""
GAS = {
    "v3_create": 6_000_000,
    "v3_initialize": 200_000,
    "v3_mint": 1_000_000,
    "v3_swap": 1_500_000,
    "v3_decrease": 500_000,
    "v3_collect": 300_000,
}
"""Gas limit per action kind (actual use is in the receipts)."""
_SWAPPERS = (V3ArbitrageurConfig, V3NoiseTraderConfig, V3SandwichConfig, V3CrossArbitrageurConfig)
"""Agent kinds that swap through the SwapRouter."""
_SIGNED_TICK = {"liquidityNet", "tickCumulativeOutside"}
_SIGNED_MANAGED = {"tickLower", "tickUpper"}


def pool_address(layout: Layout, fee: int) -> str:
    """The factory's CREATE2 address of the run's pool with fee tier `fee`."""
    t0, t1 = layout.token01()
    salt = keccak(abi_encode(["address", "address", "uint24"], [t0, t1, fee]))
    init_hash = load_artifact("UniswapV3Pool", CORE).init_code_hash
    factory = bytes.fromhex(layout.contracts[FACTORY][2:])
    return to_checksum_address(keccak(b"\xff" + factory + salt + init_hash)[12:])


class Univ3ChainPart(ChainPart):
    """Deploys, sets up, encodes and reads the scenario's V3 pools through the genuine
    factory, router and position manager."""

    kinds = frozenset(GAS)

    def __init__(self, sc: Any):
        super().__init__(sc)
        self.fees = {c.name: c.fee for c in sc.v3_pools}

    def creations(self, sc: Any) -> list[Creation]:
        return [
            (FACTORY, lambda a, code: code("UniswapV3Factory", [], [], CORE)),
            (
                ROUTER,
                lambda a, code: code(
                    "SwapRouter", ["address", "address"], [a[FACTORY], a[RISKY]], PERIPHERY
                ),
            ),
            (
                MANAGER,
                lambda a, code: code(
                    "NonfungiblePositionManager",
                    ["address", "address", "address"],
                    [a[FACTORY], a[RISKY], a[FACTORY]],
                    PERIPHERY,
                ),
            ),
            (LENS, lambda a, code: code("V3PositionLens", [], [])),
        ]

    def setup_txs(self, layout: Layout, world: Any) -> list[Tx]:
        # Only the accounts that use them approve the router and the manager: a dense
        # scenario's setup block must stay under the block gas limit.
        keepers = [a.name for a in self.sc.agents if isinstance(a, KeeperConfig) and a.v3]
        swappers = [a.name for a in self.sc.agents if isinstance(a, _SWAPPERS)] + keepers
        minters = [a.name for a in self.sc.agents if isinstance(a, V3LPConfig)] + keepers
        minters += [lp_account(p.name) for p in self.sc.v3_pools]
        txs: list[Tx] = []
        for spender, names in ((ROUTER, swappers), (MANAGER, minters)):
            approve = calldata("approve(address,uint256)", layout.contracts[spender], MAX_UINT)
            for name in names:
                for tok in (RISKY, NUMERAIRE):
                    txs.append((layout.agents[name], layout.tokens[tok], approve, SETUP_GAS))
        return txs

    def encode(self, a: dict[str, Any], layout: Layout, timestamp: int) -> Tx:
        kind = a["kind"]
        deadline = timestamp + DEADLINE_SLACK
        fee = self.fees[a["pool"]]
        t0, t1 = layout.token01()
        if kind == "v3_create":
            data = calldata("createPool(address,address,uint24)", t0, t1, fee)
            return (layout.deployer, layout.contracts[FACTORY], data, GAS[kind])
        if kind == "v3_initialize":
            data = calldata("initialize(uint160)", a["sqrt_price_x96"])
            return (layout.deployer, pool_address(layout, fee), data, GAS[kind])
        sender = layout.sender(a["agent"])
        manager = layout.contracts[MANAGER]
        if kind == "v3_swap":
            token_in = layout.tokens[a["token_in"]]
            token_out = layout.tokens[NUMERAIRE if a["token_in"] == RISKY else RISKY]
            data = calldata(
                "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
                token_in, token_out, fee, sender, deadline, a["amount_in"], a["min_out"], a["limit"],
            )  # fmt: skip
            return (sender, layout.contracts[ROUTER], data, GAS[kind])
        if kind == "v3_mint":
            data = calldata(
                "mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,"
                "uint256))",
                t0, t1, fee, a["tick_lower"], a["tick_upper"], a["amount0"], a["amount1"], 0, 0,
                sender, deadline,
            )  # fmt: skip
            return (sender, manager, data, GAS[kind])
        if kind == "v3_decrease":
            data = calldata(
                "decreaseLiquidity((uint256,uint128,uint256,uint256,uint256))",
                a["token_id"], a["liquidity"], 0, 0, deadline,
            )  # fmt: skip
            return (sender, manager, data, GAS[kind])
        if kind == "v3_collect":
            data = calldata(
                "collect((uint256,address,uint128,uint128))",
                a["token_id"], sender, UINT128_MAX, UINT128_MAX,
            )  # fmt: skip
            return (sender, manager, data, GAS[kind])
        raise ChainError(f"univ3 part: unknown action kind {kind!r}")  # pragma: no cover

    def reads(self, layout: Layout, world: Any) -> list[Read]:
        part = world.part("univ3")
        manager = layout.contracts[MANAGER]
        t0, t1 = layout.token01()
        out: list[Read] = []
        for name, fee in self.fees.items():
            pool = pool_address(layout, fee)
            f = f"v3.{name}."
            out.append((pool, calldata("slot0()"),
                        [(f + k, i, k == "tick") for i, k in enumerate(_SLOT0)]))  # fmt: skip
            for fn in ("liquidity", "feeGrowthGlobal0X128", "feeGrowthGlobal1X128"):
                out.append((pool, calldata(f"{fn}()"), [(f + fn, 0)]))
            obs = [(f"{f}observation0.{k}", i, k == "tickCumulative")
                   for i, k in enumerate(_OBSERVATION)]  # fmt: skip
            out.append((pool, calldata("observations(uint256)", 0), obs))
            for t in part.ticks_seen[name]:
                fields = [(f"{f}tick.{t}.{k}", i, k in _SIGNED_TICK) for i, k in enumerate(_TICK)]
                out.append((pool, calldata("ticks(int24)", t), fields))
            for lower, upper in part.ranges_seen[name]:
                key = int.from_bytes(position_key(manager, lower, upper), "big")
                fields = [(f"{f}position.{lower}.{upper}.{k}", i) for i, k in enumerate(_POSITION)]
                out.append((pool, calldata("positions(bytes32)", key), fields))
            for field, token in (("balance0", t0), ("balance1", t1)):
                out.append((token, calldata("balanceOf(address)", pool), [(f + field, 0)]))
        # positions(tokenId) words: nonce, operator, token0, token1, fee, tickLower, tickUpper,
        # liquidity, feeGrowthInside0LastX128, feeGrowthInside1LastX128, tokensOwed0, tokensOwed1
        # (through the lens: zeros before the token exists, where the manager reverts)
        word = {k: i + 5 for i, k in enumerate(_MANAGED)}
        lens = layout.contracts[LENS]
        for token_id in part.npm.positions:
            fields = [(f"v3npm.{token_id}.{k}", word[k], k in _SIGNED_MANAGED) for k in _MANAGED]
            out.append((lens, calldata("positions(address,uint256)", manager, token_id), fields))
        return out


__all__ = ["Univ3ChainPart", "pool_address"]

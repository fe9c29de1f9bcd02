"""The mainnet preset: a local anvil (chain id 1) holding genuine contracts at their real addresses.

Every singleton is the shipped build of its npm package (or, where the protocol ships no
bytecode, the project's own stand-in), placed at the address it has on Ethereum mainnet; the
pools are created by the placed factories, so CREATE2 puts them where they are on mainnet.

============================  ==========================================  =====================
Contract                      Mainnet address                             Source
============================  ==========================================  =====================
WETH9 (v2-periphery build)    0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2  [uni-v3], [uni-v2r]
USDC (our ERC20.vy, 6 dec.)   0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48  [circle], [uni-v3]
ETH / USD feed (PriceFeed.vy) 0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419  [chainlink]
UniswapV2Factory              0x5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f  [uni-v2]
UniswapV2Router02             0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D  [uni-v2], [uni-v2r]
UniswapV3Factory              0x1F98431c8aD98523631AE4a59f267346ea31F984  [uni-v3]
SwapRouter                    0xE592427A0AEce92De3Edee1F18E0157C05861564  [uni-v3]
NonfungiblePositionManager    0xC36442b4a4522E871399CD717aBDD847Ab11FE88  [uni-v3]
QuoterV2                      0x61fFE014bA17989E743c5F6cB21bF9697530B21e  [uni-v3]
NFT descriptor (proxy)        0xEe6A57eC80ea46401049E92587E52f5Ec1c24785  [uni-v3] (no code)
WETH/USDC V2 pair             0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc  CREATE2, 0x96e8ac42…
WETH/USDC V3 pool, 0.05 %     0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640  CREATE2, 0xe34f199b…
WETH/USDC V3 pool, 0.30 %     0x8ad599c3A0ff1De082011EFDDc58f1908eb6e6D8  [uni-v3], CREATE2
============================  ==========================================  =====================

[uni-v2]    https://docs.uniswap.org/contracts/v2/reference/smart-contracts/v2-deployments
[uni-v2r]   https://docs.uniswap.org/contracts/v2/reference/smart-contracts/router-02
[uni-v3]    https://docs.uniswap.org/contracts/v3/reference/deployments/ethereum-deployments
            (source: github.com/Uniswap/docs, content/protocols/v3/deployments/
            v3-ethereum-deployments.mdx; it also lists WETH and links the 0.3 % ETH/USDC pool)
[circle]    https://developers.circle.com/stablecoins/usdc-contract-addresses
[chainlink] https://docs.chain.link/data-feeds/price-feeds/addresses?network=ethereum
            (ETH / USD proxy, 8 decimals; https://data.chain.link/feeds/ethereum/mainnet/eth-usd)

Beside them, on the preset only (they have no mainnet address): ammlab's own options pool
and perpetual future, created normally by the deployer, priced off the feed at the ETH / USD
address with USDC at its address as quote (`sim.chain.suite` seeds them as on the local
suite: LP capital, two boards, the keeper as hedger; an insurance fund). The keeper and the
trader roles are funded: the keeper with WETH (the `KEEPER_WETH_BASELINE` that is not a hedge),
USDC, and an LP share of the V2 pair added through Router02; the trader with WETH and USDC.
Each V3 pool's oracle holds `V3_OBSERVATION_CARDINALITY` observations, so `observe()` answers
over a guard's TWAP window as mainnet's pools do.

How a singleton is placed: it is deployed normally at a scratch address, with constructor
arguments that already name its dependencies' mainnet addresses; its runtime code and every
storage slot its constructor wrote (read with anvil's prestate tracer in diff mode) are then
written at the mainnet address with `anvil_setCode` / `anvil_setStorageAt`, and the scratch copy
is erased. An immutable holding the contract's own address (UniswapV3Factory's NoDelegateCall
guard) is rewritten from the scratch address to the mainnet one; any other trace of the scratch
address in code or storage refuses the placement.

Prices: USDC (0xA0b8…) sorts below WETH (0xC02a…), so USDC is token0 of every pool and the
pools' raw price is WETH wei per USDC unit, 10**12 / P for P USDC per WETH.

Never imports ape: web3.py and anvil's JSON-RPC only.

Why it is long: the sourced address table, the placement (trace, retarget, refusals), the
pools' seeding and the roles' funding are one procedure over one chain and one manifest; each
piece split off would be a module with a single caller.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from web3.logs import DISCARD

from sim.chain.artifacts import Artifact, load_artifact
from sim.chain.client import Chain
from sim.chain.node import PRESET_FORMAT, ROLE_ADDRESSES
from sim.chain.rpc import RpcRefused
from sim.chain.suite import (
    KEEPER_LP_WETH,
    KEEPER_USDC,
    KEEPER_WETH_BASELINE,
    deploy_options_and_perp,
)
from sim.errors import ConfigError, SimError

MAINNET_CHAIN_ID = 1

WETH9 = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
ETH_USD_FEED = "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419"
V2_FACTORY = "0x5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f"
V2_ROUTER = "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D"
V3_FACTORY = "0x1F98431c8aD98523631AE4a59f267346ea31F984"
V3_SWAP_ROUTER = "0xE592427A0AEce92De3Edee1F18E0157C05861564"
V3_POSITION_MANAGER = "0xC36442b4a4522E871399CD717aBDD847Ab11FE88"
V3_QUOTER_V2 = "0x61fFE014bA17989E743c5F6cB21bF9697530B21e"
V3_POSITION_DESCRIPTOR = "0xEe6A57eC80ea46401049E92587E52f5Ec1c24785"
"""Mainnet's descriptor proxy, given to the position manager as on mainnet; nothing is placed
there, so `tokenURI` reverts (the descriptor needs a linked library this preset does not link)."""


WETH_DECIMALS = 18
USDC_DECIMALS = 6
FEED_DECIMALS = 8
FEED_DESCRIPTION = "ETH / USD"
V2_FEE_BPS = 30

V3_TICK_SPACING = {500: 10, 3000: 60, 10000: 200}
"""Fee (hundredths of a bp) → tick spacing: the tiers UniswapV3Factory's constructor enables."""
MIN_TICK, MAX_TICK = -887272, 887272
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342
Q96 = 2**96

V3_OBSERVATION_CARDINALITY = 100
"""Observations each V3 pool keeps (`increaseObservationCardinalityNext`): at one per block
with a swap, enough for a TWAP over any guard window up to 100 such blocks."""
TRADER_WETH = Decimal(1000)
TRADER_USDC = Decimal(10_000_000)

USDC_MARGIN = 1.01
"""USDC offered to a V3 mint over the float estimate of its need, so that WETH binds."""
GAS_FUNDS_WEI = 10**20
"""ETH (100) a sender holds for gas beyond what it wraps."""


class PresetError(SimError):
    """The preset cannot be placed on this RPC; the message says why and what to do."""


@dataclass(frozen=True)
class V3Range:
    """One position minted through NonfungiblePositionManager into a V3 pool."""

    weth: Decimal
    """WETH the position holds at the seed price; its USDC side follows from the range."""
    width: Decimal | None = None
    """Half-width relative to the seed price: 0.1 spans P·(1 ± 0.1), rounded outwards to the
    tick spacing; None spans the full tick range."""


DEFAULT_V2_WETH_DEPTH = Decimal(1000)
DEFAULT_V3_DEPTHS: Mapping[int, tuple[V3Range, ...]] = {
    500: (
        V3Range(Decimal(100)),
        V3Range(Decimal(200), Decimal("0.1")),
        V3Range(Decimal(100), Decimal("0.02")),
    ),
    3000: (
        V3Range(Decimal(200)),
        V3Range(Decimal(200), Decimal("0.1")),
        V3Range(Decimal(50), Decimal("0.02")),
    ),
}


def parse_v3_ranges(specs: Sequence[str]) -> dict[int, tuple[V3Range, ...]]:
    """`v3_depths` from command-line specs `FEE:WETH[:WIDTH]`.

    "500:200:0.1" is 200 WETH over the seed price ± 10 % in the 0.05 % pool; "3000:100" is
    100 WETH over the full range of the 0.30 % pool. Raises ConfigError on a malformed spec.
    """
    depths: dict[int, list[V3Range]] = {}
    for spec in specs:
        parts = spec.split(":")
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            fee, weth = int(parts[0]), Decimal(parts[1])
            width = Decimal(parts[2]) if len(parts) == 3 else None
        except (ValueError, ArithmeticError) as err:
            raise ConfigError(
                f"v3 range {spec!r}: expected FEE:WETH[:WIDTH], e.g. 500:200:0.1 or 3000:100"
            ) from err
        depths.setdefault(fee, []).append(V3Range(weth, width))
    return {fee: tuple(ranges) for fee, ranges in depths.items()}


# --------------------------------------------------------------------------- the entry point


def place_mainnet_preset(
    rpc_url: str,
    price: Decimal = Decimal(3000),
    v2_weth_depth: Decimal = DEFAULT_V2_WETH_DEPTH,
    v3_depths: Mapping[int, Sequence[V3Range]] = DEFAULT_V3_DEPTHS,
) -> dict[str, Any]:
    """Place the mainnet preset on the anvil at `rpc_url` and seed its pools; return the manifest.

    Args:
        rpc_url: an anvil started with `--chain-id 1` whose mainnet addresses hold no code.
        price: seed price, USDC per WETH, of every pool and of the feed's first answer.
        v2_weth_depth: WETH in the V2 WETH/USDC pair (its USDC side is v2_weth_depth × price).
        v3_depths: V3 fee tier (hundredths of a bp: 500, 3000, 10000) → positions to mint in
            that tier's WETH/USDC pool.

    Returns:
        The manifest, a JSON-ready dict: format, chain id, block, role accounts, tokens, feed,
        Uniswap V2 (factory, router, pairs with reserves) and V3 (factory, routers, pools with
        fee, tick spacing, price and the positions' token ids). Integer amounts are raw units.

    Raises:
        ConfigError: a bad option (before any RPC call).
        PresetError: an RPC that is unreachable, not chain id 1, not anvil, or already holding
            code at a mainnet address (before any transaction); or a failed step.
    """
    price, v2_weth_depth = Decimal(price), Decimal(v2_weth_depth)
    sqrt_price_x96 = _check_options(price, v2_weth_depth, v3_depths)
    chain = Chain(rpc_url, PresetError)
    _check_empty_mainnet(chain)
    deployer, transmitter = ROLE_ADDRESSES["deployer"], ROLE_ADDRESSES["transmitter"]
    keeper, trader = ROLE_ADDRESSES["keeper"], ROLE_ADDRESSES["trader"]

    v2_usdc = _units(v2_weth_depth * price, USDC_DECIMALS)
    v2_weth = _units(v2_weth_depth, WETH_DECIMALS)
    positions = {
        fee: [_plan_position(r, price, sqrt_price_x96, V3_TICK_SPACING[fee]) for r in ranges]
        for fee, ranges in v3_depths.items()
    }
    weth_needed = v2_weth + sum(p.weth for ps in positions.values() for p in ps)
    usdc_needed = v2_usdc + sum(p.usdc_desired for ps in positions.values() for p in ps)

    with chain.senders(deployer, transmitter, keeper, trader):
        chain.fund(deployer, weth_needed + GAS_FUNDS_WEI)
        chain.fund(transmitter, GAS_FUNDS_WEI)
        singletons = _place_singletons(chain, deployer, transmitter)
        weth, usdc, feed = singletons["WETH9"], singletons["USDC"], singletons["feed"]

        chain.send(feed.functions.transmit(_units(price, FEED_DECIMALS)), transmitter, "feed")
        chain.send(weth.functions.deposit(), deployer, "wrap WETH", value=weth_needed)
        chain.send(usdc.functions.mint(deployer, usdc_needed), deployer, "mint USDC")
        for token in (weth, usdc):
            for spender in (V2_ROUTER, V3_POSITION_MANAGER):
                chain.send(token.functions.approve(spender, 2**256 - 1), deployer, "approve")

        _seed_v2(chain, singletons, deployer, v2_usdc, v2_weth)
        v3_pools = {
            f"weth_usdc_{fee}": _seed_v3(chain, singletons, deployer, fee, sqrt_price_x96, planned)
            for fee, planned in positions.items()
        }
        options, perp = deploy_options_and_perp(chain, usdc, ETH_USD_FEED, price, deployer, keeper)
        _fund_roles(chain, singletons, price, deployer, keeper, trader)
        v2_pair = _v2_entry(chain, deployer, keeper)

    return {
        "format": PRESET_FORMAT,
        "chain_id": MAINNET_CHAIN_ID,
        "block": chain.w3.eth.block_number,
        "seed_price": str(price),
        "accounts": dict(ROLE_ADDRESSES),
        "tokens": {
            "WETH": _entry(WETH9, "WETH9", "@uniswap/v2-periphery", decimals=WETH_DECIMALS),
            "USDC": _entry(USDC, "ERC20", None, decimals=USDC_DECIMALS),
        },
        "feed": _entry(
            ETH_USD_FEED,
            "PriceFeed",
            None,
            decimals=FEED_DECIMALS,
            description=FEED_DESCRIPTION,
            transmitter=transmitter,
        ),
        "uniswap_v2": {
            "factory": _entry(V2_FACTORY, "UniswapV2Factory", "@uniswap/v2-core"),
            "router": _entry(V2_ROUTER, "UniswapV2Router02", "@uniswap/v2-periphery"),
            "pairs": {"weth_usdc": v2_pair},
        },
        "uniswap_v3": {
            "factory": _entry(V3_FACTORY, "UniswapV3Factory", "@uniswap/v3-core"),
            "swap_router": _entry(V3_SWAP_ROUTER, "SwapRouter", "@uniswap/v3-periphery"),
            "position_manager": _entry(
                V3_POSITION_MANAGER, "NonfungiblePositionManager", "@uniswap/v3-periphery"
            ),
            "quoter_v2": _entry(V3_QUOTER_V2, "QuoterV2", "@uniswap/v3-periphery"),
            "pools": v3_pools,
        },
        "options": options,
        "perp": perp,
        "keeper": {
            "address": keeper,
            "weth_baseline": str(KEEPER_WETH_BASELINE),
            "lp_pool": "weth_usdc",
        },
    }


# --------------------------------------------------------------------------- options


def _check_options(
    price: Decimal, v2_weth_depth: Decimal, v3_depths: Mapping[int, Sequence[V3Range]]
) -> int:
    """Refuse bad options in one line naming the field; returns the pools' sqrtPriceX96."""
    if not price.is_finite() or price <= 0:
        raise ConfigError(f"price must be a positive number of USDC per WETH (got {price})")
    if not v2_weth_depth.is_finite() or v2_weth_depth <= 0:
        raise ConfigError(f"v2_weth_depth must be a positive amount of WETH (got {v2_weth_depth})")
    for fee, ranges in v3_depths.items():
        if fee not in V3_TICK_SPACING:
            raise ConfigError(
                f"v3_depths: unknown fee tier {fee}: use one of {sorted(V3_TICK_SPACING)} "
                "(hundredths of a bp)"
            )
        if not ranges:
            raise ConfigError(f"v3_depths[{fee}]: give at least one range, or leave the tier out")
        for r in ranges:
            if not Decimal(r.weth).is_finite() or r.weth <= 0:
                raise ConfigError(f"v3_depths[{fee}]: weth must be positive (got {r.weth})")
            if r.width is not None and not 0 < r.width < 1:
                raise ConfigError(
                    f"v3_depths[{fee}]: width must lie in (0, 1) or be None (got {r.width})"
                )
    sqrt_price_x96 = sqrt_price_x96_of(price)
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise ConfigError(f"price {price} is outside the range a Uniswap V3 pool can hold")
    return sqrt_price_x96


def sqrt_price_x96_of(price: Decimal) -> int:
    """sqrtPriceX96 of the WETH/USDC pools for `price` USDC per WETH, rounded down.

    The pools' price is token1 (WETH wei) per token0 (USDC unit): 10**12 / price, so
    sqrtPriceX96 = floor(sqrt(10**12 / price) · 2**96), computed exactly as
    isqrt(floor(10**12 · 2**192 / price)) (floor of a square root equals isqrt of the floor).
    """
    num, den = Decimal(price).as_integer_ratio()
    return math.isqrt(10 ** (WETH_DECIMALS - USDC_DECIMALS) * 2**192 * den // num)


def _units(amount: Decimal, decimals: int) -> int:
    """`amount` whole tokens in base units, rounded down."""
    return int(Decimal(amount).scaleb(decimals))


@dataclass(frozen=True)
class _PlannedPosition:
    spec: V3Range
    tick_lower: int
    tick_upper: int
    weth: int
    """WETH wei offered (and, the price lying inside the range, used up to rounding)."""
    usdc_desired: int
    """USDC units offered: the float estimate of the need times USDC_MARGIN."""


def _plan_position(
    r: V3Range, price: Decimal, sqrt_price_x96: int, spacing: int
) -> _PlannedPosition:
    """Ticks and amounts of one V3 position.

    A range P·(1 ± w) in USDC per WETH is the raw range 10**12/(P(1+w)) … 10**12/(P(1-w));
    its ticks log_1.0001 of those, rounded outwards to the spacing so the seed price stays
    strictly inside. Floats suffice here: the ticks only have to bracket the price, and the
    USDC estimate carries a 1 % margin (the pool computes the exact amounts).
    """
    full_lower = -(-MIN_TICK // spacing) * spacing  # MIN_TICK rounded up to the spacing
    full_upper = MAX_TICK // spacing * spacing
    if r.width is None:
        lower, upper = full_lower, full_upper
    else:
        raw = 10 ** (WETH_DECIMALS - USDC_DECIMALS) / float(price)
        lower = math.floor(_tick_of(raw / float(1 + r.width)) / spacing) * spacing
        upper = math.ceil(_tick_of(raw / float(1 - r.width)) / spacing) * spacing
        lower, upper = max(lower, full_lower), min(upper, full_upper)
    sqrt_p = sqrt_price_x96 / Q96
    sqrt_a, sqrt_b = 1.0001 ** (lower / 2), 1.0001 ** (upper / 2)
    weth = _units(r.weth, WETH_DECIMALS)
    liquidity = weth / (sqrt_p - sqrt_a)  # amount1 = L·(√P − √Pa) inside the range
    usdc = liquidity * (1 / sqrt_p - 1 / sqrt_b)  # amount0 = L·(1/√P − 1/√Pb)
    return _PlannedPosition(r, lower, upper, weth, math.ceil(usdc * USDC_MARGIN) + 1)


def _tick_of(raw_price: float) -> float:
    return math.log(raw_price) / math.log(1.0001)


# --------------------------------------------------------------------------- the chain


def _check_empty_mainnet(chain: Chain) -> None:
    """Refuse, before any transaction, a chain that is not an anvil with chain id 1 and
    free mainnet addresses (a fork of real mainnet would be overwritten)."""
    chain_id = int(chain.rpc("eth_chainId"), 16)
    if chain_id != MAINNET_CHAIN_ID:
        raise chain.error(
            f"RPC {chain.url} has chain id {chain_id}, not {MAINNET_CHAIN_ID}: the mainnet "
            "preset needs `anvil --chain-id 1`"
        )
    try:
        chain.client.call("anvil_nodeInfo")
    except RpcRefused as err:
        raise chain.error(
            f"RPC {chain.url} is not anvil (anvil_nodeInfo: {err.rpc_message}): the preset "
            "places contracts with anvil_setCode; start `anvil --chain-id 1`"
        ) from err
    taken = [a for a in _MAINNET_ADDRESSES if chain.rpc("eth_getCode", [a, "latest"]) != "0x"]
    if taken:
        raise chain.error(
            f"RPC {chain.url} already holds code at {', '.join(taken)}: the mainnet preset "
            "needs a fresh anvil (a fork of mainnet or a placed preset already has it)"
        )


def _place(chain: Chain, artifact: Artifact, args: tuple, target: str, deployer: str) -> Any:
    """Deploy `artifact` at a scratch address, copy its code and constructor-written
    storage to `target`, erase the scratch copy; returns the contract at `target`."""
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = chain.send(factory.constructor(*args), deployer, f"deploy {artifact.name}")
    scratch = receipt.contractAddress
    trace = chain.rpc(
        "debug_traceTransaction",
        [
            receipt.transactionHash.to_0x_hex(),
            {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}},
        ],
    )
    post = trace["post"][scratch.lower()]
    storage = dict(post.get("storage") or {})
    code = _retarget(bytes.fromhex(post["code"][2:]), artifact, scratch, target)
    _refuse_self_reference(artifact.name, scratch, storage)

    chain.rpc("anvil_setCode", [target, "0x" + code.hex()])
    for slot, value in storage.items():
        chain.rpc("anvil_setStorageAt", [target, slot, value])
    chain.rpc("anvil_setNonce", [target, hex(post.get("nonce", 1))])
    chain.rpc("anvil_setCode", [scratch, "0x"])
    for slot in storage:
        chain.rpc("anvil_setStorageAt", [scratch, slot, "0x" + "00" * 32])
    chain.rpc("anvil_setNonce", [scratch, "0x0"])
    return chain.contract(target, artifact)


def _word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def _retarget(code: bytes, artifact: Artifact, scratch: str, target: str) -> bytes:
    """`code` with every immutable holding the scratch address rewritten to `target`.

    Raises PresetError when the scratch address survives anywhere else in the code: the
    contract would then be bound to the address it was deployed at.
    """
    out = bytearray(code)
    for offset, length in artifact.immutables:
        if bytes(out[offset : offset + length]) == _word(scratch):
            out[offset : offset + length] = _word(target)
    if bytes.fromhex(scratch[2:]) in out:
        raise PresetError(
            f"{artifact.name} keeps its deployment address outside its immutables: it cannot "
            "be moved to its mainnet address"
        )
    return bytes(out)


def _refuse_self_reference(name: str, scratch: str, storage: dict[str, str]) -> None:
    if any(scratch[2:].lower() in value.lower() for value in storage.values()):
        raise PresetError(
            f"{name} stores its deployment address: it cannot be moved to its mainnet address"
        )


# --------------------------------------------------------------------------- the contracts

_SINGLETONS: tuple[tuple[str, str, str | None, str], ...] = (
    # (key, contract, npm package or None for the project's build, mainnet address)
    ("WETH9", "WETH9", "@uniswap/v2-periphery", WETH9),
    ("USDC", "ERC20", None, USDC),
    ("feed", "PriceFeed", None, ETH_USD_FEED),
    ("v2_factory", "UniswapV2Factory", "@uniswap/v2-core", V2_FACTORY),
    ("v2_router", "UniswapV2Router02", "@uniswap/v2-periphery", V2_ROUTER),
    ("v3_factory", "UniswapV3Factory", "@uniswap/v3-core", V3_FACTORY),
    ("v3_swap_router", "SwapRouter", "@uniswap/v3-periphery", V3_SWAP_ROUTER),
    (
        "v3_position_manager",
        "NonfungiblePositionManager",
        "@uniswap/v3-periphery",
        V3_POSITION_MANAGER,
    ),
    ("v3_quoter_v2", "QuoterV2", "@uniswap/v3-periphery", V3_QUOTER_V2),
)
_MAINNET_ADDRESSES = tuple(address for *_, address in _SINGLETONS)


def _constructor_args(key: str, deployer: str, transmitter: str) -> tuple:
    """Constructor arguments naming the dependencies' mainnet addresses; owners are the
    deployer (msg.sender, or the argument where the constructor takes one)."""
    return {
        "WETH9": (),
        "USDC": ("USD Coin", "USDC", USDC_DECIMALS, deployer),
        "feed": (FEED_DECIMALS, FEED_DESCRIPTION, transmitter),
        "v2_factory": (deployer,),  # feeToSetter
        "v2_router": (V2_FACTORY, WETH9),
        "v3_factory": (),
        "v3_swap_router": (V3_FACTORY, WETH9),
        "v3_position_manager": (V3_FACTORY, WETH9, V3_POSITION_DESCRIPTOR),
        "v3_quoter_v2": (V3_FACTORY, WETH9),
    }[key]


def _place_singletons(chain: Chain, deployer: str, transmitter: str) -> dict[str, Any]:
    return {
        key: _place(
            chain,
            load_artifact(name, package),
            _constructor_args(key, deployer, transmitter),
            address,
            deployer,
        )
        for key, name, package, address in _SINGLETONS
    }


def _deadline(chain: Chain) -> int:
    """A deadline one hour past the head block (the routers refuse a stale one)."""
    return chain.w3.eth.get_block("latest")["timestamp"] + 3600


def _seed_v2(
    chain: Chain, c: dict[str, Any], deployer: str, usdc_amount: int, weth_amount: int
) -> None:
    """Create the WETH/USDC pair through the factory, add liquidity through Router02 (which
    the deployer has approved)."""
    factory, router = c["v2_factory"], c["v2_router"]
    chain.send(factory.functions.createPair(USDC, WETH9), deployer, "V2 createPair")
    chain.send(
        router.functions.addLiquidity(
            USDC,
            WETH9,
            usdc_amount,
            weth_amount,
            usdc_amount,
            weth_amount,
            deployer,
            _deadline(chain),
        ),
        deployer,
        "V2 addLiquidity",
    )


def _v2_entry(chain: Chain, deployer: str, keeper: str) -> dict[str, Any]:
    """The WETH/USDC pair's manifest entry once every role has added its liquidity."""
    factory = chain.contract(V2_FACTORY, load_artifact("UniswapV2Factory", "@uniswap/v2-core"))
    pair_address = factory.functions.getPair(USDC, WETH9).call()
    pair = chain.contract(pair_address, load_artifact("UniswapV2Pair", "@uniswap/v2-core"))
    reserve0, reserve1, _ = pair.functions.getReserves().call()
    return {
        **_entry(pair_address, "UniswapV2Pair", "@uniswap/v2-core"),
        "fee_bps": V2_FEE_BPS,
        "token0": pair.functions.token0().call(),
        "token1": pair.functions.token1().call(),
        "reserve0": reserve0,
        "reserve1": reserve1,
        "lp_balance": pair.functions.balanceOf(deployer).call(),
        "lp_owner": deployer,
        "keeper_lp_balance": pair.functions.balanceOf(keeper).call(),
    }


def _seed_v3(
    chain: Chain,
    c: dict[str, Any],
    deployer: str,
    fee: int,
    sqrt_price_x96: int,
    planned: list[_PlannedPosition],
) -> dict[str, Any]:
    """Create and initialise one WETH/USDC pool through the factory, mint the positions
    through NonfungiblePositionManager (which the deployer has approved)."""
    factory, manager = c["v3_factory"], c["v3_position_manager"]
    chain.send(factory.functions.createPool(USDC, WETH9, fee), deployer, f"V3 createPool {fee}")
    pool_address = factory.functions.getPool(USDC, WETH9, fee).call()
    pool = chain.contract(pool_address, load_artifact("UniswapV3Pool", "@uniswap/v3-core"))
    chain.send(pool.functions.initialize(sqrt_price_x96), deployer, f"V3 initialize {fee}")
    chain.send(
        pool.functions.increaseObservationCardinalityNext(V3_OBSERVATION_CARDINALITY),
        deployer,
        f"V3 oracle {fee}",
    )
    positions = []
    for p in planned:
        params = (
            USDC,
            WETH9,
            fee,
            p.tick_lower,
            p.tick_upper,
            p.usdc_desired,
            p.weth,
            0,
            0,
            deployer,
            _deadline(chain),
        )
        receipt = chain.send(manager.functions.mint(params), deployer, f"V3 mint {fee}")
        (minted,) = manager.events.IncreaseLiquidity().process_receipt(receipt, errors=DISCARD)
        positions.append(
            {
                "token_id": minted.args.tokenId,
                "width": None if p.spec.width is None else str(p.spec.width),
                "tick_lower": p.tick_lower,
                "tick_upper": p.tick_upper,
                "liquidity": minted.args.liquidity,
                "amount0": minted.args.amount0,
                "amount1": minted.args.amount1,
            }
        )
    slot0 = pool.functions.slot0().call()
    return {
        **_entry(pool_address, "UniswapV3Pool", "@uniswap/v3-core"),
        "fee": fee,
        "tick_spacing": pool.functions.tickSpacing().call(),
        "token0": pool.functions.token0().call(),
        "token1": pool.functions.token1().call(),
        "sqrt_price_x96": slot0[0],
        "tick": slot0[1],
        "liquidity": pool.functions.liquidity().call(),
        "observation_cardinality_next": slot0[4],
        "positions_owner": deployer,
        "positions": positions,
    }


def _fund_roles(
    chain: Chain, c: dict[str, Any], price: Decimal, deployer: str, keeper: str, trader: str
) -> None:
    """The keeper: WETH (baseline + its LP's), USDC, and an LP share of the V2 pair added
    through Router02 (the LP part of the book it hedges); the trader: WETH and USDC."""
    weth, usdc, router = c["WETH9"], c["USDC"], c["v2_router"]
    lp_weth = _units(KEEPER_LP_WETH, WETH_DECIMALS)
    lp_usdc = _units(KEEPER_LP_WETH * price, USDC_DECIMALS)
    keeper_weth = _units(KEEPER_WETH_BASELINE, WETH_DECIMALS) + lp_weth
    trader_weth = _units(TRADER_WETH, WETH_DECIMALS)
    chain.fund(keeper, keeper_weth + GAS_FUNDS_WEI)
    chain.fund(trader, trader_weth + GAS_FUNDS_WEI)
    chain.send(weth.functions.deposit(), keeper, "keeper WETH", value=keeper_weth)
    chain.send(weth.functions.deposit(), trader, "trader WETH", value=trader_weth)
    keeper_usdc = _units(KEEPER_USDC, USDC_DECIMALS) + lp_usdc
    chain.send(usdc.functions.mint(keeper, keeper_usdc), deployer, "keeper USDC")
    trader_usdc = _units(TRADER_USDC, USDC_DECIMALS)
    chain.send(usdc.functions.mint(trader, trader_usdc), deployer, "trader USDC")
    # Exact approvals: the keeper's own set-up approves its routers, journaled.
    chain.send(weth.functions.approve(V2_ROUTER, lp_weth), keeper, "keeper LP")
    chain.send(usdc.functions.approve(V2_ROUTER, lp_usdc), keeper, "keeper LP")
    chain.send(
        router.functions.addLiquidity(
            USDC, WETH9, lp_usdc, lp_weth, 0, 0, keeper, _deadline(chain)
        ),
        keeper,
        "keeper LP",
    )


def _entry(address: str, contract: str, package: str | None, **extra: Any) -> dict[str, Any]:
    """A manifest entry: the address and where its code comes from (npm package, or the
    project's build when `package` is None)."""
    return {"address": address, "contract": contract, "package": package, **extra}

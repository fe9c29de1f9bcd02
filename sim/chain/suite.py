"""The ammlab suite on the local upstream: what `ammlab chain up` deploys, and its manifest.

The suite: a WETH-like (18 decimals) and a USDC-like (6 decimals) token, a Chainlink-style
ETH / USD feed, the periphery router, and constant-product pools on two "venues" with
different fees, seeded at one price; an options pool (LP capital, two boards of strikes, the
keeper as its hedger), a perpetual future (with an insurance fund), and the keeper's account
funded (WETH baseline, USDC, a small LP share of venue_a).

Contracts are created by the node side's one deployer (`sim.chain.deploy.Deployer`, the chain
backend's too) from the deployer role's address; the seeding transactions then go through
web3.py (`sim.chain.client.Chain`) from the roles' addresses (anvil's dev accounts, see
`sim.chain.node.ROLE_ADDRESSES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sim.chain.artifacts import load_artifact
from sim.chain.blockbuilder import BlockBuilder
from sim.chain.client import Chain
from sim.chain.deploy import Deployer
from sim.chain.node import MANIFEST_FORMAT, ROLE_ADDRESSES
from sim.errors import ChainError
from sim.venues.options.twin import DEFAULT_CALL_CAP, OptionsParams
from sim.venues.perp.twin import PerpParams

FEED_DECIMALS = 8


@dataclass(frozen=True)
class PoolSpec:
    """One constant-product pool of the suite."""

    name: str
    fee_bps: int
    weth_liquidity: Decimal
    """WETH seeded into the pool; the USDC side is weth_liquidity × price."""


@dataclass(frozen=True)
class SuiteSpec:
    price: Decimal = Decimal(3000)
    """Seed price, USDC per WETH, of every pool and of the feed's first answer."""
    pools: tuple[PoolSpec, ...] = field(
        default_factory=lambda: (
            PoolSpec("venue_a", 30, Decimal(1000)),
            PoolSpec("venue_b", 5, Decimal(400)),
        )
    )

    def __post_init__(self) -> None:
        if self.price <= 0:
            raise ChainError(f"price must be positive (got {self.price}): pass --price > 0")
        for pool in self.pools:
            if pool.weth_liquidity <= 0:
                raise ChainError(f"pool {pool.name}: weth_liquidity must be positive")


KEEPER_WETH_BASELINE = Decimal(100)
"""WETH minted to the keeper that is not a hedge (its spot hedge is the balance beyond it)."""
KEEPER_USDC = Decimal(1_000_000)
KEEPER_LP_WETH = Decimal(2)
"""The keeper's own LP position in venue_a (part of the book it hedges)."""
OPTIONS_DEPOSIT = Decimal(2_000_000)
PERP_INSURANCE = Decimal(1_000_000)
BOARDS = ((14, 80, (0.8, 0.9, 1.0, 1.1, 1.2)), (28, 75, (0.9, 1.0, 1.1)))
"""(days to expiry, base IV in %, strikes as multiples of the seed price) per board."""


def to_units(amount: Decimal, decimals: int) -> int:
    return int(amount * (10**decimals))


def options_and_perp_params() -> tuple[OptionsParams, PerpParams]:
    """The options pool's and the perp's settings on a chain `ammlab chain up` starts (the
    suite's, the mainnet preset's)."""
    wad = 10**18
    # The feed is pushed by a transmitter that may pause for hours on a quiet fork: a day.
    options = OptionsParams(max_oracle_delay=86_400)
    perp = PerpParams(max_oracle_delay=86_400, skew_scale=50_000 * wad, taker_fee_bps=8)
    return options, perp


def seed_options_pool(
    chain: Chain, options: Any, usdc: Any, price: Decimal, deployer: str, keeper: str
) -> list[dict[str, Any]]:
    """LP capital, the `BOARDS` (strikes as multiples of `price`, a smile of skews) and the
    keeper as hedger, on a freshly created options pool; `usdc` is its quote token, minted by
    `deployer`. Returns the boards as the manifest lists them."""
    deposit = to_units(OPTIONS_DEPOSIT, 6)
    chain.send(usdc.functions.mint(deployer, deposit), deployer, "options deposit")
    chain.send(usdc.functions.approve(options.address, deposit), deployer, "options deposit")
    chain.send(options.functions.deposit(deposit), deployer, "options deposit")
    now = chain.w3.eth.get_block("latest")["timestamp"]
    wad = 10**18
    boards = []
    for days, base_iv, strikes in BOARDS:
        board_id = options.functions.nextBoardId().call()
        chain.send(options.functions.addBoard(now + days * 86_400, base_iv * wad // 100,
                                              DEFAULT_CALL_CAP), deployer, "options board")  # fmt: skip
        strike_ids = []
        for moneyness in strikes:
            strike_ids.append(options.functions.nextStrikeId().call())
            strike = to_units(price * Decimal(str(moneyness)), 18)
            skew = wad + int(abs(moneyness - 1.0) * 0.5 * wad)  # a smile
            chain.send(options.functions.addStrike(board_id, strike, skew), deployer,
                       "options strike")  # fmt: skip
        boards.append({"board_id": board_id, "expiry_days": days, "strike_ids": strike_ids})
    chain.send(options.functions.setHedger(keeper), deployer, "options hedger")
    return boards


def fund_perp_insurance(chain: Chain, perp: Any, usdc: Any, deployer: str) -> None:
    """The perp's insurance fund, `PERP_INSURANCE` USDC minted by `deployer`."""
    insurance = to_units(PERP_INSURANCE, 6)
    chain.send(usdc.functions.mint(deployer, insurance), deployer, "perp insurance")
    chain.send(usdc.functions.approve(perp.address, insurance), deployer, "perp insurance")
    chain.send(perp.functions.fundInsurance(insurance), deployer, "perp insurance")


def deploy_options_and_perp(
    chain: Chain, usdc: Any, feed: str, price: Decimal, deployer: str, keeper: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """ammlab's options pool and perp created by `deployer` over an existing quote token
    (`usdc`, which `deployer` mints) and feed (the mainnet preset's, beside the genuine
    contracts), seeded as the suite seeds its own; their manifest entries."""
    options_params, perp_params = options_and_perp_params()
    made = {}
    for name, params in (("OptionsPool", options_params), ("PerpMarket", perp_params)):
        artifact = load_artifact(name)
        factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = chain.send(
            factory.constructor(usdc.address, feed, *params.constructor_args()),
            deployer,
            f"deploy {name}",
        )
        made[name] = chain.contract(receipt.contractAddress, artifact)
    options, perp = made["OptionsPool"], made["PerpMarket"]
    boards = seed_options_pool(chain, options, usdc, price, deployer, keeper)
    fund_perp_insurance(chain, perp, usdc, deployer)
    own = {"package": None}
    return (
        {"address": options.address, "contract": "OptionsPool", **own, "hedger": keeper,
         "boards": boards},
        {"address": perp.address, "contract": "PerpMarket", **own,
         "skew_scale": str(perp_params.skew_scale), "taker_fee_bps": perp_params.taker_fee_bps},
    )  # fmt: skip


def deploy_suite(url: str, spec: SuiteSpec | None = None) -> dict[str, Any]:
    """Deploy and seed the suite on the anvil at `url`; returns its manifest."""
    spec = spec or SuiteSpec()
    deployer, transmitter = ROLE_ADDRESSES["deployer"], ROLE_ADDRESSES["transmitter"]
    keeper = ROLE_ADDRESSES["keeper"]
    options_params, perp_params = options_and_perp_params()

    builder = BlockBuilder.connect(url)
    try:
        latest = builder.rpc.call("eth_getBlockByNumber", ["latest", False])
        made = Deployer(builder, deployer).create_all(
            [
                (
                    "WETH",
                    lambda a, c: c("ERC20", None, ["Wrapped Ether (ammlab)", "WETH", 18, deployer]),
                ),
                ("USDC", lambda a, c: c("ERC20", None, ["USD Coin (ammlab)", "USDC", 6, deployer])),
                (
                    "feed",
                    lambda a, c: c("PriceFeed", None, [FEED_DECIMALS, "ETH / USD", transmitter]),
                ),
                ("router", lambda a, c: c("Router", None, [])),
                *[
                    (
                        p.name,
                        lambda a, c, fee=p.fee_bps: c(
                            "ConstantProductPool", None, [a["WETH"], a["USDC"], fee]
                        ),
                    )
                    for p in spec.pools
                ],
                (
                    "options",
                    lambda a, c: c(
                        "OptionsPool",
                        None,
                        [a["USDC"], a["feed"], *options_params.constructor_args()],
                    ),
                ),
                (
                    "perp",
                    lambda a, c: c(
                        "PerpMarket", None, [a["USDC"], a["feed"], *perp_params.constructor_args()]
                    ),
                ),
            ],  # fmt: skip
            ts=int(latest["timestamp"], 16) + 1,
        )
    finally:
        # Back to a chain that mines each transaction as it comes, as forks and users expect.
        builder.rpc.many([("evm_setAutomine", [True]), ("anvil_autoImpersonateAccount", [False])])
    at = made.addresses
    chain = Chain(url)

    def contract(name: str, label: str | None = None):
        return chain.contract(at[label or name], load_artifact(name))

    weth, usdc, feed = (
        contract("ERC20", "WETH"),
        contract("ERC20", "USDC"),
        contract("PriceFeed", "feed"),
    )
    chain.send(feed.functions.transmit(to_units(spec.price, FEED_DECIMALS)), transmitter,
               "first feed answer")  # fmt: skip

    pools = {}
    for p in spec.pools:
        pool = contract("ConstantProductPool", p.name)
        chain.send(weth.functions.mint(pool.address, to_units(p.weth_liquidity, 18)), deployer,
                   f"seed {p.name}")  # fmt: skip
        chain.send(usdc.functions.mint(pool.address, to_units(p.weth_liquidity * spec.price, 6)),
                   deployer, f"seed {p.name}")  # fmt: skip
        chain.send(pool.functions.mint(deployer), deployer, f"seed {p.name}")
        pools[p.name] = {
            "address": pool.address,
            "contract": "ConstantProductPool",
            "fee_bps": p.fee_bps,
            "token0": pool.functions.token0().call(),
            "token1": pool.functions.token1().call(),
        }

    options = contract("OptionsPool", "options")
    boards = seed_options_pool(chain, options, usdc, spec.price, deployer, keeper)
    fund_perp_insurance(chain, contract("PerpMarket", "perp"), usdc, deployer)

    chain.send(weth.functions.mint(keeper, to_units(KEEPER_WETH_BASELINE, 18)), deployer, "keeper")
    chain.send(usdc.functions.mint(keeper, to_units(KEEPER_USDC, 6)), deployer, "keeper")
    lp_pool = pools["venue_a"]["address"] if "venue_a" in pools else None
    if lp_pool is not None:
        chain.send(
            weth.functions.mint(lp_pool, to_units(KEEPER_LP_WETH, 18)), deployer, "keeper LP"
        )
        chain.send(usdc.functions.mint(lp_pool, to_units(KEEPER_LP_WETH * spec.price, 6)),
                   deployer, "keeper LP")  # fmt: skip
        chain.send(contract("ConstantProductPool", "venue_a").functions.mint(keeper), deployer,
                   "keeper LP")  # fmt: skip

    return {
        "format": MANIFEST_FORMAT,
        "chain_id": chain.w3.eth.chain_id,
        "block": chain.w3.eth.block_number,
        "accounts": dict(ROLE_ADDRESSES),
        "tokens": {
            "WETH": {"address": at["WETH"], "contract": "ERC20", "decimals": 18},
            "USDC": {"address": at["USDC"], "contract": "ERC20", "decimals": 6},
        },
        "feed": {
            "address": at["feed"],
            "contract": "PriceFeed",
            "decimals": FEED_DECIMALS,
            "description": "ETH / USD",
        },
        "router": {"address": at["router"], "contract": "Router"},
        "pools": pools,
        "seed_price": str(spec.price),
        "options": {
            "address": at["options"],
            "contract": "OptionsPool",
            "hedger": keeper,
            "boards": boards,
        },
        "perp": {
            "address": at["perp"],
            "contract": "PerpMarket",
            "skew_scale": str(perp_params.skew_scale),
            "taker_fee_bps": perp_params.taker_fee_bps,
        },
        "keeper": {
            "address": keeper,
            "weth_baseline": str(KEEPER_WETH_BASELINE),
            "lp_pool": "venue_a" if lp_pool else None,
        },
    }

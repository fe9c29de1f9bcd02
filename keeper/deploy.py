"""Deploy the ammlab suite through Ape and describe it in a manifest.

The suite: a WETH-like (18 decimals) and a USDC-like (6 decimals) token, a Chainlink-style
ETH / USD feed, the periphery router, and constant-product pools on two "venues" with
different fees, seeded at one price; an options pool (LP capital, two boards of strikes, the
keeper as its hedger), a perpetual future (with an insurance fund), and the keeper's account
funded (WETH baseline, USDC, a small LP share of venue_a). Call these functions while connected to the target
network (the local upstream, `ethereum:mainnet:node`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from keeper.chain import MANIFEST_FORMAT
from keeper.errors import ChainError, ManifestError

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


# Roles among the anvil/Ape test accounts (same mnemonic, so the same keys everywhere).
ROLE_INDEX = {"deployer": 0, "transmitter": 1, "trader": 2, "keeper": 3}


def role_account(role: str):
    """The Ape test account for a role of the suite (deployer, transmitter, trader, keeper)."""
    from ape import accounts

    return accounts.test_accounts[ROLE_INDEX[role]]


def to_units(amount: Decimal, decimals: int) -> int:
    return int(amount * (10**decimals))


def deploy_suite(spec: SuiteSpec | None = None) -> dict[str, Any]:
    """Deploy and seed the suite on the connected network; returns its manifest."""
    from ape import chain, project

    spec = spec or SuiteSpec()
    deployer, transmitter = role_account("deployer"), role_account("transmitter")

    weth = deployer.deploy(project.ERC20, "Wrapped Ether (ammlab)", "WETH", 18, deployer)
    usdc = deployer.deploy(project.ERC20, "USD Coin (ammlab)", "USDC", 6, deployer)
    feed = deployer.deploy(project.PriceFeed, FEED_DECIMALS, "ETH / USD", transmitter)
    router = deployer.deploy(project.Router)
    feed.transmit(to_units(spec.price, FEED_DECIMALS), sender=transmitter)

    pools = {}
    for pool_spec in spec.pools:
        pool = deployer.deploy(project.ConstantProductPool, weth, usdc, pool_spec.fee_bps)
        weth_amount = to_units(pool_spec.weth_liquidity, 18)
        usdc_amount = to_units(pool_spec.weth_liquidity * spec.price, 6)
        weth.mint(pool, weth_amount, sender=deployer)
        usdc.mint(pool, usdc_amount, sender=deployer)
        pool.mint(deployer, sender=deployer)
        pools[pool_spec.name] = {
            "address": pool.address,
            "contract": "ConstantProductPool",
            "fee_bps": pool_spec.fee_bps,
            "token0": pool.token0(),
            "token1": pool.token1(),
        }

    extras = _deploy_derivatives(spec, weth, usdc, feed, pools)

    return {
        "format": MANIFEST_FORMAT,
        "chain_id": chain.chain_id,
        "block": chain.blocks.head.number,
        "accounts": {role: role_account(role).address for role in ROLE_INDEX},
        "tokens": {
            "WETH": {"address": weth.address, "contract": "ERC20", "decimals": 18},
            "USDC": {"address": usdc.address, "contract": "ERC20", "decimals": 6},
        },
        "feed": {
            "address": feed.address,
            "contract": "PriceFeed",
            "decimals": FEED_DECIMALS,
            "description": "ETH / USD",
        },
        "router": {"address": router.address, "contract": "Router"},
        "pools": pools,
        "seed_price": str(spec.price),
        **extras,
    }


KEEPER_WETH_BASELINE = Decimal(100)
"""WETH minted to the keeper that is not a hedge (its spot hedge is the balance beyond it)."""
KEEPER_USDC = Decimal(1_000_000)
KEEPER_LP_WETH = Decimal(2)
"""The keeper's own LP position in venue_a (part of the book it hedges)."""


def _deploy_derivatives(spec: SuiteSpec, weth, usdc, feed, pools: dict) -> dict[str, Any]:
    """The options pool (LP deposit, two boards of strikes, the keeper as hedger), the perp
    (insurance fund) and the keeper's funding (tokens, an LP share of venue_a)."""
    from ape import chain, project

    from sim.options.pool import DEFAULT_CALL_CAP, OptionsParams
    from sim.perp import PerpParams

    deployer, keeper = role_account("deployer"), role_account("keeper")
    wad = 10**18
    # The feed is pushed by a transmitter that may pause for hours on a quiet fork: a day.
    options_params = OptionsParams(max_oracle_delay=86_400)
    options = deployer.deploy(project.OptionsPool, usdc, feed, *options_params.constructor_args())
    deposit = to_units(Decimal(2_000_000), 6)
    usdc.mint(deployer, deposit, sender=deployer)
    usdc.approve(options, deposit, sender=deployer)
    options.deposit(deposit, sender=deployer)
    now = chain.blocks.head.timestamp
    boards = []
    for days, base_iv, strikes in ((14, 80, (0.8, 0.9, 1.0, 1.1, 1.2)), (28, 75, (0.9, 1.0, 1.1))):
        board_id = options.nextBoardId()
        options.addBoard(now + days * 86_400, base_iv * wad // 100, DEFAULT_CALL_CAP,
                         sender=deployer)  # fmt: skip
        strike_ids = []
        for moneyness in strikes:
            strike_id = options.nextStrikeId()
            strike = to_units(spec.price * Decimal(str(moneyness)), 18)
            skew = wad + int(abs(moneyness - 1.0) * 0.5 * wad)  # a smile
            options.addStrike(board_id, strike, skew, sender=deployer)
            strike_ids.append(strike_id)
        boards.append({"board_id": board_id, "expiry_days": days, "strike_ids": strike_ids})
    options.setHedger(keeper, sender=deployer)

    perp_params = PerpParams(max_oracle_delay=86_400, skew_scale=50_000 * wad, taker_fee_bps=8)
    perp = deployer.deploy(project.PerpMarket, usdc, feed, *perp_params.constructor_args())
    insurance = to_units(Decimal(1_000_000), 6)
    usdc.mint(deployer, insurance, sender=deployer)
    usdc.approve(perp, insurance, sender=deployer)
    perp.fundInsurance(insurance, sender=deployer)

    weth.mint(keeper, to_units(KEEPER_WETH_BASELINE, 18), sender=deployer)
    usdc.mint(keeper, to_units(KEEPER_USDC, 6), sender=deployer)
    lp_pool = pools["venue_a"]["address"] if "venue_a" in pools else None
    if lp_pool is not None:
        weth.mint(lp_pool, to_units(KEEPER_LP_WETH, 18), sender=deployer)
        usdc.mint(lp_pool, to_units(KEEPER_LP_WETH * spec.price, 6), sender=deployer)
        project.ConstantProductPool.at(lp_pool).mint(keeper, sender=deployer)

    return {
        "options": {
            "address": options.address,
            "contract": "OptionsPool",
            "hedger": keeper.address,
            "boards": boards,
        },
        "perp": {
            "address": perp.address,
            "contract": "PerpMarket",
            "skew_scale": str(perp_params.skew_scale),
            "taker_fee_bps": perp_params.taker_fee_bps,
        },
        "keeper": {
            "address": keeper.address,
            "weth_baseline": str(KEEPER_WETH_BASELINE),
            "lp_pool": "venue_a" if lp_pool else None,
        },
    }


@dataclass
class Suite:
    """Ape contract instances of a deployed suite, on the connected network."""

    manifest: dict[str, Any]
    weth: Any
    usdc: Any
    feed: Any
    router: Any
    pools: dict[str, Any]

    def token(self, address: str) -> Any:
        return self.weth if address == self.weth.address else self.usdc


def load_suite(manifest: dict[str, Any]) -> Suite:
    """Bind a manifest to the connected network, checking its chain id and that code exists."""
    from ape import chain, project

    if manifest["chain_id"] != chain.chain_id:
        raise ManifestError(
            f"manifest is for chain id {manifest['chain_id']} but the connected chain has id "
            f"{chain.chain_id}: redeploy with `ammlab chain up` or pass the right manifest"
        )

    def at(entry: dict[str, Any]) -> Any:
        if not chain.provider.get_code(entry["address"]):
            raise ManifestError(
                f"no contract code at {entry['address']} ({entry['contract']}): the chain was "
                "reset since the manifest was written; redeploy with `ammlab chain up`"
            )
        return getattr(project, entry["contract"]).at(entry["address"])

    return Suite(
        manifest=manifest,
        weth=at(manifest["tokens"]["WETH"]),
        usdc=at(manifest["tokens"]["USDC"]),
        feed=at(manifest["feed"]),
        router=at(manifest["router"]),
        pools={name: at(entry) for name, entry in manifest["pools"].items()},
    )

"""Deploy the ammlab suite through Ape and describe it in a manifest.

The suite: a WETH-like (18 decimals) and a USDC-like (6 decimals) token, a Chainlink-style
ETH / USD feed, the periphery router, and constant-product pools on two "venues" with
different fees, seeded at one price. Call these functions while connected to the target
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

"""What every venue kind shares: the pool reference the reader and executor use, the leg a
plan sends, and the error a venue's bad configuration raises.

Kinds (`keeper.venues`): `cpmm` (ammlab's ConstantProductPool through its Router.vy), `univ2`
(a genuine Uniswap V2 pair through UniswapV2Router02), `univ3` (a genuine Uniswap V3 pool
through SwapRouter), and the perp (`keeper.venues.perp`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from keeper.errors import KeeperError

PoolKind = Literal["cpmm", "univ2", "univ3"]
LegKind = Literal["cpmm", "univ2", "univ3", "perp"]
WEI_PER_ETH = 10**18
"""Ether's own unit (gas is paid in it), not a token's decimals."""
GWEI = 10**9


class VenueError(KeeperError):
    """A venue the config names is not what it says (tokens, fee tier, factory); one line
    naming the config field, before any transaction."""


@dataclass(frozen=True)
class PoolRef:
    """One pool venue as resolved from the config and the manifest (addresses checksummed)."""

    name: str
    kind: PoolKind
    address: str
    router: str
    """The periphery contract its legs go through (Router.vy, Router02, SwapRouter)."""
    fee_bps: float
    """cpmm: from the config or manifest; univ2: the protocol's 30; univ3: fee pips / 100."""
    fee_pips: int | None = None
    """univ3: the configured fee tier (hundredths of a bp), checked against the pool and the
    factory; None: the pool's own."""
    factory: str | None = None
    """univ2/univ3: the factory the pool must come from (getPair / getPool); None: unchecked."""
    bitmap_words: int = 2
    """univ3: tick-bitmap words read on each side of the current one (256 ticks x spacing
    each): the price range the keeper knows the pool's liquidity in."""

    @property
    def field(self) -> str:
        """The config field that names this venue, for error messages."""
        return f"venues.{self.kind}.{self.name}"


@dataclass(frozen=True)
class LegPlan:
    """One transaction of a hedge: a swap through a pool's router, or a perp
    `modifyPosition`. Token amounts in base units (wei of their own decimals)."""

    venue: str
    kind: LegKind
    size: float
    """Signed base units (> 0 buys)."""
    size_wei: int
    expected_cost_quote: float
    """Quote paid (< 0: received), gas excluded."""
    gas_quote: float
    expected_price: float
    """Average price of the leg, quote per base, fees included."""
    deadline: int
    gas_units: int = 150_000
    to: str = ""
    """The perp a perp leg calls (a pool leg calls its router, `PoolRef.router`)."""
    pool: str | None = None
    token_in: str | None = None
    token_out: str | None = None
    amount_in: int = 0
    """Swap: exact input (sell) or the twin's input for the exact output (buy)."""
    amount_out: int = 0
    """Swap: exact output (buy) or the twin's output (sell)."""
    amount_limit: int = 0
    """Swap worst price: amountInMax(imum) (buy) or amountOutMin(imum) (sell)."""
    fee_pips: int = 0
    """univ3: the pool's fee tier (SwapRouter finds the pool by it)."""
    sqrt_price_limit_x96: int = 0
    """univ3: the pool price (Q64.96) the swap may not pass: the twin's price after the
    trade moved by the slippage tolerance."""
    acceptable_price: int = 0
    """Perp worst fill price, wad."""

    @property
    def notional_quote(self) -> float:
        return abs(self.expected_cost_quote)

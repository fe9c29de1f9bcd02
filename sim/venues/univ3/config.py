"""Scenario config of Uniswap V3 pools (`v3_pools`): fee tier, initial price, LP positions.

Orientation and units. The simulator's V3 pool holds the risky token as token0 and the
numeraire as token1 ("canonical" orientation): a canonical tick t is the price of one risky
base unit in numeraire base units, 1.0001**t, so with the run's 18- and 6-decimal tokens the
price in whole units is 1.0001**t * PRICE_SCALE (t ~ -196,256 at 3,000 numeraire per risky).
On a chain where the risky token sorts second, the pool's own ticks are the negated ones
(a canonical range [l, u) is the pool's [-u, -l)); the exact part converts.

A position's range is given one of three ways: explicit canonical ticks (multiples of the
tier's spacing, inside the protocol's range), a relative `width` around the pool's initial
price (widened outwards to the spacing), or `full_range`. Its size is its value at the pool's
initial price. Bad input (a tick off the spacing, lower >= upper, a tick outside the
protocol's range, an unknown fee tier, a zero size) is refused at load time in one line naming
the field and the allowed values (`sim.venues.univ3.checks`).
"""

from __future__ import annotations

import math
from collections import Counter

from pydantic import Field, field_validator, model_validator

from sim.config import ConfigModel
from sim.venues.univ3.checks import check_fee_tier, check_range
from sim.venues.univ3.twin import FEE_TIERS
from sim.venues.univ3.v3math import MAX_TICK, MIN_TICK

RISKY_DECIMALS = 18
NUMERAIRE_DECIMALS = 6
"""Decimals of the run's tokens (`sim.chain.backend.token_creations`), which place the tick
grid on whole-unit prices."""
PRICE_SCALE = 10.0 ** (RISKY_DECIMALS - NUMERAIRE_DECIMALS)
"""Whole-unit price of canonical tick 0 (numeraire per risky)."""
LIQUIDITY_SCALE = 10.0 ** ((RISKY_DECIMALS + NUMERAIRE_DECIMALS) / 2)
"""Base-unit liquidity per unit of whole-unit liquidity: L_base = L * LIQUIDITY_SCALE."""
LN_TICK = math.log1p(1e-4)
"""ln of one tick's price ratio (log1p: 1.0001 itself is not a float, log(1.0001) is 1e-12 off)."""


def usable_ticks(spacing: int) -> tuple[int, int]:
    """The lowest and highest ticks a position may use at `spacing` (the full range)."""
    return -(-MIN_TICK // spacing) * spacing, (MAX_TICK // spacing) * spacing


def tick_of_price(price: float, price_scale: float = PRICE_SCALE) -> float:
    """The canonical tick of a whole-unit price, unrounded."""
    return math.log(price / price_scale) / LN_TICK


def width_ticks(
    p0: float, width: float, spacing: int, price_scale: float = PRICE_SCALE
) -> tuple[int, int]:
    """Canonical ticks of the range [p0 / (1 + width), p0 * (1 + width)], widened outwards to
    multiples of `spacing` and kept inside the usable range (at least one spacing wide)."""
    lo, hi = usable_ticks(spacing)
    lower = math.floor(tick_of_price(p0 / (1.0 + width), price_scale) / spacing) * spacing
    upper = math.ceil(tick_of_price(p0 * (1.0 + width), price_scale) / spacing) * spacing
    lower = min(max(lower, lo), hi - spacing)
    upper = max(min(upper, hi), lower + spacing)
    return lower, upper


class V3PositionConfig(ConfigModel):
    """A liquidity position opened before the first block (on chain: minted through the
    NonfungiblePositionManager by the pool's LP account)."""

    name: str = "position"
    """Position name (metrics are `v3.<pool>.<position>.<metric>`)."""
    tick_lower: int | None = None
    """Lower canonical tick (see the module docstring); give it with `tick_upper`."""
    tick_upper: int | None = None
    """Upper canonical tick."""
    width: float | None = Field(None, gt=0)
    """Relative half-width around the pool's initial price P0: the range
    [P0 / (1 + width), P0 * (1 + width)], widened outwards to the tick spacing."""
    full_range: bool = False
    """The whole usable tick range (a constant-product position)."""
    value: float = Field(1e6, gt=0)
    """Value of the position at the pool's initial price, numeraire."""

    @model_validator(mode="after")
    def _one_range(self) -> V3PositionConfig:
        ticks = self.tick_lower is not None or self.tick_upper is not None
        given = int(ticks) + int(self.width is not None) + int(self.full_range)
        if given != 1 or (ticks and (self.tick_lower is None or self.tick_upper is None)):
            raise ValueError(
                f"positions.{self.name}: give its range one way: tick_lower and tick_upper, "
                "or width, or full_range: true"
            )
        return self

    def ticks(self, p0: float, spacing: int, price_scale: float = PRICE_SCALE) -> tuple[int, int]:
        """Canonical (lower, upper) ticks for a pool whose initial price is `p0`."""
        if self.full_range:
            return usable_ticks(spacing)
        if self.width is not None:
            return width_ticks(p0, self.width, spacing, price_scale)
        assert self.tick_lower is not None and self.tick_upper is not None
        return self.tick_lower, self.tick_upper


def _full_range() -> list[V3PositionConfig]:
    return [V3PositionConfig(name="full", full_range=True, value=2e7)]


class V3PoolConfig(ConfigModel):
    """A Uniswap V3 pool (v3-core 1.0.1) of the risky token against the numeraire."""

    name: str = "v3pool"
    """Pool name, referenced by agents."""
    fee: int = 500
    """Fee tier in pips (millionths of the input): 500 (5 bp), 3000 (30 bp) or 10000 (1 %);
    the tier sets the tick spacing (10, 60, 200)."""
    price_offset_bps: float = 0.0
    """Initial pool price relative to the reference price, basis points."""
    positions: list[V3PositionConfig] = Field(default_factory=_full_range)
    """Positions opened before the first block (every pool needs at least one)."""

    @field_validator("fee")
    @classmethod
    def _tier(cls, fee: int) -> int:
        check_fee_tier(fee, "fee")
        return fee

    @model_validator(mode="after")
    def _ranges(self) -> V3PoolConfig:
        if not self.positions:
            raise ValueError("positions: a pool needs at least one position (its liquidity)")
        dup = [n for n, k in Counter(p.name for p in self.positions).items() if k > 1]
        if dup:
            raise ValueError(f"positions: names must be unique in a pool; '{dup[0]}' repeats")
        spacing = self.tick_spacing
        lo, hi = usable_ticks(spacing)
        for p in self.positions:
            if p.tick_lower is not None and p.tick_upper is not None:
                try:
                    check_range(p.tick_lower, p.tick_upper, spacing, f"positions.{p.name}")
                except ValueError as err:
                    raise ValueError(
                        f"{err} (fee {self.fee}: multiples of {spacing} in [{lo}, {hi}])"
                    ) from err
        return self

    @property
    def tick_spacing(self) -> int:
        """The tier's tick spacing."""
        return FEE_TIERS[self.fee]

    @property
    def fee_fraction(self) -> float:
        """The fee as a fraction of the input."""
        return self.fee / 1e6

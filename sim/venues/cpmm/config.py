"""Scenario configs of the constant-product pool (`contracts/ConstantProductPool.vy`) and its TWAP."""

from __future__ import annotations

from pydantic import Field

from sim.config import ConfigModel, Ref


class PoolConfig(ConfigModel):
    """A constant-product pool (Uniswap V2 pair semantics)."""

    name: str = "pool"
    """Pool name, referenced by agents."""
    fee_bps: float = Field(30.0, ge=0, lt=10_000)
    """Fee on the input, basis points."""
    tvl: float = Field(2e7, gt=0)
    """Initial pool value in numeraire (half in each token)."""
    price_offset_bps: float = 0.0
    """Initial pool price relative to the reference price, basis points."""
    fee_to_reserves: bool = True
    """V2 semantics: fees stay in the reserves. False pays them to LPs on the side."""


class TwapConfig(ConfigModel):
    """A TWAP of a pool's mid price from its cumulative price."""

    name: str = "twap"
    """TWAP name."""
    pool: str = "pool"
    """Pool whose price0CumulativeLast is read."""
    window_blocks: int = Field(10, ge=1)
    """Window length in blocks."""

    def refs(self) -> list[Ref]:
        return [(("pools",), self.pool, f"twap '{self.name}' reads unknown pool '{self.pool}'")]

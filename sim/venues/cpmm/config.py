"""Scenario configs of the constant-product pool (`contracts/ConstantProductPool.vy`) and its TWAP."""

from __future__ import annotations

from pydantic import Field

from sim.config import ConfigModel, Ref
from sim.processes import token_names

MULTI_ASSET_AGENTS = ("graph_arbitrageur",)
"""Agent kinds that trade pools on any token pair (the others assume the risky asset against
the numeraire, and are refused on other pools)."""


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
    tokens: tuple[str, str] | None = None
    """Token pair (token 0 priced in token 1), names of the price process's tokens (a
    `multi_gbm` process names them); None: the risky asset against the numeraire. Booked at
    both tokens' reference prices; `tvl` is split half in each token at the start."""

    def pair(self, sc) -> tuple[str, str] | None:
        """The pool's tokens when they are not the risky asset against the numeraire."""
        if self.tokens is None:
            return None
        primary, numeraire = token_names(sc.price)[:2]
        return None if tuple(self.tokens) == (primary, numeraire) else tuple(self.tokens)

    def check(self, sc) -> None:
        if self.tokens is None:
            return
        names = token_names(sc.price)
        bad = [t for t in self.tokens if t not in names]
        if bad or self.tokens[0] == self.tokens[1]:
            raise ValueError(
                f"pools.{self.name}.tokens: name two different tokens of the price process "
                f"({', '.join(names)}); got {list(self.tokens)}"
            )
        if self.pair(sc) is None:
            return
        for a in sc.agents:
            if a.kind in MULTI_ASSET_AGENTS:
                continue
            for fields, name, _ in a.refs():
                if "pools" in fields and name == self.name:
                    raise ValueError(
                        f"pools.{self.name}.tokens: agent '{a.name}' ({a.kind}) trades only "
                        "pools of the risky asset against the numeraire"
                    )


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

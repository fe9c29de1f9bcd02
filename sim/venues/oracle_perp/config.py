"""Scenario config of the oracle-priced perp (a model venue; no contract yet)."""

from __future__ import annotations

from pydantic import Field

from sim.config import ConfigModel, Ref


class OraclePerpConfig(ConfigModel):
    """A perp of the risky asset quoted off an oracle: each block its quote is a constant-
    product curve of `depth` risky units of virtual reserve centred on the oracle's answer, so
    a fill's premium grows with its size like a perp's skew premium, plus a taker fee. Its
    counterparty (the perp's LPs) takes the other side of every fill."""

    name: str = "oracle_perp"
    """Venue name, referenced by agents."""
    oracle: str = "feed"
    """Feed or TWAP whose answer centres the quote."""
    depth: float = Field(2000.0, gt=0)
    """Virtual reserve of the risky asset around the oracle price, risky units."""
    fee_bps: float = Field(5.0, ge=0, lt=10_000)
    """Taker fee on the input, basis points."""

    def refs(self) -> list[Ref]:
        msg = f"oracle perp '{self.name}' reads unknown oracle '{self.oracle}'"
        return [(("oracles", "twaps"), self.oracle, msg)]

"""Scenario config of an oracle-priced venue (`contracts/OracleSwap.vy`)."""

from __future__ import annotations

from pydantic import Field

from sim.config import ConfigModel, Ref


class OracleVenueConfig(ConfigModel):
    """A venue that quotes off an oracle (e.g. a later options or perps pool)."""

    name: str = "oracle_venue"
    """Venue name."""
    oracle: str = "feed"
    """Feed or TWAP name that prices the venue."""
    spread_bps: float = Field(10.0, ge=0)
    """Half-spread around the oracle price, basis points."""
    max_notional: float = Field(1e5, gt=0)
    """Largest trade per block, numeraire."""

    def refs(self) -> list[Ref]:
        msg = f"venue '{self.name}' reads unknown oracle '{self.oracle}'"
        return [(("oracles", "twaps"), self.oracle, msg)]

"""Oracle snipers: take an oracle-priced venue's quote when its oracle is stale."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numba import njit, prange  # noqa: F401 - prange in the kernels
from pydantic import Field

from sim.config import ConfigModel, Ref
from sim.engine.context import AgentEnv, BlockContext


class OracleSniperConfig(ConfigModel):
    """Trades an oracle-priced venue when its oracle is stale against the reference price."""

    kind: Literal["oracle_sniper"] = "oracle_sniper"
    """Agent selector."""
    name: str = "sniper"
    """Agent name."""
    venue: str = "oracle_venue"
    """Oracle-priced venue traded."""
    min_profit: float = Field(0.0, ge=0)
    """Extra profit over gas required to trade, numeraire."""

    def refs(self) -> list[Ref]:
        return [(("venues",), self.venue, f"agent '{self.name}' uses unknown venue '{self.venue}'")]


class OracleSniper:
    """Takes an oracle-priced venue's quote when the oracle is stale against the reference.

    Buys `max_notional` at the venue's ask when the reference price is above it (sells at the
    bid when below) if the edge exceeds gas plus `min_profit`, hedging at the reference price.
    """

    priority = True
    config = OracleSniperConfig

    @classmethod
    def build(cls, cfg: OracleSniperConfig, env: AgentEnv) -> OracleSniper:
        return cls(cfg)

    def __init__(self, cfg: OracleSniperConfig):
        self.cfg = cfg
        self.name = cfg.name

    def act(self, ctx: BlockContext) -> None:
        venue = ctx.venues[self.cfg.venue]
        bid, ask = venue.quote()
        size = venue.cfg.max_notional / ctx.ref
        cost = ctx.gas_cost("swap") + self.cfg.min_profit
        buy = size * (ctx.ref - ask) > cost
        sell = size * (bid - ctx.ref) > cost
        signed = np.where(buy, size, np.where(sell, -size, 0.0))
        px = np.where(buy, ask, bid)
        venue.fill(signed, px, ctx.ref)
        ctx.ledger.pnl(self.name, signed * (ctx.ref - px))
        ctx.pay_gas(self.name, "swap", buy | sell)

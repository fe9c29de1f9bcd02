"""Scenario config of a perpetual-futures market (`contracts/PerpMarket.vy`)."""

from __future__ import annotations

from pydantic import Field, model_validator

from sim.config import ConfigModel, Ref


class PerpConfig(ConfigModel):
    """A perpetual-futures market (`contracts/PerpMarket.vy`, run by `sim.venues.perp.batch.PerpBatch`).

    Marked at an oracle feed's answer (so the mark lags the reference price by the feed's
    deviation threshold, heartbeat and latency) or at the reference price itself. Funding
    accrues on each interaction at rate clip(skew / skew_scale, -1, 1) * max_funding_rate.
    """

    name: str = "perp"
    """Market name, referenced by agents."""
    oracle: str | None = None
    """Chainlink-style feed that marks the market (None: the reference price, no latency)."""
    max_oracle_delay: float = Field(3600.0, gt=0, le=86_400)
    """Oldest accepted answer, seconds; older answers make trades and liquidations revert."""
    skew_scale: float = Field(1e6, gt=0)
    """Skew at which the fill premium is 100 %, base units."""
    taker_fee_bps: float = Field(5.0, ge=0, le=100)
    """Fee on filled notional, basis points."""
    max_funding_rate: float = Field(0.01, ge=0, le=1)
    """Funding rate at |skew| >= skew_scale, fraction of notional per day."""
    initial_margin_bps: float = Field(1000.0, gt=0, le=10_000)
    """Margin to open or grow a position, basis points of oracle notional."""
    maintenance_margin_bps: float = Field(500.0, gt=0)
    """Liquidation threshold, basis points of oracle notional."""
    liquidation_reward_bps: float = Field(100.0, ge=0)
    """Liquidator reward, basis points of oracle notional (capped, and by the equity left)."""
    liquidation_reward_cap: float = Field(1000.0, ge=0)
    """Largest liquidator reward, quote units."""
    max_open_interest: float = Field(1e5, gt=0)
    """Cap on each side's open interest, base units."""
    max_position_size: float = Field(1e4, gt=0)
    """Cap on one account's |size|, base units."""
    insurance_fund: float = Field(0.0, ge=0)
    """Insurance fund seeded at the start, quote units."""

    @model_validator(mode="after")
    def _ratios(self):
        # The constructor's own checks, in its order and with its words.
        if not (
            self.liquidation_reward_bps < self.maintenance_margin_bps < self.initial_margin_bps
        ):
            raise ValueError(
                "need liquidation_reward_bps < maintenance_margin_bps < initial_margin_bps "
                "(perp: invalid margin ratios)"
            )
        return self

    def refs(self) -> list[Ref]:
        msg = f"perp '{self.name}' is marked by unknown oracle '{self.oracle}'"
        return [(("oracles",), self.oracle, msg)]

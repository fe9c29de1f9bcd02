"""Scenario configs of a Lyra-style options AMM (`contracts/OptionsPool.vy`)."""

from __future__ import annotations

from pydantic import Field, model_validator

from sim.config import ConfigModel, Ref


class OptionStrikeConfig(ConfigModel):
    """One strike of an options board."""

    strike: float = Field(gt=0)
    """Strike, numeraire per risky asset."""
    skew: float = Field(1.0, gt=0)
    """Skew: the strike's IV is the board's base IV times this."""


class OptionBoardConfig(ConfigModel):
    """One expiry of an options pool, with its strikes."""

    expiry: float = Field(gt=0)
    """Expiry, seconds since the start of the run (warm-up included)."""
    base_iv: float = Field(0.8, gt=0)
    """Initial base implied volatility, annualised."""
    call_cap: float = Field(4.0, ge=0.1, le=100)
    """A call pays at most call_cap x strike (the contract's cap, 0.1..100)."""
    strikes: list[OptionStrikeConfig] = Field(min_length=1, max_length=8)
    """Strikes (at most 8 a board, as on chain)."""


class OptionsPricing(ConfigModel):
    """The pricing, fee and limit parameters of a Lyra-style options AMM
    (`contracts/OptionsPool.vy`); defaults are the contract's.

    Pricing: Black–Scholes at IV = base IV x skew, each trade moving base IV and skew by
    amount / standard_size x impact; fees: option_price_fee x value + spot_price_fee x spot
    per option + a vega-utilisation fee when the trade grows the board's |net vega|. Traders'
    longs lock the pool's collateral (call_cap x strike per call, the strike per put).
    """

    max_oracle_delay: float = Field(3600.0, gt=0, le=86_400)
    """Oldest accepted oracle answer, seconds; older answers refuse trades and settlement."""
    standard_size: float = Field(5.0, gt=0)
    """Trade size that moves IVs by one impact, options."""
    iv_impact: float = Field(0.01, ge=0, le=1)
    """Base IV move per standard size (0.01 = one vol point)."""
    skew_impact: float = Field(0.0075, ge=0, le=1)
    """Skew move per standard size."""
    option_price_fee: float = Field(0.01, ge=0, le=0.2)
    """Fee per unit of option value."""
    spot_price_fee: float = Field(0.001, ge=0, le=0.05)
    """Fee per unit of spot, per option."""
    vega_fee: float = Field(1000.0, ge=0, le=1e6)
    """Vega-utilisation fee coefficient, quote per option."""
    min_delta: float = Field(0.08, gt=0, lt=1)
    """Lowest call delta a trade may open at."""
    max_delta: float = Field(0.92, gt=0, lt=1)
    """Highest call delta a trade may open at."""
    trading_cutoff: float = Field(21_600.0, ge=3_600, le=2_592_000)
    """No trading within this many seconds of a board's expiry."""
    min_base_iv: float = Field(0.05, gt=0)
    """Lowest base IV a trade may leave."""
    max_base_iv: float = Field(2.5, gt=0, le=5)
    """Highest base IV a trade may leave."""
    min_skew: float = Field(0.5, gt=0)
    """Lowest skew a trade may leave."""
    max_skew: float = Field(2.0, gt=0, le=100)
    """Highest skew a trade may leave."""

    @model_validator(mode="after")
    def _limits(self):
        if not self.min_delta < self.max_delta:
            raise ValueError("need min_delta < max_delta (options: bad delta bounds)")
        if not (self.min_base_iv < self.max_base_iv and self.min_skew < self.max_skew):
            raise ValueError("need min < max for base IV and skew (options: bad iv bounds)")
        return self


class OptionsPoolConfig(OptionsPricing):
    """A Lyra-style options AMM (`contracts/OptionsPool.vy`, run by
    `sim.venues.options.batch.OptionsPoolVec`), priced at an oracle feed's answer; pricing as in
    `OptionsPricing`."""

    name: str = "options"
    """Pool name, referenced by agents."""
    oracle: str | None = None
    """Chainlink-style feed that prices the pool (None: the reference price, never stale)."""
    liquidity: float = Field(2e6, gt=0)
    """LP deposit at the start, quote units."""
    boards: list[OptionBoardConfig] = Field(min_length=1, max_length=8)
    """Boards (expiries), at most 8 live."""

    @model_validator(mode="after")
    def _boards(self):
        for b in self.boards:
            if b.expiry <= self.trading_cutoff:
                raise ValueError(
                    f"board expiry {b.expiry} s is inside the trading cutoff "
                    f"({self.trading_cutoff} s): no trade could ever open (options: bad expiry)"
                )
            if not self.min_base_iv <= b.base_iv <= self.max_base_iv:
                raise ValueError(f"board base_iv {b.base_iv} outside [min_base_iv, max_base_iv]")
        return self

    def refs(self) -> list[Ref]:
        msg = f"options pool '{self.name}' reads unknown oracle '{self.oracle}'"
        return [(("oracles",), self.oracle, msg)]

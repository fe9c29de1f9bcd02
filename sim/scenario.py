"""Scenario models (pydantic) and YAML loading.

A scenario is one YAML file: the reference price process, the block clock and gas, the pools,
oracle feeds, oracle-priced venues, agents and what to record. Every model forbids unknown keys;
a bad file fails at load time with one line naming the dotted path of the field and what to do.

Units: time in seconds, volatility and drift annualised (365-day year) unless a field says
otherwise, prices in numeraire per risky asset, amounts in token units, fees in basis points.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.errors import ConfigError
from sim.hedging import DeltaBand
from sim.policies import PolicyConfig


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=False)


# ---------------------------------------------------------------- price processes


class ScheduledJump(_Model):
    """A price gap at a set time: every world's price is multiplied by (1 + move) then."""

    time: float = Field(ge=0)
    """When the gap happens, seconds since the start of the run (warm-up included); it lands
    in the first block whose time is at or after it."""
    move: float = Field(gt=-1)
    """Relative price change, e.g. -0.3 for a 30 % drop."""


class _PriceBase(_Model):
    s0: float = Field(2000.0, gt=0)
    """Initial reference price, numeraire per risky asset."""
    mu: float = 0.0
    """Annualised drift of the price (dS/S = mu dt + ...)."""
    scheduled_jumps: list[ScheduledJump] = Field(default_factory=list)
    """Deterministic price gaps on top of the process (stress tests), applied in time order."""


class _SigmaMixin(_Model):
    sigma: float | None = Field(None, ge=0)
    """Annualised volatility (per sqrt(year)). Give this or `sigma_per_day`."""
    sigma_per_day: float | None = Field(None, ge=0)
    """Convenience: volatility per sqrt(day); sigma = sigma_per_day * sqrt(365)."""

    @model_validator(mode="after")
    def _one_sigma(self):
        if (self.sigma is None) == (self.sigma_per_day is None):
            raise ValueError("give exactly one of 'sigma' (annualised) or 'sigma_per_day'")
        return self

    @property
    def sigma_annual(self) -> float:
        """Annualised volatility whichever way it was given."""
        if self.sigma is not None:
            return self.sigma
        return float(self.sigma_per_day) * math.sqrt(365.0)


class GBMConfig(_PriceBase, _SigmaMixin):
    """Geometric Brownian motion."""

    kind: Literal["gbm"] = "gbm"
    """Process selector."""


class MertonConfig(_PriceBase, _SigmaMixin):
    """Merton jump-diffusion: GBM plus log-normal jumps at Poisson times."""

    kind: Literal["merton"] = "merton"
    """Process selector."""
    jump_rate: float = Field(12.0, ge=0)
    """Mean number of jumps per year."""
    jump_mean: float = -0.02
    """Mean of a jump in log price."""
    jump_std: float = Field(0.05, ge=0)
    """Standard deviation of a jump in log price."""


class HestonConfig(_PriceBase):
    """Heston stochastic volatility."""

    kind: Literal["heston"] = "heston"
    """Process selector."""
    v0: float = Field(0.64, ge=0)
    """Initial annualised variance (0.64 = 80% vol)."""
    kappa: float = Field(4.0, ge=0)
    """Mean-reversion speed of the variance, per year."""
    theta: float = Field(0.64, ge=0)
    """Long-run annualised variance."""
    xi: float = Field(1.0, ge=0)
    """Volatility of variance, per sqrt(year)."""
    rho: float = Field(-0.5, ge=-1, le=1)
    """Correlation of price and variance shocks."""


class ReplayConfig(_Model):
    """Replay of a (timestamp, price) CSV; timestamps in seconds."""

    kind: Literal["replay"] = "replay"
    """Process selector."""
    path: str
    """CSV file with a header and columns timestamp,price; relative to the scenario file."""
    random_start: bool = False
    """Start each world at a uniformly random point of the record (wrapping around)."""


PriceConfig = Annotated[
    GBMConfig | MertonConfig | HestonConfig | ReplayConfig, Field(discriminator="kind")
]

# ---------------------------------------------------------------- blocks and gas


class BlocksConfig(_Model):
    """Block clock."""

    n_blocks: int = Field(7200, ge=1)
    """Blocks per world (7200 x 12 s = one day)."""
    block_time: float = Field(12.0, gt=0)
    """Block time in seconds (the mean when `poisson`)."""
    poisson: bool = False
    """Exponential inter-block times (Poisson block arrivals) instead of a fixed block time."""
    ordering: Literal["arb_first", "fifo", "random"] = "arb_first"
    """In-block order: arbitrageurs first (priority fee), configuration order, or a random order
    drawn per block (shared by every world of the batch)."""


class GasUnits(_Model):
    """Gas units per transaction type."""

    swap: int = Field(110_000, ge=0)
    """Gas units of a swap."""
    mint: int = Field(150_000, ge=0)
    """Gas units of adding liquidity."""
    burn: int = Field(120_000, ge=0)
    """Gas units of removing liquidity."""
    oracle_update: int = Field(80_000, ge=0)
    """Gas units of an oracle answer update."""
    perp_trade: int = Field(160_000, ge=0)
    """Gas units of a perp `modifyPosition` (anvil: open 157,447, see README)."""
    perp_margin: int = Field(85_000, ge=0)
    """Gas units of a perp `depositMargin` or `withdrawMargin` (anvil: <= 85,108)."""
    perp_liquidate: int = Field(85_000, ge=0)
    """Gas units of a perp `liquidate` (anvil: 84,104 after a 30 % gap)."""
    option_trade: int = Field(220_000, ge=0)
    """Gas units of an options pool `openPosition` / `closePosition` (anvil: 160,150 to
    221,933, see README)."""
    option_claim: int = Field(82_000, ge=0)
    """Gas units of an options pool `claim` after settlement (anvil: 81,576)."""


class GasConfig(_Model):
    """Base fee process and gas costs."""

    base_fee_gwei: float = Field(10.0, ge=0)
    """Initial (and long-run) base fee, gwei."""
    base_fee_vol: float = Field(0.0, ge=0)
    """Per-block standard deviation of the log base fee (0 = constant base fee)."""
    base_fee_reversion: float = Field(0.05, ge=0, le=1)
    """Per-block pull of the log base fee back to its long-run value (EIP-1559-like walk)."""
    priority_fee_gwei: float = Field(0.0, ge=0)
    """Priority fee paid by every transaction, gwei."""
    native_price: float | None = Field(None, gt=0)
    """Gas token price in numeraire; None means the risky asset is the gas token."""
    units: GasUnits = GasUnits()
    """Gas units per transaction type."""


# ---------------------------------------------------------------- venues


class PoolConfig(_Model):
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


class OracleConfig(_Model):
    """A Chainlink-style feed of the reference price."""

    name: str = "feed"
    """Feed name."""
    deviation_bps: float = Field(50.0, ge=0)
    """Update when the observed price moves this far from the answer, basis points."""
    heartbeat: float = Field(3600.0, gt=0)
    """Update at least this often, seconds."""
    latency_blocks: int = Field(1, ge=0)
    """Blocks between the node's observation and the answer landing on chain."""
    noise_bps: float = Field(0.0, ge=0)
    """Standard deviation of the node's observation error, basis points."""


class TwapConfig(_Model):
    """A TWAP of a pool's mid price from its cumulative price."""

    name: str = "twap"
    """TWAP name."""
    pool: str = "pool"
    """Pool whose price0CumulativeLast is read."""
    window_blocks: int = Field(10, ge=1)
    """Window length in blocks."""


class OracleVenueConfig(_Model):
    """A venue that quotes off an oracle (e.g. a later options or perps pool)."""

    name: str = "oracle_venue"
    """Venue name."""
    oracle: str = "feed"
    """Feed or TWAP name that prices the venue."""
    spread_bps: float = Field(10.0, ge=0)
    """Half-spread around the oracle price, basis points."""
    max_notional: float = Field(1e5, gt=0)
    """Largest trade per block, numeraire."""


class PerpConfig(_Model):
    """A perpetual-futures market (`contracts/PerpMarket.vy`, run by `sim.perp_vec.PerpBatch`).

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


class OptionStrikeConfig(_Model):
    """One strike of an options board."""

    strike: float = Field(gt=0)
    """Strike, numeraire per risky asset."""
    skew: float = Field(1.0, gt=0)
    """Skew: the strike's IV is the board's base IV times this."""


class OptionBoardConfig(_Model):
    """One expiry of an options pool, with its strikes."""

    expiry: float = Field(gt=0)
    """Expiry, seconds since the start of the run (warm-up included)."""
    base_iv: float = Field(0.8, gt=0)
    """Initial base implied volatility, annualised."""
    call_cap: float = Field(4.0, ge=0.1, le=100)
    """A call pays at most call_cap x strike (the contract's cap, 0.1..100)."""
    strikes: list[OptionStrikeConfig] = Field(min_length=1, max_length=8)
    """Strikes (at most 8 a board, as on chain)."""


class OptionsPricing(_Model):
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
    `sim.options.pool_vec.OptionsPoolVec`), priced at an oracle feed's answer; pricing as in
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


# ---------------------------------------------------------------- agents


class ArbitrageurConfig(_Model):
    """CEX-DEX arbitrageur: trades each pool to the edge of its fee band."""

    kind: Literal["arbitrageur"] = "arbitrageur"
    """Agent selector."""
    name: str = "arb"
    """Agent name."""
    pools: list[str] | None = None
    """Pools it trades (None = all)."""
    min_profit: float = Field(0.0, ge=0)
    """Extra profit over gas required to trade, numeraire."""
    pay_gas: bool = True
    """Count gas: trade only when profit exceeds gas cost."""


class CrossArbitrageurConfig(_Model):
    """Cross-venue arbitrageur between two pools."""

    kind: Literal["cross_arbitrageur"] = "cross_arbitrageur"
    """Agent selector."""
    name: str = "xarb"
    """Agent name."""
    pools: tuple[str, str] = ("pool", "pool2")
    """The two pools."""
    min_profit: float = Field(0.0, ge=0)
    """Extra profit over gas required to trade, numeraire."""


class NoiseTraderConfig(_Model):
    """Uninformed traders with Poisson arrivals."""

    kind: Literal["noise"] = "noise"
    """Agent selector."""
    name: str = "noise"
    """Agent name."""
    pool: str = "pool"
    """Pool traded."""
    rate_per_block: float = Field(0.2, ge=0, le=50)
    """Mean number of trades per block (only the block's net trade is sent, one per world)."""
    size_median: float = Field(5000.0, gt=0)
    """Median trade size, numeraire (log-normal)."""
    size_sigma: float = Field(1.0, ge=0)
    """Log-normal sigma of the trade size."""
    p_buy: float = Field(0.5, ge=0, le=1)
    """Probability a trade buys the risky asset."""
    slippage_bps: float = Field(50.0, ge=0)
    """Slippage limit against the pre-block mid price (minus the fee), basis points."""


class LPConfig(_Model):
    """Liquidity provider that deposits and withdraws at random times by a simple rule."""

    kind: Literal["lp"] = "lp"
    """Agent selector."""
    name: str = "lp"
    """Agent name."""
    pool: str = "pool"
    """Pool."""
    deposit_rate: float = Field(4.0, ge=0)
    """Deposits per day (Poisson)."""
    withdraw_rate: float = Field(4.0, ge=0)
    """Withdrawals per day (Poisson); each withdraws its own position."""
    size_frac: float = Field(0.05, gt=0, le=1)
    """Deposit size as a fraction of the pool's value."""


class OracleSniperConfig(_Model):
    """Trades an oracle-priced venue when its oracle is stale against the reference price."""

    kind: Literal["oracle_sniper"] = "oracle_sniper"
    """Agent selector."""
    name: str = "sniper"
    """Agent name."""
    venue: str = "oracle_venue"
    """Oracle-priced venue traded."""
    min_profit: float = Field(0.0, ge=0)
    """Extra profit over gas required to trade, numeraire."""


class SandwichConfig(_Model):
    """Sandwich attacker on large pending noise trades."""

    kind: Literal["sandwich"] = "sandwich"
    """Agent selector."""
    name: str = "sandwich"
    """Agent name."""
    enabled: bool = True
    """Switch."""
    pool: str = "pool"
    """Pool watched."""
    min_victim: float = Field(20_000.0, ge=0)
    """Smallest victim trade attacked, numeraire."""


class PerpTraderConfig(_Model):
    """Leveraged perp traders: each account opens at Poisson times by a simple rule, with a
    log-normal leverage, and closes at Poisson times (or is liquidated)."""

    kind: Literal["perp_trader"] = "perp_trader"
    """Agent selector."""
    name: str = "perp_traders"
    """Agent name."""
    perp: str = "perp"
    """Perp market traded."""
    accounts: int = Field(8, ge=1, le=256)
    """Trader accounts per world, each with at most one position."""
    rule: Literal["momentum", "mean_reversion", "random"] = "momentum"
    """Side of a new position: with the mark's move away from its moving average (momentum),
    against it (mean_reversion) or a fair coin (random)."""
    lookback: float = Field(3600.0, gt=0)
    """Time constant of the mark's exponential moving average, seconds."""
    open_rate: float = Field(6.0, ge=0)
    """Openings per day per flat account (Poisson)."""
    close_rate: float = Field(2.0, ge=0)
    """Closings per day per open account (Poisson)."""
    margin: float = Field(10_000.0, gt=0)
    """Margin deposited to open a position, quote units."""
    leverage_median: float = Field(4.0, ge=1)
    """Median leverage (notional / margin) of a new position; log-normal."""
    leverage_sigma: float = Field(0.5, ge=0)
    """Log-normal sigma of the leverage."""
    max_leverage: float = Field(9.5, ge=1)
    """Leverage cap (keep it below 1 / initial margin or the open reverts)."""
    pay_gas: bool = True
    """Charge gas for deposits, trades and withdrawals."""


class LiquidatorConfig(_Model):
    """Liquidates every liquidatable account of a perp each block, earning the reward."""

    kind: Literal["liquidator"] = "liquidator"
    """Agent selector."""
    name: str = "liquidator"
    """Agent name."""
    perp: str = "perp"
    """Perp market watched."""
    profitable_only: bool = False
    """Skip accounts whose reward does not pay the gas (False: liquidate all, as a protocol
    keeper would)."""


class OptionTraderConfig(_Model):
    """Liquidity-demand option traders: Poisson arrivals that open positions and hold them
    to expiry.

    Per world and block, K ~ Poisson(rate_per_day x dt / 1 day) arrivals merge into one order
    of K x size_median x exp(size_sigma Z) options. The strike is drawn over every tradable
    strike (all boards) with weight exp(-ln(K/S)^2 / (2 moneyness_width^2)) x
    exp(-tau / tenor_scale) (demand peaks at the money and at short tenors); call with
    probability p_call, buy (open long) with probability p_buy, else sell (open short, posting
    collateral). Refused orders (delta bounds, liquidity, stale oracle) still pay gas.
    """

    kind: Literal["option_trader"] = "option_trader"
    """Agent selector."""
    name: str = "option_traders"
    """Agent name."""
    pool: str = "options"
    """Options pool traded."""
    rate_per_day: float = Field(100.0, ge=0)
    """Mean arrivals per day."""
    size_median: float = Field(2.0, gt=0)
    """Median order size, options (log-normal)."""
    size_sigma: float = Field(0.7, ge=0)
    """Log-normal sigma of the order size."""
    p_call: float = Field(0.5, ge=0, le=1)
    """Probability an order is for calls."""
    p_buy: float = Field(0.7, ge=0, le=1)
    """Probability an order buys (opens long); otherwise it sells (opens short)."""
    moneyness_width: float = Field(0.1, gt=0)
    """Standard deviation of ln(strike / spot) in the strike weights."""
    tenor_scale: float = Field(604_800.0, gt=0)
    """Tenor weight scale, seconds: weight exp(-time to expiry / tenor_scale)."""
    pay_gas: bool = True
    """Charge gas for each order."""


class InformedOptionTraderConfig(_Model):
    """Informed option trader: trades only when its expected edge exceeds fees and gas.

    `stale_oracle`: when the reference price has moved more than `threshold_bps` from the
    pool's oracle answer, buys `size` calls (reference above) or puts (below) on the strike
    of best edge = value at the reference price (at today's IV, where the closing trade's
    impact takes it back) - premium - the closing fee -
    2 gas - min_profit, hedges the delta at the reference price, and sells back once a new
    answer has landed (or before the cutoff), unwinding the hedge.
    `volatility`: every `check_every` seconds, when flat on a board, buys (sells) `size`
    options where its volatility `true_vol` is above (below) the pool's IV with edge =
    |BS(true_vol) - BS(IV)| x size - fee - gas - min_profit > 0, holds to settlement and
    delta-hedges each block at the reference price with true_vol.
    """

    kind: Literal["informed_option_trader"] = "informed_option_trader"
    """Agent selector."""
    name: str = "informed"
    """Agent name."""
    pool: str = "options"
    """Options pool traded."""
    signal: Literal["stale_oracle", "volatility"] = "stale_oracle"
    """What it exploits."""
    threshold_bps: float = Field(50.0, ge=0)
    """stale_oracle: smallest |reference / oracle - 1| it acts on, basis points."""
    true_vol: float | None = Field(None, gt=0)
    """volatility: the volatility it believes, annualised (None: the GBM/Merton sigma)."""
    check_every: float = Field(3600.0, gt=0)
    """volatility: seconds between looks at the pool."""
    size: float = Field(10.0, gt=0)
    """Options per trade."""
    min_profit: float = Field(0.0, ge=0)
    """Extra expected edge over fees and gas required to trade, numeraire."""
    pay_gas: bool = True
    """Charge gas (and count it in the edge)."""


class KeeperInventory(_Model):
    """A live inventory the keeper hedges: an options pool's book."""

    options_pool: str
    """Options pool whose net position (the LPs' book) the keeper hedges."""


class LPInventory(_Model):
    """An LP share of a constant-product pool held by the keeper."""

    pool: str = "pool"
    """Pool."""
    share: float = Field(0.1, gt=0, le=1)
    """Fraction of the pool's LP supply held at the start."""


class OptionLeg(_Model):
    """One static option position of the keeper's book."""

    type: Literal["call", "put"] = "call"
    """Call or put."""
    strike: float = Field(gt=0)
    """Strike, numeraire per risky asset."""
    expiry: float = Field(gt=0)
    """Expiry, seconds since the start of the run."""
    size: float
    """Contracts on one unit of the risky asset; negative when the book is short (the
    options pool sells to traders)."""
    iv: float = Field(0.8, gt=0)
    """Implied volatility that values the leg, annualised."""


class KeeperConfig(_Model):
    """The keeper: hedges an inventory (LP share and/or options) on a venue with a policy."""

    kind: Literal["keeper"] = "keeper"
    """Agent selector."""
    name: str = "keeper"
    """Agent name."""
    lp: LPInventory | None = None
    """LP share in its inventory."""
    options: list[OptionLeg] = Field(default_factory=list)
    """Static option book in its inventory."""
    inventory: KeeperInventory | None = None
    """Live inventory: an options pool's book (its NAV is the keeper's inventory value)."""
    venue: str = "perp"
    """Hedging venue: a perp market's or a pool's name."""
    policy: PolicyConfig = DeltaBand()
    """Hedging policy (`sim.hedging`), chosen by `kind`."""
    oracle: str | None = None
    """Feed the keeper reads spot from (None: the reference price)."""
    margin: float = Field(1e6, gt=0)
    """Margin deposited on the perp at the start, quote units."""
    start_hedged: bool = False
    """Put on the delta-neutral hedge before accounting starts (its cost is not counted);
    the policy manages it from there (with policy `none` it stays as a static hedge)."""
    pay_gas: bool = True
    """Charge gas for hedge trades."""


AgentConfig = Annotated[
    ArbitrageurConfig
    | CrossArbitrageurConfig
    | NoiseTraderConfig
    | LPConfig
    | OracleSniperConfig
    | SandwichConfig
    | PerpTraderConfig
    | LiquidatorConfig
    | KeeperConfig
    | OptionTraderConfig
    | InformedOptionTraderConfig,
    Field(discriminator="kind"),
]


class MetricsConfig(_Model):
    """What to record."""

    warmup_blocks: int = Field(0, ge=0)
    """Blocks run before accounting starts (lets the mispricing reach its stationary law)."""
    series_every: int | None = Field(None, ge=1)
    """Record per-block series every k blocks (None = per-world summaries only)."""
    chunk_worlds: int = Field(50_000, ge=1)
    """Worlds stepped together; larger batches run in chunks of this size to bound memory."""


class Scenario(_Model):
    """A complete simulation scenario."""

    name: str = "scenario"
    """Scenario name."""
    seed: int = Field(0, ge=0)
    """Seed; same seed, same bytes out."""
    paths: int = Field(1000, ge=1)
    """Number of worlds."""
    price: PriceConfig = GBMConfig(sigma_per_day=0.05)
    """Reference (CEX) price process."""
    blocks: BlocksConfig = BlocksConfig()
    """Block clock and ordering."""
    gas: GasConfig = GasConfig()
    """Base fee and gas units."""
    pools: list[PoolConfig] = Field(default_factory=lambda: [PoolConfig()])
    """Constant-product pools."""
    oracles: list[OracleConfig] = Field(default_factory=list)
    """Chainlink-style feeds."""
    twaps: list[TwapConfig] = Field(default_factory=list)
    """Pool TWAPs."""
    venues: list[OracleVenueConfig] = Field(default_factory=list)
    """Oracle-priced venues."""
    perps: list[PerpConfig] = Field(default_factory=list)
    """Perpetual-futures markets."""
    options_pools: list[OptionsPoolConfig] = Field(default_factory=list)
    """Options AMM pools."""
    agents: list[AgentConfig] = Field(default_factory=lambda: [ArbitrageurConfig()])
    """Agents, in configuration (FIFO) order."""
    metrics: MetricsConfig = MetricsConfig()
    """Recording."""

    @model_validator(mode="after")
    def _references(self):
        pools = {p.name for p in self.pools}
        if len(pools) != len(self.pools):
            raise ValueError("pool names must be unique")
        feeds = {o.name for o in self.oracles} | {t.name for t in self.twaps}
        venues = {v.name for v in self.venues}
        for t in self.twaps:
            if t.pool not in pools:
                raise ValueError(f"twap '{t.name}' reads unknown pool '{t.pool}'")
        perps = {p.name for p in self.perps}
        if len(perps) != len(self.perps):
            raise ValueError("perp names must be unique")
        chainlink = {o.name for o in self.oracles}
        for m in self.perps:
            if m.oracle is not None and m.oracle not in chainlink:
                raise ValueError(f"perp '{m.name}' is marked by unknown oracle '{m.oracle}'")
        options = {o.name for o in self.options_pools}
        if len(options) != len(self.options_pools):
            raise ValueError("options pool names must be unique")
        for o in self.options_pools:
            if o.oracle is not None and o.oracle not in chainlink:
                raise ValueError(f"options pool '{o.name}' reads unknown oracle '{o.oracle}'")
        for v in self.venues:
            if v.oracle not in feeds:
                raise ValueError(f"venue '{v.name}' reads unknown oracle '{v.oracle}'")
        for a in self.agents:
            wanted = getattr(a, "pools", None) or []
            if isinstance(a, NoiseTraderConfig | LPConfig | SandwichConfig):
                wanted = [a.pool]
            for p in wanted:
                if p not in pools:
                    raise ValueError(f"agent '{a.name}' uses unknown pool '{p}'")
            if isinstance(a, OracleSniperConfig) and a.venue not in venues:
                raise ValueError(f"agent '{a.name}' uses unknown venue '{a.venue}'")
            if isinstance(a, PerpTraderConfig | LiquidatorConfig) and a.perp not in perps:
                raise ValueError(f"agent '{a.name}' uses unknown perp '{a.perp}'")
            if isinstance(a, OptionTraderConfig | InformedOptionTraderConfig):
                if a.pool not in options:
                    raise ValueError(f"agent '{a.name}' uses unknown options pool '{a.pool}'")
                if (
                    isinstance(a, InformedOptionTraderConfig)
                    and a.signal == "volatility"
                    and a.true_vol is None
                    and not isinstance(self.price, GBMConfig | MertonConfig)
                ):
                    raise ValueError(f"agent '{a.name}': give true_vol for this price process")
            if isinstance(a, KeeperConfig):
                inv = a.inventory
                if inv is not None and inv.options_pool not in options:
                    raise ValueError(
                        f"keeper '{a.name}' holds unknown options pool '{inv.options_pool}'"
                    )
                if a.venue not in pools | perps:
                    raise ValueError(f"keeper '{a.name}' hedges on unknown venue '{a.venue}'")
                if a.lp is not None and a.lp.pool not in pools:
                    raise ValueError(f"keeper '{a.name}' holds LP of unknown pool '{a.lp.pool}'")
                if a.oracle is not None and a.oracle not in chainlink:
                    raise ValueError(f"keeper '{a.name}' reads unknown oracle '{a.oracle}'")
        names = [a.name for a in self.agents]
        if len(set(names)) != len(names):
            raise ValueError("agent names must be unique")
        return self


# ---------------------------------------------------------------- loading


def _format_error(err: ValidationError, source: str) -> str:
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"]) or "<root>"
    kind = e["type"]
    if kind == "extra_forbidden":
        hint = "remove it or check its spelling"
    elif kind == "missing":
        hint = "add it"
    else:
        hint = f"got {e.get('input')!r}; fix the value"
    more = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{source}: {loc}: {e['msg']}; {hint}{more}"


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = data
    default: Any = Scenario().model_dump(mode="json")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            try:
                idx = int(part)
                node[idx]  # noqa: B018 - bounds check
            except (ValueError, IndexError) as err:
                raise ConfigError(
                    f"--set {dotted}: '{part}' is not an index of a list of {len(node)}"
                ) from err
            default = None
            if last:
                node[idx] = value
            else:
                node = node[idx]
        elif isinstance(node, dict):
            default = default.get(part) if isinstance(default, dict) else None
            if last:
                node[part] = value
            elif part not in node:
                # A list left at its default is copied so 'agents.0.x=...' edits the default
                # agent; a missing mapping starts empty so its own defaults (and kind) apply.
                node[part] = list(default) if isinstance(default, list) else {}
                node = node[part]
            else:
                node = node[part]
        else:
            raise ConfigError(f"--set {dotted}: '{part}' goes inside a scalar; check the path")


def parse_override(text: str) -> tuple[str, Any]:
    """Split 'dotted.path=value' and parse the value as a YAML scalar."""
    if "=" not in text:
        raise ConfigError(f"--set {text}: expected dotted.path=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {text}: value is not a YAML scalar ({err})") from err
    return key.strip(), value


def scenario_from_dict(
    data: dict[str, Any], overrides: list[str] | None = None, source: str = "scenario"
) -> Scenario:
    """Validate a scenario dict after applying 'dotted.path=value' overrides.

    Raises:
        ConfigError: one line with the field's dotted path and what to do.
    """
    data = dict(data or {})
    for text in overrides or []:
        key, value = parse_override(text)
        _set_dotted(data, key, value)
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_error(err, source)) from err


def load_scenario(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Load and validate a YAML scenario; relative CSV paths resolve against its folder.

    Raises:
        ConfigError: unreadable file, bad YAML or an invalid field.
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as err:
        raise ConfigError(f"{p}: cannot read the scenario ({err.strerror})") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{p}: not valid YAML ({str(err).splitlines()[0]})") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of scenario fields")
    sc = scenario_from_dict(data, overrides, source=str(p))
    if isinstance(sc.price, ReplayConfig) and not Path(sc.price.path).is_absolute():
        sc.price.path = str((p.parent / sc.price.path).resolve())
    return sc

"""Exact integer twin of `contracts/PerpMarket.vy` and the hedging venue's cost model.

`PerpMarket` mirrors the contract's storage and reproduces every state transition and view
to the wei: the same order of checks, the same truncating signed divisions (Vyper's ``//``
on ``int256`` rounds toward zero, EVM ``SDIV``), the same floors and ceilings when a wad
value becomes quote units, and the same revert strings (raised as `sim.errors.Revert`).
A call that reverts leaves the state unchanged.

`hedge_cost` prices a hedge on this venue from its on-chain state (`VenueState`): taker fee,
price impact from the skew, expected funding over a horizon and gas.

Units (as in the contract): sizes are wad base units (signed, > 0 long); prices wad quote per
base unit; margins, fees, rewards, the insurance fund and bad debt are quote-token base units;
the funding index is wad quote per unit of size; funding rates wad per day; ratios and fees
basis points; times seconds.

Accounting: the insurance fund is the market's counterparty for the net skew. Every realised
P&L, funding payment, fee and liquidation remainder moves between one margin account and the
fund; a payment the fund cannot make becomes bad debt, which later inflows repay first. The
identity ``balances[market] == total_margin + insurance_fund - bad_debt`` holds after every
transition (`PerpMarket.check_identity`).

Why it is long: it is one contract, function for function in the contract's order, plus the
venue's cost model that prices from the same state; a reader checks it against
`PerpMarket.vy` side by side.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import NamedTuple

from sim.errors import Revert
from sim.venues.pricefeed.twin import PriceFeed

WAD = 10**18
BPS = 10_000
DAY = 86_400
"""Seconds in one funding period (rates are per day)."""
MAX_TAKER_FEE_BPS = 100
MAX_FUNDING_RATE = 10**18
MAX_ORACLE_DELAY = 86_400
MAX_SIZE = 10**30
MAX_UINT256 = 2**256 - 1
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

GAS_MODIFY_POSITION = 160_000
"""Gas of one ``modifyPosition`` that opens a position on anvil, rounded up from
``scripts/bench_perp.py`` (open 157,447; grow 145,947; close 95,198); the default of
`hedge_cost`."""


def tdiv(a: int, b: int) -> int:
    """Signed division truncated toward zero, as Vyper's ``//`` on int256 (EVM ``SDIV``)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for ``a >= 0, b > 0``, as the contract's ``(a + b - 1) // b``."""
    return (a + b - 1) // b


@dataclass
class PerpParams:
    """The market's parameters, with the defaults documented on the contract's constructor.

    Attributes:
        max_oracle_delay: oldest accepted oracle answer, seconds, ``1..86_400``.
        skew_scale: skew at which the premium is 100 %, wad base units, ``1..1e30``.
        taker_fee_bps: fee on filled notional, bps, ``<= 100``.
        max_funding_rate: funding rate at ``|skew| >= skew_scale``, wad per day, ``<= 1e18``.
        initial_margin_bps: margin to open or grow, bps of oracle notional.
        maintenance_margin_bps: liquidation threshold, bps of oracle notional,
            ``reward < maintenance < initial <= 10_000``.
        liquidation_reward_bps: liquidator reward, bps of oracle notional.
        liquidation_reward_cap: largest liquidator reward, quote base units.
        max_open_interest: cap on each side's open interest, wad base units, ``<= 1e30``.
        max_position_size: cap on one account's ``|size|``, wad base units, ``<= 1e30``.
    """

    max_oracle_delay: int = 3_600
    skew_scale: int = 1_000_000 * WAD
    taker_fee_bps: int = 5
    max_funding_rate: int = 10**16
    initial_margin_bps: int = 1_000
    maintenance_margin_bps: int = 500
    liquidation_reward_bps: int = 100
    liquidation_reward_cap: int = 1_000 * 10**6
    max_open_interest: int = 100_000 * WAD
    max_position_size: int = 10_000 * WAD

    def constructor_args(self) -> list[int]:
        """The contract's constructor arguments after ``quote_token, feed``."""
        return [
            self.max_oracle_delay,
            self.skew_scale,
            self.taker_fee_bps,
            self.max_funding_rate,
            self.initial_margin_bps,
            self.maintenance_margin_bps,
            self.liquidation_reward_bps,
            self.liquidation_reward_cap,
            self.max_open_interest,
            self.max_position_size,
        ]

    def validate(self) -> None:
        """Raise `Revert` with the constructor's reason for the first bad parameter."""
        _check_oracle_delay(self.max_oracle_delay)
        _check_skew_scale(self.skew_scale)
        _check_taker_fee(self.taker_fee_bps)
        _check_funding_rate(self.max_funding_rate)
        _check_margin_ratios(self.initial_margin_bps, self.maintenance_margin_bps, 0)
        _check_reward(self.liquidation_reward_bps, self.maintenance_margin_bps)
        _check_caps(self.max_open_interest, self.max_position_size)


def _check_oracle_delay(value: int) -> None:
    if not 0 < value <= MAX_ORACLE_DELAY:
        raise Revert("perp: invalid oracle delay")


def _check_skew_scale(value: int) -> None:
    if not 0 < value <= MAX_SIZE:
        raise Revert("perp: invalid skew scale")


def _check_taker_fee(value: int) -> None:
    if value > MAX_TAKER_FEE_BPS:
        raise Revert("perp: fee too high")


def _check_funding_rate(value: int) -> None:
    if value > MAX_FUNDING_RATE:
        raise Revert("perp: funding rate too high")


def _check_margin_ratios(initial: int, maintenance: int, reward_bps: int) -> None:
    if not (maintenance > reward_bps and maintenance < initial and initial <= BPS):
        raise Revert("perp: invalid margin ratios")


def _check_reward(reward_bps: int, maintenance: int) -> None:
    if reward_bps >= maintenance:
        raise Revert("perp: reward too high")


def _check_caps(max_open_interest: int, max_position_size: int) -> None:
    if max_open_interest > MAX_SIZE or max_position_size > MAX_SIZE:
        raise Revert("perp: cap too large")


@dataclass
class Position:
    """One account's position as last settled (the contract's ``position(account)``).

    Attributes:
        size: signed size, wad base units (> 0 long).
        margin: margin, quote base units.
        last_price: fill price of the last change, wad (the cost basis of the whole size).
        last_funding_index: funding index at the last change, wad quote per unit.
    """

    size: int = 0
    margin: int = 0
    last_price: int = 0
    last_funding_index: int = 0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.size, self.margin, self.last_price, self.last_funding_index)


class Trade(NamedTuple):
    """What `PerpMarket.modify_position` did (the ``PositionModified`` event)."""

    fill_price: int
    fee: int
    realised: int
    """P&L plus funding realised into margin before the fee, quote base units."""
    margin: int
    size: int


class Liquidation(NamedTuple):
    """What `PerpMarket.liquidate` did (the ``PositionLiquidated`` event)."""

    size: int
    price: int
    reward: int
    deficit: int
    """Loss beyond the margin, borne by the insurance fund, quote base units."""


@dataclass
class PerpMarket:
    """State of one perpetual market, mirroring the contract's storage.

    The quote token is modelled by `balances` (base units per address, the market's own
    address included); every address the twin moves tokens for must be present (allowances
    are assumed unlimited). Methods take the sender and the block timestamp (seconds) and
    raise `Revert` with the contract's reason, leaving the state unchanged.

    Attributes:
        feed: the price feed twin the market reads (``latestRoundData``).
        params: parameters (see `PerpParams`).
        owner: parameter admin.
        address: the market's address (its key in `balances`).
        quote_decimals: decimals of the quote token, ``<= 18``.
        last_funding_time: timestamp of the last funding accrual, seconds.
        funding_index: cumulative funding per unit of size, wad quote.
        long_oi: long open interest, wad base units.
        short_oi: short open interest, wad base units.
        total_margin: sum of all margins, quote base units.
        insurance_fund: quote base units.
        bad_debt: payments the fund could not make, quote base units.
        positions: per account (absent means empty).
        balances: quote-token balances, base units.
    """

    feed: PriceFeed
    params: PerpParams = field(default_factory=PerpParams)
    owner: str = "owner"
    address: str = "perp"
    quote_decimals: int = 6
    last_funding_time: int = 0
    funding_index: int = 0
    long_oi: int = 0
    short_oi: int = 0
    total_margin: int = 0
    insurance_fund: int = 0
    bad_debt: int = 0
    positions: dict[str, Position] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.quote_decimals > 18 or self.feed.decimals > 18:
            raise Revert("perp: too many decimals")
        self.params.validate()
        self.balances.setdefault(self.address, 0)

    # -- scales ----------------------------------------------------------------------------

    @property
    def quote_scale(self) -> int:
        """Wad per quote base unit."""
        return 10 ** (18 - self.quote_decimals)

    @property
    def feed_scale(self) -> int:
        return 10 ** (18 - self.feed.decimals)

    def _floor_quote(self, value: int) -> int:
        return value // (WAD * self.quote_scale)

    # -- views -----------------------------------------------------------------------------

    def position(self, account: str) -> Position:
        """``position(account)`` (a copy)."""
        return copy.copy(self.positions.get(account, Position()))

    @property
    def skew(self) -> int:
        """Long minus short open interest, wad base units."""
        return self.long_oi - self.short_oi

    def oracle_price(self, timestamp: int) -> int:
        """``oraclePrice()``: the feed's answer in wad; reverts if invalid or stale."""
        _, answer, _, updated_at, _ = self.feed.latest_round_data()
        if answer <= 0:
            raise Revert("perp: invalid oracle price")
        if timestamp > updated_at + self.params.max_oracle_delay:
            raise Revert("perp: stale oracle")
        return answer * self.feed_scale

    def funding_rate(self) -> int:
        """``fundingRate()``: wad per day, > 0 when longs pay shorts."""
        cap = self.params.max_funding_rate
        rate = tdiv(self.skew * cap, self.params.skew_scale)
        return max(min(rate, cap), -cap)

    def _index_at(self, price: int, timestamp: int) -> int:
        elapsed = timestamp - self.last_funding_time
        return self.funding_index + tdiv(self.funding_rate() * price * elapsed, WAD * DAY)

    def current_funding_index(self, timestamp: int) -> int:
        """``currentFundingIndex()``: the index including unrecorded funding."""
        return self._index_at(self.oracle_price(timestamp), timestamp)

    def _fill(self, price: int, size: int) -> int:
        fill = price + tdiv(price * (2 * self.skew + size), 2 * self.params.skew_scale)
        if fill <= 0:
            raise Revert("perp: invalid fill price")
        return fill

    def fill_price(self, size: int, timestamp: int) -> int:
        """``fillPrice(size)``: oracle * (1 + mean of the premia before and after), wad."""
        return self._fill(self.oracle_price(timestamp), size)

    def _fee(self, size: int, fill: int) -> int:
        return ceil_div(abs(size) * fill * self.params.taker_fee_bps, WAD * self.quote_scale * BPS)

    def _requirement(self, size: int, price: int, ratio_bps: int) -> int:
        return ceil_div(abs(size) * price * ratio_bps, WAD * self.quote_scale * BPS)

    def _equity(self, pos: Position, price: int, index: int) -> int:
        return pos.margin + self._floor_quote(
            pos.size * (price - pos.last_price - (index - pos.last_funding_index))
        )

    def equity(self, account: str, timestamp: int) -> int:
        """``equity(account)``: margin + unrealised P&L - accrued funding, quote units."""
        price = self.oracle_price(timestamp)
        return self._equity(self.position(account), price, self._index_at(price, timestamp))

    def liquidatable(self, account: str, timestamp: int) -> bool:
        """``liquidatable(account)``."""
        pos = self.position(account)
        if pos.size == 0:
            return False
        price = self.oracle_price(timestamp)
        return self._equity(pos, price, self._index_at(price, timestamp)) < self._requirement(
            pos.size, price, self.params.maintenance_margin_bps
        )

    def check_identity(self) -> None:
        """Assert the accounting identity and that the stored sums match the positions."""
        assert self.total_margin == sum(p.margin for p in self.positions.values())
        assert self.long_oi == sum(max(p.size, 0) for p in self.positions.values())
        assert self.short_oi == sum(max(-p.size, 0) for p in self.positions.values())
        assert self.balances[self.address] == (
            self.total_margin + self.insurance_fund - self.bad_debt
        )
        assert self.insurance_fund == 0 or self.bad_debt == 0

    # -- transitions -----------------------------------------------------------------------

    def _accrue(self, price: int, timestamp: int) -> int:
        if timestamp != self.last_funding_time:
            self.funding_index = self._index_at(price, timestamp)
            self.last_funding_time = timestamp
        return self.funding_index

    def _fund_apply(self, amount: int) -> None:
        if amount > 0:
            repaid = min(amount, self.bad_debt)
            self.bad_debt -= repaid
            self.insurance_fund += amount - repaid
        elif amount < 0:
            if -amount <= self.insurance_fund:
                self.insurance_fund += amount
            else:
                self.bad_debt += -amount - self.insurance_fund
                self.insurance_fund = 0

    def _transfer(self, sender: str, to: str, amount: int) -> None:
        if to == ZERO_ADDRESS:
            raise Revert("erc20: transfer to zero address")
        if self.balances.get(sender, 0) < amount:
            raise Revert("erc20: insufficient balance")
        self.balances[sender] -= amount
        self.balances[to] = self.balances.get(to, 0) + amount

    def deposit_margin(self, sender: str, amount: int, timestamp: int) -> None:
        """``depositMargin(amount)`` sent by `sender`."""
        if amount <= 0:
            raise Revert("perp: zero amount")
        self._transfer(sender, self.address, amount)
        self.positions.setdefault(sender, Position()).margin += amount
        self.total_margin += amount

    def withdraw_margin(self, sender: str, amount: int, timestamp: int) -> None:
        """``withdrawMargin(amount)`` sent by `sender`."""
        if amount <= 0:
            raise Revert("perp: zero amount")
        pos = self.position(sender)
        if amount > pos.margin:
            raise Revert("perp: insufficient margin")
        if pos.size != 0:
            price = self.oracle_price(timestamp)
            index = self._index_at(price, timestamp)
            equity = self._equity(pos, price, index) - amount
            if equity < self._requirement(pos.size, price, self.params.initial_margin_bps):
                raise Revert("perp: insufficient margin")
        self._transfer(self.address, sender, amount)
        self.positions[sender].margin -= amount
        self.total_margin -= amount

    def modify_position(
        self,
        sender: str,
        size_delta: int,
        acceptable_price: int,
        timestamp: int,
        deadline: int = MAX_UINT256,
    ) -> Trade:
        """``modifyPosition(size_delta, acceptable_price, deadline)`` sent by `sender`."""
        if timestamp > deadline:
            raise Revert("perp: expired")
        if size_delta == 0:
            raise Revert("perp: zero size")
        price = self.oracle_price(timestamp)
        index = self._index_at(price, timestamp)
        pos = self.position(sender)
        new_size = pos.size + size_delta
        increasing = abs(new_size) > abs(pos.size) or pos.size * new_size < 0
        p = self.params
        if increasing and abs(new_size) > p.max_position_size:
            raise Revert("perp: position too large")
        long_oi = self.long_oi - max(pos.size, 0) + max(new_size, 0)
        short_oi = self.short_oi - max(-pos.size, 0) + max(-new_size, 0)
        if not (
            (long_oi <= p.max_open_interest or long_oi <= self.long_oi)
            and (short_oi <= p.max_open_interest or short_oi <= self.short_oi)
        ):
            raise Revert("perp: open interest cap")
        fill = self._fill(price, size_delta)
        if (size_delta > 0 and fill > acceptable_price) or (
            size_delta < 0 and fill < acceptable_price
        ):
            raise Revert("perp: price exceeds acceptable")
        fee = self._fee(size_delta, fill)
        realised = self._floor_quote(
            pos.size * (fill - pos.last_price - (index - pos.last_funding_index))
        )
        margin = pos.margin + realised - fee
        if margin < 0:
            raise Revert("perp: insufficient margin")
        if new_size != 0:
            ratio = p.initial_margin_bps if increasing else p.maintenance_margin_bps
            if margin < self._requirement(new_size, price, ratio):
                raise Revert("perp: insufficient margin")

        self._accrue(price, timestamp)
        self.positions[sender] = Position(new_size, margin, fill, index)
        self.long_oi, self.short_oi = long_oi, short_oi
        self.total_margin += margin - pos.margin
        self._fund_apply(fee - realised)
        return Trade(fill, fee, realised, margin, new_size)

    def liquidate(self, sender: str, account: str, timestamp: int) -> Liquidation:
        """``liquidate(account)`` sent by `sender`; returns what happened."""
        price = self.oracle_price(timestamp)
        index = self._index_at(price, timestamp)
        pos = self.position(account)
        if pos.size == 0:
            raise Revert("perp: no position")
        equity = self._equity(pos, price, index)
        p = self.params
        if equity >= self._requirement(pos.size, price, p.maintenance_margin_bps):
            raise Revert("perp: not liquidatable")
        notional = self._floor_quote(abs(pos.size) * price)
        reward = min(
            notional * p.liquidation_reward_bps // BPS, p.liquidation_reward_cap, max(equity, 0)
        )
        deficit = max(-equity, 0)
        # The reward leaves the market's balance: check it first, as the ERC20 would.
        if reward > 0 and self.balances[self.address] < reward:
            raise Revert("erc20: insufficient balance")
        self._accrue(price, timestamp)
        if pos.size > 0:
            self.long_oi -= pos.size
        else:
            self.short_oi += pos.size
        self.positions[account] = Position()
        self.total_margin -= pos.margin
        self._fund_apply(pos.margin - reward)
        if reward > 0:
            self._transfer(self.address, sender, reward)
        return Liquidation(pos.size, price, reward, deficit)

    def fund_insurance(self, sender: str, amount: int, timestamp: int) -> None:
        """``fundInsurance(amount)`` sent by `sender`: repays bad debt first."""
        if amount <= 0:
            raise Revert("perp: zero amount")
        self._transfer(sender, self.address, amount)
        self._fund_apply(amount)

    # -- owner -----------------------------------------------------------------------------

    def _only_owner(self, sender: str) -> None:
        if sender != self.owner:
            raise Revert("perp: not owner")

    # -- keeper ----------------------------------------------------------------------------

    def venue_state(self, timestamp: int) -> VenueState:
        """The on-chain figures `hedge_cost` needs, read at `timestamp`."""
        return VenueState(
            price=self.oracle_price(timestamp),
            skew=self.skew,
            skew_scale=self.params.skew_scale,
            taker_fee_bps=self.params.taker_fee_bps,
            max_funding_rate=self.params.max_funding_rate,
            quote_decimals=self.quote_decimals,
        )


# --- venue cost model ---------------------------------------------------------------------


class VenueState(NamedTuple):
    """What the cost model reads from the market (all from public views).

    Attributes:
        price: ``oraclePrice()``, wad.
        skew: ``skew()``, wad base units.
        skew_scale: ``skewScale()``, wad base units.
        taker_fee_bps: ``takerFeeBps()``.
        max_funding_rate: ``maxFundingRate()``, wad per day.
        quote_decimals: decimals of ``quoteToken()``.
    """

    price: int
    skew: int
    skew_scale: int
    taker_fee_bps: int
    max_funding_rate: int
    quote_decimals: int = 6


class HedgeCost(NamedTuple):
    """Cost of a hedge, quote base units; > 0 is a cost, < 0 a gain (e.g. an impact rebate
    for a trade that reduces the skew, or funding received)."""

    fee: int
    impact: int
    expected_funding: int
    gas: int
    total: int


def hedge_cost(
    state: VenueState,
    size: int,
    horizon_seconds: int,
    gas_price_wei: int,
    eth_price: int,
    *,
    gas_used: int = GAS_MODIFY_POSITION,
) -> HedgeCost:
    """Cost of trading signed `size` now on the venue and holding it for a horizon.

    - fee: the contract's taker fee, ``ceil(|q| * fill * bps / (WAD * 10_000 * qs))``;
    - impact: ``ceil(q * (fill - oracle) / (WAD * qs))``, what the fill price costs against
      the oracle (fill from the skew premium, exactly as ``fillPrice(q)``);
    - expected_funding: funding a position of size q pays over `horizon_seconds` if the skew
      stays at ``skew + q`` and the oracle price stays put:
      ``floor(q * trunc(rate * price * T / (WAD * DAY)) / (WAD * qs))`` with ``rate`` the
      contract's funding rate at the post-trade skew, exactly the contract's accrual;
    - gas: ``gas_used * gas_price_wei`` wei at `eth_price`, floored to quote units.

    Here ``qs = 10**(18 - quote_decimals)``. Fee and impact equal what executing the trade
    on a fresh account takes from its equity, to the unit.

    Args:
        state: the venue's figures (`PerpMarket.venue_state` or the contract's views).
        size: signed size to trade, wad base units (> 0 buys).
        horizon_seconds: how long the hedge is held, seconds.
        gas_price_wei: gas price, wei per gas.
        eth_price: price of the gas token, wad quote per ETH.
        gas_used: gas of the transaction (default `GAS_MODIFY_POSITION`).

    Returns:
        `HedgeCost` in quote base units.

    Raises:
        Revert: ``"perp: invalid fill price"`` where the contract would refuse the trade.
    """
    qs = 10 ** (18 - state.quote_decimals)
    price = state.price
    fill = price + tdiv(price * (2 * state.skew + size), 2 * state.skew_scale)
    if fill <= 0:
        raise Revert("perp: invalid fill price")
    fee = ceil_div(abs(size) * fill * state.taker_fee_bps, WAD * qs * BPS)
    impact = -((-size * (fill - price)) // (WAD * qs))
    cap = state.max_funding_rate
    rate = max(min(tdiv((state.skew + size) * cap, state.skew_scale), cap), -cap)
    index_delta = tdiv(rate * price * horizon_seconds, WAD * DAY)
    expected_funding = -((-size * index_delta) // (WAD * qs))
    gas = gas_used * gas_price_wei * eth_price // (WAD * qs)
    return HedgeCost(fee, impact, expected_funding, gas, fee + impact + expected_funding + gas)

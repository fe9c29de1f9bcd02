# pragma version ~=0.4.3
"""
@title ammlab perpetual future
@notice A single-asset perpetual future margined in a quote token (USDC-like), marked
        to a Chainlink-style oracle. It is the keeper's hedging venue, so its costs are
        explicit and measurable:
        - price impact from the open-interest skew (Synthetix PerpsV2's premium):
          premium = skew / skewScale, and a trade of size q fills at
          fill = oracle * (1 + (premium_before + premium_after) / 2)
               = oracle + oracle * (2 * skew + q) / (2 * skewScale);
        - a taker fee of `takerFeeBps` of the filled notional, paid to the insurance fund;
        - funding at rate = clamp(skew / skewScale, -1, 1) * maxFundingRate per day,
          accrued continuously into a cumulative index per unit of size (longs pay
          shorts when skew > 0) and settled on every position change.

        Accounting. The insurance fund is the market's counterparty for the net skew:
        every realised P&L, funding payment, fee and liquidation remainder moves between
        one margin account and the fund. When the fund cannot pay, the shortfall is
        recorded as `badDebt` (never minted); later inflows repay bad debt first. So,
        token donations aside, the identity
            quote.balanceOf(self) == totalMargin + insuranceFund - badDebt
        holds after every transaction.

        Positions are re-marked on every change (as in PerpsV2): the P&L since the last
        price and the funding since the last index are realised into margin, and the
        whole new size takes the fill price as its `lastPrice`.

        Units: sizes are base units in wad (1e18 = one unit of the asset, signed: > 0
        long); prices are wad quote per base unit (1e18 = 1 USD); margins, fees,
        rewards, the insurance fund and bad debt are quote-token base units (10**6 per
        USD for a 6-decimal token); the funding index is wad quote per unit of size;
        funding rates are wad per day; ratios and fees are basis points; times seconds.
        Every conversion from wad value to quote units rounds in the market's favour
        (floor of what a trader is owed, ceiling of what a trader owes).
@custom:revert-strings "perp: ..."
"""

from ethereum.ercs import IERC20


interface IERC20Decimals:
    def decimals() -> uint8: view


interface AggregatorV3:
    def decimals() -> uint8: view
    def latestRoundData() -> (uint80, int256, uint256, uint256, uint80): view


# @dev One unit in wad fixed point.
WAD: constant(int256) = 10**18
# @dev Basis points in one unit.
BPS: constant(uint256) = 10_000
# @dev Seconds in one funding period (rates are per day).
DAY: constant(int256) = 86_400
# @dev Largest taker fee, bps (1 %).
MAX_TAKER_FEE_BPS: constant(uint256) = 100
# @dev Largest funding rate at full skew, wad per day (100 % a day).
MAX_FUNDING_RATE: constant(uint256) = 10**18
# @dev Longest accepted oracle staleness limit, seconds.
MAX_ORACLE_DELAY: constant(uint256) = 86_400
# @dev Bound on every size parameter (caps, skew scale), wad base units: keeps every
#      product below 2**255 for oracle prices up to 1e30 wad.
MAX_SIZE: constant(uint256) = 10**30

struct Position:
    size: int256
    margin: uint256
    lastPrice: uint256
    lastFundingIndex: int256


# @dev Margin token and price feed.
quoteToken: public(immutable(address))
priceFeed: public(immutable(address))
# @dev Wad per quote base unit (10**(18 - quote decimals)) and per feed unit.
QUOTE_SCALE: immutable(int256)
FEED_SCALE: immutable(int256)

# @dev Parameter admin.
owner: public(address)

# @dev Parameters (see `__init__`).
maxOracleDelay: public(uint256)
skewScale: public(uint256)
takerFeeBps: public(uint256)
maxFundingRate: public(uint256)
initialMarginBps: public(uint256)
maintenanceMarginBps: public(uint256)
liquidationRewardBps: public(uint256)
liquidationRewardCap: public(uint256)
maxOpenInterest: public(uint256)
maxPositionSize: public(uint256)

# @dev Market state.
_positions: HashMap[address, Position]
longOpenInterest: public(uint256)
shortOpenInterest: public(uint256)
fundingIndex: public(int256)
lastFundingTime: public(uint256)
totalMargin: public(uint256)
insuranceFund: public(uint256)
badDebt: public(uint256)


event MarginTransferred:
    account: indexed(address)
    delta: int256


event PositionModified:
    account: indexed(address)
    sizeDelta: int256
    size: int256
    fillPrice: uint256
    fee: uint256
    margin: uint256
    fundingIndex: int256


event PositionLiquidated:
    account: indexed(address)
    liquidator: indexed(address)
    size: int256
    price: uint256
    reward: uint256
    deficit: uint256


event FundingAccrued:
    fundingIndex: int256
    fundingRate: int256
    timestamp: uint256


event InsuranceFundChanged:
    delta: int256
    insuranceFund: uint256
    badDebt: uint256


event ParameterUpdated:
    name: String[32]
    value: uint256


event OwnershipTransferred:
    previous_owner: indexed(address)
    new_owner: indexed(address)


@deploy
def __init__(
    quote_token: address,
    feed: address,
    max_oracle_delay: uint256,
    skew_scale: uint256,
    taker_fee_bps: uint256,
    max_funding_rate: uint256,
    initial_margin_bps: uint256,
    maintenance_margin_bps: uint256,
    liquidation_reward_bps: uint256,
    liquidation_reward_cap: uint256,
    max_open_interest: uint256,
    max_position_size: uint256,
):
    """
    @param quote_token Margin token (<= 18 decimals), e.g. a 6-decimal USDC.
    @param feed AggregatorV3 price feed of the asset in quote (<= 18 decimals).
    @param max_oracle_delay Oldest accepted oracle answer, seconds, 1..86_400
           (default 3_600).
    @param skew_scale Skew at which the premium is 100 %, wad base units, 1..1e30
           (default 1_000_000e18).
    @param taker_fee_bps Fee on filled notional, bps, <= 100 (default 5).
    @param max_funding_rate Funding rate at |skew| >= skewScale, wad per day, <= 1e18
           (default 1e16 = 1 % a day).
    @param initial_margin_bps Margin to open or grow a position, bps of oracle
           notional, maintenance < initial <= 10_000 (default 1_000, 10x).
    @param maintenance_margin_bps Liquidation threshold, bps of oracle notional, > 0
           (default 500).
    @param liquidation_reward_bps Liquidator reward, bps of oracle notional,
           < maintenance (default 100).
    @param liquidation_reward_cap Largest liquidator reward, quote base units
           (default 1_000e6).
    @param max_open_interest Cap on each side's open interest, wad base units, <= 1e30
           (default 100_000e18).
    @param max_position_size Cap on one account's |size|, wad base units, <= 1e30
           (default 10_000e18).
    """
    assert quote_token != empty(address) and feed != empty(address), "perp: zero address"
    quote_decimals: uint256 = convert(staticcall IERC20Decimals(quote_token).decimals(), uint256)
    feed_decimals: uint256 = convert(staticcall AggregatorV3(feed).decimals(), uint256)
    assert quote_decimals <= 18 and feed_decimals <= 18, "perp: too many decimals"
    quoteToken = quote_token
    priceFeed = feed
    QUOTE_SCALE = convert(10 ** (18 - quote_decimals), int256)
    FEED_SCALE = convert(10 ** (18 - feed_decimals), int256)
    self.owner = msg.sender
    self.lastFundingTime = block.timestamp
    log OwnershipTransferred(previous_owner=empty(address), new_owner=msg.sender)
    self._set_oracle_delay(max_oracle_delay)
    self._set_skew_scale(skew_scale)
    self._set_taker_fee(taker_fee_bps)
    self._set_funding_rate(max_funding_rate)
    self._set_margin_ratios(initial_margin_bps, maintenance_margin_bps)
    self._set_liquidation_reward(liquidation_reward_bps, liquidation_reward_cap)
    self._set_caps(max_open_interest, max_position_size)


# --- trader functions ---------------------------------------------------------------------


@external
@nonreentrant
def depositMargin(amount: uint256):
    """
    @notice Move `amount` quote base units from the caller into its margin account
            (needs an allowance). Does not touch the position.
    """
    assert amount > 0, "perp: zero amount"
    self._positions[msg.sender].margin += amount
    self.totalMargin += amount
    assert extcall IERC20(quoteToken).transferFrom(
        msg.sender, self, amount, default_return_value=True
    ), "perp: transfer failed"
    log MarginTransferred(account=msg.sender, delta=convert(amount, int256))


@external
@nonreentrant
def withdrawMargin(amount: uint256):
    """
    @notice Send `amount` quote base units of the caller's margin back to it. With an
            open position the remaining equity must still cover the initial margin.
    """
    assert amount > 0, "perp: zero amount"
    pos: Position = self._positions[msg.sender]
    assert amount <= pos.margin, "perp: insufficient margin"
    if pos.size != 0:
        price: int256 = self._oracle_price()
        index: int256 = self._current_index(price)
        equity: int256 = self._equity(pos, price, index) - convert(amount, int256)
        required: int256 = self._requirement(pos.size, price, self.initialMarginBps)
        assert equity >= required, "perp: insufficient margin"
    self._positions[msg.sender].margin = unsafe_sub(pos.margin, amount)
    self.totalMargin -= amount
    assert extcall IERC20(quoteToken).transfer(
        msg.sender, amount, default_return_value=True
    ), "perp: transfer failed"
    log MarginTransferred(account=msg.sender, delta=-convert(amount, int256))


@external
@nonreentrant
def modifyPosition(
    size_delta: int256, acceptable_price: uint256, deadline: uint256 = max_value(uint256)
) -> uint256:
    """
    @notice Trade `size_delta` (wad base units, > 0 buys) at the skew-adjusted fill
            price, paying the taker fee from margin.
    @dev Realises the P&L since `lastPrice` (at the fill price) and the funding since
         `lastFundingIndex` into margin, then re-marks the whole position at the fill
         price. A trade that grows risk (|size| up, or a flip) must leave the initial
         margin; one that reduces it, the maintenance margin; closing needs neither.
    @param size_delta Signed size to trade, wad base units, != 0.
    @param acceptable_price Worst fill price, wad: the highest for a buy, the lowest for
           a sell (the keeper's slippage guard).
    @param deadline Latest block timestamp, seconds (default: none).
    @return The fill price, wad quote per base unit.
    """
    assert block.timestamp <= deadline, "perp: expired"
    assert size_delta != 0, "perp: zero size"
    price: int256 = self._oracle_price()
    index: int256 = self._accrue_funding(price)
    pos: Position = self._positions[msg.sender]
    new_size: int256 = pos.size + size_delta

    # Caps apply to growth only, so a lowered cap never traps a position.
    increasing: bool = abs(new_size) > abs(pos.size) or (pos.size > 0 and new_size < 0) or (
        pos.size < 0 and new_size > 0
    )
    if increasing:
        assert convert(abs(new_size), uint256) <= self.maxPositionSize, "perp: position too large"
    long_oi: uint256 = self.longOpenInterest - convert(max(pos.size, 0), uint256) + convert(
        max(new_size, 0), uint256
    )
    short_oi: uint256 = self.shortOpenInterest - convert(max(-pos.size, 0), uint256) + convert(
        max(-new_size, 0), uint256
    )
    cap: uint256 = self.maxOpenInterest
    assert (long_oi <= cap or long_oi <= self.longOpenInterest) and (
        short_oi <= cap or short_oi <= self.shortOpenInterest
    ), "perp: open interest cap"

    fill: int256 = self._fill_price(price, size_delta)
    if size_delta > 0:
        assert convert(fill, uint256) <= acceptable_price, "perp: price exceeds acceptable"
    else:
        assert convert(fill, uint256) >= acceptable_price, "perp: price exceeds acceptable"

    fee: uint256 = self._fee(size_delta, fill)
    realised: int256 = self._floor_quote(
        pos.size * (fill - convert(pos.lastPrice, int256) - (index - pos.lastFundingIndex))
    )
    margin: int256 = convert(pos.margin, int256) + realised - convert(fee, int256)
    assert margin >= 0, "perp: insufficient margin"
    if new_size != 0:
        ratio: uint256 = self.maintenanceMarginBps
        if increasing:
            ratio = self.initialMarginBps
        assert margin >= self._requirement(new_size, price, ratio), "perp: insufficient margin"

    self._positions[msg.sender] = Position(
        size=new_size,
        margin=convert(margin, uint256),
        lastPrice=convert(fill, uint256),
        lastFundingIndex=index,
    )
    self.longOpenInterest = long_oi
    self.shortOpenInterest = short_oi
    self.totalMargin = convert(convert(self.totalMargin, int256) + margin, uint256) - pos.margin
    self._fund_apply(convert(fee, int256) - realised)
    log PositionModified(
        account=msg.sender,
        sizeDelta=size_delta,
        size=new_size,
        fillPrice=convert(fill, uint256),
        fee=fee,
        margin=convert(margin, uint256),
        fundingIndex=index,
    )
    return convert(fill, uint256)


@external
@nonreentrant
def liquidate(account: address) -> uint256:
    """
    @notice Close `account`'s position at the oracle price when its equity is below the
            maintenance margin; anyone may call.
    @dev The caller earns min(liquidationRewardBps of the oracle notional,
         liquidationRewardCap, the equity left if positive); what remains of the
         margin goes to the insurance fund, and a loss beyond the margin is borne by
         the fund (bad debt when it falls short).
    @return The reward paid to the caller, quote base units.
    """
    price: int256 = self._oracle_price()
    index: int256 = self._accrue_funding(price)
    pos: Position = self._positions[account]
    assert pos.size != 0, "perp: no position"
    equity: int256 = self._equity(pos, price, index)
    assert equity < self._requirement(pos.size, price, self.maintenanceMarginBps), (
        "perp: not liquidatable"
    )

    notional: int256 = self._floor_quote(abs(pos.size) * price)
    reward: int256 = min(
        min(
            notional * convert(self.liquidationRewardBps, int256) // convert(BPS, int256),
            convert(self.liquidationRewardCap, int256),
        ),
        max(equity, 0),
    )
    deficit: uint256 = convert(max(-equity, 0), uint256)

    if pos.size > 0:
        self.longOpenInterest -= convert(pos.size, uint256)
    else:
        self.shortOpenInterest -= convert(-pos.size, uint256)
    self._positions[account] = empty(Position)
    self.totalMargin -= pos.margin
    self._fund_apply(convert(pos.margin, int256) - reward)
    if reward > 0:
        assert extcall IERC20(quoteToken).transfer(
            msg.sender, convert(reward, uint256), default_return_value=True
        ), "perp: transfer failed"
    log PositionLiquidated(
        account=account,
        liquidator=msg.sender,
        size=pos.size,
        price=convert(price, uint256),
        reward=convert(reward, uint256),
        deficit=deficit,
    )
    return convert(reward, uint256)


@external
@nonreentrant
def fundInsurance(amount: uint256):
    """
    @notice Add `amount` quote base units from the caller to the insurance fund
            (repaying bad debt first).
    """
    assert amount > 0, "perp: zero amount"
    self._fund_apply(convert(amount, int256))
    assert extcall IERC20(quoteToken).transferFrom(
        msg.sender, self, amount, default_return_value=True
    ), "perp: transfer failed"


# --- owner --------------------------------------------------------------------------------


@external
def transferOwnership(new_owner: address):
    """
    @notice Hand the parameter admin role to `new_owner`; only the owner.
    """
    self._only_owner()
    assert new_owner != empty(address), "perp: zero address"
    log OwnershipTransferred(previous_owner=self.owner, new_owner=new_owner)
    self.owner = new_owner


@external
def setMaxOracleDelay(max_oracle_delay: uint256):
    """
    @notice Oldest accepted oracle answer, seconds, 1..86_400; only the owner.
    """
    self._only_owner()
    self._set_oracle_delay(max_oracle_delay)


@external
def setSkewScale(skew_scale: uint256):
    """
    @notice Skew scale, wad base units, 1..1e30; accrues funding first; only the owner.
    """
    self._only_owner()
    self._accrue_funding(self._oracle_price())
    self._set_skew_scale(skew_scale)


@external
def setTakerFee(taker_fee_bps: uint256):
    """
    @notice Taker fee, bps of filled notional, <= 100; only the owner.
    """
    self._only_owner()
    self._set_taker_fee(taker_fee_bps)


@external
def setMaxFundingRate(max_funding_rate: uint256):
    """
    @notice Funding rate at full skew, wad per day, <= 1e18; accrues funding first;
            only the owner.
    """
    self._only_owner()
    self._accrue_funding(self._oracle_price())
    self._set_funding_rate(max_funding_rate)


@external
def setMarginRatios(initial_margin_bps: uint256, maintenance_margin_bps: uint256):
    """
    @notice Initial and maintenance margin, bps of notional,
            0 < maintenance < initial <= 10_000, reward < maintenance; only the owner.
    """
    self._only_owner()
    self._set_margin_ratios(initial_margin_bps, maintenance_margin_bps)


@external
def setLiquidationReward(reward_bps: uint256, reward_cap: uint256):
    """
    @notice Liquidator reward, bps of notional (< maintenance) and cap in quote base
            units; only the owner.
    """
    self._only_owner()
    self._set_liquidation_reward(reward_bps, reward_cap)


@external
def setCaps(max_open_interest: uint256, max_position_size: uint256):
    """
    @notice Open interest cap per side and position size cap, wad base units, <= 1e30;
            only the owner.
    """
    self._only_owner()
    self._set_caps(max_open_interest, max_position_size)


# --- views --------------------------------------------------------------------------------


@view
@external
def position(account: address) -> Position:
    """
    @notice (size wad, margin quote units, lastPrice wad, lastFundingIndex wad) of
            `account`, as last settled.
    """
    return self._positions[account]


@view
@external
def equity(account: address) -> int256:
    """
    @notice Margin + unrealised P&L at the oracle price - funding accrued, quote base
            units (floored); may be negative.
    """
    price: int256 = self._oracle_price()
    return self._equity(self._positions[account], price, self._current_index(price))


@view
@external
def liquidatable(account: address) -> bool:
    """
    @notice Whether `liquidate(account)` would succeed now.
    """
    pos: Position = self._positions[account]
    if pos.size == 0:
        return False
    price: int256 = self._oracle_price()
    return self._equity(pos, price, self._current_index(price)) < self._requirement(
        pos.size, price, self.maintenanceMarginBps
    )


@view
@external
def skew() -> int256:
    """
    @notice Long minus short open interest, wad base units.
    """
    return convert(self.longOpenInterest, int256) - convert(self.shortOpenInterest, int256)


@view
@external
def openInterest() -> (uint256, uint256):
    """
    @notice (long, short) open interest, wad base units.
    """
    return (self.longOpenInterest, self.shortOpenInterest)


@view
@external
def fundingRate() -> int256:
    """
    @notice Current funding rate, wad per day (> 0: longs pay shorts).
    """
    return self._funding_rate()


@view
@external
def currentFundingIndex() -> int256:
    """
    @notice Funding index including the funding not yet recorded, wad quote per unit.
    """
    return self._current_index(self._oracle_price())


@view
@external
def oraclePrice() -> uint256:
    """
    @notice The oracle price, wad quote per base unit (reverts if stale).
    """
    return convert(self._oracle_price(), uint256)


@view
@external
def fillPrice(size: int256) -> uint256:
    """
    @notice Price at which a trade of `size` (wad, signed) would fill now, wad.
    """
    return convert(self._fill_price(self._oracle_price(), size), uint256)


@view
@external
def tradeFee(size: int256) -> uint256:
    """
    @notice Taker fee of a trade of `size` now, quote base units.
    """
    return self._fee(size, self._fill_price(self._oracle_price(), size))


# --- internal -----------------------------------------------------------------------------


@view
@internal
def _oracle_price() -> int256:
    round_id: uint80 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in_round: uint80 = 0
    round_id, answer, started_at, updated_at, answered_in_round = staticcall AggregatorV3(priceFeed).latestRoundData()
    assert answer > 0, "perp: invalid oracle price"
    assert block.timestamp <= updated_at + self.maxOracleDelay, "perp: stale oracle"
    return answer * FEED_SCALE


@view
@internal
def _funding_rate() -> int256:
    skew: int256 = convert(self.longOpenInterest, int256) - convert(
        self.shortOpenInterest, int256
    )
    cap: int256 = convert(self.maxFundingRate, int256)
    # Vyper's signed `//` truncates toward zero (EVM SDIV); the twin does the same.
    rate: int256 = skew * cap // convert(self.skewScale, int256)
    return max(min(rate, cap), -cap)


@view
@internal
def _current_index(price: int256) -> int256:
    elapsed: int256 = convert(block.timestamp - self.lastFundingTime, int256)
    return self.fundingIndex + self._funding_rate() * price * elapsed // (WAD * DAY)


@internal
def _accrue_funding(price: int256) -> int256:
    index: int256 = self.fundingIndex
    if block.timestamp == self.lastFundingTime:
        return index
    rate: int256 = self._funding_rate()
    index = self._current_index(price)
    self.fundingIndex = index
    self.lastFundingTime = block.timestamp
    log FundingAccrued(fundingIndex=index, fundingRate=rate, timestamp=block.timestamp)
    return index


@view
@internal
def _fill_price(price: int256, size: int256) -> int256:
    skew: int256 = convert(self.longOpenInterest, int256) - convert(
        self.shortOpenInterest, int256
    )
    fill: int256 = price + price * (2 * skew + size) // (2 * convert(self.skewScale, int256))
    assert fill > 0, "perp: invalid fill price"
    return fill


@view
@internal
def _fee(size: int256, fill: int256) -> uint256:
    # Ceiling of |size| * fill * bps / (WAD * BPS * QUOTE_SCALE).
    numerator: uint256 = convert(abs(size) * fill, uint256) * self.takerFeeBps
    denominator: uint256 = convert(WAD * QUOTE_SCALE, uint256) * BPS
    return (numerator + denominator - 1) // denominator


@view
@internal
def _floor_quote(amount: int256) -> int256:
    # Floor of amount / (WAD * QUOTE_SCALE): wad * wad -> quote base units, rounded down.
    denominator: int256 = WAD * QUOTE_SCALE
    quotient: int256 = amount // denominator
    if amount < 0 and quotient * denominator != amount:
        quotient -= 1
    return quotient


@view
@internal
def _requirement(size: int256, price: int256, ratio_bps: uint256) -> int256:
    # Ceiling of |size| * price * ratio / (WAD * BPS * QUOTE_SCALE), quote base units.
    denominator: int256 = WAD * QUOTE_SCALE * convert(BPS, int256)
    return (abs(size) * price * convert(ratio_bps, int256) + denominator - 1) // denominator


@view
@internal
def _equity(pos: Position, price: int256, index: int256) -> int256:
    return convert(pos.margin, int256) + self._floor_quote(
        pos.size * (price - convert(pos.lastPrice, int256) - (index - pos.lastFundingIndex))
    )


@internal
def _fund_apply(amount: int256):
    """
    @dev Move `amount` quote base units into (> 0) or out of (< 0) the insurance fund;
         inflows repay bad debt first, outflows beyond the fund become bad debt.
    """
    if amount == 0:
        return
    fund: uint256 = self.insuranceFund
    debt: uint256 = self.badDebt
    if amount > 0:
        inflow: uint256 = convert(amount, uint256)
        repaid: uint256 = min(inflow, debt)
        debt = unsafe_sub(debt, repaid)
        fund += unsafe_sub(inflow, repaid)
    else:
        outflow: uint256 = convert(-amount, uint256)
        if outflow <= fund:
            fund = unsafe_sub(fund, outflow)
        else:
            debt += unsafe_sub(outflow, fund)
            fund = 0
    self.insuranceFund = fund
    self.badDebt = debt
    log InsuranceFundChanged(delta=amount, insuranceFund=fund, badDebt=debt)


@view
@internal
def _only_owner():
    assert msg.sender == self.owner, "perp: not owner"


@internal
def _set_oracle_delay(new_value: uint256):
    assert new_value > 0 and new_value <= MAX_ORACLE_DELAY, "perp: invalid oracle delay"
    self.maxOracleDelay = new_value
    log ParameterUpdated(name="maxOracleDelay", value=new_value)


@internal
def _set_skew_scale(new_value: uint256):
    assert new_value > 0 and new_value <= MAX_SIZE, "perp: invalid skew scale"
    self.skewScale = new_value
    log ParameterUpdated(name="skewScale", value=new_value)


@internal
def _set_taker_fee(new_value: uint256):
    assert new_value <= MAX_TAKER_FEE_BPS, "perp: fee too high"
    self.takerFeeBps = new_value
    log ParameterUpdated(name="takerFeeBps", value=new_value)


@internal
def _set_funding_rate(new_value: uint256):
    assert new_value <= MAX_FUNDING_RATE, "perp: funding rate too high"
    self.maxFundingRate = new_value
    log ParameterUpdated(name="maxFundingRate", value=new_value)


@internal
def _set_margin_ratios(initial_bps: uint256, maintenance_bps: uint256):
    assert (
        maintenance_bps > self.liquidationRewardBps
        and maintenance_bps < initial_bps
        and initial_bps <= BPS
    ), "perp: invalid margin ratios"
    self.initialMarginBps = initial_bps
    self.maintenanceMarginBps = maintenance_bps
    log ParameterUpdated(name="initialMarginBps", value=initial_bps)
    log ParameterUpdated(name="maintenanceMarginBps", value=maintenance_bps)


@internal
def _set_liquidation_reward(reward_bps: uint256, reward_cap: uint256):
    assert reward_bps < self.maintenanceMarginBps, "perp: reward too high"
    self.liquidationRewardBps = reward_bps
    self.liquidationRewardCap = reward_cap
    log ParameterUpdated(name="liquidationRewardBps", value=reward_bps)
    log ParameterUpdated(name="liquidationRewardCap", value=reward_cap)


@internal
def _set_caps(max_open_interest: uint256, max_position_size: uint256):
    assert max_open_interest <= MAX_SIZE and max_position_size <= MAX_SIZE, "perp: cap too large"
    self.maxOpenInterest = max_open_interest
    self.maxPositionSize = max_position_size
    log ParameterUpdated(name="maxOpenInterest", value=max_open_interest)
    log ParameterUpdated(name="maxPositionSize", value=max_position_size)

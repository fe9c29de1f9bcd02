# pragma version ~=0.4.3
# pragma optimize codesize
# pragma experimental-codegen
"""
@title ammlab options pool
@custom:contract-name OptionsPool
@license MIT
@notice A Lyra-style options AMM on one asset, cash-settled in a quote token (USDC-like).
        LPs deposit the quote token for pool shares; traders buy options from the pool or
        sell them to it, on boards (an expiry and a base IV) of strikes (each with a skew
        ratio), priced with the `BlackScholes` module on the oracle spot.

        Pricing of a trade of `amount` options (Lyra's OptionMarketPricer, simplified):
        - IV impact: move = amount * ivImpact / standardSize and
          skewMove = amount * skewImpact / standardSize; a buy (the trader buys) raises the
          board's base IV by `move` and the strike's skew by `skewMove`, a sell lowers them.
          The trade is priced at the post-trade IV = newBaseIv * newSkew. Both must stay in
          [minBaseIv, maxBaseIv] and [minSkew, maxSkew] (the circuit breaker).
        - price = BS(spot, strike, expiry - now, IV, rate 0), a call's capped at
          callCap * strike (its largest payoff); base = price * amount.
        - fee = optionPriceFee * base + spotPriceFee * spot * amount + vega fee, where the
          vega fee (Lyra's vega-utilisation fee) is charged only when the trade grows the
          pool's |net vega| on the board: vegaUtil = IV * |post-trade net vega| / assets
          and fee = vegaFee * vegaUtil * amount. Post-trade net vega is first order: the
          pre-trade net vega of the board at its current IVs plus the change of the pool's
          position times the traded option's vega at the trade IV; assets =
          poolBalance + hedgeCapital. This is also the pool's inventory rule: flow that
          reduces the pool's vega risk pays no vega fee, flow that adds to it pays more the
          larger the book already is.
        - a buyer pays base + fee (rounded up to a quote unit); a seller receives
          max(base - fee, 0) (rounded down).
        Opening a position also needs the strike's call delta at the trade IV within
        [minDelta, maxDelta] (Lyra's delta cut-off; closes are exempt, so a trader can
        always get out); no trade within `tradingCutoff` of expiry or on a frozen board.

        Collateral. Settlement is in the quote token, so a call's payoff is capped at
        callCap * strike (callCap a board parameter, fixed when the board is listed; the
        default 4 lets a call pay up to spot = 5 * strike). The worst case of one option is
        then callCap * strike for a call and strike for a put. The pool locks the worst case
        of every option traders hold long (`lockedCollateral`, rounded up per strike and
        kind); a trader who sells to the pool locks the worst case of his short position
        (rounded up per position) from his wallet, netted with the premium he receives.
        `poolBalance >= lockedCollateral` after every transaction.

        LP shares. NAV = poolBalance + hedgeCapital + sum over live boards and strikes of
        (options the pool is long - options it is short) * their mark, marked with the
        pool's own Black-Scholes at the current IVs (calls capped, puts by put-call parity
        from the call; within an hour of expiry, or with strike/spot outside [0.2, 5], at
        the intrinsic value on the current spot). Shares are minted at NAV (the first
        deposit gets 10**(18 - quote decimals) share wei per quote unit, so one share is one
        quote token) and burned at NAV, both rounded down. A withdrawal must come out of
        free liquidity (poolBalance - lockedCollateral) or it is refused
        ("options: withdrawal exceeds free liquidity"); there is no queue. Shares are a
        ledger, not transferable.

        Settlement. After expiry anyone calls `settleBoard`: the oracle spot fixes each
        strike's payoff; the pool moves what it owes its longs (rounded up) into
        `payoutReserve`, takes what short traders owe it (rounded down) from their
        collateral and unlocks the board's collateral. Holders then `claim`: longs get their
        payoff (rounded down), shorts their collateral less their payoff (rounded up). The
        roundings leave a few quote wei of dust in the reserves, never a shortfall.

        Hedger. An approved keeper (`hedger`) may move free quote to a hedge account,
        `hedgeCapital <= maxHedgeBps` of (poolBalance + hedgeCapital), and back; NAV counts
        `hedgeCapital` at face value until it is returned.

        Units: option amounts are wad (1e18 = one option on one unit of the asset); spot,
        strikes and option prices are wad quote per unit of the asset; IVs, skews, deltas,
        fee coefficients and callCap are wad ratios (1e18 = 1.0 = 100 %); token amounts
        (premiums, fees, collateral, NAV, reserves) are quote-token base units; share
        amounts are share wei (18 decimals); times in seconds; `maxHedgeBps` in basis points.
        The rate is 0. Greeks: delta in wad units of the asset, gamma wad per quote unit of
        spot (per wad of price), vega wad quote per 1.0 of vol; Greeks ignore the call cap.
@custom:revert-strings "options: ..." (and "bs: ..." from the Black-Scholes domain checks)
"""

from ethereum.ercs import IERC20
from . import BlackScholes


interface IERC20Decimals:
    def decimals() -> uint8: view


interface AggregatorV3:
    def decimals() -> uint8: view
    def latestRoundData() -> (uint80, int256, uint256, uint256, uint80): view


# @dev One unit in wad fixed point.
WAD: constant(uint256) = 10**18
IWAD: constant(int256) = 10**18
# @dev Basis points in one unit.
BPS: constant(uint256) = 10_000
# @dev Most strikes per board and most boards live (listed, not settled) at once: bounds
#      the NAV loop (at most 64 Black-Scholes evaluations).
MAX_STRIKES: constant(uint256) = 8
MAX_BOARDS: constant(uint256) = 8
# @dev The Black-Scholes module's domain: tau in [1 h, 2 years], vol in [1 %, 500 %].
TAU_MIN: constant(uint256) = 3_600
TAU_MAX: constant(uint256) = 63_072_000
VOL_MIN: constant(uint256) = 10**16
VOL_MAX: constant(uint256) = 5 * 10**18
# @dev Parameter bounds (see the setters).
MAX_ORACLE_DELAY: constant(uint256) = 86_400
MAX_TRADING_CUTOFF: constant(uint256) = 30 * 86_400
MAX_SIZE: constant(uint256) = 10**30
MAX_OPTION_PRICE_FEE: constant(uint256) = 2 * 10**17
MAX_SPOT_PRICE_FEE: constant(uint256) = 5 * 10**16
MAX_VEGA_FEE: constant(uint256) = 10**24
MIN_CALL_CAP: constant(uint256) = 10**17
MAX_CALL_CAP: constant(uint256) = 100 * 10**18


struct Board:
    expiry: uint256
    baseIv: uint256
    callCap: uint256
    frozen: bool
    settled: bool
    settlementSpot: uint256
    strikeIds: DynArray[uint256, MAX_STRIKES]


struct Strike:
    boardId: uint256
    strike: uint256
    skew: uint256
    longCall: uint256
    shortCall: uint256
    longPut: uint256
    shortPut: uint256


struct Position:
    longCall: uint256
    shortCall: uint256
    longPut: uint256
    shortPut: uint256


struct PoolState:
    poolBalance: uint256
    lockedCollateral: uint256
    traderCollateral: uint256
    payoutReserve: uint256
    hedgeCapital: uint256
    totalSupply: uint256


struct Pricing:
    premium: uint256
    fee: uint256
    newBaseIv: uint256
    newSkew: uint256
    callDelta: int256


# @dev Quote token and price feed.
quoteToken: public(immutable(address))
priceFeed: public(immutable(address))
# @dev Wad per quote base unit (10**(18 - quote decimals)) and per feed unit.
QUOTE_SCALE: immutable(uint256)
FEED_SCALE: immutable(uint256)

# @dev Parameter admin and the hedging keeper.
owner: public(address)
hedger: public(address)

# @dev Parameters (see `__init__`).
maxOracleDelay: public(uint256)
standardSize: public(uint256)
ivImpact: public(uint256)
skewImpact: public(uint256)
optionPriceFee: public(uint256)
spotPriceFee: public(uint256)
vegaFee: public(uint256)
minDelta: public(uint256)
maxDelta: public(uint256)
tradingCutoff: public(uint256)
minBaseIv: public(uint256)
maxBaseIv: public(uint256)
minSkew: public(uint256)
maxSkew: public(uint256)
maxHedgeBps: public(uint256)

# @dev Pool accounting, quote base units: the pool's own tokens held here, the part of
#      them locked for traders' longs, traders' collateral for their shorts, payoffs of
#      settled boards not yet claimed, and tokens out with the hedger.
poolBalance: public(uint256)
lockedCollateral: public(uint256)
traderCollateral: public(uint256)
payoutReserve: public(uint256)
hedgeCapital: public(uint256)

# @dev Share ledger, share wei.
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])

# @dev Boards and strikes (ids count up from 1) and the ids of the live boards.
_boards: HashMap[uint256, Board]
_strikes: HashMap[uint256, Strike]
_positions: HashMap[address, HashMap[uint256, Position]]
liveBoardIds: public(DynArray[uint256, MAX_BOARDS])
nextBoardId: public(uint256)
nextStrikeId: public(uint256)


event Deposit:
    account: indexed(address)
    amount: uint256
    shares: uint256
    nav: uint256


event Withdraw:
    account: indexed(address)
    amount: uint256
    shares: uint256
    nav: uint256


event BoardAdded:
    boardId: indexed(uint256)
    expiry: uint256
    baseIv: uint256
    callCap: uint256


event StrikeAdded:
    boardId: indexed(uint256)
    strikeId: indexed(uint256)
    strike: uint256
    skew: uint256


event BoardFrozen:
    boardId: indexed(uint256)
    frozen: bool


event Trade:
    trader: indexed(address)
    strikeId: indexed(uint256)
    isCall: bool
    isBuy: bool
    isOpen: bool
    amount: uint256
    premium: uint256
    fee: uint256
    newBaseIv: uint256
    newSkew: uint256


event BoardSettled:
    boardId: indexed(uint256)
    spot: uint256
    owedToLongs: uint256
    receivedFromShorts: uint256


event Claimed:
    holder: indexed(address)
    strikeId: indexed(uint256)
    amount: uint256


event HedgeWithdrawn:
    hedger: indexed(address)
    amount: uint256
    hedgeCapital: uint256


event HedgeReturned:
    hedger: indexed(address)
    amount: uint256
    hedgeCapital: uint256


event ParametersUpdated:
    maxOracleDelay: uint256
    standardSize: uint256
    ivImpact: uint256
    skewImpact: uint256
    optionPriceFee: uint256
    spotPriceFee: uint256
    vegaFee: uint256
    minDelta: uint256
    maxDelta: uint256
    tradingCutoff: uint256
    minBaseIv: uint256
    maxBaseIv: uint256
    minSkew: uint256
    maxSkew: uint256
    maxHedgeBps: uint256


event HedgerChanged:
    previous_hedger: indexed(address)
    new_hedger: indexed(address)


event OwnershipTransferred:
    previous_owner: indexed(address)
    new_owner: indexed(address)


@deploy
def __init__(
    quote_token: address,
    feed: address,
    max_oracle_delay: uint256,
    standard_size: uint256,
    iv_impact: uint256,
    skew_impact: uint256,
    option_price_fee: uint256,
    spot_price_fee: uint256,
    vega_fee: uint256,
    min_delta: uint256,
    max_delta: uint256,
    trading_cutoff: uint256,
):
    """
    @param quote_token Settlement token (<= 18 decimals), e.g. a 6-decimal USDC.
    @param feed AggregatorV3 price feed of the asset in quote (<= 18 decimals).
    @param max_oracle_delay Oldest accepted oracle answer, seconds, 1..86_400
           (default 3_600).
    @param standard_size Trade size that moves IVs by one impact, wad options, 1..1e30
           (default 5e18).
    @param iv_impact Base IV move per standard size, wad vol, <= 1e18 (default 0.01e18,
           one vol point).
    @param skew_impact Skew move per standard size, wad ratio, <= 1e18 (default 0.0075e18,
           Lyra's 0.75 skew adjustment factor of the base IV move).
    @param option_price_fee Fee per unit of option value, wad, <= 0.2e18 (default 0.01e18).
    @param spot_price_fee Fee per unit of spot per option, wad, <= 0.05e18 (default
           0.001e18).
    @param vega_fee Vega-utilisation fee coefficient, wad quote per option per 1.0 of
           utilisation, <= 1e24 (default 1_000e18).
    @param min_delta Lowest call delta to open at, wad, 0 < min < max < 1e18 (default
           0.08e18).
    @param max_delta Highest call delta to open at, wad (default 0.92e18).
    @param trading_cutoff No trading within this many seconds of expiry, 3_600..2_592_000
           (default 21_600).
    @dev IV bounds start at base IV [0.05, 2.5] and skew [0.5, 2.0] (`setIvBounds`), the
         hedge cap at 5_000 bps (`setMaxHedgeBps`), and no hedger (`setHedger`).
    """
    assert quote_token != empty(address) and feed != empty(address), "options: zero address"
    quote_decimals: uint256 = convert(staticcall IERC20Decimals(quote_token).decimals(), uint256)
    feed_decimals: uint256 = convert(staticcall AggregatorV3(feed).decimals(), uint256)
    assert quote_decimals <= 18 and feed_decimals <= 18, "options: too many decimals"
    quoteToken = quote_token
    priceFeed = feed
    QUOTE_SCALE = 10 ** (18 - quote_decimals)
    FEED_SCALE = 10 ** (18 - feed_decimals)
    self.owner = msg.sender
    self.nextBoardId = 1
    self.nextStrikeId = 1
    log OwnershipTransferred(previous_owner=empty(address), new_owner=msg.sender)
    self._set_oracle_delay(max_oracle_delay)
    self._set_impact(standard_size, iv_impact, skew_impact)
    self._set_fees(option_price_fee, spot_price_fee, vega_fee)
    self._set_delta_bounds(min_delta, max_delta)
    self._set_trading_cutoff(trading_cutoff)
    self._set_iv_bounds(5 * 10**16, 25 * 10**17, 5 * 10**17, 2 * WAD)
    self._set_max_hedge(5_000)
    self._log_params()


# --- liquidity providers ------------------------------------------------------------------


@external
@nonreentrant
def deposit(amount: uint256) -> uint256:
    """
    @notice Deposit `amount` quote base units (needs an allowance) for shares at NAV.
    @return Shares minted, share wei.
    """
    assert amount > 0, "options: zero amount"
    supply: uint256 = self.totalSupply
    nav: uint256 = 0
    shares: uint256 = amount * QUOTE_SCALE
    if supply > 0:
        nav = self._nav()
        assert nav > 0, "options: zero nav"
        shares = amount * supply // nav
    assert shares > 0, "options: zero shares"
    self.totalSupply = supply + shares
    self.balanceOf[msg.sender] += shares
    self.poolBalance += amount
    self._pull(msg.sender, amount)
    log Deposit(account=msg.sender, amount=amount, shares=shares, nav=nav)
    return shares


@external
@nonreentrant
def withdraw(shares: uint256) -> uint256:
    """
    @notice Burn `shares` for their NAV in quote base units (rounded down), paid from free
            liquidity only.
    @return Quote base units sent to the caller.
    """
    assert shares > 0, "options: zero shares"
    assert self.balanceOf[msg.sender] >= shares, "options: insufficient shares"
    supply: uint256 = self.totalSupply
    nav: uint256 = self._nav()
    amount: uint256 = shares * nav // supply
    assert amount > 0, "options: zero amount"
    balance: uint256 = self.poolBalance
    assert balance >= self.lockedCollateral + amount, "options: withdrawal exceeds free liquidity"
    self.poolBalance = balance - amount
    self.totalSupply = supply - shares
    self.balanceOf[msg.sender] -= shares
    self._push(msg.sender, amount)
    log Withdraw(account=msg.sender, amount=amount, shares=shares, nav=nav)
    return amount


# --- traders ------------------------------------------------------------------------------


@external
@nonreentrant
def openPosition(
    strike_id: uint256,
    is_call: bool,
    is_long: bool,
    amount: uint256,
    limit_premium: uint256,
    deadline: uint256,
) -> uint256:
    """
    @notice Open (or add to) a long (buy from the pool) or short (sell to the pool) call or
            put position of `amount` wad options on `strike_id`.
    @dev A long pays the premium; a short receives it and locks its worst case
         (callCap * strike per call, strike per put), the two netted into one transfer.
    @param limit_premium Worst premium, quote base units: the most paid for a long, the
           least received for a short.
    @param deadline Latest block timestamp, seconds.
    @return The premium, quote base units.
    """
    return self._trade(msg.sender, strike_id, is_call, is_long, True, amount, limit_premium, deadline)


@external
@nonreentrant
def closePosition(
    strike_id: uint256,
    is_call: bool,
    is_long: bool,
    amount: uint256,
    limit_premium: uint256,
    deadline: uint256,
) -> uint256:
    """
    @notice Close `amount` wad options of the caller's long (sells them to the pool) or
            short (buys them back, unlocking collateral) call or put on `strike_id`.
    @param limit_premium Worst premium, quote base units: the least received when closing a
           long, the most paid when closing a short.
    @param deadline Latest block timestamp, seconds.
    @return The premium, quote base units.
    """
    return self._trade(
        msg.sender, strike_id, is_call, not is_long, False, amount, limit_premium, deadline
    )


@external
@nonreentrant
def settleBoard(board_id: uint256):
    """
    @notice Settle an expired board at the oracle spot; anyone may call.
    """
    board: Board = self._boards[board_id]
    assert board.expiry != 0, "options: unknown board"
    assert not board.settled, "options: board settled"
    assert block.timestamp >= board.expiry, "options: board not expired"
    spot: uint256 = self._spot()
    owed: uint256 = 0
    received: uint256 = 0
    freed: uint256 = 0
    for sid: uint256 in board.strikeIds:
        s: Strike = self._strikes[sid]
        cap_k: uint256 = board.callCap * s.strike // WAD
        cp: uint256 = self._call_payoff(spot, s.strike, cap_k)
        pp: uint256 = self._put_payoff(spot, s.strike)
        owed += self._ceil_quote(s.longCall * cp) + self._ceil_quote(s.longPut * pp)
        received += self._floor_quote(s.shortCall * cp) + self._floor_quote(s.shortPut * pp)
        freed += self._ceil_quote(s.longCall * cap_k) + self._ceil_quote(s.longPut * s.strike)
    self.lockedCollateral -= freed
    self.poolBalance = self.poolBalance + received - owed
    self.payoutReserve += owed
    self.traderCollateral -= received
    self._boards[board_id].settled = True
    self._boards[board_id].settlementSpot = spot
    live: DynArray[uint256, MAX_BOARDS] = self.liveBoardIds
    n: uint256 = len(live)
    for i: uint256 in range(MAX_BOARDS):
        if i >= n:
            break
        if live[i] == board_id:
            live[i] = live[n - 1]
            live.pop()
            break
    self.liveBoardIds = live
    log BoardSettled(boardId=board_id, spot=spot, owedToLongs=owed, receivedFromShorts=received)


@external
@nonreentrant
def claim(strike_id: uint256) -> uint256:
    """
    @notice After settlement, pay the caller's position on `strike_id`: longs their payoff
            (rounded down), shorts their collateral less their payoff (rounded up).
    @return Quote base units sent to the caller.
    """
    s: Strike = self._strikes[strike_id]
    assert s.boardId != 0, "options: unknown strike"
    board: Board = self._boards[s.boardId]
    assert board.settled, "options: board not settled"
    p: Position = self._positions[msg.sender][strike_id]
    assert p.longCall + p.shortCall + p.longPut + p.shortPut > 0, "options: nothing to claim"
    cap_k: uint256 = board.callCap * s.strike // WAD
    cp: uint256 = self._call_payoff(board.settlementSpot, s.strike, cap_k)
    pp: uint256 = self._put_payoff(board.settlementSpot, s.strike)
    to_longs: uint256 = self._floor_quote(p.longCall * cp) + self._floor_quote(p.longPut * pp)
    to_shorts: uint256 = (
        self._ceil_quote(p.shortCall * cap_k)
        - self._ceil_quote(p.shortCall * cp)
        + self._ceil_quote(p.shortPut * s.strike)
        - self._ceil_quote(p.shortPut * pp)
    )
    self.payoutReserve -= to_longs
    self.traderCollateral -= to_shorts
    self._positions[msg.sender][strike_id] = empty(Position)
    amount: uint256 = to_longs + to_shorts
    if amount > 0:
        self._push(msg.sender, amount)
    log Claimed(holder=msg.sender, strikeId=strike_id, amount=amount)
    return amount


# --- hedger -------------------------------------------------------------------------------


@external
@nonreentrant
def withdrawForHedge(amount: uint256):
    """
    @notice Move `amount` quote base units of free liquidity to the hedger; only the
            hedger; hedgeCapital may reach maxHedgeBps of poolBalance + hedgeCapital.
    """
    assert msg.sender == self.hedger, "options: not hedger"
    assert amount > 0, "options: zero amount"
    balance: uint256 = self.poolBalance
    assert balance >= self.lockedCollateral + amount, "options: insufficient free liquidity"
    hedge: uint256 = self.hedgeCapital + amount
    assert hedge * BPS <= (balance + self.hedgeCapital) * self.maxHedgeBps, (
        "options: hedge cap exceeded"
    )
    self.poolBalance = balance - amount
    self.hedgeCapital = hedge
    self._push(msg.sender, amount)
    log HedgeWithdrawn(hedger=msg.sender, amount=amount, hedgeCapital=hedge)


@external
@nonreentrant
def returnFromHedge(amount: uint256):
    """
    @notice The hedger pays `amount` quote base units back (needs an allowance); it repays
            hedgeCapital first and anything beyond is the pool's profit; only the hedger.
    """
    assert msg.sender == self.hedger, "options: not hedger"
    assert amount > 0, "options: zero amount"
    hedge: uint256 = self.hedgeCapital - min(amount, self.hedgeCapital)
    self.hedgeCapital = hedge
    self.poolBalance += amount
    self._pull(msg.sender, amount)
    log HedgeReturned(hedger=msg.sender, amount=amount, hedgeCapital=hedge)


# --- owner --------------------------------------------------------------------------------


@external
def addBoard(expiry: uint256, base_iv: uint256, call_cap: uint256) -> uint256:
    """
    @notice List a board; only the owner.
    @param expiry Expiry timestamp, seconds: after now + tradingCutoff, within 2 years.
    @param base_iv Base IV, wad, within [minBaseIv, maxBaseIv].
    @param call_cap Call payoff cap as a multiple of the strike, wad, [0.1e18, 100e18]
           (default 4e18).
    @return The board id.
    """
    self._only_owner()
    assert expiry > block.timestamp + self.tradingCutoff, "options: bad expiry"
    assert expiry <= block.timestamp + TAU_MAX, "options: bad expiry"
    assert base_iv >= self.minBaseIv and base_iv <= self.maxBaseIv, "options: iv out of bounds"
    assert call_cap >= MIN_CALL_CAP and call_cap <= MAX_CALL_CAP, "options: bad call cap"
    assert len(self.liveBoardIds) < MAX_BOARDS, "options: too many boards"
    board_id: uint256 = self.nextBoardId
    self.nextBoardId = board_id + 1
    self._boards[board_id] = Board(
        expiry=expiry,
        baseIv=base_iv,
        callCap=call_cap,
        frozen=False,
        settled=False,
        settlementSpot=0,
        strikeIds=[],
    )
    self.liveBoardIds.append(board_id)
    log BoardAdded(boardId=board_id, expiry=expiry, baseIv=base_iv, callCap=call_cap)
    return board_id


@external
def addStrike(board_id: uint256, strike: uint256, skew: uint256) -> uint256:
    """
    @notice List a strike on a live board; only the owner.
    @param strike Strike price, wad quote per unit, in [1e12, 1e30].
    @param skew Skew ratio, wad, within [minSkew, maxSkew].
    @return The strike id.
    """
    self._only_owner()
    board: Board = self._boards[board_id]
    assert board.expiry != 0, "options: unknown board"
    assert block.timestamp + self.tradingCutoff < board.expiry, "options: board expired"
    assert strike >= 10**12 and strike <= MAX_SIZE, "options: bad strike"
    assert skew >= self.minSkew and skew <= self.maxSkew, "options: skew out of bounds"
    assert len(board.strikeIds) < MAX_STRIKES, "options: too many strikes"
    strike_id: uint256 = self.nextStrikeId
    self.nextStrikeId = strike_id + 1
    self._strikes[strike_id] = Strike(
        boardId=board_id, strike=strike, skew=skew, longCall=0, shortCall=0, longPut=0, shortPut=0
    )
    self._boards[board_id].strikeIds.append(strike_id)
    log StrikeAdded(boardId=board_id, strikeId=strike_id, strike=strike, skew=skew)
    return strike_id


@external
def setBoardFrozen(board_id: uint256, frozen: bool):
    """
    @notice Freeze or unfreeze trading on a board; only the owner.
    """
    self._only_owner()
    assert self._boards[board_id].expiry != 0, "options: unknown board"
    self._boards[board_id].frozen = frozen
    log BoardFrozen(boardId=board_id, frozen=frozen)


@external
def transferOwnership(new_owner: address):
    """
    @notice Hand the admin role to `new_owner`; only the owner.
    """
    self._only_owner()
    assert new_owner != empty(address), "options: zero address"
    log OwnershipTransferred(previous_owner=self.owner, new_owner=new_owner)
    self.owner = new_owner


@external
def setHedger(new_hedger: address):
    """
    @notice Approve `new_hedger` (empty: none) as the hedging keeper; only the owner.
    """
    self._only_owner()
    log HedgerChanged(previous_hedger=self.hedger, new_hedger=new_hedger)
    self.hedger = new_hedger


@external
def setMaxOracleDelay(max_oracle_delay: uint256):
    """
    @notice Oldest accepted oracle answer, seconds, 1..86_400; only the owner.
    """
    self._only_owner()
    self._set_oracle_delay(max_oracle_delay)
    self._log_params()


@external
def setImpact(standard_size: uint256, iv_impact: uint256, skew_impact: uint256):
    """
    @notice Standard size (wad options, 1..1e30) and the base IV and skew moves per standard
            size (wad, <= 1e18); only the owner.
    """
    self._only_owner()
    self._set_impact(standard_size, iv_impact, skew_impact)
    self._log_params()


@external
def setFees(option_price_fee: uint256, spot_price_fee: uint256, vega_fee: uint256):
    """
    @notice Fee coefficients (wad): of option value (<= 0.2e18), of spot (<= 0.05e18), and
            the vega-utilisation coefficient (<= 1e24); only the owner.
    """
    self._only_owner()
    self._set_fees(option_price_fee, spot_price_fee, vega_fee)
    self._log_params()


@external
def setDeltaBounds(min_delta: uint256, max_delta: uint256):
    """
    @notice Call delta range to open at, wad, 0 < min < max < 1e18; only the owner.
    """
    self._only_owner()
    self._set_delta_bounds(min_delta, max_delta)
    self._log_params()


@external
def setTradingCutoff(trading_cutoff: uint256):
    """
    @notice No trading within this many seconds of expiry, 3_600..2_592_000; only the
            owner.
    """
    self._only_owner()
    self._set_trading_cutoff(trading_cutoff)
    self._log_params()


@external
def setIvBounds(min_base_iv: uint256, max_base_iv: uint256, min_skew: uint256, max_skew: uint256):
    """
    @notice Circuit breaker: base IV and skew ranges, wad, min < max, with every IV they
            allow inside the Black-Scholes domain [1 %, 500 %]; only the owner.
    """
    self._only_owner()
    self._set_iv_bounds(min_base_iv, max_base_iv, min_skew, max_skew)
    self._log_params()


@external
def setMaxHedgeBps(max_hedge_bps: uint256):
    """
    @notice Largest hedgeCapital, bps of poolBalance + hedgeCapital, <= 10_000; only the
            owner.
    """
    self._only_owner()
    self._set_max_hedge(max_hedge_bps)
    self._log_params()


# --- views --------------------------------------------------------------------------------


@view
@external
def nav() -> uint256:
    """
    @notice Net asset value of the pool, quote base units (see the module notice).
    """
    return self._nav()


@view
@external
def utilisation() -> uint256:
    """
    @notice lockedCollateral / (poolBalance + hedgeCapital), wad (0 when empty).
    """
    assets: uint256 = self.poolBalance + self.hedgeCapital
    if assets == 0:
        return 0
    return self.lockedCollateral * WAD // assets


@view
@external
def poolState() -> PoolState:
    """
    @notice The pool's accounting in one call, quote base units and share wei.
    """
    return PoolState(
        poolBalance=self.poolBalance,
        lockedCollateral=self.lockedCollateral,
        traderCollateral=self.traderCollateral,
        payoutReserve=self.payoutReserve,
        hedgeCapital=self.hedgeCapital,
        totalSupply=self.totalSupply,
    )


@view
@external
def boards(board_id: uint256) -> Board:
    """
    @notice A board (expiry s, baseIv wad, callCap wad, frozen, settled, settlementSpot
            wad, strike ids).
    """
    return self._boards[board_id]


@view
@external
def strikes(strike_id: uint256) -> Strike:
    """
    @notice A strike (board id, strike wad, skew wad, traders' long/short call/put open
            interest, wad options).
    """
    return self._strikes[strike_id]


@view
@external
def positions(trader: address, strike_id: uint256) -> Position:
    """
    @notice `trader`'s long/short call/put amounts on `strike_id`, wad options.
    """
    return self._positions[trader][strike_id]


@view
@external
def quote(strike_id: uint256, is_call: bool, is_buy: bool, amount: uint256) -> (uint256, uint256):
    """
    @notice What a trade of `amount` wad options would cost now (is_buy: the trader buys)
            with the same pricing and checks as a trade, except the delta range (opens
            only), positions, collateral and liquidity.
    @return (premium paid or received, quote base units; fee part of it, quote base units,
            rounded down).
    """
    assert amount > 0, "options: zero amount"
    s: Strike = self._strikes[strike_id]
    assert s.boardId != 0, "options: unknown strike"
    board: Board = self._boards[s.boardId]
    self._check_board(board)
    p: Pricing = self._pricing(s, board, is_call, is_buy, amount, self._spot())
    return p.premium, p.fee


@view
@external
def boardGreeks(board_id: uint256) -> (int256, int256, int256, int256):
    """
    @notice The pool's net (delta, gamma, vega, theta) on one board: delta wad asset units,
            gamma wad per quote unit of spot, vega wad quote per 1.0 vol, theta wad quote per
            year of calendar time (long options count +).
    """
    assert self._boards[board_id].expiry != 0, "options: unknown board"
    return self._board_greeks(board_id, self._spot())


@view
@external
def totalGreeks() -> (int256, int256, int256, int256):
    """
    @notice The pool's net (delta, gamma, vega, theta) over every live board (units of
            `boardGreeks`).
    """
    spot: uint256 = self._spot()
    delta: int256 = 0
    gamma: int256 = 0
    vega: int256 = 0
    theta: int256 = 0
    for bid: uint256 in self.liveBoardIds:
        d: int256 = 0
        g: int256 = 0
        v: int256 = 0
        th: int256 = 0
        d, g, v, th = self._board_greeks(bid, spot)
        delta += d
        gamma += g
        vega += v
        theta += th
    return delta, gamma, vega, theta


@view
@external
def spotPrice() -> uint256:
    """
    @notice The oracle spot, wad quote per unit (reverts if stale or not positive).
    """
    return self._spot()


# --- internal -----------------------------------------------------------------------------


@internal
def _trade(
    trader: address,
    strike_id: uint256,
    is_call: bool,
    is_buy: bool,
    is_open: bool,
    amount: uint256,
    limit_premium: uint256,
    deadline: uint256,
) -> uint256:
    assert block.timestamp <= deadline, "options: deadline passed"
    assert amount > 0, "options: zero amount"
    s: Strike = self._strikes[strike_id]
    assert s.boardId != 0, "options: unknown strike"
    board: Board = self._boards[s.boardId]
    self._check_board(board)
    pos: Position = self._positions[trader][strike_id]
    # The trader's side: a buy opens a long or closes a short, a sell the other two.
    is_long_side: bool = is_buy == is_open
    if not is_open:
        held: uint256 = 0
        if is_call and is_long_side:
            held = pos.longCall
        elif is_call:
            held = pos.shortCall
        elif is_long_side:
            held = pos.longPut
        else:
            held = pos.shortPut
        assert held >= amount, "options: position too small"
    p: Pricing = self._pricing(s, board, is_call, is_buy, amount, self._spot())
    if is_open:
        assert p.callDelta >= convert(self.minDelta, int256) and p.callDelta <= convert(
            self.maxDelta, int256
        ), "options: delta out of range"
    if is_buy:
        assert p.premium <= limit_premium, "options: premium above limit"
    else:
        assert p.premium >= limit_premium, "options: premium below limit"

    per_option: uint256 = s.strike
    if is_call:
        per_option = board.callCap * s.strike // WAD
    old_oi: uint256 = 0
    new_oi: uint256 = 0
    old_pos: uint256 = 0
    new_pos: uint256 = 0
    if is_call and is_long_side:
        old_oi = s.longCall
        old_pos = pos.longCall
    elif is_call:
        old_oi = s.shortCall
        old_pos = pos.shortCall
    elif is_long_side:
        old_oi = s.longPut
        old_pos = pos.longPut
    else:
        old_oi = s.shortPut
        old_pos = pos.shortPut
    if is_open:
        new_oi = old_oi + amount
        new_pos = old_pos + amount
    else:
        new_oi = old_oi - amount
        new_pos = old_pos - amount
    if is_call and is_long_side:
        s.longCall = new_oi
        pos.longCall = new_pos
    elif is_call:
        s.shortCall = new_oi
        pos.shortCall = new_pos
    elif is_long_side:
        s.longPut = new_oi
        pos.longPut = new_pos
    else:
        s.shortPut = new_oi
        pos.shortPut = new_pos

    locked: uint256 = self.lockedCollateral
    # Collateral into (+) or out of (-) the trader's lock, quote base units.
    trader_lock: int256 = 0
    if is_long_side:
        locked = (
            locked
            - self._ceil_quote(old_oi * per_option)
            + self._ceil_quote(new_oi * per_option)
        )
    else:
        trader_lock = convert(self._ceil_quote(new_pos * per_option), int256) - convert(
            self._ceil_quote(old_pos * per_option), int256
        )
    balance: uint256 = self.poolBalance
    if is_buy:
        balance += p.premium
    else:
        assert balance >= locked + p.premium, "options: insufficient free liquidity"
        balance -= p.premium
    assert balance >= locked, "options: insufficient free liquidity"

    self.poolBalance = balance
    self.lockedCollateral = locked
    self.traderCollateral = convert(convert(self.traderCollateral, int256) + trader_lock, uint256)
    self._boards[s.boardId].baseIv = p.newBaseIv
    s.skew = p.newSkew
    self._strikes[strike_id] = s
    self._positions[trader][strike_id] = pos

    # The trader pays (+) or receives (-) premium and collateral in one transfer.
    flow: int256 = trader_lock
    if is_buy:
        flow += convert(p.premium, int256)
    else:
        flow -= convert(p.premium, int256)
    if flow > 0:
        self._pull(trader, convert(flow, uint256))
    elif flow < 0:
        self._push(trader, convert(-flow, uint256))
    log Trade(
        trader=trader,
        strikeId=strike_id,
        isCall=is_call,
        isBuy=is_buy,
        isOpen=is_open,
        amount=amount,
        premium=p.premium,
        fee=p.fee,
        newBaseIv=p.newBaseIv,
        newSkew=p.newSkew,
    )
    return p.premium


@view
@internal
def _check_board(board: Board):
    assert not board.frozen, "options: board frozen"
    assert block.timestamp + self.tradingCutoff < board.expiry, "options: board expired"


@view
@internal
def _pricing(
    s: Strike, board: Board, is_call: bool, is_buy: bool, amount: uint256, spot: uint256
) -> Pricing:
    """
    @dev Post-trade IVs, premium and fee of a trade (see the module notice).
    """
    standard: uint256 = self.standardSize
    iv_move: uint256 = amount * self.ivImpact // standard
    skew_move: uint256 = amount * self.skewImpact // standard
    base_iv: uint256 = board.baseIv
    skew: uint256 = s.skew
    if is_buy:
        base_iv += iv_move
        skew += skew_move
    else:
        assert iv_move <= base_iv, "options: iv out of bounds"
        assert skew_move <= skew, "options: skew out of bounds"
        base_iv -= iv_move
        skew -= skew_move
    assert base_iv >= self.minBaseIv and base_iv <= self.maxBaseIv, "options: iv out of bounds"
    assert skew >= self.minSkew and skew <= self.maxSkew, "options: skew out of bounds"
    vol: uint256 = base_iv * skew // WAD
    tau: uint256 = board.expiry - block.timestamp
    price: uint256 = 0
    delta: int256 = 0
    gamma: uint256 = 0
    vega: uint256 = 0
    theta: int256 = 0
    price, delta, gamma, vega, theta = BlackScholes._greeks(spot, s.strike, tau, vol, 0, is_call)
    if is_call:
        price = min(price, board.callCap * s.strike // WAD)
    else:
        delta += IWAD
    base: uint256 = price * amount // WAD
    fee: uint256 = self.optionPriceFee * base // WAD + self.spotPriceFee * spot // WAD * amount // WAD

    # Vega-utilisation fee, only when the trade grows the board's |net vega|.
    pre: int256 = self._board_greeks(s.boardId, spot)[2]
    change: int256 = convert(amount * vega // WAD, int256)
    post: int256 = pre + change
    if is_buy:
        post = pre - change
    assets: uint256 = (self.poolBalance + self.hedgeCapital) * QUOTE_SCALE
    if abs(post) > abs(pre) and assets > 0:
        util: uint256 = vol * convert(abs(post), uint256) // assets
        fee += self.vegaFee * util // WAD * amount // WAD

    premium: uint256 = 0
    if is_buy:
        premium = self._ceil_quote((base + fee) * WAD)
    elif base > fee:
        premium = self._floor_quote((base - fee) * WAD)
    return Pricing(
        premium=premium,
        fee=self._floor_quote(fee * WAD),
        newBaseIv=base_iv,
        newSkew=skew,
        callDelta=delta,
    )


@view
@internal
def _board_greeks(board_id: uint256, spot: uint256) -> (int256, int256, int256, int256):
    board: Board = self._boards[board_id]
    tau: uint256 = 0
    if board.expiry > block.timestamp:
        tau = board.expiry - block.timestamp
    delta: int256 = 0
    gamma: int256 = 0
    vega: int256 = 0
    theta: int256 = 0
    if board.settled:
        return 0, 0, 0, 0
    for sid: uint256 in board.strikeIds:
        s: Strike = self._strikes[sid]
        net_call: int256 = convert(s.shortCall, int256) - convert(s.longCall, int256)
        net_put: int256 = convert(s.shortPut, int256) - convert(s.longPut, int256)
        if net_call == 0 and net_put == 0:
            continue
        m: uint256[6] = self._mark(spot, s.strike, tau, board.baseIv * s.skew // WAD, board.callCap)
        cd: int256 = convert(m[2], int256)
        delta += (net_call * cd + net_put * (cd - IWAD)) // IWAD
        gamma += (net_call + net_put) * convert(m[3], int256) // IWAD
        vega += (net_call + net_put) * convert(m[4], int256) // IWAD
        # A call's and a put's theta are equal at rate 0 (parity), and never positive.
        theta -= (net_call + net_put) * convert(m[5], int256) // IWAD
    return delta, gamma, vega, theta


@view
@internal
def _mark(spot: uint256, strike: uint256, tau: uint256, vol: uint256, call_cap: uint256) -> uint256[6]:
    """
    @dev (call value capped, put value, call delta, gamma, vega, -theta), wad, never
         reverting: Black-Scholes inside its domain (vol clamped to it), else intrinsic on the
         spot. Theta at rate 0 is never positive, so its magnitude fits a uint256.
    """
    cap_k: uint256 = call_cap * strike // WAD
    if tau < TAU_MIN or strike * 5 < spot or strike > 5 * spot:
        cd: uint256 = 0
        if spot > strike:
            cd = WAD
        return [
            self._call_payoff(spot, strike, cap_k), self._put_payoff(spot, strike), cd, 0, 0, 0
        ]
    v: uint256 = min(max(vol, VOL_MIN), VOL_MAX)
    price: uint256 = 0
    delta: int256 = 0
    gamma: uint256 = 0
    vega: uint256 = 0
    theta: int256 = 0
    price, delta, gamma, vega, theta = BlackScholes._greeks(spot, strike, tau, v, 0, True)
    # Put-call parity at rate 0: P = C + K - S.
    put: uint256 = 0
    if price + strike > spot:
        put = price + strike - spot
    return [min(price, cap_k), put, convert(delta, uint256), gamma, vega, convert(-theta, uint256)]


@view
@internal
def _nav() -> uint256:
    nav: int256 = convert((self.poolBalance + self.hedgeCapital) * QUOTE_SCALE, int256)
    spot: uint256 = 0
    for bid: uint256 in self.liveBoardIds:
        board: Board = self._boards[bid]
        tau: uint256 = 0
        if board.expiry > block.timestamp:
            tau = board.expiry - block.timestamp
        for sid: uint256 in board.strikeIds:
            s: Strike = self._strikes[sid]
            net_call: int256 = convert(s.shortCall, int256) - convert(s.longCall, int256)
            net_put: int256 = convert(s.shortPut, int256) - convert(s.longPut, int256)
            if net_call == 0 and net_put == 0:
                continue
            if spot == 0:
                spot = self._spot()
            m: uint256[6] = self._mark(spot, s.strike, tau, board.baseIv * s.skew // WAD, board.callCap)
            nav += (net_call * convert(m[0], int256) + net_put * convert(m[1], int256)) // IWAD
    if nav <= 0:
        return 0
    return convert(nav, uint256) // QUOTE_SCALE


@view
@internal
def _spot() -> uint256:
    round_id: uint80 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in: uint80 = 0
    round_id, answer, started_at, updated_at, answered_in = staticcall AggregatorV3(
        priceFeed
    ).latestRoundData()
    assert answer > 0, "options: invalid oracle answer"
    assert updated_at + self.maxOracleDelay >= block.timestamp, "options: stale oracle"
    return convert(answer, uint256) * FEED_SCALE


@pure
@internal
def _call_payoff(spot: uint256, strike: uint256, cap_k: uint256) -> uint256:
    if spot <= strike:
        return 0
    return min(spot - strike, cap_k)


@pure
@internal
def _put_payoff(spot: uint256, strike: uint256) -> uint256:
    if strike <= spot:
        return 0
    return strike - spot


@view
@internal
def _ceil_quote(x: uint256) -> uint256:
    """
    @dev amount * price (wad * wad) to quote base units, rounded up.
    """
    return (x + WAD * QUOTE_SCALE - 1) // (WAD * QUOTE_SCALE)


@view
@internal
def _floor_quote(x: uint256) -> uint256:
    """
    @dev amount * price (wad * wad) to quote base units, rounded down.
    """
    return x // (WAD * QUOTE_SCALE)


@internal
def _pull(sender: address, amount: uint256):
    assert extcall IERC20(quoteToken).transferFrom(
        sender, self, amount, default_return_value=True
    ), "options: transfer failed"


@internal
def _push(to: address, amount: uint256):
    assert extcall IERC20(quoteToken).transfer(to, amount, default_return_value=True), (
        "options: transfer failed"
    )


@view
@internal
def _only_owner():
    assert msg.sender == self.owner, "options: not owner"


@internal
def _log_params():
    log ParametersUpdated(
        maxOracleDelay=self.maxOracleDelay,
        standardSize=self.standardSize,
        ivImpact=self.ivImpact,
        skewImpact=self.skewImpact,
        optionPriceFee=self.optionPriceFee,
        spotPriceFee=self.spotPriceFee,
        vegaFee=self.vegaFee,
        minDelta=self.minDelta,
        maxDelta=self.maxDelta,
        tradingCutoff=self.tradingCutoff,
        minBaseIv=self.minBaseIv,
        maxBaseIv=self.maxBaseIv,
        minSkew=self.minSkew,
        maxSkew=self.maxSkew,
        maxHedgeBps=self.maxHedgeBps,
    )


@internal
def _set_oracle_delay(max_oracle_delay: uint256):
    assert max_oracle_delay > 0 and max_oracle_delay <= MAX_ORACLE_DELAY, "options: bad oracle delay"
    self.maxOracleDelay = max_oracle_delay


@internal
def _set_impact(standard_size: uint256, iv_impact: uint256, skew_impact: uint256):
    assert standard_size > 0 and standard_size <= MAX_SIZE, "options: bad standard size"
    assert iv_impact <= WAD and skew_impact <= WAD, "options: bad impact"
    self.standardSize = standard_size
    self.ivImpact = iv_impact
    self.skewImpact = skew_impact


@internal
def _set_fees(option_price_fee: uint256, spot_price_fee: uint256, vega_fee: uint256):
    assert (
        option_price_fee <= MAX_OPTION_PRICE_FEE
        and spot_price_fee <= MAX_SPOT_PRICE_FEE
        and vega_fee <= MAX_VEGA_FEE
    ), "options: fee too high"
    self.optionPriceFee = option_price_fee
    self.spotPriceFee = spot_price_fee
    self.vegaFee = vega_fee


@internal
def _set_delta_bounds(min_delta: uint256, max_delta: uint256):
    assert min_delta > 0 and min_delta < max_delta and max_delta < WAD, "options: bad delta bounds"
    self.minDelta = min_delta
    self.maxDelta = max_delta


@internal
def _set_trading_cutoff(trading_cutoff: uint256):
    assert trading_cutoff >= TAU_MIN and trading_cutoff <= MAX_TRADING_CUTOFF, (
        "options: bad trading cutoff"
    )
    self.tradingCutoff = trading_cutoff


@internal
def _set_iv_bounds(min_base_iv: uint256, max_base_iv: uint256, min_skew: uint256, max_skew: uint256):
    assert min_base_iv < max_base_iv and min_skew < max_skew, "options: bad iv bounds"
    assert max_base_iv <= VOL_MAX and max_skew <= 100 * WAD, "options: bad iv bounds"
    assert (
        min_base_iv * min_skew // WAD >= VOL_MIN and max_base_iv * max_skew // WAD <= VOL_MAX
    ), "options: bad iv bounds"
    self.minBaseIv = min_base_iv
    self.maxBaseIv = max_base_iv
    self.minSkew = min_skew
    self.maxSkew = max_skew


@internal
def _set_max_hedge(max_hedge_bps: uint256):
    assert max_hedge_bps <= BPS, "options: bad hedge cap"
    self.maxHedgeBps = max_hedge_bps

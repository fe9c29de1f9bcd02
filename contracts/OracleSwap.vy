# pragma version ~=0.4.3
"""
@title ammlab oracle-priced swap venue
@notice A spot venue that quotes around a Chainlink-style feed instead of a curve, as
        GMX v1's swaps or an RFQ desk do: buying the risky token costs the oracle price
        times (1 + spread), selling it pays the oracle price times (1 - spread). It trades
        against its own inventory of both tokens, which its owner funds by plain transfers.
        Such a venue is exactly what an oracle-latency sniper preys on: while the feed lags
        the market, one side of its quote is stale.

        Rounding: every output is floored (the venue never pays out a fraction it has not
        earned). Refuses a stale or non-positive answer, an output below `minOut`, an
        output beyond its inventory, and an expired deadline.

        Units: token amounts are base units; `spreadBps` is basis points of the oracle
        price; the feed's answer is the price (numeraire per risky) times 10**feedDecimals.
@custom:revert-strings "oswap: ..."
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed


interface IAggregatorV3:
    def latestRoundData() -> (uint80, int256, uint256, uint256, uint80): view
    def decimals() -> uint8: view


BPS: constant(uint256) = 10_000

risky: public(immutable(address))
numeraire: public(immutable(address))
feed: public(immutable(address))
spreadBps: public(immutable(uint256))
maxOracleDelay: public(immutable(uint256))
owner: public(immutable(address))

# @dev 10**(decimals of risky + decimals of the feed) and 10**(decimals of numeraire): the
#      factors that turn (amount, answer) into the other token's base units.
_RISKY_FEED_SCALE: immutable(uint256)
_NUMERAIRE_SCALE: immutable(uint256)


event Swap:
    sender: indexed(address)
    tokenIn: indexed(address)
    amountIn: uint256
    amountOut: uint256
    answer: uint256
    to: address


@deploy
def __init__(
    risky_: address, numeraire_: address, feed_: address, spread_bps: uint256,
    max_oracle_delay: uint256
):
    """
    @param risky_ The risky token (quoted in numeraire).
    @param numeraire_ The numeraire token.
    @param feed_ Price feed of risky in numeraire.
    @param spread_bps Half-spread around the oracle price, basis points (< 10,000).
    @param max_oracle_delay Oldest answer accepted, seconds.
    """
    assert risky_ != numeraire_, "oswap: identical tokens"
    assert spread_bps < BPS, "oswap: spread >= 100%"
    risky = risky_
    numeraire = numeraire_
    feed = feed_
    spreadBps = spread_bps
    maxOracleDelay = max_oracle_delay
    owner = msg.sender
    _RISKY_FEED_SCALE = 10 ** (
        convert(staticcall IERC20Detailed(risky_).decimals(), uint256)
        + convert(staticcall IAggregatorV3(feed_).decimals(), uint256)
    )
    _NUMERAIRE_SCALE = 10 ** convert(staticcall IERC20Detailed(numeraire_).decimals(), uint256)


@view
@internal
def _answer() -> uint256:
    round_id: uint80 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in: uint80 = 0
    round_id, answer, started_at, updated_at, answered_in = staticcall IAggregatorV3(feed).latestRoundData()
    assert answer > 0, "oswap: bad answer"
    assert block.timestamp - updated_at <= maxOracleDelay, "oswap: stale oracle"
    return convert(answer, uint256)


@view
@internal
def _amount_out(token_in: address, amount_in: uint256, answer: uint256) -> uint256:
    if token_in == numeraire:
        # Buy risky at the ask, answer * (1 + spread).
        return amount_in * _RISKY_FEED_SCALE * BPS // (answer * (BPS + spreadBps) * _NUMERAIRE_SCALE)
    assert token_in == risky, "oswap: unknown token"
    # Sell risky at the bid, answer * (1 - spread).
    return amount_in * answer * (BPS - spreadBps) * _NUMERAIRE_SCALE // (_RISKY_FEED_SCALE * BPS)


@view
@external
def quote(tokenIn: address, amountIn: uint256) -> uint256:
    """
    @notice Output of selling `amountIn` of `tokenIn` now (before the inventory check).
    """
    return self._amount_out(tokenIn, amountIn, self._answer())


@external
def swap(tokenIn: address, amountIn: uint256, minOut: uint256, to: address, deadline: uint256) -> uint256:
    """
    @notice Sell `amountIn` of `tokenIn` (pulled from the sender, who must have approved
            this venue) for the other token at the oracle quote; sends the output to `to`.
    @return The output amount.
    """
    assert block.timestamp <= deadline, "oswap: expired"
    assert amountIn > 0, "oswap: zero input"
    answer: uint256 = self._answer()
    out: uint256 = self._amount_out(tokenIn, amountIn, answer)
    assert out > 0, "oswap: zero output"
    assert out >= minOut, "oswap: below minOut"
    token_out: address = risky if tokenIn == numeraire else numeraire
    assert out <= staticcall IERC20(token_out).balanceOf(self), "oswap: out of depth"
    assert extcall IERC20(tokenIn).transferFrom(msg.sender, self, amountIn), "oswap: pull failed"
    assert extcall IERC20(token_out).transfer(to, out), "oswap: push failed"
    log Swap(sender=msg.sender, tokenIn=tokenIn, amountIn=amountIn, amountOut=out, answer=answer, to=to)
    return out


@external
def withdraw(token: address, amount: uint256, to: address):
    """
    @notice The owner takes inventory back.
    """
    assert msg.sender == owner, "oswap: not owner"
    assert extcall IERC20(token).transfer(to, amount), "oswap: push failed"

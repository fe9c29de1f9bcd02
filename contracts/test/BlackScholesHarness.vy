# pragma version ~=0.4.3
"""
@title BlackScholes test harness
@custom:contract-name BlackScholesHarness
@license MIT
@notice Exposes the `BlackScholes` module for tests, the integer-twin parity checks and gas
        measurement. Not part of the protocol: deploy it only in tests and benchmarks.
"""

from .. import BlackScholes

MAX_BATCH: constant(uint256) = 256


struct Option:
    spot: uint256
    strike: uint256
    tau: uint256
    vol: uint256
    rate: int256
    is_call: bool


struct Greeks:
    price: uint256
    delta: int256
    gamma: uint256
    vega: uint256
    theta: int256


@external
@pure
def price(
    spot: uint256, strike: uint256, tau: uint256, vol: uint256, rate: int256, is_call: bool
) -> uint256:
    """
    @notice `BlackScholes._price`: price in quote units, wad.
    """
    return BlackScholes._price(spot, strike, tau, vol, rate, is_call)


@external
@pure
def greeks(
    spot: uint256, strike: uint256, tau: uint256, vol: uint256, rate: int256, is_call: bool
) -> (uint256, int256, uint256, uint256, int256):
    """
    @notice `BlackScholes._greeks`: (price, delta, gamma, vega, theta), wad.
    """
    return BlackScholes._greeks(spot, strike, tau, vol, rate, is_call)


@external
@view
def greeks_gas(
    spot: uint256, strike: uint256, tau: uint256, vol: uint256, rate: int256, is_call: bool
) -> (uint256, uint256):
    """
    @notice Gas used inside the contract by one `_price` and one `_greeks` evaluation
            (measured with `msg.gas`, excluding the transaction and calldata costs).
    """
    g0: uint256 = msg.gas
    p: uint256 = BlackScholes._price(spot, strike, tau, vol, rate, is_call)
    g1: uint256 = msg.gas
    out: (uint256, int256, uint256, uint256, int256) = BlackScholes._greeks(
        spot, strike, tau, vol, rate, is_call
    )
    g2: uint256 = msg.gas
    return g0 - g1, g1 - g2


@external
@pure
def price_batch(options: DynArray[Option, MAX_BATCH]) -> DynArray[uint256, MAX_BATCH]:
    """
    @notice `_price` of every option in `options`.
    """
    out: DynArray[uint256, MAX_BATCH] = []
    for o: Option in options:
        out.append(BlackScholes._price(o.spot, o.strike, o.tau, o.vol, o.rate, o.is_call))
    return out


@external
@pure
def greeks_batch(options: DynArray[Option, MAX_BATCH]) -> DynArray[Greeks, MAX_BATCH]:
    """
    @notice `_greeks` of every option in `options`.
    """
    out: DynArray[Greeks, MAX_BATCH] = []
    p: uint256 = 0
    d: int256 = 0
    g: uint256 = 0
    v: uint256 = 0
    t: int256 = 0
    for o: Option in options:
        p, d, g, v, t = BlackScholes._greeks(o.spot, o.strike, o.tau, o.vol, o.rate, o.is_call)
        out.append(Greeks(price=p, delta=d, gamma=g, vega=v, theta=t))
    return out


@external
@pure
def ln_wad(x: uint256) -> int256:
    """
    @notice `BlackScholes._ln_wad`.
    """
    return BlackScholes._ln_wad(x)


@external
@pure
def exp_wad(x: int256) -> uint256:
    """
    @notice `BlackScholes._exp_wad`.
    """
    return BlackScholes._exp_wad(x)


@external
@pure
def sqrt_wad(x: uint256) -> uint256:
    """
    @notice `BlackScholes._sqrt_wad`.
    """
    return BlackScholes._sqrt_wad(x)


@external
@pure
def ncdf_wad(x: int256) -> uint256:
    """
    @notice `BlackScholes._ncdf_wad`.
    """
    return BlackScholes._ncdf_wad(x)


@external
@pure
def npdf_wad(x: int256) -> uint256:
    """
    @notice `BlackScholes._npdf_wad`.
    """
    return BlackScholes._npdf_wad(x)


@external
@pure
def unary_batch(op: uint256, xs: DynArray[int256, MAX_BATCH]) -> DynArray[int256, MAX_BATCH]:
    """
    @notice Batch of one wad function: op 0 ln (x > 0), 1 exp, 2 sqrt (x >= 0), 3 N, 4 n.
    """
    out: DynArray[int256, MAX_BATCH] = []
    for x: int256 in xs:
        if op == 0:
            out.append(BlackScholes._ln_wad(convert(x, uint256)))
        elif op == 1:
            out.append(convert(BlackScholes._exp_wad(x), int256))
        elif op == 2:
            out.append(convert(BlackScholes._sqrt_wad(convert(x, uint256)), int256))
        elif op == 3:
            out.append(convert(BlackScholes._ncdf_wad(x), int256))
        else:
            out.append(convert(BlackScholes._npdf_wad(x), int256))
    return out

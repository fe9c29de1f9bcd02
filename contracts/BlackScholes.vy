# pragma version ~=0.4.3
"""
@title Black–Scholes fixed-point maths
@custom:contract-name BlackScholes
@license MIT
@notice A Vyper module (import it with `from . import BlackScholes`) with ln, exp, sqrt, the
        standard normal CDF and density, and the Black–Scholes price, delta, gamma, vega and
        theta of European calls and puts.

        Interface units (18-decimal "wad" integers unless said otherwise):
        - `spot`, `strike`: quote units, wad.
        - `tau`: time to expiry in seconds; a year is 365 days (31_536_000 s).
        - `vol`: annualised volatility, wad (0.2e18 = 20 %).
        - `rate`: annualised continuously compounded rate, signed wad (may be 0 or negative).
        - price: quote units, wad, never negative.
        - delta: dV/dS, signed wad (call in [0, 1], put in [-1, 0]).
        - gamma: d2V/dS2, wad per quote unit (1/quote).
        - vega: dV/dsigma per 1.0 of vol (100 vol points), quote units, wad.
        - theta: dV/dt per year of calendar time (= -dV/dT), quote units, signed wad.

        Domain of `_price` and `_greeks` (reverts outside it, with the messages in brackets):
        - spot in [1e-6, 1e12] quote units, i.e. [1e12, 1e30] wei     ("bs: spot out of range")
        - strike/spot in [0.2, 5]                                      ("bs: strike out of range")
        - tau in [1 hour, 2 years] = [3_600, 63_072_000] s             ("bs: time out of range")
        - vol in [1 %, 500 %] = [1e16, 5e18]                           ("bs: vol out of range")
        - |rate| <= 100 % = 1e18                                       ("bs: rate out of range")

        Internals are 27-decimal fixed point ("ray"): every intermediate keeps about 1e-27
        absolute precision, well beyond what the wad outputs can show.
        - ln: range reduction by 2^k, then a [5/5] Padé approximant of atanh in z^2 with integer
          coefficients (|error| <= 2.2e-24).
        - exp: e^x = 2^k e^r, |r| <= ln2/2, [7/7] Padé approximant (relative error <= 3e-23).
        - N(x): W. J. Cody's rational Chebyshev approximations (Math. Comp. 23 (1969) 631-637,
          ACM TOMS 715 ANORM): |error| <= 6.6e-20 absolute and <= 6.5e-19 relative in the
          tails (measured against a 50-digit reference), evaluated in ray.

        Error bounds, beyond the 0.5 wei that rounding to a wad output costs (asserted by
        tests/sim/test_bs_twin.py against Python decimal at 50 digits on a 5,040-point grid and
        random draws; "measured" = scripts/bench_bs.py, 20,000 random draws, seed 1):
        - price: <= 1e-16 relative wherever price > 1e-6 spot (measured max 1.8e-17, median 0).
          So the price meets 1e-12 relative whenever 0.5 wei <= 5e-13 price, e.g. any
          spot >= 1 quote unit (measured raw max 3.1e-13, median 1.3e-20, rounding included).
        - put-call parity: C - P = S - K e^{-rT} to 2 wei with the module's own e^{-rT}
          (exactly S - K when rate = 0), and to 2 wei + 1e-22 K against the true e^{-rT}.
        - delta: <= 1e-18 (measured max 5.5e-19 including the rounding).
        - gamma, vega, theta: <= 1e-15 relative + 1e-25 spot (gamma: 1e-25 / spot) (measured
          2.7e-16 relative, 7.9e-27 spot): the ray density n(d1) is exact to ~1e-27 absolute,
          which limits Greeks that are tiny against the spot (deep in or out of the money).
        Gas (eth_estimateGas per call through the test harness, 21,000 intrinsic included):
        `_price` 29,381, `_greeks` (price + 5 Greeks) 30,297; execution alone 6,950 / 7,867.
        The Python twin `sim/options/bs.py` reproduces every output to the wei.
"""

# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------

WAD: constant(int256) = 10**18
RAY: constant(int256) = 10**27
E9: constant(int256) = 10**9
HALF_E9: constant(int256) = 5 * 10**8
E36: constant(int256) = 10**36
YEAR: constant(int256) = 31_536_000

LN2_RAY: constant(int256) = 693147180559945309417232121
HALF_LN2_RAY: constant(int256) = 346573590279972654708616060
SQRT2_RAY: constant(int256) = 1414213562373095048801688724
SQRT8_RAY: constant(int256) = 2828427124746190097603377448
INV_SQRT_2PI_RAY: constant(int256) = 398942280401432677939946060
EXP_MIN_RAY: constant(int256) = -64 * 10**27
EXP_MAX_RAY: constant(int256) = 100 * 10**27
CDF_Y_MAX: constant(int256) = 11_500_000_000_000_000_000_000_000_000
CDF_Y1: constant(int256) = 674489750000000000000000000
CDF_Y2: constant(int256) = 5656854249492380195206754897

SPOT_MIN: constant(int256) = 10**12
SPOT_MAX: constant(int256) = 10**30
TAU_MIN: constant(int256) = 3_600
TAU_MAX: constant(int256) = 63_072_000
VOL_MIN: constant(int256) = 10**16
VOL_MAX: constant(int256) = 5 * 10**18
RATE_MAX: constant(int256) = 10**18

# Cody's coefficients times 1e27 (exact). Region 1, |x| <= 0.67448975: N = 1/2 + x A(x^2)/B(x^2).
A0: constant(int256) = 2235252035460683928700000000
A1: constant(int256) = 161028231068555878810000000000
A2: constant(int256) = 1067689485460370958200000000000
A3: constant(int256) = 18154981253343561249000000000000
A4: constant(int256) = 65682337918207449113000000
B0: constant(int256) = 47202581904688241870000000000
B1: constant(int256) = 976098551737776693220000000000
B2: constant(int256) = 10260932208618978205000000000000
B3: constant(int256) = 45507789335026729956000000000000
# Region 2, |x| <= sqrt(32): tail = e^{-x^2/2} C(|x|)/D(|x|).
C0: constant(int256) = 398941512088134667640000000
C1: constant(int256) = 8883149794388375941200000000
C2: constant(int256) = 93506656132177855979000000000
C3: constant(int256) = 597270276394800262260000000000
C4: constant(int256) = 2494537585290372671100000000000
C5: constant(int256) = 6848190450536282332600000000000
C6: constant(int256) = 11602651437647350124000000000000
C7: constant(int256) = 9842714838383978021800000000000
C8: constant(int256) = 10765576773720192317
D0: constant(int256) = 22266688044328115691000000000
D1: constant(int256) = 235387901782624998610000000000
D2: constant(int256) = 1519377599407554805000000000000
D3: constant(int256) = 6485558298266760755000000000000
D4: constant(int256) = 18615571640885098091000000000000
D5: constant(int256) = 34900952721145977266000000000000
D6: constant(int256) = 38912003286093271411000000000000
D7: constant(int256) = 19685429676859990727000000000000
# Region 3, |x| > sqrt(32): tail = e^{-x^2/2} (1/sqrt(2pi) - P(1/x^2)/Q(1/x^2) / x^2) / |x|.
P0: constant(int256) = 215898534057956990000000000
P1: constant(int256) = 127401161160247363900000000
P2: constant(int256) = 22235277870649807000000000
P3: constant(int256) = 1421619193227893466000000
P4: constant(int256) = 29112874951168792000000
P5: constant(int256) = 23073441764940173030000000
Q0: constant(int256) = 1284260096144911210000000000
Q1: constant(int256) = 468238212480865118000000000
Q2: constant(int256) = 65988137868928551500000000
Q3: constant(int256) = 3782396332027582440000000
Q4: constant(int256) = 72975155508396620500000

# [5/5] Padé approximant of atanh(z)/z in s = z^2 (exact integers).
LP0: constant(int256) = 305540235
LP1: constant(int256) = -698377680
LP2: constant(int256) = 552473922
LP3: constant(int256) = -175855680
LP4: constant(int256) = 19225635
LP5: constant(int256) = -327680
LQ0: constant(int256) = 305540235
LQ1: constant(int256) = -800224425
LQ2: constant(int256) = 758107350
LQ3: constant(int256) = -312161850
LQ4: constant(int256) = 52026975
LQ5: constant(int256) = -2401245


# ---------------------------------------------------------------------------------------------
# Ray primitives
# ---------------------------------------------------------------------------------------------


@internal
@pure
def _ray_to_wad(x: int256) -> int256:
    """
    @dev Rounds a ray to the nearest wad, half away from zero.
    """
    if x >= 0:
        return (x + HALF_E9) // E9
    return -((HALF_E9 - x) // E9)


@internal
@pure
def _exp_ray(x: int256) -> int256:
    """
    @dev e^x in ray for x in ray; returns 0 below -64, reverts above 100.
         Relative error <= 3e-23 (Padé) + 1e-27 (arithmetic).
    """
    assert x <= EXP_MAX_RAY, "bs: exp overflow"
    if x < EXP_MIN_RAY:
        return 0
    # x = k ln2 + r with |r| <= ln2/2; x in [-64, 100] ray, so k in [-93, 145].
    k: int256 = 0
    if x >= 0:
        k = unsafe_div(x + HALF_LN2_RAY, LN2_RAY)
    else:
        k = -unsafe_div(HALF_LN2_RAY - x, LN2_RAY)
    # |k LN2| <= 1.01e29: no overflow.
    r: int256 = unsafe_sub(x, unsafe_mul(k, LN2_RAY))
    # |r| <= 0.35e27, so s <= 0.121e27 and every product below is < 2e62.
    s: int256 = unsafe_div(unsafe_mul(r, r), RAY)
    e: int256 = unsafe_add(unsafe_mul(56, s), 25200 * RAY)
    e = unsafe_add(unsafe_div(unsafe_mul(e, s), RAY), 1995840 * RAY)
    e = unsafe_add(unsafe_div(unsafe_mul(e, s), RAY), 17297280 * RAY)
    o: int256 = unsafe_add(s, 1512 * RAY)
    o = unsafe_add(unsafe_div(unsafe_mul(o, s), RAY), 277200 * RAY)
    o = unsafe_add(unsafe_div(unsafe_mul(o, s), RAY), 8648640 * RAY)
    # |r o| < 0.35 * 8.7e6 * 1.01 RAY^2, far below e >= 1.7e7 RAY: e - ro > 0.
    ro: int256 = unsafe_div(unsafe_mul(r, o), RAY)
    y: int256 = unsafe_div(unsafe_mul(unsafe_add(e, ro), RAY), unsafe_sub(e, ro))
    # y <= 1.42 RAY < 2^91; y << 145 < 2^236.
    if k >= 0:
        return y << convert(k, uint256)
    return y >> convert(-k, uint256)


@internal
@pure
def _ln_core(u: int256, w: int256, k: int256) -> int256:
    """
    @dev k ln2 + ln(u/w) in ray for 0 < u, w < 2^161 with u/w in [1/sqrt2, sqrt2]:
         2 atanh(z), z = (u - w)/(u + w), |z| <= 0.1716, by a [5/5] Padé approximant.
    """
    # |u - w| * RAY < 2^251; |z| <= 0.172 RAY.
    z: int256 = unsafe_div(unsafe_mul(unsafe_sub(u, w), RAY), unsafe_add(u, w))
    # s <= 0.0295 RAY; Horner partial sums stay below 1e9 RAY, products below 3e61.
    s: int256 = unsafe_div(unsafe_mul(z, z), RAY)
    p: int256 = unsafe_mul(LP5, s)
    q: int256 = unsafe_mul(LQ5, s)
    p = unsafe_div(unsafe_mul(unsafe_add(p, LP4 * RAY), s), RAY)
    q = unsafe_div(unsafe_mul(unsafe_add(q, LQ4 * RAY), s), RAY)
    p = unsafe_div(unsafe_mul(unsafe_add(p, LP3 * RAY), s), RAY)
    q = unsafe_div(unsafe_mul(unsafe_add(q, LQ3 * RAY), s), RAY)
    p = unsafe_div(unsafe_mul(unsafe_add(p, LP2 * RAY), s), RAY)
    q = unsafe_div(unsafe_mul(unsafe_add(q, LQ2 * RAY), s), RAY)
    p = unsafe_div(unsafe_mul(unsafe_add(p, LP1 * RAY), s), RAY)
    q = unsafe_div(unsafe_mul(unsafe_add(q, LQ1 * RAY), s), RAY)
    p = unsafe_add(p, LP0 * RAY)
    q = unsafe_add(q, LQ0 * RAY)
    # q >= 0.9 * LQ0 RAY > 0; |2 z p| < 2 * 0.172 * 3.1e8 * RAY^2 < 1.1e62; |k| <= 161.
    return unsafe_add(unsafe_mul(k, LN2_RAY), unsafe_div(unsafe_mul(unsafe_mul(2, z), p), q))


@internal
@pure
def _msb(x: uint256) -> int256:
    """
    @dev Index of the most significant set bit of x > 0.
    """
    r: uint256 = 0
    if x >> 128 > 0:
        x >>= 128
        r = 128
    if x >> 64 > 0:
        x >>= 64
        r |= 64
    if x >> 32 > 0:
        x >>= 32
        r |= 32
    if x >> 16 > 0:
        x >>= 16
        r |= 16
    if x >> 8 > 0:
        x >>= 8
        r |= 8
    if x >> 4 > 0:
        x >>= 4
        r |= 4
    if x >> 2 > 0:
        x >>= 2
        r |= 2
    if x >> 1 > 0:
        r |= 1
    return convert(r, int256)


@internal
@pure
def _ln_ray(u: uint256, w: uint256) -> int256:
    """
    @dev ln(u/w) in ray for 0 < u, w < 2^160.
    """
    assert u != 0 and w != 0, "bs: ln of zero"
    assert u < 2**160 and w < 2**160, "bs: ln input too large"
    k: int256 = self._msb(u) - self._msb(w)
    # after the shift u/w is in (1/2, 2) and both are < 2^160.
    a: int256 = 0
    b: int256 = 0
    if k > 0:
        a = convert(u, int256)
        b = convert(w << convert(k, uint256), int256)
    else:
        a = convert(u << convert(-k, uint256), int256)
        b = convert(w, int256)
    if a * RAY >= b * SQRT2_RAY:
        b = b << 1
        k += 1
    elif a * SQRT2_RAY < b * RAY:
        a = a << 1
        k -= 1
    return self._ln_core(a, b, k)


@internal
@pure
def _ncdf_ray(x: int256, want_pdf: bool) -> (int256, int256):
    """
    @dev (N(x), n(x)) in ray for x in ray; n(x) is computed only if `want_pdf` (else 0).
         Cody's three regions; |x| >= 11.5 gives exactly 0 or 1 (true tail < 1e-30).
    """
    y: int256 = x
    if x < 0:
        y = -x
    if y >= CDF_Y_MAX:
        if x < 0:
            return 0, 0
        return RAY, 0
    # From here y < 11.5 RAY: y*y < 1.33e56, every product below is < 1e63.
    ex: int256 = 0
    if y > CDF_Y1 or want_pdf:
        ex = self._exp_ray(-unsafe_div(unsafe_div(unsafe_mul(y, y), RAY), 2))
    cdf: int256 = 0
    num: int256 = 0
    den: int256 = 0
    xsq: int256 = 0
    if y <= CDF_Y1:
        # xsq <= 0.455 RAY; partial sums <= 2e4 RAY.
        xsq = unsafe_div(unsafe_mul(y, y), RAY)
        num = unsafe_div(unsafe_mul(A4, xsq), RAY)
        den = xsq
        num = unsafe_div(unsafe_mul(unsafe_add(num, A0), xsq), RAY)
        den = unsafe_div(unsafe_mul(unsafe_add(den, B0), xsq), RAY)
        num = unsafe_div(unsafe_mul(unsafe_add(num, A1), xsq), RAY)
        den = unsafe_div(unsafe_mul(unsafe_add(den, B1), xsq), RAY)
        num = unsafe_div(unsafe_mul(unsafe_add(num, A2), xsq), RAY)
        den = unsafe_div(unsafe_mul(unsafe_add(den, B2), xsq), RAY)
        cdf = unsafe_add(
            RAY // 2, unsafe_div(unsafe_mul(x, unsafe_add(num, A3)), unsafe_add(den, B3))
        )
    else:
        tmp: int256 = 0
        if y <= CDF_Y2:
            # y <= 5.66 RAY; partial sums <= 1e6 RAY, products <= 6e60.
            num = unsafe_div(unsafe_mul(C8, y), RAY)
            den = y
            num = unsafe_div(unsafe_mul(unsafe_add(num, C0), y), RAY)
            den = unsafe_div(unsafe_mul(unsafe_add(den, D0), y), RAY)
            num = unsafe_div(unsafe_mul(unsafe_add(num, C1), y), RAY)
            den = unsafe_div(unsafe_mul(unsafe_add(den, D1), y), RAY)
            num = unsafe_div(unsafe_mul(unsafe_add(num, C2), y), RAY)
            den = unsafe_div(unsafe_mul(unsafe_add(den, D2), y), RAY)
            num = unsafe_div(unsafe_mul(unsafe_add(num, C3), y), RAY)
            den = unsafe_div(unsafe_mul(unsafe_add(den, D3), y), RAY)
            num = unsafe_div(unsafe_mul(unsafe_add(num, C4), y), RAY)
            den = unsafe_div(unsafe_mul(unsafe_add(den, D4), y), RAY)
            num = unsafe_div(unsafe_mul(unsafe_add(num, C5), y), RAY)
            den = unsafe_div(unsafe_mul(unsafe_add(den, D5), y), RAY)
            num = unsafe_div(unsafe_mul(unsafe_add(num, C6), y), RAY)
            den = unsafe_div(unsafe_mul(unsafe_add(den, D6), y), RAY)
            tmp = unsafe_div(unsafe_mul(unsafe_add(num, C7), RAY), unsafe_add(den, D7))
        else:
            # y > 5.65 RAY: xsq = 1/y^2 < 0.032 RAY; partial sums < 1.3 RAY.
            xsq = unsafe_div(RAY * RAY, unsafe_div(unsafe_mul(y, y), RAY))
            num = unsafe_div(unsafe_mul(P5, xsq), RAY)
            den = xsq
            num = unsafe_div(unsafe_mul(unsafe_add(num, P0), xsq), RAY)
            den = unsafe_div(unsafe_mul(unsafe_add(den, Q0), xsq), RAY)
            num = unsafe_div(unsafe_mul(unsafe_add(num, P1), xsq), RAY)
            den = unsafe_div(unsafe_mul(unsafe_add(den, Q1), xsq), RAY)
            num = unsafe_div(unsafe_mul(unsafe_add(num, P2), xsq), RAY)
            den = unsafe_div(unsafe_mul(unsafe_add(den, Q2), xsq), RAY)
            num = unsafe_div(unsafe_mul(unsafe_add(num, P3), xsq), RAY)
            den = unsafe_div(unsafe_mul(unsafe_add(den, Q3), xsq), RAY)
            tmp = unsafe_div(unsafe_mul(xsq, unsafe_add(num, P4)), unsafe_add(den, Q4))
            tmp = unsafe_div(unsafe_mul(unsafe_sub(INV_SQRT_2PI_RAY, tmp), RAY), y)
        # ex <= RAY, tmp <= 0.4 RAY.
        tail: int256 = unsafe_div(unsafe_mul(ex, tmp), RAY)
        if x < 0:
            cdf = tail
        else:
            cdf = unsafe_sub(RAY, tail)
    pdf: int256 = 0
    if want_pdf:
        pdf = unsafe_div(unsafe_mul(ex, INV_SQRT_2PI_RAY), RAY)
    return cdf, pdf


# ---------------------------------------------------------------------------------------------
# Wad interface: ln, exp, sqrt, N, n
# ---------------------------------------------------------------------------------------------


@internal
@pure
def _ln_wad(x: uint256) -> int256:
    """
    @notice ln(x) for a wad x in (0, 2^160); wad result, |error| <= 0.5 wei + 1e-24.
    """
    return self._ray_to_wad(self._ln_ray(x, 10**18))


@internal
@pure
def _exp_wad(x: int256) -> uint256:
    """
    @notice e^x for a wad x <= 100e18 (reverts above: "bs: exp overflow"); wad result,
            relative error <= 3e-23 + 0.5 wei (0 below about -41.4e18).
    """
    assert x <= 100 * WAD, "bs: exp overflow"
    if x < -64 * WAD:
        return 0
    return convert(self._ray_to_wad(self._exp_ray(x * E9)), uint256)


@internal
@pure
def _sqrt_wad(x: uint256) -> uint256:
    """
    @notice sqrt(x) for a wad x < 2^196, rounded down (exact floor).
    """
    assert x < 2**196, "bs: sqrt input too large"
    return isqrt(x * 10**18)


@internal
@pure
def _ncdf_wad(x: int256) -> uint256:
    """
    @notice Standard normal CDF N(x) for a wad x in [-1e30, 1e30]; wad result,
            |error| <= 0.5 wei + 7e-20.
    """
    assert x >= -(10**30) and x <= 10**30, "bs: cdf input out of range"
    cdf: int256 = 0
    pdf: int256 = 0
    cdf, pdf = self._ncdf_ray(x * E9, False)
    return convert(self._ray_to_wad(cdf), uint256)


@internal
@pure
def _npdf_wad(x: int256) -> uint256:
    """
    @notice Standard normal density n(x) for a wad x in [-1e30, 1e30]; wad result,
            |error| <= 0.5 wei + 1e-22 relative.
    """
    assert x >= -(10**30) and x <= 10**30, "bs: cdf input out of range"
    cdf: int256 = 0
    pdf: int256 = 0
    cdf, pdf = self._ncdf_ray(x * E9, True)
    return convert(self._ray_to_wad(pdf), uint256)


# ---------------------------------------------------------------------------------------------
# Black–Scholes
# ---------------------------------------------------------------------------------------------


@internal
@pure
def _d1(s: int256, k: int256, tau: int256, vol: int256, rate: int256) -> (
    int256, int256, int256, int256
):
    """
    @dev Checks the domain; returns (d1, v = vol sqrt(T), sqrt(T), e^{-rT}), all ray.
    """
    assert s >= SPOT_MIN and s <= SPOT_MAX, "bs: spot out of range"
    assert 5 * k >= s and k <= 5 * s, "bs: strike out of range"
    assert tau >= TAU_MIN and tau <= TAU_MAX, "bs: time out of range"
    assert vol >= VOL_MIN and vol <= VOL_MAX, "bs: vol out of range"
    assert rate >= -RATE_MAX and rate <= RATE_MAX, "bs: rate out of range"
    # ln(s/k), s/k in [0.2, 5]: reduce by 2^j, j in [-2, 2], to u/w in [1/sqrt2, sqrt2].
    # s, k <= 5e30 so s * RAY, k << 2 and u + w stay far below 2^255.
    u: int256 = s
    w: int256 = k
    j: int256 = 0
    if unsafe_mul(s, RAY) >= unsafe_mul(k, SQRT2_RAY):
        if unsafe_mul(s, RAY) >= unsafe_mul(k, SQRT8_RAY):
            j = 2
            w = k << 2
        else:
            j = 1
            w = k << 1
    elif unsafe_mul(s, SQRT2_RAY) < unsafe_mul(k, RAY):
        if unsafe_mul(s, SQRT8_RAY) < unsafe_mul(k, RAY):
            j = -2
            u = s << 2
        else:
            j = -1
            u = s << 1
    lnsk: int256 = self._ln_core(u, w, j)
    # tau <= 6.4e7: tau * RAY^2 < 6.4e61; sqrt_t in [0.0107, 1.415] RAY.
    sqrt_t: int256 = convert(
        isqrt(convert(unsafe_div(unsafe_mul(tau, RAY * RAY), YEAR), uint256)), int256
    )
    # v = vol sqrt(T) in [1.07e-4, 7.08] RAY; v^2 / 2 <= 25.1 RAY.
    v: int256 = unsafe_div(unsafe_mul(vol, sqrt_t), WAD)
    num: int256 = unsafe_add(lnsk, unsafe_div(unsafe_mul(v, v), 2 * RAY))
    df: int256 = RAY
    if rate != 0:
        # |rate tau 1e9| <= 1e18 * 6.4e7 * 1e9 = 6.4e34; |rT| <= 2 RAY.
        rt: int256 = unsafe_div(unsafe_mul(unsafe_mul(rate, tau), E9), YEAR)
        num = unsafe_add(num, rt)
        df = self._exp_ray(-rt)
    # |num| <= 1.7 + 25.1 + 2 RAY: num * RAY < 3e55; d1 = num / v.
    return unsafe_div(unsafe_mul(num, RAY), v), v, sqrt_t, df


@internal
@pure
def _price(
    spot: uint256, strike: uint256, tau: uint256, vol: uint256, rate: int256, is_call: bool
) -> uint256:
    """
    @notice Black–Scholes price of a European option (see the module docstring for units,
            domain and error bound).
    @param spot Spot price, wad.
    @param strike Strike price, wad.
    @param tau Time to expiry, seconds.
    @param vol Annualised volatility, wad.
    @param rate Annualised continuously compounded rate, signed wad.
    @param is_call True for a call, False for a put.
    @return Price in quote units, wad.
    """
    s: int256 = convert(spot, int256)
    k: int256 = convert(strike, int256)
    d1: int256 = 0
    v: int256 = 0
    sqrt_t: int256 = 0
    df: int256 = 0
    d1, v, sqrt_t, df = self._d1(s, k, convert(tau, int256), convert(vol, int256), rate)
    d2: int256 = unsafe_sub(d1, v)
    if not is_call:
        d1 = -d1
        d2 = -d2
    n1: int256 = 0
    n2: int256 = 0
    pdf: int256 = 0
    n1, pdf = self._ncdf_ray(d1, False)
    n2, pdf = self._ncdf_ray(d2, False)
    # s <= 1e30, n <= RAY: s n1 <= 1e57; k df <= 5e30 * 7.4 RAY; k df / WAD * n2 <= 3.7e67.
    sn: int256 = unsafe_div(unsafe_mul(s, n1), WAD)
    kn: int256 = unsafe_div(unsafe_mul(unsafe_div(unsafe_mul(k, df), WAD), n2), RAY)
    p: int256 = 0
    if is_call:
        p = self._ray_to_wad(unsafe_sub(sn, kn))
    else:
        p = self._ray_to_wad(unsafe_sub(kn, sn))
    if p < 0:
        return 0
    return convert(p, uint256)


@internal
@pure
def _greeks(
    spot: uint256, strike: uint256, tau: uint256, vol: uint256, rate: int256, is_call: bool
) -> (uint256, int256, uint256, uint256, int256):
    """
    @notice Black–Scholes price, delta, gamma, vega and theta of a European option, sharing
            d1, d2, N(d1), n(d1), sqrt(T) and e^{-rT} (see the module docstring for units,
            domain and error bounds). Parameters as `_price`.
    @return (price wad, delta signed wad, gamma wad per quote unit, vega wad per 1.0 vol,
            theta signed wad per year).
    """
    s: int256 = convert(spot, int256)
    k: int256 = convert(strike, int256)
    sig: int256 = convert(vol, int256)
    d1: int256 = 0
    v: int256 = 0
    sqrt_t: int256 = 0
    df: int256 = 0
    d1, v, sqrt_t, df = self._d1(s, k, convert(tau, int256), sig, rate)
    d2: int256 = unsafe_sub(d1, v)
    if not is_call:
        d1 = -d1
        d2 = -d2
    n1: int256 = 0
    n2: int256 = 0
    pdf1: int256 = 0
    unused: int256 = 0
    n1, pdf1 = self._ncdf_ray(d1, True)
    n2, unused = self._ncdf_ray(d2, False)
    # Bounds as in `_price`; pdf1 <= 0.4 RAY, so spdf = s pdf1 / WAD <= 4e38.
    sn: int256 = unsafe_div(unsafe_mul(s, n1), WAD)
    kn: int256 = unsafe_div(unsafe_mul(unsafe_div(unsafe_mul(k, df), WAD), n2), RAY)
    spdf: int256 = unsafe_div(unsafe_mul(s, pdf1), WAD)
    price: int256 = 0
    delta: int256 = 0
    if is_call:
        price = unsafe_sub(sn, kn)
        delta = n1
    else:
        price = unsafe_sub(kn, sn)
        delta = -n1
    # s v <= 1e30 * 7.1 RAY = 7.1e57 > 0; pdf1 * 1e36 <= 4e62.
    sv: int256 = unsafe_mul(s, v)
    gamma: int256 = unsafe_div(unsafe_add(unsafe_mul(pdf1, E36), unsafe_div(sv, 2)), sv)
    # spdf * sqrt_t <= 4e38 * 1.42 RAY = 5.7e65.
    vega: int256 = unsafe_div(unsafe_add(unsafe_mul(spdf, sqrt_t), 5 * 10**35), E36)
    # spdf * vol * 1e9 <= 4e38 * 5e18 * 1e9 = 2e66; sqrt_t >= 1e25.
    theta: int256 = -unsafe_div(unsafe_mul(unsafe_mul(spdf, sig), E9), unsafe_mul(2, sqrt_t))
    if rate != 0:
        # |rate kn| <= 1e18 * 3.7e40.
        rk: int256 = unsafe_div(unsafe_mul(rate, kn), WAD)
        if is_call:
            theta = unsafe_sub(theta, rk)
        else:
            theta = unsafe_add(theta, rk)
    price = self._ray_to_wad(price)
    if price < 0:
        price = 0
    return (
        convert(price, uint256),
        self._ray_to_wad(delta),
        convert(gamma, uint256),
        convert(vega, uint256),
        self._ray_to_wad(theta),
    )

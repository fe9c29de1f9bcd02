"""Per-world kernels of the vectorised V3 pool (`sim.venues.univ3.batch`), shared by its batch
kernels, the agents' planners and the fused reference kernel (`sim.venues.univ3.fused`).

Each function takes the pool's arrays (see `V3Batch`) and the index w of one world; the maths
is in `sim.venues.univ3.batch`'s docstring. Units: whole token units, canonical orientation
(token0 = risky), sqrt prices of whole-unit prices.
"""

from __future__ import annotations

import math

from numba import njit

from sim.venues.univ3.config import LN_TICK
from sim.venues.univ3.v3math import MAX_TICK, MIN_TICK

HALF_LN = 0.5 * LN_TICK
S_MAX = math.exp(MAX_TICK * HALF_LN) * 1e12
S_MIN = math.exp(MIN_TICK * HALF_LN) * 1e-12
"""Bounds of any swap's sqrt price, beyond the protocol's range at any price scale used here
(1 for base units, PRICE_SCALE for whole units): a swap through a region without liquidity
stops there instead of running to infinity."""

# per-position accumulators, pacc[w, j, k]
(
    P_FEE0,  # fee tokens owed (risky), since the position opened or was last collected
    P_FEE1,  # fee tokens owed (numeraire)
    P_EARN0,  # fee tokens earned since accounting started (risky)
    P_EARN1,  # ... (numeraire)
    P_FEEV,  # fee income at the reference price when earned, numeraire
    P_LVR,  # loss-versus-rebalancing, numeraire
    P_FEEF,  # sum of fee income / position value after the trade
    P_LVRF,  # sum of LVR / position value after the trade
    P_TIN,  # seconds the pool price spent inside the range
    P_HX,  # tokens at the start of accounting (or when opened): the hold portfolio (risky)
    P_HY,  # ... (numeraire)
    NPACC,
) = range(12)

# pool accumulators, book[w, k] (the suffixes of sim.engine.ledger.POOL_METRICS)
(
    B_LVR,
    B_FEES,
    B_ARB,
    B_VOL,
    B_NTR,
    B_LVRF,
    B_FEEF,
    B_ARBF,
    B_LVRARBF,
    B_FEEARBF,
    B_ARBBLK,
    B_ARBNOW,
    NBOOK,
) = range(13)


@njit(cache=True, inline="always")
def sqrt_at_tick(t, sqrt_ps):
    """sqrt(price) of tick t, whole units: sqrt(PRICE_SCALE * 1.0001**t)."""
    return math.exp(t * HALF_LN) * sqrt_ps


@njit(cache=True)
def tick_at_sqrt(s, sqrt_ps):
    """The tick whose price is the largest at or below s**2 (TickMath.getTickAtSqrtRatio),
    exact against `sqrt_at_tick` so a price landing on a tick's price is that tick."""
    t = int(math.floor(math.log(s / sqrt_ps) / HALF_LN))
    t = min(max(t, MIN_TICK), MAX_TICK - 1)
    while t < MAX_TICK - 1 and sqrt_at_tick(t + 1, sqrt_ps) <= s:
        t += 1
    while t > MIN_TICK and sqrt_at_tick(t, sqrt_ps) > s:
        t -= 1
    return t


@njit(cache=True, inline="always")
def position_tokens(L, sa, sb, s):
    """(x, y) held by liquidity L on [sa, sb) at sqrt price s."""
    # Grouped as `tokens_per_liquidity` (numpy) groups them, so both give the same bits.
    if s <= sa:
        return L * ((sb - sa) / (sa * sb)), 0.0
    if s >= sb:
        return 0.0, L * (sb - sa)
    return L * ((sb - s) / (s * sb)), L * (s - sa)


@njit(cache=True)
def _active_liquidity(w, tick, pl, pu, pL):
    """Liquidity of the positions whose range holds `tick` (summed afresh, no drift)."""
    total = 0.0
    for j in range(pL.shape[1]):
        if pL[w, j] > 0.0 and pl[w, j] <= tick and tick < pu[w, j]:
            total += pL[w, j]
    return total


@njit(cache=True, inline="always")
def plan_to(w, target, s, L, idx, nk, tks, tnet, g):
    """Gross input and output of a swap from the current price to sqrt price `target`,
    segment by segment over the initialised ticks, without touching the pool.

    Returns:
        (amount_in, amount_out): numeraire in / risky out when the target is above the price,
        risky in / numeraire out when below; (0, 0) at the target.
    """
    sw = s[w]
    lw = L[w]
    i = idx[w]
    ain = 0.0
    aout = 0.0
    if target > sw:
        while sw < target:
            nxt = tks[w, i + 1] if i + 1 < nk[w] else math.inf
            b = nxt if nxt < target else target
            if lw > 0.0:
                ain += lw * (b - sw) / g
                aout += lw * (b - sw) / (sw * b)
            sw = b
            if sw == nxt:
                lw += tnet[w, i + 1]
                i += 1
    else:
        while sw > target:
            nxt = tks[w, i] if i >= 0 else 0.0
            b = nxt if nxt > target else target
            if lw > 0.0:
                ain += lw * (sw - b) / (sw * b * g)
                aout += lw * (sw - b)
            sw = b
            if sw == nxt:
                lw -= tnet[w, i]
                i -= 1
    return ain, aout


@njit(cache=True, inline="always")
def arb_w(w, ref, threshold, s, L, idx, nk, tks, tnet, g):
    """The CEX-DEX arbitrageur's trade in world w, in closed form per tick segment.

    The marginal price of buying risky is s**2 / (1 - f) whatever the liquidity, so the
    profit-maximising trade moves the pool to the edge of the fee band around the reference
    price: s* = sqrt(ref (1 - f)) from below, sqrt(ref / (1 - f)) from above. `plan_to` sums
    the segments' closed forms up to s*; the trade is made only when its profit at `ref`
    exceeds `threshold` (gas plus the required margin).

    Returns:
        (amount_in, direction, target): +1 numeraire in (price up), -1 risky in, 0 no trade.
    """
    p = s[w] * s[w]
    # The 1e-12 margin keeps rounding dust (a pool one ulp past the band edge) from trading.
    if ref * g > p * (1.0 + 1e-12):
        target = math.sqrt(ref * g)
        a, out = plan_to(w, target, s, L, idx, nk, tks, tnet, g)
        if out * ref - a > threshold:
            return a, 1, target
    elif ref < p * g * (1.0 - 1e-12):
        target = math.sqrt(ref / g)
        a, out = plan_to(w, target, s, L, idx, nk, tks, tnet, g)
        if out - a * ref > threshold:
            return a, -1, target
    return 0.0, 0, 0.0


@njit(cache=True, inline="always")
def walk(w, amount, up, limit, s, L, idx, nk, tks, tnet, g):
    """The swap loop of an exact-input swap in world w, without touching the pool: `amount`
    (gross, fee included) of the numeraire when `up` (the price rises), else of the risky
    asset, stopping at sqrt price `limit` (clamped to the protocol's range).

    Returns:
        (used, out, s_end, i_end, l_end, growth, crossed, crossed_down): the input taken (less
        than `amount` when the swap stopped at the limit), the output, the price, tick index
        and liquidity after, the input token's fee growth per unit of liquidity, whether an
        initialised tick was crossed, and whether the last crossing was downwards.
    """
    return walk_from(w, s[w], L[w], idx[w], amount, up, limit, nk, tks, tnet, g)


@njit(cache=True, inline="always")
def walk_from(w, sw, lw, i, amount, up, limit, nk, tks, tnet, g):
    """`walk` from a given state of world w's pool: sqrt price `sw`, liquidity `lw` and tick
    index `i` (a state after earlier trades of the same block, for a sandwich's plan)."""
    rem = amount
    used = 0.0
    out = 0.0
    growth = 0.0
    crossed = False
    crossed_down = False
    if up:
        limit = min(limit, S_MAX)
        while rem > 0.0 and sw < limit:
            nxt = tks[w, i + 1] if i + 1 < nk[w] else math.inf
            tgt = nxt if nxt < limit else limit
            if lw > 0.0:
                need = lw * (tgt - sw) / g
                if rem >= need:
                    spent = need
                    s_new = tgt
                    out += lw * (tgt - sw) / (sw * tgt)
                else:
                    spent = rem
                    s_new = min(sw + rem * g / lw, tgt)
                    out += rem * g / (sw * s_new)
                growth += spent * (1.0 - g) / lw
                used += spent
                rem -= spent
                sw = s_new
            else:
                sw = tgt
            if sw == nxt:
                lw += tnet[w, i + 1]
                i += 1
                crossed = True
    else:
        limit = max(limit, S_MIN)
        while rem > 0.0 and sw > limit:
            nxt = tks[w, i] if i >= 0 else 0.0
            tgt = nxt if nxt > limit else limit
            if lw > 0.0:
                need = lw * (sw - tgt) / (sw * tgt * g)
                if rem >= need:
                    spent = need
                    s_new = tgt
                    out += lw * (sw - tgt)
                else:
                    spent = rem
                    s_new = max(lw * sw / (lw + rem * g * sw), tgt)
                    out += rem * g * sw * s_new
                growth += spent * (1.0 - g) / lw
                used += spent
                rem -= spent
                sw = s_new
            else:
                sw = tgt
            if sw == nxt:
                lw -= tnet[w, i]
                i -= 1
                crossed = True
                crossed_down = True
    return used, out, sw, i, lw, growth, crossed, crossed_down


@njit(cache=True, inline="always")
def swap_w(w, amount, up, limit, s, L, tick, idx, fg, nk, tk, tks, tnet, pl, pu, pL, g, sqps):
    """`walk`, then write its result into the pool (price, tick, liquidity, fee growth).

    Returns:
        (used, out): the input the pool took and the output it paid.
    """
    used, out, sw, i, lw, growth, crossed, crossed_down = walk(
        w, amount, up, limit, s, L, idx, nk, tks, tnet, g
    )
    s[w] = sw
    idx[w] = i
    fg[w, 1 if up else 0] += growth
    if crossed_down and sw == tks[w, i + 1]:
        # V3: a swap down that ends on the tick it just crossed sits at that tick - 1.
        tick[w] = tk[w, i + 1] - 1
    else:
        tick[w] = tick_at_sqrt(sw, sqps)
    # Summed afresh after a crossing, so crossings leave no float residue in L.
    L[w] = _active_liquidity(w, tick[w], pl, pu, pL) if crossed else lw
    return used, out


@njit(cache=True, inline="always")
def book_trade(w, up, used, out, s0, s1, ref, f, g, active, is_arb, psa, psb, pL, pacc, book):
    """Book one trade from sqrt price s0 to s1 on every position and on the pool; returns the
    trader's P&L at the reference price (see the module docstring)."""
    lo = s0 if s0 < s1 else s1
    hi = s1 if s0 < s1 else s0
    rate = (1.0 - g) / g
    pool_value = 0.0
    for j in range(pL.shape[1]):
        lj = pL[w, j]
        if lj <= 0.0:
            continue
        a = lo if lo > psa[w, j] else psa[w, j]
        b = hi if hi < psb[w, j] else psb[w, j]
        x1, y1 = position_tokens(lj, psa[w, j], psb[w, j], s1)
        v = ref * x1 + y1
        pool_value += v
        if b <= a:
            continue
        dsq = lj * (b - a)
        dinv = lj * (b - a) / (a * b)
        if up:
            dx = -dinv
            dy = dsq
            fee0 = 0.0
            fee1 = dsq * rate
        else:
            dx = dinv
            dy = -dsq
            fee0 = dinv * rate
            fee1 = 0.0
        pacc[w, j, P_FEE0] += fee0
        pacc[w, j, P_FEE1] += fee1
        if active:
            lvr = -(ref * dx + dy)
            feev = ref * fee0 + fee1
            pacc[w, j, P_EARN0] += fee0
            pacc[w, j, P_EARN1] += fee1
            pacc[w, j, P_FEEV] += feev
            pacc[w, j, P_LVR] += lvr
            pacc[w, j, P_FEEF] += feev / v
            pacc[w, j, P_LVRF] += lvr / v
    if up:
        dxp = -out
        dyp = used
        fee = used * f
    else:
        dxp = used
        dyp = -out
        fee = ref * used * f
    pnl = -(ref * dxp + dyp)
    if active:
        lvr = pnl + fee
        book[w, B_LVR] += lvr
        book[w, B_FEES] += fee
        book[w, B_LVRF] += lvr / pool_value
        book[w, B_FEEF] += fee / pool_value
        book[w, B_VOL] += dxp * ref if dxp > 0.0 else max(dyp, 0.0)
        book[w, B_NTR] += 1.0
        if is_arb:
            book[w, B_ARB] += pnl
            book[w, B_ARBF] += pnl / pool_value
            book[w, B_LVRARBF] += lvr / pool_value
            book[w, B_FEEARBF] += fee / pool_value
            if book[w, B_ARBNOW] == 0.0:
                book[w, B_ARBNOW] = 1.0
                book[w, B_ARBBLK] += 1.0
    return pnl


@njit(cache=True)
def insert_tick(w, t, net, tick, idx, nk, tk, tks, tnet, trefs, sqps):
    """Add `net` to tick t's liquidityNet, initialising it (sorted) if new."""
    k = nk[w]
    p = 0
    while p < k and tk[w, p] < t:
        p += 1
    if p < k and tk[w, p] == t:
        tnet[w, p] += net
        trefs[w, p] += 1
        return
    for q in range(k, p, -1):
        tk[w, q] = tk[w, q - 1]
        tks[w, q] = tks[w, q - 1]
        tnet[w, q] = tnet[w, q - 1]
        trefs[w, q] = trefs[w, q - 1]
    tk[w, p] = t
    tks[w, p] = sqrt_at_tick(t, sqps)
    tnet[w, p] = net
    trefs[w, p] = 1
    nk[w] = k + 1
    if t <= tick[w]:
        idx[w] += 1


@njit(cache=True)
def release_tick(w, t, net, tick, idx, nk, tk, tks, tnet, trefs):
    """Subtract `net` from tick t's liquidityNet; clear the tick when no position uses it."""
    k = nk[w]
    p = 0
    while tk[w, p] != t:
        p += 1
    trefs[w, p] -= 1
    if trefs[w, p] > 0:
        tnet[w, p] -= net
        return
    for q in range(p, k - 1):
        tk[w, q] = tk[w, q + 1]
        tks[w, q] = tks[w, q + 1]
        tnet[w, q] = tnet[w, q + 1]
        trefs[w, q] = trefs[w, q + 1]
    nk[w] = k - 1
    if t <= tick[w]:
        idx[w] -= 1


@njit(cache=True)
def mint_w(w, j, lower, upper, lj, s, L, tick, idx, nk, tk, tks, tnet, trefs, pl, pu, psa,
           psb, pL, pacc, sqps):  # fmt: skip
    """Open position slot j on [lower, upper) with liquidity lj; returns the tokens paid in
    (x, y). The slot's accumulators restart; its hold portfolio is what it paid."""
    insert_tick(w, lower, lj, tick, idx, nk, tk, tks, tnet, trefs, sqps)
    insert_tick(w, upper, -lj, tick, idx, nk, tk, tks, tnet, trefs, sqps)
    pl[w, j] = lower
    pu[w, j] = upper
    psa[w, j] = sqrt_at_tick(lower, sqps)
    psb[w, j] = sqrt_at_tick(upper, sqps)
    pL[w, j] = lj
    if lower <= tick[w] and tick[w] < upper:
        L[w] += lj
    x, y = position_tokens(lj, psa[w, j], psb[w, j], s[w])
    for k in range(NPACC):
        pacc[w, j, k] = 0.0
    pacc[w, j, P_HX] = x
    pacc[w, j, P_HY] = y
    return x, y


@njit(cache=True)
def burn_w(w, j, s, L, tick, idx, nk, tk, tks, tnet, trefs, pl, pu, psa, psb, pL, pacc):
    """Close slot j: remove all its liquidity and collect its fees; returns the tokens paid
    out (x, y), fees included. The slot's accumulators stay until it is reused."""
    lj = pL[w, j]
    x, y = position_tokens(lj, psa[w, j], psb[w, j], s[w])
    release_tick(w, pl[w, j], lj, tick, idx, nk, tk, tks, tnet, trefs)
    release_tick(w, pu[w, j], -lj, tick, idx, nk, tk, tks, tnet, trefs)
    pL[w, j] = 0.0
    if pl[w, j] <= tick[w] and tick[w] < pu[w, j]:
        L[w] = _active_liquidity(w, tick[w], pl, pu, pL)
    x += pacc[w, j, P_FEE0]
    y += pacc[w, j, P_FEE1]
    pacc[w, j, P_FEE0] = 0.0
    pacc[w, j, P_FEE1] = 0.0
    return x, y

"""Vectorised float twin of the Uniswap V3 pool: the same pool in N worlds, numba kernels.

Per world: the sqrt price s (whole units, canonical orientation: token0 = risky, token1 =
numeraire, see `sim.venues.univ3.config`), the current tick, the active liquidity L, the fee
growth per unit of liquidity of each token, the initialised ticks (sorted, with liquidityNet and
how many position bounds use them) and the positions (a fixed number of slots: the scenario's
positions first, then the slots of LP agents that open ranges at run time).

The maths is the pool's, without its roundings (`sim.venues.univ3.twin` is the exact
reference, equal to the genuine contract):

* a swap walks the initialised ticks; inside one segment of constant L, an input dy of the
  numeraire moves s to s + dy (1 - f) / L and pays L (1/s - 1/s') of the risky asset; an input
  dx of the risky asset moves s to L s / (L + dx (1 - f) s) and pays L (s - s'); the fee f of
  the input is paid out to the positions in range (V3 keeps it out of the curve);
* a position of liquidity L_j on [s_a, s_b) holds x_j = L_j (1/max(s, s_a) - 1/s_b) and
  y_j = L_j (min(s, s_b) - s_a) (clipped at zero), a function of the price alone, so the
  change of its tokens in a trade from s0 to s1 is the same formula on [s0, s1] clipped to its
  range; its fee income is f / (1 - f) times the input that crossed its range: L_j times the
  clipped change of s (numeraire in) or of 1/s (risky in). That is the pool's fee growth
  inside the range times L_j, computed per trade, so fees per position are exact in float.

Accounting (when the engine's ledger is active), per trade at the block's reference price P:
trader P&L -(P dx + dy) (dx, dy everything the pool received), fee income P fee_x + fee_y, and
LVR = P&L + fees = -(P dx_curve + dy_curve): arbitrage profit + fees = LVR, trade by trade, as
for the constant-product pool (`sim.engine.ledger`). Each position books its own LVR and fees
(and both divided by its value after the trade, for rates); the sum over positions is the
pool's.

Shape:
    s, L, tick, idx: (N,); fee_growth: (N, 2); ticks: (N, K); positions: (N, M);
    pacc: (N, M, NPACC) per-position accumulators; book: (N, NBOOK) pool accumulators.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from sim.venues.univ3.config import PRICE_SCALE
from sim.venues.univ3.kernels import (
    B_ARBNOW,
    NBOOK,
    NPACC,
    P_FEE0,
    P_FEE1,
    P_HX,
    P_HY,
    P_TIN,
    S_MAX,
    S_MIN,
    _active_liquidity,
    book_trade,
    burn_w,
    mint_w,
    position_tokens,
    release_tick,
    swap_w,
    tick_at_sqrt,
    walk,
)


@njit(cache=True, nogil=True)
def _swap_batch(amount, direction, limit, ref, active, is_arb, s, L, tick, idx, fg, nk, tk,
                tks, tnet, pl, pu, psa, psb, pL, pacc, book, pnl_a, f, g, sqps):  # fmt: skip
    n = s.shape[0]
    used = np.zeros(n)
    out = np.zeros(n)
    for w in range(n):
        d = direction[w]
        if d == 0 or not amount[w] > 0.0:
            continue
        s0 = s[w]
        u, o = swap_w(w, amount[w], d > 0, limit[w], s, L, tick, idx, fg, nk, tk, tks, tnet,
                      pl, pu, pL, g, sqps)  # fmt: skip
        if not u > 0.0:
            continue
        used[w] = u
        out[w] = o
        pnl = book_trade(w, d > 0, u, o, s0, s[w], ref[w], f, g, active, is_arb, psa, psb, pL,
                         pacc, book)  # fmt: skip
        if active:
            pnl_a[w] += pnl
    return used, out


@njit(cache=True, nogil=True)
def _quote_batch(amount, direction, s, L, idx, nk, tks, tnet, g):
    """Output of an exact-input swap without a limit, per world, without touching the pool."""
    n = s.shape[0]
    out = np.zeros(n)
    for w in range(n):
        d = direction[w]
        if d != 0 and amount[w] > 0.0:
            lim = math.inf if d > 0 else 0.0
            out[w] = walk(w, amount[w], d > 0, lim, s, L, idx, nk, tks, tnet, g)[1]
    return out


@njit(cache=True, nogil=True)
def _quote_end_batch(amount, direction, s, L, idx, nk, tks, tnet, g):
    """`_quote_batch`, and the sqrt price the swap would leave, per world."""
    n = s.shape[0]
    out = np.zeros(n)
    end = s.copy()
    for w in range(n):
        d = direction[w]
        if d != 0 and amount[w] > 0.0:
            lim = math.inf if d > 0 else 0.0
            r = walk(w, amount[w], d > 0, lim, s, L, idx, nk, tks, tnet, g)
            out[w] = r[1]
            end[w] = r[2]
    return out, end


@njit(cache=True, nogil=True)
def _time_in_range(dt, tick, pl, pu, pL, pacc):
    n, m = pL.shape
    for w in range(n):
        t = tick[w]
        for j in range(m):
            if pL[w, j] > 0.0 and pl[w, j] <= t and t < pu[w, j]:
                pacc[w, j, P_TIN] += dt[w]


def tokens_per_liquidity(sa, sb, s):
    """(x, y) held by one unit of liquidity on [sa, sb) at sqrt price s (numpy, broadcast)."""
    sc = np.clip(s, sa, sb)
    return (sb - sc) / (sc * sb), sc - sa


class V3Batch:
    """The same Uniswap V3 pool in N worlds (see the module docstring).

    Args:
        name: pool name.
        n: worlds.
        fee: fee tier, pips.
        tick_spacing: the tier's spacing.
        slots: position slots per world (the scenario's positions and the LP agents').
        price_scale: whole-unit price of tick 0 (1.0 makes whole units base units).

    Attributes:
        s, L: sqrt price and active liquidity, (N,); tick, idx: the current tick and the index
            of the highest initialised tick at or below it (-1: none), (N,) int64.
        fee_growth: fees per unit of liquidity since the start, (N, 2) (risky, numeraire).
        tk, tks, tnet, trefs, nk: initialised ticks per world, sorted: tick, its sqrt price,
            liquidityNet, how many position bounds use it; nk how many, (N, K).
        pl, pu, psa, psb, pL: each slot's ticks, their sqrt prices and its liquidity (0: free),
            (N, M).
        pacc: per-slot accumulators (N, M, NPACC); book: pool accumulators (N, NBOOK).
    """

    def __init__(
        self,
        name: str,
        n: int,
        fee: int,
        tick_spacing: int,
        slots: int,
        price_scale: float = PRICE_SCALE,
    ):
        self.name = name
        self.fee = int(fee)
        self.f = fee / 1e6
        self.g = 1.0 - self.f
        self.tick_spacing = int(tick_spacing)
        self.price_scale = price_scale
        self.position_names: list[str] = []
        """Names of the first slots: the scenario's positions (the rest are LP agents')."""
        self.accounting = False
        """Whether the engine's accounting has started (`start_accounting`)."""
        self.mempool: list = []
        """This block's pending orders on the pool (`sim.venues.univ3.agents.V3Order`)."""
        self.sqps = math.sqrt(price_scale)
        k = 2 * slots
        self.s = np.zeros(n)
        self.L = np.zeros(n)
        self.tick = np.zeros(n, dtype=np.int64)
        self.idx = np.full(n, -1, dtype=np.int64)
        self.fee_growth = np.zeros((n, 2))
        self.nk = np.zeros(n, dtype=np.int64)
        self.tk = np.zeros((n, k), dtype=np.int64)
        self.tks = np.zeros((n, k))
        self.tnet = np.zeros((n, k))
        self.trefs = np.zeros((n, k), dtype=np.int64)
        self.pl = np.zeros((n, slots), dtype=np.int64)
        self.pu = np.zeros((n, slots), dtype=np.int64)
        self.psa = np.ones((n, slots))
        self.psb = np.ones((n, slots))
        self.pL = np.zeros((n, slots))
        self.pacc = np.zeros((n, slots, NPACC))
        self.book = np.zeros((n, NBOOK))

    @property
    def n(self) -> int:
        return self.s.shape[0]

    # ------------------------------------------------------------------ views

    def initialize(self, price: np.ndarray) -> None:
        """Set the price of an empty pool (whole units, numeraire per risky), (N,)."""
        self.s[:] = np.sqrt(price)
        self.tick[:] = [tick_at_sqrt(float(v), self.sqps) for v in self.s]

    def price(self) -> np.ndarray:
        """Mid price s**2, numeraire per risky, (N,)."""
        return self.s * self.s

    def position_tokens(self, slots: slice | list[int] | int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) held by the given slots at the current price, each (N, len(slots))."""
        L = self.pL[:, slots]
        x, y = tokens_per_liquidity(self.psa[:, slots], self.psb[:, slots], self.s[:, None])
        return L * x, L * y

    def owed(self, slots: slice | list[int] | int) -> tuple[np.ndarray, np.ndarray]:
        """Fee tokens owed to the given slots (x, y), each (N, len(slots))."""
        return self.pacc[:, slots, P_FEE0], self.pacc[:, slots, P_FEE1]

    def value(self, ref: np.ndarray) -> np.ndarray:
        """Every position's tokens at the reference price (fees owed excluded), (N,)."""
        x, y = self.position_tokens(slice(None))
        return (x * ref[:, None] + y).sum(axis=1)

    def quote(self, amount: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """Output of an exact-input swap of `amount` (+1: numeraire in, -1: risky in) without
        a price limit, (N,), leaving the pool as it is."""
        return _quote_batch(
            np.asarray(amount, dtype=np.float64), np.asarray(direction, dtype=np.int64),
            self.s, self.L, self.idx, self.nk, self.tks, self.tnet, self.g,
        )  # fmt: skip

    def quote_end(self, amount: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`quote`, and the sqrt price the swap would leave (the price where none), (N,) each."""
        return _quote_end_batch(
            np.asarray(amount, dtype=np.float64), np.asarray(direction, dtype=np.int64),
            self.s, self.L, self.idx, self.nk, self.tks, self.tnet, self.g,
        )  # fmt: skip

    # ------------------------------------------------------------------ pool functions

    def swap_raw(
        self,
        amount: np.ndarray,
        direction: np.ndarray,
        limit: np.ndarray | None = None,
        ref: np.ndarray | None = None,
        active: bool = False,
        is_arb: bool = False,
        pnl: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact-input swaps where direction != 0: +1 numeraire in (price up), -1 risky in;
        `limit` the sqrt price where each stops (None: none). With `active`, books each trade
        at `ref` and adds the trader's P&L to `pnl`.

        Returns:
            (used, out): input taken and output paid, (N,) each.
        """
        n = self.n
        d = np.asarray(direction, dtype=np.int64)
        if limit is None:
            limit = np.where(d > 0, S_MAX, S_MIN)
        return _swap_batch(
            np.asarray(amount, dtype=np.float64), d, np.asarray(limit, dtype=np.float64),
            np.ones(n) if ref is None else ref, active, is_arb,
            self.s, self.L, self.tick, self.idx, self.fee_growth, self.nk, self.tk, self.tks,
            self.tnet, self.pl, self.pu, self.psa, self.psb, self.pL, self.pacc, self.book,
            np.zeros(n) if pnl is None else pnl, self.f, self.g, self.sqps,
        )  # fmt: skip

    def swap(
        self,
        ctx,
        agent: str,
        amount: np.ndarray,
        direction: np.ndarray,
        limit: np.ndarray | None = None,
        is_arb: bool = False,
    ) -> np.ndarray:
        """`agent`'s exact-input swaps in block `ctx` (booked in the pool's and the agent's
        accounts); returns the output (N,)."""
        led = ctx.ledger
        _used, out = self.swap_raw(
            amount, direction, limit, ctx.ref, led.active, is_arb, led.agent_pnl[agent]
        )
        return out

    def refused(self, ctx, agent: str, amount, direction, min_out, mask: np.ndarray) -> None:
        """`agent` sends exact-input swaps where `mask` that will not fill `min_out`: they
        revert and only cost gas (booked by the agent). Nothing to do here; a chain run
        sends the reverting transactions."""

    def mint_raw(
        self, slot: int, lower: np.ndarray, upper: np.ndarray, liquidity: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Open slot `slot` on [lower, upper) with `liquidity` where liquidity > 0 (the slot
        must be free there); returns the tokens paid in (x, y), (N,) each."""
        return _mint_batch(
            slot, np.asarray(lower, dtype=np.int64), np.asarray(upper, dtype=np.int64),
            np.asarray(liquidity, dtype=np.float64), *self._pos_args(), self.sqps,
        )  # fmt: skip

    def burn_raw(self, slot: int, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Close slot `slot` where `mask` (all its liquidity, fees collected); returns the
        tokens paid out (x, y), (N,) each."""
        return _burn_batch(slot, np.asarray(mask, dtype=np.bool_), *self._pos_args())

    def mint(self, ctx, agent: str, slot: int, lower, upper, liquidity):
        """`agent` opens slot `slot` in block `ctx` (see `mint_raw`)."""
        return self.mint_raw(slot, lower, upper, liquidity)

    def burn(self, ctx, agent: str, slot: int, mask):
        """`agent` closes slot `slot` in block `ctx` (see `burn_raw`)."""
        return self.burn_raw(slot, mask)

    # ------------------------------------------------------------------ accounting

    def start_accounting(self) -> None:
        """Zero the metrics (fees owed stay: they are the pool's state); each open position's
        hold portfolio becomes the tokens it holds now."""
        owed = self.pacc[:, :, [P_FEE0, P_FEE1]].copy()
        self.pacc[:] = 0.0
        self.pacc[:, :, [P_FEE0, P_FEE1]] = owed
        x, y = self.position_tokens(slice(None))
        self.pacc[:, :, P_HX] = x
        self.pacc[:, :, P_HY] = y
        self.book[:] = 0.0

    def new_block(self, dt: np.ndarray, active: bool) -> None:
        """A block starts: with `active` accounting, credit the dt seconds since the last one
        to every open position whose range held the price (as the last block left it)."""
        self.book[:, B_ARBNOW] = 0.0
        self.mempool = []
        if active:
            _time_in_range(dt, self.tick, self.pl, self.pu, self.pL, self.pacc)

    # ------------------------------------------------------------------ a replayed flow
    # (`sim.history.v3flow`: recorded calls by their intent, positions by their liquidity)

    def input_for_output(
        self, amount: np.ndarray, direction: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gross input of an exact-output swap of `amount` (+1: risky out for numeraire in,
        -1: numeraire out for risky in), segment by segment over the initialised ticks, and
        whether the pool's liquidity can pay that output; leaves the pool as it is. An
        exact-input swap of that input (`swap_raw`) pays `amount` to float rounding.

        Returns:
            (amount_in, fills), (N,) each.
        """
        return _input_for_output(
            np.asarray(amount, dtype=np.float64), np.asarray(direction, dtype=np.int64),
            self.s, self.L, self.idx, self.nk, self.tks, self.tnet, self.g,
        )  # fmt: skip

    def set_liquidity_raw(
        self, slot: int, lower: np.ndarray, upper: np.ndarray, liquidity: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Set slot `slot`'s liquidity on [lower, upper) to `liquidity` (V3's mint and burn of
        the difference): a free slot opens, a slot set to zero frees its ticks, fees owed stay
        owed (V3 pays them on collect). The range of an open slot is its own.

        Returns:
            (x, y): tokens the pool received (negative: paid out to the position), (N,) each.
        """
        return _set_liquidity_batch(
            slot, np.asarray(lower, dtype=np.int64), np.asarray(upper, dtype=np.int64),
            np.asarray(liquidity, dtype=np.float64), *self._pos_args(), self.sqps,
        )  # fmt: skip

    def collect_raw(self, slot: int, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pay slot `slot` up to (x, y) of its fees owed (inf: all); returns what it paid."""
        paid = []
        for k, want in ((P_FEE0, x), (P_FEE1, y)):
            owed = self.pacc[:, slot, k]
            take = np.minimum(owed, want)
            self.pacc[:, slot, k] = owed - take
            paid.append(take)
        return paid[0], paid[1]

    def flash_raw(self, x: np.ndarray, y: np.ndarray) -> None:
        """A flash loan's fees (x, y) paid to the in-range liquidity, as `UniswapV3Pool.flash`
        books them: fee growth += fee / L, each in-range position owed its share."""
        live = self.L > 0.0
        inside = (self.pL > 0.0) & (self.pl <= self.tick[:, None]) & (self.tick[:, None] < self.pu)
        for k, (owed, paid) in enumerate(((P_FEE0, x), (P_FEE1, y))):
            per = np.where(live, paid / np.where(live, self.L, 1.0), 0.0)
            self.fee_growth[:, k] += per
            self.pacc[:, :, owed] += np.where(inside, self.pL * per[:, None], 0.0)

    def _pos_args(self) -> tuple:
        return (
            self.s, self.L, self.tick, self.idx, self.nk, self.tk, self.tks, self.tnet,
            self.trefs, self.pl, self.pu, self.psa, self.psb, self.pL, self.pacc,
        )  # fmt: skip


@njit(cache=True, nogil=True)
def _mint_batch(j, lower, upper, lj, s, L, tick, idx, nk, tk, tks, tnet, trefs, pl, pu, psa,
                psb, pL, pacc, sqps):  # fmt: skip
    n = s.shape[0]
    x = np.zeros(n)
    y = np.zeros(n)
    for w in range(n):
        if lj[w] > 0.0:
            x[w], y[w] = mint_w(w, j, lower[w], upper[w], lj[w], s, L, tick, idx, nk, tk, tks,
                                tnet, trefs, pl, pu, psa, psb, pL, pacc, sqps)  # fmt: skip
    return x, y


@njit(cache=True, nogil=True)
def _burn_batch(j, mask, s, L, tick, idx, nk, tk, tks, tnet, trefs, pl, pu, psa, psb, pL, pacc):
    n = s.shape[0]
    x = np.zeros(n)
    y = np.zeros(n)
    for w in range(n):
        if mask[w] and pL[w, j] > 0.0:
            x[w], y[w] = burn_w(w, j, s, L, tick, idx, nk, tk, tks, tnet, trefs, pl, pu, psa,
                                psb, pL, pacc)  # fmt: skip
    return x, y


@njit(cache=True, nogil=True)
def _input_for_output(amount, direction, s, L, idx, nk, tks, tnet, g):
    """`V3Batch.input_for_output`: per segment, the output the segment can pay (the walk's
    closed forms) and, in the last, the input for the rest of the output, written without a
    difference of nearby prices (a small trade's s' - s would keep only its last digits)."""
    n = s.shape[0]
    need = np.zeros(n)
    fills = np.zeros(n, dtype=np.bool_)
    for w in range(n):
        d = direction[w]
        rem = amount[w]
        if d == 0 or not rem > 0.0:
            continue
        sw = s[w]
        lw = L[w]
        i = idx[w]
        ain = 0.0
        if d > 0:  # numeraire in, risky out: s rises, out = L (1/s - 1/s')
            while rem > 0.0:
                nxt = tks[w, i + 1] if i + 1 < nk[w] else math.inf
                if lw > 0.0:
                    cap = lw / sw if nxt == math.inf else lw * (nxt - sw) / (sw * nxt)
                    if rem < cap:  # s' = L s / (L - out s); L (s' - s) = out s s', no cancelling
                        s_new = lw * sw / (lw - rem * sw)
                        ain += rem * sw * s_new / g
                        rem = 0.0
                        break
                    ain += lw * (nxt - sw) / g
                    rem -= cap
                if nxt == math.inf:
                    break
                sw = nxt
                lw += tnet[w, i + 1]
                i += 1
        else:  # risky in, numeraire out: s falls, out = L (s - s')
            while rem > 0.0:
                nxt = tks[w, i] if i >= 0 else 0.0
                if lw > 0.0:
                    cap = lw * (sw - nxt)
                    if rem < cap:  # s' = s - out / L; L (1/s' - 1/s) = out / (s s')
                        s_new = sw - rem / lw
                        ain += rem / (sw * s_new * g)
                        rem = 0.0
                        break
                    if nxt == 0.0:
                        break
                    ain += lw * (sw - nxt) / (sw * nxt * g)
                    rem -= cap
                if i < 0:
                    break
                sw = nxt
                lw -= tnet[w, i]
                i -= 1
        need[w] = ain
        fills[w] = rem == 0.0
    return need, fills


@njit(cache=True, nogil=True)
def _set_liquidity_batch(j, lower, upper, lj, s, L, tick, idx, nk, tk, tks, tnet, trefs, pl,
                         pu, psa, psb, pL, pacc, sqps):  # fmt: skip
    n = s.shape[0]
    x = np.zeros(n)
    y = np.zeros(n)
    for w in range(n):
        old = pL[w, j]
        new = lj[w]
        if new == old:
            continue
        if old == 0.0:  # opens: the slot's accumulators restart, its fees owed stay owed
            f0 = pacc[w, j, P_FEE0]
            f1 = pacc[w, j, P_FEE1]
            x[w], y[w] = mint_w(w, j, lower[w], upper[w], new, s, L, tick, idx, nk, tk, tks,
                                tnet, trefs, pl, pu, psa, psb, pL, pacc, sqps)  # fmt: skip
            pacc[w, j, P_FEE0] = f0
            pacc[w, j, P_FEE1] = f1
            continue
        if new == 0.0:  # closes: its ticks freed
            x0, y0 = position_tokens(old, psa[w, j], psb[w, j], s[w])
            release_tick(w, pl[w, j], old, tick, idx, nk, tk, tks, tnet, trefs)
            release_tick(w, pu[w, j], -old, tick, idx, nk, tk, tks, tnet, trefs)
            pL[w, j] = 0.0
            x[w] = -x0
            y[w] = -y0
        else:
            delta = new - old
            for p in range(nk[w]):
                if tk[w, p] == pl[w, j]:
                    tnet[w, p] += delta
                elif tk[w, p] == pu[w, j]:
                    tnet[w, p] -= delta
            pL[w, j] = new
            dx, dy = position_tokens(abs(delta), psa[w, j], psb[w, j], s[w])
            if delta > 0.0:
                x[w] = dx
                y[w] = dy
                pacc[w, j, P_HX] += dx
                pacc[w, j, P_HY] += dy
            else:
                x[w] = -dx
                y[w] = -dy
                pacc[w, j, P_HX] *= new / old
                pacc[w, j, P_HY] *= new / old
        if pl[w, j] <= tick[w] and tick[w] < pu[w, j]:
            L[w] = _active_liquidity(w, tick[w], pl, pu, pL)
    return x, y

"""The `univ3` venue kind: a genuine UniswapV3Pool (`@uniswap/v3-core`) traded through
SwapRouter (`@uniswap/v3-periphery`): `exactOutputSingle` to buy base (amountInMaximum),
`exactInputSingle` to sell it (amountOutMinimum), each with a `sqrtPriceLimitX96`.

Read: `slot0`, `liquidity`, the pool's token balances, the tick-bitmap words on each side of
the current one (`PoolRef.bitmap_words`), `ticks(t)` of every initialised tick in them, and
the oracle (`observe([0])`, and `observe([window, 0])` where the pool's observations reach
back that far). The reader caches which words and ticks to read; when the price left the
centre word or the bitmap shows other ticks, a follow-up round reads the new ones.

Those ticks are exactly what a swap inside the words crosses, so the exact twin
(`sim.venues.univ3.twin.UniswapV3Pool`, built by `twin()`) quotes such a swap as QuoterV2 does
(`sim.venues.univ3.periphery`), to the wei. Beyond the words nothing is known: routing's
`V3Venue` stops its capacity there and every twin quote is bounded by their edge.

A leg's worst prices, from the twin: amountInMaximum = ceil(twin in × (1 + tol)) or
amountOutMinimum = floor(twin out × (1 − tol)), and sqrtPriceLimitX96 = the twin's price
after the trade moved by tol in the trade's direction (the pool stops there: a price that ran
away fills part, never worse).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from keeper.calls import Call
from keeper.venues.base import LegPlan, PoolRef, VenueError
from sim.chain.abi import encode_call
from sim.decisions.routing import Leg, V3Venue
from sim.venues.univ3.periphery import quote_exact_input_single, quote_exact_output_single
from sim.venues.univ3.twin import TickInfo, UniswapV3Pool
from sim.venues.univ3.v3math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
SLOT0 = ("uint160", "int24", "uint16", "uint16", "uint16", "uint8", "bool")
TICKS = ("uint128", "int128", "uint256", "uint256", "int56", "uint160", "uint32", "bool")
OBSERVE = ("int56[]", "uint160[]")
_PARAMS = "(address,address,uint24,address,uint256,uint256,uint256,uint160)"
EXACT_IN = f"exactInputSingle({_PARAMS})"
EXACT_OUT = f"exactOutputSingle({_PARAMS})"
INT56 = 1 << 56


@dataclass(frozen=True)
class V3PoolSnapshot:
    """One V3 pool at a block, base/quote orientation resolved; the pool's own units
    (Q64.96 prices, raw liquidity, token base units, fee in pips)."""

    name: str
    address: str
    fee: int
    tick_spacing: int
    base_is_token0: bool
    sqrt_price_x96: int
    tick: int
    fee_protocol: int
    unlocked: bool
    liquidity: int
    ticks: tuple[tuple[int, int, int], ...]
    """(tick, liquidityGross, liquidityNet) of each initialised tick in the words read."""
    bitmap: tuple[tuple[int, int], ...]
    """(word position, tickBitmap word) of the words read."""
    word_lo: int
    word_hi: int
    balance0: int
    balance1: int
    tick_cumulative: int
    """observe([0]): the tick cumulative at this block (int56, wrapping)."""
    twap_tick_cumulative: int | None
    """observe([window])'s, window seconds earlier; None when the oracle does not reach."""
    twap_window_s: int
    base_decimals: int
    quote_decimals: int
    kind: str = "univ3"

    @property
    def fee_bps(self) -> float:
        return self.fee / 100

    @property
    def decimals01(self) -> tuple[int, int]:
        b, q = self.base_decimals, self.quote_decimals
        return (b, q) if self.base_is_token0 else (q, b)

    @property
    def price(self) -> float:
        """Quote per base, whole tokens."""
        d0, d1 = self.decimals01
        raw = (self.sqrt_price_x96 / 2**96) ** 2 * 10.0 ** (d0 - d1)
        return raw if self.base_is_token0 else 1.0 / raw

    @property
    def depth_base(self) -> float:
        """Base of the in-range liquidity's virtual reserves, L/√P in whole base."""
        d0, d1 = self.decimals01
        return self.liquidity / 10 ** ((d0 + d1) / 2) / math.sqrt(self.price)

    @property
    def tick_lo(self) -> int:
        """Lowest tick the words read cover (their ticks are known above it)."""
        return max(self.word_lo * 256 * self.tick_spacing, MIN_TICK)

    @property
    def tick_hi(self) -> int:
        return min(((self.word_hi + 1) * 256 - 1) * self.tick_spacing, MAX_TICK)

    def edge(self, zero_for_one: bool) -> int:
        """The sqrt price (Q64.96) where the known ticks end in the swap's direction."""
        if zero_for_one:
            return max(get_sqrt_ratio_at_tick(self.tick_lo), MIN_SQRT_RATIO + 1)
        return min(get_sqrt_ratio_at_tick(self.tick_hi), MAX_SQRT_RATIO - 1)

    def twin(self) -> UniswapV3Pool:
        """The exact twin holding this state: enough for any swap within the words read."""
        pool = UniswapV3Pool(self.fee, self.tick_spacing, self.address)
        pool.sqrt_price_x96, pool.tick, pool.liquidity = (
            self.sqrt_price_x96,
            self.tick,
            self.liquidity,
        )
        pool.fee_protocol, pool.unlocked = self.fee_protocol, self.unlocked
        pool.tick_bitmap = dict(self.bitmap)
        pool.ticks = {t: TickInfo(g, n, 0, 0, 0, 0, 0, True) for t, g, n in self.ticks}
        pool.balance0, pool.balance1 = self.balance0, self.balance1
        return pool


@dataclass(frozen=True)
class WordsAndTicks:
    """What the reader reads of one pool's ticks: words [lo, hi] and those initialised ticks."""

    word_lo: int
    word_hi: int
    ticks: tuple[int, ...] = ()


def word_of(tick: int, spacing: int) -> int:
    """The bitmap word holding `tick` (TickBitmap.position of the compressed tick)."""
    return (tick // spacing) >> 8


def words_around(tick: int, spacing: int, k: int) -> tuple[int, int]:
    w = word_of(tick, spacing)
    lo = max(w - k, word_of(MIN_TICK, spacing))
    return lo, min(w + k, word_of(MAX_TICK, spacing))


# --------------------------------------------------------------------------- read


def static_calls(ref: PoolRef, base: str, quote: str) -> list[Call]:
    n, a = ref.name, ref.address
    calls = [
        Call(f"token0:{n}", a, "token0()", ("address",)),
        Call(f"token1:{n}", a, "token1()", ("address",)),
        Call(f"fee:{n}", a, "fee()", ("uint24",)),
        Call(f"spacing:{n}", a, "tickSpacing()", ("int24",)),
        Call(f"slot0:{n}", a, "slot0()", SLOT0),
    ]
    if ref.factory:
        fee = ref.fee_pips or 0
        calls += [
            Call(f"tier:{n}", ref.factory, "feeAmountTickSpacing(uint24)", ("int24",),
                 ("uint24",), (fee,)),
            Call(f"pool:{n}", ref.factory, "getPool(address,address,uint24)", ("address",),
                 ("address", "address", "uint24"), (base, quote, fee)),
        ]  # fmt: skip
    return calls


def check_static(ref: PoolRef, static: dict[str, Any], base: str, quote: str) -> bool:
    """Refuse, in one line naming the field, a pool of other tokens, another fee tier than
    the configured one, a tier the factory does not know, or a pool not the factory's;
    returns whether the base is token0."""
    n = ref.name
    tokens = (static[f"token0:{n}"], static[f"token1:{n}"])
    if {t.lower() for t in tokens} != {base.lower(), quote.lower()}:
        raise VenueError(
            f"{ref.field}: pool {ref.address} trades {tokens[0]}/{tokens[1]}, not the "
            f"configured pair (base {base}, quote {quote}): fix the pool's address or the tokens"
        )
    fee = static[f"fee:{n}"]
    if ref.fee_pips is not None and ref.factory and static[f"tier:{n}"] == 0:
        raise VenueError(
            f"{ref.field}.fee: {ref.fee_pips} is not a fee tier the factory {ref.factory} "
            f"knows (feeAmountTickSpacing is 0): use its tier, e.g. 500, 3000 or 10000 pips"
        )
    if ref.fee_pips is not None and fee != ref.fee_pips:
        raise VenueError(
            f"{ref.field}.fee: {ref.fee_pips}, but pool {ref.address} charges {fee} pips: "
            "fix the fee or the pool's address"
        )
    if ref.factory and ref.fee_pips is not None:
        pool = static[f"pool:{n}"]
        if pool.lower() != ref.address.lower():
            known = "has none" if pool == ZERO_ADDRESS else f"has {pool}"
            raise VenueError(
                f"{ref.field}: {ref.address} is not the factory {ref.factory}'s base/quote pool "
                f"of fee {fee} (it {known}): fix the pool's or the factory's address"
            )
    if static[f"slot0:{n}"][0] == 0:
        raise VenueError(f"{ref.field}: pool {ref.address} is not initialised (no price yet)")
    return tokens[0].lower() == base.lower()


def first_words(ref: PoolRef, static: dict[str, Any]) -> WordsAndTicks:
    tick, spacing = static[f"slot0:{ref.name}"][1], static[f"spacing:{ref.name}"]
    return WordsAndTicks(*words_around(tick, spacing, ref.bitmap_words))


def tick_calls(
    ref: PoolRef, static: dict[str, Any], read: WordsAndTicks, twap_window_s: int
) -> list[Call]:
    n, a = ref.name, ref.address
    t0, t1 = static[f"token0:{n}"], static[f"token1:{n}"]
    calls = [
        Call(f"slot0:{n}", a, "slot0()", SLOT0),
        Call(f"liquidity:{n}", a, "liquidity()", ("uint128",)),
        Call(f"bal0:{n}", t0, "balanceOf(address)", ("uint256",), ("address",), (a,)),
        Call(f"bal1:{n}", t1, "balanceOf(address)", ("uint256",), ("address",), (a,)),
        Call(f"observe:{n}", a, "observe(uint32[])", OBSERVE, ("uint32[]",), ([0],)),
    ]
    if twap_window_s > 0:
        calls.append(Call(f"twap:{n}", a, "observe(uint32[])", OBSERVE, ("uint32[]",),
                          ([twap_window_s],), optional=True))  # fmt: skip
    calls += [
        Call(f"word:{n}:{w}", a, "tickBitmap(int16)", ("uint256",), ("int16",), (w,))
        for w in range(read.word_lo, read.word_hi + 1)
    ]
    calls += [Call(f"tick:{n}:{t}", a, "ticks(int24)", TICKS, ("int24",), (t,)) for t in read.ticks]
    return calls


def initialized_ticks(bitmap: dict[int, int], spacing: int) -> tuple[int, ...]:
    """The ticks whose bits are set in `bitmap` (word -> uint256), ascending."""
    return tuple(
        (w * 256 + b) * spacing for w in sorted(bitmap) for b in range(256) if bitmap[w] >> b & 1
    )


def next_read(ref: PoolRef, static: dict, out: dict, read: WordsAndTicks) -> WordsAndTicks:
    """What the next round must read: `read` itself when this round saw all it needs (the
    words around the current tick, and every tick their bitmap sets)."""
    n, spacing = ref.name, static[f"spacing:{ref.name}"]
    lo, hi = words_around(out[f"slot0:{n}"][1], spacing, ref.bitmap_words)
    if (lo, hi) != (read.word_lo, read.word_hi):
        return WordsAndTicks(lo, hi, read.ticks)
    bitmap = {w: out[f"word:{n}:{w}"][0] for w in range(lo, hi + 1)}
    return WordsAndTicks(lo, hi, initialized_ticks(bitmap, spacing))


def snapshot(
    ref: PoolRef, static: dict, out: dict, read: WordsAndTicks, base0: bool, bd: int, qd: int,
    twap_window_s: int,
) -> V3PoolSnapshot:  # fmt: skip
    n = ref.name
    sqrt_price, tick, _, _, _, fee_protocol, unlocked = out[f"slot0:{n}"]
    twap = out.get(f"twap:{n}")
    return V3PoolSnapshot(
        name=n, address=ref.address, fee=static[f"fee:{n}"],
        tick_spacing=static[f"spacing:{n}"], base_is_token0=base0, sqrt_price_x96=sqrt_price,
        tick=tick, fee_protocol=fee_protocol, unlocked=unlocked,
        liquidity=out[f"liquidity:{n}"][0],
        ticks=tuple((t, out[f"tick:{n}:{t}"][0], out[f"tick:{n}:{t}"][1]) for t in read.ticks),
        bitmap=tuple((w, out[f"word:{n}:{w}"][0]) for w in range(read.word_lo, read.word_hi + 1)),
        word_lo=read.word_lo, word_hi=read.word_hi,
        balance0=out[f"bal0:{n}"][0], balance1=out[f"bal1:{n}"][0],
        tick_cumulative=out[f"observe:{n}"][0][0],
        twap_tick_cumulative=twap[0][0] if twap else None, twap_window_s=twap_window_s,
        base_decimals=bd, quote_decimals=qd,
    )  # fmt: skip


# --------------------------------------------------------------------------- plan


def routing_venue(pool: V3PoolSnapshot, gas_quote: float, max_order: float) -> V3Venue:
    """The pool for `sim.decisions.routing.split_order`: the piecewise constant-product fill
    over the ticks read."""
    d0, d1 = pool.decimals01
    return V3Venue.from_ticks(
        pool.name, sqrt_price_x96=pool.sqrt_price_x96, liquidity=pool.liquidity,
        liquidity_net={t: net for t, _, net in pool.ticks}, tick=pool.tick,
        tick_lo=pool.tick_lo, tick_hi=pool.tick_hi, fee_pips=pool.fee,
        base_is_token0=pool.base_is_token0, decimals0=d0, decimals1=d1, gas_quote=gas_quote,
        max_order=max_order,
    )  # fmt: skip


def _moved(sqrt_price_x96: int, tol: float, down: bool) -> int:
    """`sqrt_price_x96` with its price moved by `tol` (down or up), inside the pool's range."""
    num = round((1 - tol if down else 1 + tol) * 10**9)
    moved = math.isqrt(sqrt_price_x96 * sqrt_price_x96 * num // 10**9)
    return min(max(moved, MIN_SQRT_RATIO + 1), MAX_SQRT_RATIO - 1)


def filled(pool: V3PoolSnapshot, zero_for_one: bool, amount_specified: int) -> int:
    """What the twin fills of `amount_specified` (> 0 exact input, < 0 exact output) before
    the words read end: the input consumed or the output received, base units."""
    a0, a1, *_ = pool.twin().swap_steps(zero_for_one, amount_specified, pool.edge(zero_for_one))
    specified = a0 if zero_for_one == (amount_specified > 0) else a1
    return abs(specified)


def plan_leg(
    pool: V3PoolSnapshot, leg: Leg, tol: float, deadline: int, base: str, quote: str,
    gas_units: int,
) -> LegPlan:  # fmt: skip
    """The leg's amounts and bounds from the twin's QuoterV2 maths (module docstring)."""
    buy = leg.size > 0
    zero_for_one = pool.base_is_token0 != buy  # buying base: the quote token goes in
    size_wei = int(round(abs(leg.size) * 10**pool.base_decimals))
    size_wei = min(size_wei, filled(pool, zero_for_one, -size_wei if buy else size_wei))
    edge = pool.edge(zero_for_one)
    if buy:
        amount_in, sqrt_after, _ = quote_exact_output_single(
            pool.twin(), zero_for_one, size_wei, edge
        )
        amount_out, limit = size_wei, math.ceil(amount_in * (1 + tol))
        token_in, token_out, cost = quote, base, amount_in / 10**pool.quote_decimals
    else:
        amount_out, sqrt_after, _ = quote_exact_input_single(
            pool.twin(), zero_for_one, size_wei, edge
        )
        amount_in, limit = size_wei, math.floor(amount_out * (1 - tol))
        token_in, token_out, cost = base, quote, -amount_out / 10**pool.quote_decimals
    size = math.copysign(size_wei / 10**pool.base_decimals, leg.size)
    return LegPlan(
        venue=leg.venue, kind="univ3", size=size,
        size_wei=int(math.copysign(size_wei, leg.size)), expected_cost_quote=cost,
        gas_quote=leg.gas, expected_price=abs(cost / size), deadline=deadline,
        gas_units=gas_units, pool=pool.address, token_in=token_in,
        token_out=token_out, amount_in=amount_in, amount_out=amount_out, amount_limit=limit,
        fee_pips=pool.fee, sqrt_price_limit_x96=_moved(sqrt_after, tol, zero_for_one),
    )  # fmt: skip


def encode(leg: LegPlan, router: str, recipient: str) -> tuple[str, str]:
    """(to, calldata) of the leg through SwapRouter at `router`."""
    buy = leg.size > 0
    amount = leg.amount_out if buy else leg.amount_in
    params = (leg.token_in, leg.token_out, leg.fee_pips, recipient, leg.deadline, amount,
              leg.amount_limit, leg.sqrt_price_limit_x96)  # fmt: skip
    return router, encode_call(EXACT_OUT if buy else EXACT_IN, [_PARAMS], [params])


def mean_tick(start: int, end: int, seconds: int) -> float:
    """The arithmetic mean tick between two tick cumulatives `seconds` apart; the int56
    difference wraps as the pool's counter does."""
    delta = (end - start) % INT56
    delta -= INT56 if delta >= INT56 // 2 else 0
    return delta / seconds


def twap_tick(pool: V3PoolSnapshot) -> float | None:
    """The mean tick over the pool's own oracle window (None: it does not reach back)."""
    if pool.twap_tick_cumulative is None or pool.twap_window_s <= 0:
        return None
    return mean_tick(pool.twap_tick_cumulative, pool.tick_cumulative, pool.twap_window_s)

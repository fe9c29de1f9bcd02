"""Pools with the Uniswap V2 pair interface: two venue kinds, one read, one twin.

- `cpmm`: ammlab's ConstantProductPool (fee set at deployment, from the config or the
  manifest) traded through ammlab's Router.vy, whose swaps name the pool:
  `swapExactTokensForTokens(pool, tokenIn, amountIn, amountOutMin, to, deadline)` and
  `swapTokensForExactTokens(pool, tokenIn, amountOut, amountInMax, to, deadline)`.
- `univ2`: a genuine UniswapV2Pair (`@uniswap/v2-core`) traded through UniswapV2Router02's
  path form, `swapExactTokensForTokens(amountIn, amountOutMin, path, to, deadline)` and
  `swapTokensForExactTokens(amountOut, amountInMax, path, to, deadline)`. The pair has no fee
  getter: its 0.3 % is the protocol's constant (`V2_FEE_BPS`), as in UniswapV2Library.

Both are read through the pair interface (`getReserves`, cumulative prices, `totalSupply`,
`balanceOf`), priced for routing by the constant-product formula (`CpmmVenue`) and legged by
the exact integer twin (`sim.venues.cpmm.twin`, equal to UniswapV2Library's getAmountIn /
getAmountOut at 30 bp, so to Router02's `getAmountsIn` / `getAmountsOut`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from keeper.calls import Call
from keeper.venues.base import LegPlan, PoolRef, VenueError
from sim.chain.abi import encode_call
from sim.decisions.routing import CpmmVenue, Leg
from sim.venues.cpmm.twin import get_amount_in, get_amount_out

V2_FEE_BPS = 30
"""UniswapV2Pair's swap fee (its K check's 997/1000), a constant of the protocol."""
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

ROUTER_EXACT_IN = "swapExactTokensForTokens(address,address,uint256,uint256,address,uint256)"
ROUTER_EXACT_OUT = "swapTokensForExactTokens(address,address,uint256,uint256,address,uint256)"
ROUTER02_EXACT_IN = "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)"
ROUTER02_EXACT_OUT = "swapTokensForExactTokens(uint256,uint256,address[],address,uint256)"


@dataclass(frozen=True)
class PoolSnapshot:
    """One pair, with the base/quote orientation resolved. Amounts in token base units;
    `price` in whole quote per whole base (each token's own decimals)."""

    name: str
    address: str
    fee_bps: float
    base_is_token0: bool
    reserve_base: int
    reserve_quote: int
    block_timestamp_last: int
    price0_cumulative: int
    price1_cumulative: int
    total_supply: int
    lp_balance: int
    base_decimals: int
    quote_decimals: int
    kind: str = "cpmm"

    @property
    def base(self) -> float:
        return self.reserve_base / 10**self.base_decimals

    @property
    def quote(self) -> float:
        return self.reserve_quote / 10**self.quote_decimals

    @property
    def price(self) -> float:
        return self.quote / self.base if self.reserve_base else float("nan")

    @property
    def depth_base(self) -> float:
        """Base in the pool (what moving its price costs scales with)."""
        return self.base

    @property
    def lp_share(self) -> float:
        return self.lp_balance / self.total_supply if self.total_supply else 0.0

    @property
    def reserves01(self) -> tuple[int, int]:
        if self.base_is_token0:
            return self.reserve_base, self.reserve_quote
        return self.reserve_quote, self.reserve_base


# --------------------------------------------------------------------------- read


def static_calls(ref: PoolRef, base: str, quote: str) -> list[Call]:
    """Facts read once: the pair's tokens, and (univ2 with a factory) the factory's pair."""
    calls = [
        Call(f"token0:{ref.name}", ref.address, "token0()", ("address",)),
        Call(f"token1:{ref.name}", ref.address, "token1()", ("address",)),
    ]
    if ref.factory:
        calls.append(Call(f"pair:{ref.name}", ref.factory, "getPair(address,address)",
                          ("address",), ("address", "address"), (base, quote)))  # fmt: skip
    return calls


def check_static(ref: PoolRef, static: dict[str, Any], base: str, quote: str) -> bool:
    """Refuse, in one line naming the field, a pool that does not trade base/quote or that
    its factory does not know; returns whether the base is token0."""
    tokens = (static[f"token0:{ref.name}"], static[f"token1:{ref.name}"])
    if {t.lower() for t in tokens} != {base.lower(), quote.lower()}:
        raise VenueError(
            f"{ref.field}: pool {ref.address} trades {tokens[0]}/{tokens[1]}, not the "
            f"configured pair (base {base}, quote {quote}): fix the pool's address or the tokens"
        )
    if ref.factory:
        pair = static[f"pair:{ref.name}"]
        if pair.lower() != ref.address.lower():
            known = "has none" if pair == ZERO_ADDRESS else f"has {pair}"
            raise VenueError(
                f"{ref.field}: {ref.address} is not the factory {ref.factory}'s base/quote pair "
                f"(it {known}): fix the pair's or the factory's address"
            )
    return tokens[0].lower() == base.lower()


def tick_calls(ref: PoolRef, lp_account: str) -> list[Call]:
    n, a = ref.name, ref.address
    return [
        Call(f"reserves:{n}", a, "getReserves()", ("uint112", "uint112", "uint32")),
        Call(f"cum0:{n}", a, "price0CumulativeLast()", ("uint256",)),
        Call(f"cum1:{n}", a, "price1CumulativeLast()", ("uint256",)),
        Call(f"supply:{n}", a, "totalSupply()", ("uint256",)),
        Call(f"lp:{n}", a, "balanceOf(address)", ("uint256",), ("address",), (lp_account,)),
    ]


def snapshot(ref: PoolRef, out: dict[str, Any], base0: bool, bd: int, qd: int) -> PoolSnapshot:
    n = ref.name
    r0, r1, ts = out[f"reserves:{n}"]
    return PoolSnapshot(
        name=n, address=ref.address, fee_bps=ref.fee_bps, base_is_token0=base0,
        reserve_base=r0 if base0 else r1, reserve_quote=r1 if base0 else r0,
        block_timestamp_last=ts, price0_cumulative=out[f"cum0:{n}"][0],
        price1_cumulative=out[f"cum1:{n}"][0], total_supply=out[f"supply:{n}"][0],
        lp_balance=out[f"lp:{n}"][0], base_decimals=bd, quote_decimals=qd, kind=ref.kind,
    )  # fmt: skip


# --------------------------------------------------------------------------- plan


def routing_venue(
    pool: PoolSnapshot, gas_quote: float, max_order: float, max_buy_fraction: float
) -> CpmmVenue:
    """The pool for `sim.decisions.routing.split_order`: the constant-product fill."""
    return CpmmVenue(
        name=pool.name, reserve_base=pool.base, reserve_quote=pool.quote, fee_bps=pool.fee_bps,
        gas_quote=gas_quote, max_order=max_order, max_buy_fraction=max_buy_fraction,
    )  # fmt: skip


def twin_fee_bps(pool: PoolSnapshot) -> int:
    """The fee the twin prices with: the protocol's constant on a genuine pair."""
    return V2_FEE_BPS if pool.kind == "univ2" else int(round(pool.fee_bps))


def plan_leg(
    pool: PoolSnapshot, leg: Leg, tol: float, deadline: int, base: str, quote: str, gas_units: int
) -> LegPlan:
    """A buy as an exact-output swap with amountInMax = ceil(twin in × (1 + tol)); a sale as
    an exact-input swap with amountOutMin = floor(twin out × (1 − tol))."""
    fee = twin_fee_bps(pool)
    size_wei = int(round(abs(leg.size) * 10**pool.base_decimals))
    if leg.size > 0:
        amount_in = get_amount_in(size_wei, pool.reserve_quote, pool.reserve_base, fee)
        amount_out, limit = size_wei, math.ceil(amount_in * (1 + tol))
        token_in, token_out, cost = quote, base, amount_in / 10**pool.quote_decimals
    else:
        amount_in = size_wei
        amount_out = get_amount_out(size_wei, pool.reserve_base, pool.reserve_quote, fee)
        limit = math.floor(amount_out * (1 - tol))
        token_in, token_out, cost = base, quote, -amount_out / 10**pool.quote_decimals
    size = math.copysign(size_wei / 10**pool.base_decimals, leg.size)
    return LegPlan(
        venue=leg.venue, kind=pool.kind, size=size, size_wei=int(math.copysign(size_wei, leg.size)),
        expected_cost_quote=cost, gas_quote=leg.gas, expected_price=abs(cost / size),
        deadline=deadline, gas_units=gas_units, pool=pool.address,
        token_in=token_in, token_out=token_out, amount_in=amount_in, amount_out=amount_out,
        amount_limit=limit,
    )  # fmt: skip


def encode(leg: LegPlan, router: str, recipient: str) -> tuple[str, str]:
    """(to, calldata) of a swap leg through the pool kind's `router`."""
    buy = leg.size > 0
    amount, limit = (leg.amount_out, leg.amount_limit) if buy else (leg.amount_in, leg.amount_limit)
    if leg.kind == "univ2":
        signature = ROUTER02_EXACT_OUT if buy else ROUTER02_EXACT_IN
        types = ["uint256", "uint256", "address[]", "address", "uint256"]
        args = [amount, limit, [leg.token_in, leg.token_out], recipient, leg.deadline]
    else:
        signature = ROUTER_EXACT_OUT if buy else ROUTER_EXACT_IN
        types = ["address", "address", "uint256", "uint256", "address", "uint256"]
        args = [leg.pool, leg.token_in, amount, limit, recipient, leg.deadline]
    return router, encode_call(signature, types, args)

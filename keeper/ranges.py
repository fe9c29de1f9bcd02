"""The keeper's concentrated position: its state from a chain snapshot, the range policy's
decision on it (`sim.decisions.ranges`, the simulator's own code), and each step of a move
planned with bounds from the exact twins. Pure: no chain, no clock.

The position is a NonfungiblePositionManager token the keeper owns, in one of its `univ3`
venues. The reader (`keeper.reader`) reads `positions(tokenId)`, `ownerOf(tokenId)`, the
pool's fee growth and the ticks at the range's ends (`PositionSnapshot`); `range_inputs`
turns that, with the pool's `V3PoolSnapshot`, into the `RangeInputs` the simulator's keeper
agent builds from its twins (`sim.agents.keeper_range`): the canonical orientation (base =
token0; a pool whose base is token1 has its ticks negated, a canonical tick t being the pool's
−t − 1), whole-token amounts, whole-unit liquidity (raw / 10^((d0 + d1) / 2)), the fees the
token is owed now (tokensOwed plus its liquidity times the fee growth inside since its last
snapshot, as the manager computes them), the pool's fee income (`FeeIncome`, fed each tick)
and σ̂ from the oracle's prices (`VolForecast`).

A move is four transactions, each planned when it is due from the state the chain shows then
(`keeper.range_execution` journals them as one rebalance):

    decrease  NPM.decreaseLiquidity(all of the token's liquidity), amount0Min/amount1Min =
              the twin's LiquidityAmounts at the pool price × (1 − tol)
    collect   NPM.collect(exactly what the token is owed: principal and fees)
    swap      SwapRouter.exactInputSingle of the surplus token (what `plan_move` sells), from
              the collected amounts, amountOutMinimum = the twin's QuoterV2 output × (1 − tol),
              sqrtPriceLimitX96 = the twin's price after it moved by tol
    mint      NPM.mint of the new range with what the budget holds after the swap,
              amount0Min/amount1Min = the twin's amounts for the liquidity it buys × (1 − tol)

each with the block's timestamp + `deadline_s` as deadline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from keeper.venues.v3 import V3PoolSnapshot, _moved
from sim.chain.abi import encode_call
from sim.decisions.book import V3Positions
from sim.decisions.ranges import (
    FeeIncome,
    RangeInputs,
    plan_move,
    range_ticks,
    recentred,
)
from sim.venues.univ3.periphery import (
    amounts_for_liquidity,
    liquidity_for_amounts,
    quote_exact_input_single,
)
from sim.venues.univ3.twin import TickInfo, _fee_growth_inside
from sim.venues.univ3.v3math import (
    Q96,
    Q128,
    UINT128_MAX,
    UINT256_MAX,
    get_sqrt_ratio_at_tick,
    mul_div,
)

__all__ = ["plan_move", "range_ticks", "recentred"]

STEPS = ("decrease", "collect", "swap", "mint")
"""A move's transactions, in order."""
STEP_GAS = {"decrease": 230_000, "collect": 100_000, "swap": 150_000, "mint": 470_000}
"""Gas units each step is priced at (the genuine contracts' use, README "Active liquidity
management", plus a margin)."""
NPM_POSITION = ("uint96", "address", "address", "address", "uint24", "int24", "int24",
                "uint128", "uint256", "uint256", "uint128", "uint128")  # fmt: skip
"""`positions(tokenId)` of NonfungiblePositionManager."""
_DECREASE = "decreaseLiquidity((uint256,uint128,uint256,uint256,uint256))"
_COLLECT = "collect((uint256,address,uint128,uint128))"
_MINT = ("mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,"
         "uint256))")  # fmt: skip
_SWAP = "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"


@dataclass(frozen=True)
class PositionSnapshot:
    """The keeper's position token and what the reader read around it (the contracts' units).

    Ticks are the pool's own; `lower_info`/`upper_info` are the pool's `ticks()` at the
    range's ends (their fee growth outside gives the growth inside)."""

    token_id: int
    owner: str
    pool: str
    """The `univ3` venue it is in (its token0, token1 and fee match that pool's)."""
    tick_lower: int
    tick_upper: int
    liquidity: int
    fee_growth_inside0_last_x128: int
    fee_growth_inside1_last_x128: int
    tokens_owed0: int
    tokens_owed1: int
    fee_growth_global0_x128: int
    fee_growth_global1_x128: int
    lower_info: TickInfo
    upper_info: TickInfo

    def owed(self, pool_tick: int) -> tuple[int, int]:
        """What `collect` would pay now: tokens owed plus the fees earned since the token's
        snapshot (the manager's arithmetic, `sim.venues.univ3.periphery`), raw units."""
        if self.liquidity == 0:
            return self.tokens_owed0, self.tokens_owed1
        inside = _fee_growth_inside(
            self.lower_info, self.upper_info, self.tick_lower, self.tick_upper, pool_tick,
            self.fee_growth_global0_x128, self.fee_growth_global1_x128,
        )  # fmt: skip
        fees = [
            mul_div((g - last) & UINT256_MAX, self.liquidity, Q128) & UINT128_MAX
            for g, last in zip(inside, (self.fee_growth_inside0_last_x128,
                                        self.fee_growth_inside1_last_x128), strict=True)
        ]  # fmt: skip
        return ((self.tokens_owed0 + fees[0]) & UINT128_MAX,
                (self.tokens_owed1 + fees[1]) & UINT128_MAX)  # fmt: skip


# --------------------------------------------------------------------------- read


def position_calls(manager: str, pool: str, pool_address: str, token_id: int,
                   ticks: tuple[int, int] | None) -> list:  # fmt: skip
    """The reader's calls for the position: `positions(tokenId)` and `ownerOf(tokenId)` of the
    manager, the pool's fee growth, and (once the range is known) its ends' `ticks()`."""
    from keeper.calls import Call
    from keeper.venues.v3 import TICKS

    calls = [
        Call("npm_position", manager, "positions(uint256)", NPM_POSITION, ("uint256",),
             (token_id,), optional=True),
        Call("npm_owner", manager, "ownerOf(uint256)", ("address",), ("uint256",), (token_id,),
             optional=True),
        Call("fg0", pool_address, "feeGrowthGlobal0X128()", ("uint256",)),
        Call("fg1", pool_address, "feeGrowthGlobal1X128()", ("uint256",)),
    ]  # fmt: skip
    if ticks is not None:
        calls += [Call(f"pos_tick:{t}", pool_address, "ticks(int24)", TICKS, ("int24",), (t,))
                  for t in ticks]  # fmt: skip
    return calls


def position_ticks(out: dict) -> tuple[int, int] | None:
    """The range the read `positions(tokenId)` holds (None: no such token)."""
    pos = out.get("npm_position")
    return None if pos is None else (pos[5], pos[6])


def position_snapshot(out: dict, pool: str, token_id: int) -> PositionSnapshot | None:
    """The position from a round that read its range's ticks (None: no such token)."""
    pos, owner = out.get("npm_position"), out.get("npm_owner")
    if pos is None or owner is None:
        return None
    lower, upper = pos[5], pos[6]
    info = [TickInfo(*out[f"pos_tick:{t}"]) for t in (lower, upper)]
    return PositionSnapshot(
        token_id=token_id, owner=owner[0], pool=pool, tick_lower=lower, tick_upper=upper,
        liquidity=pos[7], fee_growth_inside0_last_x128=pos[8],
        fee_growth_inside1_last_x128=pos[9], tokens_owed0=pos[10], tokens_owed1=pos[11],
        fee_growth_global0_x128=out["fg0"][0], fee_growth_global1_x128=out["fg1"][0],
        lower_info=info[0], upper_info=info[1],
    )  # fmt: skip


# --------------------------------------------------------------------------- orientation


@dataclass(frozen=True)
class Canon:
    """The conversions between a pool's units and the simulator's canonical ones."""

    base0: bool
    base_decimals: int
    quote_decimals: int

    @classmethod
    def of(cls, pool: V3PoolSnapshot) -> Canon:
        return cls(pool.base_is_token0, pool.base_decimals, pool.quote_decimals)

    @property
    def price_scale(self) -> float:
        """Whole-unit price of canonical tick 0."""
        return 10.0 ** (self.base_decimals - self.quote_decimals)

    @property
    def liquidity_scale(self) -> float:
        return 10.0 ** ((self.base_decimals + self.quote_decimals) / 2)

    def tick(self, pool_tick: int) -> int:
        return pool_tick if self.base0 else -pool_tick - 1

    def range(self, lower: int, upper: int) -> tuple[int, int]:
        """Canonical range of a pool range, and back (the map is its own inverse)."""
        return (lower, upper) if self.base0 else (-upper, -lower)

    def split(self, a0: int, a1: int) -> tuple[int, int]:
        """Pool amounts (token0, token1) as (base, quote), and back."""
        return (a0, a1) if self.base0 else (a1, a0)

    def whole(self, base: int, quote: int) -> tuple[float, float]:
        return base / 10**self.base_decimals, quote / 10**self.quote_decimals

    def growth(self, g0_x128: int, g1_x128: int) -> tuple[float, float]:
        """Fee growth per unit of whole liquidity, (base, quote) whole tokens."""
        g0, g1 = self.split(g0_x128, g1_x128)
        per = self.liquidity_scale / Q128
        return g0 * per / 10**self.base_decimals, g1 * per / 10**self.quote_decimals


def position_greeks_args(
    pool: V3PoolSnapshot, pos: PositionSnapshot
) -> tuple[V3Positions, float, float]:
    """The position for `sim.decisions.book.compute_book` (`V3Positions`, canonical, whole
    units), the pool's canonical sqrt price, and the base it is owed now (delta 1 each)."""
    c = Canon.of(pool)
    lower, upper = c.range(pos.tick_lower, pos.tick_upper)
    v3pos = V3Positions.from_ticks(
        np.array([pos.liquidity / c.liquidity_scale]), np.array([lower]), np.array([upper]),
        c.price_scale,
    )  # fmt: skip
    owed_base, _ = c.whole(*c.split(*pos.owed(pool.tick)))
    return v3pos, math.sqrt(pool.price), owed_base


# --------------------------------------------------------------------------- inputs


def swap_cost_fn(pool: V3PoolSnapshot, spot: float):
    """`SwapCost` priced by the exact twin (QuoterV2's maths) on the pool as read."""
    c = Canon.of(pool)

    def cost(amount: np.ndarray, direction: np.ndarray) -> np.ndarray:
        out = np.zeros(np.shape(amount))
        for i, (a, d) in enumerate(zip(np.atleast_1d(amount), np.atleast_1d(direction),
                                       strict=True)):  # fmt: skip
            if d == 0 or not a > 0:
                continue
            sell_base = d < 0
            units = int(a * 10 ** (c.base_decimals if sell_base else c.quote_decimals))
            zero_for_one = sell_base == c.base0
            got, _, _ = quote_exact_input_single(pool.twin(), zero_for_one, units,
                                                 pool.edge(zero_for_one))  # fmt: skip
            got_whole = got / 10 ** (c.quote_decimals if sell_base else c.base_decimals)
            out[i] = a * spot - got_whole if sell_base else a - got_whole * spot
        return out

    return cost


@dataclass
class RangeState:
    """What the keeper remembers between ticks for its range policy: the fee income and σ̂
    estimators (fed each tick) and the time of its last move."""

    fee_income: FeeIncome
    vol: object
    """`sim.learn.features.VolForecast`."""
    last_move: float = -math.inf


def range_inputs(
    snap,
    pool: V3PoolSnapshot,
    pos: PositionSnapshot,
    state: RangeState,
    gas_quote: float,
    idle: tuple[float, float] = (0.0, 0.0),
) -> RangeInputs:
    """The range policy's inputs for one world, in the simulator's terms (module docstring);
    `idle` is what the keeper holds beside the position for it (base, quote, whole tokens:
    the last move's leftovers). Feeds the state's estimators with this tick's observations
    first."""
    c = Canon.of(pool)
    spot, now = snap.spot, float(snap.timestamp)
    lower, upper = c.range(pos.tick_lower, pos.tick_upper)
    owed_base, owed_quote = c.whole(*c.split(*pos.owed(pool.tick)))
    pool_liq = pool.liquidity / c.liquidity_scale
    g_base, g_quote = c.growth(pos.fee_growth_global0_x128, pos.fee_growth_global1_x128)
    arr = np.array
    state.vol.observe(now, spot)
    fee = state.fee_income.observe(arr([now]), arr([g_base]), arr([g_quote]), spot,
                                   arr([pool_liq]))  # fmt: skip
    return RangeInputs(
        now=arr([now]), spot=arr([spot]), sqrt_price=arr([math.sqrt(pool.price)]),
        tick=arr([c.tick(pool.tick)]), lower=arr([lower]), upper=arr([upper]),
        liquidity=arr([pos.liquidity / c.liquidity_scale]),
        base_idle=arr([owed_base + idle[0]]), quote_idle=arr([owed_quote + idle[1]]),
        pool_liquidity=arr([pool_liq]), fee_income=fee,
        sigma=state.vol.sigma(), last_rebalance=arr([state.last_move]), gas=arr([gas_quote]),
        oracle_age=arr([float(snap.timestamp - snap.oracle_updated_at)]),
        tick_spacing=pool.tick_spacing, swap_cost=swap_cost_fn(pool, spot),
        price_scale=c.price_scale,
    )  # fmt: skip


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class StepPlan:
    """One transaction of a move: the call, and what it is expected to do (raw units of
    token0 and token1: what leaves the position or the wallet is positive in `amounts`)."""

    step: str
    to: str
    data: str
    notional_quote: float
    meta: dict


def _min(amount: int, tol: float) -> int:
    return math.floor(amount * (1.0 - tol))


def plan_decrease(pool: V3PoolSnapshot, pos: PositionSnapshot, manager: str, tol: float,
                  deadline: int, spot: float) -> StepPlan:  # fmt: skip
    """decreaseLiquidity of all the token's liquidity, with the twin's minimum amounts."""
    a0, a1 = amounts_for_liquidity(pool.sqrt_price_x96, pos.tick_lower, pos.tick_upper,
                                   pos.liquidity)  # fmt: skip
    m0, m1 = _min(a0, tol), _min(a1, tol)
    data = encode_call(_DECREASE, ["(uint256,uint128,uint256,uint256,uint256)"],
                       [(pos.token_id, pos.liquidity, m0, m1, deadline)])  # fmt: skip
    c = Canon.of(pool)
    base, quote = c.whole(*c.split(a0, a1))
    meta = {"token_id": pos.token_id, "liquidity": pos.liquidity, "amount0": a0,
            "amount1": a1, "amount0_min": m0, "amount1_min": m1, "deadline": deadline}  # fmt: skip
    return StepPlan("decrease", manager, data, base * spot + quote, meta)


def plan_collect(pool: V3PoolSnapshot, pos: PositionSnapshot, manager: str, recipient: str,
                 spot: float) -> StepPlan:  # fmt: skip
    """collect of exactly what the token is owed (after the decrease: all of it)."""
    o0, o1 = pos.owed(pool.tick)
    data = encode_call(_COLLECT, ["(uint256,address,uint128,uint128)"],
                       [(pos.token_id, recipient, o0, o1)])  # fmt: skip
    c = Canon.of(pool)
    base, quote = c.whole(*c.split(o0, o1))
    meta = {"token_id": pos.token_id, "amount0": o0, "amount1": o1}
    return StepPlan("collect", manager, data, base * spot + quote, meta)


def target_ratio(sqrt_price_x96: int, lower: int, upper: int) -> float:
    """Share of a position's value (in token1) held in token0 on the pool range [lower,
    upper) at sqrt price `sqrt_price_x96`, from LiquidityAmounts of a large unit of
    liquidity."""
    unit = 10**24
    a0, a1 = amounts_for_liquidity(sqrt_price_x96, lower, upper, unit)
    p = (sqrt_price_x96 / Q96) ** 2  # token1 per token0, raw
    return a0 * p / (a0 * p + a1)


SWAP_BISECTIONS = 48
"""Bisection steps of `plan_swap`'s size (on integers: it ends on the exact fixed point)."""


def plan_swap(pool: V3PoolSnapshot, budget0: int, budget1: int, lower: int, upper: int,
              router: str, recipient: str, tol: float, deadline: int, spot: float,
              token0: str, token1: str) -> StepPlan | None:  # fmt: skip
    """exactInputSingle of the surplus token of (budget0, budget1) for the pool range [lower,
    upper); None when the surplus is dust (under 1e-6 of the budget).

    The swap moves the price its ratio is taken at, so its size is the fixed point where the
    holdings after it are in the range's ratio at the price it leaves (the twin's quote for
    each trial size, bisected); and its price limit never lets it leave the range (a swap that
    would stops at the edge, the router taking only what it needed)."""
    phi0 = target_ratio(pool.sqrt_price_x96, lower, upper)
    p0 = (pool.sqrt_price_x96 / Q96) ** 2
    zero_for_one = budget0 - phi0 * (budget0 * p0 + budget1) / p0 > 0
    have = budget0 if zero_for_one else budget1
    edge_tick = lower if zero_for_one else upper
    stop = get_sqrt_ratio_at_tick(edge_tick) + (1 if zero_for_one else -1)

    def residual(a: int) -> tuple[float, int, int]:
        """Token0 held beyond the range's ratio after selling `a`, with (out, sqrt after)."""
        out, sqrt_after, _ = quote_exact_input_single(pool.twin(), zero_for_one, a, stop)
        x0, x1 = (budget0 - a, budget1 + out) if zero_for_one else (budget0 + out, budget1 - a)
        p = (sqrt_after / Q96) ** 2
        return x0 - target_ratio(sqrt_after, lower, upper) * (x0 * p + x1) / p, out, sqrt_after

    lo, hi = 0, have
    for _ in range(SWAP_BISECTIONS):
        if hi - lo <= 1:
            break
        mid = (lo + hi) // 2
        r = residual(mid)[0]
        if (r > 0) == zero_for_one:
            lo = mid
        else:
            hi = mid
    amount = lo
    if amount <= 0 or amount < 1e-6 * have:
        return None
    _, out, sqrt_after = residual(amount)
    edge = get_sqrt_ratio_at_tick(lower if zero_for_one else upper)
    moved = _moved(sqrt_after, tol, zero_for_one)
    limit = max(moved, edge + 1) if zero_for_one else min(moved, edge - 1)
    token_in, token_out = (token0, token1) if zero_for_one else (token1, token0)
    params = (token_in, token_out, pool.fee, recipient, deadline, amount, _min(out, tol), limit)
    data = encode_call(_SWAP, ["(address,address,uint24,address,uint256,uint256,uint256,"
                               "uint160)"], [params])  # fmt: skip
    c = Canon.of(pool)
    a0, a1 = (amount, 0) if zero_for_one else (0, amount)
    base, quote = c.whole(*c.split(a0, a1))
    meta = {"zero_for_one": zero_for_one, "amount_in": amount, "amount_out": out,
            "amount_out_min": _min(out, tol), "sqrt_price_limit_x96": limit,
            "deadline": deadline}  # fmt: skip
    return StepPlan("swap", router, data, base * spot + quote, meta)


def plan_mint(pool: V3PoolSnapshot, budget0: int, budget1: int, lower: int, upper: int,
              manager: str, recipient: str, tol: float, deadline: int, spot: float,
              token0: str, token1: str) -> StepPlan | None:  # fmt: skip
    """mint of the pool range [lower, upper) with the budget; the minimum amounts are the
    twin's for the liquidity it buys × (1 − tol). None when it buys no liquidity."""
    liquidity = liquidity_for_amounts(pool.sqrt_price_x96, lower, upper, budget0, budget1)
    if liquidity <= 0:
        return None
    a0, a1 = amounts_for_liquidity(pool.sqrt_price_x96, lower, upper, liquidity)
    m0, m1 = _min(a0, tol), _min(a1, tol)
    params = (token0, token1, pool.fee, lower, upper, budget0, budget1, m0, m1, recipient,
              deadline)  # fmt: skip
    data = encode_call(_MINT, ["(address,address,uint24,int24,int24,uint256,uint256,uint256,"
                               "uint256,address,uint256)"], [params])  # fmt: skip
    c = Canon.of(pool)
    base, quote = c.whole(*c.split(budget0, budget1))
    meta = {"tick_lower": lower, "tick_upper": upper, "amount0_desired": budget0,
            "amount1_desired": budget1, "liquidity": liquidity, "amount0_min": m0,
            "amount1_min": m1, "deadline": deadline}  # fmt: skip
    return StepPlan("mint", manager, data, base * spot + quote, meta)

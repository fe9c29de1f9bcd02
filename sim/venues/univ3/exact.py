"""The Uniswap V3 pools of one exact world: `UniswapV3Pool` twins behind the genuine periphery.

The exact world's part for `scenario.v3_pools` (see `sim.venues.base.ExactPart`):

* setup (block -1): the deployer creates each pool through the factory and initialises it at
  the scenario's initial price; the pool's LP account ("v3lp:<pool>") mints the scenario's
  positions through the NonfungiblePositionManager (`PositionManager`, token ids from 1);
* `ExactV3Pool`, the float pool the agents read (one world, canonical orientation): a swap
  becomes SwapRouter `exactInputSingle` priced on the twin, with amountOutMinimum = the twin's
  output and the agent's price limit; an order that will not fill its limit is recorded as a
  swap that must revert; an LP agent's open is NPM `mint`, its close `decreaseLiquidity` (all)
  then `collect` (all). Each call books the trade in the float pool as the fast engine does,
  then writes the twin's exact state back into it, so every later decision sees exact state.

Orientation: the float pool holds the risky token as token0. When the chain sorts the risky
token second, the twin's ticks are the negated ones: a canonical range [l, u) is the pool's
[-u, -l), and a canonical tick t is the pool's -t - 1 (the same active positions).

Actions (amounts in base units, ticks the pool's own):
    {"kind": "v3_create", "pool", "fee"}                                 (setup)
    {"kind": "v3_initialize", "pool", "sqrt_price_x96"}                  (setup)
    {"kind": "v3_mint", "agent", "pool", "tick_lower", "tick_upper", "amount0", "amount1",
     "token_id", "status"}
    {"kind": "v3_swap", "agent", "pool", "token_in", "amount_in", "min_out", "limit", "status"}
    {"kind": "v3_decrease", "agent", "pool", "token_id", "liquidity", "status"}
    {"kind": "v3_collect", "agent", "pool", "token_id", "status"}
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.errors import ConfigError, Revert
from sim.venues.base import NUMERAIRE, RISKY, ExactPart, ExactWorldError
from sim.venues.univ3.agents import (
    V3ArbitrageurConfig,
    V3CrossArbitrageurConfig,
    V3LPConfig,
    V3NoiseTraderConfig,
    V3SandwichConfig,
    lp_slots,
)
from sim.venues.univ3.batch import V3Batch
from sim.venues.univ3.checks import check_liquidity
from sim.venues.univ3.config import (
    LIQUIDITY_SCALE,
    NUMERAIRE_DECIMALS,
    PRICE_SCALE,
    RISKY_DECIMALS,
)
from sim.venues.univ3.engine import config_liquidity
from sim.venues.univ3.periphery import PositionManager
from sim.venues.univ3.twin import UniswapV3Pool
from sim.venues.univ3.v3math import MAX_SQRT_RATIO, MIN_SQRT_RATIO, Q96, UINT128_MAX

NPM = "npm"
"""The position manager's label: the owner of every pool position."""


def lp_account(pool: str) -> str:
    """The account that holds a pool's scenario positions."""
    return f"v3lp:{pool}"


class Univ3Part(ExactPart):
    """Twins, the position manager and the exact swaps, mints and burns of the V3 pools."""

    name = "univ3"
    scenario_fields = ("v3_pools",)
    agent_kinds = (
        V3ArbitrageurConfig,
        V3NoiseTraderConfig,
        V3SandwichConfig,
        V3CrossArbitrageurConfig,
        V3LPConfig,
    )

    @classmethod
    def check(cls, sc: Any) -> None:
        seen: dict[int, str] = {}
        for p in sc.v3_pools:
            if p.fee in seen:
                raise ConfigError(
                    f"v3_pools.{p.name}.fee: pool '{seen[p.fee]}' has fee {p.fee} too; the "
                    "factory makes one pool per token pair and fee tier: use another tier"
                )
            seen[p.fee] = p.name

    def __init__(self, world: Any):
        super().__init__(world)
        if (world.decimals[RISKY], world.decimals[NUMERAIRE]) != (
            RISKY_DECIMALS,
            NUMERAIRE_DECIMALS,
        ):
            raise ExactWorldError(
                f"V3 pools place their ticks for tokens of {RISKY_DECIMALS} and "
                f"{NUMERAIRE_DECIMALS} decimals; the world has {world.decimals}"
            )
        self.cfgs = {c.name: c for c in world.sc.v3_pools}
        self.twins = {
            c.name: UniswapV3Pool(c.fee, address=f"v3pool:{c.name}") for c in self.cfgs.values()
        }
        self.npm = PositionManager(NPM)
        self.float_pools: dict[str, ExactV3Pool] = {}
        self.token_ids: dict[tuple[str, int], int] = {}
        """(pool, slot) -> the NPM token of the slot's open position."""
        self.ticks_seen: dict[str, list[int]] = {name: [] for name in self.cfgs}
        """Pool ticks ever initialised, per pool (compared every block, zero once cleared)."""
        self.ranges_seen: dict[str, list[tuple[int, int]]] = {name: [] for name in self.cfgs}
        """The manager's pool positions ever opened, per pool."""
        self.setup_mints: dict[str, list[tuple[int, int, int, int]]] = {}
        """The scenario positions as minted: (canonical lower, upper, liquidity, token id),
        per pool."""
        for name in self.cfgs:
            world.add_account(lp_account(name))

    # ------------------------------------------------------------------ orientation

    def pool_ticks(self, lower: int, upper: int) -> tuple[int, int]:
        """A canonical range as the pool's ticks."""
        return (lower, upper) if self.world.risky_is_token0 else (-upper, -lower)

    def sqrt_x96(self, s: float) -> int:
        """A canonical whole-unit sqrt price as the pool's Q64.96, inside the pool's range."""
        base = s / math.sqrt(PRICE_SCALE)
        raw = base * Q96 if self.world.risky_is_token0 else Q96 / base
        return min(max(int(raw), MIN_SQRT_RATIO + 1), MAX_SQRT_RATIO - 1)

    def tokens(self, amount0: int, amount1: int) -> tuple[int, int]:
        """Pool amounts as (risky, numeraire)."""
        return (amount0, amount1) if self.world.risky_is_token0 else (amount1, amount0)

    # ------------------------------------------------------------------ setup and state

    def setup(self) -> None:
        w = self.world
        ref = w.initial_price()
        for name, c in self.cfgs.items():
            p0 = ref * (1.0 + c.price_offset_bps / 1e4)
            twin = self.twins[name]
            w.record({"kind": "v3_create", "pool": name, "fee": c.fee, "status": 1})
            sp = self.sqrt_x96(math.sqrt(p0))
            twin.initialize(sp, w.timestamp)
            w.record({"kind": "v3_initialize", "pool": name, "sqrt_price_x96": sp, "status": 1})
            probe = V3Batch(name, 1, c.fee, c.tick_spacing, len(c.positions))
            probe.initialize(np.array([p0]))
            mints = []
            for pos, (lower, upper, liq) in zip(
                c.positions, config_liquidity(c, probe, np.array([p0])), strict=True
            ):
                units = int(liq[0] * LIQUIDITY_SCALE)
                try:
                    check_liquidity(units, f"v3_pools.{name}.positions.{pos.name}.value")
                except ValueError as err:
                    raise ConfigError(f"{err}: raise the value") from err
                got = self.mint(lp_account(name), name, int(lower[0]), int(upper[0]), units)
                if got is None:
                    raise ExactWorldError(f"v3_pools.{name}.positions.{pos.name}: mint reverted")
                mints.append((int(lower[0]), int(upper[0]), got[0], got[1]))
            self.setup_mints[name] = mints

    def state(self) -> dict[str, int]:
        s: dict[str, int] = {}
        for name, tw in self.twins.items():
            f = f"v3.{name}."
            for field, v in zip(_SLOT0, tw.slot0(), strict=True):
                s[f + field] = int(v)
            s[f + "liquidity"] = tw.liquidity
            s[f + "feeGrowthGlobal0X128"] = tw.fee_growth_global0_x128
            s[f + "feeGrowthGlobal1X128"] = tw.fee_growth_global1_x128
            for field, v in zip(_OBSERVATION, tw.observation(0), strict=True):
                s[f"{f}observation0.{field}"] = int(v)
            for t in self.ticks_seen[name]:
                for field, v in zip(_TICK, tw.tick_info(t), strict=True):
                    s[f"{f}tick.{t}.{field}"] = int(v)
            for lower, upper in self.ranges_seen[name]:
                for field, v in zip(_POSITION, tw.position(NPM, lower, upper), strict=True):
                    s[f"{f}position.{lower}.{upper}.{field}"] = v
            s[f + "balance0"] = tw.balance0
            s[f + "balance1"] = tw.balance1
        for token_id, pos in self.npm.positions.items():
            f = f"v3npm.{token_id}."
            for field in _MANAGED:
                s[f + field] = int(getattr(pos, _MANAGED[field]))
        return s

    def factories(self) -> dict[str, Any]:
        part = self

        def make_v3_pools(sc: Any, ref: np.ndarray) -> dict[str, V3Batch]:
            pools = {}
            for name, c in part.cfgs.items():
                slots = len(c.positions) + sum(k for _s, k in lp_slots(sc, name).values())
                pool = ExactV3Pool(part, name, c.fee, c.tick_spacing, slots)
                pool.position_names = [p.name for p in c.positions]
                pool.initialize(np.array([1.0]))
                for j, (lower, upper, units, token_id) in enumerate(part.setup_mints[name]):
                    pool.mint_raw(j, [lower], [upper], [units / LIQUIDITY_SCALE])
                    part.token_ids[(name, j)] = token_id
                part.float_pools[name] = pool
                part.refresh(name)
                pools[name] = pool
            return pools

        return {"v3_pools": make_v3_pools}

    def refresh(self, name: str) -> None:
        """Write a twin's exact price, tick and liquidity into the float pool."""
        pool = self.float_pools[name]
        tw = self.twins[name]
        sp = tw.sqrt_price_x96 / Q96
        if self.world.risky_is_token0:
            pool.s[0] = sp * math.sqrt(PRICE_SCALE)
            tick = tw.tick
        else:
            pool.s[0] = math.sqrt(PRICE_SCALE) / sp
            tick = -tw.tick - 1
        pool.tick[0] = tick
        pool.idx[0] = int(np.count_nonzero(pool.tk[0, : pool.nk[0]] <= tick)) - 1
        pool.L[0] = tw.liquidity / LIQUIDITY_SCALE

    def _seen(self, name: str, lower: int, upper: int) -> None:
        for t in (lower, upper):
            if t not in self.ticks_seen[name]:
                self.ticks_seen[name].append(t)
        if (lower, upper) not in self.ranges_seen[name]:
            self.ranges_seen[name].append((lower, upper))

    # ------------------------------------------------------------------ actions

    def swap(
        self, agent: str, name: str, token_in: str, units: int, limit_x96: int
    ) -> tuple[int, int] | None:
        """SwapRouter.exactInputSingle of `units` of `token_in` with a price limit (0: none);
        returns (input taken, output), or None when the router would revert (nothing sent)."""
        w = self.world
        tw = self.twins[name]
        zero_for_one = (token_in == RISKY) == w.risky_is_token0
        limit = limit_x96 or (MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1)
        trial = tw.copy()
        try:
            amount0, amount1 = trial.swap(zero_for_one, units, limit, w.timestamp)
        except Revert:
            return None
        used, out = (amount0, -amount1) if zero_for_one else (amount1, -amount0)
        if used <= 0:
            return None
        self.twins[name] = trial
        token_out = NUMERAIRE if token_in == RISKY else RISKY
        w.spend(agent, token_in, used)
        w.credit(agent, token_out, out)
        w.record(
            {"kind": "v3_swap", "agent": agent, "pool": name, "token_in": token_in,
             "amount_in": units, "min_out": out, "limit": limit_x96, "status": 1}
        )  # fmt: skip
        return used, out

    def failed_swap(self, agent: str, name: str, token_in: str, units: int, min_out: int) -> None:
        """A swap whose amountOutMinimum is above what the pool pays: sent, it must revert."""
        w = self.world
        zero_for_one = (token_in == RISKY) == w.risky_is_token0
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        try:
            a0, a1 = self.twins[name].copy().swap(zero_for_one, units, limit, w.timestamp)
        except Revert:
            return
        out = -a1 if zero_for_one else -a0
        w.record(
            {"kind": "v3_swap", "agent": agent, "pool": name, "token_in": token_in,
             "amount_in": units, "min_out": max(min_out, out + 1), "limit": 0, "status": 0}
        )  # fmt: skip

    def mint(
        self, agent: str, name: str, lower: int, upper: int, liquidity: int
    ) -> tuple[int, int, int, int] | None:
        """NPM.mint of the amounts `liquidity` costs on canonical range [lower, upper);
        returns (liquidity minted, token id, risky paid, numeraire paid), or None when it
        would revert (nothing sent)."""
        w = self.world
        tw = self.twins[name]
        pl, pu = self.pool_ticks(lower, upper)
        trial = tw.copy()
        npm = self.npm.copy()
        try:
            want0, want1 = trial.copy().mint(NPM, pl, pu, liquidity, w.timestamp)
            token_id, minted, a0, a1 = npm.mint(
                trial, name, pl, pu, want0, want1, 0, 0, w.timestamp
            )
        except Revert:
            return None
        t0, t1 = w.tokens01()
        w.spend(agent, t0, a0)
        w.spend(agent, t1, a1)
        self.twins[name] = trial
        self.npm = npm
        self._seen(name, pl, pu)
        w.record(
            {"kind": "v3_mint", "agent": agent, "pool": name, "tick_lower": pl, "tick_upper": pu,
             "amount0": want0, "amount1": want1, "token_id": token_id, "status": 1}
        )  # fmt: skip
        risky, numeraire = self.tokens(a0, a1)
        return minted, token_id, risky, numeraire

    def close(self, agent: str, name: str, token_id: int) -> tuple[int, int]:
        """NPM.decreaseLiquidity of all the token's liquidity, then NPM.collect of everything
        it is owed; returns (risky, numeraire) received."""
        w = self.world
        tw = self.twins[name]
        liquidity = self.npm.positions[token_id].liquidity
        self.npm.decrease_liquidity(tw, token_id, liquidity, 0, 0, w.timestamp)
        w.record(
            {"kind": "v3_decrease", "agent": agent, "pool": name, "token_id": token_id,
             "liquidity": liquidity, "status": 1}
        )  # fmt: skip
        a0, a1 = self.npm.collect(tw, token_id, UINT128_MAX, UINT128_MAX, w.timestamp)
        w.record(
            {"kind": "v3_collect", "agent": agent, "pool": name, "token_id": token_id, "status": 1}
        )  # fmt: skip
        t0, t1 = w.tokens01()
        w.credit(agent, t0, a0)
        w.credit(agent, t1, a1)
        return self.tokens(a0, a1)


_SLOT0 = (
    "sqrtPriceX96", "tick", "observationIndex", "observationCardinality",
    "observationCardinalityNext", "feeProtocol", "unlocked",
)  # fmt: skip
_OBSERVATION = (
    "blockTimestamp", "tickCumulative", "secondsPerLiquidityCumulativeX128", "initialized",
)  # fmt: skip
_TICK = (
    "liquidityGross", "liquidityNet", "feeGrowthOutside0X128", "feeGrowthOutside1X128",
    "tickCumulativeOutside", "secondsPerLiquidityOutsideX128", "secondsOutside", "initialized",
)  # fmt: skip
_POSITION = (
    "liquidity", "feeGrowthInside0LastX128", "feeGrowthInside1LastX128", "tokensOwed0",
    "tokensOwed1",
)  # fmt: skip
_MANAGED = {
    "tickLower": "tick_lower",
    "tickUpper": "tick_upper",
    "liquidity": "liquidity",
    "feeGrowthInside0LastX128": "fee_growth_inside0_last_x128",
    "feeGrowthInside1LastX128": "fee_growth_inside1_last_x128",
    "tokensOwed0": "tokens_owed0",
    "tokensOwed1": "tokens_owed1",
}
"""NPM `positions(tokenId)` fields compared -> the twin's attribute."""


class ExactV3Pool(V3Batch):
    """A V3 pool of one world whose swaps, mints and burns go to the twin (module docstring)."""

    def __init__(self, part: Univ3Part, name: str, fee: int, tick_spacing: int, slots: int):
        super().__init__(name, 1, fee, tick_spacing, slots)
        self.part = part

    def _limit(self, limit) -> int:
        """The router's sqrtPriceLimitX96 of a float limit (0: none)."""
        if limit is None:
            return 0
        return self.part.sqrt_x96(float(np.asarray(limit).reshape(-1)[0]))

    def swap(self, ctx, agent, amount, direction, limit=None, is_arb=False):
        d = int(np.asarray(direction).reshape(-1)[0])
        a = float(np.asarray(amount, dtype=np.float64).reshape(-1)[0])
        if d == 0 or not a > 0.0:
            return np.zeros(1)
        w = self.part.world
        token_in = NUMERAIRE if d > 0 else RISKY
        units = w.units(a, token_in)
        if units <= 0:
            return np.zeros(1)
        done = self.part.swap(agent, self.name, token_in, units, self._limit(limit))
        if done is None:
            return np.zeros(1)
        used, out = done
        # Book on the pre-trade float state (the twin's) as the fast engine would, with the
        # exact input taken; then the twin's exact state replaces the float result.
        exact_in = used / w.scale[token_in]
        super().swap(ctx, agent, np.array([exact_in]), np.array([d]), None, is_arb)
        self.part.refresh(self.name)
        return np.array([w.as_float(out, RISKY if d > 0 else NUMERAIRE)])

    def refused(self, ctx, agent, amount, direction, min_out, mask) -> None:
        if not bool(np.asarray(mask).reshape(-1)[0]):
            return
        w = self.part.world
        d = int(np.asarray(direction).reshape(-1)[0])
        token_in, token_out = (NUMERAIRE, RISKY) if d > 0 else (RISKY, NUMERAIRE)
        units = w.units(float(np.asarray(amount).reshape(-1)[0]), token_in)
        if units > 0:
            limit = math.ceil(float(np.asarray(min_out).reshape(-1)[0]) * w.scale[token_out])
            self.part.failed_swap(agent, self.name, token_in, units, limit)

    def mint(self, ctx, agent, slot, lower, upper, liquidity):
        lq = float(np.asarray(liquidity).reshape(-1)[0])
        units = int(lq * LIQUIDITY_SCALE)
        if units <= 0:
            return np.zeros(1), np.zeros(1)
        lo, hi = int(np.asarray(lower)[0]), int(np.asarray(upper)[0])
        done = self.part.mint(agent, self.name, lo, hi, units)
        if done is None:
            return np.zeros(1), np.zeros(1)
        minted, token_id, risky, numeraire = done
        self.part.token_ids[(self.name, slot)] = token_id
        self.mint_raw(slot, [lo], [hi], [minted / LIQUIDITY_SCALE])
        self.part.refresh(self.name)
        w = self.part.world
        return np.array([risky / w.scale[RISKY]]), np.array([numeraire / w.scale[NUMERAIRE]])

    def burn(self, ctx, agent, slot, mask):
        if not bool(np.asarray(mask).reshape(-1)[0]) or self.pL[0, slot] <= 0.0:
            return np.zeros(1), np.zeros(1)
        token_id = self.part.token_ids.pop((self.name, slot))
        risky, numeraire = self.part.close(agent, self.name, token_id)
        self.burn_raw(slot, np.array([True]))
        self.part.refresh(self.name)
        w = self.part.world
        return np.array([risky / w.scale[RISKY]]), np.array([numeraire / w.scale[NUMERAIRE]])

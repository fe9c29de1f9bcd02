"""The constant-product pools of one exact world: `CPMMPool` twins driven by the agents.

The exact world's part for `scenario.pools` (see `sim.venues.base.ExactPart`):

* setup (block -1): each pool seeded at its TVL and the scenario's initial price (the
  deployer mints the tokens to the pool and calls `mint`);
* `ExactPoolContext` (the block context the world's agents get): `swap` turns the float amount
  into token base units, prices it on the twin (`get_amount_out`), applies it, records a router
  swap with amountOutMin = that prediction, books the trade in the ledger as the fast engine
  does, and writes the twin's reserves back into the float pool, so every later decision sees
  exact state; `mint`/`burn` (the LP agent's calls) go through the router's
  `addLiquidity`/`removeLiquidity` arithmetic on the twin; `order_refused` records a limit
  order that must revert; `take_lp_share` hands an agent LP tokens from the deployer's seed.

Actions:
    {"kind": "seed", "pool", "amount0", "amount1", "liquidity"}  (setup only)
    {"kind": "swap", "agent", "pool", "token_in", "amount_in", "min_out", "status"}
    {"kind": "mint", "agent", "pool", "amount0", "amount1", "min0", "min1", "status"}
    {"kind": "burn", "agent", "pool", "liquidity", "min0", "min1", "status"}
    {"kind": "lp_transfer", "from", "agent", "pool", "liquidity", "status"}
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.agents.arbitrage import ArbitrageurConfig, CrossArbitrageurConfig
from sim.agents.keeper import KeeperConfig
from sim.agents.lp import LPConfig
from sim.agents.noise import NoiseTraderConfig
from sim.agents.sandwich import SandwichConfig
from sim.engine.context import BlockContext, Intent
from sim.errors import ConfigError, Revert
from sim.venues.base import DEPLOYER, NUMERAIRE, RISKY, ExactPart, ExactWorldError
from sim.venues.cpmm.batch import CpmmBatch
from sim.venues.cpmm.twin import CPMMPool, add_liquidity_amounts, get_amount_out


class CpmmPart(ExactPart):
    """Twins, LP holders and the exact swap/mint/burn of the scenario's pools."""

    name = "cpmm"
    scenario_fields = ("pools", "twaps")
    """TWAPs are read off the pools' cumulative prices: nothing more to deploy."""
    agent_kinds = (
        ArbitrageurConfig,
        CrossArbitrageurConfig,
        NoiseTraderConfig,
        LPConfig,
        SandwichConfig,
        KeeperConfig,
    )

    @classmethod
    def check(cls, sc: Any) -> None:
        for p in sc.pools:
            if p.pair(sc) is not None:
                raise ConfigError(
                    f"pools.{p.name}.tokens: the chain holds the risky token and the numeraire "
                    "only; pools on other pairs run on the fast engine"
                )
            if not p.fee_to_reserves:
                raise ConfigError(
                    f"pools.{p.name}.fee_to_reserves: the contract keeps fees in reserves"
                )
            if p.fee_bps != int(p.fee_bps):
                raise ConfigError(f"pools.{p.name}.fee_bps: the contract takes whole basis points")

    def __init__(self, world: Any):
        super().__init__(world)
        self.share_scale = math.sqrt(world.scale[RISKY] * world.scale[NUMERAIRE])
        self.twins: dict[str, CPMMPool] = {}
        self.float_pools: dict[str, CpmmBatch] = {}
        self.lp_agents: dict[str, str] = {}
        """LP-token holders whose balance is compared: account -> pool."""
        for a in world.sc.agents:
            if isinstance(a, LPConfig):
                self.lp_agents[a.name] = a.pool
            elif isinstance(a, KeeperConfig) and a.lp is not None:
                self.lp_agents[a.name] = a.lp.pool

    def _rn(self, twin: CPMMPool) -> tuple[int, int]:
        """(risky, numeraire) reserves of a twin."""
        if self.world.risky_is_token0:
            return twin.reserve0, twin.reserve1
        return twin.reserve1, twin.reserve0

    # ------------------------------------------------------------------ setup and state

    def setup(self) -> None:
        w = self.world
        ref = w.initial_price()
        t0, t1 = w.tokens01()
        for c in w.sc.pools:
            px = ref * (1.0 + c.price_offset_bps / 1e4)
            x = int(math.floor(0.5 * c.tvl / px * w.scale[RISKY]))
            y = int(math.floor(0.5 * c.tvl * w.scale[NUMERAIRE]))
            twin = CPMMPool(fee_bps=int(c.fee_bps), address=f"pool:{c.name}", token0=t0, token1=t1)
            a0, a1 = w.pair(x, y)
            twin.transfer_in(a0, a1)
            lp = twin.mint(DEPLOYER, w.timestamp)
            self.twins[c.name] = twin
            w.record(
                {"kind": "seed", "pool": c.name, "amount0": a0, "amount1": a1, "liquidity": lp}
            )

    def state(self) -> dict[str, int]:
        s: dict[str, int] = {}
        for name, tw in self.twins.items():
            s[f"pool.{name}.reserve0"] = tw.reserve0
            s[f"pool.{name}.reserve1"] = tw.reserve1
            s[f"pool.{name}.blockTimestampLast"] = tw.block_timestamp_last
            s[f"pool.{name}.totalSupply"] = tw.total_supply
            s[f"pool.{name}.price0CumulativeLast"] = tw.price0_cumulative_last
            s[f"pool.{name}.price1CumulativeLast"] = tw.price1_cumulative_last
        for a, pool in self.lp_agents.items():
            s[f"agent.{a}.lp.{pool}"] = self.twins[pool].lp_balance(a)
        return s

    def factories(self) -> dict[str, Any]:
        part = self

        def make_pools(sc: Any, ref: np.ndarray, prices=None) -> dict[str, CpmmBatch]:
            # `prices` is for pools on other pairs, which `check` refuses
            pools = {}
            for c in sc.pools:
                p = CpmmBatch(c.name, np.zeros(1), np.zeros(1), c.fee_bps, c.fee_to_reserves)
                part.float_pools[c.name] = p
                part.refresh(c.name)
                pools[c.name] = p
            return pools

        def context(*args, **kwargs) -> ExactPoolContext:
            return ExactPoolContext(part, *args, **kwargs)

        return {"pools": make_pools, "context": context}

    def refresh(self, name: str) -> None:
        """Write a twin's exact state into the float pool the agents read."""
        pool = self.float_pools.get(name)
        if pool is None:
            return
        w = self.world
        r, n = self._rn(self.twins[name])
        pool.x[0] = r / w.scale[RISKY]
        pool.y[0] = n / w.scale[NUMERAIRE]
        pool.shares[0] = self.twins[name].total_supply / self.share_scale

    # ------------------------------------------------------------------ actions

    def amount_out(self, pool: str, token_in: str, amount_in: int) -> int:
        """The router's getAmountOut on the twin (the prediction sent as amountOutMin)."""
        r, n = self._rn(self.twins[pool])
        r_in, r_out = (r, n) if token_in == RISKY else (n, r)
        return get_amount_out(amount_in, r_in, r_out, self.twins[pool].fee_bps)

    def swap(self, agent: str, pool: str, direction: int, amount: float) -> float | None:
        """Exact swap (direction +1: numeraire in, risky out); returns the output as a float,
        or None when the amount rounds to nothing or the pool would refuse it."""
        w = self.world
        token_in, token_out = (NUMERAIRE, RISKY) if direction > 0 else (RISKY, NUMERAIRE)
        a = w.units(amount, token_in)
        if a <= 0:
            return None
        twin = self.twins[pool]
        try:
            out = self.amount_out(pool, token_in, a)
            trial = twin.copy()
            in0, in1 = w.pair(a, 0) if token_in == RISKY else w.pair(0, a)
            out0, out1 = w.pair(out, 0) if token_out == RISKY else w.pair(0, out)
            trial.transfer_in(in0, in1)
            trial.swap(out0, out1, agent, w.timestamp)
        except Revert:
            return None
        w.spend(agent, token_in, a)
        self.twins[pool] = trial
        w.credit(agent, token_out, out)
        w.record(
            {
                "kind": "swap",
                "agent": agent,
                "pool": pool,
                "token_in": token_in,
                "amount_in": a,
                "min_out": out,
                "status": 1,
            }
        )
        self.refresh(pool)
        return w.as_float(out, token_out)

    def failed_swap(
        self, agent: str, pool: str, direction: int, amount: float, min_out: float
    ) -> None:
        """A limit order the agent sends that the router must refuse (it still costs gas)."""
        w = self.world
        token_in, token_out = (NUMERAIRE, RISKY) if direction > 0 else (RISKY, NUMERAIRE)
        a = w.units(amount, token_in)
        if a <= 0:
            return
        limit = math.ceil(min_out * w.scale[token_out])
        try:
            limit = max(limit, self.amount_out(pool, token_in, a) + 1)
        except Revert:
            return
        w.record(
            {
                "kind": "swap",
                "agent": agent,
                "pool": pool,
                "token_in": token_in,
                "amount_in": a,
                "min_out": limit,
                "status": 0,
            }
        )

    def mint(self, agent: str, pool: str, frac: float) -> float:
        """`agent` adds `frac` of the reserves through the router; LP as a float."""
        if not frac > 0:
            return 0.0
        w = self.world
        twin = self.twins[pool]
        r, n = self._rn(twin)
        d0, d1 = w.pair(int(math.floor(r * frac)), int(math.floor(n * frac)))
        try:
            a0, a1 = add_liquidity_amounts(d0, d1, 0, 0, twin.reserve0, twin.reserve1)
            trial = twin.copy()
            trial.transfer_in(a0, a1)
            lp = trial.mint(agent, w.timestamp)
        except Revert:
            return 0.0
        t0, t1 = w.tokens01()
        w.spend(agent, t0, a0)
        w.spend(agent, t1, a1)
        self.twins[pool] = trial
        w.record(
            {
                "kind": "mint",
                "agent": agent,
                "pool": pool,
                "amount0": d0,
                "amount1": d1,
                "min0": a0,
                "min1": a1,
                "status": 1,
            }
        )
        self.refresh(pool)
        return lp / self.share_scale

    def burn(self, agent: str, pool: str, shares: float) -> tuple[float, float]:
        """`agent` burns `shares` (its whole position when it is about all of it); returns
        (risky, numeraire) received as floats."""
        if not shares > 0:
            return 0.0, 0.0
        w = self.world
        twin = self.twins[pool]
        held = twin.lp_balance(agent)
        want = shares * self.share_scale
        lp = held if want >= held * (1 - 1e-9) else min(held, int(want))
        if lp <= 0:
            return 0.0, 0.0
        try:
            trial = twin.copy()
            trial.transfer_lp(agent, trial.address, lp)
            a0, a1 = trial.burn(agent, w.timestamp)
        except Revert:
            return 0.0, 0.0
        self.twins[pool] = trial
        t0, t1 = w.tokens01()
        w.credit(agent, t0, a0)
        w.credit(agent, t1, a1)
        w.record(
            {
                "kind": "burn",
                "agent": agent,
                "pool": pool,
                "liquidity": lp,
                "min0": a0,
                "min1": a1,
                "status": 1,
            }
        )
        self.refresh(pool)
        r, n = (a0, a1) if w.risky_is_token0 else (a1, a0)
        return r / w.scale[RISKY], n / w.scale[NUMERAIRE]

    def take_lp_share(self, agent: str, pool: str, share: float) -> float:
        """The deployer transfers `share` of the pool's LP supply to `agent` (from its seed
        liquidity); returns the agent's LP as a float."""
        twin = self.twins[pool]
        lp = int(math.floor(share * twin.total_supply))
        held = twin.lp_balance(DEPLOYER)
        if lp > held:
            raise ExactWorldError(
                f"agents.{agent}.lp.share: {share} of pool {pool}'s supply is more than the "
                f"seed liquidity ({held} of {twin.total_supply}): lower it"
            )
        if lp > 0:
            twin.transfer_lp(DEPLOYER, agent, lp)
            self.world.record(
                {
                    "kind": "lp_transfer",
                    "from": DEPLOYER,
                    "agent": agent,
                    "pool": pool,
                    "liquidity": lp,
                    "status": 1,
                }
            )
        return twin.lp_balance(agent) / self.share_scale


class ExactPoolContext(BlockContext):
    """A block of one world whose swaps and LP calls are exact (see the module docstring)."""

    def __init__(self, part: CpmmPart, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.part = part

    def swap(self, agent, pool_name, amount_in, direction, is_arb=False):
        d = int(np.asarray(direction).reshape(-1)[0])
        a = float(np.asarray(amount_in, dtype=np.float64).reshape(-1)[0])
        nothing = np.zeros(1, dtype=np.int64)
        if d == 0 or not a > 0.0:
            return super().swap(agent, pool_name, np.zeros(1), nothing, is_arb)
        w = self.part.world
        token_in = NUMERAIRE if d > 0 else RISKY
        exact_in = w.units(a, token_in) / w.scale[token_in]
        # The ledger books the trade on the pre-trade float reserves (= the twin's), as the
        # fast engine would; the twin then overwrites the reserves with the exact result.
        x0, y0 = self.pools[pool_name].x.copy(), self.pools[pool_name].y.copy()
        out = self.part.swap(agent, pool_name, d, a)
        if out is None:
            return super().swap(agent, pool_name, np.zeros(1), nothing, is_arb)
        x1, y1 = self.pools[pool_name].x.copy(), self.pools[pool_name].y.copy()
        self.pools[pool_name].x[:], self.pools[pool_name].y[:] = x0, y0
        super().swap(agent, pool_name, np.array([exact_in]), np.array([d]), is_arb)
        self.pools[pool_name].x[:], self.pools[pool_name].y[:] = x1, y1
        return np.array([out])

    def mint(self, agent, pool_name, value_frac):
        return np.array([self.part.mint(agent, pool_name, float(np.asarray(value_frac)[0]))])

    def burn(self, agent, pool_name, shares):
        ox, oy = self.part.burn(agent, pool_name, float(np.asarray(shares)[0]))
        return np.array([ox]), np.array([oy])

    def take_lp_share(self, agent, pool_name, share):
        return np.array([self.part.take_lp_share(agent, pool_name, share)])

    def order_refused(self, intent: Intent, mask: np.ndarray) -> None:
        if bool(np.asarray(mask)[0]):
            self.part.failed_swap(
                intent.agent,
                intent.pool,
                int(intent.direction[0]),
                float(intent.amount_in[0]),
                float(intent.min_out[0]),
            )

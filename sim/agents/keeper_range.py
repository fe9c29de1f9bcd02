"""The keeper agent's concentrated-liquidity position: opened, moved by a range policy
(`sim.decisions.ranges`), valued and reported; `sim.agents.keeper.KeeperAgent` holds one
`RangeBook` when its config has `v3:` and hedges what it holds with its hedging policy.

Each block, on every world at once, before the hedge: the pool's fee income is estimated from
its fee growth (`FeeIncome`), σ̂ from the price history (`sim.learn.features.VolForecast`),
and the policy decides on `RangeInputs` (the chain keeper builds the same inputs from a chain
snapshot). Where it moves the range, the keeper sends four transactions, as an operator would
through the NonfungiblePositionManager: decreaseLiquidity (all) and collect (all, fees
included) — `V3Batch.burn` — the swap of the surplus token to the new range's ratio on the
same pool (SwapRouter exactInputSingle), and mint of everything the tokens buy on the new
range; leftovers stay idle and go into the next move. The exact world sends each through the
genuine contracts (`sim.venues.univ3.exact`).

Inventory: the position's tokens at the pool's price, the fees it is owed and the idle tokens,
marked at the reference price. With policy `none` the keeper never deposits: it holds the
tokens the range would have taken (the hold baseline). The position opens at the keeper's
first block, before accounting starts, so its opening is not a cost of the policy.

Metrics (`sim.engine.ledger.KEEPER_RANGE_METRICS`): the position's fees, LVR and time in range
over the accounted period (summed over every range it held), the moves' gas, swap fees and
impact, the number of moves and of moves the guards refused, and the value at the end.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from sim.config import ConfigModel
from sim.decisions.book import V3Positions
from sim.decisions.ranges import (
    FeeIncome,
    RangeInputs,
    range_ticks,
    sqrt_at,
    tokens_per_liquidity,
)
from sim.engine.context import BlockContext
from sim.learn.features import VolForecast
from sim.venues.univ3.kernels import P_FEE0, P_FEE1, P_FEEV, P_LVR, P_TIN

V3 = "v3_pools"
MOVE_GAS = ("v3_burn", "v3_collect", "v3_swap", "v3_mint")
"""The transactions of one range move, in order."""
DUST = 1e-9
"""Share of the tokens left out of a mint, so float roundings never ask for more than held."""


class V3Inventory(ConfigModel):
    """A concentrated-liquidity position the keeper opens at its first block and manages."""

    pool: str = "v3pool"
    """V3 pool (`v3_pools`)."""
    value: float = Field(1e6, gt=0)
    """Value of the position when opened, numeraire at the reference price."""
    width: float = Field(0.05, gt=0)
    """Relative half-width of the range opened: [P / (1 + width), P (1 + width)] around the
    pool price, widened outwards to the tick spacing (at least one spacing wide)."""


SWAP_BISECTIONS = 60
"""Bisection steps of `swap_size` (relative precision 2**-60 of the holdings)."""


def swap_size(pool, base: np.ndarray, quote: np.ndarray, d, held: np.ndarray) -> np.ndarray:
    """Per world, the amount of the surplus token (`d.swap_direction`: −1 base, +1 quote) to
    sell so that what is held after the swap is in the new range's ratio at the price the swap
    leaves (the swap moves the price its ratio is taken at): bisection on the pool's own swap
    loop (`V3Batch.quote_end`), 0 where no swap is due. `held` bounds it."""
    sell_base = d.swap_direction < 0
    sa = sqrt_at(d.lower, pool.price_scale)
    sb = sqrt_at(d.upper, pool.price_scale)
    lo, hi = np.zeros_like(held), np.where(d.swap_direction != 0, held, 0.0)
    for _ in range(SWAP_BISECTIONS):
        mid = 0.5 * (lo + hi)
        out, s1 = pool.quote_end(mid, d.swap_direction)
        x = np.where(sell_base, base - mid, base + out)
        y = np.where(sell_base, quote + out, quote - mid)
        x1, y1 = tokens_per_liquidity(sa, sb, s1)
        p1 = s1 * s1
        surplus = x - x1 * p1 / (x1 * p1 + y1) * (x * p1 + y) / p1
        # Selling base lowers the base surplus; selling quote raises it: move towards zero.
        more = np.where(sell_base, surplus > 0, surplus < 0)
        lo, hi = np.where(more, mid, lo), np.where(more, hi, mid)
    return lo


class RangeBook:
    """The keeper's V3 position over N worlds (module docstring).

    Args:
        cfg: the position's config. policy: the range policy. agent: the keeper's name.
        n: worlds. slot: the pool slot of the position (`sim.venues.univ3.agents.lp_slots`).
        spacing: the pool's tick spacing.
    """

    def __init__(self, cfg: V3Inventory, policy, agent: str, n: int, slot: int, spacing: int):
        self.cfg = cfg
        self.policy = policy
        self.agent = agent
        self.n = n
        self.slot = slot
        self.spacing = spacing
        self.base_idle = np.zeros(n)
        self.quote_idle = np.zeros(n)
        self.last_move = np.full(n, -math.inf)
        self.fee_income = FeeIncome(policy.fee_window, n)
        self.vol = VolForecast(policy.vol, n)
        self.m = {k: np.zeros(n) for k in ("lp_fees", "lp_lvr", "tin", "rebalance_gas",
                                           "rebalance_fees", "rebalance_impact", "n_rebalances",
                                           "rebalances_blocked")}  # fmt: skip

    def pool(self, ctx: BlockContext):
        return ctx.market(V3)[self.cfg.pool]

    # -- open ----------------------------------------------------------------------------

    def open(self, ctx: BlockContext) -> None:
        """Open the range of `cfg.width` around the pool price worth `cfg.value` at the
        reference price (policy `none`: take those tokens and hold them)."""
        pool = self.pool(ctx)
        lower, upper = range_ticks(pool.price(), self.cfg.width, self.spacing, pool.price_scale)
        x1, y1 = tokens_per_liquidity(
            sqrt_at(lower, pool.price_scale), sqrt_at(upper, pool.price_scale), pool.s
        )
        liquidity = self.cfg.value / (x1 * ctx.ref + y1)
        self.last_move = ctx.time.copy()
        if not self.policy.opens:
            self.base_idle, self.quote_idle = liquidity * x1, liquidity * y1
            return
        # The tokens come with the inventory, as an LP share does: the mint is not a trade.
        pool.mint(ctx, self.agent, self.slot, lower, upper, liquidity)
        ctx.pay_gas(self.agent, "v3_mint", np.ones(self.n, dtype=bool))

    # -- what it holds -------------------------------------------------------------------

    def positions(self, ctx: BlockContext) -> tuple[V3Positions, np.ndarray, np.ndarray]:
        """(the position as `V3Positions` (N, 1), the pool's sqrt price (N,), base held beside
        it: fees owed and idle tokens (N,)) for the book's Greeks."""
        pool = self.pool(ctx)
        j = slice(self.slot, self.slot + 1)
        pos = V3Positions(pool.pL[:, j], pool.psa[:, j], pool.psb[:, j])
        owed0 = pool.pacc[:, self.slot, P_FEE0]
        return pos, pool.s, self.base_idle + owed0

    def value(self, ctx: BlockContext) -> np.ndarray:
        """The position's tokens, fees owed and idle tokens at the reference price, (N,)."""
        pool = self.pool(ctx)
        x, y = pool.position_tokens([self.slot])
        owed0, owed1 = pool.owed([self.slot])
        base = x[:, 0] + owed0[:, 0] + self.base_idle
        return base * ctx.ref + y[:, 0] + owed1[:, 0] + self.quote_idle

    # -- the block -----------------------------------------------------------------------

    def inputs(
        self, ctx: BlockContext, spot: np.ndarray, oracle_age: np.ndarray, pay_gas: bool = True
    ) -> RangeInputs:
        """The policy's inputs now, from the pool's float twin (module docstring); a keeper
        that pays no gas weighs none."""
        pool = self.pool(ctx)
        k = self.slot
        self.vol.observe(ctx.time, spot)
        fee = self.fee_income.observe(
            ctx.time, pool.fee_growth[:, 0], pool.fee_growth[:, 1], spot, pool.L
        )

        def swap_cost(amount: np.ndarray, direction: np.ndarray) -> np.ndarray:
            out = pool.quote(amount, direction)
            return np.where(direction > 0, amount - out * spot, amount * spot - out)

        return RangeInputs(
            now=ctx.time, spot=spot, sqrt_price=pool.s.copy(), tick=pool.tick.copy(),
            lower=pool.pl[:, k].copy(), upper=pool.pu[:, k].copy(),
            liquidity=pool.pL[:, k].copy(),
            base_idle=self.base_idle + pool.pacc[:, k, P_FEE0],
            quote_idle=self.quote_idle + pool.pacc[:, k, P_FEE1],
            pool_liquidity=pool.L.copy(), fee_income=fee, sigma=self.vol.sigma(),
            last_rebalance=self.last_move,
            gas=sum(ctx.gas_cost(g) for g in MOVE_GAS) * float(pay_gas),
            oracle_age=oracle_age, tick_spacing=self.spacing, swap_cost=swap_cost,
            price_scale=pool.price_scale,
        )  # fmt: skip

    def step(
        self, ctx: BlockContext, spot: np.ndarray, oracle_age: np.ndarray, pay_gas: bool
    ) -> None:
        """Decide and, where the policy moves the range, move it."""
        x = self.inputs(ctx, spot, oracle_age, pay_gas)
        decision = self.policy.decide(x)
        self.record(x, decision)
        active = ctx.ledger.active
        if active:
            self.m["rebalances_blocked"] += decision.blocked
        if decision.rebalance.any():
            self.move(ctx, decision, active, pay_gas)

    def record(self, inputs: RangeInputs, decision) -> None:
        """Hook called with each block's range inputs and decision (tests spy on it)."""

    def move(self, ctx: BlockContext, d, active: bool, pay_gas: bool) -> None:
        """Withdraw everything, swap to the new ratio, mint the new range, where
        `d.rebalance` (module docstring)."""
        pool = self.pool(ctx)
        k, go, ref = self.slot, d.rebalance, ctx.ref
        m = self.m
        if active:  # the slot's accumulators restart at the mint: bank them first
            for name, col in (("lp_fees", P_FEEV), ("lp_lvr", P_LVR), ("tin", P_TIN)):
                m[name] += np.where(go, pool.pacc[:, k, col], 0.0)
        x, y = pool.burn(ctx, self.agent, k, go)
        self.base_idle += x
        self.quote_idle += y
        # The swap sells the surplus the decision found, sized at the price it leaves.
        sell_base = d.swap_direction < 0
        held = np.where(sell_base, self.base_idle, self.quote_idle)
        amount = np.where(go, swap_size(pool, self.base_idle, self.quote_idle, d, held), 0.0)
        direction = np.where(go & (amount > 0), d.swap_direction, 0)
        swapping = direction != 0
        out = pool.swap(ctx, self.agent, amount, direction)
        self.base_idle += np.where(sell_base, -amount, out)
        self.quote_idle += np.where(sell_base, out, -amount)
        s = pool.s
        x1, y1 = tokens_per_liquidity(
            sqrt_at(d.lower, pool.price_scale), sqrt_at(d.upper, pool.price_scale), s
        )
        with np.errstate(divide="ignore", invalid="ignore"):  # the masked-out sides
            afford = np.minimum(
                np.where(x1 > 0, self.base_idle / x1, np.inf),
                np.where(y1 > 0, self.quote_idle / y1, np.inf),
            )
        liquidity = np.where(go, afford * (1.0 - DUST), 0.0)
        x, y = pool.mint(ctx, self.agent, k, d.lower, d.upper, liquidity)
        self.base_idle -= x
        self.quote_idle -= y
        self.last_move = np.where(go, ctx.time, self.last_move)
        gas = 0.0
        if pay_gas:
            for kind, sent in zip(MOVE_GAS, (go, go, swapping, go), strict=True):
                ctx.pay_gas(self.agent, kind, sent)
                gas = gas + np.where(sent, ctx.gas_cost(kind), 0.0)
        if active:
            value_in = np.where(sell_base, amount * ref, amount)
            value_out = np.where(sell_base, out, out * ref)
            fee = np.where(swapping, value_in * pool.f, 0.0)
            m["rebalance_fees"] += fee
            m["rebalance_impact"] += np.where(swapping, value_in - value_out, 0.0) - fee
            m["rebalance_gas"] += gas
            m["n_rebalances"] += go

    # -- the end -------------------------------------------------------------------------

    def finish(self, ctx: BlockContext) -> dict[str, np.ndarray]:
        """The range metrics (module docstring), unprefixed."""
        pool = self.pool(ctx)
        k, m = self.slot, self.m
        open_ = pool.pL[:, k] > 0.0
        seconds = np.where(ctx.ledger.seconds > 0, ctx.ledger.seconds, np.nan)
        out = {
            "lp_fees": m["lp_fees"] + np.where(open_, pool.pacc[:, k, P_FEEV], 0.0),
            "lp_lvr": m["lp_lvr"] + np.where(open_, pool.pacc[:, k, P_LVR], 0.0),
            "time_in_range": (m["tin"] + np.where(open_, pool.pacc[:, k, P_TIN], 0.0)) / seconds,
            "lp_value": self.value(ctx),
        }
        for name in ("rebalance_gas", "rebalance_fees", "rebalance_impact", "n_rebalances",
                     "rebalances_blocked"):  # fmt: skip
            out[name] = m[name].copy()
        out["rebalance_cost"] = (
            out["rebalance_gas"] + out["rebalance_fees"] + out["rebalance_impact"]
        )
        return out

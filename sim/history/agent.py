"""`flow: {kind: replay, source: DIR}`: a pulled pool's real flow in the fast engine.

A V2 pair's flow (`pool`: a constant-product pool of the scenario; its fee, and any agents
added beside the flow, are the counterfactual's) starts at the pair's reserves at the pull's
anchor block, and each block the `FlowReplay` agent sends every recorded call whose chain time
(from the pull's time origin, `History.time_origin`) has come, in chain order, by its intent
as the exact replay reads it (`sim.history.v2`): an exact input, an exact output (its float
input at the pool's own fee), fixed amounts (sent as their input here: the float pool has no K
check to refuse them), a mint or burn of the same fraction of the pool, a donation of the same
tokens. A V3 pool's flow (`v3_pool`: a `v3_pools` entry) is `sim.history.v3flow`'s. Every world
sees the same flow; agents added beside it (an arbitrageur against the replayed price, a
keeper) make the worlds differ. The engine's ledger books the flow's swaps as any trader's.
Exact integer reproduction is `sim.history.replay`'s; the float pool follows it to float
rounding (checked in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from sim.config import ConfigModel, Ref
from sim.engine.context import AgentEnv, BlockContext
from sim.history import v2
from sim.history.schema import V2
from sim.history.store import History, HistoryError, open_history
from sim.history.v3flow import V3FlowReplay, v3_flow
from sim.venues.cpmm.batch import get_amount_in


class FlowConfig(ConfigModel):
    """A pulled pool's recorded flow replayed through a scenario pool."""

    kind: Literal["replay"] = "replay"
    """Flow selector."""
    source: str
    """Folder of `ammlab data pull`; relative to the scenario file."""
    pool: str | None = "pool"
    """A V2 pair's flow: the `pools` entry it trades (it starts at the recorded reserves)."""
    v3_pool: str | None = None
    """A V3 pool's flow: the `v3_pools` entry it trades, which then starts as the recorded
    pool (see `sim.history.v3flow`); `pool` is then unused."""
    address: str | None = None
    """The pulled pool to replay (a V2 pair, or a V3 pool with `v3_pool`); None: the
    folder's only one of that kind."""
    risky: str = "auto"
    """Which of its tokens is the scenario's risky asset (token0, token1, symbol, address)."""
    fee: int | None = Field(None, gt=0, lt=1_000_000)
    """A V3 pool's flow only: its fee in pips in place of its `v3_pools` entry's, which takes
    the factory's tiers alone (500, 3000, 10000): e.g. 100 (1 bp, enabled on mainnet by
    governance, not by v3-core's factory). The pool keeps the recorded tick spacing either
    way, so every recorded range stays valid."""

    @model_validator(mode="after")
    def _one_pool(self) -> FlowConfig:
        if self.v3_pool is not None:
            if "pool" in self.model_fields_set and self.pool is not None:
                raise ValueError("flow: give pool (a V2 pair's flow) or v3_pool (a V3 pool's)")
            self.pool = None
        elif self.fee is not None:
            raise ValueError(
                "flow.fee: only for a V3 pool's flow (v3_pool); a V2 pair's counterfactual fee "
                "is its pool's fee_bps"
            )
        elif self.pool is None:
            raise ValueError("flow: name the pool it trades (pool, or v3_pool for a V3 pool)")
        return self

    def refs(self) -> list[Ref]:
        if self.v3_pool is not None:
            return [(("v3_pools",), self.v3_pool, f"flow trades unknown V3 pool '{self.v3_pool}'")]
        return [(("pools",), self.pool, f"flow trades unknown pool '{self.pool}'")]


@dataclass
class Step:
    """One recorded call as the float pool takes it (human units, risky then numeraire)."""

    time: float
    """Seconds from the time origin."""
    kind: str
    """"in", "out" (swaps by intent), "fixed" (a swap of fixed amounts), "mint", "burn",
    "donate"."""
    direction: int = 0
    """Swaps: +1 numeraire in / risky out, -1 risky in / numeraire out."""
    amount: float = 0.0
    """"in": the input, "out" and "fixed": the output, of the swap's tokens."""
    frac: tuple[float, float] = (0.0, 0.0)
    """Mint: each token's deposit over its reserve; burn: (LP burned over the supply, 0)."""
    delta: tuple[float, float] = (0.0, 0.0)
    """"fixed": the input; donation: the tokens added; burn: tokens sitting unsynced."""


def _open(cfg: FlowConfig) -> tuple[History, str, int]:
    h = open_history(cfg.source)
    address = h.source(cfg.address, (V2,), "flow.address")
    return h, address, h.risky_side(address, cfg.risky)


def flow_seed(cfg: FlowConfig) -> tuple[float, float]:
    """(risky, numeraire) reserves of the pair at the anchor, human units."""
    h, address, side = _open(cfg)
    pool = v2.initial_pool(h, address, h.sources[address]["fee_bps"])
    if pool.reserve0 == 0:
        raise HistoryError(
            f"flow.source: pair {address} had no reserves before the pulled range; pull from a "
            "block after its first mint"
        )
    return _human(h, address, side, pool.reserve0, pool.reserve1)


def _human(h: History, address: str, side: int, a0: int, a1: int) -> tuple[float, float]:
    s = h.sources[address]
    v = (a0 / 10 ** s["token0"]["decimals"], a1 / 10 ** s["token1"]["decimals"])
    return v[side], v[1 - side]


def flow_steps(cfg: FlowConfig) -> list[Step]:
    """The pair's calls in chain order, read by the exact replica (see `sim.history.v2`)."""
    h, address, side = _open(cfg)
    replica = v2.initial_pool(h, address, h.sources[address]["fee_bps"])
    t0, ts = h.time_origin(), h.timestamps
    steps = []
    for a in v2.actions(h, address):
        t = float(ts[a.block] - t0)
        in0, in1, out0, out1 = a.amounts
        r = _human(h, address, side, replica.reserve0, replica.reserve1)
        if a.kind == "swap":
            how = v2.intent(replica, a)
            d_in = _human(h, address, side, in0, in1)
            d_out = _human(h, address, side, out0, out1)
            direction = 1 if d_out[0] > 0 else -1
            out = d_out[0] if direction > 0 else d_out[1]
            if how == "in":
                steps.append(Step(t, "in", direction, d_in[1] if direction > 0 else d_in[0]))
            else:
                steps.append(Step(t, how, direction, out, delta=d_in))
        elif a.kind == "mint":
            d = _human(h, address, side, in0, in1)
            steps.append(Step(t, "mint", frac=(d[0] / r[0], d[1] / r[1]) if r[0] else (0, 0)))
        elif a.kind == "burn":
            supply = replica.total_supply + sum(a.fee_mints)
            unsynced = _human(h, address, side, a.sync[0] + in0 - replica.reserve0,
                              a.sync[1] + in1 - replica.reserve1)  # fmt: skip
            steps.append(Step(t, "burn", frac=((a.liquidity or 0) / supply, 0.0), delta=unsynced))
        else:
            d = _human(h, address, side, a.sync[0] - replica.reserve0, a.sync[1] - replica.reserve1)
            steps.append(Step(t, "donate", delta=d))
        v2.apply_recorded(replica, a, ts[a.block])
    return steps


class FlowReplay:
    """The recorded flow as an agent (see the module docstring)."""

    priority = False
    config = FlowConfig

    @classmethod
    def build(cls, cfg: FlowConfig, env: AgentEnv) -> FlowReplay | V3FlowReplay:
        if env.sc.blocks.poisson:
            raise HistoryError("flow: a replayed flow needs fixed block times (blocks.poisson)")
        fields, name = ("v3_pools", cfg.v3_pool) if cfg.v3_pool is not None else ("pools", cfg.pool)
        names = [p.name for p in getattr(env.sc, fields)]
        if name not in names:
            raise HistoryError(
                f"flow: no {fields} entry named '{name}' (the scenario has {', '.join(names)})"
            )
        if cfg.v3_pool is not None:
            return V3FlowReplay(cfg, v3_flow(cfg))
        return cls(cfg, flow_steps(cfg))

    def __init__(self, cfg: FlowConfig, steps: list[Step]):
        self.cfg = cfg
        self.name = "flow"
        self.steps = steps
        self.next = 0

    def act(self, ctx: BlockContext) -> None:
        pool = ctx.pools[self.cfg.pool]
        now = float(ctx.time[0])
        while self.next < len(self.steps) and self.steps[self.next].time <= now:
            s = self.steps[self.next]
            self.next += 1
            if s.kind in ("in", "out", "fixed"):
                self._swap(ctx, pool, s)
            elif s.kind == "mint":
                minted = np.minimum(s.frac[0], s.frac[1]) * pool.shares
                pool.x *= 1.0 + s.frac[0]
                pool.y *= 1.0 + s.frac[1]
                pool.shares += minted
            elif s.kind == "burn":
                x, y = pool.x + s.delta[0], pool.y + s.delta[1]
                pool.x, pool.y = x - s.frac[0] * x, y - s.frac[0] * y
                pool.shares *= 1.0 - s.frac[0]
            else:
                pool.x += s.delta[0]
                pool.y += s.delta[1]

    def _swap(self, ctx: BlockContext, pool, s: Step) -> None:
        """An exact input as it is; an exact output at its input for this pool's state and fee;
        fixed amounts as their input, the pool keeping whatever its curve would have paid
        beyond the recorded output (the float pool has no K check to refuse them)."""
        direction = np.full(pool.n, s.direction, dtype=np.int64)
        if s.kind == "in":
            ctx.swap(self.name, self.cfg.pool, np.full(pool.n, s.amount), direction)
            return
        r_in, r_out = (pool.y, pool.x) if s.direction > 0 else (pool.x, pool.y)
        fills = s.amount < r_out  # a world whose pool cannot pay it: not sent
        if s.kind == "out":
            amount = get_amount_in(np.where(fills, s.amount, 0.0), r_in, r_out, pool.fee_bps)
        else:
            amount = np.full(pool.n, s.delta[1] if s.direction > 0 else s.delta[0])
        paid = ctx.swap(self.name, self.cfg.pool, np.where(fills, amount, 0.0),
                        np.where(fills, direction, 0))  # fmt: skip
        if s.kind == "fixed":  # the output it left, and any input of the output's token
            kept = np.where(fills, paid - s.amount, 0.0)
            if s.direction > 0:
                pool.x += kept + np.where(fills, s.delta[0], 0.0)
            else:
                pool.y += kept + np.where(fills, s.delta[1], 0.0)

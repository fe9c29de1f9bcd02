"""The keeper's concentrated position, live: the range policy's decision each tick, and each
move journaled as one rebalance whose four steps run exactly once.

Each tick (`RangeKeeper.tick`, called by the runtime once the kill switch's mode is known):
the position is read with the market (`keeper.reader`, `keeper.ranges.position_calls`), the
policy decides on `keeper.ranges.range_inputs` (the fee income and σ̂ estimators fed every
tick, as the simulator's agent feeds them every block), and then:

* a rebalance is open: its next step goes (below), unless one of its steps is still in
  flight (the runtime's settle waits for it) or the kill switch is not `running`;
* none is open and the policy moves the range (its own guards passed: pool on the oracle,
  oracle fresh): a rebalance is journaled (`Journal.start_rebalance`: the old token, the new
  range) and its steps go.

Steps, in order, each an intent of kind `range_<step>` whose meta names the rebalance, sent
through the executor's journal and transaction manager with the guards as precheck
(`keeper.execution.Executor`): decrease, collect, swap, mint (`keeper.ranges` plans each from
the chain as it is when the step is due). A step is done when one of its intents is mined;
what the next step needs comes from the mined receipts' events: the amounts the manager's
`Collect` paid are the move's budget, the pool's `Swap` changes it, the manager's
`IncreaseLiquidity` names the new token. So a keeper killed at any step and restarted
(its planned intents expired, signed ones rebroadcast, sent ones waited for: `keeper.runtime`)
finds the steps that are done in its journal and the chain, re-plans only the rest from fresh
state, and never withdraws twice (the decrease is planned from the token's liquidity now, the
collect from what it is owed now) or leaves tokens behind (everything collected is swapped and
minted; what the mint's ratio leaves is in the keeper's wallet, where the hedge counts it).

A step refused by a guard (a stale oracle, the pool off the oracle, gas) or reverted leaves
the rebalance open; it is re-planned on the next tick. Dry run: the decision and the move
it would start are logged, nothing is journaled or sent.
"""

from __future__ import annotations

import math
import time
from typing import Any

from eth_abi import decode
from eth_utils import keccak

from keeper.config import KeeperConfig, KeeperConfigError
from keeper.execution import Executor
from keeper.journal import Journal
from keeper.journal_records import Intent, Rebalance
from keeper.ranges import (
    STEP_GAS,
    STEPS,
    Canon,
    RangeState,
    plan_collect,
    plan_decrease,
    plan_mint,
    plan_swap,
    range_inputs,
)
from keeper.reader import Addresses, ChainReader, MarketSnapshot
from keeper.venues import gas
from keeper.venues.base import GWEI, WEI_PER_ETH
from sim.decisions.ranges import FeeIncome, check_width
from sim.learn.features import VolForecast

COLLECT = "0x" + keccak(text="Collect(uint256,address,uint256,uint256)").hex()
INCREASE = "0x" + keccak(text="IncreaseLiquidity(uint256,uint128,uint256,uint256)").hex()
SWAP = "0x" + keccak(text="Swap(address,address,int256,int256,uint160,uint128,int24)").hex()


class RangeKeeper:
    """The position's policy and moves (module docstring)."""

    def __init__(self, cfg: KeeperConfig, addresses: Addresses, journal: Journal,
                 executor: Executor, reader: ChainReader, log) -> None:  # fmt: skip
        self.cfg = cfg
        self.rc = rc = cfg.range
        self.policy = rc.policy
        self.addresses = addresses
        self.journal = journal
        self.executor = executor
        self.reader = reader
        self.log = log
        done = journal.rebalances("done")
        self.token_id = done[-1].new_token_id if done else rc.position_id
        last = float(done[-1].meta.get("timestamp", -math.inf)) if done else -math.inf
        vol = VolForecast(self.policy.vol, 1, origin=rc.vol_origin_s)
        self.state = RangeState(FeeIncome(self.policy.fee_window), vol, last)
        reader.position = (rc.pool, self.token_id)
        self.last: dict[str, Any] = {}

    # -- start ------------------------------------------------------------------------------

    def check(self, snap: MarketSnapshot) -> None:
        """Before anything is sent: the position is a token the keeper owns in the configured
        pool, and the policy's widths span the pool's tick spacing. One line naming the field."""
        rc, pos = self.rc, snap.position
        field = "keeper config field range.position_id"
        if pos is None:
            raise KeeperConfigError(
                f"{field}: token {self.token_id} does not exist on the position manager "
                f"{self.addresses.position_manager}: give a token the keeper holds"
            )
        if pos.owner.lower() != self.addresses.keeper.lower():
            raise KeeperConfigError(
                f"{field}: token {self.token_id} is owned by {pos.owner}, not the keeper "
                f"{self.addresses.keeper}: give a position the keeper owns"
            )
        pool = snap.pool(rc.pool)
        if pool.kind != "univ3":
            raise KeeperConfigError(
                f"keeper config field range.pool: {rc.pool} is not a univ3 venue"
            )
        for name in ("width", "min_width"):
            width = getattr(self.policy, name, None)
            if width is not None:
                try:
                    check_width(width, pool.tick_spacing, f"range.policy.{name}", rc.pool)
                except ValueError as err:
                    raise KeeperConfigError(f"keeper config field {err}") from err

    # -- the tick -----------------------------------------------------------------------------

    def gas_quote(self, snap: MarketSnapshot) -> float:
        tip = self.cfg.execution.priority_fee_gwei * GWEI
        wei = sum(STEP_GAS.values()) * (snap.base_fee_wei + tip)
        return wei / WEI_PER_ETH * snap.spot

    def tick(self, snap: MarketSnapshot, mode: str, waiting: list[Intent]) -> MarketSnapshot:
        """Decide, and start or continue a move (module docstring); returns the snapshot the
        hedge should plan on (a fresh one after a step was sent)."""
        pos = snap.position
        if pos is None:
            self.log("range", block=snap.block, status="no position", token=self.token_id)
            return snap
        pool = snap.pool(self.rc.pool)
        c = Canon.of(pool)
        idle = c.whole(*c.split(*self.carry()))
        x = range_inputs(snap, pool, pos, self.state, self.gas_quote(snap), idle)
        d = self.policy.decide(x)
        self.last = {"inputs": x, "decision": d}
        reb = next(iter(self.journal.rebalances("open")), None)
        status = "hold"
        if bool(d.blocked[0]):
            status = "guard: pool off the oracle or the oracle stale"
        if reb is None and bool(d.rebalance[0]):
            lower, upper = c.range(int(d.lower[0]), int(d.upper[0]))
            status = "move due"
            if self.executor.live and mode == "running":
                key = f"range:{self.rc.pool}:{self.token_id}:{snap.block_hash}"
                reb = self.journal.start_rebalance(
                    key, self.rc.pool, self.token_id, lower, upper,
                    {"timestamp": snap.timestamp, "block": snap.block,
                     "gain": float(d.gain[0]), "cost": float(d.cost[0]),
                     "carry": list(self.carry())},
                )  # fmt: skip
        fresh = snap
        if reb is not None:
            if mode != "running":
                status = f"rebalance #{reb.id} open, kill switch {mode}: waiting"
            elif any(i.kind.startswith("range_") for i in waiting):
                status = f"rebalance #{reb.id}: a step is in flight"
            else:
                status, fresh = self._advance(reb, snap)
        self.log("range", block=snap.block, token=self.token_id, status=status,
                 tick=int(x.tick[0]), lower=int(x.lower[0]), upper=int(x.upper[0]),
                 rebalance=bool(d.rebalance[0]), gain=float(d.gain[0]), cost=float(d.cost[0]),
                 fee_income=float(x.fee_income[0]), sigma=float(x.sigma[0]))  # fmt: skip
        return fresh

    def carry(self) -> tuple[int, int]:
        """What the last move left beside its position (raw token0, token1): the mint's
        desired amounts less what it took; the next move re-deposits it."""
        done = self.journal.rebalances("done")
        left = done[-1].meta.get("left", [0, 0]) if done else [0, 0]
        return int(left[0]), int(left[1])

    # -- steps --------------------------------------------------------------------------------

    def _step_state(self, reb: Rebalance) -> dict[str, Intent | None]:
        """Per step: its mined intent, or None (not done)."""
        out: dict[str, Intent | None] = dict.fromkeys(STEPS)
        for i in self.journal.rebalance_steps(reb.id):
            if i.status == "mined":
                out[i.meta["step"]] = i
        return out

    def _receipt_logs(self, intent: Intent) -> list[dict]:
        mined = [a for a in self.journal.attempts(intent.id) if a.status == "mined"]
        receipt = self.executor.batch.receipt(mined[-1].tx_hash) if mined else None
        return receipt["logs"] if receipt else []

    def _event(self, intent: Intent, topic: str, types: list[str]) -> tuple | None:
        for log in self._receipt_logs(intent):
            if log["topics"] and log["topics"][0].lower() == topic:
                return (log, decode(types, bytes.fromhex(log["data"][2:])))
        return None

    def _budget(self, reb: Rebalance, done: dict[str, Intent | None]) -> tuple[int, int]:
        """What the move holds now: the last move's leftovers and the amounts collected,
        changed by the swap (raw units of token0, token1)."""
        b0, b1 = (int(v) for v in reb.meta.get("carry", [0, 0]))
        if done["collect"] is not None:
            found = self._event(done["collect"], COLLECT, ["address", "uint256", "uint256"])
            if found is not None:
                _, (_, c0, c1) = found
                b0, b1 = b0 + c0, b1 + c1
        if done["swap"] is not None:
            found = self._event(done["swap"], SWAP,
                                ["int256", "int256", "uint160", "uint128", "int24"])  # fmt: skip
            if found is not None:
                _, (a0, a1, *_) = found
                b0, b1 = b0 - a0, b1 - a1  # the pool's deltas: > 0 paid in by the keeper
        return max(b0, 0), max(b1, 0)

    def _advance(self, reb: Rebalance, snap: MarketSnapshot) -> tuple[str, MarketSnapshot]:
        """Run the move's remaining steps on fresh state until one does not land."""
        rc, a = self.rc, self.addresses
        tol = rc.slippage_bps / 1e4
        for step in STEPS:
            done = self._step_state(reb)
            if done[step] is not None:
                continue
            pool, pos = snap.pool(rc.pool), snap.position
            token0, token1 = (a.base_token, a.quote_token) if pool.base_is_token0 else (
                a.quote_token, a.base_token)  # fmt: skip
            deadline = snap.timestamp + rc.deadline_s
            manager, keeper = a.position_manager, a.keeper
            if step == "decrease":
                plan = plan_decrease(pool, pos, manager, tol, deadline, snap.spot) \
                    if pos.liquidity > 0 else None  # fmt: skip
            elif step == "collect":
                plan = plan_collect(pool, pos, manager, keeper, snap.spot) \
                    if any(pos.owed(pool.tick)) else None  # fmt: skip
            elif step == "swap":
                plan = plan_swap(pool, *self._budget(reb, done), reb.tick_lower, reb.tick_upper,
                                 a.pools[rc.pool].router, keeper, tol, deadline, snap.spot,
                                 token0, token1)  # fmt: skip
            else:
                plan = plan_mint(pool, *self._budget(reb, done), reb.tick_lower, reb.tick_upper,
                                 manager, keeper, tol, deadline, snap.spot, token0, token1)  # fmt: skip
                if plan is None:
                    self.journal.finish_rebalance(reb.id, "abandoned", detail="nothing to mint")
                    return f"rebalance #{reb.id} abandoned: nothing to mint", snap
            if plan is None:
                continue  # nothing to do at this step (dust, or already empty)
            allowance = gas.range_step_allowance(step, plan.meta, pool.sqrt_price_x96,
                                                 pool.tick_spacing)  # fmt: skip
            meta = {**plan.meta, "rebalance": reb.id, "step": step, "gas_allowance": allowance}
            precheck = self.executor.precheck_for(None, 0.0, STEP_GAS[step], allowance)
            intent, reason, fault = self.executor._send(
                f"range:{reb.id}:{step}", snap, plan.to, plan.data, f"range_{step}",
                plan.notional_quote, meta, precheck, time.time() + rc.deadline_s,
            )  # fmt: skip
            self.log("range_step", rebalance=reb.id, step=step, status=intent.status,
                     intent=intent.id, reason=reason, venue_fault=fault)  # fmt: skip
            if intent.status != "mined":
                return f"rebalance #{reb.id}: {step} {intent.status} ({reason})", snap
            snap = self.reader.read()
        return self._finish(reb, snap)

    def _finish(self, reb: Rebalance, snap: MarketSnapshot) -> tuple[str, MarketSnapshot]:
        minted = self._step_state(reb)["mint"]
        found = self._event(minted, INCREASE, ["uint128", "uint256", "uint256"]) \
            if minted is not None else None  # fmt: skip
        if found is None:
            return f"rebalance #{reb.id}: the mint's receipt shows no new token yet", snap
        log, (_, used0, used1) = found
        token = int(log["topics"][1], 16)
        budget0, budget1 = self._budget(reb, self._step_state(reb))
        left = [max(budget0 - used0, 0), max(budget1 - used1, 0)]
        self.journal.finish_rebalance(reb.id, "done", token, detail=f"token {token}",
                                      meta={"left": left})  # fmt: skip
        self.token_id = token
        self.reader.position = (self.rc.pool, token)
        self.state.last_move = float(reb.meta.get("timestamp", snap.timestamp))
        return f"rebalance #{reb.id} done: token {token}", self.reader.read()

"""The keeper runtime: `Keeper.tick()` = read → guards → kill switch → plan → execute → metrics.

One tick, at one block:

1. read: `ChainReader.read(block)`, one batched round of eth_calls → `MarketSnapshot`;
2. guards: the oracle checks (fresh, within `oracle_max_deviation_bps` of the deepest pool's
   TWAP over `twap_window_s`: a V2 pair's from the cumulative prices the reader saw, a V3
   pool's from its own oracle, `observe([window, 0])`, or while that does not reach back,
   from the `observe([0])` tick cumulatives the reader saw);
3. kill switch: `KillSwitch.observe` (operator commands, oracle health, |net delta|,
   equity drawdown, error rate) → its mode;
4. plan: `keeper.strategy.plan_hedge` (pure);
5. execute: `Executor.execute` (live: journal + TxManager, guards re-run on fresh state as
   the precheck; dry run: logged only); a concentrated position's move goes first
   (`keeper.range_execution`);
6. metrics: net delta, gamma, vega, hedge count, cost; one JSON line per event.

`ammlab keeper run` drives `tick` from a poll loop, `keeper.bot` from a Silverback block
handler: both call this same method.

Exactly once across ticks: a tick first settles the journal's open intents (one receipt
poll, a same-nonce replacement if stuck); while one is still unmined it plans nothing new,
since the snapshot cannot show a hedge that is still in flight.

Venue failover: a leg whose venue reverted (simulation or on chain; nothing traded) is
journaled as such, and the rest of the hedge is re-planned on fresh state without that venue
in the same tick; when no venue is left for a hedge still due, the kill switch pauses
(cause `venue`). Each venue failure also counts as an error of task `venue:<name>`.

Another signer: every tick, once the journal is settled, and before each signature, a nonce
of the keeper's account that the journal did not sign pauses the keeper (kill switch cause
`foreign_signer`, `TxManager.check_signer`); found at start, the start is refused.

Node outages: a transport failure (connection refused or reset, timeout) is not a task error.
`run` waits for the node with exponential backoff and jitter, then the next tick first checks
that the node is still the journal's chain (`TxManager.check_chain`: a reset or fresh chain
ends the run with one line) and reconciles the journal (rebroadcasting what the node forgot)
before anything else.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from keeper.config import (
    KeeperConfig,
    KeeperConfigError,
    explicit_venues,
    resolve_addresses,
    venue_names,
    without_venues,
)
from keeper.execution import Executor, LegResult
from keeper.guards import (
    CumulativeObservation,
    check_oracle_deviation,
    check_oracle_fresh,
    current_cumulative,
    twap_price,
    v3_tick_price,
)
from keeper.journal import Journal, default_journal_path
from keeper.journal_reconcile import ReconcileReport
from keeper.journal_records import Intent
from keeper.killswitch import KillSwitch, Observation
from keeper.learned import ForecastInputs, LearnedInputs
from keeper.logs import KeeperLog
from keeper.metrics import KeeperMetrics
from keeper.range_execution import RangeKeeper
from keeper.reader import WAD, ChainReader, MarketSnapshot
from keeper.signer import KEY_ENV, keeper_signer
from keeper.strategy import HedgeState, LegPlan, Plan, as_floats, plan_hedge
from keeper.txmanager import ChainResetError, ForeignSignerError, TxManager, TxTimeout
from keeper.venues import v3
from sim.atomic import atomic_write_json
from sim.chain import node as chainmod
from sim.chain.rpc import Backoff, Rpc, RpcUnavailable
from sim.errors import ChainError, ManifestError
from sim.learn.policy import Learned

STATUS_FILE = "status.json"
"""Beside the journal: what `ammlab keeper status` prints of the last tick."""
"""Private key of the keeper account for live runs; unset: anvil's test account #3 (forks)."""


def is_outage(err: BaseException) -> bool:
    """A transport failure (the node did not answer), as opposed to the node saying no."""
    return isinstance(err, RpcUnavailable) or (
        isinstance(err, ChainError) and isinstance(err.__cause__, OSError)
    )


# Reasons `plan_hedge` gives when the venues cannot take a due order (keeper/strategy.py).
NO_DEPTH_REASONS = ("no depth", "routing")


@dataclass
class Metrics:
    ticks: int = 0
    hedges: int = 0
    """Legs mined."""
    cost_quote: float = 0.0
    """Expected cost of mined legs against the oracle, gas included."""
    refused: int = 0
    errors: int = 0
    failovers: int = 0
    """Re-plans around a venue that reverted."""
    outages: int = 0
    """Times the node stopped answering and came back."""
    last: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TickResult:
    snapshot: MarketSnapshot
    plan: Plan
    mode: str
    legs: tuple[LegResult, ...]


class Keeper:
    """One keeper: reader, policy, kill switch, executor and metrics. See the module docstring."""

    def __init__(
        self,
        cfg: KeeperConfig,
        manifest: dict[str, Any] | None = None,
        rpc_url: str | None = None,
        log: KeeperLog | None = None,
        home: Path | None = None,
    ):
        self.url = rpc_url or cfg.rpc_url or chainmod.upstream_url()
        self.home = Path(home or chainmod.home_dir())
        self.log = log or KeeperLog(path=cfg.log_path, level=cfg.log_level.upper())
        self.manifest = manifest if cfg.addresses.use_manifest else None
        self.addresses, self.baseline = resolve_addresses(cfg, self.manifest)
        self.cfg = cfg = explicit_venues(cfg, self.addresses)
        if not self.addresses.keeper:
            raise KeeperConfigError("keeper config field addresses.keeper: no keeper account")
        self.reader = ChainReader(
            self.url, self.addresses, twap_window_s=cfg.safety.guards.twap_window_s
        )
        self.journal = Journal(cfg.journal_path or default_journal_path(self.home))
        self.killswitch = KillSwitch(self.journal, cfg.safety.killswitch)
        self.policy = cfg.policy
        # A learned policy: its book is checked and its features come from the feed's rounds.
        self.learned = (
            LearnedInputs(cfg.policy, self.reader, cfg.inventory.include_lp)
            if isinstance(cfg.policy, Learned)
            else ForecastInputs(cfg.policy.forecast) if getattr(cfg.policy, "forecast", None)
            else None
        )  # fmt: skip
        self._features: dict[str, Any] | None = None
        self.state = HedgeState()
        self.metrics = Metrics()
        self.observations: dict[str, deque[CumulativeObservation]] = {}
        """Per pool: V2 price0 cumulatives, or a V3 pool's tick cumulatives (same shape)."""
        self._snapshot: MarketSnapshot | None = None
        self._errors: list[str] = []
        self.txm: TxManager | None = None
        if not cfg.dry_run:
            signer = keeper_signer(cfg.account, cfg.force_raw_key, self.url)
            self.txm = TxManager(self.url, signer, self.journal, limits=cfg.safety.tx)
            if self.txm.address != self.addresses.keeper:
                raise KeeperConfigError(
                    f"the signer is {self.txm.address} but addresses.keeper is "
                    f"{self.addresses.keeper}: sign with the keeper's account (--account ALIAS "
                    f"or {KEY_ENV}) or fix addresses.keeper"
                )
        self.prom: KeeperMetrics | None = None
        if cfg.metrics.port is not None:
            self.prom = KeeperMetrics(
                pending_intents=lambda: self._pending_intents,
                stale_after_s=cfg.metrics.stale_after_s,
            )
            for rpc in (self.reader.batch, self.txm.chain if self.txm else None):
                if rpc is not None:
                    rpc.on_request = self.prom.rpc_call
        self._pending_intents = 0
        self._refusals_seen = 0
        self.status_path = (cfg.journal_path or default_journal_path(self.home)).with_name(
            STATUS_FILE
        )
        self.executor = Executor(
            cfg, self.addresses, self.journal, self.killswitch, self.log, self.txm,
            reference_price=self.reference_price,
        )  # fmt: skip
        self.ranges = RangeKeeper(cfg, self.addresses, self.journal, self.executor, self.reader,
                                  self.log) if cfg.range else None  # fmt: skip
        self.started = False
        self._node_lost: str | None = None
        """Set when the node stopped answering; the next tick re-checks the chain first."""

    # -- lifecycle ----------------------------------------------------------------------

    def preflight(self) -> None:
        """Before any read or transaction: the RPC is the configured chain, the manifest is
        for it, (live) the node is the journal's chain (`TxManager.check_chain`), every
        configured contract has code, and every venue is what the config says (its tokens the
        configured pair, a genuine pool its factory's, of a fee tier the factory knows:
        `ChainReader.check`). Raises one-line errors."""
        chain_id = chainmod.chain_id_of(self.url)
        if chain_id != self.cfg.chain_id:
            raise KeeperConfigError(
                f"keeper config field chain_id: {self.cfg.chain_id}, but the RPC {self.url} is "
                f"chain id {chain_id}: point the keeper at the right chain or fix chain_id"
            )
        if self.manifest is not None and self.manifest.get("chain_id") != chain_id:
            raise ManifestError(
                f"the manifest is for chain id {self.manifest.get('chain_id')} but the RPC is "
                f"chain id {chain_id}: redeploy with `ammlab chain up` or pass the right manifest"
            )
        if self.txm is not None:
            self.txm.check_chain()  # before the code check: a reset chain says so plainly
        a = self.addresses
        contracts = {"base token": a.base_token, "quote token": a.quote_token, "feed": a.feed,
                     **{f"router {r}": r for r in a.routers},
                     **{f"factory {f}": f for f in a.factories},
                     **{f"pool {n}": p.address for n, p in a.pools.items()},
                     "options pool": a.options_pool, "perp": a.perp}  # fmt: skip
        named = [(name, addr) for name, addr in contracts.items() if addr]
        codes = self.reader.batch.many([("eth_getCode", [addr, "latest"]) for _, addr in named])
        for (name, addr), code in zip(named, codes, strict=True):
            if code in (None, "0x", "0x0"):
                raise ManifestError(
                    f"no contract code at {addr} ({name.split(' 0x')[0]}) on chain {chain_id}: "
                    "fix the keeper config's addresses or redeploy with `ammlab chain up`"
                )
        self.reader.check()

    def start(self) -> None:
        """Preflight, reconcile the journal (live), then the one-time set-up (approvals,
        margin)."""
        self.preflight()
        snap = self.reader.read()
        if self.learned is not None:
            self.learned.check(snap)  # before any transaction: a model for another book
        self.executor.oracle_decimals = snap.oracle_decimals
        if self.txm is not None:
            try:
                report = self.txm.open()
            except ForeignSignerError as err:  # refused: the operator resumes once it is safe
                self.executor.foreign_signer(err)
                raise
            self.log("reconcile", pending=list(report.pending), resume=list(report.to_resume),
                     rebroadcast=list(report.rebroadcast), mined=list(report.mined))  # fmt: skip
            # Planned hedges of a crashed run are for old blocks: expire them, re-plan now.
            for intent_id in report.to_resume:
                self.journal.expire(intent_id, "planned before a restart; re-planned instead")
            if report.pending or report.rebroadcast:
                try:
                    self.txm.resume(ReconcileReport(pending=report.pending,
                                                    rebroadcast=report.rebroadcast))  # fmt: skip
                except TxTimeout as err:  # still in flight: the ticks wait for it
                    self.log("resume_pending", error=str(err))
        if self.ranges is not None:  # before any transaction: the position is the keeper's
            self.ranges.check(snap)
        results = self.executor.setup(snap)
        if self.prom is not None:
            port = self.prom.serve(self.cfg.metrics.host, self.cfg.metrics.port)
            self.log("metrics", url=f"http://{self.cfg.metrics.host}:{port}/metrics")
        self.log("started", mode="live" if self.txm else "dry_run", block=snap.block,
                 keeper=self.addresses.keeper, policy=self.policy.model_dump(),
                 setup=[r.status for r in results])  # fmt: skip
        self.started = True

    def close(self) -> None:
        if self.prom is not None:
            self.prom.close()
        if self.txm is not None:
            self.txm.close()
        self.journal.close()

    def __enter__(self) -> Keeper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- oracle reference -----------------------------------------------------------------

    def _observe_pools(self, snap: MarketSnapshot) -> None:
        window = self.cfg.safety.guards.twap_window_s
        for p in snap.all_pools:
            if p.kind == "univ3":
                obs = CumulativeObservation(p.tick_cumulative, snap.timestamp)
            else:
                r0, r1 = p.reserves01
                obs = current_cumulative(p.price0_cumulative, r0, r1, p.block_timestamp_last,
                                         snap.timestamp)  # fmt: skip
            history = self.observations.setdefault(p.name, deque(maxlen=4096))
            if not history or history[-1].timestamp != obs.timestamp:
                history.append(obs)
            while len(history) > 2 and history[1].timestamp <= snap.timestamp - window:
                history.popleft()

    def reference_price(self) -> float | None:
        """TWAP of the deepest pool over the guard window (None until it has one): a V3
        pool's from its own oracle when that reaches back over the window, else (V2 or V3)
        from the cumulatives this keeper observed."""
        snap = self._snapshot
        if snap is None or not snap.all_pools:
            return None
        deepest = max(snap.all_pools, key=lambda p: p.depth_base)
        d0, d1 = ((snap.base_decimals, snap.quote_decimals) if deepest.base_is_token0
                  else (snap.quote_decimals, snap.base_decimals))  # fmt: skip
        if deepest.kind == "univ3" and (tick := v3.twap_tick(deepest)) is not None:
            return v3_tick_price(tick, d0, d1, deepest.base_is_token0)
        history = self.observations.get(deepest.name)
        if not history or len(history) < 2 or history[0].timestamp == history[-1].timestamp:
            return None
        if deepest.kind == "univ3":
            start, end = history[0], history[-1]
            tick = v3.mean_tick(start.price0_cumulative, end.price0_cumulative,
                                end.timestamp - start.timestamp)  # fmt: skip
            return v3_tick_price(tick, d0, d1, deepest.base_is_token0)
        return twap_price(history[0], history[-1], d0, d1, deepest.base_is_token0)

    # -- the tick -----------------------------------------------------------------------

    def tick(self, block: int | None = None) -> TickResult:
        """One full cycle at `block` (default: the latest)."""
        if not self.started:
            self.start()
        if self._node_lost is not None:
            self._recover()
        try:
            snap = self.reader.read(block)
        except Exception as err:
            self._failed("read", err)
            raise
        try:
            waiting = self._settle_open() if self.txm is not None else []
        except Exception as err:
            self._failed("settle", err)
            raise
        self._snapshot = snap
        self._observe_pools(snap)
        if self.learned is not None:
            try:
                self.learned.check(snap)
                self._features = self.learned.features(snap)
            except Exception as err:
                self._failed("policy", err)
                raise
        limits = self.cfg.safety.guards
        oracle = [
            check_oracle_fresh(snap.oracle_updated_at, snap.timestamp, limits.oracle_max_age_s)
        ]
        ref = self.reference_price()
        if ref is not None:
            oracle.append(check_oracle_deviation(snap.spot, ref, limits.oracle_max_deviation_bps))
        oracle_ok = all(v.ok for v in oracle)

        # Plan once in the current mode for the net delta the kill switch watches.
        pre = plan_hedge(snap, self.policy, self.state, self.cfg, mode="paused",
                         baseline_base=self.baseline, features=self._features)  # fmt: skip
        equity = self._equity(snap, pre)
        self.killswitch.observe(Observation(
            now=snap.timestamp, equity=equity, oracle_ok=oracle_ok,
            oracle_reason="; ".join(v.reason for v in oracle if not v.ok),
            net_delta=pre.net_delta, errors=tuple(self._errors),
        ))  # fmt: skip
        self._errors = []
        mode = self.killswitch.mode
        if self.ranges is not None:  # the position's move first; the hedge plans on what is left
            snap = self.ranges.tick(snap, mode, waiting)
        plan = plan_hedge(snap, self.policy, self.state, self.cfg, mode=mode,
                          baseline_base=self.baseline, features=self._features)  # fmt: skip
        if waiting and plan.legs:
            ids = ", ".join(f"#{i.id} ({i.status})" for i in waiting)
            plan = replace(plan, legs=(), order=0.0,
                           reason=f"waiting for intent {ids} to be mined before a new hedge")  # fmt: skip
        done: list[tuple[LegPlan, LegResult]] = []
        if plan.legs:
            try:
                done = self._execute(plan, snap)
            except Exception as err:
                self._failed("execute", err)
                raise
        legs = [r for _, r in done]
        mined = [(leg, r) for leg, r in done if r.status == "mined"]
        if mined:
            self.state = replace(self.state, last_hedge_time=float(snap.timestamp))
            self.metrics.cost_quote += sum(
                leg.expected_cost_quote - leg.size * snap.spot + leg.gas_quote for leg, _ in mined
            )
        elif plan.legs and self.txm is None:
            # Dry run: pretend the hedge happened for the policy's clock, so the log shows
            # the cadence a live run would have.
            self.state = replace(self.state, last_hedge_time=float(snap.timestamp))
        self.metrics.hedges += len(mined)
        self.metrics.refused += sum(r.status == "refused" for r in legs)
        self.metrics.ticks += 1
        b = plan.book
        self.metrics.last = {
            "net_delta": plan.net_delta, "book_delta": float(b.delta), "gamma": float(b.gamma),
            "vega": float(b.vega), "theta": float(b.theta), "hedge": plan.hedge,
            "delta_quote": float(b.delta_quote), "gamma_quote": float(b.gamma_quote),
        }  # fmt: skip
        self._observe_tick(snap, plan, mode, legs, [v for v in oracle if not v.ok])
        self.log(
            "tick", block=snap.block, mode=mode, spot=snap.spot, **self.metrics.last,
            order=plan.order, reason=plan.reason, notes=list(plan.notes),
            legs=[{"venue": r.venue, "size": r.size, "status": r.status, "reason": r.reason}
                  for r in legs],
            hedges=self.metrics.hedges, cost_quote=self.metrics.cost_quote,
            inputs=as_floats(plan.inputs),
            **({"features": self._features} if self._features is not None else {}),
        )  # fmt: skip
        return TickResult(snap, plan, mode, tuple(legs))

    def _observe_tick(self, snap, plan: Plan, mode: str, legs, tripped) -> None:
        """The tick for operators: the status file `ammlab keeper status` prints (the book,
        the options pool's Greeks per board, the kill switch) and the Prometheus metrics."""
        b, ks = plan.book, self.killswitch.state
        book = {"delta": float(b.delta), "gamma": float(b.gamma), "vega": float(b.vega),
                "theta": float(b.theta)}  # fmt: skip
        boards = {
            str(bid): dict(zip(("delta", "gamma", "vega", "theta"), (x / 1e18 for x in g),
                               strict=True))
            for bid, g in snap.board_greeks.items()
        }  # fmt: skip
        atomic_write_json(self.status_path, {
            "block": snap.block, "timestamp": snap.timestamp, "spot": snap.spot, "mode": mode,
            "cause": ks.cause, "book": book, "net_delta": plan.net_delta, "hedge": plan.hedge,
            "options_boards": boards, "legs": [[r.venue, r.status] for r in legs],
        })  # fmt: skip
        if self.prom is None:
            return
        refusals = self.journal.refusals(after_id=self._refusals_seen)
        for r in refusals:
            self.prom.guard_trip(r["guard"])
        if refusals:
            self._refusals_seen = refusals[-1]["id"]
        for v in tripped:
            self.prom.guard_trip(v.guard)
        self._pending_intents = len(self.journal.open_intents())
        self.prom.tick(
            block=snap.block, spot=snap.spot, greeks=book, net_delta=plan.net_delta,
            hedge=plan.hedge, mode=mode, cause=ks.cause,
            legs=[(r.venue, r.status, abs(r.size) * snap.spot) for r in legs],
        )  # fmt: skip

    def _failed(self, task: str, err: BaseException) -> None:
        """Count a task's error for the kill switch; a node outage is no task error."""
        if is_outage(err):
            self._node_lost = self._node_lost or str(err).splitlines()[0][:300]
            return
        self._errors.append(task)
        self.metrics.errors += 1
        if self.prom is not None:
            self.prom.error(task)
        self.log("error", task=task, error=str(err))

    def _settle_open(self) -> list[Intent]:
        """Settle the journal's open intents (one poll each), then look for another signer on
        the account (`TxManager.check_signer`: it pauses the keeper); the intents still in
        flight."""
        flying = []
        for intent in self.journal.open_intents(self.txm.address):
            if intent.status == "planned":  # a tick that died before signing it
                self.journal.expire(intent.id, "planned by a tick that did not finish")
                continue
            try:
                final = self.txm.wait(intent.id, timeout=0)
            except TxTimeout:
                flying.append(self.journal.intent(intent.id))
                continue
            self.log("settled", intent=final.id, kind=final.kind, status=final.status)
        try:  # once the journal is settled: any nonce it does not know is another signer's
            self.txm.check_signer()
        except ForeignSignerError as err:
            self.executor.foreign_signer(err)
        return flying

    def _execute(self, plan: Plan, snap: MarketSnapshot) -> list[tuple[LegPlan, LegResult]]:
        """Send `plan`'s legs; re-plan around venues that revert (see the module docstring)."""
        done = list(zip(plan.legs, self.executor.execute(plan, snap), strict=True))
        faults: dict[str, str] = {}
        latest = done
        while True:
            new = {r.venue: r.venue_fault for _, r in latest if r.venue_fault}
            new = {v: why for v, why in new.items() if v not in faults}
            if not new:
                return done
            faults.update(new)
            self._errors.extend(f"venue:{v}" for v in new)
            what = "; ".join(f"{v}: {why}" for v, why in faults.items())
            fresh = self.reader.read()
            cfg = without_venues(self.cfg, faults)
            again = plan_hedge(fresh, self.policy, self.state, cfg, mode=self.killswitch.mode,
                               baseline_base=self.baseline, features=self._features)  # fmt: skip
            if again.legs:
                self.metrics.failovers += 1
                venues = ", ".join(leg.venue for leg in again.legs)
                detail = f"venue failover ({what}): order {again.order:+.6g} re-planned on {venues}"
                self.journal.note(None, None, detail)
                self.log("failover", failed=faults, order=again.order, venues=venues)
                latest = list(zip(again.legs, self.executor.execute(again, fresh), strict=True))
                done += latest
                continue
            if not venue_names(cfg) or again.reason.startswith(NO_DEPTH_REASONS):
                reason = f"no venue left for the hedge ({what}; {again.reason})"
                self.killswitch.trip("paused", "venue", reason)
                self.log("failover", failed=faults, paused=reason)
            else:
                self.journal.note(None, None, f"venue failover ({what}): {again.reason}")
                self.log("failover", failed=faults, reason=again.reason)
            return done

    def _recover(self) -> None:
        """After a node outage, before anything else: the same chain (else ChainResetError
        ends the run), the contracts still there, the journal reconciled (what the node
        forgot is rebroadcast)."""
        lost = self._node_lost
        self.preflight()
        if self.txm is not None:
            report = self.txm.reconcile()
            self.log("reconcile", pending=list(report.pending), resume=list(report.to_resume),
                     rebroadcast=list(report.rebroadcast), mined=list(report.mined))  # fmt: skip
        self._node_lost = None
        self.metrics.outages += 1
        self.log("rpc_restored", after=lost)

    def wait_for_node(self, err: BaseException) -> None:
        """Back off (exponentially, with jitter, up to `rpc_backoff_max_s`) until the node
        answers again, however long that takes (each retry is logged); the next tick then
        re-checks the chain (`_recover`)."""
        self._node_lost = self._node_lost or str(err).splitlines()[0][:300]
        limits = self.cfg.safety.tx
        self.log("rpc_down", error=self._node_lost)
        forever = Backoff(None, limits.rpc_backoff_initial_s, limits.rpc_backoff_max_s)
        with Rpc(self.url, limits.rpc_timeout_s, forever) as probe:
            probe.on_retry = lambda attempt, waited, reason: self.log(
                "rpc_retry", attempt=attempt, waited_s=round(waited, 1), error=reason[:200]
            )
            probe.chain_id()

    def _equity(self, snap: MarketSnapshot, plan: Plan) -> float:
        """Mark-to-market of what the keeper's book and hedges are worth, quote units:
        options (pool side) + LP shares + the keeper's tokens + perp equity at the oracle."""
        from sim.decisions.book import option_greeks

        opts = float(option_greeks(snap.option_positions(), snap.spot, snap.timestamp)["price"])
        lp = sum(p.lp_share * (p.base * snap.spot + p.quote) for p in snap.pools)  # V2 shares
        cash = snap.keeper_quote / 10**snap.quote_decimals
        base = snap.keeper_base / 10**snap.base_decimals * snap.spot
        perp = 0.0
        if snap.perp is not None:
            p = snap.perp
            perp = (
                p.margin / 10**p.quote_decimals
                + p.size / WAD * (p.oracle_price - p.last_price) / WAD
            )
        return opts + lp + cash + base + perp

    # -- loop ---------------------------------------------------------------------------

    def run(self, blocks: int | None = None, poll_s: float | None = None) -> int:
        """Tick on every new block until `blocks` ticks ran (forever if None)."""
        poll = poll_s or self.cfg.poll_s
        if not self.started:
            self.start()  # outside the loop's catch-all: a failed preflight ends the run
        last = None
        done = 0
        while blocks is None or done < blocks:
            try:
                head = self.reader.block_number()
            except ChainError as err:
                if not is_outage(err):
                    raise
                self.wait_for_node(err)
                continue
            if head == last and self._node_lost is None:
                time.sleep(poll)
                continue
            try:
                self.tick(head)
            except ChainResetError:
                raise  # the node is not the journal's chain: never act there
            except Exception as err:  # noqa: BLE001 - one bad tick must not end the loop
                if is_outage(err):
                    self.wait_for_node(err)
                    continue  # the tick did not happen; tick the head the node has now
                self.log("tick_failed", block=head, error=str(err).splitlines()[0][:300])
                if self.killswitch.mode == "paused" and blocks is None:
                    time.sleep(poll)
            last = head
            done += 1
        return done

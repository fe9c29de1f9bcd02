"""The graduated kill switch: running -> reduce_only -> paused -> flatten.

Modes, least to most severe:

- `running`: every hedge may go.
- `reduce_only`: only orders that shrink the hedge position's size (`order_allowed`).
- `paused`: nothing is sent.
- `flatten`: the keeper unwinds its hedge position to zero (orders toward zero only), then
  sends nothing more.

Automatic triggers only ever escalate (checked on every `Observation`):

- drawdown of equity from its peak beyond `drawdown_reduce_only` -> reduce_only, beyond
  `drawdown_flatten` -> flatten;
- oracle failure (stale or deviating, from the guards) -> reduce_only;
- errors of one task within `error_window_s` reaching `max_errors_per_window` -> paused;
- |net delta| beyond `hedge_error_limit_base` for longer than `hedge_error_grace_s` ->
  `hedge_error_action` (paused by default);
- from the runtime (`KillSwitch.trip`): every hedging venue reverted or ran out of depth
  for a hedge that is still due -> paused (cause `venue`); another signer used the keeper's
  account (`TxManager.check_signer`) -> paused (cause `foreign_signer`).

The one automatic way down is hysteresis on the oracle: reduce_only entered for the oracle
alone lifts after `oracle_recovery_checks` consecutive sane checks with no other trigger
active. Nothing leaves paused or flatten but an operator's `resume`.

`step` and `apply_command` are pure (state in, state and transition out). `KillSwitch` is the
thin persistent wrapper: it loads its state from the journal, polls operator commands there
(the CLI's `request_command` queues them, from any process), journals every transition with
its cause and checkpoints its state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from keeper.journal import Journal
from keeper.journal_records import COMMANDS
from keeper.safety_config import KillSwitchLimits

MODES = ("running", "reduce_only", "paused", "flatten")
SEVERITY = {mode: i for i, mode in enumerate(MODES)}


@dataclass(frozen=True)
class Observation:
    """What the keeper saw on one tick. Fields left None were not measured this time.

    Attributes:
        now: seconds.
        equity: mark-to-market value of book and hedges, quote units.
        oracle_ok: whether the oracle guards (staleness, deviation) passed.
        oracle_reason: why not, when they failed.
        net_delta: book delta + hedge, base units.
        errors: names of tasks that raised an error since the last observation (one entry
            per error).
    """

    now: float
    equity: float | None = None
    oracle_ok: bool | None = None
    oracle_reason: str = ""
    net_delta: float | None = None
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class KillState:
    """Everything the switch remembers between observations (persisted as JSON)."""

    mode: str = "running"
    cause: str = ""
    """What put it in this mode: drawdown, oracle, error_rate, hedge_error, venue,
    foreign_signer, operator."""
    reason: str = ""
    since: float = 0.0
    causes: tuple[str, ...] = ()
    """Every automatic cause that held while in this mode (auto-resume needs only 'oracle')."""
    peak_equity: float | None = None
    oracle_ok_streak: int = 0
    breach_since: float | None = None
    error_times: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KillState:
        return cls(
            **{
                **d,
                "causes": tuple(d.get("causes", ())),
                "error_times": tuple((t, float(at)) for t, at in d.get("error_times", ())),
            }
        )


@dataclass(frozen=True)
class Transition:
    from_mode: str
    to_mode: str
    cause: str
    reason: str
    at: float


@dataclass(frozen=True)
class _Trigger:
    mode: str
    cause: str
    reason: str


def step(
    state: KillState, obs: Observation, limits: KillSwitchLimits
) -> tuple[KillState, Transition | None]:
    """Fold one observation into the state; escalate, or lift oracle-only reduce_only."""
    triggers: list[_Trigger] = []

    peak = state.peak_equity
    if obs.equity is not None:
        peak = obs.equity if peak is None else max(peak, obs.equity)
        if peak > 0:
            drawdown = (peak - obs.equity) / peak
            for mode, limit in (
                ("flatten", limits.drawdown_flatten),
                ("reduce_only", limits.drawdown_reduce_only),
            ):
                if drawdown >= limit:
                    triggers.append(
                        _Trigger(
                            mode,
                            "drawdown",
                            f"equity {obs.equity:,.2f} is {drawdown:.1%} below its peak "
                            f"{peak:,.2f} (limit {limit:.1%})",
                        )
                    )
                    break

    horizon = obs.now - limits.error_window_s
    error_times = tuple((t, at) for t, at in state.error_times if at > horizon) + tuple(
        (task, obs.now) for task in obs.errors
    )
    counts: dict[str, int] = {}
    for task, _ in error_times:
        counts[task] = counts.get(task, 0) + 1
    for task, n in sorted(counts.items()):
        if n >= limits.max_errors_per_window:
            triggers.append(
                _Trigger(
                    "paused",
                    "error_rate",
                    f"task {task} failed {n} times in {limits.error_window_s:.0f} s "
                    f"(limit {limits.max_errors_per_window})",
                )
            )

    streak = state.oracle_ok_streak
    if obs.oracle_ok is False:
        streak = 0
        triggers.append(_Trigger("reduce_only", "oracle", obs.oracle_reason or "oracle failed"))
    elif obs.oracle_ok:
        streak += 1

    breach_since = state.breach_since
    if obs.net_delta is not None:
        if abs(obs.net_delta) > limits.hedge_error_limit_base:
            breach_since = obs.now if breach_since is None else breach_since
            if obs.now - breach_since >= limits.hedge_error_grace_s:
                triggers.append(
                    _Trigger(
                        limits.hedge_error_action,
                        "hedge_error",
                        f"|net delta| {abs(obs.net_delta):.4g} beyond "
                        f"{limits.hedge_error_limit_base:.4g} for "
                        f"{obs.now - breach_since:.0f} s",
                    )
                )
        else:
            breach_since = None

    new = replace(
        state,
        peak_equity=peak,
        oracle_ok_streak=streak,
        breach_since=breach_since,
        error_times=error_times,
    )
    worst = max(triggers, key=lambda t: SEVERITY[t.mode], default=None)
    if worst is not None and SEVERITY[worst.mode] > SEVERITY[state.mode]:
        new = replace(
            new,
            mode=worst.mode,
            cause=worst.cause,
            reason=worst.reason,
            since=obs.now,
            causes=tuple(sorted({t.cause for t in triggers})),
        )
        return new, Transition(state.mode, worst.mode, worst.cause, worst.reason, obs.now)
    if state.mode != "running":
        new = replace(new, causes=tuple(sorted(set(state.causes) | {t.cause for t in triggers})))
    if (
        state.mode == "reduce_only"
        and set(new.causes) <= {"oracle"}
        and state.cause == "oracle"
        and not triggers
        and streak >= limits.oracle_recovery_checks
    ):
        reason = f"oracle sane for {streak} consecutive checks"
        new = replace(new, mode="running", cause="oracle_recovered", reason=reason,
                      since=obs.now, causes=())  # fmt: skip
        return new, Transition("reduce_only", "running", "oracle_recovered", reason, obs.now)
    return new, None


def apply_command(
    state: KillState, command: str, now: float, reason: str = ""
) -> tuple[KillState, Transition | None]:
    """An operator's command: pause, resume, flatten or reduce_only (any mode to any).

    `resume` also forgets the equity peak, the error history and any breach timer, so the
    conditions that tripped the switch are measured afresh from the moment of resuming.
    """
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}: use one of {', '.join(COMMANDS)}")
    target = {"pause": "paused", "resume": "running"}.get(command, command)
    why = reason or f"operator {command}"
    if target == state.mode:
        return state, None
    new = replace(state, mode=target, cause="operator", reason=why, since=now, causes=())
    if command == "resume":
        new = replace(new, peak_equity=None, error_times=(), breach_since=None,
                      oracle_ok_streak=0)  # fmt: skip
    return new, Transition(state.mode, target, "operator", why, now)


def escalate(
    state: KillState, mode: str, cause: str, reason: str, now: float
) -> tuple[KillState, Transition | None]:
    """A trigger found outside `step` (e.g. no venue left): like an automatic trigger, it
    only ever raises the mode."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if SEVERITY[mode] <= SEVERITY[state.mode]:
        return replace(state, causes=tuple(sorted({*state.causes, cause}))), None
    new = replace(state, mode=mode, cause=cause, reason=reason, since=now, causes=(cause,))
    return new, Transition(state.mode, mode, cause, reason, now)


def order_allowed(mode: str, position: float, order: float) -> tuple[bool, str]:
    """May a hedge order of `order` base units (signed) go on a hedge position of `position`?

    reduce_only and flatten allow only orders that shrink |position| without crossing zero.
    """
    if mode == "running":
        return True, "running"
    if mode == "paused":
        return False, "paused: nothing is sent"
    after = position + order
    shrinks = abs(after) < abs(position) and after * position >= 0
    if order == 0 or shrinks:
        return True, f"{mode}: order reduces the position"
    return False, f"{mode}: order {order:+.6g} would not reduce the position {position:+.6g}"


class KillSwitch:
    """The kill switch of one running keeper, persisted in the journal."""

    def __init__(
        self, journal: Journal, limits: KillSwitchLimits, clock: Callable[[], float] = time.time
    ):
        self.journal = journal
        self.limits = limits
        self.clock = clock
        saved = journal.latest_kill_state()
        self.state = KillState.from_dict(saved) if saved else KillState(since=clock())
        self.poll_commands()

    @property
    def mode(self) -> str:
        return self.state.mode

    def _record(self, transition: Transition | None) -> None:
        if transition is None:
            return
        self.journal.record_kill_transition(
            transition.from_mode,
            transition.to_mode,
            transition.cause,
            transition.reason,
            self.state.to_dict(),
        )

    def poll_commands(self) -> list[Transition]:
        """Apply the operator commands queued in the journal, oldest first."""
        done = []
        for cmd in self.journal.pending_commands():
            self.state, transition = apply_command(
                self.state, cmd.command, self.clock(), f"{cmd.reason or cmd.command} "
                f"(by {cmd.issued_by})".strip(),
            )  # fmt: skip
            self._record(transition)
            self.journal.finish_command(cmd.id, "applied", f"mode {self.state.mode}")
            if transition:
                done.append(transition)
        return done

    def observe(self, obs: Observation) -> Transition | None:
        """Poll operator commands, then fold `obs` in; journal any transition. Returns the
        automatic transition, if one happened."""
        self.poll_commands()
        self.state, transition = step(self.state, obs, self.limits)
        if transition is not None:
            self._record(transition)
        else:
            self.journal.save_kill_state(self.state.to_dict())
        return transition

    def trip(self, mode: str, cause: str, reason: str) -> Transition | None:
        """Escalate to `mode` for `cause` (never lowers it); journaled like any transition."""
        self.state, transition = escalate(self.state, mode, cause, reason, self.clock())
        if transition is not None:
            self._record(transition)
        else:
            self.journal.save_kill_state(self.state.to_dict())
        return transition

    def allows(self, position: float, order: float) -> tuple[bool, str]:
        """Poll commands, then `order_allowed` in the current mode (call just before sending)."""
        self.poll_commands()
        return order_allowed(self.mode, position, order)


# --------------------------------------------------------------------------- operator side


def request_command(journal_path: str | Path, command: str, reason: str = "") -> str:
    """Queue pause/resume/flatten/reduce_only for the running keeper; returns one line."""
    with Journal(journal_path) as journal:
        cmd = journal.enqueue_command(command, reason)
    return f"queued {cmd.command} (#{cmd.id}); the keeper applies it at its next check"


def status(journal_path: str | Path) -> dict[str, Any]:
    """Mode, cause, recent transitions and pending commands, for `ammlab keeper status`."""
    with Journal(journal_path) as journal:
        saved = journal.latest_kill_state()
        state = KillState.from_dict(saved) if saved else KillState()
        return {
            "mode": state.mode,
            "cause": state.cause,
            "reason": state.reason,
            "since": state.since,
            "pending_commands": [c.command for c in journal.pending_commands()],
            "transitions": [
                {
                    "at": r.at,
                    "from": r.from_mode,
                    "to": r.to_mode,
                    "cause": r.cause,
                    "detail": r.detail,
                }  # fmt: skip
                for r in journal.kill_history()[-10:]
            ],
            "open_intents": len(journal.open_intents()),
        }


def status_line(journal_path: str | Path) -> str:
    """One line for the CLI."""
    s = status(journal_path)
    line = f"mode {s['mode']}"
    if s["cause"]:
        line += f" ({s['cause']}: {s['reason']})"
    if s["pending_commands"]:
        line += f"; pending: {', '.join(s['pending_commands'])}"
    return line + f"; open intents: {s['open_intents']}"

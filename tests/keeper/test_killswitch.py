"""Kill switch: pure transitions, hysteresis, operator commands, persistence in the journal."""

import pytest

from keeper.journal import Journal
from keeper.killswitch import (
    KillState,
    KillSwitch,
    Observation,
    apply_command,
    order_allowed,
    request_command,
    status,
    status_line,
    step,
)
from keeper.safety_config import KillSwitchLimits

LIMITS = KillSwitchLimits(oracle_recovery_checks=3, max_errors_per_window=3, error_window_s=60,
                          hedge_error_limit_base=10, hedge_error_grace_s=30)  # fmt: skip


def run(observations, state=None, limits=LIMITS):
    state = state or KillState()
    transitions = []
    for obs in observations:
        state, t = step(state, obs, limits)
        if t:
            transitions.append((t.from_mode, t.to_mode, t.cause))
    return state, transitions


def test_a_quiet_keeper_keeps_running():
    state, transitions = run([Observation(now=t, equity=100, oracle_ok=True, net_delta=1)
                              for t in range(10)])  # fmt: skip
    assert state.mode == "running" and transitions == []


def test_oracle_failure_reduces_and_k_sane_checks_resume():
    obs = [Observation(0, oracle_ok=False, oracle_reason="stale"),
           Observation(1, oracle_ok=True), Observation(2, oracle_ok=True),
           Observation(3, oracle_ok=False),  # the streak starts over
           Observation(4, oracle_ok=True), Observation(5, oracle_ok=True)]  # fmt: skip
    state, transitions = run(obs)
    assert state.mode == "reduce_only" and state.oracle_ok_streak == 2
    assert transitions == [("running", "reduce_only", "oracle")]
    state, transitions = run([Observation(6, oracle_ok=True)], state)
    assert state.mode == "running"
    assert transitions == [("reduce_only", "running", "oracle_recovered")]


def test_drawdown_is_graduated_and_never_lifts_by_itself():
    state, transitions = run([Observation(0, equity=100), Observation(1, equity=94.9)])
    assert transitions == [("running", "reduce_only", "drawdown")]
    state, transitions = run([Observation(t, equity=100, oracle_ok=True) for t in range(2, 9)],
                             state)  # fmt: skip
    assert state.mode == "reduce_only" and transitions == []
    state, transitions = run([Observation(9, equity=84)], state)
    assert transitions == [("reduce_only", "flatten", "drawdown")]
    assert "below its peak" in state.reason


def test_oracle_reduce_only_does_not_lift_while_another_cause_held():
    obs = [Observation(0, equity=100, oracle_ok=False), Observation(1, equity=94, oracle_ok=True),
           *(Observation(t, equity=100, oracle_ok=True) for t in range(2, 8))]  # fmt: skip
    state, _ = run(obs)
    assert state.mode == "reduce_only" and set(state.causes) == {"oracle", "drawdown"}


def test_error_rate_per_task_over_the_window_pauses():
    spread = [Observation(t * 40, errors=("hedge",)) for t in range(5)]  # 2 per 60 s at most
    assert run(spread)[0].mode == "running"
    mixed = [Observation(t, errors=("hedge", "oracle")) for t in range(2)]
    assert run(mixed)[0].mode == "running"  # 2 each: per task, under 3
    state, transitions = run([Observation(0, errors=("hedge", "hedge")),
                              Observation(5, errors=("hedge",))])  # fmt: skip
    assert transitions == [("running", "paused", "error_rate")]
    assert "task hedge failed 3 times" in state.reason


def test_hedge_error_breach_needs_to_last_the_grace_period():
    brief = [Observation(0, net_delta=20), Observation(29, net_delta=-20),
             Observation(30, net_delta=5), Observation(70, net_delta=20)]  # fmt: skip
    assert run(brief)[0].mode == "running"
    state, transitions = run([Observation(0, net_delta=20), Observation(30, net_delta=-11)])
    assert transitions == [("running", "paused", "hedge_error")]
    flat = KillSwitchLimits(hedge_error_limit_base=10, hedge_error_grace_s=0,
                            hedge_error_action="flatten")  # fmt: skip
    assert run([Observation(0, net_delta=11)], limits=flat)[0].mode == "flatten"


@pytest.mark.parametrize("mode", ["paused", "flatten"])
def test_paused_and_flatten_never_resume_automatically(mode):
    state = KillState(mode=mode, cause="operator")
    state, transitions = run([Observation(t, equity=100, oracle_ok=True) for t in range(10)],
                             state)  # fmt: skip
    assert state.mode == mode and transitions == []


def test_triggers_only_escalate():
    state = KillState(mode="paused", cause="error_rate")
    state, transitions = run([Observation(0, oracle_ok=False)], state)
    assert state.mode == "paused" and transitions == []


def test_operator_commands_and_resume_starts_afresh():
    state, _ = run([Observation(0, equity=100), Observation(1, equity=80)])
    assert state.mode == "flatten"
    state, t = apply_command(state, "resume", 2, "looked at it")
    assert (t.from_mode, t.to_mode, t.cause, t.reason) == ("flatten", "running", "operator",
                                                          "looked at it")  # fmt: skip
    assert state.peak_equity is None
    state, _ = run([Observation(3, equity=80)], state)  # the new peak is 80: no trip
    assert state.mode == "running"
    assert apply_command(state, "resume", 4)[1] is None  # already running: no transition
    for command, mode in [("pause", "paused"), ("flatten", "flatten"),
                          ("reduce_only", "reduce_only")]:  # fmt: skip
        assert apply_command(state, command, 5)[0].mode == mode
    with pytest.raises(ValueError, match="unknown command"):
        apply_command(state, "panic", 6)


@pytest.mark.parametrize(
    "mode, position, order, allowed",
    [
        ("running", 5, 3, True),
        ("paused", 5, -1, False),
        ("reduce_only", 5, -2, True),
        ("reduce_only", 5, 1, False),
        ("reduce_only", 5, -6, False),
        ("reduce_only", -5, 5, True),
        ("reduce_only", 0, 1, False),
        ("flatten", 5, -5, True),
        ("flatten", 5, 0, True),
    ],  # fmt: skip
    ids=lambda v: str(v),
)
def test_which_orders_each_mode_allows(mode, position, order, allowed):
    assert order_allowed(mode, position, order)[0] is allowed


def test_the_switch_persists_and_takes_commands_from_another_process(tmp_path):
    path = tmp_path / "journal.sqlite"
    clock = iter(range(1000, 2000))
    with Journal(path) as journal:
        switch = KillSwitch(journal, LIMITS, clock=lambda: next(clock))
        switch.observe(Observation(0, oracle_ok=False, oracle_reason="answer 4000 s old"))
        assert switch.mode == "reduce_only"
        print(request_command(path, "pause", "maintenance"))  # the CLI, from anywhere
        assert "pending: pause" in status_line(path)
        assert switch.allows(position=5, order=-1) == (False, "paused: nothing is sent")
        history = [(r.from_mode, r.to_mode, r.cause) for r in journal.kill_history()]
        assert history == [("running", "reduce_only", "oracle"), ("reduce_only", "paused",
                                                                   "operator")]  # fmt: skip
        assert "maintenance" in journal.kill_history()[-1].detail
    with Journal(path) as journal:  # a restarted keeper comes back paused
        again = KillSwitch(journal, LIMITS)
        assert again.mode == "paused"
        request_command(path, "resume")
        again.observe(Observation(10, oracle_ok=True))
        assert again.mode == "running"
    summary = status(path)
    assert summary["mode"] == "running" and summary["pending_commands"] == []
    assert [t["to"] for t in summary["transitions"]] == ["reduce_only", "paused", "running"]

"""The keeper's Prometheus endpoint and liveness probe, scraped over HTTP."""

import json
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from keeper.metrics import KeeperMetrics


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def served():
    now = [1000.0]
    pending = [3]
    m = KeeperMetrics(pending_intents=lambda: pending[0], stale_after_s=60, clock=lambda: now[0])
    port = m.serve(port=0)
    yield m, f"http://127.0.0.1:{port}", now, pending
    m.close()


def test_metrics_reflect_the_ticks_and_are_read_at_scrape_time(served):
    m, url, now, pending = served
    m.tick(block=7, spot=3000.0, greeks={"delta": -12.5, "gamma": 0.02, "vega": 150.0,
           "theta": -30.0}, net_delta=0.4, hedge=12.1, mode="reduce_only", cause="oracle",
           legs=[("venue_a", "mined", 2_000.0), ("perp", "refused", 500.0)])  # fmt: skip
    m.guard_trip("oracle_stale")
    m.error("read")
    m.rpc_call(0.02)
    m.rpc_call(1.5, error="timeout")
    now[0] += 9.0
    pending[0] = 5
    code, text = _get(url + "/metrics")
    assert code == 200
    s = _samples(text)
    p = "ammlab_keeper_"
    assert s[(p + "book", (("greek", "delta"),))] == -12.5
    assert s[(p + "net_delta", ())] == 0.4 and s[(p + "block", ())] == 7
    assert s[(p + "killswitch_mode", (("mode", "reduce_only"),))] == 1.0
    assert s[(p + "killswitch_mode", (("mode", "running"),))] == 0.0
    assert s[(p + "killswitch_cause_info", (("cause", "oracle"),))] == 1.0
    assert s[(p + "hedge_legs_total", (("status", "mined"), ("venue", "venue_a")))] == 1
    assert s[(p + "hedge_notional_quote_total", (("venue", "venue_a"),))] == 2_000.0
    assert (p + "hedge_notional_quote_total", (("venue", "perp"),)) not in s
    assert s[(p + "guard_trips_total", (("guard", "oracle_stale"),))] == 1
    assert s[(p + "task_errors_total", (("task", "read"),))] == 1
    assert s[(p + "rpc_errors_total", (("kind", "timeout"),))] == 1
    assert s[(p + "rpc_seconds_count", ())] == 2
    assert s[(p + "pending_intents", ())] == 5  # the journal's count now, not at the tick
    assert s[(p + "last_tick_age_seconds", ())] == 9.0


def test_a_new_cause_replaces_the_old_one(served):
    m, url, _, _ = served
    kw = dict(block=1, spot=1.0, greeks={}, net_delta=0.0, hedge=0.0, mode="paused")
    m.tick(cause="venue", **kw)
    m.tick(cause=None, **kw)
    s = _samples(_get(url + "/metrics")[1])
    assert not any(k[0] == "ammlab_keeper_killswitch_cause_info" for k in s)


def test_healthz_is_ok_while_ticks_are_fresh_and_503_when_stale(served):
    m, url, now, _ = served
    code, body = _get(url + "/healthz")
    assert code == 200 and json.loads(body)["ok"] is True  # just started
    now[0] += 61.0
    code, body = _get(url + "/healthz")
    assert code == 503 and json.loads(body) == {"ok": False, "last_tick_age_s": 61.0,
                                                "stale_after_s": 60}  # fmt: skip
    m.tick(block=2, spot=1.0, greeks={}, net_delta=0.0, hedge=0.0, mode="running", cause=None)
    assert _get(url + "/healthz")[0] == 200
    assert _get(url + "/nope")[0] == 404


def test_the_sample_dashboard_queries_only_metrics_the_keeper_exports():
    import re
    from pathlib import Path

    from prometheus_client import generate_latest

    root = Path(__file__).resolve().parents[2]
    dash = json.loads((root / "keeper" / "grafana-dashboard.json").read_text())
    m = KeeperMetrics()
    m.tick(block=1, spot=1.0, greeks={"delta": 0.0}, net_delta=0.0, hedge=0.0, mode="running",
           cause="x", legs=[("v", "mined", 1.0)])  # fmt: skip
    m.guard_trip("g")
    m.error("t")
    m.rpc_call(0.1, error="e")
    exported = {
        s.name for fam in text_string_to_metric_families(generate_latest(m.registry).decode())
        for s in fam.samples
    }  # fmt: skip
    used = {
        name
        for panel in dash["panels"]
        for target in panel["targets"]
        for name in re.findall(r"ammlab_keeper_[a-z_]+", target["expr"])
    }
    assert used and used <= exported, used - exported

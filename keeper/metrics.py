"""The running keeper's Prometheus endpoint (prometheus_client) and its liveness probe.

`KeeperMetrics` holds the keeper's gauges and counters in a registry of its own and serves
`GET /metrics` (Prometheus text format) and `GET /healthz` (200 while the last tick is younger
than `stale_after_s`, else 503, with a one-line JSON body either way) on one HTTP port, in a
daemon thread. The runtime calls `tick(...)` once per tick, `guard_trip(...)`,
`rpc_call(...)` and `error(...)` as they happen; the pending intents in the journal are
counted at scrape time (`pending_intents` callable), so the figure is the journal's, not a
copy that can drift.

Metric names follow Prometheus' conventions (`ammlab_keeper_` prefix, base units: base-token
units for deltas, quote units for notional, seconds). `keeper/grafana-dashboard.json` is a
sample dashboard over them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from keeper.killswitch import MODES

PREFIX = "ammlab_keeper_"


class KeeperMetrics:
    """The keeper's metrics and the HTTP server that exposes them.

    Args:
        pending_intents: returns the journal's open (not final) intents, read at scrape time.
        stale_after_s: `/healthz` answers 503 once the last tick is older than this.
        clock: wall clock (seconds), injectable for tests.
    """

    def __init__(
        self,
        pending_intents: Callable[[], int] | None = None,
        stale_after_s: float = 120.0,
        clock: Callable[[], float] = time.time,
    ):
        self.registry = CollectorRegistry()
        self.stale_after_s = stale_after_s
        self.clock = clock
        self.started_at = clock()
        self.last_tick_at: float | None = None
        r = self.registry

        def gauge(name: str, doc: str, labels: Iterable[str] = ()) -> Gauge:
            return Gauge(PREFIX + name, doc, list(labels), registry=r)

        def counter(name: str, doc: str, labels: Iterable[str] = ()) -> Counter:
            return Counter(PREFIX + name, doc, list(labels), registry=r)

        self.book = gauge("book", "The book's Greeks (delta, gamma, vega, theta).", ["greek"])
        self.net_delta = gauge("net_delta", "Net delta after the hedges, base units.")
        self.hedge = gauge("hedge_position", "The hedge position the keeper holds, base units.")
        self.spot = gauge("spot", "Spot the keeper reads (the oracle), quote per base.")
        self.block = gauge("block", "Block of the last tick.")
        self.ticks = counter("ticks", "Ticks completed.")
        self.hedges = counter("hedge_legs", "Hedge legs by venue and final status.",
                              ["venue", "status"])  # fmt: skip
        self.notional = counter("hedge_notional_quote", "Notional of mined hedge legs, quote.",
                                ["venue"])  # fmt: skip
        self.mode = gauge("killswitch_mode", "1 for the kill switch's current mode.", ["mode"])
        self.cause = gauge("killswitch_cause_info", "The kill switch's cause (value 1).",
                           ["cause"])  # fmt: skip
        self.guard_trips = counter("guard_trips", "Guard refusals by guard.", ["guard"])
        self.errors = counter("task_errors", "Task errors by task (not node outages).", ["task"])
        self.rpc_errors = counter("rpc_errors", "JSON-RPC calls that failed, by kind.", ["kind"])
        self.rpc_latency = Histogram(
            PREFIX + "rpc_seconds", "JSON-RPC request latency (a batch counts once).",
            registry=r, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )  # fmt: skip
        self._pending = pending_intents
        pending = gauge("pending_intents", "Intents in the journal that are not final.")
        pending.set_function(lambda: float(self._pending()) if self._pending else 0.0)
        age = gauge("last_tick_age_seconds", "Seconds since the last completed tick.")
        age.set_function(self.last_tick_age)
        self._cause: str | None = None
        for m in MODES:
            self.mode.labels(mode=m).set(0.0)
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ observations

    def tick(
        self,
        *,
        block: int,
        spot: float,
        greeks: dict[str, float],
        net_delta: float,
        hedge: float,
        mode: str,
        cause: str | None,
        legs: Iterable[tuple[str, str, float]] = (),
    ) -> None:
        """One completed tick: the book, the kill switch, and each leg as (venue, status,
        notional in quote)."""
        for greek, value in greeks.items():
            self.book.labels(greek=greek).set(value)
        self.net_delta.set(net_delta)
        self.hedge.set(hedge)
        self.spot.set(spot)
        self.block.set(block)
        for m in MODES:
            self.mode.labels(mode=m).set(1.0 if m == mode else 0.0)
        if cause != self._cause:
            if self._cause is not None:
                self.cause.remove(self._cause)
            if cause is not None:
                self.cause.labels(cause=cause).set(1.0)
            self._cause = cause
        for venue, status, notional in legs:
            self.hedges.labels(venue=venue, status=status).inc()
            if status == "mined":
                self.notional.labels(venue=venue).inc(abs(notional))
        self.ticks.inc()
        self.last_tick_at = self.clock()

    def guard_trip(self, guard: str) -> None:
        self.guard_trips.labels(guard=guard).inc()

    def error(self, task: str) -> None:
        self.errors.labels(task=task).inc()

    def rpc_call(self, seconds: float, error: str | None = None) -> None:
        """One JSON-RPC request (or batch): its latency, and its failure kind if it failed."""
        self.rpc_latency.observe(seconds)
        if error is not None:
            self.rpc_errors.labels(kind=error).inc()

    def last_tick_age(self) -> float:
        since = self.last_tick_at if self.last_tick_at is not None else self.started_at
        return max(0.0, self.clock() - since)

    def health(self) -> tuple[bool, dict[str, Any]]:
        age = self.last_tick_age()
        ok = age <= self.stale_after_s
        return ok, {"ok": ok, "last_tick_age_s": round(age, 3), "stale_after_s": self.stale_after_s}

    # ------------------------------------------------------------------ serving

    def serve(self, host: str = "127.0.0.1", port: int = 9464) -> int:
        """Serve /metrics and /healthz on (host, port) in a daemon thread; returns the port
        (port 0 picks a free one)."""
        metrics = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                path = self.path.split("?")[0]
                if path == "/metrics":
                    body, ctype, code = generate_latest(metrics.registry), CONTENT_TYPE_LATEST, 200
                elif path == "/healthz":
                    ok, doc = metrics.health()
                    body, ctype = json.dumps(doc).encode(), "application/json"
                    code = 200 if ok else 503
                else:
                    body, ctype, code = b"not found: /metrics or /healthz\n", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # scrapes are not the keeper's events
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self._server.server_address[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

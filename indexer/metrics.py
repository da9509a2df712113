"""Prometheus metrics and the /healthz and /readyz endpoints (the only module using
prometheus-client). The sync loop and the RPC client report through a `Metrics` object; without
`--metrics-port` they get `NullMetrics`, which does nothing."""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger(__name__)


class NullMetrics:
    """The interface, doing nothing: what the sync uses when metrics are off."""

    def batch(self, tokens, blocks: int, events_by_token: dict[str, int], seconds: float,
              indexed_block: int) -> None: ...
    def head(self, head: int, finalized: int | None) -> None: ...
    def rpc_request(self, method: str, error_class: str | None) -> None: ...
    def rpc_calls(self, methods, billed, refused) -> None: ...
    def rpc_budget(self, per_second: float | None) -> None: ...
    def rpc_quota(self, until: float | None) -> None: ...
    def range_split(self) -> None: ...
    def retry(self) -> None: ...
    def reorg(self, depth: int) -> None: ...
    def audit(self, result: str) -> None: ...
    def cross_check(self, result: str) -> None: ...
    def incomplete_answer(self, result: str) -> None: ...
    def database_ok(self, ok: bool) -> None: ...
    def set_indexed(self, token: str, block: int) -> None: ...
    def set_derived(self, token: str, block: int) -> None: ...


class Metrics(NullMetrics):
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        p = "gold_indexer_"
        self.blocks = Counter(p + "blocks_indexed", "Blocks scanned and committed", ["token"], registry=r)
        self.events = Counter(p + "events_indexed", "Logs stored", ["token"], registry=r)
        self.indexed_block = Gauge(p + "indexed_block", "Last committed block (checkpoint)", ["token"], registry=r)
        self.derived_block = Gauge(p + "derived_block", "Last block the derived tables (the views) include",
                                   ["token"], registry=r)
        self.head_block = Gauge(p + "head_block", "Chain head at the last poll", registry=r)
        self.finalized_block = Gauge(p + "finalized_block", "Node's finalized block at the last poll", registry=r)
        self.lag = Gauge(p + "lag_blocks", "Head minus the checkpoint", ["token"], registry=r)
        self.batch_seconds = Histogram(p + "batch_duration_seconds", "Time from one committed batch to the next",
                                       buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=r)
        self.rpc_requests = Counter(p + "rpc_requests", "JSON-RPC HTTP requests", ["method"], registry=r)
        self.rpc_errors = Counter(p + "rpc_errors", "JSON-RPC requests that failed", ["method", "error_class"], registry=r)
        self.rpc_calls_total = Counter(p + "rpc_calls", "JSON-RPC calls (batch items)", ["method"], registry=r)
        self.rpc_credits = Counter(p + "rpc_credits", "Credits the provider billed, in the pricing's unit "
                                   "(rpc.pricing; calls without one)", ["method"], registry=r)
        self.rpc_refusals = Counter(p + "rpc_refusals", "JSON-RPC calls refused, by kind "
                                    "(rate, range, batch, quota, other)", ["kind"], registry=r)
        self.rpc_budget_rate = Gauge(p + "rpc_budget_per_second", "The paced budget per second "
                                     "after the last rate refusal (0: no limit)", registry=r)
        self.quota_paused = Gauge(p + "rpc_quota_paused", "1 while the sync waits for the provider's "
                                  "quota to reset", registry=r)
        self.quota_resume = Gauge(p + "rpc_quota_resume_timestamp_seconds", "When a quota pause ends "
                                  "(Unix time; 0 when none)", registry=r)
        self.splits = Counter(p + "range_splits", "eth_getLogs ranges split on a provider limit", registry=r)
        self.retries = Counter(p + "rpc_retries", "RPC attempts retried after a fault", registry=r)
        self.reorgs = Counter(p + "reorgs", "Chain reorganisations rolled back", registry=r)
        self.reorg_depth = Histogram(p + "reorg_depth_blocks", "Depth of rolled-back reorgs",
                                     buckets=(1, 2, 3, 5, 8, 13, 21, 34, 64, 128), registry=r)
        self.audits = Counter(p + "audits", "Audits of committed batches against totalSupply() and "
                              "balanceOf(), by result (ok, mismatch)", ["result"], registry=r)
        self.cross_checks = Counter(p + "cross_checks", "eth_getLogs ranges asked of two endpoints, "
                                    "by result (agree, settled)", ["result"], registry=r)
        self.incomplete = Counter(p + "incomplete_answers", "eth_getLogs answers lacking logs of "
                                  "the transactions they hold, by what followed (asked_again, "
                                  "kept)", ["result"], registry=r)
        self.db_up = Gauge(p + "database_up", "1 if the last database operation succeeded", registry=r)
        self._indexed: dict[str, int] = {}
        self._head: int | None = None
        self._head_at: float | None = None  # time.monotonic() of the last head poll
        self.db_ok = False
        self._lock = threading.Lock()

    def batch(self, tokens, blocks, events_by_token, seconds, indexed_block):
        self.batch_seconds.observe(seconds)
        with self._lock:
            for t in tokens:
                self.blocks.labels(t).inc(blocks)
                self.events.labels(t).inc(events_by_token.get(t, 0))
                self.indexed_block.labels(t).set(indexed_block)
                self._indexed[t] = indexed_block
            self._update_lag()
        self.database_ok(True)

    def head(self, head, finalized):
        with self._lock:
            self._head, self._head_at = head, time.monotonic()
            self.head_block.set(head)
            if finalized is not None:
                self.finalized_block.set(finalized)
            self._update_lag()

    def _update_lag(self) -> None:
        if self._head is not None:
            for t, n in self._indexed.items():
                self.lag.labels(t).set(max(0, self._head - n))

    def rpc_request(self, method, error_class):
        self.rpc_requests.labels(method).inc()
        if error_class:
            self.rpc_errors.labels(method, error_class).inc()

    def rpc_calls(self, methods, billed, refused):
        for method, credits, kind in zip(methods, billed, refused):
            self.rpc_calls_total.labels(method).inc()
            if credits:
                self.rpc_credits.labels(method).inc(credits)
            if kind is not None:
                self.rpc_refusals.labels(kind).inc()

    def rpc_budget(self, per_second):
        self.rpc_budget_rate.set(per_second or 0)

    def rpc_quota(self, until):
        self.quota_paused.set(0 if until is None else 1)
        self.quota_resume.set(until or 0)

    def range_split(self):
        self.splits.inc()

    def retry(self):
        self.retries.inc()

    def reorg(self, depth):
        self.reorgs.inc()
        self.reorg_depth.observe(depth)

    def audit(self, result):
        self.audits.labels(result).inc()

    def cross_check(self, result):
        self.cross_checks.labels(result).inc()

    def incomplete_answer(self, result):
        self.incomplete.labels(result).inc()

    def database_ok(self, ok):
        self.db_ok = ok
        self.db_up.set(1 if ok else 0)

    def head_age(self) -> float | None:
        """Seconds since the sync's last head poll (None: none yet)."""
        with self._lock:
            return None if self._head_at is None else time.monotonic() - self._head_at

    def max_lag(self) -> int | None:
        with self._lock:
            if self._head is None or not self._indexed:
                return None
            return max(self._head - n for n in self._indexed.values())

    def set_indexed(self, token: str, block: int) -> None:
        with self._lock:
            self._indexed[token] = block
            self.indexed_block.labels(token).set(block)
            self._update_lag()

    def set_derived(self, token: str, block: int) -> None:
        self.derived_block.labels(token).set(block)


def serve(metrics: Metrics, host: str, port: int, ready: Callable[[], tuple[bool, str]]) -> ThreadingHTTPServer:
    """/metrics (Prometheus text format), /healthz (the process answers), /readyz (ready())."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/metrics":
                self._send(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                self._send(200, b"ok\n", "text/plain")
            elif self.path == "/readyz":
                ok, why = ready()
                self._send(200 if ok else 503, (why + "\n").encode(), "text/plain")
            else:
                self._send(404, b"not found: /metrics, /healthz, /readyz\n", "text/plain")

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # scrapes every few seconds: keep them out of the log
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics on http://%s:%d/metrics (/healthz, /readyz)", host, server.server_address[1])
    return server


def head_poll_max_age(poll_interval: float) -> float:
    """How old the sync's last head poll may be before /readyz says not ready: five missed
    polls and some slack for a short catch-up (70 s at mainnet's 12 s)."""
    return 5 * poll_interval + 10


class Readiness:
    """Within `max_lag` blocks of the head as of the sync's own last head poll, that poll at
    most `max_age` seconds old, and the database answered.

    The head comes from the sync's polls (through its endpoints and their failover), never from
    a request of its own: a probe every few seconds would be billed by the provider, and would
    fail with the primary URL while the sync runs on a fallback."""

    def __init__(self, metrics: Metrics, max_lag: int, max_age: float):
        self.metrics, self.max_lag, self.max_age = metrics, max_lag, max_age

    def __call__(self) -> tuple[bool, str]:
        if not self.metrics.db_ok:
            return False, "not ready: database unreachable"
        lag = self.metrics.max_lag()
        if lag is None:
            return False, "not ready: nothing indexed yet"
        if lag > self.max_lag:
            return False, f"not ready: {lag} blocks behind (threshold {self.max_lag})"
        age = self.metrics.head_age()
        if age > self.max_age:  # not None: a lag needs a head
            return False, (f"not ready: the last head poll was {age:.0f}s ago "
                           f"(limit {self.max_age:.0f}s)")
        return True, f"ready: {lag} blocks behind"

"""An endpoint: one RPC URL with its pacer and what was sent to it, shared by every client
(thread) that uses it; and what a failed call counts as.

The pacer (pacing.py) decides when a request may go; `Usage` counts what went: HTTP requests
and calls by method, the credits the provider billed, and the calls refused by kind.
"""

from __future__ import annotations

import collections
import threading
import time
from datetime import datetime
from typing import Callable, Sequence
from urllib.parse import urlsplit

from indexer.rpc.limits import BatchTooLarge, QuotaExhausted, RangeTooLarge, RateLimited
from indexer.rpc.pacing import PRESETS, Pacer, Pricing, make_pricing
from indexer.rpc.redact import redact_url, register_secret_url


class Endpoint:
    """One RPC URL with its pacer (budget, batch cap, quota pause) and usage, shared by every
    client that uses it."""

    def __init__(self, url: str, max_requests_per_second: float = 0.0, *,
                 pricing: Pricing | None = None, max_credits_per_second: float = 0.0,
                 quota_retry_minutes: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time):
        register_secret_url(url)
        self.url = url
        self.safe_url = redact_url(url)
        pricing = pricing or PRESETS["none"]
        try:
            infura = (urlsplit(url).hostname or "").endswith("infura.io")
        except ValueError:
            infura = False
        self.pacer = Pacer(pricing, max_credits_per_second or pricing.budget,
                           max_requests_per_second, quota_retry_seconds=quota_retry_minutes * 60,
                           daily_reset_utc=infura, clock=clock, wall=wall)
        self.usage = Usage(wall())
        self.chain_checked = False  # set once eth_chainId answered with the expected id

    @property
    def pricing(self) -> Pricing:
        return self.pacer.pricing

    def add_pause_listener(self, listener: Callable[[str, datetime | None, str | None], None]
                           ) -> None:
        """`listener(safe_url, until, reason)` on each quota pause (until: UTC datetime) and at
        its end (until None). Called in the thread that met the quota answer."""
        self.pacer.listeners.append(lambda until, reason: listener(self.safe_url, until, reason))

    def wait_turn(self) -> None:
        """Sleep until this endpoint may take another request (no-op without a limit)."""
        self.pacer.acquire(0.0, time.sleep)


def make_endpoints(urls: Sequence[str], max_requests_per_second: float = 0.0, *,
                   config=None) -> list[Endpoint]:
    """Endpoints for `urls`; with `config` (an RpcConfig) its pricing, budgets and quota retry."""
    if config is None:
        return [Endpoint(u, max_requests_per_second) for u in urls]
    pricing = make_pricing(config.pricing, dict(config.method_costs))
    return [Endpoint(u, config.max_requests_per_second, pricing=pricing,
                     max_credits_per_second=config.max_credits_per_second,
                     quota_retry_minutes=config.quota_retry_minutes) for u in urls]


def refusal_kind(exc: BaseException | None) -> str | None:
    """Why a call failed, as Usage counts it: rate, range, batch, quota or other."""
    if exc is None:
        return None
    if isinstance(exc, RateLimited):
        return "rate"
    if isinstance(exc, RangeTooLarge):
        return "range"
    if isinstance(exc, BatchTooLarge):
        return "batch"
    if isinstance(exc, QuotaExhausted):
        return "quota"
    return "other"


class Usage:
    """What was sent to one endpoint (thread-safe): HTTP requests by method (a batch counts
    under its first call's method), calls by method, calls refused by kind, and credits (in the
    pricing's unit) of the calls the provider billed: every answered call except those refused
    for rate, quota or batch size."""

    KINDS = ("rate", "range", "batch", "quota", "other")

    def __init__(self, since: float | None = None) -> None:
        self.since = time.time() if since is None else since  # wall clock
        self.requests: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()
        self.credits: collections.Counter[str] = collections.Counter()
        self.refused: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def add(self, methods: Sequence[str], billed: Sequence[float], refused: Sequence[str | None]
            ) -> None:
        """One request: its calls' methods, what each was billed, and why each was refused."""
        with self._lock:
            self.requests[methods[0]] += 1
            for method, credits, kind in zip(methods, billed, refused):
                self.calls[method] += 1
                if credits:
                    self.credits[method] += credits
                if kind is not None:
                    self.refused[kind] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {"requests": dict(self.requests), "calls": dict(self.calls),
                    "credits": dict(self.credits), "refused": dict(self.refused)}


def merge_usage(snapshots: Sequence[dict]) -> dict:
    """The sum of several Usage snapshots (the endpoints of one client)."""
    out: dict[str, collections.Counter] = {k: collections.Counter()
                                           for k in ("requests", "calls", "credits", "refused")}
    for snap in snapshots:
        for key, counter in out.items():
            counter.update(snap.get(key, {}))
    return {k: dict(v) for k, v in out.items()}

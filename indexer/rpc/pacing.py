"""Pacing: what an endpoint may be sent, shared by every client thread that uses it.

Hosted providers bill each call in credits (Infura), compute units (Alchemy) or requests
(QuickNode), refuse calls beyond a per-second budget (HTTP 429) and stop answering once a daily
quota is used up (HTTP 402). An `Endpoint`'s `Pacer` keeps the client inside them:

- a token bucket of the budget (credits per second; a JSON-RPC batch costs the sum of its
  calls). A reservation larger than the bucket waits for a full bucket and leaves it in debt,
  so a big request is slowed down, never refused forever;
- AIMD on that budget: a rate refusal cuts the paced rate (at most once per round of requests
  sent before the last cut), and it grows back linearly; Retry-After and Infura's
  `backoff_seconds` hold every thread until then. Without a configured budget the first
  refusal sets one from the rate just spent;
- batch sizes: a batch should cost about one second of the budget, and no more calls than the
  endpoint's batch cap, learned from its refusals;
- a quota pause: after a daily-quota answer nothing is sent until the quota resets (00:00 UTC
  on Infura, else a retry every `quota_retry_minutes`).

The clocks are injected so that the arithmetic is tested without sleeping (tests/unit/test_pacing.py).
"""

from __future__ import annotations

import collections
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping, Sequence

# The client aims this far below the configured budget: answers travel 50-200 ms with jitter,
# so requests sent at exactly the provider's rate reach it bunched and some are refused.
HEADROOM = 0.9
# The bucket holds this many seconds of budget: a second of idle buys one second of burst.
BURST_SECONDS = 1.0
# A batch costs at most about this many seconds of the budget (Infura free: 6 headers, not 250).
BATCH_SECONDS = 1.0
# AIMD: a rate refusal multiplies the paced rate by DECREASE (TCP CUBIC's 0.7); it then grows
# back by INCREASE_PER_SECOND of the budget each second (from 0.7 to 1.0 in 6 s), never below
# FLOOR of the budget.
DECREASE = 0.7
INCREASE_PER_SECOND = 0.05
FLOOR = 0.05
# Without a configured budget the first refusal sets one: DECREASE times what was spent over
# LEARN_WINDOW_SECONDS (at least LEARNED_MIN_RATE units per second). After each cut it grows
# back by INCREASE_PER_SECOND of the rate it was cut from until LEARNED_PLATEAU of that rate,
# then probes above it by LEARNED_PROBE_PER_SECOND of it each second, without a ceiling (the
# limit may have been met in a burst). It is cut at most every LEARNED_CUT_SECONDS: refusals
# that come whatever the rate (a provider's hiccups) must not drive it to the floor.
LEARN_WINDOW_SECONDS = 2.0
LEARNED_MIN_RATE = 1.0
LEARNED_PLATEAU = 0.95
LEARNED_PROBE_PER_SECOND = 0.02
LEARNED_CUT_SECONDS = 5.0
# Infura's daily quota resets at 00:00 UTC; the first try after it waits this much longer, for
# clocks that disagree by a few seconds.
QUOTA_RESET_MARGIN_SECONDS = 30.0
# A quota pause is waited out in slices this long, re-reading the wall clock (a suspended laptop).
PAUSE_SLICE_SECONDS = 30.0


class RpcStopped(Exception):
    """A wait on the RPC (back-off, pacing, quota pause) ended because the client's stop event
    was set. Not an IndexerError: the sync treats it as the clean stop it asked for."""


@dataclass(frozen=True, slots=True)
class Pricing:
    """A provider's price list: what each call costs in `unit`, and the budget per second and
    quota reset of its free or entry plan."""

    name: str
    unit: str
    costs: Mapping[str, float] = field(default_factory=dict)
    default_cost: float = 1.0
    budget: float = 0.0  # units per second; 0 = no limit
    daily_reset_utc: bool = False  # the quota resets at 00:00 UTC (else: retry every N minutes)

    def cost(self, method: str) -> float:
        return self.costs.get(method, self.default_cost)


# FACTS.md, "Provider costs and limits" (2025-2026 public price lists). Methods not listed cost
# the default: Infura bills its other methods 80; for Alchemy the highest listed price of a
# non-log call (26, eth_call) stands in, since over-counting only slows the client a little.
PRESETS: dict[str, Pricing] = {p.name: p for p in (
    Pricing("none", "calls"),
    # Free tier: 500 credits/s, 3M credits/day, resetting at 00:00 UTC.
    Pricing("infura", "credits", {"eth_getLogs": 255, "eth_getBlockByNumber": 80, "eth_call": 80,
                                  "eth_blockNumber": 80}, default_cost=80, budget=500,
            daily_reset_utc=True),
    # Free tier: 30M CU/month at 500 CU/s (pay-as-you-go: set max_credits_per_second = 10000).
    Pricing("alchemy", "CU", {"eth_getLogs": 60, "eth_getBlockByNumber": 20, "eth_call": 26,
                              "eth_blockNumber": 10}, default_cost=26, budget=500),
    # One request per call (a batch of N counts N); plans differ, e.g. 50 requests/s.
    Pricing("quicknode", "requests", default_cost=1, budget=50),
)}


def make_pricing(name: str | None, method_costs: Mapping[str, float] | None = None) -> Pricing:
    """The preset `name` ("none" or None: every call costs 1), with `method_costs` replacing
    some of its prices (the key "default" sets the price of the methods not listed)."""
    base = PRESETS[name or "none"]
    if not method_costs:
        return base
    costs = dict(base.costs)
    default = base.default_cost
    for method, cost in method_costs.items():
        if method == "default":
            default = float(cost)
        else:
            costs[method] = float(cost)
    return Pricing(base.name, base.unit, costs, default, base.budget, base.daily_reset_utc)


class TokenBucket:
    """`rate` units per second, holding at most `capacity`.

    `reserve` books a cost and returns how long to wait before sending it. A cost larger than
    the capacity waits for a full bucket and leaves it in debt (paced, never refused forever);
    later reservations queue behind the debt. `hold` stops the refill until a time: nothing
    may start before it, and the bucket starts from empty then."""

    def __init__(self, rate: float, capacity: float, now: float):
        self.rate = rate
        self.capacity = capacity
        self.level = capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def set_rate(self, rate: float, capacity: float, now: float) -> None:
        self._refill(now)
        self.rate, self.capacity = rate, capacity
        self.level = min(self.level, capacity)

    def reserve(self, cost: float, now: float) -> float:
        self._refill(now)
        start = max(now, self.updated)  # after a hold, `updated` lies in the future
        need = min(cost, self.capacity)
        wait = (start - now) + max(0.0, need - self.level) / self.rate
        self.level -= cost
        return wait

    def hold(self, until: float, now: float) -> None:
        self._refill(now)
        if until > self.updated:
            self.level = min(self.level, 0.0)
            self.updated = until


class Aimd:
    """The paced rate: `ceiling` units per second until a refusal, then cut by DECREASE and
    grown back by INCREASE_PER_SECOND of the ceiling each second, never below FLOOR of it.
    `ceiling` None: no budget until the first refusal, which sets one from `observed` (the rate
    just spent); that one grows back towards the rate it was cut from, then probes beyond."""

    def __init__(self, ceiling: float | None):
        self.ceiling = ceiling
        self.base = ceiling  # the rate right after the last cut (None: no limit yet)
        self.cut_from = ceiling  # the rate the last cut was made from
        self.cut_at = -math.inf
        self.cuts = 0

    def rate(self, now: float) -> float | None:
        if self.base is None or self.cut_at == -math.inf:
            return self.base
        elapsed = max(0.0, now - self.cut_at)
        if self.ceiling is not None:
            return min(self.ceiling, self.base + self.ceiling * INCREASE_PER_SECOND * elapsed)
        plateau = max(self.base, self.cut_from * LEARNED_PLATEAU)
        back = self.base + self.cut_from * INCREASE_PER_SECOND * elapsed
        if back <= plateau:
            return back
        reached = (plateau - self.base) / (self.cut_from * INCREASE_PER_SECOND)
        return plateau + self.cut_from * LEARNED_PROBE_PER_SECOND * (elapsed - reached)

    def cut(self, sent_at: float, now: float, observed: float) -> bool:
        """A request sent at `sent_at` was refused for rate. Cut, unless it was sent before the
        last cut (that cut already answered the rate it was sent at) or, for a learned budget,
        the last cut is too recent."""
        if sent_at < self.cut_at:
            return False
        if self.ceiling is None and now - self.cut_at < LEARNED_CUT_SECONDS:
            return False
        current = self.rate(now)
        if current is None:
            current = max(observed, LEARNED_MIN_RATE)
        floor = self.ceiling * FLOOR if self.ceiling else LEARNED_MIN_RATE
        self.base = max(floor, current * DECREASE)
        self.cut_from = current
        self.cut_at = now
        self.cuts += 1
        return True


def next_utc_midnight(wall: float) -> float:
    day = datetime.fromtimestamp(wall, timezone.utc).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


# Called with the pause's end as a UTC datetime (None: the pause ended) and its reason.
PauseListener = Callable[["datetime | None", "str | None"], None]


class Pacer:
    """Everything one endpoint may be sent, for every thread that uses it (thread-safe).

    `credits_per_second`: the budget in `pricing`'s unit (0: none until a rate refusal sets one);
    `requests_per_second`: HTTP requests, evenly spaced (0: no limit)."""

    def __init__(self, pricing: Pricing, credits_per_second: float = 0.0,
                 requests_per_second: float = 0.0, *, quota_retry_seconds: float = 600.0,
                 daily_reset_utc: bool = False, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time):
        self.pricing = pricing
        self.clock, self.wall = clock, wall
        self.aimd = Aimd(credits_per_second * HEADROOM if credits_per_second > 0 else None)
        now = clock()
        rate = self.aimd.rate(now)
        self.credits = TokenBucket(rate, rate * BURST_SECONDS, now) if rate else None
        self.requests = (TokenBucket(requests_per_second, 1.0, now)
                         if requests_per_second > 0 else None)
        self.hold_until = now
        self.batch_cap: int | None = None  # most calls per batch the endpoint accepts
        self.quota_retry_seconds = quota_retry_seconds
        self.daily_reset_utc = daily_reset_utc or pricing.daily_reset_utc
        self.paused_until: float | None = None  # wall-clock end of a quota pause
        self._paused_at: float | None = None  # clock time of the last refusal that paused it
        self.pause_reason: str | None = None
        self.listeners: list[PauseListener] = []
        self._recent: collections.deque[tuple[float, float]] = collections.deque()
        self._first: float | None = None  # clock time of the first request
        self._lock = threading.Lock()

    # -- costs and batches -------------------------------------------------------------------

    def cost(self, methods: Sequence[str]) -> float:
        return sum(self.pricing.cost(m) for m in methods)

    def rate(self) -> float | None:
        """The paced budget now, in units per second (None: no limit)."""
        with self._lock:
            return self.aimd.rate(self.clock())

    def fit(self, costs: Sequence[float], limit: int | None = None) -> int:
        """How many of `costs` (calls in order) one batch should carry now: at most about
        BATCH_SECONDS of the paced budget, the endpoint's batch cap and `limit`; at least 1."""
        n = len(costs) if limit is None else min(limit, len(costs))
        with self._lock:
            if self.batch_cap is not None:
                n = min(n, self.batch_cap)
            rate = self.aimd.rate(self.clock())
        if rate is not None:
            room, total, fits = rate * BATCH_SECONDS, 0.0, 0
            for c in costs[:n]:
                total += c
                if total > room:
                    break
                fits += 1
            n = min(n, fits)
        return max(1, n)

    def limit_batch(self, refused_size: int, cap: int | None) -> tuple[int, bool]:
        """A batch of `refused_size` calls was refused as too large (`cap`: the most the
        endpoint named, if it did). Returns the new cap and whether it is the first one."""
        new = cap if cap is not None and 0 < cap < refused_size else max(1, refused_size // 2)
        with self._lock:
            first = self.batch_cap is None
            self.batch_cap = new if self.batch_cap is None else min(self.batch_cap, new)
            return self.batch_cap, first

    # -- pacing ------------------------------------------------------------------------------

    def reserve(self, cost: float) -> float:
        """Book one request of `cost` and return the seconds to wait before sending it."""
        with self._lock:
            now = self.clock()
            wait = max(0.0, self.hold_until - now)
            rate = self.aimd.rate(now)
            if rate is not None:
                if self.credits is None:  # born of a refusal: from empty, after its hold
                    self.credits = TokenBucket(rate, rate * BURST_SECONDS, now)
                    self.credits.level = 0.0
                    self.credits.hold(self.hold_until, now)
                self.credits.set_rate(rate, rate * BURST_SECONDS, now)
                wait = max(wait, self.credits.reserve(cost, now))
            if self.requests is not None:
                wait = max(wait, self.requests.reserve(1.0, now))
            if self._first is None:
                self._first = now
            self._recent.append((now + wait, cost))
            while self._recent and self._recent[0][0] < now - LEARN_WINDOW_SECONDS:
                self._recent.popleft()
            return wait

    def acquire(self, cost: float, sleep: Callable[[float], None]) -> None:
        """Wait (with `sleep`, which may raise RpcStopped) out a quota pause, then until a
        request of `cost` may be sent."""
        while True:
            remaining = self.pause_remaining()
            if remaining <= 0:
                break
            sleep(min(remaining, PAUSE_SLICE_SECONDS))
        wait = self.reserve(cost)
        if wait > 0:
            sleep(wait)

    def on_rate_limited(self, sent_at: float, retry_after: float | None) -> bool:
        """A request sent at `sent_at` (clock time) was refused for rate: hold every thread for
        `retry_after` seconds, and cut the budget unless an earlier refusal already did.
        Returns whether it cut."""
        with self._lock:
            now = self.clock()
            if retry_after:
                until = now + retry_after
                self.hold_until = max(self.hold_until, until)
                if self.credits is not None:
                    self.credits.hold(until, now)
            # Over the window, or since the first request if that is more recent: a refusal in
            # the first second must not make the first second's few requests the budget.
            span = min(LEARN_WINDOW_SECONDS, max(0.25, now - self._first)) \
                if self._first is not None else LEARN_WINDOW_SECONDS
            observed = sum(c for t, c in self._recent if t >= now - LEARN_WINDOW_SECONDS) / span
            return self.aimd.cut(sent_at, now, observed)

    def hold_remaining(self) -> float:
        with self._lock:
            return max(0.0, self.hold_until - self.clock())

    # -- quota ---------------------------------------------------------------------------------

    def pause_remaining(self) -> float:
        with self._lock:
            if self.paused_until is None:
                return 0.0
            return self.paused_until - self.wall()

    def pause(self, reason: str) -> tuple[float, str | None]:
        """The quota is used up: nothing is sent until it resets. Returns the pause's end (wall
        clock) and "started" (a new pause), "renewed" (a try after the last one's end was
        refused again) or None (another thread has paused it already)."""
        with self._lock:
            now = self.wall()
            if self.paused_until is not None and self.paused_until > now:
                return self.paused_until, None
            state = "started" if self.paused_until is None else "renewed"
            if self.daily_reset_utc:
                until = next_utc_midnight(now) + QUOTA_RESET_MARGIN_SECONDS
            else:
                until = now + self.quota_retry_seconds
            self.paused_until, self.pause_reason = until, reason
            self._paused_at = self.clock()
        self._tell(until, reason)
        return until, state

    def resume(self, sent_at: float | None = None) -> bool:
        """A request (sent at clock time `sent_at`) was answered: any quota pause is over,
        unless the request went out before the refusal that paused it (another thread's answer
        still in flight says nothing of the quota now). Returns whether a pause ended."""
        with self._lock:
            if self.paused_until is None:
                return False
            if sent_at is not None and self._paused_at is not None and sent_at < self._paused_at:
                return False
            self.paused_until = self.pause_reason = None
        self._tell(None, None)
        return True

    @property
    def paused(self) -> bool:
        return self.paused_until is not None

    def _tell(self, until: float | None, reason: str | None) -> None:
        when = None if until is None else datetime.fromtimestamp(until, timezone.utc)
        for listener in list(self.listeners):
            listener(when, reason)

"""Provider profiles: what stands between a scanner and the node on mainnet.

Each profile is a row of figures and the provider's own answers (../../../shared/FACTS.md,
"JSON-RPC provider limits" and "Provider costs and limits"; the texts were checked against
public reports of real answers, see benchmarks/README.md): per-method cost in the provider's
unit, a budget per second (a token bucket), a daily quota, eth_getLogs range and result caps
with the exact refusal (and the suggested range where the provider gives one), a batch cap
with its refusal, latency per round trip, and flakiness.

A `Gate` applies one profile to the requests of one route, in this order: flakiness (a 502,
a dropped connection, a hang), the batch cap, the daily quota (HTTP 402), the rate limit
(HTTP 429, with Retry-After or the provider's own back-off hint), then the node answers and
each eth_getLogs is checked against the range/result caps. Every call is counted by method
with what became of it.

Silent log drops (`drop_share`, `drop_logs`, `drop_tail`, `drop_max`, `drop_events`; none by
default): a share of the eth_getLogs answers come back 200 OK with logs missing, as a fleet
member with an incomplete log index answers (tests/faultproxy.py's fault of the same names).
Which answers lose which logs is drawn from the seed, the call's parameters and how often
those parameters were asked before, never from the order of requests, so concurrency does
not change it. The gate records every log it took out as (block, log index).

Billing: an admitted call costs its method's price whatever its answer (a range refusal
costs as much as the logs would have); a call refused for rate, quota, batch size or a
transport fault costs nothing. A request that costs more than one second's budget (a big
JSON-RPC batch on a credit budget) is admitted only from a full bucket and leaves it in debt,
so it is slowed down, never refused forever.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable

import orjson

from benchmarks.synthnet import events as ev
from benchmarks.synthnet.blocks import mix

# (http status, JSON-RPC error object) for a refused eth_getLogs, from the number of blocks
# asked for and the range the provider suggests, as it prints it.
RangeAnswer = Callable[[int, tuple[int, int]], tuple[int, dict]]


def _infura_blocks(span: int, hint: tuple[int, int]) -> tuple[int, dict]:
    return 200, {"code": -32602, "message": f"range {span} exceeds limit of 10000"}


def _infura_results(span: int, hint: tuple[int, int]) -> tuple[int, dict]:
    return 200, {"code": -32005, "message": "query returned more than 10000 results. "
                 f"Try with this block range [{hex(hint[0])}, {hex(hint[1])}]."}


def _alchemy_size(span: int, hint: tuple[int, int]) -> tuple[int, dict]:
    return 400, {"code": -32602, "message": (
        "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block "
        "range and no limit on the response size, or you can request any block range with a cap "
        "of 10K logs in the response. Based on your parameters and the response size limit, this "
        f"block range should work: [{hex(hint[0])}, {hex(hint[1])}]")}


def _quicknode_blocks(span: int, hint: tuple[int, int]) -> tuple[int, dict]:
    return 413, {"code": -32614, "message": "eth_getLogs is limited to a 10,000 range"}


def _public_blocks(span: int, hint: tuple[int, int]) -> tuple[int, dict]:
    return 200, {"code": -32000, "message": "exceed maximum block range: 50"}


@dataclass(frozen=True)
class RateAnswer:
    """A rate-limit refusal: HTTP status, the error object, whether to send Retry-After."""
    error: Callable[[float, "Profile"], dict]
    retry_after_header: bool = False
    status: int = 429


def _infura_rate(wait: float, p: "Profile") -> dict:
    return {"code": -32005, "message": "project ID request rate exceeded",
            "data": {"see": "https://infura.io/dashboard", "current_rps": round(p.rate * 1.1, 3),
                     "allowed_rps": p.rate, "backoff_seconds": round(wait, 3)}}


def _alchemy_rate(wait: float, p: "Profile") -> dict:
    return {"code": 429, "message": "Your app has exceeded its compute units per second capacity. "
            "If you have retries enabled, you can safely ignore this message. If not, check out "
            "https://docs.alchemy.com/reference/throughput"}


def _quicknode_rate(wait: float, p: "Profile") -> dict:
    return {"code": -32007, "message": f"{p.rate:g}/second request limit reached - reduce calls per "
            "second or upgrade your account at quicknode.com"}


def _public_rate(wait: float, p: "Profile") -> dict:
    return {"code": 429, "message": "Too Many Requests"}


# Infura's daily limit: not a JSON-RPC envelope (FACTS.md gives the first sentence of
# `details`; the rest is ours).
INFURA_402 = {"code": 402, "message": "Payment Required",
              "details": "You have reached your daily credit limit. To continue, upgrade your plan "
                         "or wait for the daily reset at 00:00 UTC."}


@dataclass(frozen=True)
class BatchAnswer:
    """A batch-size refusal: 'object' = one error object with id null (public endpoints),
    'geth' = a one-element array carrying the first call's id (geth's rpc package). `{cap}`
    in the message is the profile's batch cap."""
    message: str
    form: str = "object"
    code: int = -32600


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    unit: str = "requests"
    costs: dict = field(default_factory=dict)
    default_cost: int = 1
    rate: float = 0.0               # units per second; 0 = no limit
    burst_seconds: float = 1.0      # bucket size, in seconds of rate
    rate_answer: RateAnswer | None = None
    daily_quota: int = 0            # units per UTC day; 0 = none
    free_tier: tuple[str, int] | None = None  # ("day"|"month", units)
    range_blocks: int = 0           # eth_getLogs: most blocks per call (0 = no cap)
    result_cap: int = 0             # eth_getLogs: most logs per call (0 = no cap)
    either: bool = False            # Alchemy: a call is fine if EITHER cap holds
    too_many_blocks: RangeAnswer | None = None
    too_many_results: RangeAnswer | None = None
    invert_hint_every: int = 0      # every Nth suggested range comes back [to, from]
    batch_cap: int = 0
    batch_answer: BatchAnswer | None = None
    latency: tuple[float, float] = (0.0, 0.0)  # seconds per round trip, uniform, 2% at 4x
    p_502: float = 0.0
    p_drop: float = 0.0             # connection closed without an answer
    p_hang: float = 0.0             # no answer for hang_seconds, then closed
    hang_seconds: float = 35.0
    timestamps: bool = False        # logs carry blockTimestamp by default
    drop_share: float = 0.0         # share of eth_getLogs answers that lose logs, still 200 OK
    drop_logs: int = 0              # logs each such answer loses (0 = no drops)
    drop_tail: bool = False         # ... the last ones of one block of the answer, not random ones
    drop_max: int = 0               # at most this many answers lose logs in the route (0 = no cap)
    drop_events: str = ""           # only logs of these events ("Transfer,AnswerUpdated"); "" = any
    source: str = ""

    def cost(self, method: str) -> int:
        return self.costs.get(method, self.default_cost)

    @property
    def capacity(self) -> float:
        return self.rate * self.burst_seconds


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("none", "no limits, no latency", source="the node alone"),
    Profile(
        "infura", "Infura free (MetaMask Developer)", unit="credits",
        costs={"eth_getLogs": 255, "eth_getBlockByNumber": 80, "eth_call": 80, "eth_blockNumber": 80},
        default_cost=80, rate=500, rate_answer=RateAnswer(_infura_rate),
        daily_quota=3_000_000, free_tier=("day", 3_000_000),
        range_blocks=10_000, result_cap=10_000,
        too_many_blocks=_infura_blocks, too_many_results=_infura_results,
        latency=(0.05, 0.2),
        source="FACTS.md: 3M credits/day at 500 credits/s; eth_getLogs 255, others 80; 10,000 "
               "blocks and 10,000 results; 429 -32005 with backoff_seconds; 402 daily limit"),
    Profile(
        "quicknode", "QuickNode (50 requests/s)", unit="requests", default_cost=1, rate=50,
        rate_answer=RateAnswer(_quicknode_rate),
        range_blocks=10_000, too_many_blocks=_quicknode_blocks,
        latency=(0.05, 0.2), timestamps=True,
        source="FACTS.md: 1 request per call, e.g. 50 requests/s; 10,000-block ranges (HTTP 413 "
               "-32614, no hint); -32007 'N/second request limit reached'; logs carry blockTimestamp"),
    Profile(
        "alchemy", "Alchemy pay-as-you-go", unit="CU",
        costs={"eth_getLogs": 60, "eth_getBlockByNumber": 20, "eth_call": 26, "eth_blockNumber": 10,
               "eth_chainId": 0},
        default_cost=10, rate=10_000, rate_answer=RateAnswer(_alchemy_rate),
        free_tier=("month", 30_000_000),
        range_blocks=2_000, result_cap=10_000, either=True,
        too_many_blocks=_alchemy_size, too_many_results=_alchemy_size, invert_hint_every=4,
        batch_cap=1_000, batch_answer=BatchAnswer("batch too large"),
        latency=(0.05, 0.2),
        source="FACTS.md: eth_getLogs 60 CU, header 20, eth_call 26, eth_blockNumber 10; 10k CU/s; "
               "any range up to 2K blocks or any range with <= 10K logs; 'Log response size exceeded "
               "... this block range should work: [0x..., 0x...]' (the hint may come back inverted); "
               "batches up to 1,000 calls"),
    Profile(
        "public", "public endpoint (50-block ranges, batches of 10, 10 requests/s, flaky)",
        unit="requests", default_cost=1, rate=10,
        rate_answer=RateAnswer(_public_rate, retry_after_header=True),
        range_blocks=50, too_many_blocks=_public_blocks,
        batch_cap=10, batch_answer=BatchAnswer("batch size too large (max {cap})"),
        latency=(0.08, 0.3), p_502=0.01, p_drop=0.003, p_hang=0.001,
        source="FACTS.md: public endpoints may allow only 50 blocks; batch caps of 10-100 "
               "('batch size too large (max N)', -32600); our guess: 10 requests/s with "
               "Retry-After, 1% 502, 0.3% dropped connections, 0.1% time-outs"),
    Profile(
        "geth", "self-hosted geth, --rpc.batch-request-limit=100", unit="requests",
        batch_cap=100, batch_answer=BatchAnswer("batch too large", form="geth"),
        latency=(0.001, 0.004), timestamps=True,
        source="geth's rpc package: an over-long batch gets one 'batch too large' (-32600) "
               "error carrying the first call's id; geth >= 1.16 returns blockTimestamp"),
)}


def with_overrides(profile: Profile, overrides: dict) -> Profile:
    """`--set PROFILE.KEY=VALUE` for experiments (numbers and booleans only)."""
    if not overrides:
        return profile
    fixed = {}
    for key, value in overrides.items():
        current = getattr(profile, key, None)
        fixed_keys = ("name", "title", "unit", "source", "free_tier")
        if key not in profile.__dataclass_fields__ or key in fixed_keys or callable(current) \
                or isinstance(current, (dict, RateAnswer, BatchAnswer)):
            raise ValueError(f"profile {profile.name}: cannot set {key!r}")
        if isinstance(current, tuple):
            fixed[key] = tuple(float(x) for x in str(value).split(","))
        elif isinstance(current, bool):
            fixed[key] = str(value).lower() in ("1", "true", "yes", "on")
        else:
            fixed[key] = type(current)(value)
    # A cap set on a profile that has none gets a generic refusal.
    generic = {"rate_answer": RateAnswer(_public_rate, retry_after_header=True),
               "batch_answer": BatchAnswer("batch too large"),
               "too_many_blocks": _generic_range, "too_many_results": _generic_range}
    for key, answer in generic.items():
        if getattr(profile, key) is None:
            fixed[key] = answer
    return replace(profile, **fixed)


def _generic_range(span: int, hint: tuple[int, int]) -> tuple[int, dict]:
    return 200, {"code": -32005, "message": f"query exceeds the limit; try the block range "
                 f"[{hex(hint[0])}, {hex(hint[1])}]"}


# Refusal kinds, in the order they are tested.
FLAKY, BATCH, QUOTA, RATE, RANGE, RESULTS = "flaky", "batch", "quota", "rate", "range", "results"
REFUSALS = (RANGE, RESULTS, RATE, BATCH, QUOTA, FLAKY)


# The most dropped logs `stats` lists (all are counted): enough to find them in a run's JSON.
DROPPED_LISTED = 10_000


class Stats:
    """What one route saw: per method calls, credits, refusals by kind; HTTP-level figures."""

    def __init__(self):
        self.methods: dict[str, dict] = {}
        self.http_requests = 0
        self.http_status = Counter()
        self.batches = 0
        self.batch_items = 0
        self.largest_batch = 0
        self.bytes_out = 0
        self.credits = 0
        self.logs_served = 0
        self.headers_served = 0
        self.feed_calls = 0  # eth_calls to the price feeds' proxies and aggregators (server.py)
        self.drop_answers = 0  # eth_getLogs answers served with logs taken out
        self.dropped: list[tuple[int, int]] = []  # (block, log index) of every log taken out
        self.feed_credits = 0
        self.first = self.last = None
        self.latency_seconds = 0.0

    def method(self, name: str) -> dict:
        m = self.methods.get(name)
        if m is None:
            m = self.methods[name] = {"calls": 0, "answered": 0, "credits": 0, "refused": Counter()}
        return m

    def as_dict(self) -> dict:
        return {
            "http_requests": self.http_requests,
            "http_status": {str(k): v for k, v in self.http_status.items()},
            "batches": self.batches, "batch_items": self.batch_items, "largest_batch": self.largest_batch,
            "bytes_out": self.bytes_out, "credits": self.credits, "logs_served": self.logs_served,
            "headers_served": self.headers_served, "latency_seconds": round(self.latency_seconds, 2),
            "feed_calls": self.feed_calls, "feed_credits": self.feed_credits,
            "drops": {"answers": self.drop_answers, "logs": len(self.dropped),
                      "dropped": [list(x) for x in self.dropped[:DROPPED_LISTED]]},
            "active_seconds": round((self.last - self.first), 2) if self.first else 0.0,
            "methods": {k: {**v, "refused": dict(v["refused"])} for k, v in sorted(self.methods.items())},
        }


@dataclass
class Verdict:
    """What the gate decided for one HTTP request before the node sees it."""
    action: str = "serve"   # serve | answer | drop | hang
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: object = None     # for action == "answer"
    latency: float = 0.0


class Gate:
    def __init__(self, profile: Profile, seed: int):
        self.profile = profile
        self.seed = seed
        self.lock = threading.Lock()
        self.stats = Stats()
        self.level = profile.capacity
        self.refilled = time.monotonic()
        self.day = int(time.time() // 86_400)
        self.used_today = 0
        self.requests = 0
        self.hints = 0
        self.drop_seen: Counter = Counter()  # eth_getLogs parameters -> times asked
        self.drop_topics = _event_topics(profile.drop_events)

    def _uniform(self, n: int, salt: int) -> float:
        return mix(self.seed * 1_000_003 + n * 8 + salt) / 2 ** 64

    def admit(self, calls: list[tuple[object, str]], is_batch: bool) -> Verdict:
        """Decide for one HTTP request whose calls are (id, method)."""
        p = self.profile
        with self.lock:
            now = time.monotonic()
            n = self.requests
            self.requests += 1
            s = self.stats
            s.http_requests += 1
            s.first = s.first or now
            s.last = now
            if is_batch:
                s.batches += 1
                s.batch_items += len(calls)
                s.largest_batch = max(s.largest_batch, len(calls))
            for _, method in calls:
                s.method(method)["calls"] += 1
            lo, hi = p.latency
            latency = lo + (hi - lo) * self._uniform(n, 1)
            if self._uniform(n, 2) < 0.02:
                latency *= 4
            v = Verdict(latency=latency)
            # Transport faults.
            u = self._uniform(n, 3)
            if u < p.p_hang + p.p_drop + p.p_502:
                self._refuse(calls, FLAKY)
                if u < p.p_hang:
                    v.action, v.latency = "hang", p.hang_seconds
                elif u < p.p_hang + p.p_drop:
                    v.action = "drop"
                else:
                    v.action, v.status = "answer", 502
                    v.body = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>" \
                             b"502 Bad Gateway</h1></center></body></html>"
                    v.headers = {"Content-Type": "text/html"}
                return v
            if is_batch and p.batch_cap and len(calls) > p.batch_cap:
                self._refuse(calls, BATCH)
                v.action = "answer"
                a = p.batch_answer
                err = {"code": a.code, "message": a.message.format(cap=p.batch_cap)}
                if a.form == "geth":
                    first = next((i for i, _ in calls if i is not None), None)
                    v.body = [{"jsonrpc": "2.0", "id": first, "error": err}]
                else:
                    v.body = {"jsonrpc": "2.0", "id": None, "error": err}
                return v
            cost = sum(p.cost(m) for _, m in calls)
            if p.daily_quota:
                day = int(time.time() // 86_400)
                if day != self.day:
                    self.day, self.used_today = day, 0
                if self.used_today + cost > p.daily_quota:
                    self._refuse(calls, QUOTA)
                    v.action, v.status, v.body = "answer", 402, INFURA_402
                    return v
            if p.rate:
                self.level = min(p.capacity, self.level + (now - self.refilled) * p.rate)
                self.refilled = now
                if not (self.level >= cost or (cost > p.capacity and self.level >= p.capacity)):
                    wait = (min(cost, p.capacity) - self.level) / p.rate
                    self._refuse(calls, RATE)
                    v.action, v.status = "answer", p.rate_answer.status
                    err = p.rate_answer.error(wait, p)
                    v.body = [{"jsonrpc": "2.0", "id": i, "error": err} for i, _ in calls] if is_batch \
                        else {"jsonrpc": "2.0", "id": calls[0][0], "error": err}
                    if p.rate_answer.retry_after_header:
                        v.headers = {"Retry-After": str(max(1, math.ceil(wait)))}
                    return v
                self.level -= cost
            self.used_today += cost
            s.credits += cost
            for _, method in calls:
                m = s.method(method)
                m["credits"] += p.cost(method)
            return v

    def _refuse(self, calls, kind: str) -> None:
        for _, method in calls:
            self.stats.method(method)["refused"][kind] += 1

    def check_logs(self, node, q) -> tuple[int, dict] | None:
        """The provider's refusal of an eth_getLogs query, or None to serve it."""
        p = self.profile
        if not (p.range_blocks or p.result_cap):
            return None
        span_ok = not p.range_blocks or q.span <= p.range_blocks
        if p.either:
            if span_ok:
                return None
            if node.count_logs(q) <= p.result_cap:
                return None
            hint = max(min(q.to_block, q.from_block + p.range_blocks - 1), node.end_within(q, p.result_cap))
            return self._range_refusal(p.too_many_results, q, hint, RESULTS)
        if not span_ok:
            return self._range_refusal(p.too_many_blocks, q, q.to_block, RANGE)
        if p.result_cap and node.count_logs(q) > p.result_cap:
            return self._range_refusal(p.too_many_results, q, node.end_within(q, p.result_cap), RESULTS)
        return None

    def _range_refusal(self, answer: RangeAnswer, q, hint: int, kind: str) -> tuple[int, dict]:
        p = self.profile
        with self.lock:
            self.stats.method("eth_getLogs")["refused"][kind] += 1
            self.hints += 1
            invert = p.invert_hint_every and self.hints % p.invert_hint_every == 0
        return answer(q.span, (hint, q.from_block) if invert else (q.from_block, hint))

    def drop_logs(self, params, rendered: bytes, count: int) -> tuple[bytes, int]:
        """The eth_getLogs answer (`rendered`, a JSON array of `count` logs) as the profile
        serves it: whole, or, for a `drop_share` of calls, without `drop_logs` of its logs.

        The draw is keyed by the seed, the call's parameters (not its id) and how often the
        same parameters were asked before, so which answers lose logs does not depend on the
        order in which concurrent requests arrive, and a second ask of a range draws afresh."""
        p = self.profile
        if not (p.drop_logs > 0 and p.drop_share > 0 and count):
            return rendered, count
        key = orjson.dumps(params, option=orjson.OPT_SORT_KEYS)
        with self.lock:
            seen = self.drop_seen[key]
            self.drop_seen[key] += 1
        digest = hashlib.blake2b(f"drop:{self.seed}:{seen}:".encode() + key, digest_size=16).digest()
        if int.from_bytes(digest[:8], "big") / 2 ** 64 >= p.drop_share:
            return rendered, count
        rng = random.Random(digest)
        logs = orjson.loads(rendered)
        topics = self.drop_topics

        def droppable(i: int) -> bool:
            return topics is None or logs[i]["topics"][0] in topics

        if p.drop_tail:  # a tail holding one log of the events asked for
            by_block: dict[str, list[int]] = {}
            for i, entry in enumerate(logs):
                by_block.setdefault(entry["blockNumber"], []).append(i)
            tails = [ix[-p.drop_logs:] for ix in by_block.values()
                     if any(droppable(i) for i in ix[-p.drop_logs:])]
            gone = set(rng.choice(tails)) if tails else set()
        else:
            candidates = [i for i in range(len(logs)) if droppable(i)]
            gone = set(rng.sample(candidates, min(p.drop_logs, len(candidates))))
        if not gone:
            return rendered, count
        with self.lock:
            if p.drop_max and self.stats.drop_answers >= p.drop_max:
                return rendered, count
            self.stats.drop_answers += 1
            self.stats.dropped.extend((int(logs[i]["blockNumber"], 16), int(logs[i]["logIndex"], 16))
                                      for i in sorted(gone))
        kept = [entry for i, entry in enumerate(logs) if i not in gone]
        return orjson.dumps(kept), len(kept)


def _event_topics(names: str) -> frozenset[str] | None:
    """The topic0s of the events named in `drop_events` (any kind of that name), None for all."""
    wanted = {n.strip() for n in names.split(",") if n.strip()}
    if not wanted:
        return None
    known = {k.name for k in ev.KINDS.values()}
    if wanted - known:
        raise ValueError(f"drop_events: unknown event(s) {', '.join(sorted(wanted - known))}; "
                         f"known: {', '.join(sorted(known))}")
    return frozenset(ev.TOPIC0[code] for code, k in ev.KINDS.items() if k.name in wanted)

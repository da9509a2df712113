"""A fault-injecting HTTP proxy for Ethereum JSON-RPC, for tests.

It sits between the indexer and a real node (anvil) and, per request, either forwards the body
unchanged or injects one of the failures real providers produce (see FACTS.md, "JSON-RPC provider
limits the scanner meets"). Each decision comes from `random.Random` keyed by the seed, the
request (without its JSON-RPC id) and how many times that request was seen before, so a seed
and a set of requests give the same faults whatever order concurrent clients send them in.

    with FaultProxy(anvil.url, seed=7, rate=0.3) as proxy:
        run_the_scanner(rpc_url=proxy.url)
    assert proxy.counts["forwarded"] > 0

The fork faults answer as a node does that serves some blocks from another fork than the rest
(load-balanced providers during a reorg): a block hash changes, nothing else does. With
`max_faults` the proxy injects that many faults and then forwards everything, so a test can
show one bad answer being caught and refetched.

Besides random faults it can behave as a hosted provider does, deterministically (FACTS.md,
"Provider costs and limits"): `batch_cap` refuses longer JSON-RPC batches as public endpoints
or geth do; `rate` (units per second, a token bucket holding one second, each call costing
`costs[method]`, a batch the sum) refuses what exceeds it with a provider's own 429 answer;
`set_quota(True)` answers every request with Infura's HTTP 402 daily-limit body until
`set_quota(False)`. `limited` counts the calls they refused, by kind; `calls` (by method)
counts all.

    with FaultProxy(anvil.url, seed=0, rate_limit=500, costs=INFURA_COSTS,
                    rate_answer="infura") as p:
        ...
    assert p.limited["rate"] < 0.02 * sum(p.calls.values())

Two more behaviours of hosted fleets, also deterministic for a seed. A member whose log index
is incomplete answers eth_getLogs with 200 OK and some logs missing: `drop_share` of the
answers lose `drop_logs` logs each, chosen at random or, with `drop_tail`, the last logs of one
block; `dropped` lists them. A node without archive state (`state_window`) answers eth_call at
an older block with geth's "missing trie node" error.

    with FaultProxy(anvil.url, seed=4, drop_logs=2, drop_share=0.3) as p:
        ...
    assert p.dropped  # the logs that never reached the client

Standard library plus `requests` only.
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import requests

ALL_FAULTS: tuple[str, ...] = (
    "http_429",
    "http_500",
    "timeout",
    "truncated",
    "range_hint",
    "range_inverted_hint",
    "range_no_hint",
    "credits",
    "null_block",
    "lagging_head",
    "missing_logs",
    "fork_log",
    "fork_header",
    "fork_head",
)
# Faults that make sense for any request, batch or not.
GENERIC_FAULTS = ("http_429", "http_500", "timeout", "truncated", "credits")
RANGE_FAULTS = ("range_hint", "range_inverted_hint", "range_no_hint")
# The path part of `url`, standing in for a provider API key (which must never be logged).
SECRET_PATH = "/v3/faultproxy-secret-key-0123456789abcdef"
LAG_BLOCKS = 5
UPSTREAM_TIMEOUT = 30.0
# What geth answers for state it has pruned (a full node keeps the last 128 blocks' state).
MISSING_TRIE_NODE = ("missing trie node {root} (path ) state 0x{root} is not available, "
                     "not found")


def other_fork_hash(block_hash: str) -> str:
    """What another fork calls this block: a plausible 32-byte hash, always the same for the
    same block, so a test can tell exactly which hash the proxy made up."""
    return "0x" + hashlib.sha256(bytes.fromhex(block_hash[2:])).hexdigest()


def _block_by_number(call: Any) -> bool:
    """An eth_getBlockByNumber call that names its block by number, not by a tag ("latest")."""
    if not isinstance(call, dict) or call.get("method") != "eth_getBlockByNumber":
        return False
    params = call.get("params")
    return (isinstance(params, list) and bool(params) and isinstance(params[0], str)
            and params[0].startswith("0x"))


# Provider answers, as FACTS.md quotes them.
INFURA_COSTS = {"eth_getLogs": 255, "eth_getBlockByNumber": 80, "eth_call": 80,
                "eth_blockNumber": 80, "default": 80}
INFURA_402 = {"code": 402, "message": "Payment Required",
              "details": "You have reached your daily credit limit. To continue, upgrade your plan "
                         "or wait for the daily reset at 00:00 UTC."}
BATCH_ANSWERS = ("object", "geth", "http413")
RATE_ANSWERS = ("infura", "alchemy", "quicknode", "public")


def _rate_error(kind: str, rate: float, wait: float) -> dict:
    if kind == "infura":
        return {"code": -32005, "message": "project ID request rate exceeded",
                "data": {"see": "https://infura.io/dashboard", "current_rps": round(rate * 1.1, 3),
                         "allowed_rps": rate, "backoff_seconds": round(wait, 3)}}
    if kind == "alchemy":
        return {"code": 429, "message": "Your app has exceeded its compute units per second "
                "capacity. If you have retries enabled, you can safely ignore this message. If "
                "not, check out https://docs.alchemy.com/reference/throughput"}
    if kind == "quicknode":
        return {"code": -32007, "message": f"{rate:g}/second request limit reached - reduce calls "
                "per second or upgrade your account at quicknode.com"}
    return {"code": 429, "message": "Too Many Requests"}


class _Exchange:
    """One incoming request: its parsed body, and the upstream answer, fetched at most once."""

    def __init__(self, proxy: "FaultProxy", body: bytes, payload: Any):
        self.proxy = proxy
        self.body = body
        self.payload = payload
        self.is_batch = isinstance(payload, list)
        self.method = (payload.get("method") if isinstance(payload, dict) else None) or ""
        self._upstream: tuple[int, str, bytes] | None = None

    @property
    def label(self) -> str:
        return "batch" if self.is_batch else (self.method or "?")

    def upstream(self) -> tuple[int, str, bytes]:
        if self._upstream is None:
            self._upstream = self.proxy._forward(self.body)
        return self._upstream

    def upstream_json(self) -> Any:
        status, _, body = self.upstream()
        if status != 200:
            return None
        try:
            return json.loads(body)
        except ValueError:
            return None


class FaultProxy:
    def __init__(self, upstream: str, *, seed: int, rate: float = 0.0,
                 faults: tuple[str, ...] = ALL_FAULTS, timeout_seconds: float = 3.0,
                 max_faults: int | None = None, strip_block_timestamp: bool = False,
                 range_limit: tuple[int, int, str] | None = None, batch_cap: int = 0,
                 batch_answer: str = "object", rate_limit: float = 0.0,
                 costs: dict[str, float] | None = None, rate_answer: str = "public",
                 quota_after: int | None = None, methods: tuple[str, ...] | None = None,
                 drop_logs: int = 0, drop_share: float = 0.0, drop_tail: bool = False,
                 drop_where: Callable[[dict], bool] | None = None,
                 max_drops: int | None = None, state_window: int | None = None):
        """`max_faults`: inject at most this many faults in all, then forward everything.
        `strip_block_timestamp`: answer logs without their blockTimestamp, as a node older than
        the execution-apis change of August 2025 (or a provider that drops it) does.
        `range_limit`: (blocks, code, message): refuse every eth_getLogs spanning more blocks,
        as a provider with a fixed range limit does (its real text), counted in `refused`.
        `batch_cap`: refuse batches of more calls, answering as `batch_answer` says ("object":
        a public endpoint's -32600 "batch size too large (max N)"; "geth": geth's one-element
        array "batch too large"; "http413"). `rate_limit`: units per second (`costs` per
        method, `costs["default"]` or 1 for the others), refused with `rate_answer`'s HTTP 429.
        `quota_after`: the quota runs out (set_quota(True)) after this many requests were
        answered. What these three refuse is counted in `limited`, by kind, in calls.
        `methods`: inject the random faults only into single requests of these methods.
        `drop_logs`, `drop_share`: that share of eth_getLogs answers (drawn like the faults,
        from the seed and the request) lose `drop_logs` of their logs, chosen at random, or
        with `drop_tail` the last ones of one block of the answer; still 200 OK, as a fleet
        member with an incomplete log index answers. `drop_where(log)`: only logs it holds for
        are dropped (with `drop_tail`: only tails holding one). `max_drops`: at most this many
        answers lose logs. `dropped` lists every log taken out; `counts["drop_logs"]` counts
        the answers. `state_window`: a node without archive state: an eth_call at a block
        more than this many below the head is answered with geth's "missing trie node"
        (`counts["missing_state"]` counts the requests so answered)."""
        unknown = set(faults) - set(ALL_FAULTS)
        if unknown:
            raise ValueError(f"unknown fault classes: {sorted(unknown)}")
        if batch_answer not in BATCH_ANSWERS or rate_answer not in RATE_ANSWERS:
            raise ValueError(f"unknown answer: {batch_answer!r} / {rate_answer!r}")
        self.batch_cap, self.batch_answer = batch_cap, batch_answer
        self.rate_limit, self.costs, self.rate_answer = rate_limit, dict(costs or {}), rate_answer
        self._level = rate_limit  # the token bucket, full at the start
        self._refilled = time.monotonic()
        self._quota = False
        self.quota_after = quota_after
        self._answered = 0
        self.credits = 0.0  # the cost of the calls let through, as a provider bills them
        self.limited: collections.Counter = collections.Counter()  # calls refused: batch, quota, rate
        self.largest_batch = 0  # the most calls of a batch that was answered
        self.upstream = upstream
        self.seed = seed
        self.rate = rate
        self.faults = tuple(faults)
        self.timeout_seconds = timeout_seconds
        self.max_faults = max_faults
        self._injected = 0
        self.strip_block_timestamp = strip_block_timestamp
        self.range_limit = range_limit
        self.methods = methods
        self.drop_logs, self.drop_share, self.drop_tail = drop_logs, drop_share, drop_tail
        self.drop_where, self.max_drops = drop_where, max_drops
        self.dropped: list[dict] = []  # every log an answer lost, as the node gave it
        self._drop_seen: collections.Counter = collections.Counter()
        self._drops = 0
        self.state_window = state_window
        self.refused = 0  # eth_getLogs refused by range_limit
        self.calls: collections.Counter = collections.Counter()  # JSON-RPC calls by method, batch items too
        self.blocks_asked: collections.Counter = collections.Counter()  # eth_getBlockByNumber by number
        self.tags_asked: collections.Counter = collections.Counter()  # ... by tag ("finalized", ...)
        self.counts: collections.Counter = collections.Counter()
        self.events: list[tuple[str, str]] = []  # (fault, method) for every injected fault
        self.decisions: list[str] = []  # fault name or "forwarded", per JSON request, in order
        self._seen: collections.Counter = collections.Counter()
        self._lock = threading.Lock()
        self._retry_after_toggle = 0
        self._stopping = threading.Event()
        self._local = threading.local()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> "FaultProxy":
        if self._server is not None:
            return self
        proxy = self

        class Handler(_Handler):
            pass

        Handler.proxy = proxy
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}{SECRET_PATH}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"faultproxy-{port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a "timeout" fault
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self.rate = rate

    def set_quota(self, exhausted: bool) -> None:
        """While True, every JSON-RPC request gets Infura's HTTP 402 daily-limit answer."""
        with self._lock:
            self._quota = exhausted

    # --- provider limits -------------------------------------------------------------------

    def _cost(self, methods: list[str]) -> float:
        return sum(self.costs.get(m, self.costs.get("default", 1)) for m in methods)

    def _limit(self, ex: "_Exchange") -> tuple[int, dict[str, str], bytes] | None:
        """A provider's refusal of this request, in the order providers apply them (batch
        cap, daily quota, rate), or None to let it through."""
        items = ex.payload if ex.is_batch else [ex.payload]
        methods = [str(i.get("method")) if isinstance(i, dict) else "" for i in items]
        with self._lock:
            if self.quota_after is not None and self._answered >= self.quota_after:
                self._quota, self.quota_after = True, None
            if ex.is_batch and self.batch_cap and len(items) > self.batch_cap:
                self.limited["batch"] += len(items)
                kind = "batch_cap"
            elif self._quota:
                self.limited["quota"] += len(items)
                kind = "quota"
            elif self.rate_limit:
                now = time.monotonic()
                self._level = min(self.rate_limit,
                                  self._level + (now - self._refilled) * self.rate_limit)
                self._refilled = now
                cost = self._cost(methods)
                # More than the bucket holds goes from a full bucket, leaving it in debt.
                if self._level >= min(cost, self.rate_limit):
                    self._level -= cost
                    kind = None
                else:
                    wait = (min(cost, self.rate_limit) - self._level) / self.rate_limit
                    self.limited["rate"] += len(items)
                    kind = "rate_limit"
            else:
                kind = None
            if kind is None:
                self._answered += 1
                self.credits += self._cost(methods)
                if ex.is_batch:
                    self.largest_batch = max(self.largest_batch, len(items))
        if kind is None:
            return None
        self._record(kind, ex.label)
        if kind == "quota":
            return self._json(INFURA_402, 402)
        if kind == "batch_cap":
            if self.batch_answer == "http413":
                return 413, {"Content-Type": "text/plain"}, b"Request Entity Too Large"
            if self.batch_answer == "geth":
                first = next((i.get("id") for i in items if isinstance(i, dict)), None)
                return self._json([{"jsonrpc": "2.0", "id": first,
                                    "error": {"code": -32600, "message": "batch too large"}}])
            return self._json({"jsonrpc": "2.0", "id": None, "error": {
                "code": -32600, "message": f"batch size too large (max {self.batch_cap})"}})
        error = _rate_error(self.rate_answer, self.rate_limit, wait)
        ids = [i.get("id") if isinstance(i, dict) else None for i in items]
        body = ([{"jsonrpc": "2.0", "id": i, "error": error} for i in ids] if ex.is_batch
                else {"jsonrpc": "2.0", "id": ids[0], "error": error})
        status, headers, out = self._json(body, 429)
        if self.rate_answer == "public":
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return status, headers, out

    # --- decisions -------------------------------------------------------------------------

    def _draw(self, payload) -> tuple[bool, float]:
        """Two draws per JSON request, always, so the decisions do not depend on which faults
        happen to apply; keyed by the request, so not on the order requests arrive in."""

        def without_id(p):
            return {k: v for k, v in p.items() if k != "id"} if isinstance(p, dict) else p

        request = [without_id(p) for p in payload] if isinstance(payload, list) else without_id(payload)
        key = json.dumps(request, sort_keys=True)
        with self._lock:
            seen = self._seen[key]
            self._seen[key] += 1
            rate = self.rate
        rng = random.Random(f"{self.seed}:{seen}:{key}")
        u = rng.random()
        v = rng.random()
        return u < rate, v

    def _claim_fault(self) -> bool:
        """Whether one more fault may be injected (`max_faults`); counts it if so."""
        with self._lock:
            if self.max_faults is not None and self._injected >= self.max_faults:
                return False
            self._injected += 1
            return True

    def _record(self, fault: str, method: str) -> None:
        with self._lock:
            self.decisions.append(fault)
            self.counts[fault] += 1
            if fault != "forwarded":
                self.events.append((fault, method))

    def _applicable(self, ex: _Exchange) -> list[str]:
        if self.methods is not None and (ex.is_batch or ex.method not in self.methods):
            return []
        allowed = set(self.faults)
        out = [f for f in GENERIC_FAULTS if f in allowed]
        if ex.is_batch:
            if "null_block" in allowed and any(
                    isinstance(e, dict) and e.get("method") == "eth_getBlockByNumber"
                    for e in ex.payload):
                out.append("null_block")
            if ("fork_header" in allowed
                    and self._fork_header_target(ex, ex.upstream_json()) is not None):
                out.append("fork_header")
            return out
        if ex.method == "eth_getBlockByNumber" and "null_block" in allowed:
            out.append("null_block")
        if "fork_head" in allowed and _block_by_number(ex.payload):
            data = ex.upstream_json()
            if isinstance(data, dict) and isinstance(data.get("result"), dict):
                out.append("fork_head")
        if ex.method == "eth_blockNumber" and "lagging_head" in allowed:
            out.append("lagging_head")
        if ex.method == "eth_getLogs":
            if allowed & set(RANGE_FAULTS) and self._log_range(ex) is not None:
                out.extend(f for f in RANGE_FAULTS if f in allowed)
            if "lagging_head" in allowed:
                out.append("lagging_head")
            if "missing_logs" in allowed:
                data = ex.upstream_json()
                if (isinstance(data, dict) and isinstance(data.get("result"), list)
                        and len(data["result"]) >= 2):
                    out.append("missing_logs")
            if "fork_log" in allowed:
                data = ex.upstream_json()
                if (isinstance(data, dict) and isinstance(data.get("result"), list)
                        and data["result"] and isinstance(data["result"][-1], dict)
                        and isinstance(data["result"][-1].get("blockHash"), str)):
                    out.append("fork_log")
        # keep the order of ALL_FAULTS so the choice is stable for a seed
        return [f for f in ALL_FAULTS if f in out]

    @staticmethod
    def _fork_header_target(ex: _Exchange, data: Any) -> dict | None:
        """The header fork_header alters in the batch answer `data`: the answer to the second
        to last of the batch's eth_getBlockByNumber calls by number (in a batch of consecutive
        blocks, the one the last block's parentHash names), if the node answered it."""
        ids = [call.get("id") for call in ex.payload if _block_by_number(call)]
        if len(ids) < 2 or not isinstance(data, list):
            return None
        for item in data:
            if (isinstance(item, dict) and item.get("id") == ids[-2]
                    and isinstance(item.get("result"), dict)):
                return item["result"]
        return None

    def _log_range(self, ex: _Exchange) -> tuple[int, int] | None:
        """(fromBlock, toBlock) of a single eth_getLogs spanning more than one block."""
        params = ex.payload.get("params")
        if not isinstance(params, list) or not params or not isinstance(params[0], dict):
            return None
        flt = params[0]
        if flt.get("blockHash") is not None:
            return None
        try:
            lo = self._block_number(flt.get("fromBlock", "latest"))
            hi = self._block_number(flt.get("toBlock", "latest"))
        except (ValueError, TypeError, requests.RequestException):
            return None
        if lo is None or hi is None or hi <= lo:
            return None
        return lo, hi

    def _block_number(self, tag: Any) -> int | None:
        if isinstance(tag, int):
            return tag
        if not isinstance(tag, str):
            return None
        if tag == "earliest":
            return 0
        if tag in ("latest", "pending", "safe", "finalized"):
            _, _, body = self._forward(json.dumps(
                {"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []}).encode())
            return int(json.loads(body)["result"], 16)
        return int(tag, 16)

    # --- upstream --------------------------------------------------------------------------

    def _forward(self, body: bytes) -> tuple[int, str, bytes]:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            r = session.post(self.upstream, data=body,
                             headers={"Content-Type": "application/json"},
                             timeout=UPSTREAM_TIMEOUT)
        except requests.RequestException as e:
            return 502, "text/plain", f"upstream error: {type(e).__name__}".encode()
        content = r.content
        if self.strip_block_timestamp and b'"blockTimestamp"' in content:
            content = self._without_block_timestamps(content)
        return r.status_code, r.headers.get("Content-Type", "application/json"), content

    # --- responses -------------------------------------------------------------------------

    def _handle(self, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        """The response to send (status, headers, body), or None to drop the connection."""
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, (dict, list)):
            status, ctype, out = self._forward(body)
            self._record("forwarded", "")
            return status, {"Content-Type": ctype}, out

        self._count_calls(payload)
        ex = _Exchange(self, body, payload)
        refusal = self._limit(ex)
        if refusal is not None:
            return refusal
        if self.range_limit is not None and ex.method == "eth_getLogs":
            span = self._log_range(ex)
            blocks, code, message = self.range_limit
            if span is not None and span[1] - span[0] + 1 > blocks:
                with self._lock:
                    self.refused += 1
                self._record("forwarded", ex.label)  # not a random fault: the provider's rule
                return self._json(self._rpc_error(ex, code, message))
        if self.state_window is not None:
            pruned = self._pruned_calls(ex)
            if pruned:
                return self._without_state(ex, pruned)
        inject, v = self._draw(payload)
        fault = None
        if inject:
            applicable = self._applicable(ex)
            if applicable and self._claim_fault():
                fault = applicable[min(int(v * len(applicable)), len(applicable) - 1)]
        if fault is None:
            if self.drop_logs and ex.method == "eth_getLogs":
                answer = self._drop(ex)
                if answer is not None:
                    self._record("drop_logs", ex.label)
                    return self._json(answer)
            status, ctype, out = ex.upstream()
            self._record("forwarded", ex.label)
            return status, {"Content-Type": ctype}, out

        self._record(fault, ex.label)
        return getattr(self, f"_fault_{fault}")(ex)

    # --- an incomplete log index, pruned state ---------------------------------------------

    def _drop(self, ex: _Exchange) -> dict | None:
        """The eth_getLogs answer with logs taken out, or None to leave it whole. The draws
        come from the seed, the request (without its id) and how often it was seen."""
        key = json.dumps({k: v for k, v in ex.payload.items() if k != "id"}, sort_keys=True)
        with self._lock:
            seen = self._drop_seen[key]
            self._drop_seen[key] += 1
        rng = random.Random(f"drop:{self.seed}:{seen}:{key}")
        if rng.random() >= self.drop_share:
            return None
        data = ex.upstream_json()
        if not isinstance(data, dict) or not isinstance(data.get("result"), list):
            return None
        logs = data["result"]
        where = self.drop_where or (lambda entry: True)
        if self.drop_tail:
            blocks: dict[str, list[int]] = {}
            for i, entry in enumerate(logs):
                blocks.setdefault(entry["blockNumber"], []).append(i)
            tails = [ix[-self.drop_logs:] for ix in blocks.values()
                     if any(where(logs[i]) for i in ix[-self.drop_logs:])]
            gone = set(rng.choice(tails)) if tails else set()
        else:
            candidates = [i for i, entry in enumerate(logs) if where(entry)]
            gone = set(rng.sample(candidates, min(self.drop_logs, len(candidates))))
        if not gone:
            return None
        with self._lock:
            if self.max_drops is not None and self._drops >= self.max_drops:
                return None
            self._drops += 1
            self.dropped.extend(logs[i] for i in sorted(gone))
        data["result"] = [entry for i, entry in enumerate(logs) if i not in gone]
        return data

    def _pruned_calls(self, ex: _Exchange) -> list[Any]:
        """The ids of the request's eth_calls at a block older than the state the node keeps."""
        items = ex.payload if ex.is_batch else [ex.payload]
        calls = [item for item in items if isinstance(item, dict)
                 and item.get("method") == "eth_call" and isinstance(item.get("params"), list)
                 and len(item["params"]) > 1 and isinstance(item["params"][1], str)
                 and item["params"][1].startswith("0x")]
        if not calls:
            return []
        head = self._block_number("latest")
        return [item.get("id") for item in calls
                if int(item["params"][1], 16) < head - self.state_window]

    def _without_state(self, ex: _Exchange, ids: list[Any]) -> tuple[int, dict[str, str], bytes]:
        root = hashlib.sha256(repr(ids).encode()).hexdigest()
        error = {"code": -32000, "message": MISSING_TRIE_NODE.format(root=root)}
        with self._lock:
            self.counts["missing_state"] += 1
        self._record("forwarded", ex.label)
        if not ex.is_batch:
            return self._json({"jsonrpc": "2.0", "id": ex.payload.get("id"), "error": error})
        answer = ex.upstream_json()
        if not isinstance(answer, list):
            status, ctype, out = ex.upstream()
            return status, {"Content-Type": ctype}, out
        for item in answer:
            if isinstance(item, dict) and item.get("id") in ids:
                item.pop("result", None)
                item["error"] = error
        return self._json(answer)

    def _count_calls(self, payload) -> None:
        with self._lock:
            for call in payload if isinstance(payload, list) else [payload]:
                if not isinstance(call, dict):
                    continue
                method = call.get("method") or "?"
                self.calls[method] += 1
                params = call.get("params")
                if method == "eth_getBlockByNumber" and isinstance(params, list) and params \
                        and isinstance(params[0], str):
                    if params[0].startswith("0x"):
                        self.blocks_asked[int(params[0], 16)] += 1
                    else:
                        self.tags_asked[params[0]] += 1

    @staticmethod
    def _without_block_timestamps(body: bytes) -> bytes:
        answer = json.loads(body)
        for item in answer if isinstance(answer, list) else [answer]:
            result = item.get("result") if isinstance(item, dict) else None
            if isinstance(result, list):
                for entry in result:
                    if isinstance(entry, dict):
                        entry.pop("blockTimestamp", None)
        return json.dumps(answer).encode()

    @staticmethod
    def _json(obj: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(obj).encode()

    @staticmethod
    def _rpc_error(ex: _Exchange, code: int, message: str) -> dict:
        rid = ex.payload.get("id") if isinstance(ex.payload, dict) else None
        return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}

    def _fault_http_429(self, ex):
        with self._lock:
            retry_after = str(self._retry_after_toggle)
            self._retry_after_toggle ^= 1
        return 429, {"Content-Type": "application/json", "Retry-After": retry_after}, \
            b'{"error":"rate limited"}'

    def _fault_http_500(self, ex):
        return 500, {"Content-Type": "text/plain"}, b"Internal Server Error"

    def _fault_timeout(self, ex):
        self._stopping.wait(self.timeout_seconds)
        return None

    def _fault_truncated(self, ex):
        _, ctype, out = ex.upstream()
        return 200, {"Content-Type": ctype}, out[: len(out) // 2]

    def _fault_range_hint(self, ex):
        lo, hi = self._log_range(ex)
        mid = (lo + hi) // 2
        return self._json(self._rpc_error(
            ex, -32005, f"query returned more than 10000 results. "
                        f"Try with this block range [{hex(lo)}, {hex(mid)}]."))

    def _fault_range_inverted_hint(self, ex):
        lo, hi = self._log_range(ex)
        mid = (lo + hi) // 2
        return self._json(self._rpc_error(
            ex, -32602, "Log response size exceeded. You can make eth_getLogs requests with up "
                        "to a 2K block range and no limit on the response size, or you can "
                        "request any block range with a cap of 10K logs in the response. Based "
                        "on your parameters, this block range should work: "
                        f"[{hex(mid)}, {hex(lo)}]"))

    def _fault_range_no_hint(self, ex):
        return self._json(self._rpc_error(ex, -32600, "block range is too wide"))

    def _fault_credits(self, ex):
        return self._json(self._rpc_error(ex, -32012, "credits limited"))

    def _fault_null_block(self, ex):
        data = ex.upstream_json()
        if ex.is_batch:
            ids = [e.get("id") for e in ex.payload
                   if isinstance(e, dict) and e.get("method") == "eth_getBlockByNumber"]
            if isinstance(data, list):
                for item in data:
                    if isinstance(item, dict) and item.get("id") in ids:
                        item.pop("error", None)
                        item["result"] = None
                        break
                return self._json(data)
        elif isinstance(data, dict):
            data.pop("error", None)
            data["result"] = None
            return self._json(data)
        status, ctype, out = ex.upstream()  # upstream failed: pass its answer through
        return status, {"Content-Type": ctype}, out

    def _fault_lagging_head(self, ex):
        if ex.method == "eth_getLogs":
            return self._json(self._rpc_error(
                ex, -32000, "block range extends beyond current head block"))
        data = ex.upstream_json()
        if isinstance(data, dict) and isinstance(data.get("result"), str):
            data["result"] = hex(max(0, int(data["result"], 16) - LAG_BLOCKS))
            return self._json(data)
        status, ctype, out = ex.upstream()
        return status, {"Content-Type": ctype}, out

    def _fault_missing_logs(self, ex):
        data = ex.upstream_json()  # applicability guaranteed a list of >= 2 logs
        data["result"] = data["result"][:-1]
        return self._json(data)

    def _fault_fork_log(self, ex):
        """The logs of the answer's last block carry another fork's hash for that block."""
        data = ex.upstream_json()  # applicability guaranteed a list of >= 1 log
        real = data["result"][-1]["blockHash"]
        for entry in data["result"]:
            if entry.get("blockHash") == real:
                entry["blockHash"] = other_fork_hash(real)
        return self._json(data)

    def _fault_fork_header(self, ex):
        """One header of a batch (see _fork_header_target) comes from another fork."""
        data = ex.upstream_json()
        header = self._fork_header_target(ex, data)  # applicability guaranteed one
        header["hash"] = other_fork_hash(header["hash"])
        return self._json(data)

    def _fault_fork_head(self, ex):
        """A block read by number comes from another fork: the chain moved at that height."""
        data = ex.upstream_json()
        data["result"]["hash"] = other_fork_hash(data["result"]["hash"])
        return self._json(data)


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = self.proxy._handle(body)
        if answer is None:  # "timeout": no response at all, just a closed connection
            self.close_connection = True
            return
        status, headers, out = answer
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self) -> None:  # noqa: N802
        out = b"POST JSON-RPC only"
        self.send_response(405)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, format: str, *args) -> None:  # quiet; the path holds the "API key"
        pass

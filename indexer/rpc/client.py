"""JSON-RPC over HTTP: the hot path (eth_getLogs, batched headers) on one keep-alive session.

The hot path posts JSON-RPC over one keep-alive HTTP session and parses with orjson: web3's
provider stack would wrap every log in an AttributeDict and run its formatters, which costs more
than everything else the scanner does. Faults are classified in limits.py; retryable ones are
retried here with tenacity (jittered exponential back-off). Every request first waits its turn
at its endpoint's `Pacer` (pacing.py): the budget, a rate refusal's hold, a quota pause. Rate
refusals are retried without using up the attempts meant for faults, batches are cut to what
the budget and the endpoint's batch cap allow, and a used-up quota pauses a client that has a
stop event (the sync) until the quota resets.
"""

from __future__ import annotations

import collections
import itertools
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import orjson
import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from indexer.errors import ChainMismatch, RpcError
from indexer.rpc.limits import (BatchTooLarge, QuotaExhausted, RateLimited,
                                RetryableRpcError, Unanswered, classify_error, parse_backoff,
                                parse_retry_after)
from indexer.rpc.endpoint import Endpoint, merge_usage, refusal_kind
from indexer.rpc.pacing import RpcStopped

log = logging.getLogger(__name__)

# What the sync reads of a block header.
HEADER_FIELDS = ("number", "hash", "parentHash", "timestamp")
# Back-off between attempts after a fault: jittered exponential from 0.5 s, capped at 30 s per wait.
BACKOFF_MULTIPLIER = 0.5
BACKOFF_MAX_SECONDS = 30.0
# Rate refusals do not use up the attempts meant for faults: the pacer slows down instead. A
# request refused for rate this long without a break fails all the same (a budget cut to its
# floor and still refused: a revoked key, another application on the same key).
RATE_LIMIT_PATIENCE_SECONDS = 900.0


@dataclass
class RpcStats:
    """One client's requests: HTTP requests and calls (batch items), in all and by method,
    retries, calls refused by kind (rate, range, batch, quota, other) and the credits billed
    (in its pricing's unit; calls without a pricing)."""

    requests: int = 0
    calls: int = 0
    retries: int = 0
    requests_by_method: collections.Counter = field(default_factory=collections.Counter)
    calls_by_method: collections.Counter = field(default_factory=collections.Counter)
    credits_by_method: collections.Counter = field(default_factory=collections.Counter)
    refused: collections.Counter = field(default_factory=collections.Counter)

    @property
    def credits(self) -> float:
        return sum(self.credits_by_method.values())


def _utc(wall: float) -> str:
    return datetime.fromtimestamp(wall, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class RpcClient:
    """JSON-RPC over HTTP. One client per thread; endpoints (and their pacing) can be shared.

    With several endpoints, a retryable fault moves the next attempt to the next endpoint
    (failover); the client stays on an endpoint while it answers. `stop` makes it a long-running
    client (the sync): every wait (back-off, pacing, a quota pause) ends at once when the event
    is set, raising RpcStopped, and a used-up quota pauses it until the quota resets instead of
    failing.
    """

    def __init__(self, endpoints: str | Sequence[Endpoint], *, timeout: float = 30.0,
                 max_attempts: int = 8, backoff: float = BACKOFF_MULTIPLIER,
                 chain_id: int | None = None, metrics=None, stop: threading.Event | None = None):
        if isinstance(endpoints, str):
            endpoints = [Endpoint(endpoints)]
        self.endpoints = list(endpoints)
        self._current = 0
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.chain_id = chain_id  # when set, every endpoint is checked against it before use
        self.metrics = metrics  # indexer.metrics.NullMetrics-like
        self.stop = stop
        self.stats = RpcStats()
        self._session = requests.Session()
        self._session.headers["Content-Type"] = "application/json"
        self._ids = itertools.count(1)
        if metrics is not None:
            metrics.rpc_budget(self.endpoints[0].pacer.rate())

    @property
    def safe_url(self) -> str:
        return self.endpoints[self._current].safe_url

    def close(self) -> None:
        self._session.close()

    def usage(self) -> dict:
        """What every client sharing these endpoints sent since they were made (`since`, UTC):
        requests, calls and credits by method, calls refused by kind, the pricing's name and
        unit; and the quota pause under way, if any (`paused_until` UTC, its reason and
        endpoint)."""
        pricing = self.endpoints[0].pricing
        out = merge_usage([e.usage.snapshot() for e in self.endpoints])
        since = min(e.usage.since for e in self.endpoints)
        paused = [e for e in self.endpoints if e.pacer.paused_until is not None]
        pause = paused[0].pacer if paused else None
        return {
            "since": datetime.fromtimestamp(since, timezone.utc).isoformat(timespec="seconds"),
            "pricing": pricing.name, "unit": pricing.unit, **out,
            "paused_until": (datetime.fromtimestamp(pause.paused_until, timezone.utc)
                             .isoformat(timespec="seconds") if pause else None),
            "pause_reason": pause.pause_reason if pause else None,
            "paused_endpoint": paused[0].safe_url if paused else None,
        }

    def cost(self) -> float:
        """What every client sharing these endpoints spent so far, in the pricing's unit (calls
        without one)."""
        return sum(sum(e.usage.snapshot().get("credits", {}).values()) for e in self.endpoints)

    def next_endpoint(self) -> None:
        """Send the next requests to the next endpoint (a second opinion), if there is one."""
        if len(self.endpoints) > 1:
            self._current = (self._current + 1) % len(self.endpoints)

    def batch_room(self, method: str, limit: int) -> int:
        """How many calls of `method` one batch should carry now (1 to `limit`): what about
        one second of the endpoint's budget pays for, within its batch cap."""
        pacer = self.endpoints[self._current].pacer
        return pacer.fit([pacer.pricing.cost(method)] * max(1, limit), limit)

    # -- waiting -----------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        """Every wait of this client: ends at once (RpcStopped) when the stop event is set."""
        if self.stop is None:
            if seconds > 0:
                time.sleep(seconds)
            return
        if self.stop.wait(max(0.0, seconds)):
            raise RpcStopped("stopped while waiting on the RPC")

    # -- transport ---------------------------------------------------------------------------

    def _pick(self) -> Endpoint:
        """The endpoint for the next request: the current one, unless its quota is used up and
        another's is not."""
        endpoint = self.endpoints[self._current]
        if endpoint.pacer.paused and len(self.endpoints) > 1:
            for step in range(1, len(self.endpoints)):
                i = (self._current + step) % len(self.endpoints)
                if not self.endpoints[i].pacer.paused:
                    self._current = i
                    return self.endpoints[i]
        return endpoint

    def _exchange(self, methods: list[str], body: bytes, as_batch: bool) -> Any:
        """One HTTP request carrying calls of `methods`: its checked answer, or the exception
        that says what its failure means. A retryable fault moves this client to the next
        endpoint."""
        endpoint = self._pick()
        try:
            if self.chain_id is not None and not endpoint.chain_checked:
                self._check_endpoint(endpoint)
            return self._send(endpoint, methods, body, as_batch)
        except RetryableRpcError:
            if len(self.endpoints) > 1:
                self._current = (self.endpoints.index(endpoint) + 1) % len(self.endpoints)
            raise
        except (BatchTooLarge, QuotaExhausted) as exc:
            exc.endpoint = endpoint
            raise

    def _check_endpoint(self, endpoint: Endpoint) -> None:
        """A failover must never switch chains: ask each endpoint its chain id before using it."""
        body = orjson.dumps({"jsonrpc": "2.0", "id": 0, "method": "eth_chainId", "params": []})
        result = self._send(endpoint, ["eth_chainId"], body, False)["result"]
        if not isinstance(result, str):
            raise RetryableRpcError(f"unexpected eth_chainId answer from {endpoint.safe_url}")
        actual = int(result, 16)
        if actual != self.chain_id:
            raise ChainMismatch(
                f"RPC endpoint {endpoint.safe_url} serves chain id {actual}, but the config says "
                f"{self.chain_id}: fix [chain] id or the RPC URL"
            )
        endpoint.chain_checked = True

    def _send(self, endpoint: Endpoint, methods: list[str], body: bytes, as_batch: bool) -> Any:
        """Wait for the endpoint's pacer, post, account for what came back."""
        pacer = endpoint.pacer
        pacer.acquire(pacer.cost(methods), self._sleep)
        sent_at = pacer.clock()
        items: list[Exception | None] = [None] * len(methods)
        try:
            payload = self._post_to(endpoint, body, as_batch, len(methods))
            if as_batch:
                items = [classify_error(it["error"]) if it.get("error") is not None else None
                         for it in payload]
        except Exception as exc:
            self._account(endpoint, methods, [exc] * len(methods), sent_at)
            raise
        self._account(endpoint, methods, items, sent_at)
        for err in items:  # one call refused for rate or quota: the batch is sent again
            if isinstance(err, (RateLimited, QuotaExhausted)):
                raise err
        if pacer.paused and pacer.resume(sent_at):
            log.warning("%s answers again: the quota pause is over", endpoint.safe_url)
            if self.metrics is not None:
                self.metrics.rpc_quota(None)
        return payload

    def _post_to(self, endpoint: Endpoint, body: bytes, as_batch: bool, n: int) -> Any:
        """POST `body`: the JSON answer (a dict with a result, or a list of `n` items), or the
        classified failure."""
        safe_url = endpoint.safe_url
        try:
            resp = self._session.post(endpoint.url, data=body, timeout=self.timeout)
        except requests.Timeout:
            raise Unanswered(f"time-out after {self.timeout:g}s from {safe_url}") from None
        except requests.RequestException as exc:
            raise Unanswered(f"cannot reach {safe_url}: {type(exc).__name__}") from None
        status = resp.status_code
        try:
            payload = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            payload = None
        if status == 429:
            wait = parse_retry_after(resp.headers.get("Retry-After"))
            if wait is None:
                wait = _backoff_in(payload)
            raise RateLimited(f"HTTP 429 from {safe_url}", wait)
        if status == 402:
            raise QuotaExhausted(f"HTTP 402 from {safe_url}{_error_text(payload)}")
        if status == 413 and as_batch:
            raise BatchTooLarge(f"HTTP 413 from {safe_url}")
        if status >= 500 or status in (408, 425):
            raise Unanswered(f"HTTP {status} from {safe_url}")
        if payload is None:
            if status >= 400:
                raise RpcError(f"HTTP {status} from {safe_url}")
            raise Unanswered(f"garbled JSON body from {safe_url}")
        if isinstance(payload, dict) and payload.get("error") is not None:
            err = classify_error(payload["error"])
            if as_batch and type(err) is RpcError and _code(payload["error"]) == -32600:
                # A batch refused whole as an invalid request: what endpoints that cap batches
                # answer when their text says nothing more.
                err = BatchTooLarge(str(err).removeprefix("RPC error "))
            raise err
        if not as_batch:
            if not isinstance(payload, dict):
                raise Unanswered(f"unexpected JSON-RPC answer from {safe_url}")
            if "result" not in payload:
                raise Unanswered(f"JSON-RPC answer without result from {safe_url}")
            return payload
        if not isinstance(payload, list) or not all(isinstance(i, dict) for i in payload):
            raise Unanswered(f"batch answer of the wrong shape from {safe_url}")
        if len(payload) != n:
            # geth's --rpc.batch-request-limit: one error, carrying the first call's id.
            for item in payload:
                if item.get("error") is not None:
                    err = classify_error(item["error"])
                    if isinstance(err, BatchTooLarge):
                        raise err
                    if _code(item["error"]) == -32600:
                        raise BatchTooLarge(str(err).removeprefix("RPC error "))
            raise Unanswered(f"batch answer of the wrong shape from {safe_url}")
        return payload

    def _account(self, endpoint: Endpoint, methods: list[str], errors: list[Exception | None],
                 sent_at: float) -> None:
        """Count one request: by method, refusals by kind, credits of the calls billed (every
        answered call but those refused for rate, quota or batch size); a rate refusal slows
        the endpoint's pacer down."""
        kinds = [refusal_kind(e) for e in errors]
        pricing = endpoint.pricing
        billed = [0.0 if isinstance(e, Unanswered) or k in ("rate", "quota", "batch")
                  else pricing.cost(m) for m, e, k in zip(methods, errors, kinds)]
        endpoint.usage.add(methods, billed, kinds)
        s = self.stats
        s.requests += 1
        s.calls += len(methods)
        s.requests_by_method[methods[0]] += 1
        for method, credits, kind in zip(methods, billed, kinds):
            s.calls_by_method[method] += 1
            if credits:
                s.credits_by_method[method] += credits
            if kind is not None:
                s.refused[kind] += 1
        whole = errors[0] if all(e is errors[0] for e in errors) else None
        if self.metrics is not None:
            self.metrics.rpc_request(methods[0], type(whole).__name__ if whole else None)
            self.metrics.rpc_calls(methods, billed, kinds)
        rate = [e for e in errors if isinstance(e, RateLimited)]
        if rate:
            retry_after = max((e.retry_after or 0.0) for e in rate) or None
            pacer = endpoint.pacer
            if pacer.on_rate_limited(sent_at, retry_after) and pacer.aimd.cuts == 1 \
                    and pacer.aimd.ceiling is None:
                log.warning("%s refuses requests for rate and no budget is configured: pacing "
                            "to %.0f %s/s from now on, learned from the rate just sent; set "
                            "[rpc] pricing and max_credits_per_second to pace to your plan",
                            endpoint.safe_url, pacer.rate(), pacer.pricing.unit)
            if self.metrics is not None:
                self.metrics.rpc_budget(pacer.rate())

    # -- retries -----------------------------------------------------------------------------

    def _with_retries(self, fn, what: str, attempts: int | None = None):
        """fn() until it answers: faults retried `attempts` times in all with jittered
        exponential back-off, rate refusals for as long as RATE_LIMIT_PATIENCE_SECONDS (the
        pacer slows down meanwhile), and a used-up quota waited out (clients with a stop
        event) or reported."""
        attempts = attempts or self.max_attempts
        while True:
            try:
                return self._retrying(fn, what, attempts)
            except QuotaExhausted as exc:
                if self.stop is None:
                    raise RpcError(f"{what}: the provider's quota is used up ({exc}); it "
                                   "answers again once the quota resets") from None
                self._pause(exc)

    def _pause(self, exc: QuotaExhausted) -> None:
        endpoint = exc.endpoint or self.endpoints[self._current]
        until, state = endpoint.pacer.pause(str(exc))
        if state is not None and self.metrics is not None:
            self.metrics.rpc_quota(until)
        others = [e for e in self.endpoints if not e.pacer.paused]
        if state == "started":
            log.warning("%s: quota used up (%s): %s until %s (stop with Ctrl-C or SIGTERM)",
                        endpoint.safe_url, exc,
                        f"using {others[0].safe_url}" if others else "pausing", _utc(until))
        elif state == "renewed":
            log.info("%s: quota still used up: next try at %s", endpoint.safe_url, _utc(until))

    def _retrying(self, fn, what: str, attempts: int):
        faults = 0
        rate_since: float | None = None

        def stop(state: RetryCallState) -> bool:
            nonlocal faults, rate_since
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RateLimited):
                now = time.monotonic()
                rate_since = rate_since if rate_since is not None else now
                return now - rate_since >= RATE_LIMIT_PATIENCE_SECONDS
            rate_since = None
            faults += 1
            return faults >= attempts

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RateLimited):
                return 0.0  # the pacer holds the next attempt as long as the provider asked
            return random.uniform(0, min(BACKOFF_MAX_SECONDS, self.backoff * 2 ** (faults - 1)))

        def before_sleep(state: RetryCallState) -> None:
            self.stats.retries += 1
            if self.metrics is not None:
                self.metrics.retry()
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RateLimited):
                endpoint = self.endpoints[self._current]
                rate = endpoint.pacer.rate()
                log.warning("%s refused for rate (%s); retrying in %.1fs%s", what, exc,
                            endpoint.pacer.hold_remaining(),
                            f" at {rate:.0f} {endpoint.pricing.unit}/s" if rate else "")
                return
            log.warning(
                "%s failed (attempt %d/%d): %s; retrying in %.1fs",
                what, faults, attempts, exc,
                state.next_action.sleep if state.next_action else 0.0,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(RetryableRpcError),
            stop=stop,
            wait=wait,
            before_sleep=before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except RateLimited as exc:
            raise RpcError(f"{what} refused for rate for {RATE_LIMIT_PATIENCE_SECONDS:.0f}s "
                           f"without a break; last answer: {exc}") from None
        except RetryableRpcError as exc:
            raise RpcError(f"{what} failed {attempts} times; last error: {exc}") from None

    # -- calls -------------------------------------------------------------------------------

    def _single(self, method: str, params: list[Any]) -> Any:
        body = orjson.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                             "params": params})
        try:
            return self._exchange([method], body, False)["result"]
        except BatchTooLarge as exc:  # a single call is no batch: an error like any other
            raise RpcError(f"RPC error {exc}") from None

    def request(self, method: str, params: list[Any], *, attempts: int | None = None) -> Any:
        return self._with_retries(lambda: self._single(method, params), method, attempts)

    def _batch(self, calls: Sequence[tuple[str, list[Any]]], *,
               errors_as_none: bool = False) -> list[Any]:
        first = next(self._ids)
        ids = range(first, first + len(calls))
        # Reserve the ids we used so the counter never hands them out again.
        for _ in range(len(calls) - 1):
            next(self._ids)
        body = orjson.dumps(
            [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls)]
        )
        payload = self._exchange([m for m, _ in calls], body, True)
        by_id = {item.get("id"): item for item in payload}
        results = []
        for i, (method, _) in zip(ids, calls):
            item = by_id.get(i)
            if item is None:
                raise Unanswered(f"batch answer lacks id {i} ({method}) from {self.safe_url}")
            if item.get("error") is not None:
                err = classify_error(item["error"])
                if not (errors_as_none and isinstance(err, RpcError)):
                    raise err
                results.append(None)
                continue
            results.append(item.get("result"))
        return results

    def _one(self, method: str, params: list[Any], errors_as_none: bool) -> Any:
        try:
            return self._single(method, params)
        except RpcError:
            if errors_as_none:
                return None
            raise

    def _calls(self, calls: Sequence[tuple[str, list[Any]]], what: Callable[[Sequence], str], *,
               limit: int | None = None, errors_as_none: bool = False,
               check: Callable[[Sequence, list], None] | None = None) -> list[Any]:
        """`calls` in as few requests as the budget and the endpoint's batch cap allow (each at
        most `limit` calls); results in the order of `calls`. A batch refused as too large is
        sent again in smaller ones, down to single calls."""
        out: list[Any] = []
        i = 0
        while i < len(calls):
            pacer = self.endpoints[self._current].pacer
            window = calls[i:i + limit] if limit else calls[i:]
            n = pacer.fit([pacer.pricing.cost(m) for m, _ in window], limit)
            part = calls[i:i + n]

            def attempt(part=part):
                if len(part) == 1:
                    res = [self._one(part[0][0], part[0][1], errors_as_none)]
                else:
                    res = self._batch(part, errors_as_none=errors_as_none)
                if check is not None:
                    check(part, res)
                return res

            try:
                res = self._with_retries(attempt, what(part))
            except BatchTooLarge as exc:
                self._shrink(exc, len(part))
                continue
            out.extend(res)
            i += len(part)
        return out

    def _shrink(self, exc: BatchTooLarge, size: int) -> None:
        endpoint = exc.endpoint or self.endpoints[self._current]
        cap, first = endpoint.pacer.limit_batch(size, exc.cap)
        if first:
            log.warning("%s refuses batches of %d calls (%s): at most %d per batch from now on",
                        endpoint.safe_url, size, exc, cap)
        else:
            log.debug("%s refuses batches of %d calls too: at most %d", endpoint.safe_url, size, cap)

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in as few HTTP requests as the budget and batch cap allow; results
        in the order of `calls`."""
        if not calls:
            return []
        return self._calls(calls, lambda part: f"batch of {len(part)} {part[0][0]}")

    # -- methods -----------------------------------------------------------------------------

    def fetch_block_number(self) -> int:
        return int(self.request("eth_blockNumber", []), 16)

    def fetch_header(self, tag: int | str) -> dict[str, Any] | None:
        """A block header by number or tag ('latest', 'finalized', 'safe'); None if unknown."""
        param = hex(tag) if isinstance(tag, int) else tag
        return self.request("eth_getBlockByNumber", [param, False])

    def fetch_chain_head(self) -> tuple[int, int | None, int | None]:
        """(head, safe, finalized) block numbers in one request; None where the node has no such tag."""
        calls = [("eth_blockNumber", []), ("eth_getBlockByNumber", ["safe", False]),
                 ("eth_getBlockByNumber", ["finalized", False])]
        head, safe, final = self._calls(calls, lambda part: "chain head", errors_as_none=True)
        if head is None:
            raise RpcError(f"eth_blockNumber failed on {self.safe_url}")
        return (int(head, 16), int(safe["number"], 16) if safe else None,
                int(final["number"], 16) if final else None)

    def fetch_headers(self, numbers: Sequence[int], chunk: int = 250) -> dict[int, dict[str, Any]]:
        """Headers of many blocks in batched requests of at most `chunk`, fewer when the budget
        or the endpoint's batch cap says so. A `null` (node not there yet) is retried. Only
        number, hash, parentHash and timestamp are kept: a mainnet header also lists its ~170
        transaction hashes (14 KB), and a range's worth of them cost the sync a gigabyte."""
        calls = [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]

        def check(part, res) -> None:
            for (_, params), header in zip(part, res):
                if header is None:
                    raise RetryableRpcError(
                        f"node has no block {int(params[0], 16)} yet ({self.safe_url})")

        res = self._calls(
            calls, lambda part: f"headers {int(part[0][1][0], 16)}-{int(part[-1][1][0], 16)}",
            limit=chunk, check=check)
        return {n: {key: header[key] for key in HEADER_FIELDS if key in header}
                for n, header in zip(numbers, res)}

    def fetch_logs(self, from_block: int, to_block: int, addresses: Sequence[str],
                   topics: Sequence[str]) -> list[dict[str, Any]]:
        """eth_getLogs for a range; raises RangeTooLarge when the provider wants a smaller one."""
        flt = {
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
            "address": list(addresses),
            "topics": [list(topics)],
        }
        return self._with_retries(lambda: self._single("eth_getLogs", [flt]),
                                  f"eth_getLogs {from_block}-{to_block}")

    def fetch_logs_from(self, index: int, from_block: int, to_block: int, addresses: Sequence[str],
                        topics: Sequence[str]) -> list[dict[str, Any]]:
        """fetch_logs asked of endpoint `index` (a second opinion); the client's own endpoint
        is as before afterwards."""
        current = self._current
        self._current = index % len(self.endpoints)
        try:
            return self.fetch_logs(from_block, to_block, addresses, topics)
        finally:
            self._current = current

    @property
    def current_index(self) -> int:
        return self._current

    def fetch_storage_at(self, address: str, slot: str, block: int) -> str:
        """One 32-byte storage word (0x-hex). A past block's state needs an archive node; a
        node without it answers an error that is tried twice, not `max_attempts` times."""
        return self.request("eth_getStorageAt", [address, slot, hex(block)], attempts=2)

    def call(self, to: str, data: str, block: int | str = "latest") -> bytes:
        param = hex(block) if isinstance(block, int) else block
        result = self.request("eth_call", [{"to": to, "data": data}, param])
        return bytes.fromhex(result[2:])


def _code(error: Any) -> Any:
    return error.get("code") if isinstance(error, dict) else None


def _error_text(payload: Any) -> str:
    """': message: details' of an error body (Infura's 402 is a bare {"code", "message",
    "details"}; others wrap it in a JSON-RPC envelope), or ''."""
    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, dict) else payload
    if not isinstance(error, dict):
        return ""
    parts = [str(error[k]) for k in ("message", "details") if error.get(k)]
    return (": " + ": ".join(parts))[:300] if parts else ""


def _backoff_in(payload: Any) -> float | None:
    """Infura's `backoff_seconds` in a 429 body: a JSON-RPC error, or a list of them (batch)."""
    items = payload if isinstance(payload, list) else [payload]
    for item in items:
        error = item.get("error") if isinstance(item, dict) else None
        if isinstance(error, dict):
            wait = parse_backoff(error.get("data"))
            if wait is not None:
                return wait
    return None

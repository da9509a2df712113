"""JSON-RPC over HTTP: the hot path (eth_getLogs, batched headers) on one keep-alive session.

The hot path posts JSON-RPC over one keep-alive HTTP session and parses with orjson: web3's
provider stack would wrap every log in an AttributeDict and run its formatters, which costs more
than everything else the scanner does. Faults are classified in limits.py; retryable ones are
retried here with tenacity (jittered exponential back-off, a 429's Retry-After honoured).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import orjson
import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from indexer.errors import ChainMismatch, RpcError
from indexer.rpc.limits import RateLimited, RetryableRpcError, parse_retry_after, classify_error
from indexer.rpc.redact import redact_url, register_secret_url

log = logging.getLogger(__name__)

# Back-off between attempts: jittered exponential from 0.5 s, capped at 30 s per wait.
BACKOFF_MULTIPLIER = 0.5
BACKOFF_MAX_SECONDS = 30.0


@dataclass
class RpcStats:
    requests: int = 0
    calls: int = 0
    retries: int = 0


class Endpoint:
    """One RPC URL with its request-rate limit, shared by every client that uses it."""

    def __init__(self, url: str, max_requests_per_second: float = 0.0):
        register_secret_url(url)
        self.url = url
        self.safe_url = redact_url(url)
        self._interval = 1.0 / max_requests_per_second if max_requests_per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self.chain_checked = False  # set once eth_chainId answered with the expected id

    def wait_turn(self) -> None:
        """Sleep until this endpoint may take another request (no-op without a limit)."""
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            time.sleep(start - now)


def make_endpoints(urls: Sequence[str], max_requests_per_second: float = 0.0) -> list[Endpoint]:
    return [Endpoint(u, max_requests_per_second) for u in urls]


class RpcClient:
    """JSON-RPC over HTTP. One client per thread; endpoints (and their rate limits) can be shared.

    With several endpoints, a retryable fault moves the next attempt to the next endpoint
    (failover); the client stays on an endpoint while it answers.
    """

    def __init__(self, endpoints: str | Sequence[Endpoint], *, timeout: float = 30.0,
                 max_attempts: int = 8, backoff: float = BACKOFF_MULTIPLIER,
                 chain_id: int | None = None, metrics=None):
        if isinstance(endpoints, str):
            endpoints = [Endpoint(endpoints)]
        self.endpoints = list(endpoints)
        self._current = 0
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.chain_id = chain_id  # when set, every endpoint is checked against it before use
        self.metrics = metrics  # indexer.metrics.NullMetrics-like: rpc_request(), retry()
        self.stats = RpcStats()
        self._session = requests.Session()
        self._session.headers["Content-Type"] = "application/json"
        self._ids = itertools.count(1)

    @property
    def safe_url(self) -> str:
        return self.endpoints[self._current].safe_url

    def close(self) -> None:
        self._session.close()

    # -- transport ---------------------------------------------------------------------------

    def _post(self, body: bytes) -> Any:
        """One HTTP POST; returns the parsed JSON or raises a classified exception. A retryable
        fault moves this client to the next endpoint."""
        endpoint = self.endpoints[self._current]
        try:
            if self.chain_id is not None and not endpoint.chain_checked:
                self._check_endpoint(endpoint)
            return self._post_to(endpoint, body)
        except RetryableRpcError:
            if len(self.endpoints) > 1:
                self._current = (self._current + 1) % len(self.endpoints)
            raise

    def _check_endpoint(self, endpoint: Endpoint) -> None:
        """A failover must never switch chains: ask each endpoint its chain id before using it."""
        body = orjson.dumps({"jsonrpc": "2.0", "id": 0, "method": "eth_chainId", "params": []})
        payload = self._post_to(endpoint, body)
        if not isinstance(payload, dict) or not isinstance(payload.get("result"), str):
            if isinstance(payload, dict) and payload.get("error") is not None:
                raise classify_error(payload["error"])
            raise RetryableRpcError(f"unexpected eth_chainId answer from {endpoint.safe_url}")
        actual = int(payload["result"], 16)
        if actual != self.chain_id:
            raise ChainMismatch(
                f"RPC endpoint {endpoint.safe_url} serves chain id {actual}, but the config says "
                f"{self.chain_id}: fix [chain] id or the RPC URL"
            )
        endpoint.chain_checked = True

    def _post_to(self, endpoint: Endpoint, body: bytes) -> Any:
        endpoint.wait_turn()
        self.stats.requests += 1
        url, safe_url = endpoint.url, endpoint.safe_url
        try:
            resp = self._session.post(url, data=body, timeout=self.timeout)
        except requests.Timeout:
            raise RetryableRpcError(f"time-out after {self.timeout:g}s from {safe_url}") from None
        except requests.RequestException as exc:
            raise RetryableRpcError(
                f"cannot reach {safe_url}: {type(exc).__name__}"
            ) from None
        if resp.status_code == 429:
            raise RateLimited(
                f"HTTP 429 from {safe_url}", parse_retry_after(resp.headers.get("Retry-After"))
            )
        if resp.status_code >= 500 or resp.status_code in (408, 425):
            raise RetryableRpcError(f"HTTP {resp.status_code} from {safe_url}")
        try:
            payload = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            if resp.status_code >= 400:
                raise RpcError(f"HTTP {resp.status_code} from {safe_url}") from None
            raise RetryableRpcError(f"garbled JSON body from {safe_url}") from None
        return payload

    def _with_retries(self, fn, what: str, attempts: int | None = None):
        attempts = attempts or self.max_attempts
        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RateLimited) and exc.retry_after is not None:
                return exc.retry_after
            return wait_random_exponential(multiplier=self.backoff, max=BACKOFF_MAX_SECONDS)(state)

        def before_sleep(state: RetryCallState) -> None:
            self.stats.retries += 1
            if self.metrics is not None:
                self.metrics.retry()
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s failed (attempt %d/%d): %s; retrying in %.1fs",
                what, state.attempt_number, attempts, exc,
                state.next_action.sleep if state.next_action else 0.0,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(RetryableRpcError),
            stop=stop_after_attempt(attempts),
            wait=wait,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except RetryableRpcError as exc:
            raise RpcError(f"{what} failed {attempts} times; last error: {exc}") from None

    def _observed_post(self, method: str, body: bytes) -> Any:
        """_post, reported to metrics by method and error class."""
        if self.metrics is None:
            return self._post(body)
        try:
            payload = self._post(body)
        except Exception as exc:
            self.metrics.rpc_request(method, type(exc).__name__)
            raise
        error = payload.get("error") if isinstance(payload, dict) else None
        self.metrics.rpc_request(method, type(classify_error(error)).__name__ if error else None)
        return payload

    def _single(self, method: str, params: list[Any]) -> Any:
        body = orjson.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params})
        self.stats.calls += 1
        payload = self._observed_post(method, body)
        if not isinstance(payload, dict):
            raise RetryableRpcError(f"unexpected JSON-RPC answer to {method} from {self.safe_url}")
        if "error" in payload and payload["error"] is not None:
            raise classify_error(payload["error"])
        if "result" not in payload:
            raise RetryableRpcError(f"JSON-RPC answer to {method} without result from {self.safe_url}")
        return payload["result"]

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
        self.stats.calls += len(calls)
        payload = self._observed_post(calls[0][0], body)
        if isinstance(payload, dict) and "error" in payload:
            raise classify_error(payload["error"])
        if not isinstance(payload, list) or len(payload) != len(calls):
            raise RetryableRpcError(f"batch answer of the wrong shape from {self.safe_url}")
        by_id = {item.get("id"): item for item in payload if isinstance(item, dict)}
        results = []
        for i, (method, _) in zip(ids, calls):
            item = by_id.get(i)
            if item is None:
                raise RetryableRpcError(f"batch answer lacks id {i} ({method}) from {self.safe_url}")
            if item.get("error") is not None:
                err = classify_error(item["error"])
                if not (errors_as_none and isinstance(err, RpcError)):
                    raise err
                results.append(None)
                continue
            results.append(item.get("result"))
        return results

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one HTTP request; results in the order of `calls`."""
        if not calls:
            return []
        return self._with_retries(lambda: self._batch(calls), f"batch of {len(calls)} {calls[0][0]}")

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
        head, safe, final = self._with_retries(
            lambda: self._batch(calls, errors_as_none=True), "chain head")
        if head is None:
            raise RpcError(f"eth_blockNumber failed on {self.safe_url}")
        return (int(head, 16), int(safe["number"], 16) if safe else None,
                int(final["number"], 16) if final else None)

    def fetch_headers(self, numbers: Sequence[int], chunk: int = 250) -> dict[int, dict[str, Any]]:
        """Headers of many blocks in batched requests. A `null` (node not there yet) is retried."""
        out: dict[int, dict[str, Any]] = {}
        for start in range(0, len(numbers), chunk):
            part = numbers[start:start + chunk]

            def attempt(part=part):
                res = self._batch([("eth_getBlockByNumber", [hex(n), False]) for n in part])
                for n, header in zip(part, res):
                    if header is None:
                        raise RetryableRpcError(f"node has no block {n} yet ({self.safe_url})")
                return res

            res = self._with_retries(attempt, f"headers {part[0]}-{part[-1]}")
            for n, header in zip(part, res):
                out[n] = header
        return out

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

    def fetch_storage_at(self, address: str, slot: str, block: int) -> str:
        """One 32-byte storage word (0x-hex). A past block's state needs an archive node; a
        node without it answers an error that is tried twice, not `max_attempts` times."""
        return self.request("eth_getStorageAt", [address, slot, hex(block)], attempts=2)

    def call(self, to: str, data: str, block: int | str = "latest") -> bytes:
        param = hex(block) if isinstance(block, int) else block
        result = self.request("eth_call", [{"to": to, "data": data}, param])
        return bytes.fromhex(result[2:])

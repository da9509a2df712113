"""Fetching: block ranges → checked, decoded batches, on a thread ahead of the writer.

A fetcher thread walks block ranges ahead of the writer (bounded queue, so memory stays flat);
each range's logs and headers are checked against each other before anything is decoded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

from indexer import proxies
from indexer.config import Config
from indexer.decode import DecodeState, decode_logs, format_time, upgraded_implementations
from indexer.errors import RpcError
from indexer.metrics import NullMetrics
from indexer.rpc import RangeTooLarge, RpcClient
from indexer.store import Header
from indexer.sync.plan import RangeSizer
from indexer.tokens import Token, all_topics

log = logging.getLogger(__name__)

# A log whose blockHash disagrees with the header is refetched this many times, then we stop:
# the node is mid-reorg or inconsistent, and storing either answer could be wrong.
HASH_MISMATCH_ATTEMPTS = 5

class HashMismatch(Exception):
    """The node's answers disagree (a log's blockHash vs its header, the chain moved while we
    fetched, a header missing): refetch the range, never store it."""


class ReorgDetected(Exception):
    """The first block of a range does not build on the block we stored below it."""

    def __init__(self, block: int):
        super().__init__(f"block {block + 1} does not build on stored block {block}")
        self.block = block


@dataclass(slots=True)
class Batch:
    from_block: int
    to_block: int
    rows: list[list]
    headers: list[Header]
    checkpoint: Header
    tokens: tuple[str, ...]
    window_from: int
    events_by_token: dict[str, int]


def _header(raw: dict) -> Header:
    return Header(
        number=int(raw["number"], 16),
        hash=raw["hash"],
        parent_hash=raw["parentHash"],
        block_time=format_time(int(raw["timestamp"], 16)),
    )


def fetch_batch(
    rpc: RpcClient,
    lo: int,
    hi: int,
    *,
    chain_id: int,
    tokens: list[Token],
    next_block: dict[str, int],
    state: DecodeState,
    header_batch: int,
    prev_hash: str | None,
    window_from: int,
    raw_logs: list[dict] | None = None,
) -> Batch:
    """Logs of [lo, hi] for the tokens due in it, with their headers, checked and decoded.

    `prev_hash` is the stored hash of block lo-1 (None at a token's first block): the range
    must build on it, else ReorgDetected. Blocks from `window_from` on are near the head: all
    their headers are fetched and stored (the reorg window), and the head of the range is read
    before and after eth_getLogs; since a block hash commits to all its ancestors, the same hash
    both times means the logs came from the chain those headers describe. `raw_logs`: the
    range's eth_getLogs answer if it was fetched ahead (only ever below the window).
    """
    near_head = hi >= window_from
    if near_head:
        before = rpc.fetch_header(hi)
        if before is None:
            raise HashMismatch(f"node has no block {hi} yet")
    if raw_logs is None or near_head:
        raw_logs = rpc.fetch_logs(lo, hi, [t.address for t in tokens], all_topics(tokens))
    numbers = {int(entry["blockNumber"], 16) for entry in raw_logs}
    if any(n < lo or n > hi for n in numbers):
        raise HashMismatch(f"node returned logs outside {lo}-{hi}")
    numbers.update((lo, hi))
    if near_head:
        numbers.update(range(max(lo, window_from), hi + 1))
    fetched = rpc.fetch_headers(sorted(numbers), chunk=header_batch)
    headers = {n: _header(h) for n, h in fetched.items()}
    if near_head:
        if headers[hi].hash != before["hash"]:
            raise HashMismatch(f"block {hi} changed while its range was fetched")
        for n in range(max(lo, window_from) + 1, hi + 1):
            if headers[n].parent_hash != headers[n - 1].hash:
                raise HashMismatch(f"headers {n - 1} and {n} do not link")
    for entry in raw_logs:
        n = int(entry["blockNumber"], 16)
        if entry["blockHash"] != headers[n].hash:
            raise HashMismatch(
                f"log in block {n} has blockHash {entry['blockHash']}, header says {headers[n].hash}"
            )
    if prev_hash is not None and headers[lo].parent_hash != prev_hash:
        raise ReorgDetected(lo - 1)
    by_address = {t.address: t for t in tokens}
    for implementation in upgraded_implementations(raw_logs, by_address) \
            - state.implementation_fee_legs.keys():
        state.implementation_fee_legs[implementation] = proxies.emits_fee_legs(rpc, implementation)
    rows = decode_logs(
        raw_logs,
        chain_id=chain_id,
        tokens_by_address=by_address,
        first_block={t.symbol: next_block[t.symbol] for t in tokens},
        block_times={n: h.block_time for n, h in headers.items()},
        state=state,
    )
    keep = {row[1] for row in rows}
    keep.add(hi)
    if near_head:
        keep.update(range(max(lo, window_from), hi + 1))
    return Batch(
        from_block=lo,
        to_block=hi,
        rows=rows,
        headers=[headers[n] for n in sorted(keep)],
        checkpoint=headers[hi],
        tokens=tuple(t.symbol for t in tokens),
        window_from=window_from,
        events_by_token=_count_by_token(rows),
    )


def _count_by_token(rows: list[list]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[3]] = counts.get(row[3], 0) + 1
    return counts


class Fetcher(threading.Thread):
    """Walks [lo, target] in adaptive ranges and queues decoded batches for the writer."""

    def __init__(self, config: Config, rpc: RpcClient, lo: int, target: int,
                 next_block: dict[str, int], state: DecodeState, out: queue.Queue,
                 stop: threading.Event, sizer: RangeSizer, prev_hash: str | None,
                 window_from: int, metrics: NullMetrics, ahead_rpc: RpcClient | None = None):
        super().__init__(name="fetcher", daemon=True)
        self.config, self.rpc, self.lo, self.target = config, rpc, lo, target
        self.ahead_rpc = ahead_rpc
        self.prev_hash, self.window_from = prev_hash, window_from
        self.metrics = metrics
        self.next_block = dict(next_block)
        self.state, self.out, self.stop, self.sizer = state, out, stop, sizer

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            self._walk_ranges()
        except BaseException as exc:  # handed to the writer, which raises it in the main thread
            self._put(exc)
            return
        self._put(None)

    def _fetch_ahead(self, lo: int, tokens: list[Token]) -> None:
        """Deep in a backfill, ask for the next range's logs now, so that the node serves them
        while this thread reads headers and decodes the current range."""
        self._ahead = None
        hi = min(lo + self.sizer.size - 1, self.target)
        if self.ahead_rpc is None or lo > hi or hi >= self.window_from:
            return
        if any(self.next_block[t.symbol] > lo for t in tokens):
            return  # a token joins in the next range: plain fetch
        future: Future = Future()

        def fetch() -> None:
            try:
                future.set_result(self.ahead_rpc.fetch_logs(lo, hi, [t.address for t in tokens],
                                                            all_topics(tokens)))
            except BaseException as exc:  # noqa: BLE001 - the plain fetch meets it again
                future.set_exception(exc)

        # A daemon thread: a request still in flight (retrying a slow provider) never holds up
        # the exit after a stop.
        threading.Thread(target=fetch, name="fetch-ahead", daemon=True).start()
        self._ahead = (lo, hi, future)

    def _take_ahead(self, cursor: int) -> tuple[int, list[dict]] | None:
        """(hi, logs) fetched ahead for a range starting at `cursor`; None on any failure,
        which the plain fetch of the same range then meets and handles."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        if ahead[0] != cursor:  # the plan changed (a split, a refetch): let it finish unused, so
            ahead[2].exception()  # the next look-ahead never shares ahead_rpc with it
            return None
        try:
            return ahead[1], ahead[2].result()
        except Exception:  # noqa: BLE001 - refetched the plain way
            return None

    def _walk_ranges(self) -> None:
        cursor, tokens = self.lo, self.config.enabled_tokens
        self._last_hash: str | None = None
        self._ahead = None
        mismatches = 0
        while cursor <= self.target and not self.stop.is_set():
            ahead = self._take_ahead(cursor)
            hi = ahead[0] if ahead else min(cursor + self.sizer.size - 1, self.target)
            # The lowest tokens are always due at the cursor (they start the walk, and every
            # range moves each due token to its end); the others join when the walk reaches them.
            due = [t for t in tokens if self.next_block[t.symbol] <= hi]
            if len(due) == len(tokens):
                self._fetch_ahead(hi + 1, due)
            try:
                batch = fetch_batch(
                    self.rpc, cursor, hi, chain_id=self.config.chain.id, tokens=due,
                    next_block=self.next_block, state=self.state,
                    header_batch=self.config.sync.header_batch,
                    prev_hash=self.prev_hash if cursor == self.lo else self._last_hash,
                    window_from=self.window_from, raw_logs=ahead[1] if ahead else None,
                )
            except RangeTooLarge as exc:
                span = hi - cursor + 1
                if span <= 1:
                    raise RpcError(
                        f"the provider refuses eth_getLogs even for the single block {cursor}: "
                        f"{exc}; use an RPC endpoint with a higher log limit"
                    ) from None
                log.info("range %d-%d too large (%s); splitting", cursor, hi, exc)
                self.metrics.range_split()
                self.sizer.after_too_large(cursor, span, exc.hint)
                continue
            except HashMismatch as exc:
                mismatches += 1
                if mismatches >= HASH_MISMATCH_ATTEMPTS:
                    raise RpcError(
                        f"blocks {cursor}-{hi}: {exc} (after {mismatches} attempts); the node "
                        "is inconsistent or the chain is reorganising, try again later"
                    ) from None
                log.warning("blocks %d-%d: %s; refetching", cursor, hi, exc)
                time.sleep(0.5 * mismatches)
                continue
            mismatches = 0
            self._last_hash = batch.checkpoint.hash
            self.sizer.after_result(hi - cursor + 1, len(batch.rows))
            for t in due:
                self.next_block[t.symbol] = hi + 1
            if not self._put(batch):
                return
            cursor = hi + 1



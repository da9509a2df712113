"""The sync loop: plan ranges → fetch → decode → store; follow the head; stop cleanly.

A fetcher thread walks block ranges ahead of the writer (bounded queue, so memory stays flat)
while the main thread writes each batch in one transaction. No transaction is ever open while we
wait on the RPC: the writer only touches Postgres once a batch is fully fetched and decoded.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from indexer import store
from indexer.config import Config, SyncConfig, require_rpc_url
from indexer.decode import DecodeState, decode_logs, format_time
from indexer.errors import IndexerError, RpcError
from indexer.rpc import RangeTooLarge, RpcClient
from indexer.store import Header
from indexer.tokens import Token, all_topics

log = logging.getLogger(__name__)

# Batches fetched ahead of the writer; bounds memory to a few batches whatever the history.
QUEUE_DEPTH = 4
# A log whose blockHash disagrees with the header is refetched this many times, then we stop:
# the node is mid-reorg or inconsistent, and storing either answer could be wrong.
HASH_MISMATCH_ATTEMPTS = 5
# After this many good ranges, forget the size at which the provider last refused a range.
CEILING_MEMORY = 50


class HashMismatch(Exception):
    """A log's blockHash differs from the header fetched for its block."""


@dataclass(slots=True)
class Batch:
    from_block: int
    to_block: int
    rows: list[list]
    headers: list[Header]
    checkpoint: Header
    tokens: tuple[str, ...]


@dataclass
class SyncSummary:
    batches: int = 0
    events: int = 0
    blocks: int = 0
    seconds: float = 0.0
    last_block: int | None = None
    stopped: bool = False

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class RangeSizer:
    """How many blocks to ask for next: grows while ranges are sparse, shrinks on limits."""

    def __init__(self, cfg: SyncConfig):
        self.cfg = cfg
        self.size = cfg.batch_blocks
        self.ceiling = cfg.max_batch_blocks
        self._good = 0

    def after_result(self, span: int, n_logs: int) -> None:
        self._good += 1
        if self._good >= CEILING_MEMORY:
            self.ceiling, self._good = self.cfg.max_batch_blocks, 0
        if n_logs > self.cfg.target_logs:
            self.size = max(self.cfg.min_batch_blocks, span // 2)
        elif n_logs < self.cfg.target_logs // 2 and span >= self.size:
            self.size = min(self.ceiling, self.size * 2)

    def after_too_large(self, from_block: int, span: int, hint: tuple[int, int] | None) -> None:
        """Split: the next request covers [from, mid] (or the provider's hint), then [mid+1, ...]."""
        if hint is not None and hint[0] == from_block and hint[1] - from_block + 1 < span:
            new = hint[1] - from_block + 1
        else:
            new = span // 2
        self.size = max(self.cfg.min_batch_blocks, new)
        self.ceiling = max(self.cfg.min_batch_blocks, min(self.ceiling, span - 1))
        self._good = 0


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
) -> Batch:
    """Logs of [lo, hi] for the tokens due in it, their headers, decoded. Raises HashMismatch."""
    addresses = [t.address for t in tokens]
    raw_logs = rpc.fetch_logs(lo, hi, addresses, all_topics(tokens))
    numbers = {int(entry["blockNumber"], 16) for entry in raw_logs}
    if any(n < lo or n > hi for n in numbers):
        raise HashMismatch(f"node returned logs outside {lo}-{hi}")
    numbers.add(hi)
    fetched = rpc.fetch_headers(sorted(numbers), chunk=header_batch)
    headers = {n: _header(h) for n, h in fetched.items()}
    for entry in raw_logs:
        n = int(entry["blockNumber"], 16)
        if entry["blockHash"] != headers[n].hash:
            raise HashMismatch(
                f"log in block {n} has blockHash {entry['blockHash']}, header says {headers[n].hash}"
            )
    rows = decode_logs(
        raw_logs,
        chain_id=chain_id,
        tokens_by_address={t.address: t for t in tokens},
        first_block={t.symbol: next_block[t.symbol] for t in tokens},
        block_times={n: h.block_time for n, h in headers.items()},
        state=state,
    )
    stored_blocks = {row[1] for row in rows}
    return Batch(
        from_block=lo,
        to_block=hi,
        rows=rows,
        headers=[headers[n] for n in sorted(stored_blocks)],
        checkpoint=headers[hi],
        tokens=tuple(t.symbol for t in tokens),
    )


class Fetcher(threading.Thread):
    """Walks [lo, target] in adaptive ranges and queues decoded batches for the writer."""

    def __init__(self, config: Config, rpc: RpcClient, lo: int, target: int,
                 next_block: dict[str, int], state: DecodeState, out: queue.Queue,
                 stop: threading.Event, sizer: RangeSizer):
        super().__init__(name="fetcher", daemon=True)
        self.config, self.rpc, self.lo, self.target = config, rpc, lo, target
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
            self._walk()
        except BaseException as exc:  # handed to the writer, which raises it in the main thread
            self._put(exc)
            return
        self._put(None)

    def _walk(self) -> None:
        cursor, tokens = self.lo, self.config.enabled_tokens
        mismatches = 0
        while cursor <= self.target and not self.stop.is_set():
            hi = min(cursor + self.sizer.size - 1, self.target)
            due = [t for t in tokens if self.next_block[t.symbol] <= hi]
            # Skip straight to the first block any token needs.
            first_due = min(self.next_block[t.symbol] for t in due)
            if first_due > cursor:
                cursor = first_due
                continue
            try:
                batch = fetch_batch(
                    self.rpc, cursor, hi, chain_id=self.config.chain.id, tokens=due,
                    next_block=self.next_block, state=self.state,
                    header_batch=self.config.sync.header_batch,
                )
            except RangeTooLarge as exc:
                span = hi - cursor + 1
                if span <= 1:
                    raise RpcError(
                        f"the provider refuses eth_getLogs even for the single block {cursor}: "
                        f"{exc}; use an RPC endpoint with a higher log limit"
                    ) from None
                log.info("range %d-%d too large (%s); splitting", cursor, hi, exc)
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
            self.sizer.after_result(hi - cursor + 1, len(batch.rows))
            for t in due:
                self.next_block[t.symbol] = hi + 1
            if not self._put(batch):
                return
            cursor = hi + 1


@dataclass
class Syncer:
    """Owns the RPC client, the writer connection and the loop."""

    config: Config
    database_url: str
    stop: threading.Event = field(default_factory=threading.Event)
    on_progress: Callable[[int, int, int], None] | None = None  # (done_blocks, total_blocks, events)
    on_backfill: Callable[[int], None] | None = None  # called with total blocks before a backfill

    def __post_init__(self) -> None:
        url = require_rpc_url(self.config)
        self.rpc = RpcClient(url, timeout=self.config.rpc.timeout,
                             max_attempts=self.config.rpc.max_attempts)
        self.fetch_rpc = RpcClient(url, timeout=self.config.rpc.timeout,
                                   max_attempts=self.config.rpc.max_attempts)
        self.sizer = RangeSizer(self.config.sync)
        self.summary = SyncSummary()

    def run(self, once: bool = False) -> SyncSummary:
        cfg = self.config
        self.rpc.check_chain_id(cfg.chain.id)
        conn = store.connect(self.database_url)
        try:
            store.acquire_writer_lock(conn)
            tokens = cfg.enabled_tokens
            store.save_tokens(conn, cfg.chain.id, tokens)
            checkpoints = store.load_checkpoints(conn, cfg.chain.id)
            next_block = {
                t.symbol: max(t.start_block, checkpoints[t.symbol].block_number + 1)
                if t.symbol in checkpoints else t.start_block
                for t in tokens
            }
            state = DecodeState(fee_recipient=dict(store.load_fee_recipients(conn, cfg.chain.id)))
            started = time.monotonic()
            while not self.stop.is_set():
                head = self.rpc.fetch_block_number()
                target = head - cfg.sync.confirmations
                lo = min(next_block.values())
                if lo <= target:
                    self._backfill(conn, lo, target, next_block, state)
                    if once:
                        break
                    continue
                if once:
                    break
                self.stop.wait(cfg.sync.poll_interval)
            self.summary.seconds = time.monotonic() - started
            self.summary.stopped = self.stop.is_set()
            return self.summary
        finally:
            conn.close()
            self.rpc.close()
            self.fetch_rpc.close()

    def _backfill(self, conn, lo: int, target: int, next_block: dict[str, int],
                  state: DecodeState) -> None:
        total = target - lo + 1
        if self.on_backfill:
            self.on_backfill(total)
        out: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
        fetch_stop = threading.Event()
        fetcher = Fetcher(self.config, self.fetch_rpc, lo, target, next_block, state, out,
                          fetch_stop, self.sizer)
        fetcher.start()
        done_blocks = 0
        last = time.monotonic()
        try:
            while True:
                if self.stop.is_set():
                    log.info("stop requested: leaving after the last committed batch")
                    break
                try:
                    item = out.get(timeout=0.2)
                except queue.Empty:
                    continue
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                batch: Batch = item
                store.write_batch(conn, self.config.chain.id, batch.rows, batch.headers,
                                  batch.tokens, batch.checkpoint)
                for symbol in batch.tokens:
                    next_block[symbol] = batch.to_block + 1
                now = time.monotonic()
                n = len(batch.rows)
                rate = n / (now - last) if now > last else 0.0
                last = now
                done_blocks = batch.to_block - lo + 1
                s = self.summary
                s.batches += 1
                s.events += n
                s.blocks += batch.to_block - batch.from_block + 1
                s.last_block = batch.to_block
                log.info("blocks %d-%d: %d events, %.0f events/s", batch.from_block,
                         batch.to_block, n, rate)
                if self.on_progress:
                    self.on_progress(done_blocks, total, n)
        finally:
            fetch_stop.set()
            fetcher.join(timeout=10)


def install_signal_handlers(stop: threading.Event) -> None:
    """First SIGINT/SIGTERM: finish the batch being written and exit 0. Second SIGINT: abort."""
    import signal

    def handler(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        log.warning("%s received: stopping after the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def is_terminal() -> bool:
    return sys.stderr.isatty()


__all__ = ["Syncer", "SyncSummary", "RangeSizer", "fetch_batch", "install_signal_handlers",
           "IndexerError"]

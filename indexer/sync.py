"""The sync loop: plan ranges → fetch → decode → store; follow the head; stop cleanly.

A fetcher thread walks block ranges ahead of the writer (bounded queue, so memory stays flat)
while the main thread writes each batch in one transaction. No transaction is ever open while we
wait on the RPC: the writer only touches Postgres once a batch is fully fetched and decoded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

from indexer import proxies, store
from indexer.config import Config, SyncConfig, require_rpc_url
from indexer.decode import DecodeState, decode_logs, format_time, upgraded_implementations
from indexer.errors import IndexerError, ReorgTooDeep, RpcError
from indexer.metrics import NullMetrics
from indexer.rpc import RangeTooLarge, RpcClient, make_endpoints
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


@dataclass
class SyncSummary:
    batches: int = 0
    events: int = 0
    blocks: int = 0
    seconds: float = 0.0
    last_block: int | None = None
    stopped: bool = False
    rpc_requests: int = 0
    rpc_retries: int = 0

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
        if hint is not None and hint[0] == from_block and from_block <= hint[1] < from_block + span - 1:
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


# The derived tables are kept in transactions of about this many Transfer logs of a token.
DERIVE_LOGS = 20_000
# Batches the writer may commit ahead of the derived tables before it waits for them.
DERIVE_LAG_BATCHES = 4


class Deriver(threading.Thread):
    """Keeps one token's derived rows up with its committed logs, on its own connection, so
    that PostgreSQL adds one batch to them while the writer copies the next one in (and the
    tokens' derivers work side by side: their rows never overlap).

    Each of its transactions adds a range of the token's logs and moves the token's mark in
    derived_marks; the writer's transactions never touch the derived tables, so none of them
    wait on another's locks.
    """

    def __init__(self, syncer: "Syncer", token: str):
        super().__init__(name=f"deriver-{token}", daemon=True)
        self.syncer, self.token = syncer, token
        self.finish = threading.Event()  # the writer is done: catch up, then return
        self.changed = threading.Condition()
        self.mark = -1  # the last block this run derived
        self.error: BaseException | None = None
        self._pending: list[int] = []  # to_block of committed batches of this token
        self._progressed = False  # a derive step committed since the last (re)connect

    def run(self) -> None:
        syncer, conn = self.syncer, None
        chain_id = syncer.config.chain.id
        failures = 0  # connection losses in a row, without a derive step in between
        try:
            while True:
                try:
                    conn = store.connect(syncer.database_url, attempts=store.CONNECT_ATTEMPTS)
                    self._loop(conn, chain_id)
                    return
                except store.CONNECTION_ERRORS as exc:
                    failures = 1 if self._progressed else failures + 1
                    if failures >= WRITE_ATTEMPTS:
                        raise IndexerError(f"PostgreSQL keeps failing: {str(exc).strip()[:200]}") from None
                    log.warning("%s lost the PostgreSQL connection (%s); reconnecting",
                                self.name, str(exc).strip()[:200])
                finally:
                    if conn is not None:
                        conn.close()
        except BaseException as exc:  # raised again in the writer's thread
            self.error = exc
        finally:
            with self.changed:
                self.changed.notify_all()

    def _loop(self, conn, chain_id: int) -> None:
        self._progressed = False
        while True:
            finishing = self.finish.is_set()  # read first: every commit before it is visible below
            done = store.derive_step(conn, chain_id, self.token, DERIVE_LOGS)
            if done is None:  # up to date; the mark may also have moved without us (a commit
                done = store.derived_mark(conn, chain_id, self.token)  # lost in a reconnect)
            with self.changed:
                moved, self.mark = done != self.mark, done
                self.changed.notify_all()
            if moved and done >= 0:
                self.syncer.metrics.set_derived(self.token, done)
            if moved:
                self._progressed = True
                continue
            if finishing:
                return
            with self.changed:
                self.changed.wait(0.2)

    def committed(self, tokens: tuple[str, ...], to_block: int) -> None:
        """The writer committed a batch; wait while too many are ahead of the derived rows."""
        self.raise_error()
        if self.token not in tokens:
            return
        with self.changed:
            self._pending.append(to_block)
            self.changed.notify_all()
            while True:
                self._pending = [b for b in self._pending if b > self.mark]
                if len(self._pending) < DERIVE_LAG_BATCHES or self.error or not self.is_alive() \
                        or self.syncer.stop.is_set():
                    break
                self.changed.wait(0.5)
        self.raise_error()

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Let it catch up with every committed batch, then stop."""
        self.finish.set()
        with self.changed:
            self.changed.notify_all()
        self.join()


# A reorg suspicion is re-checked after this pause before anything is rolled back, so a
# load-balanced node answering from an older view cannot make us delete good rows.
REORG_RECHECK_SECONDS = 1.0
# A Postgres connection lost mid-batch: reconnect (with back-off) and redo the batch, this many times.
WRITE_ATTEMPTS = 5
# A backfill this long (about two weeks of mainnet), or a token's first, runs without the
# per-address indexes on logs and builds them once at its end: cheaper than row-by-row upkeep.
DEFER_INDEXES_BLOCKS = 100_000


@dataclass
class Syncer:
    """Owns the RPC clients, the writer connection and the loop."""

    config: Config
    database_url: str
    stop: threading.Event = field(default_factory=threading.Event)
    on_progress: Callable[[int, int, int], None] | None = None  # (done_blocks, total_blocks, events)
    on_backfill: Callable[[int], None] | None = None  # called with total blocks before a backfill
    metrics: NullMetrics = field(default_factory=NullMetrics)

    def __post_init__(self) -> None:
        rpc = self.config.rpc
        endpoints = make_endpoints([require_rpc_url(self.config), *rpc.fallback_urls],
                                   rpc.max_requests_per_second)
        opts = {"timeout": rpc.timeout, "max_attempts": rpc.max_attempts,
                "backoff": rpc.backoff_seconds, "chain_id": self.config.chain.id,
                "metrics": self.metrics}
        self.rpc = RpcClient(endpoints, **opts)
        self.fetch_rpc = RpcClient(endpoints, **opts)
        self.ahead_rpc = RpcClient(endpoints, **opts)
        self.sizer = RangeSizer(self.config.sync)
        self.summary = SyncSummary()
        self.reorgs: list[tuple[int, int]] = []  # (fork block, depth) of each rollback
        self.finalized: int | None = None  # the node's finalized block at the last head poll
        # Whether an implementation emits fee legs, by address; shared with the fetcher's
        # DecodeState, which adds those its ranges' Upgraded logs name.
        self.implementation_fee_legs: dict[str, bool] = {}
        self._first_implementation: dict[str, str | None] = {}  # by symbol, at its start block
        self.conn = None

    # -- database --------------------------------------------------------------------------

    def _connect(self) -> None:
        self.conn = store.connect(self.database_url, attempts=store.CONNECT_ATTEMPTS)
        store.acquire_writer_lock(self.conn)
        self.metrics.database_ok(True)

    def _reconnect(self, exc: Exception) -> None:
        self.metrics.database_ok(False)
        log.warning("lost the PostgreSQL connection (%s); reconnecting", str(exc).strip()[:200])
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - the connection is already broken
            pass
        self._connect()

    def _db(self, fn, *args):
        """Run a store call; on a lost connection reconnect and run it again."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                return fn(self.conn, *args)
            except store.CONNECTION_ERRORS as exc:
                if attempt == WRITE_ATTEMPTS:
                    raise IndexerError(f"PostgreSQL keeps failing: {str(exc).strip()[:200]}") from None
                self._reconnect(exc)

    def _write(self, batch: Batch) -> None:
        """Write a batch; after a lost connection, find out whether its commit landed first."""
        chain_id = self.config.chain.id
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                store.write_batch(self.conn, chain_id, batch.rows, batch.headers, batch.tokens,
                                  batch.checkpoint, batch.window_from, batch.from_block,
                                  batch.events_by_token, self.finalized)
                return
            except store.CONNECTION_ERRORS as exc:
                if attempt == WRITE_ATTEMPTS:
                    raise IndexerError(f"PostgreSQL keeps failing: {str(exc).strip()[:200]}") from None
                self._reconnect(exc)
                cps = store.load_checkpoints(self.conn, chain_id)
                if all(t in cps and cps[t].block_number >= batch.to_block for t in batch.tokens):
                    return  # the commit reached the server before the connection dropped

    def _load_positions(self) -> tuple[dict[str, int], dict[str, str | None], DecodeState]:
        cfg = self.config
        checkpoints = self._db(store.load_checkpoints, cfg.chain.id)
        next_block, hashes = {}, {}
        for t in cfg.enabled_tokens:
            cp = checkpoints.get(t.symbol)
            if cp is not None and cp.block_number + 1 >= t.start_block:
                next_block[t.symbol], hashes[t.symbol] = cp.block_number + 1, cp.block_hash
            else:
                next_block[t.symbol], hashes[t.symbol] = t.start_block, None
        upgrades = self._db(store.load_implementations, cfg.chain.id)
        state = DecodeState(
            fee_recipient=dict(self._db(store.load_fee_recipients, cfg.chain.id)),
            fee_legs={t.symbol: self._fee_legs_live(t, upgrades.get(t.symbol))
                      for t in cfg.enabled_tokens if t.fee_legs},
            implementation_fee_legs=self.implementation_fee_legs)
        return next_block, hashes, state

    def _fee_legs_live(self, token: Token, upgraded_to: str | None) -> bool:
        """Whether the implementation live at token's next block emits fee legs: the one its
        latest stored Upgraded log names, else the one in its proxy at its first block."""
        implementation = upgraded_to
        if implementation is None:
            if token.symbol not in self._first_implementation:
                found = proxies.read_implementation(self.rpc, token, token.start_block)
                if found is None:
                    log.warning("%s: the proxy's implementation at block %d is unknown (reading "
                                "it needs an archive node); fee legs are paired, as under PAXG V1, "
                                "until an Upgraded log names another", token.symbol,
                                token.start_block)
                self._first_implementation[token.symbol] = found
            implementation = self._first_implementation[token.symbol]
        if implementation is None:
            return True
        if implementation not in self.implementation_fee_legs:
            self.implementation_fee_legs[implementation] = proxies.emits_fee_legs(
                self.rpc, implementation)
        return self.implementation_fee_legs[implementation]

    # -- the loop --------------------------------------------------------------------------

    def run(self, once: bool = False) -> SyncSummary:
        cfg = self.config
        self.rpc.fetch_block_number()  # checks the first reachable endpoint's chain id
        self._connect()
        try:
            self._db(store.save_tokens, cfg.chain.id, cfg.enabled_tokens)
            # A run that ended between a commit and its derive transaction left them behind.
            self._db(store.derive_all, cfg.chain.id, DERIVE_LOGS)
            started = time.monotonic()
            target_once = None
            while not self.stop.is_set():
                head, safe, finalized = self.rpc.fetch_chain_head()
                self.metrics.head(head, finalized)
                self._db(store.save_chain_head, cfg.chain.id, head, safe, finalized)
                self.finalized = finalized
                target = head - cfg.sync.confirmations
                if once:
                    target_once = target if target_once is None else target_once
                    target = target_once
                next_block, hashes, state = self._load_positions()
                for symbol, n in next_block.items():
                    if hashes[symbol] is not None:
                        self.metrics.set_indexed(symbol, n - 1)
                lo = min(next_block.values())
                if lo <= target:
                    # Tokens further on join the walk on its hashes, not on their own: check
                    # first that their stored checkpoints are still canonical (a reorg while the
                    # sync was down must not leave their rows of the losing fork behind).
                    moved = self._checkpoint_off_chain(
                        {next_block[s] - 1: h for s, h in hashes.items()
                         if h is not None and next_block[s] > lo}, head)
                    if moved is not None:
                        self._handle_reorg(moved)
                        continue
                    low = [s for s, n in next_block.items() if n == lo]
                    prev_hash = hashes[low[0]]
                    first_sync = prev_hash is None  # the token(s) at lo have never been synced
                    if (first_sync or target - lo >= DEFER_INDEXES_BLOCKS) and \
                            target - lo >= cfg.sync.reorg_window:
                        log.info("long backfill (%d blocks): per-address indexes are built at its end",
                                 target - lo + 1)
                        self._db(store.drop_address_indexes)
                    try:
                        self._backfill(lo, target, head, next_block, prev_hash, state)
                    except ReorgDetected as reorg:
                        self._ensure_indexes()
                        self._handle_reorg(reorg.block)
                        continue
                    if not self.stop.is_set():
                        self._ensure_indexes()
                    if once:  # a backfill that returns (not stopped) reached the target
                        break
                    continue
                # Caught up. A reorg that keeps the height (or shortens the chain) brings no new
                # range to notice it by, so check that our checkpoint blocks are still canonical.
                self._ensure_indexes()  # also after a run stopped mid-backfill
                moved = self._checkpoint_off_chain(
                    {next_block[s] - 1: h for s, h in hashes.items() if h is not None}, head)
                if moved is not None:
                    self._handle_reorg(moved)
                    continue
                if finalized is not None and all(h is not None for h in hashes.values()) \
                        and max(next_block.values()) - 1 <= head:
                    # Every checkpoint is on the node's chain, which holds its finalized block.
                    self._db(store.mark_final_seen, cfg.chain.id,
                             min(finalized, min(next_block.values()) - 1))
                if once:
                    break
                self._prune(finalized)
                self.stop.wait(cfg.sync.poll_interval)
            self.summary.seconds = time.monotonic() - started
            self.summary.stopped = self.stop.is_set()
            return self.summary
        finally:
            clients = (self.rpc, self.fetch_rpc, self.ahead_rpc)
            self.summary.rpc_requests = sum(c.stats.requests for c in clients)
            self.summary.rpc_retries = sum(c.stats.retries for c in clients)
            if self.conn is not None:
                self.conn.close()
            self.rpc.close()
            self.fetch_rpc.close()
            self.ahead_rpc.close()

    def _ensure_indexes(self) -> None:
        """The per-address indexes exist whenever the sync is near the head (a rollback uses them)."""
        started = time.monotonic()
        if self._db(store.create_address_indexes):
            log.info("built the per-address indexes in %.1fs", time.monotonic() - started)

    def _checkpoint_off_chain(self, checkpoints: dict[int, str], head: int) -> int | None:
        """The highest of the checkpoint blocks (number: stored hash) whose hash the node no
        longer has, if any. Blocks above the node's head are left alone: it may just be behind."""
        blocks = {n: h for n, h in checkpoints.items() if n <= head}
        if not blocks:
            return None
        node = self.rpc.fetch_headers(sorted(blocks), chunk=self.config.sync.header_batch)
        off = [n for n, h in blocks.items() if node[n]["hash"] != h]
        return max(off) if off else None

    def _prune(self, finalized: int | None) -> None:
        if finalized is None:
            return
        window = self.config.sync.reorg_window
        hi = finalized - window
        if hi > 0:
            self._db(store.prune_headers, self.config.chain.id, max(0, hi - 4 * window), hi)

    def _handle_reorg(self, block: int) -> None:
        """The range above `block` no longer builds on our stored `block`: find the common
        ancestor within the window and roll back to it, or refuse."""
        cfg, chain_id = self.config, self.config.chain.id
        window = cfg.sync.reorg_window
        stored = self._db(store.load_block_hashes, chain_id, max(0, block - window), block)
        # Re-read before acting: a lagging or load-balanced node can answer from an older view.
        time.sleep(REORG_RECHECK_SECONDS)
        head = self.rpc.fetch_block_number()
        numbers = sorted((n for n in stored if n <= head), reverse=True)
        node = self.rpc.fetch_headers(numbers, chunk=cfg.sync.header_batch) if numbers else {}
        if block in node and node[block]["hash"] == stored[block]:
            log.warning("block %d still has our hash on re-read: the node answered from an older "
                        "view; not rolling back", block)
            return
        ancestor = next((n for n in numbers if node[n]["hash"] == stored[n]), None)
        if ancestor is None:
            raise ReorgTooDeep(
                f"the chain reorganised below block {max(0, block - window)}, deeper than the "
                f"{window} stored blocks of sync.reorg_window; nothing was changed. Re-sync into a "
                "fresh database, or raise sync.reorg_window"
            )
        # Only rows this database saw final contradict finality. Rows above them that the node
        # now calls final belong to a fork that lost before it was finalized (noticed late, e.g.
        # after downtime): the node's finalized chain is what replaces them.
        final_seen = self._db(store.load_final_seen, chain_id)
        if final_seen is not None and ancestor < final_seen:
            raise ReorgTooDeep(
                f"the node reorganised blocks {ancestor + 1}-{block}, below block {final_seen} "
                "that this database had seen finalized; refusing to roll back finalized data. "
                "Check the RPC endpoint"
            )
        deleted = self._db(store.rewind, chain_id, ancestor, stored[ancestor])
        depth = block - ancestor
        self.reorgs.append((ancestor + 1, depth))
        self.metrics.reorg(depth)
        log.warning("reorg: blocks %d-%d replaced (depth %d); rolled back %d logs to block %d",
                    ancestor + 1, block, depth, deleted, ancestor)

    def _backfill(self, lo: int, target: int, head: int, next_block: dict[str, int],
                  prev_hash: str | None, state: DecodeState) -> None:
        total = target - lo + 1
        if self.on_backfill:
            self.on_backfill(total)
        out: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
        fetch_stop = threading.Event()
        window_from = head - self.config.sync.reorg_window + 1
        fetcher = Fetcher(self.config, self.fetch_rpc, lo, target, next_block, state, out,
                          fetch_stop, self.sizer, prev_hash, window_from, self.metrics,
                          ahead_rpc=self.ahead_rpc)
        fetcher.start()
        derivers = [Deriver(self, t.symbol) for t in self.config.enabled_tokens]
        for deriver in derivers:
            deriver.start()
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
                self._write(batch)
                for deriver in derivers:
                    deriver.committed(batch.tokens, batch.to_block)
                now = time.monotonic()
                self._db(store.record_batch_seconds, self.config.chain.id, batch.tokens,
                         batch.to_block, now - last)
                n = len(batch.rows)
                rate = n / (now - last) if now > last else 0.0
                self.metrics.batch(batch.tokens, batch.to_block - batch.from_block + 1,
                                   batch.events_by_token, now - last, batch.to_block)
                last = now
                s = self.summary
                s.batches += 1
                s.events += n
                s.blocks += batch.to_block - batch.from_block + 1
                s.last_block = batch.to_block
                log.info("blocks %d-%d: %d events, %.0f events/s", batch.from_block,
                         batch.to_block, n, rate)
                if self.on_progress:
                    self.on_progress(batch.to_block - lo + 1, total, n)
        except BaseException as exc:
            for deriver in derivers:  # the writer's error wins; the derivers' are only logged
                deriver.close()
                if deriver.error is not None and deriver.error is not exc:
                    log.error("%s: %s", deriver.name, str(deriver.error).strip()[:300])
            raise
        finally:
            fetch_stop.set()
            fetcher.join(timeout=10)
            for deriver in derivers:
                deriver.close()
        for deriver in derivers:
            deriver.raise_error()


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

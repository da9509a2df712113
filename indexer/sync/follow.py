"""The sync loop: plan ranges → fetch → decode → store; follow the head; stop cleanly.

The main thread writes each fetched batch in one transaction while the fetcher runs ahead and
the derivers follow. No transaction is ever open while we wait on the RPC: the writer only
touches Postgres once a batch is fully fetched and decoded.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from indexer import proxies, store
from indexer.config import Config, require_rpc_url
from indexer.contracts import Contracts
from indexer.decode import DecodeState
from indexer.errors import IndexerError, ReorgTooDeep
from indexer.metrics import NullMetrics
from indexer.rpc import RpcClient, make_endpoints
from indexer.feeds import Aggregator
from indexer.store import Header
from indexer.sync.audit import AuditMismatch, Auditor
from indexer.sync.cancel import cancel_all
from indexer.sync.derive import DERIVE_LOGS, WRITE_ATTEMPTS, Deriver
from indexer.sync.feeds import check_feeds
from indexer.sync.fetch import Fetcher, FetchPool
from indexer.sync.ranges import Batch, ReorgDetected
from indexer.sync.plan import RangeSizer
from indexer.tokens import Token

log = logging.getLogger(__name__)

# Batches fetched ahead of the writer; bounds memory to a few batches whatever the history.
QUEUE_DEPTH = 4

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


# The node's safe and finalized blocks are read with the head at most this often (finality
# itself moves every 6.4 minutes on mainnet).
FINALITY_POLL_SECONDS = 60.0
# A reorg suspicion is re-checked after this pause before anything is rolled back, so a
# load-balanced node answering from an older view cannot make us delete good rows.
REORG_RECHECK_SECONDS = 1.0
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
        endpoints = make_endpoints([require_rpc_url(self.config), *rpc.fallback_urls], config=rpc)
        opts = {"timeout": rpc.timeout, "max_attempts": rpc.max_attempts,
                "backoff": rpc.backoff_seconds, "chain_id": self.config.chain.id,
                "metrics": self.metrics, "stop": self.stop}
        self.rpc = RpcClient(endpoints, **opts)
        self.fetch_rpc = RpcClient(endpoints, **opts)  # the fetcher thread's own calls
        self.pool = FetchPool(lambda: RpcClient(endpoints, **opts), self.config.sync.ranges_in_flight)
        self.sizer = RangeSizer(self.config.sync)
        self.auditor = Auditor(self.config.audit, self.rpc, self.config.enabled_tokens,
                               self.config.chain.id)
        self.summary = SyncSummary()
        self.reorgs: list[tuple[int, int]] = []  # (fork block, depth) of each rollback
        self.finalized: int | None = None  # the node's finalized block at the last read of it
        self.safe: int | None = None
        self._finality_at: float | None = None  # time.monotonic() of that read
        self._finality_head = 0  # the head at that read
        # Whether an implementation emits fee legs, by address; shared with the fetcher's
        # DecodeState, which adds those its ranges' Upgraded logs name.
        self.implementation_fee_legs: dict[str, bool] = {}
        # Completeness rules the chain itself breaks, kept across polls (DecodeState.chain_gaps).
        self.chain_gaps: dict[str, int] = {}
        self._first_implementation: dict[str, str | None] = {}  # by symbol, at its start block
        # The price feeds' aggregators, log sources beside the tokens (indexer/sync/feeds.py).
        self.aggregators: tuple[Aggregator, ...] = ()
        self._feeds_checked_at: float | None = None  # time.monotonic() of the last reading
        self.conn = None

    # -- database --------------------------------------------------------------------------

    def _connect(self) -> None:
        self.conn = store.connect(self.database_url, attempts=store.CONNECT_ATTEMPTS)
        store.acquire_writer_lock(self.conn, self.config.chain.id)
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
                                  batch.events_by_token, self.finalized, batch.estimated,
                                  batch.prices, batch.feeds)
                return
            except store.CONNECTION_ERRORS as exc:
                if attempt == WRITE_ATTEMPTS:
                    raise IndexerError(f"PostgreSQL keeps failing: {str(exc).strip()[:200]}") from None
                self._reconnect(exc)
                cps = store.load_source_checkpoints(self.conn, chain_id)
                done = batch.checkpoint.number
                if all(t in cps and cps[t].block_number >= done for t in batch.tokens + batch.feeds):
                    return  # the commit reached the server before the connection dropped

    def _load_positions(self) -> tuple[dict[str, int], dict[str, str | None], DecodeState]:
        cfg = self.config
        checkpoints = self._db(store.load_source_checkpoints, cfg.chain.id)
        next_block, hashes = {}, {}
        for t in (*cfg.enabled_tokens, *self.aggregators):  # the walk's log sources
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
            implementation_fee_legs=self.implementation_fee_legs, chain_gaps=self.chain_gaps)
        return next_block, hashes, state

    def _fee_legs_live(self, token: Token, upgraded_to: str | None) -> bool:
        """Whether the implementation live at token's next block emits fee legs: the one its
        latest stored Upgraded log names, else the one in its proxy at its first block."""
        implementation = upgraded_to
        if implementation is None:
            if token.symbol not in self._first_implementation:
                self._first_implementation[token.symbol] = proxies.implementation_at_start(
                    self.rpc, token)
            implementation = self._first_implementation[token.symbol]
        return proxies.fee_legs_live(self.rpc, implementation, self.implementation_fee_legs)

    # -- the loop --------------------------------------------------------------------------

    def run(self, once: bool = False) -> SyncSummary:
        cfg = self.config
        self.rpc.fetch_block_number()  # checks the first reachable endpoint's chain id
        self._connect()
        try:
            if any(t.decimals is None for t in cfg.enabled_tokens):  # tokens the config adds
                cfg = self.config = dataclasses.replace(
                    cfg, tokens=Contracts(self.rpc).with_decimals(cfg.tokens))
            self._db(store.save_tokens, cfg.chain.id, cfg.enabled_tokens, cfg.chain.label)
            # A run that ended between a commit and its derive transaction left them behind.
            self._db(store.derive_all, cfg.chain.id, DERIVE_LOGS)
            started = time.monotonic()
            target_once = None
            while not self.stop.is_set():
                head, safe, finalized = self._poll_head()
                self.metrics.head(head, finalized)
                self._db(store.save_chain_head, cfg.chain.id, head, safe, finalized)
                self._check_feeds(head)
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
                    self.auditor.start(Header(lo - 1, prev_hash, None, ""))
                    try:
                        self._backfill(lo, target, head, next_block, prev_hash, state)
                    except ReorgDetected as reorg:
                        self._ensure_indexes()
                        self._handle_reorg(reorg.block)
                        continue
                    except AuditMismatch as mismatch:
                        self._ensure_indexes()
                        self._refetch(mismatch)
                        continue
                    # One that reached its target built the indexes there (_backfill); one
                    # stopped leaves them to the next run's catch-up, below.
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
            clients = (self.rpc, self.fetch_rpc, *self.pool.clients)
            self.summary.rpc_requests = sum(c.stats.requests for c in clients)
            self.summary.rpc_retries = sum(c.stats.retries for c in clients)
            if self.conn is not None:
                self.conn.close()
            self.rpc.close()
            self.fetch_rpc.close()
            self.pool.close()

    def _check_feeds(self, head: int) -> None:
        """Read the price feeds' phases at the start and then every phase_check_minutes."""
        feeds = self.config.feeds
        now = time.monotonic()
        if not feeds or (self._feeds_checked_at is not None and
                         now - self._feeds_checked_at < self.config.prices.phase_check_minutes * 60):
            return
        first = min(t.start_block for t in self.config.enabled_tokens)
        self.aggregators = check_feeds(self._db, self.rpc, self.config.chain.id, feeds, head, first)
        self._feeds_checked_at = now

    def _poll_head(self) -> tuple[int, int | None, int | None]:
        """(head, safe, finalized). The safe and finalized tags are read with the head at most
        once per FINALITY_POLL_SECONDS, and whenever the head has moved a reorg window since:
        finality moves every 6.4 minutes, and reading it at every poll tripled what a poll
        costs (a provider bills each call). Older values are only ever lower: safe to use."""
        now = time.monotonic()
        if self._finality_at is not None and now - self._finality_at < FINALITY_POLL_SECONDS:
            head = self.rpc.fetch_block_number()
            if head - self._finality_head < self.config.sync.reorg_window:
                return head, self.safe, self.finalized
        head, self.safe, self.finalized = self.rpc.fetch_chain_head()
        self._finality_at, self._finality_head = time.monotonic(), head
        return head, self.safe, self.finalized

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

    def _refetch(self, mismatch: AuditMismatch) -> None:
        """An audit found the stored logs up to `mismatch.block` off the chain's figures: roll
        back to the last block that passed (the reorg path, derived tables included) and fetch
        the rest again, from the next endpoint when there are several."""
        good = mismatch.good
        self.metrics.audit("mismatch")
        for client in (self.rpc, self.fetch_rpc, *self.pool.clients):
            client.next_endpoint()
        deleted = self._db(store.rewind, self.config.chain.id, good.number, good.hash)
        self.auditor.rolled_back(good)
        log.warning("audit: %s; the provider's eth_getLogs answers left logs out (or added some): "
                    "rolled back %d logs to block %d and fetching blocks %d-%d again%s",
                    mismatch, deleted, good.number, good.number + 1, mismatch.block,
                    f" from {self.rpc.safe_url}" if len(self.rpc.endpoints) > 1 else "")

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
        self.auditor.rolled_back(Header(ancestor, stored[ancestor], None, ""))
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
        fetcher = Fetcher(self.config, self.fetch_rpc, self.pool, lo, target, next_block, state,
                          out, fetch_stop, self.sizer, prev_hash, window_from, self.finalized,
                          self.metrics, self.aggregators)
        fetcher.start()
        derivers = [Deriver(self, t.symbol) for t in self.config.enabled_tokens]
        for deriver in derivers:
            deriver.start()
        last = started = time.monotonic()
        try:
            while True:
                if self.stop.is_set():
                    log.info("stop requested: leaving after the last committed batch")
                    break
                try:
                    item = out.get(timeout=0.2)
                except queue.Empty:
                    continue
                if item is None:  # the backfill is done: the derivers settle, side by side,
                    for deriver in derivers:  # while the per-address indexes build
                        deriver.wind_down()
                    self._ensure_indexes()
                    break
                if isinstance(item, BaseException):
                    raise item
                batch: Batch = item
                now = time.monotonic()
                if batch.checkpoint is not None:  # else: no log, no known hash, nothing to store
                    self._write(batch)
                    for deriver in derivers:
                        deriver.committed(batch.tokens, batch.checkpoint.number)
                    now = time.monotonic()
                    self._db(store.record_batch_seconds, self.config.chain.id, batch.tokens,
                             batch.checkpoint.number, now - last)
                    self._audit(batch, head, force=batch.to_block == target and
                                total > self.config.sync.reorg_window)
                self._db(store.record_rpc_usage, self.config.chain.id, self.rpc.usage())
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
                log.info("blocks %d-%d: %d events, %.0f events/s, %s", batch.from_block,
                         batch.to_block, n, rate,
                         eta(batch.to_block - lo + 1, total, now - started))
                if self.on_progress:
                    self.on_progress(batch.to_block - lo + 1, total, n)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):  # an abort: stop their steps, do not wait
                cancel_all(derivers)
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


    def _audit(self, batch: Batch, head: int, force: bool) -> None:
        """Audit the committed batch when the budget allows (and at the end of a long
        backfill); an AuditMismatch goes up to run(), which fetches the range again."""
        before = self.auditor.audits
        self._db(self.auditor.after_batch, batch.checkpoint, batch.tokens, batch.rows, head,
                 self.rpc.cost() - self.auditor.spent, force)
        if self.auditor.audits > before:
            self.metrics.audit("ok")


def eta(done: int, total: int, seconds: float) -> str:
    """Time left at the pace so far ('ETA 1h02m', 'done'): the provider's pace, whatever
    paces it (round trips, a rate or credit budget, the node)."""
    if done >= total:
        return "done"
    if done <= 0 or seconds <= 0:
        return "ETA ?"
    left = int((total - done) * seconds / done)
    if left >= 3600:
        return f"ETA {left // 3600}h{left % 3600 // 60:02d}m"
    return f"ETA {left // 60}m{left % 60:02d}s" if left >= 60 else f"ETA {left}s"

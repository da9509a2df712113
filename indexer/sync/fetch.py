"""Fetching: block ranges → checked, decoded batches, on a thread ahead of the writer.

A fetcher thread walks block ranges ahead of the writer (bounded queue, so memory stays flat),
with several in flight on a pool of threads; each range's logs and headers are checked against
each other before anything is decoded (ranges.py), and a range whose answer is wrong or slow
is asked for again.
"""

from __future__ import annotations

import logging
import queue
import statistics
import threading
import time
from collections import deque
from concurrent.futures import Future
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from typing import Callable

from indexer.config import Config
from indexer.decode import DecodeState
from indexer.errors import RpcError
from indexer.feeds import Aggregator
from indexer.metrics import NullMetrics
from indexer.rpc import RangeTooLarge, RpcClient
from indexer.sync.plan import RangeSizer
from indexer.sync.ranges import (Batch, HashMismatch, IncompleteAnswer, RangeAnswer, build_batch,
                                 fetch_range)
from indexer.tokens import FIXED_SLOTS, Token, all_addresses, all_topics

log = logging.getLogger(__name__)

# Deep in final history with blockTimestamp no header is fetched, and a checkpoint moves only
# to a block with a log; after this many blocks without one, a range's last header is fetched
# so that a restart does not scan the stretch again.
CHECKPOINT_LAG_BLOCKS = 100_000
# A range whose answer takes this many times the recent median, and at least this many
# seconds, is asked for again (see Fetcher._result).
HEDGE_FACTOR = 4
HEDGE_AFTER_SECONDS = 5.0
# A log whose blockHash disagrees with the header is refetched this many times, then we stop:
# the node is mid-reorg or inconsistent, and storing either answer could be wrong.
HASH_MISMATCH_ATTEMPTS = 5
# An answer that lacks logs of the transactions it holds (indexer/completeness.py) is asked for
# again, from the next endpoint when there are several, up to this many answers in all; the
# same gaps every time are the chain's own shape: stored as they are, with a warning, and a
# rule the chain breaks this many times is checked no more.
INCOMPLETE_ANSWERS = 5
CHAIN_GAPS_BEFORE_OFF = 3


class FetchPool:
    """Threads that run fetch_range side by side, each with its own RpcClient over the shared
    endpoints (and their pacing): where round trips dominate, several ranges are in flight.
    Daemon threads: a request still retrying a slow provider never holds up the exit."""

    def __init__(self, make_client: Callable[[], RpcClient], size: int):
        self.clients = [make_client() for _ in range(size)]
        self._tasks: queue.Queue = queue.Queue()
        for i, client in enumerate(self.clients):
            threading.Thread(target=self._work, args=(client,), name=f"fetch-{i}",
                             daemon=True).start()

    def _work(self, client: RpcClient) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                client.close()
                return
            future, fn, kwargs = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(client, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever takes the result
                future.set_exception(exc)

    def submit(self, fn: Callable[..., RangeAnswer], **kwargs) -> Future:
        future: Future = Future()
        self._tasks.put((future, fn, kwargs))
        return future

    def close(self) -> None:
        for _ in self.clients:
            self._tasks.put(None)


@dataclass(slots=True)
class _Planned:
    lo: int
    hi: int
    tokens: list[Token | Aggregator]
    future: Future
    task: dict  # fetch_range's arguments, for a hedge
    submitted: float  # time.monotonic()
    hedge: Future | None = None


class Fetcher(threading.Thread):
    """Walks [lo, target] in adaptive ranges, several in flight on the pool, and queues their
    checked, decoded batches for the writer in block order."""

    def __init__(self, config: Config, rpc: RpcClient, pool: FetchPool, lo: int, target: int,
                 next_block: dict[str, int], state: DecodeState, out: queue.Queue,
                 stop: threading.Event, sizer: RangeSizer, prev_hash: str | None,
                 window_from: int, finalized: int | None, metrics: NullMetrics,
                 aggregators: tuple[Aggregator, ...] = ()):
        super().__init__(name="fetcher", daemon=True)
        # Every log source of the walk: the tokens and the price feeds' aggregators.
        self.sources: tuple[Token | Aggregator, ...] = (*config.enabled_tokens, *aggregators)
        self.config, self.rpc, self.pool, self.lo, self.target = config, rpc, pool, lo, target
        self.prev_hash, self.window_from, self.finalized = prev_hash, window_from, finalized
        self.metrics = metrics
        self.next_block = dict(next_block)
        self.state, self.out, self.stop, self.sizer = state, out, stop, sizer
        self.in_flight = max(1, config.sync.ranges_in_flight)
        self._checkpoint = lo - 1  # the last block whose hash a batch gave (about)
        self._ranges = 0  # ranges planned, for sync.cross_check
        self._took: deque[float] = deque(maxlen=50)  # seconds the last ranges took

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

    def _submit(self, lo: int, hi: int) -> _Planned:
        anchor = lo - self._checkpoint > CHECKPOINT_LAG_BLOCKS
        # The lowest sources are due from the walk's first block; the others join the walk at
        # their own next block (the decoders drop their logs below it).
        tokens = [t for t in self.sources if self.next_block[t.symbol] <= hi]
        every = self.config.sync.cross_check
        cross = every > 0 and self._ranges % every == 0 and hi < self.window_from
        self._ranges += 1
        task = dict(lo=lo, hi=hi, addresses=all_addresses(tokens),
                    topics=all_topics(tokens), window_from=self.window_from,
                    finalized=self.finalized, header_batch=self.config.sync.header_batch,
                    anchor=anchor, slots=FIXED_SLOTS.get(self.config.chain.id),
                    cross_check=cross, metrics=self.metrics)
        if anchor:
            self._checkpoint = hi  # one anchor per stretch, not one per range in flight
        return _Planned(lo, hi, tokens, self.pool.submit(fetch_range, **task), task,
                        time.monotonic())

    def _result(self, planned: _Planned) -> RangeAnswer | None:
        """The range's answer, waiting for it; None when a stop was asked for meanwhile.

        Ranges are committed in order, so one answer that hangs (a provider's node that holds
        the connection until the time-out) would stall every range behind it: a range that
        takes HEDGE_FACTOR times the recent median (and at least HEDGE_AFTER_SECONDS) is asked
        for a second time, and whichever answer comes first is taken."""
        while not self.stop.is_set():
            futures = [f for f in (planned.future, planned.hedge) if f is not None]
            done, _ = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                if future.exception() is None:
                    self._took.append(time.monotonic() - planned.submitted)
                    return future.result()
            if len(done) == len(futures):  # every attempt failed: the first one's error
                return planned.future.result()
            waited = time.monotonic() - planned.submitted
            if planned.hedge is None and waited > self._hedge_after():
                log.info("blocks %d-%d: no answer after %.1fs; asking again", planned.lo,
                         planned.hi, waited)
                planned.hedge = self.pool.submit(fetch_range, **planned.task)
        return None

    def _build(self, answer: RangeAnswer, head: _Planned, prev_hash: str | None,
               complete: frozenset[str] | None) -> Batch:
        return build_batch(answer, self.rpc, chain_id=self.config.chain.id, tokens=head.tokens,
                           next_block=self.next_block, state=self.state, prev_hash=prev_hash,
                           window_from=self.window_from, complete=complete)

    def _rules_on(self) -> frozenset[str] | None:
        """The completeness rules not to check: those the chain was seen breaking often (None:
        no check, audit.whole_transactions = false)."""
        if not self.config.audit.whole_transactions:
            return None
        return frozenset(rule for rule, seen in self.state.chain_gaps.items()
                         if seen >= CHAIN_GAPS_BEFORE_OFF)

    def _ask_again(self, exc: IncompleteAnswer, answers: int) -> None:
        self.metrics.incomplete_answer("asked_again")
        for client in (self.rpc, *self.pool.clients):
            client.next_endpoint()
        log.warning("%s: the provider's answer lacks logs of transactions it holds; asking "
                    "again%s", exc, f" of {self.rpc.safe_url}" if len(self.rpc.endpoints) > 1
                    else "")
        self.stop.wait(0.5 * answers)

    def _chain_gaps(self, exc: IncompleteAnswer) -> None:
        """Every answer had the same gaps: the chain's own logs are so (a sequence the rules
        do not know), not a provider's loss. Stored as they are; a rule seen broken this way
        CHAIN_GAPS_BEFORE_OFF times is no longer checked."""
        self.metrics.incomplete_answer("kept")
        log.warning("%s, in each of %d answers: kept as the chain's own logs", exc,
                    INCOMPLETE_ANSWERS)
        for rule in {gap.rule for gap in exc.gaps}:
            seen = self.state.chain_gaps[rule] = self.state.chain_gaps.get(rule, 0) + 1
            if seen == CHAIN_GAPS_BEFORE_OFF:
                log.warning("completeness check '%s' is off from now on: the chain breaks it",
                            rule)

    def _hedge_after(self) -> float:
        if len(self._took) < 5:
            return HEDGE_AFTER_SECONDS * 2
        return max(HEDGE_AFTER_SECONDS, HEDGE_FACTOR * statistics.median(self._took))

    def _walk_ranges(self) -> None:
        pending: deque[_Planned] = deque()
        planned_to = self.lo - 1  # the last block of the last range planned
        last_hash: str | None = self.prev_hash  # the stored hash of the block below the next range
        mismatches = incomplete = 0
        # One range at a time until one went through: at the start, and after a refusal, while
        # the provider's limit is being learnt (ranges planned in the meantime would be refused too).
        careful = True
        while not self.stop.is_set():
            while len(pending) < (1 if careful else self.in_flight) and planned_to < self.target:
                hi = min(planned_to + self.sizer.size, self.target)
                pending.append(self._submit(planned_to + 1, hi))
                planned_to = hi
            if not pending:
                return
            head = pending[0]
            try:
                answer = self._result(head)
                if answer is None:
                    return
                try:
                    batch = self._build(answer, head, last_hash, self._rules_on())
                except IncompleteAnswer as exc:
                    incomplete += 1
                    if incomplete < INCOMPLETE_ANSWERS:
                        self._ask_again(exc, incomplete)
                        pending[0] = self._submit(head.lo, head.hi)
                        continue
                    batch = self._build(answer, head, last_hash, None)
                    self._chain_gaps(exc)
            except RangeTooLarge as exc:
                pending.popleft()
                span = head.hi - head.lo + 1
                if span <= 1:
                    raise RpcError(
                        f"the provider refuses eth_getLogs even for the single block {head.lo}: "
                        f"{exc}; use an RPC endpoint with a higher log limit"
                    ) from None
                log.info("range %d-%d too large (%s); splitting", head.lo, head.hi, exc)
                self.metrics.range_split()
                first = self.sizer.after_too_large(head.lo, span, exc)
                for planned in pending:  # planned at the refused size: plan again from here
                    for future in (planned.future, planned.hedge):
                        if future is not None:
                            future.cancel()
                pending.clear()
                pending.append(self._submit(head.lo, head.lo + first - 1))
                planned_to, careful = head.lo + first - 1, True
                continue
            except HashMismatch as exc:
                mismatches += 1
                if mismatches >= HASH_MISMATCH_ATTEMPTS:
                    raise RpcError(
                        f"blocks {head.lo}-{head.hi}: {exc} (after {mismatches} attempts); the "
                        "node is inconsistent or the chain is reorganising, try again later"
                    ) from None
                log.warning("blocks %d-%d: %s; refetching", head.lo, head.hi, exc)
                self.stop.wait(0.5 * mismatches)
                pending[0] = self._submit(head.lo, head.hi)
                continue
            pending.popleft()
            mismatches, incomplete, careful = 0, 0, False
            at_end = batch.checkpoint is not None and batch.checkpoint.number == head.hi
            last_hash = batch.checkpoint.hash if at_end else None
            if batch.checkpoint is not None:
                self._checkpoint = max(self._checkpoint, batch.checkpoint.number)
            self.sizer.after_result(head.hi - head.lo + 1, len(answer.logs))
            for t in head.tokens:
                self.next_block[t.symbol] = head.hi + 1
            if not self._put(batch):
                return

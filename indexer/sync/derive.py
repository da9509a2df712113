"""Derivers: the derived tables (the views' figures) kept up with the committed logs."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from indexer import store
from indexer.errors import IndexerError
from indexer.sync.cancel import ConnectionThread

if TYPE_CHECKING:
    from indexer.sync.follow import Syncer

log = logging.getLogger(__name__)

# The derived tables are kept in transactions of about this many Transfer logs of a token.
DERIVE_LOGS = 20_000
# Batches the writer may commit ahead of the derived tables before it waits for them.
DERIVE_LAG_BATCHES = 4


class Deriver(ConnectionThread):
    """Keeps one token's derived rows up with its committed logs, on its own connection, so
    that PostgreSQL adds one batch to them while the writer copies the next one in (and the
    tokens' derivers work side by side: their rows never overlap).

    Each of its transactions adds a range of the token's logs and moves the token's mark in
    derived_marks; the writer's transactions never touch the derived tables, so none of them
    wait on another's locks. A writer that aborts cancels the step in progress (cancel()).
    """

    def __init__(self, syncer: "Syncer", token: str):
        super().__init__(name=f"deriver-{token}")
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
                    conn = self._connect(syncer.database_url, store.CONNECT_ATTEMPTS)
                    if conn is not None and self._attach(conn):
                        self._loop(conn, chain_id)
                    return
                except store.CONNECTION_ERRORS as exc:
                    if self.cancelled:  # QueryCanceled is one: the step rolled back, as asked
                        return
                    failures = 1 if self._progressed else failures + 1
                    if failures >= WRITE_ATTEMPTS:
                        raise IndexerError(f"PostgreSQL keeps failing: {str(exc).strip()[:200]}") from None
                    log.warning("%s lost the PostgreSQL connection (%s); reconnecting",
                                self.name, str(exc).strip()[:200])
                finally:
                    self._detach()
                    if conn is not None:
                        conn.close()
        except BaseException as exc:  # raised again in the writer's thread
            self.error = exc
        finally:
            with self.changed:
                self.changed.notify_all()

    def _loop(self, conn, chain_id: int) -> None:
        self._progressed = False
        while not self.cancelled:
            finishing = self.finish.is_set()  # read first: every commit before it is visible below
            # Until the writer is done, more batches follow: the token's latest day and month
            # wait, and each period is counted once, when it is over (revision 0016).
            done = store.derive_step(conn, chain_id, self.token, DERIVE_LOGS, settle=finishing)
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

    def wind_down(self) -> None:
        """No more batches follow: catch up with every committed one, settle, then stop."""
        self.finish.set()
        with self.changed:
            self.changed.notify_all()

    def close(self) -> None:
        """wind_down(), and wait until it has stopped (unless cancelled: cancel_all waits)."""
        self.wind_down()
        if not self.cancelled:
            self.join()


# A Postgres connection lost mid-batch: reconnect (with back-off) and redo the batch, this many times.
WRITE_ATTEMPTS = 5

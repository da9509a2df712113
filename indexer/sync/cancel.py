"""Threads with a PostgreSQL connection of their own (the derivers), and how a writer that
aborts (a second Ctrl-C) stops them instead of waiting for them.

cancel() asks the server to cancel the statement in progress, whose transaction then rolls
back, and sets a flag the thread reads between its statements (it also ends the thread's
retries to connect: store.connect's `abandon`). The server drops a cancel request that arrives
while its backend is between two statements, so cancel_all sends it again until the thread has
ended, or the time is up.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Sequence

import psycopg

from indexer import store
from indexer.errors import DatabaseError

log = logging.getLogger(__name__)

# How long an aborting writer waits, in all, for the threads it cancelled to end.
CANCEL_WAIT_SECONDS = 10.0
# How long one cancel request may take to reach the server.
CANCEL_REQUEST_SECONDS = 2.0


class ConnectionThread(threading.Thread):
    """A daemon thread whose statements on its own connection cancel() can stop."""

    def __init__(self, name: str):
        super().__init__(name=name, daemon=True)
        self._conn_lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._cancel = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _connect(self, url: str, attempts: int) -> psycopg.Connection | None:
        """store.connect, retried up to `attempts` times unless cancelled meanwhile (None)."""
        try:
            return store.connect(url, attempts=attempts, abandon=self._cancel)
        except DatabaseError:
            if self.cancelled:
                return None
            raise

    def _attach(self, conn: psycopg.Connection) -> bool:
        """Run statements on `conn` from now on; False when cancelled already (do not start)."""
        with self._conn_lock:
            if self.cancelled:
                return False
            self._conn = conn
            return True

    def _detach(self) -> None:
        """Before the connection is closed."""
        with self._conn_lock:
            self._conn = None

    def cancel(self) -> None:
        with self._conn_lock:  # held: the thread cannot close the connection meanwhile
            self._cancel.set()
            if self._conn is not None:
                try:
                    self._conn.cancel_safe(timeout=CANCEL_REQUEST_SECONDS)
                except Exception as exc:  # noqa: BLE001 - the server may already be gone
                    log.debug("%s: cancel request failed: %s", self.name, exc)


def cancel_all(threads: Sequence[ConnectionThread],
               seconds: float = CANCEL_WAIT_SECONDS) -> list[str]:
    """Cancel `threads` and wait up to `seconds` in all for them to end, cancelling again every
    quarter of a second; the names of those still running then (daemon threads: they end with
    the process, and the server rolls their transactions back)."""
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.cancel()
    for thread in threads:
        while thread.is_alive() and time.monotonic() < deadline:
            thread.join(min(0.25, max(0.0, deadline - time.monotonic())))
            if thread.is_alive():
                thread.cancel()
    left = [thread.name for thread in threads if thread.is_alive()]
    if left:
        log.warning("still running after a cancel: %s", ", ".join(left))
    return left

"""The per-address indexes a long backfill drops (store.drop_address_indexes), built again at its
end: the first on the writer's connection, the others side by side, each on a connection of its
own, while the derivers settle.

On the benchmark's dense 1M-log chain the two builds take ~2.5 s each, and the derivers' last
step up to a few seconds; part of each is one process's work (the leader of a parallel build
merges and writes alone), so side by side they leave a core idle less often: from the last batch
to `done` took 6.1-11.4 s (median 6.5) against 7.9-14.3 s (median 8.6) one after the other, in
five pairs (benchmarks/README). A side build is only a way to be faster: whatever it cannot
do (connect, finish) the writer builds afterwards on its own connection, which retries like
every other write. A build is one transaction (store.create_address_indexes), so one cut short
leaves nothing behind, and an interrupted writer cancels the side builds before it goes on.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

import psycopg

from indexer import store

log = logging.getLogger(__name__)

# How long an interrupted writer waits for a cancelled side build to roll back.
CANCEL_WAIT_SECONDS = 10.0


def _connect(database_url: str) -> psycopg.Connection:
    # One attempt: a side build that cannot connect at once is left to the writer, whose
    # connection is already there (retrying here would only keep the writer waiting).
    return store.connect(database_url)


class SideBuild(threading.Thread):
    """Builds one per-address index on a connection of its own; `cancel()` stops it."""

    def __init__(self, database_url: str, index: str):
        super().__init__(name=f"build-{index}", daemon=True)
        self.database_url, self.index = database_url, index
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._cancelled = False

    def run(self) -> None:
        conn = None
        try:
            conn = _connect(self.database_url)
            with self._lock:
                if self._cancelled:
                    return
                self._conn = conn
            store.create_address_indexes(conn, (self.index,))
        except BaseException as exc:  # noqa: BLE001 - the writer logs it and builds the index
            self.error = exc
        finally:
            with self._lock:
                self._conn = None
            if conn is not None:
                conn.close()

    def cancel(self) -> None:
        """Stop the build (its transaction rolls back); a build not yet started never starts."""
        with self._lock:
            self._cancelled = True
            if self._conn is not None:
                try:
                    self._conn.cancel_safe(timeout=5.0)
                except Exception as exc:  # noqa: BLE001 - the server may already be gone
                    log.debug("cancelling the build of %s: %s", self.index, exc)


def build_address_indexes(missing: list[str], database_url: str,
                          build_here: Callable[[list[str]], object]) -> None:
    """Build the per-address indexes `missing`: the first by `build_here` (the writer's
    connection), the others each by a SideBuild at the same time. A side build that failed is
    logged and left to the caller, who builds what is still missing on its own connection."""
    side = [SideBuild(database_url, name) for name in missing[1:]]
    for build in side:
        build.start()
    try:
        build_here(missing[:1])
        for build in side:
            while build.is_alive():  # a join with a timeout, so that a signal gets through
                build.join(0.2)
    except BaseException:
        for build in side:
            build.cancel()
        for build in side:
            build.join(CANCEL_WAIT_SECONDS)
        raise
    for build in side:
        if build.error is not None:
            log.warning("building %s on a connection of its own failed (%s); the writer builds it",
                        build.index, store.first_line(build.error)[:200])

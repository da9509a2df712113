"""The per-address indexes built again at a long backfill's end (indexer/sync/indexes.py): side by
side on connections of their own, and safe when that second connection fails, is interrupted or
loses its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psycopg
import pytest

from indexer import store
from indexer.sync import indexes

FROM, TO = store.ADDRESS_INDEXES


def present(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return set(store.ADDRESS_INDEXES) - set(store.missing_address_indexes(conn))


def dropped(url: str) -> str:
    with psycopg.connect(url) as conn:
        store.drop_address_indexes(conn)
    assert present(url) == set()
    return url


def wait_until(condition, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds:.0f}s for {what}")
        time.sleep(0.05)


def builds_waiting_on_a_lock(url: str) -> list[int]:
    """The backends whose CREATE INDEX waits for a lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            """SELECT pid FROM pg_stat_activity
               WHERE datname = current_database() AND wait_event_type = 'Lock'
                 AND query LIKE 'CREATE INDEX%%'""").fetchall()]


def builds_running(url: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            """SELECT pid FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()
                 AND query LIKE 'CREATE INDEX%%' AND state = 'active'""").fetchall()]


def holding_off_builds(url: str) -> psycopg.Connection:
    """A connection whose open transaction keeps every CREATE INDEX on logs waiting (ROW
    EXCLUSIVE conflicts with the SHARE lock a build takes) until it is closed."""
    conn = psycopg.connect(url)
    conn.execute("LOCK TABLE logs IN ROW EXCLUSIVE MODE")
    return conn


def test_the_second_index_builds_on_its_own_connection_while_the_first_does(database_url):
    url = dropped(database_url)
    seen_by_the_writer: list[set[str]] = []

    def build_here(names):
        # The side build commits while the writer's is still to come: they run side by side.
        wait_until(lambda: TO in present(url), "the side build of the second index", 30)
        seen_by_the_writer.append(present(url))
        with store.connect(url) as conn:
            store.create_address_indexes(conn, names)

    indexes.build_address_indexes([FROM, TO], url, build_here)
    assert seen_by_the_writer == [{TO}]
    assert present(url) == {FROM, TO}


def test_a_side_build_that_cannot_connect_is_logged_and_builds_nothing(database_url, monkeypatch,
                                                                        caplog):
    url = dropped(database_url)

    def refused(_url):
        raise store.DatabaseError("cannot connect to PostgreSQL: FATAL:  sorry, too many clients "
                                  "already")

    monkeypatch.setattr(indexes, "_connect", refused)
    built: list[list[str]] = []

    def build_here(names):
        built.append(list(names))
        with store.connect(url) as conn:
            store.create_address_indexes(conn, names)

    indexes.build_address_indexes([FROM, TO], url, build_here)  # no error: the caller goes on
    assert built == [[FROM]]
    assert present(url) == {FROM}  # the second is left to the caller (Syncer._ensure_indexes)
    assert f"building {TO} on a connection of its own failed (cannot connect to PostgreSQL: " \
           "FATAL:  sorry, too many clients already); the writer builds it" in caplog.text


def test_an_interrupted_writer_cancels_the_side_build_and_nothing_is_left(database_url):
    url = dropped(database_url)
    hold = holding_off_builds(url)
    try:
        def build_here(names):  # Ctrl-C while the side build waits
            wait_until(lambda: builds_waiting_on_a_lock(url), "the side build to wait", 30)
            raise KeyboardInterrupt

        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            indexes.build_address_indexes([FROM, TO], url, build_here)
        assert time.monotonic() - started < indexes.CANCEL_WAIT_SECONDS
        assert not [t for t in threading.enumerate() if t.name == f"build-{TO}"]
        assert builds_running(url) == []
    finally:
        hold.close()
    assert present(url) == set()


def test_a_side_build_whose_process_is_killed_leaves_no_index_behind(database_url):
    """The server finishes a statement before it notices its client is gone: a build in
    autocommit would then commit its index, and the next start's CREATE INDEX IF NOT EXISTS
    would find half of the set built by nobody. In a transaction it rolls back."""
    url = dropped(database_url)
    hold = holding_off_builds(url)
    try:
        child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
            from indexer.sync.indexes import SideBuild
            build = SideBuild({url!r}, {TO!r})
            build.run()
        """)])
        try:
            wait_until(lambda: builds_waiting_on_a_lock(url), "the build to wait", 30)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        [backend] = builds_waiting_on_a_lock(url)
    finally:
        hold.close()  # the orphaned backend now builds the index, then finds its client gone
    with psycopg.connect(url, autocommit=True) as conn:
        wait_until(lambda: conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                        (backend,)).fetchone()[0] == 0,
                   "the orphaned backend to end", 30)
    assert present(url) == set()

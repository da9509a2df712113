"""How an aborting writer stops the threads that run statements on connections of their own
(indexer/sync/cancel.py), against a real server."""

from __future__ import annotations

import socket
import threading
import time

import psycopg

from indexer import store
from indexer.sync import cancel


class Sleeper(cancel.ConnectionThread):
    """Idle on its connection for a moment (a cancel request then is dropped by the server),
    then one long statement."""

    def __init__(self, url: str):
        super().__init__(name="sleeper")
        self.url, self.attached, self.outcome = url, threading.Event(), None

    def run(self) -> None:
        with store.connect(self.url) as conn:
            if not self._attach(conn):
                return
            self.attached.set()
            time.sleep(1.0)
            try:
                conn.execute("SELECT pg_sleep(60)")
                self.outcome = "finished"
            except psycopg.errors.QueryCanceled:
                self.outcome = "cancelled"
            finally:
                self._detach()


def test_a_cancel_between_two_statements_is_sent_again_until_the_thread_ends(database_url):
    sleeper = Sleeper(database_url)
    sleeper.start()
    assert sleeper.attached.wait(30)
    started = time.monotonic()
    assert cancel.cancel_all([sleeper]) == []  # the first request lands while it is idle
    assert time.monotonic() - started < cancel.CANCEL_WAIT_SECONDS
    assert sleeper.outcome == "cancelled"


def test_a_thread_cancelled_before_it_connects_runs_nothing(database_url):
    sleeper = Sleeper(database_url)
    sleeper.cancel()
    sleeper.start()
    sleeper.join(30)
    assert not sleeper.is_alive()
    assert sleeper.outcome is None and not sleeper.attached.is_set()


class Connector(cancel.ConnectionThread):
    """Keeps trying to connect to a server that is not there, as a deriver does while
    PostgreSQL restarts (store.CONNECT_ATTEMPTS, about two minutes of back-off)."""

    def __init__(self, url: str):
        super().__init__(name="connector")
        self.url, self.outcome = url, None

    def run(self) -> None:
        conn = self._connect(self.url, store.CONNECT_ATTEMPTS)
        self.outcome = "gave up" if conn is None else "connected"


def test_a_cancel_ends_the_retries_to_connect():
    with socket.socket() as s:  # a port nobody listens on: each attempt is refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    connector = Connector(f"postgresql://nobody@127.0.0.1:{port}/none")
    connector.start()
    time.sleep(1.5)  # a few attempts; it now waits out a back-off
    assert connector.is_alive()
    started = time.monotonic()
    assert cancel.cancel_all([connector], seconds=5) == []
    assert time.monotonic() - started < 2
    assert connector.outcome == "gave up"

"""How an aborting writer stops the threads that run statements on connections of their own
(indexer/sync/cancel.py), against a real server."""

from __future__ import annotations

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

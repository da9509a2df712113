"""Connections to PostgreSQL: connecting with retries, the server's settings, the writer lock,
and the read-only helpers the readers (export, the report) compose their queries with."""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from tenacity import (Retrying, retry_if_exception_type, stop_after_attempt, stop_when_event_set,
                      wait_random_exponential)

from indexer.errors import DatabaseError, SyncLocked


log = logging.getLogger(__name__)

# pg_try_advisory_lock(class, object) of a chain's single writer: the class is the ASCII of
# "gsyn", the object the chain id (below 2^31 for every chain we know; folded in if not).
WRITER_LOCK_CLASS = int.from_bytes(b"gsyn", "big")


def _writer_lock_object(chain_id: int) -> int:
    return chain_id % 2**31


# Reconnect attempts when PostgreSQL is down or restarting: jittered exponential back-off capped
# at 10 s, about two minutes in all, then give up with a clear message.
CONNECT_ATTEMPTS = 15
CONNECT_BACKOFF_MAX_SECONDS = 10.0

# The errors that mean "the connection or server went away", as opposed to a bad statement.
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(url: str, *, attempts: int = 1,
            abandon: threading.Event | None = None) -> psycopg.Connection:
    """An autocommit connection (writes open explicit transactions), retried `attempts` times.
    Once `abandon` is set, the back-off wait ends and no attempt follows (DatabaseError): a
    thread that was cancelled while the server was away does not sit out the retries."""
    abandon = abandon or threading.Event()  # none given: one that is never set

    def once() -> psycopg.Connection:
        if abandon.is_set():
            raise psycopg.OperationalError("given up: the connection is no longer wanted")
        return psycopg.connect(url, autocommit=True, application_name="gold-indexer",
                               connect_timeout=10)

    def before_sleep(state) -> None:
        log.warning("PostgreSQL not reachable (%s); retrying in %.1fs (attempt %d/%d)",
                    _first_line(state.outcome.exception()), state.next_action.sleep,
                    state.attempt_number, attempts)

    try:
        return Retrying(
            retry=retry_if_exception_type(psycopg.OperationalError),
            stop=stop_after_attempt(attempts) | stop_when_event_set(abandon),
            wait=wait_random_exponential(multiplier=0.5, max=CONNECT_BACKOFF_MAX_SECONDS),
            sleep=abandon.wait,
            before_sleep=before_sleep,
            reraise=True,
        )(once)
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"cannot connect to PostgreSQL: {_first_line(exc)}") from None


def ensure_database(admin_url: str, name: str) -> None:
    """Create database `name` on the server of `admin_url` unless it exists."""
    with connect(admin_url) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def configure_server(admin_url: str, settings: dict[str, str]) -> list[str]:
    """ALTER SYSTEM each of `settings` whose value is still PostgreSQL's built-in one (initdb
    writes some of those into postgresql.conf; a value changed by hand is left alone), then
    reload: the names set."""
    with connect(admin_url) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM pg_settings WHERE name = ANY(%s) AND setting = boot_val",
            (list(settings),)).fetchall()]
        for name in names:
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(
                sql.Identifier(name), sql.Literal(settings[name])))
        if names:
            conn.execute("SELECT pg_reload_conf()")
    return names


def acquire_writer_lock(conn: psycopg.Connection, chain_id: int) -> None:
    """Session-level advisory lock: one writer (`indexer sync`, a repair) per chain and
    database; several chains' syncs write side by side. Held until `conn` closes."""
    got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                       (WRITER_LOCK_CLASS, _writer_lock_object(chain_id))).fetchone()[0]
    if not got:
        raise SyncLocked(
            f"another indexer sync is already writing chain {chain_id} to this database: stop "
            "it first (or wait for it), then start this one again"
        )


def sync_running(conn: psycopg.Connection, chain_id: int) -> bool:
    """Whether some session holds chain `chain_id`'s writer lock on this database."""
    row = conn.execute(
        """SELECT EXISTS (SELECT 1 FROM pg_locks
                          WHERE locktype = 'advisory' AND granted
                            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                            AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 2)""",
        (WRITER_LOCK_CLASS, _writer_lock_object(chain_id)),
    ).fetchone()
    return bool(row[0])


def copy_csv_out(conn: psycopg.Connection, query: sql.Composable, write) -> None:
    """Stream `query` as CSV with a header row through `write(bytes)` (COPY ... TO STDOUT)."""
    statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER)").format(query)
    try:
        with conn.cursor() as cur:
            with cur.copy(statement) as copy:
                for chunk in copy:
                    write(bytes(chunk))
    except psycopg.Error as exc:
        raise DatabaseError(f"export failed: {_first_line(exc)}") from None


@contextmanager
def read_snapshot(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """One read-only REPEATABLE READ transaction: every query in the block sees the same
    committed state, so a report made while a sync writes never mixes two batches (its
    freshness figures describe exactly the rows its sections show), and writes nothing."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield conn


def view_columns(conn: psycopg.Connection, name: str) -> tuple[str, ...]:
    """The columns of the view (or table) `name` in the current schema, in order; () when there
    is none. Lets a reader use columns that a later revision adds, once they are there."""
    rows = conn.execute(
        """SELECT column_name FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position""",
        (name,),
    ).fetchall()
    return tuple(r[0] for r in rows)


def fetch_dicts(conn: psycopg.Connection, query: sql.Composable,
                params: dict | None = None) -> list[dict]:
    """The rows of a query composed with psycopg.sql (values only as parameters), as dicts."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()

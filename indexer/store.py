"""The only module that speaks to PostgreSQL (psycopg 3): COPY, checkpoints, the writer lock.

Each batch is one transaction holding its logs, its block headers and the checkpoint, so a crash
leaves either all of a batch or none of it. Logs go in with COPY; headers with one INSERT over
arrays (a block can already be there from another token's batch, hence ON CONFLICT).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from indexer.decode import LOG_COLUMNS, PRICE_COLUMNS
from indexer.errors import DatabaseError, SyncLocked
from indexer.feeds import Aggregator
from indexer.resources import sql_statements
from indexer.tokens import Token

log = logging.getLogger(__name__)

# pg_try_advisory_lock(class, object) of a chain's single writer: the class is the ASCII of
# "gsyn", the object the chain id (below 2^31 for every chain we know; folded in if not).
WRITER_LOCK_CLASS = int.from_bytes(b"gsyn", "big")


def _writer_lock_object(chain_id: int) -> int:
    return chain_id % 2**31

_COPY_LOGS = sql.SQL("COPY logs ({}) FROM STDIN").format(
    sql.SQL(", ").join(sql.Identifier(c) for c in LOG_COLUMNS)
)

_COPY_PRICES = sql.SQL("COPY prices ({}) FROM STDIN").format(
    sql.SQL(", ").join(sql.Identifier(c) for c in PRICE_COLUMNS)
)

# A `blocks` row b that nothing holds on to: no stored log, no checkpoint (a token's or a price
# feed aggregator's) is at its block. write_batch and replace_block drop such rows outside the
# reorg window, so `blocks` holds the same rows whatever the batch boundaries were.
_BLOCK_UNUSED = """
    NOT EXISTS (SELECT 1 FROM logs l WHERE l.chain_id = b.chain_id AND l.block_number = b.number)
    AND NOT EXISTS (SELECT 1 FROM checkpoints c
                    WHERE c.chain_id = b.chain_id AND c.block_number = b.number)
    AND NOT EXISTS (SELECT 1 FROM price_aggregators a
                    WHERE a.chain_id = b.chain_id AND a.block_number = b.number)"""


@dataclass(frozen=True, slots=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    block_time: str  # timestamptz literal


@dataclass(frozen=True, slots=True)
class Checkpoint:
    token: str
    block_number: int
    block_hash: str


# Reconnect attempts when PostgreSQL is down or restarting: jittered exponential back-off capped
# at 10 s, about two minutes in all, then give up with a clear message.
CONNECT_ATTEMPTS = 15
CONNECT_BACKOFF_MAX_SECONDS = 10.0

# The errors that mean "the connection or server went away", as opposed to a bad statement.
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(url: str, *, attempts: int = 1) -> psycopg.Connection:
    """An autocommit connection (writes open explicit transactions), retried `attempts` times."""

    def once() -> psycopg.Connection:
        return psycopg.connect(url, autocommit=True, application_name="gold-indexer",
                               connect_timeout=10)

    def before_sleep(state) -> None:
        log.warning("PostgreSQL not reachable (%s); retrying in %.1fs (attempt %d/%d)",
                    _first_line(state.outcome.exception()), state.next_action.sleep,
                    state.attempt_number, attempts)

    try:
        return Retrying(
            retry=retry_if_exception_type(psycopg.OperationalError),
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(multiplier=0.5, max=CONNECT_BACKOFF_MAX_SECONDS),
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


def save_tokens(conn: psycopg.Connection, chain_id: int, tokens: Sequence[Token],
                chain_name: str) -> None:
    """The chain's name and its tokens as configured now."""
    with conn.transaction():
        conn.execute("""INSERT INTO chains (chain_id, name) VALUES (%s, %s)
                        ON CONFLICT (chain_id) DO UPDATE SET name = EXCLUDED.name""",
                     (chain_id, chain_name))
        for t in tokens:
            conn.execute(
                """INSERT INTO tokens (chain_id, symbol, address, decimals, start_block, kind, oft)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (chain_id, symbol) DO UPDATE
                   SET address = EXCLUDED.address, decimals = EXCLUDED.decimals,
                       start_block = EXCLUDED.start_block, kind = EXCLUDED.kind,
                       oft = EXCLUDED.oft""",
                (chain_id, t.symbol, t.address, t.decimals, t.start_block, t.kind, t.oft),
            )


def load_checkpoints(conn: psycopg.Connection, chain_id: int) -> dict[str, Checkpoint]:
    rows = conn.execute(
        "SELECT token, block_number, block_hash FROM checkpoints WHERE chain_id = %s", (chain_id,)
    ).fetchall()
    return {r[0]: Checkpoint(r[0], r[1], r[2]) for r in rows}


def load_source_checkpoints(conn: psycopg.Connection, chain_id: int) -> dict[str, Checkpoint]:
    """Every log source's checkpoint: the tokens' (by symbol) and the price feed aggregators'
    that have one (by their key, 'XAU/USD@3')."""
    rows = conn.execute(
        """SELECT feed || '@' || phase_id, block_number, block_hash FROM price_aggregators
           WHERE chain_id = %s AND block_number IS NOT NULL""", (chain_id,)
    ).fetchall()
    return {**load_checkpoints(conn, chain_id), **{r[0]: Checkpoint(r[0], r[1], r[2]) for r in rows}}


# -- price feeds (revision 0011) ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PriceFeed:
    feed: str
    proxy: str
    decimals: int
    checked_block: int | None
    aggregators: tuple[Aggregator, ...]


def load_price_feeds(conn: psycopg.Connection, chain_id: int) -> dict[str, PriceFeed]:
    """The feeds this database reads, with their aggregators as the sync's log sources."""
    aggregators: dict[str, list[Aggregator]] = {}
    for feed, phase, address, start in conn.execute(
            """SELECT feed, phase_id, aggregator, start_block FROM price_aggregators
               WHERE chain_id = %s ORDER BY feed, phase_id""", (chain_id,)).fetchall():
        aggregators.setdefault(feed, []).append(Aggregator(feed, phase, address, start))
    return {feed: PriceFeed(feed, proxy, decimals, checked, tuple(aggregators.get(feed, ())))
            for feed, proxy, decimals, checked in conn.execute(
                """SELECT feed, proxy, decimals, checked_block FROM price_feeds
                   WHERE chain_id = %s""", (chain_id,)).fetchall()}


def save_price_feed(conn: psycopg.Connection, chain_id: int, feed: str, proxy: str, decimals: int,
                    checked_block: int, new: Sequence[Aggregator]) -> None:
    """Record a reading of a feed's phases at `checked_block` and the aggregators it found
    that the database did not have, in one transaction."""
    with conn.transaction():
        conn.execute(
            """INSERT INTO price_feeds (chain_id, feed, proxy, decimals, checked_block)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (chain_id, feed) DO UPDATE SET proxy = EXCLUDED.proxy,
                   decimals = EXCLUDED.decimals,
                   checked_block = greatest(price_feeds.checked_block, EXCLUDED.checked_block)""",
            (chain_id, feed, proxy, decimals, checked_block))
        for a in new:
            conn.execute(
                """INSERT INTO price_aggregators (chain_id, feed, phase_id, aggregator, start_block)
                   VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                (chain_id, a.feed, a.phase, a.address, a.start_block))


def load_price_status(conn: psycopg.Connection, chain_id: int) -> list[dict]:
    """Per price feed: its proxy, phases, the block its aggregators are read to, the rounds
    stored and the latest answer (the proxy's, price_rounds) with its time; [] before
    revision 0011 or without feeds."""
    if conn.execute("SELECT to_regclass('public.price_feeds')").fetchone()[0] is None:
        return []
    rows = conn.execute(
        """SELECT f.feed, f.proxy, f.decimals,
                  (SELECT count(*) FROM price_aggregators a
                   WHERE a.chain_id = f.chain_id AND a.feed = f.feed),
                  (SELECT min(coalesce(a.block_number, a.start_block - 1)) FROM price_aggregators a
                   WHERE a.chain_id = f.chain_id AND a.feed = f.feed),
                  (SELECT count(*) FROM prices p WHERE p.chain_id = f.chain_id AND p.feed = f.feed),
                  r.price, r.updated_at
           FROM price_feeds f
           LEFT JOIN LATERAL (SELECT price, updated_at FROM price_rounds r
                              WHERE r.chain_id = f.chain_id AND r.feed = f.feed
                              ORDER BY updated_at DESC, round_id DESC LIMIT 1) r ON true
           WHERE f.chain_id = %s ORDER BY f.feed""",
        (chain_id,),
    ).fetchall()
    keys = ("feed", "proxy", "decimals", "phases", "indexed_block", "rounds", "latest_price",
            "latest_updated_at")
    return [dict(zip(keys, r)) for r in rows]


# Above every block number: "no bound" for the `before` arguments below.
NO_BLOCK_BOUND = 2**63 - 1


def load_fee_recipients(conn: psycopg.Connection, chain_id: int,
                        before: int = NO_BLOCK_BOUND) -> dict[str, str]:
    """The latest FeeRecipientSet per token among stored logs (of blocks below `before`)."""
    rows = conn.execute(
        """SELECT DISTINCT ON (token) token, to_address FROM logs
           WHERE chain_id = %s AND event = 'FeeRecipientSet' AND block_number < %s
           ORDER BY token, block_number DESC, log_index DESC""",
        (chain_id, before),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def load_implementations(conn: psycopg.Connection, chain_id: int,
                         before: int = NO_BLOCK_BOUND) -> dict[str, str]:
    """The implementation named by the latest stored Upgraded log (of blocks below `before`),
    per token."""
    rows = conn.execute(
        """SELECT DISTINCT ON (token) token, args ->> 'implementation' FROM logs
           WHERE chain_id = %s AND event = 'Upgraded' AND args ? 'implementation'
             AND block_number < %s
           ORDER BY token, block_number DESC, log_index DESC""",
        (chain_id, before),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def write_batch(
    conn: psycopg.Connection,
    chain_id: int,
    rows: Iterable[Sequence],
    headers: Sequence[Header],
    checkpoint_tokens: Sequence[str],
    checkpoint: Header,
    window_from: int | None = None,
    rows_from: int | None = None,
    events_by_token: dict[str, int] | None = None,
    finalized: int | None = None,
    estimated: Sequence[int] = (),
    prices: Iterable[Sequence] = (),
    checkpoint_feeds: Sequence[str] = (),
) -> None:
    """Store one batch and move the checkpoints of `checkpoint_tokens` (and of the price feed
    aggregators `checkpoint_feeds`, keys like 'XAU/USD@3', with their `prices` rows) to
    `checkpoint`, atomically.

    The derived tables follow in their own transactions (derive_step). `rows_from` is the
    batch's first block. `finalized` is the node's finalized block as of a head poll made
    before the batch was fetched: the batch's headers, read after it, link the stored rows to
    the checkpoint on the chain that holds that finalized block, so every stored row up to
    both is final (mark_final_seen). The rows of the blocks the checkpoints leave are dropped
    unless a log, another checkpoint or the reorg window (blocks from `window_from` on) still
    needs them, so `blocks` holds the same rows whatever the batch boundaries were. `estimated`:
    the blocks whose time in the rows is an estimate inside its exact UTC day (estimated_times).
    """
    with conn.transaction():
        with conn.cursor() as cur:
            left = [r[0] for r in cur.execute(
                """SELECT block_number FROM checkpoints
                   WHERE chain_id = %(c)s AND token = ANY(%(tokens)s) AND block_number <> %(n)s
                   UNION
                   SELECT block_number FROM price_aggregators
                   WHERE chain_id = %(c)s AND feed || '@' || phase_id = ANY(%(feeds)s)
                     AND block_number <> %(n)s""",
                {"c": chain_id, "tokens": list(checkpoint_tokens), "feeds": list(checkpoint_feeds),
                 "n": checkpoint.number}).fetchall() if r[0] is not None]
            with cur.copy(_COPY_LOGS) as copy:
                for row in rows:
                    copy.write_row(row)
            with cur.copy(_COPY_PRICES) as copy:
                for row in prices:
                    copy.write_row(row)
            all_headers = list(headers)
            if all(h.number != checkpoint.number for h in all_headers):
                all_headers.append(checkpoint)
            cur.execute(
                """INSERT INTO blocks (chain_id, number, hash, parent_hash, block_time)
                   SELECT %s, * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[])
                   ON CONFLICT (chain_id, number) DO NOTHING""",
                (
                    chain_id,
                    [h.number for h in all_headers],
                    [h.hash for h in all_headers],
                    [h.parent_hash for h in all_headers],
                    [h.block_time for h in all_headers],
                ),
            )
            cur.execute(
                """INSERT INTO checkpoints (chain_id, token, block_number, block_hash, updated_at,
                                           last_batch_blocks, last_batch_events, last_batch_seconds)
                   SELECT %(c)s, t, %(n)s, %(h)s, now(), %(blocks)s,
                          coalesce((%(events)s::jsonb ->> t)::bigint, 0), NULL
                   FROM unnest(%(tokens)s::text[]) AS t
                   ON CONFLICT (chain_id, token) DO UPDATE
                   SET block_number = EXCLUDED.block_number, block_hash = EXCLUDED.block_hash,
                       updated_at = EXCLUDED.updated_at,
                       last_batch_blocks = EXCLUDED.last_batch_blocks,
                       last_batch_events = EXCLUDED.last_batch_events,
                       last_batch_seconds = NULL""",
                {"c": chain_id, "n": checkpoint.number, "h": checkpoint.hash,
                 "tokens": list(checkpoint_tokens),
                 "blocks": checkpoint.number - rows_from + 1 if rows_from is not None else None,
                 "events": Jsonb(events_by_token or {})},
            )
            if checkpoint_feeds:
                cur.execute(
                    """UPDATE price_aggregators SET block_number = %s, block_hash = %s
                       WHERE chain_id = %s AND feed || '@' || phase_id = ANY(%s)""",
                    (checkpoint.number, checkpoint.hash, chain_id, list(checkpoint_feeds)))
            if left:
                cur.execute(
                    """DELETE FROM blocks b WHERE b.chain_id = %s AND b.number = ANY(%s)
                       AND (%s::bigint IS NULL OR b.number < %s) AND """ + _BLOCK_UNUSED,
                    (chain_id, left, window_from, window_from),
                )
            if finalized is not None:
                mark_final_seen(conn, chain_id, min(finalized, checkpoint.number))
            if estimated:
                cur.execute(
                    """INSERT INTO estimated_times (chain_id, block_number)
                       SELECT %s, unnest(%s::bigint[]) ON CONFLICT DO NOTHING""",
                    (chain_id, list(estimated)),
                )


# A token's latest day or month holding more transfers than this gets its senders and receivers
# in period_members when a settling step finds it still filling after an earlier one counted it
# (the sync follows the head), and each later batch adds only its own to them; any other period
# is counted from its logs, which costs less than keeping its members (revisions 0013, 0016,
# 0017).
MEMBERS_FROM = 20_000


def add_derived(cur: psycopg.Cursor, chain_id: int, token: str, lo: int, hi: int,
                settle: bool = True, settled: bool = True) -> None:
    """Add token's stored Transfer logs of blocks [lo, hi] to the derived tables (the caller's
    transaction; blocks above hi must not be in them yet). `settle`: count the token's latest
    day and month too (else they wait: more batches follow); `settled`: the steps before did."""
    params = {"chain_id": chain_id, "token": token, "lo": lo, "hi": hi,
              "members_from": MEMBERS_FROM, "settle": settle, "settled": settled}
    for statement in sql_statements("derived_add.sql"):
        cur.execute(statement, params)


def _checkpoint_tokens(cur: psycopg.Cursor, chain_id: int) -> list[str]:
    return [r[0] for r in cur.execute(
        "SELECT token FROM checkpoints WHERE chain_id = %s ORDER BY token", (chain_id,)).fetchall()]


# pg_advisory_xact_lock class of the derive transactions ("gold"); the object is the token.
DERIVE_LOCK_CLASS = int.from_bytes(b"gold", "big")


def _derive_next(cur: psycopg.Cursor, chain_id: int, token: str, max_logs: int | None,
                 settle: bool = True) -> int | None:
    """In the caller's transaction: lock token's derived rows, then add its stored logs not in
    them yet (up to its checkpoint, or fewer whole blocks holding about `max_logs` Transfer
    logs) and move its mark. Returns the last block added, or None if they were up to date.
    The mark is read under the lock, so two derive transactions (even of two processes) can
    never add the same logs twice.

    `settle`: when the step reaches the checkpoint, count the token's latest day and month too
    (or, with nothing to add, count them if an earlier step left them waiting). Without it they
    wait for a later step: a backfill's steps count each period once, when it is over."""
    cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                (DERIVE_LOCK_CLASS, f"{chain_id}:{token}"))
    row = cur.execute(
        """SELECT coalesce(m.block_number, -1) + 1, c.block_number, coalesce(m.periods_settled, true)
           FROM checkpoints c
           LEFT JOIN derived_marks m ON m.chain_id = c.chain_id AND m.token = c.token
           WHERE c.chain_id = %s AND c.token = %s""",
        (chain_id, token),
    ).fetchone()
    if row is None:
        return None
    lo, top, settled = row
    if lo > top:
        if settle and not settled:
            add_derived(cur, chain_id, token, lo, top, settle=True, settled=False)  # adds nothing
            cur.execute("""UPDATE derived_marks SET periods_settled = true
                           WHERE chain_id = %s AND token = %s""", (chain_id, token))
        return None
    hi = top
    if max_logs is not None:
        row = cur.execute(
            """SELECT block_number FROM logs
               WHERE chain_id = %s AND block_number BETWEEN %s AND %s
                 AND token = %s AND event = 'Transfer'
               ORDER BY block_number, log_index OFFSET %s LIMIT 1""",
            (chain_id, lo, hi, token, max_logs - 1),
        ).fetchone()
        hi = row[0] if row else hi
    settle = settle and hi == top
    add_derived(cur, chain_id, token, lo, hi, settle=settle, settled=settled)
    _set_mark(cur, chain_id, token, hi, settled=settle)
    return hi


def derive_step(conn: psycopg.Connection, chain_id: int, token: str, max_logs: int,
                settle: bool = True) -> int | None:
    """One derive transaction of token (_derive_next): the last block added, or None."""
    with conn.transaction():
        with conn.cursor() as cur:
            return _derive_next(cur, chain_id, token, max_logs, settle)


def derived_mark(conn: psycopg.Connection, chain_id: int, token: str) -> int:
    """The last block of token's logs in the derived tables (-1: none)."""
    row = conn.execute("SELECT block_number FROM derived_marks WHERE chain_id = %s AND token = %s",
                       (chain_id, token)).fetchone()
    return row[0] if row else -1


def derive_all(conn: psycopg.Connection, chain_id: int, max_logs: int) -> None:
    """Bring the derived tables up to every checkpoint."""
    with conn.cursor() as cur:
        tokens = _checkpoint_tokens(cur, chain_id)
    for token in tokens:
        while derive_step(conn, chain_id, token, max_logs) is not None:
            pass


def _set_mark(cur: psycopg.Cursor, chain_id: int, token: str, block: int, settled: bool) -> None:
    cur.execute(
        """INSERT INTO derived_marks (chain_id, token, block_number, periods_settled)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (chain_id, token) DO UPDATE SET block_number = EXCLUDED.block_number,
                                                       periods_settled = EXCLUDED.periods_settled""",
        (chain_id, token, block, settled),
    )


def record_batch_seconds(conn: psycopg.Connection, chain_id: int, tokens: Sequence[str],
                         block: int, seconds: float) -> None:
    """After a batch committed: how long it took from the previous commit, for `indexer status`.
    Written apart from the batch, since only now is its duration known."""
    conn.execute(
        """UPDATE checkpoints SET last_batch_seconds = %s
           WHERE chain_id = %s AND token = ANY(%s) AND block_number = %s""",
        (seconds, chain_id, list(tokens), block),
    )


def load_block_hashes(conn: psycopg.Connection, chain_id: int, lo: int, hi: int) -> dict[int, str]:
    rows = conn.execute(
        "SELECT number, hash FROM blocks WHERE chain_id = %s AND number BETWEEN %s AND %s",
        (chain_id, lo, hi),
    ).fetchall()
    return dict(rows)


def rewind(conn: psycopg.Connection, chain_id: int, ancestor: int, ancestor_hash: str | None) -> int:
    """Delete everything above block `ancestor` and move checkpoints back to it, atomically.

    Returns the number of logs deleted. Every table that holds per-block data is listed here;
    the derived tables are brought back first, from the very logs about to be deleted.
    """
    with conn.transaction():
        # derived_remove.sql takes off every stored log above the ancestor: first add the ones
        # the derived tables do not have yet.
        with conn.cursor() as cur:
            for token in _checkpoint_tokens(cur, chain_id):  # locks held until this commits
                _derive_next(cur, chain_id, token, None)
        params = {"chain_id": chain_id, "ancestor": ancestor, "members_from": MEMBERS_FROM}
        for statement in sql_statements("derived_remove.sql"):
            conn.execute(statement, params)
        conn.execute("UPDATE derived_marks SET block_number = %s WHERE chain_id = %s AND block_number > %s",
                     (ancestor, chain_id, ancestor))
        deleted = conn.execute(
            "DELETE FROM logs WHERE chain_id = %s AND block_number > %s", (chain_id, ancestor)
        ).rowcount
        conn.execute("DELETE FROM prices WHERE chain_id = %s AND block_number > %s", (chain_id, ancestor))
        conn.execute("DELETE FROM blocks WHERE chain_id = %s AND number > %s", (chain_id, ancestor))
        conn.execute("DELETE FROM estimated_times WHERE chain_id = %s AND block_number > %s",
                     (chain_id, ancestor))
        if ancestor_hash is None:  # back before any stored block: as if never synced
            conn.execute("DELETE FROM checkpoints WHERE chain_id = %s AND block_number > %s",
                         (chain_id, ancestor))
        conn.execute(
            """UPDATE checkpoints SET block_number = %s, block_hash = %s, updated_at = now()
               WHERE chain_id = %s AND block_number > %s""",
            (ancestor, ancestor_hash, chain_id, ancestor),
        )
        conn.execute(
            """UPDATE price_aggregators SET block_number = %s, block_hash = %s
               WHERE chain_id = %s AND block_number > %s""",
            (None if ancestor_hash is None else ancestor, ancestor_hash, chain_id, ancestor),
        )
    return deleted


def load_block(conn: psycopg.Connection, chain_id: int, number: int) -> Header | None:
    """The stored row of block `number` (its parent_hash None below the reorg window)."""
    row = conn.execute(
        """SELECT number, hash, parent_hash, to_char(block_time AT TIME ZONE 'UTC',
                                                     'YYYY-MM-DD HH24:MI:SS+00')
           FROM blocks WHERE chain_id = %s AND number = %s""", (chain_id, number)).fetchone()
    return Header(*row) if row else None


def load_block_logs(conn: psycopg.Connection, chain_id: int, number: int,
                    tokens: Sequence[str]) -> list[tuple]:
    """The stored logs of `tokens` in block `number`, in LOG_COLUMNS order (block_time as
    text, as decode_logs writes it), by log index."""
    columns = sql.SQL(", ").join(
        sql.SQL("to_char(block_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS+00')")
        if c == "block_time" else sql.SQL("args::text") if c == "args" else sql.Identifier(c)
        for c in LOG_COLUMNS)
    return conn.execute(
        sql.SQL("SELECT {} FROM logs WHERE chain_id = %s AND block_number = %s "
                "AND token = ANY(%s) ORDER BY log_index").format(columns),
        (chain_id, number, list(tokens))).fetchall()


def replace_block(conn: psycopg.Connection, chain_id: int, number: int, tokens: Sequence[str],
                  rows: Sequence[Sequence], header: Header | None, estimated: bool,
                  check: Callable[[psycopg.Connection], None], max_logs: int) -> int:
    """Replace the stored logs of `tokens` in block `number` with `rows`, and the derived
    tables with them, in one transaction; returns how many logs were deleted.

    The derived tables are running figures (each day's end-of-day holders, supply and top 10
    carry every block before it), so a block in the middle of the history is replaced the way
    a reorg rollback replaces the top of it: derived_remove.sql takes every stored log above
    `number` - 1 off them, the block's rows are swapped, and the stored logs from `number` on
    are added back (derived_add.sql, steps of about `max_logs` Transfer logs) up to each
    token's checkpoint. `header`: the block's row for `blocks` when `rows` has any (a row
    already there is kept). `check(conn)` runs once the rows are in, inside the transaction:
    it raises to roll everything back."""
    with conn.transaction():
        with conn.cursor() as cur:
            checkpointed = _checkpoint_tokens(cur, chain_id)
            for token in checkpointed:  # locks held until this commits
                _derive_next(cur, chain_id, token, None)
        params = {"chain_id": chain_id, "ancestor": number - 1, "members_from": MEMBERS_FROM}
        for statement in sql_statements("derived_remove.sql"):
            conn.execute(statement, params)
        conn.execute("UPDATE derived_marks SET block_number = %s WHERE chain_id = %s AND block_number > %s",
                     (number - 1, chain_id, number - 1))
        with conn.cursor() as cur:
            deleted = cur.execute(
                "DELETE FROM logs WHERE chain_id = %s AND block_number = %s AND token = ANY(%s)",
                (chain_id, number, list(tokens))).rowcount
            with cur.copy(_COPY_LOGS) as copy:
                for row in rows:
                    copy.write_row(row)
            if rows and header is not None:
                cur.execute(
                    """INSERT INTO blocks (chain_id, number, hash, parent_hash, block_time)
                       VALUES (%s, %s, %s, %s, %s) ON CONFLICT (chain_id, number) DO NOTHING""",
                    (chain_id, number, header.hash, header.parent_hash, header.block_time))
            # What write_batch would have kept of this block: a row for a block with a log, a
            # checkpoint or a header of the reorg window (those have their parent_hash).
            cur.execute(
                """DELETE FROM blocks b WHERE b.chain_id = %s AND b.number = %s
                   AND b.parent_hash IS NULL AND """ + _BLOCK_UNUSED,
                (chain_id, number))
            if rows and estimated:
                cur.execute("""INSERT INTO estimated_times (chain_id, block_number) VALUES (%s, %s)
                               ON CONFLICT DO NOTHING""", (chain_id, number))
            cur.execute(
                """DELETE FROM estimated_times e WHERE e.chain_id = %s AND e.block_number = %s
                   AND NOT EXISTS (SELECT 1 FROM logs l
                                   WHERE l.chain_id = e.chain_id AND l.block_number = e.block_number)
                   AND NOT EXISTS (SELECT 1 FROM prices p
                                   WHERE p.chain_id = e.chain_id AND p.block_number = e.block_number)""",
                (chain_id, number))
        check(conn)
        with conn.cursor() as cur:
            for token in checkpointed:
                while _derive_next(cur, chain_id, token, max_logs) is not None:
                    pass
    return deleted


def save_chain_head(conn: psycopg.Connection, chain_id: int, head: int, safe: int | None,
                    finalized: int | None) -> None:
    conn.execute(
        """INSERT INTO chain_heads (chain_id, head_block, safe_block, finalized_block, updated_at)
           VALUES (%s, %s, %s, %s, now())
           ON CONFLICT (chain_id) DO UPDATE SET head_block = EXCLUDED.head_block,
               safe_block = EXCLUDED.safe_block, finalized_block = EXCLUDED.finalized_block,
               updated_at = EXCLUDED.updated_at""",
        (chain_id, head, safe, finalized),
    )


def mark_final_seen(conn: psycopg.Connection, chain_id: int, block: int) -> None:
    """Stored rows up to `block` are on a chain the node called finalized (the caller checked
    that they link to it): no reorg may remove them. Only ever moves up."""
    conn.execute(
        """UPDATE chain_heads SET final_seen = greatest(final_seen, %s)
           WHERE chain_id = %s AND final_seen IS DISTINCT FROM greatest(final_seen, %s)""",
        (block, chain_id, block),
    )


def count_estimated_times(conn: psycopg.Connection, chain_id: int) -> int:
    """How many blocks' stored times are estimates (estimated_times)."""
    return conn.execute("SELECT count(*) FROM estimated_times WHERE chain_id = %s",
                        (chain_id,)).fetchone()[0]


def load_final_seen(conn: psycopg.Connection, chain_id: int) -> int | None:
    """The highest block whose stored rows this database has seen final (mark_final_seen)."""
    row = conn.execute(
        "SELECT final_seen FROM chain_heads WHERE chain_id = %s", (chain_id,)
    ).fetchone()
    return row[0] if row else None


def prune_headers(conn: psycopg.Connection, chain_id: int, lo: int, hi: int) -> int:
    """Forget headers in [lo, hi] that no log and no checkpoint needs (the reorg window moved on)."""
    return conn.execute(
        """DELETE FROM blocks b WHERE b.chain_id = %s AND b.number BETWEEN %s AND %s
           AND NOT EXISTS (SELECT 1 FROM logs l WHERE l.chain_id = b.chain_id AND l.block_number = b.number)
           AND NOT EXISTS (SELECT 1 FROM checkpoints c WHERE c.chain_id = b.chain_id AND c.block_number = b.number)""",
        (chain_id, lo, hi),
    ).rowcount


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


def add_label(conn: psycopg.Connection, chain_id: int, address: str, name: str, kind: str) -> None:
    conn.execute(
        """INSERT INTO labels (chain_id, address, name, kind) VALUES (%s, %s, %s, %s)
           ON CONFLICT (chain_id, address) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind""",
        (chain_id, address, name, kind),
    )


def remove_label(conn: psycopg.Connection, chain_id: int, address: str) -> bool:
    return conn.execute(
        "DELETE FROM labels WHERE chain_id = %s AND address = %s", (chain_id, address)
    ).rowcount > 0


def list_labels(conn: psycopg.Connection, chain_id: int) -> list[tuple[str, str, str]]:
    return conn.execute(
        "SELECT address, name, kind FROM labels WHERE chain_id = %s ORDER BY kind, name", (chain_id,)
    ).fetchall()


def indexed_supply(conn: psycopg.Connection, chain_id: int, token: str, block: int) -> int:
    """Σ minted − Σ burned over Transfer logs up to `block` (the supply_at() function)."""
    row = conn.execute(
        """SELECT coalesce((SELECT supply FROM supply_at(%s) WHERE chain_id = %s AND token = %s), 0)""",
        (block, chain_id, token),
    ).fetchone()
    return int(row[0])


def indexed_balances(conn: psycopg.Connection, chain_id: int, token: str, block: int,
                     addresses: list[str]) -> dict[str, int]:
    """Balances at `block` summed from Transfer logs: one pass over the logs that touch any of
    `addresses` (through the per-address indexes when they exist)."""
    rows = dict(conn.execute(
        """SELECT v.address, sum(v.delta)
           FROM logs l
           CROSS JOIN LATERAL (VALUES (l.to_address, l.amount), (l.from_address, -l.amount))
                              AS v(address, delta)
           WHERE l.chain_id = %(c)s AND l.token = %(t)s AND l.event = 'Transfer'
             AND l.block_number <= %(b)s
             AND (l.from_address = ANY(%(a)s) OR l.to_address = ANY(%(a)s))
             AND v.address = ANY(%(a)s)
           GROUP BY v.address""",
        {"c": chain_id, "t": token, "b": block, "a": list(addresses)},
    ).fetchall())
    return {a: int(rows.get(a, 0)) for a in addresses}


def pick_holders(conn: psycopg.Connection, chain_id: int, token: str, top: int,
                 sample: int, seed: float) -> list[str]:
    """The `top` largest current holders plus a seeded random sample of `sample` others."""
    top_rows = conn.execute(
        """SELECT address FROM holder_state WHERE chain_id = %s AND token = %s AND balance > 0
           ORDER BY balance DESC, address LIMIT %s""",
        (chain_id, token, top),
    ).fetchall()
    chosen = [r[0] for r in top_rows]
    if sample > 0:
        with conn.transaction():
            conn.execute("SELECT setseed(%s)", (seed,))
            rest = conn.execute(
                """SELECT address FROM holder_state
                   WHERE chain_id = %s AND token = %s AND NOT (address = ANY(%s))
                   ORDER BY random() LIMIT %s""",
                (chain_id, token, chosen, sample),
            ).fetchall()
        chosen += [r[0] for r in rest]
    return chosen


# What a read-only role could still use to create or write, however it got it: the database's
# CREATE (schemas) and TEMPORARY (temporary tables), CREATE on a schema, write privileges on a
# table or view. Each row: the privilege, the object, its owner, and the statements that owner
# must run when PUBLIC holds it (NULL: the role has it through a role it belongs to); they give
# the privilege back to the user running this, who may have relied on PUBLIC's (migrations
# create tables, and one makes a temporary table).
_READONLY_LEAKS = """
SELECT p, format('database %%I', d.datname), pg_get_userbyid(d.datdba),
       CASE WHEN has_database_privilege('public', d.oid, p)
            THEN format('REVOKE %%1$s ON DATABASE %%2$I FROM PUBLIC', p, d.datname)
                 || CASE WHEN pg_has_role(current_user, d.datdba, 'USAGE') THEN ''
                         ELSE format('; GRANT %%1$s ON DATABASE %%2$I TO %%3$I',
                                     p, d.datname, current_user) END END
FROM pg_database d CROSS JOIN unnest(ARRAY['CREATE', 'TEMPORARY']) p
WHERE d.datname = current_database() AND has_database_privilege(%(role)s, d.oid, p)
UNION ALL
SELECT 'CREATE', format('schema %%I', n.nspname), pg_get_userbyid(n.nspowner),
       CASE WHEN has_schema_privilege('public', n.oid, 'CREATE')
            THEN format('REVOKE CREATE ON SCHEMA %%I FROM PUBLIC', n.nspname)
                 || CASE WHEN pg_has_role(current_user, n.nspowner, 'USAGE') THEN ''
                         ELSE format('; GRANT CREATE ON SCHEMA %%I TO %%I',
                                     n.nspname, current_user) END END
FROM pg_namespace n
WHERE has_schema_privilege(%(role)s, n.oid, 'CREATE')
UNION ALL
SELECT p, format('table %%s', c.oid::regclass), pg_get_userbyid(c.relowner),
       CASE WHEN has_table_privilege('public', c.oid, p)
            THEN format('REVOKE %%s ON %%s FROM PUBLIC', p, c.oid::regclass) END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%'
  AND has_table_privilege(%(role)s, c.oid, p)
"""


def create_readonly_role(conn: psycopg.Connection, role: str, password: str | None) -> None:
    """A login role that can read every table, view and function of the schema, now and after
    later migrations, and can neither write nor create anything, even in a session that turns
    its default read-only mode off.

    PostgreSQL lets every role (PUBLIC) create temporary tables, and up to version 14 create in
    schema public: those two are revoked from PUBLIC (only the owner of the database or the
    schema, or a superuser, can). The owner keeps them, so the indexer's own user loses nothing.
    If anything would still let the role write or create, nothing is changed and the error
    names the statement to run. The password reaches the server only as a SCRAM verifier, never
    in the statement text (server logs, pg_stat_activity)."""
    ident = sql.Identifier(role)
    dbname = sql.Identifier(conn.info.dbname)
    owner = sql.Identifier(conn.info.user)
    pw = sql.SQL("")
    if password:
        verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
        pw = sql.SQL(" PASSWORD {}").format(sql.Literal(verifier.decode()))
    try:
        with conn.transaction():
            attributes = conn.execute(
                "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s",
                (role,)).fetchone()
            if attributes is None:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE{}")
                             .format(ident, pw))
            else:
                # Name only the attributes that change: naming one at all (even NOSUPERUSER)
                # needs a superuser, and a database owner with CREATEROLE updates its own
                # analysts' roles (a new password) too.
                off = [sql.SQL(kw) for on, kw in zip(
                    attributes, ("NOSUPERUSER", "NOCREATEDB", "NOCREATEROLE")) if on]
                conn.execute(sql.SQL("ALTER ROLE {} LOGIN{}{}").format(
                    ident, sql.SQL("").join(sql.SQL(" ") + kw for kw in off), pw))
            conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident))
            # Whatever an earlier grant gave the role goes first.
            conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(ident))
            conn.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(ident))
            conn.execute(sql.SQL("REVOKE CREATE, TEMPORARY ON DATABASE {} FROM {}").format(dbname, ident))
            conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(ident))
            # PostgreSQL's own defaults to every role. A REVOKE by a role that may not revoke
            # only warns: the check below finds what is left.
            temp, create = conn.execute(
                """SELECT has_database_privilege('public', current_database(), 'TEMPORARY'),
                          has_schema_privilege('public', 'public', 'CREATE')""").fetchone()
            if temp:
                conn.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(dbname))
            if create:
                conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(dbname, ident))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
            conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(ident))
            conn.execute(sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {}").format(ident))
            conn.execute(sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT ON TABLES TO {}"
            ).format(owner, ident))
            leaks = conn.execute(_READONLY_LEAKS, {"role": role}).fetchall()
            if leaks:
                raise _readonly_leak_error(role, leaks)
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot set up role {role}: {_first_line(exc)}") from None


def _readonly_leak_error(role: str, leaks: list[tuple]) -> DatabaseError:
    privilege, obj, obj_owner, fix = leaks[0]
    more = f" (and {len(leaks) - 1} more)" if len(leaks) > 1 else ""
    if fix:
        # pg_database_owner owns schema public since PostgreSQL 15: whoever owns the database.
        who = "the database's owner" if obj_owner == "pg_database_owner" else f"its owner {obj_owner}"
        how = (f"PUBLIC holds it and only {who} or a superuser can revoke that; run `{fix}` as "
               f"one of them, then this command again")
    else:
        how = "it holds it through a role it belongs to; revoke that membership, then run this again"
    return DatabaseError(f"role {role} would still hold {privilege} on {obj}{more}; nothing was "
                         f"changed: {how}")


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


def load_status(conn: psycopg.Connection, chain_id: int) -> list[dict]:
    """Per token: checkpoint, its block time, the last batch, events stored, and how far the
    derived tables (the views) are."""
    rows = conn.execute(
        """SELECT c.token, c.block_number, b.block_time, c.updated_at, c.last_batch_blocks,
                  c.last_batch_events, c.last_batch_seconds,
                  (SELECT count(*) FROM logs l WHERE l.chain_id = c.chain_id AND l.token = c.token),
                  m.block_number, coalesce(m.periods_settled, true)
           FROM checkpoints c
           LEFT JOIN blocks b ON b.chain_id = c.chain_id AND b.number = c.block_number
           LEFT JOIN derived_marks m ON m.chain_id = c.chain_id AND m.token = c.token
           WHERE c.chain_id = %s ORDER BY c.token""",
        (chain_id,),
    ).fetchall()
    keys = ("token", "indexed_block", "indexed_block_time", "updated_at", "last_batch_blocks",
            "last_batch_events", "last_batch_seconds", "events_stored", "derived_block",
            "periods_settled")
    return [dict(zip(keys, r)) for r in rows]


ADDRESS_INDEXES = ("logs_transfer_from_idx", "logs_transfer_to_idx")


def periods_waiting(tokens: Sequence[str]) -> str | None:
    """What `status` and the report say of the tokens whose latest day's and month's distinct
    senders and receivers wait (derived_marks.periods_settled false); None for no token."""
    if not tokens:
        return None
    return (f"{', '.join(tokens)}: the latest day's and month's distinct senders and receivers "
            "wait for the backfill's end")


def drop_address_indexes(conn: psycopg.Connection) -> None:
    with conn.transaction():
        for name in ADDRESS_INDEXES:
            conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))


def create_address_indexes(conn: psycopg.Connection) -> bool:
    """Build the per-address indexes if missing; returns whether any had to be built.

    One transaction on the caller's connection: a build cut short (a lost connection, Ctrl-C)
    leaves nothing behind, and the next call builds both. (A second connection building one of
    them side by side gained nothing measurable over this while the derivers settle:
    benchmarks/README.)"""
    present = {r[0] for r in conn.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname = ANY(%s)",
        (list(ADDRESS_INDEXES),),
    ).fetchall()}
    if present == set(ADDRESS_INDEXES):
        return False
    with conn.transaction():
        for statement in sql_statements("address_indexes.sql"):
            conn.execute(statement)
    return True


# -- RPC usage and quota pauses (rpc_status, revision 0010) -------------------------------------

def record_rpc_usage(conn: psycopg.Connection, chain_id: int, usage: dict) -> None:
    """The running sync's RPC figures (RpcClient.usage(): since when, by method, refusals, and
    the quota pause under way) for `indexer status`. The first call of a run replaces the
    figures of the run before."""
    figures = {k: v for k, v in usage.items()
               if k not in ("since", "paused_until", "pause_reason", "paused_endpoint")}
    conn.execute(
        """INSERT INTO rpc_status (chain_id, run_started_at, usage, paused_until, pause_reason,
                                   paused_endpoint)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (chain_id) DO UPDATE SET run_started_at = EXCLUDED.run_started_at,
               usage = EXCLUDED.usage, paused_until = EXCLUDED.paused_until,
               pause_reason = EXCLUDED.pause_reason, paused_endpoint = EXCLUDED.paused_endpoint,
               updated_at = now()""",
        (chain_id, usage["since"], Jsonb(figures), usage.get("paused_until"),
         usage.get("pause_reason"), usage.get("paused_endpoint")),
    )


def record_rpc_pause(conn: psycopg.Connection, chain_id: int, endpoint: str,
                     until, reason: str | None) -> None:
    """A quota pause of `endpoint` (its redacted URL) until `until` (a UTC datetime), or its
    end (until None), as it starts or ends: the thread that meets it may hold up the batches
    (and so record_rpc_usage) for hours."""
    conn.execute(
        """INSERT INTO rpc_status (chain_id, run_started_at, paused_until, pause_reason,
                                   paused_endpoint)
           VALUES (%s, now(), %s, %s, %s)
           ON CONFLICT (chain_id) DO UPDATE SET paused_until = EXCLUDED.paused_until,
               pause_reason = EXCLUDED.pause_reason, paused_endpoint = EXCLUDED.paused_endpoint,
               updated_at = now()""",
        (chain_id, until, reason if until is not None else None,
         endpoint if until is not None else None),
    )


def load_rpc_status(conn: psycopg.Connection, chain_id: int) -> dict | None:
    """The last sync's RPC figures and quota pause; None if none was recorded (or the schema
    predates revision 0010)."""
    if conn.execute("SELECT to_regclass('public.rpc_status')").fetchone()[0] is None:
        return None
    row = conn.execute(
        """SELECT run_started_at, updated_at, usage, paused_until, pause_reason, paused_endpoint
           FROM rpc_status WHERE chain_id = %s""",
        (chain_id,),
    ).fetchone()
    if row is None:
        return None
    keys = ("run_started_at", "updated_at", "usage", "paused_until", "pause_reason",
            "paused_endpoint")
    return dict(zip(keys, row))


# -- Read-only queries (indexer/analytics composes them, like export.py) ------------------------

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

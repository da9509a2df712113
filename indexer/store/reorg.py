"""Taking blocks back: a reorganisation's rollback (rewind) and a repair's replacement of one
block (replace_block), each with the derived tables in the same transaction."""

from __future__ import annotations

from typing import Callable, Sequence

import psycopg
from psycopg import sql

from indexer.decode import LOG_COLUMNS
from indexer.resources import sql_statements
from indexer.store import derived
from indexer.store.batches import _BLOCK_UNUSED, _COPY_LOGS, Header


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
            for token in derived.checkpoint_tokens(cur, chain_id):  # locks held until this commits
                derived.derive_next(cur, chain_id, token, None)
        params = {"chain_id": chain_id, "ancestor": ancestor, "members_from": derived.MEMBERS_FROM}
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
            checkpointed = derived.checkpoint_tokens(cur, chain_id)
            for token in checkpointed:  # locks held until this commits
                derived.derive_next(cur, chain_id, token, None)
        params = {"chain_id": chain_id, "ancestor": number - 1, "members_from": derived.MEMBERS_FROM}
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
                while derived.derive_next(cur, chain_id, token, max_logs) is not None:
                    pass
    return deleted

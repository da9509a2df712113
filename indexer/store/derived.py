"""The derived tables (the views' figures): derive steps add a token's stored Transfer logs to
them (sql/derived_add.sql), each in its own transaction that moves the token's mark."""

from __future__ import annotations

import psycopg

from indexer.resources import sql_statements


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


def checkpoint_tokens(cur: psycopg.Cursor, chain_id: int) -> list[str]:
    return [r[0] for r in cur.execute(
        "SELECT token FROM checkpoints WHERE chain_id = %s ORDER BY token", (chain_id,)).fetchall()]


# pg_advisory_xact_lock class of the derive transactions ("gold"); the object is the token.
DERIVE_LOCK_CLASS = int.from_bytes(b"gold", "big")


def derive_next(cur: psycopg.Cursor, chain_id: int, token: str, max_logs: int | None,
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
    """One derive transaction of token (derive_next): the last block added, or None."""
    with conn.transaction():
        with conn.cursor() as cur:
            return derive_next(cur, chain_id, token, max_logs, settle)


def derived_mark(conn: psycopg.Connection, chain_id: int, token: str) -> int:
    """The last block of token's logs in the derived tables (-1: none)."""
    row = conn.execute("SELECT block_number FROM derived_marks WHERE chain_id = %s AND token = %s",
                       (chain_id, token)).fetchone()
    return row[0] if row else -1


def derive_all(conn: psycopg.Connection, chain_id: int, max_logs: int) -> None:
    """Bring the derived tables up to every checkpoint."""
    with conn.cursor() as cur:
        tokens = checkpoint_tokens(cur, chain_id)
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

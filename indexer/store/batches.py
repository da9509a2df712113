"""The writer's side: each batch is one transaction holding its logs, its block headers and
the checkpoint, so a crash leaves either all of a batch or none of it. Logs go in with COPY;
headers with one INSERT over arrays (a block can already be there from another token's batch,
hence ON CONFLICT). Also the chain head, the finality mark and the per-address indexes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from indexer.decode import LOG_COLUMNS, PRICE_COLUMNS
from indexer.resources import sql_statements
from indexer.tokens import Token


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


def record_batch_seconds(conn: psycopg.Connection, chain_id: int, tokens: Sequence[str],
                         block: int, seconds: float) -> None:
    """After a batch committed: how long it took from the previous commit, for `indexer status`.
    Written apart from the batch, since only now is its duration known."""
    conn.execute(
        """UPDATE checkpoints SET last_batch_seconds = %s
           WHERE chain_id = %s AND token = ANY(%s) AND block_number = %s""",
        (seconds, chain_id, list(tokens), block),
    )


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


ADDRESS_INDEXES = ("logs_transfer_from_idx", "logs_transfer_to_idx")


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

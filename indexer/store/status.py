"""What `indexer status` and the report read of the sync's progress, and the RPC figures
the sync records for them (rpc_status, revision 0010)."""

from __future__ import annotations

from typing import Sequence

import psycopg
from psycopg.types.json import Jsonb


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


def periods_waiting(tokens: Sequence[str]) -> str | None:
    """What `status` and the report say of the tokens whose latest day's and month's distinct
    senders and receivers wait (derived_marks.periods_settled false); None for no token."""
    if not tokens:
        return None
    return (f"{', '.join(tokens)}: the latest day's and month's distinct senders and receivers "
            "wait for the backfill's end")


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

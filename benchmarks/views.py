"""Query time of every analytics view: `SELECT count(*)` and one typical query, best of 3.

The views are whatever `information_schema.views` lists in schema public, so a new view is
measured without touching this file. Its typical query comes from TYPICAL when the view is
named there, else from its columns: a holder table (address + balance) → the top 100 holders;
a time series (day, week or month) → the whole PAXG series; a list of events (block_number) →
the latest 100 PAXG rows; anything else → 100 rows. Every query filters on the benchmark's
chain id and on PAXG where the view has those columns.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

REPEAT = 3

# Hand-written typical queries, by view name; %(holder)s is a middling holder of the chain.
TYPICAL = {
    # An address's latest transfers: what a block explorer or an analyst asks first.
    "transfers": """SELECT * FROM transfers
                    WHERE chain_id = %(chain_id)s AND token = 'PAXG'
                      AND (from_address = %(holder)s OR to_address = %(holder)s)
                    ORDER BY block_number DESC, log_index DESC LIMIT 100""",
}


def list_views(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.views WHERE table_schema = 'public' "
        "ORDER BY table_name").fetchall()
    return [r[0] for r in rows]


def view_columns(conn: psycopg.Connection, view: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = %s ORDER BY ordinal_position", (view,)).fetchall()
    return [r[0] for r in rows]


def typical_query(view: str, columns: list[str]) -> sql.Composable:
    if view in TYPICAL:
        return sql.SQL(TYPICAL[view])
    cols = set(columns)
    where = []
    if "chain_id" in cols:
        where.append(sql.SQL("chain_id = %(chain_id)s"))
    if "token" in cols:
        where.append(sql.SQL("token = 'PAXG'"))
    time_col = next((c for c in ("day", "week", "month", "date", "hour") if c in cols), None)
    balance_col = next((c for c in ("balance", "balance_units") if c in cols), None)
    if "address" in cols and balance_col:
        tail = sql.SQL("ORDER BY {} DESC LIMIT 100").format(sql.Identifier(balance_col))
    elif time_col:
        tail = sql.SQL("ORDER BY {}").format(sql.Identifier(time_col))
    elif "block_number" in cols:
        tail = sql.SQL("ORDER BY block_number DESC LIMIT 100")
    elif "address" in cols:
        where.append(sql.SQL("address = %(holder)s"))
        tail = sql.SQL("LIMIT 100")
    else:
        tail = sql.SQL("LIMIT 100")
    clause = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")
    return sql.SQL("SELECT * FROM {}{} {}").format(sql.Identifier(view), clause, tail)


def best_ms(conn: psycopg.Connection, query: sql.Composable, params: dict) -> tuple[float, list]:
    """Best wall time of REPEAT runs (execute + fetch every row), and the rows."""
    best, rows = float("inf"), []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        rows = conn.execute(query, params).fetchall()
        best = min(best, time.perf_counter() - t0)
    return round(best * 1000, 1), rows


def measure_views(database_url: str, chain_id: int, holder: str) -> list[dict]:
    """Every public view's count(*) and typical query times. Runs VACUUM ANALYZE first: a
    freshly synced database gets that from autovacuum within minutes, and without statistics
    the planner's choices would not be the ones users see."""
    params = {"chain_id": chain_id, "holder": holder}
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        out = []
        for view in list_views(conn):
            count_q = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(view))
            typical = typical_query(view, view_columns(conn, view))
            entry = {"view": view, "typical_sql": " ".join(typical.as_string(conn).split())}
            try:
                entry["count_ms"], rows = best_ms(conn, count_q, params)
                entry["rows"] = rows[0][0]
                entry["typical_ms"], rows = best_ms(conn, typical, params)
                entry["typical_rows"] = len(rows)
            except psycopg.Error as exc:
                entry["error"] = str(exc).strip().splitlines()[0]
            out.append(entry)
        return out

"""Derived state per batch: period uniques counted from logs (no participants table), each
day's first and last block in daily_stats, balances and end-of-day figures set-based.

The derived tables are emptied and filled again from the stored logs, a month of each token
at a time, by this revision's own fill (sql/0004_derived_fill.sql): never by the sync's
sql/derived_add.sql, which is written for the schema of its day.

Revision ID: 0004
Revises: 0003
"""

from pathlib import Path

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0004_batch_derived.sql").read_text())
    fill = _statements("0004_derived_fill.sql")
    with op.get_bind().connection.driver_connection.cursor() as cur:
        months = cur.execute(
            """SELECT chain_id, token, min(block_number), max(block_number) FROM logs
               WHERE event = 'Transfer'
               GROUP BY chain_id, token, date_trunc('month', block_time AT TIME ZONE 'UTC')
               ORDER BY chain_id, token, 3"""
        ).fetchall()
        for chain_id, token, lo, hi in months:
            params = {"chain_id": chain_id, "token": token, "lo": lo, "hi": hi}
            for statement in fill:
                cur.execute(statement, params)


def _statements(name: str) -> list[str]:
    """The statements of sql/<name>, split at lines holding only ';', without comment lines
    (psycopg would read a %(name)s placeholder in a comment as a parameter)."""
    statements = []
    for part in (SQL_DIR / name).read_text().split("\n;\n"):
        code = "\n".join(line for line in part.splitlines() if not line.lstrip().startswith("--"))
        if code.strip():
            statements.append(code.strip())
    return statements


def downgrade() -> None:
    # Back to revision 0003's objects. Its derived tables are left empty: revision 0003's
    # code cannot refill them, so downgrade further or upgrade again (which refills them).
    op.execute("DROP FUNCTION refresh_period_uniques(integer, text, date)")
    op.execute("TRUNCATE daily_stats, period_uniques, holder_state, token_totals")
    op.execute("ALTER TABLE daily_stats DROP COLUMN first_block, DROP COLUMN last_block")
    op.execute("DROP FUNCTION transfer_day_sums(integer, text, bigint, bigint)")
    sql = (SQL_DIR / "0002_analytics.sql").read_text()
    for name in ("CREATE TABLE participants", "CREATE FUNCTION transfer_day_sums",
                 "CREATE FUNCTION transfer_participants"):
        start = sql.index(name)
        end = sql.index("$$;", start) + 3 if "FUNCTION" in name else sql.index(");", start) + 2
        op.execute(sql[start:end])

"""Derived state per batch: period uniques counted from logs (no participants table), each
day's first and last block in daily_stats, balances and end-of-day figures set-based.

The derived tables are emptied and filled again from the stored logs.

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
    from indexer.store import rebuild_derived

    op.execute((SQL_DIR / "0004_batch_derived.sql").read_text())
    rebuild_derived(op.get_bind().connection.driver_connection)


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

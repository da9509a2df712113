"""period_members: distinct senders and receivers of busy days and months kept incrementally, so
a derive step's work follows its batch, however busy the period.

Revision ID: 0013
Revises: 0012
"""

from pathlib import Path

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0013_period_members.sql").read_text())


def downgrade() -> None:
    # Back to counting each touched period again from its logs: revision 0004's function, as
    # that revision wrote it. period_uniques is exact either way, so it stays.
    op.execute("DROP FUNCTION count_period_uniques(integer, text, date, bigint)")
    op.execute("DROP FUNCTION token_periods(integer, text, date)")
    op.execute("DROP FUNCTION transfer_members(integer, text, bigint, bigint)")
    op.execute("DROP TABLE period_members")
    op.execute("ALTER TABLE period_uniques DROP COLUMN members_kept")
    sql = (SQL_DIR / "0004_batch_derived.sql").read_text()
    start = sql.index("CREATE FUNCTION refresh_period_uniques")
    op.execute(sql[start:sql.index("$$;", start) + 3])

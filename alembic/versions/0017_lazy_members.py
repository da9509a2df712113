"""count_period_uniques: a busy period still filling is counted from its logs the first time,
and gets its members from the next settling step on (the sync follows the head).

Revision ID: 0017
Revises: 0016
"""

from pathlib import Path

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0017_lazy_members.sql").read_text())


def downgrade() -> None:
    sql = (SQL_DIR / "0016_settled_periods.sql").read_text()  # its function, as it wrote it
    start = sql.index("CREATE FUNCTION count_period_uniques")
    op.execute("DROP FUNCTION count_period_uniques(integer, text, date, date, bigint)")
    op.execute(sql[start:sql.index("$$;", start) + 3])

"""derived_marks.periods_settled: a backfill's derive steps count each period once, when it is
over, and leave the token's latest day and month to the step that settles them.

Revision ID: 0016
Revises: 0015
"""

from pathlib import Path

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0016_settled_periods.sql").read_text())


def downgrade() -> None:
    # Revision 0015 keeps every period counted after each step: count the waiting ones first
    # (20,000: store.MEMBERS_FROM as this revision was written).
    op.execute("""SELECT count_period_uniques(m.chain_id, m.token, d.day, NULL, 20000)
                  FROM derived_marks m
                  CROSS JOIN LATERAL (SELECT max(day) AS day FROM daily_stats s
                                      WHERE s.chain_id = m.chain_id AND s.token = m.token) d
                  WHERE NOT m.periods_settled AND d.day IS NOT NULL""")
    op.execute("DROP FUNCTION count_period_uniques(integer, text, date, date, bigint)")
    op.execute("ALTER TABLE derived_marks DROP COLUMN periods_settled")
    sql = (SQL_DIR / "0013_period_members.sql").read_text()  # its function, as it wrote it
    start = sql.index("CREATE FUNCTION count_period_uniques")
    op.execute(sql[start:sql.index("$$;", start) + 3])

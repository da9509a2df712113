"""concentration_at: each token's holders ranked once for both scopes, the HHI with one
division (holder_concentration's PAXG query 167 → 75 ms on the benchmark's dense chain).

Revision ID: 0014
Revises: 0013
"""

from pathlib import Path

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0014_concentration.sql").read_text())


def downgrade() -> None:
    # Revision 0002's function, as that revision wrote it (same signature: the view stays).
    sql = (SQL_DIR / "0002_analytics.sql").read_text()
    start = sql.index("CREATE FUNCTION concentration_at")
    op.execute("CREATE OR REPLACE" + sql[start + len("CREATE"):sql.index("$$;", start) + 3])

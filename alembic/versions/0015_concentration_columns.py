"""concentration_at: each scope's figures picked by a CASE, so a query reading few columns
(count(*)) lets the planner drop the aggregates and windows it does not need.

Revision ID: 0015
Revises: 0014
"""

from pathlib import Path

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0015_concentration_columns.sql").read_text())


def downgrade() -> None:
    op.execute((SQL_DIR / "0014_concentration.sql").read_text())  # same signature: the view stays

"""derived_marks: how far the derived tables are, per token, now that they are kept by their
own transactions next to the writer's.

Revision ID: 0005
Revises: 0004
"""

from pathlib import Path

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0005_derived_marks.sql").read_text())


def downgrade() -> None:
    op.execute("DROP TABLE derived_marks")

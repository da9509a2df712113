"""An index on each token's Upgraded logs, read at every poll.

Revision ID: 0008
Revises: 0007
"""

from pathlib import Path

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0008_upgraded_index.sql").read_text())


def downgrade() -> None:
    op.execute("DROP INDEX logs_upgraded_idx")

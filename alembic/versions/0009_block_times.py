"""Block times from logs and from few headers: blocks.parent_hash may be NULL (below the
reorg window), and estimated_times lists the blocks whose stored time is an estimate.

Revision ID: 0009
Revises: 0008
"""

from pathlib import Path

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0009_block_times.sql").read_text())


def downgrade() -> None:
    op.execute("DROP TABLE estimated_times")
    # Rows without a parent hash cannot be kept under the old constraint; their logs stay, and
    # the sync fetches the headers it needs again.
    op.execute("DELETE FROM blocks WHERE parent_hash IS NULL")
    op.execute("ALTER TABLE blocks ALTER COLUMN parent_hash SET NOT NULL")

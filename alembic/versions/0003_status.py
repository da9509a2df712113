"""The last batch's size and duration per token, for `indexer status`; an index for the
decoder's starting fee recipient.

Revision ID: 0003
Revises: 0002
"""

from pathlib import Path

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0003_status.sql").read_text())


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS logs_fee_recipient_idx")
    op.execute("""ALTER TABLE checkpoints DROP COLUMN last_batch_blocks,
                  DROP COLUMN last_batch_events, DROP COLUMN last_batch_seconds""")

"""Initial schema: tokens, logs, blocks, checkpoints, chain_heads and the transfers view.

Revision ID: 0001
Revises:
"""

from pathlib import Path

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# sql/ sits beside alembic/, in the repo and inside the installed package alike.
SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0001_schema.sql").read_text())


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS transfers")
    op.execute("DROP TABLE IF EXISTS chain_heads, checkpoints, blocks, logs, tokens")

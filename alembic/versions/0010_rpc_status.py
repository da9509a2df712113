"""rpc_status: the sync's RPC requests and credits, and a quota pause, for `indexer status`.

Revision ID: 0010
Revises: 0009
"""

from pathlib import Path

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0010_rpc_status.sql").read_text())


def downgrade() -> None:
    op.execute("DROP TABLE rpc_status")

"""chains: several chains in one database (chain names, token kinds and OFT contracts) and the
tokenized gold counted once across them.

Revision ID: 0012
Revises: 0011
"""

from pathlib import Path

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0012_chains.sql").read_text())


def downgrade() -> None:
    op.execute((SQL_DIR / "0012_chains_down.sql").read_text())

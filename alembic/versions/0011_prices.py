"""prices: Chainlink's XAU/USD and PAXG/USD rounds, USD beside the amounts, circulating and
bridged supply.

Revision ID: 0011
Revises: 0010
"""

from pathlib import Path

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0011_prices.sql").read_text())


def downgrade() -> None:
    op.execute((SQL_DIR / "0011_prices_down.sql").read_text())

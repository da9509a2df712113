"""chain_heads.final_seen: the rows this database has itself seen final; transfers.is_final
reads it.

Revision ID: 0007
Revises: 0006
"""

from pathlib import Path

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0007_final_seen.sql").read_text())


def downgrade() -> None:
    op.execute("""CREATE OR REPLACE VIEW transfers AS
SELECT l.chain_id, l.token, l.block_number, l.block_time, l.tx_hash, l.log_index,
       l.from_address, l.to_address, l.amount, l.is_fee, l.block_hash,
       coalesce(l.block_number <= h.finalized_block, false) AS is_final
FROM logs l
LEFT JOIN chain_heads h ON h.chain_id = l.chain_id
WHERE l.event = 'Transfer'""")
    op.execute("ALTER TABLE chain_heads DROP COLUMN final_seen")

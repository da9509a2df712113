"""Analytics: derived tables kept by the ingest transaction, labels, and the documented views.

Revision ID: 0002
Revises: 0001
"""

from pathlib import Path

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0002_analytics.sql").read_text())
    # The per-address indexes on logs, as this revision defines them. The sync drops them for a
    # long backfill and builds them again from sql/address_indexes.sql, which is its own copy
    # and may change; what this revision creates must not.
    op.execute("""CREATE INDEX IF NOT EXISTS logs_transfer_from_idx
                  ON logs (chain_id, token, from_address, block_number) WHERE event = 'Transfer'""")
    op.execute("""CREATE INDEX IF NOT EXISTS logs_transfer_to_idx
                  ON logs (chain_id, token, to_address, block_number) WHERE event = 'Transfer'""")
    # Logs stored before this revision enter the derived tables in revision 0004, which
    # rebuilds them from logs.


def downgrade() -> None:
    op.execute("""DROP VIEW IF EXISTS holders_daily, holder_concentration, holder_balances,
                  volume_monthly, volume_daily, supply_changes, supply_daily""")
    op.execute("""DROP FUNCTION IF EXISTS concentration_at(bigint), supply_at(bigint),
                  balances_at(bigint)""")
    op.execute("""DROP TABLE IF EXISTS labels, token_totals, holder_state, period_uniques,
                  participants, daily_stats""")
    op.execute("DROP INDEX IF EXISTS logs_transfer_from_idx, logs_transfer_to_idx, logs_supply_idx")
    op.execute("DROP FUNCTION IF EXISTS to_units(numeric, integer)")
    op.execute("""DROP FUNCTION IF EXISTS transfer_day_sums(integer, text, bigint, bigint),
                  transfer_participants(integer, text, bigint, bigint),
                  transfer_legs(integer, text, bigint, bigint)""")

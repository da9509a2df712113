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
    # Existing logs (from a database synced before this revision) enter the derived tables.
    for token, lo, hi in op.get_bind().exec_driver_sql(
        "SELECT token, min(block_number), max(block_number) FROM logs GROUP BY token"
    ).fetchall():
        for chain_id, in op.get_bind().exec_driver_sql(
            "SELECT DISTINCT chain_id FROM logs WHERE token = %(t)s", {"t": token}
        ).fetchall():
            params = {"chain_id": chain_id, "token": token, "lo": lo, "hi": hi}
            for statement in _statements("derived_add.sql"):
                op.get_bind().exec_driver_sql(statement, params)


def _statements(name: str) -> list[str]:
    text = (SQL_DIR / name).read_text()
    return [p.strip() for p in text.split("\n;\n") if p.strip() and not all(
        line.startswith("--") or not line.strip() for line in p.strip().splitlines())]


def downgrade() -> None:
    op.execute("""DROP VIEW IF EXISTS holders_daily, holder_concentration, holder_balances,
                  volume_monthly, volume_daily, supply_changes, supply_daily""")
    op.execute("""DROP FUNCTION IF EXISTS concentration_at(bigint), supply_at(bigint),
                  balances_at(bigint)""")
    op.execute("""DROP TABLE IF EXISTS labels, token_totals, holder_state, period_uniques,
                  participants, daily_stats""")
    op.execute("DROP INDEX IF EXISTS logs_transfer_from_idx, logs_transfer_to_idx, logs_supply_idx")
    op.execute("DROP FUNCTION IF EXISTS to_units(numeric, integer)")

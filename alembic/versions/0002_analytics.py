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
    for statement in _statements("address_indexes.sql"):
        op.execute(statement)
    # Existing logs (from a database synced before this revision) enter the derived tables:
    # the additive ones at once, balances and end-of-day figures day by day.
    bind = op.get_bind()
    for chain_id, token, lo, hi in bind.exec_driver_sql(
        "SELECT chain_id, token, min(block_number), max(block_number) FROM logs GROUP BY 1, 2"
    ).fetchall():
        params = {"chain_id": chain_id, "token": token, "lo": lo, "hi": hi}
        for statement in _statements("derived_add.sql"):
            bind.exec_driver_sql(statement, params)
        days = bind.exec_driver_sql(
            """SELECT (block_time AT TIME ZONE 'UTC')::date, min(block_number), max(block_number)
               FROM logs WHERE chain_id = %(c)s AND token = %(t)s GROUP BY 1 ORDER BY 1""",
            {"c": chain_id, "t": token},
        ).fetchall()
        for day, day_lo, day_hi in days:
            day_params = {"chain_id": chain_id, "token": token, "lo": day_lo, "hi": day_hi,
                          "day": day}
            for statement in _statements("derived_day.sql"):
                bind.exec_driver_sql(statement, day_params)


def _statements(name: str) -> tuple[str, ...]:
    from indexer.resources import sql_statements

    return sql_statements(name)


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

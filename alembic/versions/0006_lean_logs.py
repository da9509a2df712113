"""Raw topics/data only where the decoded columns do not hold the whole log; both legs of a
Transfer from one scan.

Revision ID: 0006
Revises: 0005
"""

from pathlib import Path

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0006_lean_logs.sql").read_text())


def downgrade() -> None:
    # Give every log its raw topics and data back, rebuilt from the decoded columns.
    from indexer.decode import raw_fields
    from indexer.tokens import MAINNET_TOKENS

    conn = op.get_bind().connection.driver_connection
    conn.execute("""CREATE TEMP TABLE raw_back (chain_id integer, block_number bigint,
                    log_index integer, topics text[], data text) ON COMMIT DROP""")
    with conn.cursor(name="lean_logs") as rows, conn.cursor() as cur:
        rows.execute("""SELECT chain_id, block_number, log_index, token, event, from_address,
                               to_address, amount, args FROM logs WHERE topics IS NULL""")
        # One connection cannot fetch and COPY at once: a chunk at a time.
        while chunk := rows.fetchmany(50_000):
            with cur.copy("COPY raw_back FROM STDIN") as copy:
                for chain_id, block, index, token, event, frm, to, amount, args in chunk:
                    topics, data = raw_fields(MAINNET_TOKENS[token], event, frm, to, amount, args)
                    copy.write_row((chain_id, block, index, topics, data))
    conn.execute("""UPDATE logs l SET topics = r.topics, data = r.data FROM raw_back r
                    WHERE l.chain_id = r.chain_id AND l.block_number = r.block_number
                      AND l.log_index = r.log_index""")
    op.execute("ALTER TABLE logs ALTER COLUMN topics SET NOT NULL, ALTER COLUMN data SET NOT NULL")
    sql = (SQL_DIR / "0002_analytics.sql").read_text()
    start = sql.index("CREATE FUNCTION transfer_legs")
    op.execute("CREATE OR REPLACE" + sql[start + len("CREATE"):sql.index("$$;", start) + 3])

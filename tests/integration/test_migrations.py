"""Upgrading a database synced by an earlier version gives what a fresh sync gives, and going down
gives back what the node returned. Each revision runs its own SQL and code, never today's."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from indexer import migrate
from tests.integration.test_sync import chain_logs, dump_tables, sync_once

pytestmark = pytest.mark.integration

CHAIN_ID = 31337


def script_history_over_months(chain) -> None:
    """Chain.script_history with its blocks 5 days and 7 hours apart, so its Transfers fall on
    many days of several months, then more activity within one day, then empty blocks enough
    for a first sync to be a long backfill (which builds the per-address indexes at its end)."""
    chain.anvil.rpc("anvil_setBlockTimestampInterval", [5 * 86400 + 7 * 3600])
    chain.script_history()
    chain.anvil.rpc("anvil_removeBlockTimestampInterval")
    chain.script_more()
    chain.script_more()
    chain.anvil.rpc("anvil_mine", [hex(200)])


def dump(url: str) -> dict[str, list]:
    """test_sync.dump_tables, and what only revisions after 0003 made: the derived marks and
    the indexes."""
    tables = dump_tables(url)
    with psycopg.connect(url) as conn:
        tables["derived_marks"] = conn.execute(
            "SELECT * FROM derived_marks ORDER BY 1, 2").fetchall()
        tables["indexes"] = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
    return tables


def store_as_0003_did(url: str, synced_url: str, chain) -> None:
    """Fill the database at `url` (at revision 0003) with what the code of that revision stored
    for this chain: every log with its raw topics and data, from eth_getLogs; the decoded
    columns, blocks, checkpoints, tokens and chain heads as that code wrote them, which is as
    today's code writes them (copied from the sync into `synced_url`); and derived tables of
    that revision's layout holding nothing right, which revision 0004 must throw away."""
    raw = {(block, index): (list(topics), data)
           for block, index, _, _, topics, data in chain_logs(chain)}
    with psycopg.connect(synced_url) as src, psycopg.connect(url) as dst:
        for table in ("tokens", "blocks", "checkpoints", "chain_heads", "logs"):
            columns = [r[0] for r in dst.execute(
                """SELECT column_name FROM information_schema.columns
                   WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position""",
                (table,)).fetchall()]
            names = sql.SQL(", ").join(map(sql.Identifier, columns))
            rows = src.execute(sql.SQL("SELECT {} FROM {}").format(names, sql.Identifier(table)))
            rows = [list(r) for r in rows.fetchall()]
            if table == "logs":
                assert columns[-2:] == ["topics", "data"]
                args = columns.index("args")
                for row in rows:
                    row[-2:] = raw.pop((row[1], row[2]))
                    row[args] = Jsonb(row[args]) if row[args] is not None else None
                assert not raw, "eth_getLogs returned logs the sync did not store"
            if table == "blocks":  # that code stored every header's parent hash; today's
                parent = columns.index("parent_hash")  # keeps it only in the reorg window
                for row in rows:
                    if row[parent] is None:
                        row[parent] = chain.w3.eth.get_block(row[1]).parentHash.to_0x_hex()
            dst.cursor().executemany(
                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(table), names,
                    sql.SQL(", ").join(sql.Placeholder() * len(columns))),
                rows)
        day, time = dst.execute(
            "SELECT (min(block_time) AT TIME ZONE 'UTC')::date, min(block_time) FROM logs"
        ).fetchone()
        holder = chain.controller.lower()
        for table, row in (
            ("daily_stats", (CHAIN_ID, "PAXG", day, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7)),
            ("participants", (CHAIN_ID, "PAXG", "d", day, "s", holder, 7)),
            ("period_uniques", (CHAIN_ID, "PAXG", "d", day, 7, 7)),
            ("holder_state", (CHAIN_ID, "PAXG", holder, 7, 7, 0, time, 0, time)),
            ("holder_state", (CHAIN_ID, "XAUT", "0x" + "7" * 40, 7, 7, 0, time, 0, time)),
            ("token_totals", (CHAIN_ID, "XAUT", 7, 7)),
        ):
            dst.execute(sql.SQL("INSERT INTO {} VALUES ({})").format(
                sql.Identifier(table), sql.SQL(", ").join(sql.Placeholder() * len(row))), row)


def test_upgrading_a_0003_database_with_data_gives_what_a_fresh_sync_gives(
        chain, tmp_path, database_factory):
    script_history_over_months(chain)
    fresh = database_factory()
    config = tmp_path / "devnet.toml"
    config.write_text(chain.config_toml(fresh))
    sync_once(config)
    expected = dump(fresh)
    months = {row[2].replace(day=1) for row in expected["daily_stats"]}
    assert len(months) >= 3  # revision 0004 fills the derived tables a month at a time

    old = database_factory(migrated=False)
    migrate.upgrade(old, "0003")
    store_as_0003_did(old, fresh, chain)
    migrate.upgrade(old)

    upgraded = dump(old)
    assert upgraded.keys() == expected.keys()
    # Rows stored before revision 0009 keep their parent hash where today's code leaves none.
    assert len(upgraded["blocks"]) == len(expected["blocks"])
    upgraded["blocks"] = [(c, n, h, p if e[3] is not None else None, t)
                          for (c, n, h, p, t), e in zip(upgraded["blocks"], expected["blocks"])]
    for table in expected:
        assert upgraded[table] == expected[table], table


def test_downgrading_0006_gives_every_log_its_raw_topics_and_data_back(
        chain, devnet_config, database_url):
    from alembic import command

    from indexer.migrate import alembic_config

    chain.script_history()
    sync_once(devnet_config)
    with psycopg.connect(database_url) as conn:
        lean = conn.execute("SELECT count(*) FROM logs WHERE topics IS NULL").fetchone()[0]
    assert lean > 50

    command.downgrade(alembic_config(database_url), "0005")

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT block_number, log_index, block_hash, tx_hash, topics, data FROM logs"
        ).fetchall()
        nullable = conn.execute(
            """SELECT column_name, is_nullable FROM information_schema.columns
               WHERE table_name = 'logs' AND column_name IN ('topics', 'data') ORDER BY 1"""
        ).fetchall()
    assert {(b, i, bh, th, tuple(t), d) for b, i, bh, th, t, d in rows} == chain_logs(chain)
    assert len(rows) == len(chain_logs(chain))
    assert nullable == [("data", "NO"), ("topics", "NO")]


def test_downgrading_0013_and_upgrading_again_gives_what_a_fresh_sync_gives(
        chain, devnet_config, database_url):
    """Revision 0012 counts each touched period again (refresh_period_uniques, which the
    downgrade brings back); upgrading its database needs no fill (a busy period gets its
    members the first time a batch touches it)."""
    from alembic import command

    from indexer.migrate import alembic_config

    script_history_over_months(chain)
    sync_once(devnet_config)
    expected = dump(database_url)
    assert len({row[3] for row in expected["period_uniques"] if row[2] == "m"}) >= 3

    command.downgrade(alembic_config(database_url), "0012")
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT to_regclass('period_members')").fetchone()[0] is None
        # 0012's code recounts from a token's first day on: the same figures.
        conn.execute("""SELECT refresh_period_uniques(chain_id, token, min(day))
                        FROM daily_stats GROUP BY chain_id, token""")
        recounted = conn.execute("SELECT * FROM period_uniques ORDER BY 1, 2, 3, 4").fetchall()
    assert recounted == [row[:6] for row in expected["period_uniques"]]  # without members_kept

    migrate.upgrade(database_url)
    assert dump(database_url) == expected


def test_concentration_of_0015_and_0014_equals_that_of_0013(chain, devnet_config, database_url):
    """Revision 0014 ranks each token's holders once for both scopes and sums running totals
    and squares instead of dividing per holder, and 0015 picks each scope's figures by a CASE:
    the same figures as revision 0002's function, which the downgrade to 0013 brings back,
    with labels making the two scopes differ."""
    from alembic import command

    from indexer.migrate import alembic_config

    script_history_over_months(chain)
    sync_once(devnet_config)
    query = "SELECT * FROM concentration_at(NULL) ORDER BY 1, 2, 3"
    with psycopg.connect(database_url) as conn:
        # The largest holder of each token becomes an issuer, and a middling one a treasury.
        conn.execute("""INSERT INTO labels (chain_id, address, name, kind)
                        SELECT chain_id, address, 'test ' || kind, kind FROM (
                            SELECT chain_id, address,
                                   CASE WHEN rank = 1 THEN 'issuer' ELSE 'treasury' END AS kind
                            FROM (SELECT chain_id, address,
                                         row_number() OVER (PARTITION BY chain_id, token
                                                            ORDER BY balance DESC, address) AS rank
                                  FROM holder_state WHERE balance > 0) r
                            WHERE rank IN (1, 3)) x
                        ON CONFLICT DO NOTHING""")
        upgraded = conn.execute(query).fetchall()
        at_block = conn.execute(
            "SELECT * FROM concentration_at((SELECT max(block_number) FROM logs) - 3) ORDER BY 1, 2, 3"
        ).fetchall()
    scopes = {(r[1], r[2]): r[3:] for r in upgraded}
    assert any(scopes[t, "all"] != scopes[t, "excluding_issuers"] for t, _ in scopes)

    for revision in ("0014", "0013"):
        command.downgrade(alembic_config(database_url), revision)
        with psycopg.connect(database_url) as conn:
            assert conn.execute(query).fetchall() == upgraded, revision
            assert conn.execute(
                "SELECT * FROM concentration_at((SELECT max(block_number) FROM logs) - 3) ORDER BY 1, 2, 3"
            ).fetchall() == at_block, revision
            assert conn.execute("SELECT count(*) FROM holder_concentration").fetchone()[0] \
                == len(upgraded)
    migrate.upgrade(database_url)

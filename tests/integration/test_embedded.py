"""With no database configured, the indexer runs its own PostgreSQL under --data-dir."""

from __future__ import annotations

import subprocess
import sys
import time

import psycopg
import pytest

pytestmark = pytest.mark.integration


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "indexer", *args], capture_output=True,
                          text=True, timeout=120, **kw)


def test_sync_without_database_uses_embedded_server_and_db_url_opens_it(chain, tmp_path):
    chain.script_history()
    config = tmp_path / "devnet.toml"
    text = chain.config_toml("unused")
    config.write_text(text.replace('[database]\nurl = "unused"\n', ""))
    data_dir = tmp_path / "data"
    try:
        done = cli("--config", str(config), "--data-dir", str(data_dir), "sync", "--once")
        assert done.returncode == 0, done.stderr
        url = cli("--data-dir", str(data_dir), "db-url")
        assert url.returncode == 0, url.stderr
        with psycopg.connect(url.stdout.strip()) as conn:
            n = conn.execute("SELECT count(*) FROM transfers").fetchone()[0]
            settings = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                        for name in ("max_wal_size", "checkpoint_timeout")}
        assert settings == {"max_wal_size": "4GB", "checkpoint_timeout": "15min"}  # pgserver.SETTINGS
        assert n == len(chain.w3.eth.get_logs({
            "fromBlock": 0, "toBlock": "latest", "address": [chain.paxg.address, chain.xaut.address],
            "topics": ["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"]}))
    finally:
        stopped = cli("--data-dir", str(data_dir), "db-stop")
    assert stopped.returncode == 0 and stopped.stdout.strip() == "stopped", stopped.stderr
    again = cli("--data-dir", str(data_dir), "db-stop")
    assert again.stdout.strip() == f"not running ({data_dir})"


def test_plain_alembic_upgrade_gives_the_schema_the_code_expects(empty_database_url):
    from indexer.decode import LOG_COLUMNS
    from tests.conftest import REPO

    env = {"INDEXER_DATABASE_URL": empty_database_url, "PATH": "/usr/bin:/bin"}
    alembic = [sys.executable, "-m", "alembic", "upgrade", "head"]
    done = subprocess.run(alembic, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(empty_database_url) as conn:
        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'logs' "
            "ORDER BY ordinal_position").fetchall()]
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        views = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.views WHERE table_schema = 'public'")}
    from alembic.script import ScriptDirectory

    from indexer.migrate import alembic_config

    assert tuple(cols) == LOG_COLUMNS
    assert version == ScriptDirectory.from_config(alembic_config(empty_database_url)).get_current_head()
    from indexer.export import VIEWS

    assert views == set(VIEWS)  # every view the migrations make can be exported, and no other


def test_upgrading_a_synced_0001_database_fills_the_derived_tables(chain, devnet_config, database_url):
    from alembic import command

    from indexer.migrate import alembic_config
    from tests.integration.test_sync import dump_tables, sync_once

    chain.script_history()
    sync_once(devnet_config)
    expected = dump_tables(database_url)
    cfg = alembic_config(database_url)
    command.downgrade(cfg, "0001")
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT to_regclass('holder_state')").fetchone()[0] is None
    command.upgrade(cfg, "head")
    assert dump_tables(database_url) == expected


def test_server_settings_are_set_only_where_postgresql_default_stands(pg_admin_url):
    """store.configure_server sets a setting still at PostgreSQL's built-in value and leaves
    one changed by hand alone (commit_delay: harmless on the tests' shared server)."""
    from indexer import store

    def commit_delay(expected: str) -> str:
        """The server's value once it is `expected` (a reload reaches new sessions within
        moments), or what it still is after 5 s."""
        deadline = time.monotonic() + 5
        while True:
            with psycopg.connect(pg_admin_url, autocommit=True) as conn:
                value = conn.execute("SHOW commit_delay").fetchone()[0]
            if value == expected or time.monotonic() > deadline:
                return value
            time.sleep(0.05)

    try:
        assert commit_delay("0") == "0"
        assert store.configure_server(pg_admin_url, {"commit_delay": "10"}) == ["commit_delay"]
        assert commit_delay("10") == "10"
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET commit_delay = 20")
            conn.execute("SELECT pg_reload_conf()")
        assert store.configure_server(pg_admin_url, {"commit_delay": "10"}) == []
        assert commit_delay("20") == "20"
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET commit_delay")
            conn.execute("SELECT pg_reload_conf()")

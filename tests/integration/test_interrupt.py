"""Stopping `indexer sync` at any moment and starting it again ends where an uninterrupted run
ends: SIGTERM between batches (exit 0) and kill -9 at random instants."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from tests.conftest import start_sync
from tests.integration.test_sync import dump_tables, sync_once

pytestmark = pytest.mark.integration

# One block per batch, so a short chain makes hundreds of batches to interrupt.
ONE_BLOCK_BATCHES = {"batch_blocks": 1, "min_batch_blocks": 1, "max_batch_blocks": 1}


def long_chain(chain, rounds: int = 25, gap: int = 30) -> None:
    chain.script_history()
    for _ in range(rounds):
        chain.script_more()
        chain.anvil.rpc("anvil_mine", [hex(gap)])


def checkpoint(database_url) -> int | None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT min(block_number) FROM checkpoints").fetchone()
    return row[0]


def wait_for_checkpoint(database_url, proc, timeout=30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cp = checkpoint(database_url)
        if cp is not None:
            return cp
        assert proc.poll() is None, "sync exited before its first batch"
        time.sleep(0.02)
    raise AssertionError("no checkpoint written in time")


def reference_run(chain, tmp_path, database_factory) -> dict:
    url = database_factory()
    path = tmp_path / "reference.toml"
    path.write_text(chain.config_toml(url, **ONE_BLOCK_BATCHES))
    sync_once(path)
    return dump_tables(url)


def test_sigterm_stops_cleanly_and_restart_matches_uninterrupted(chain, tmp_path, database_factory):
    long_chain(chain)
    head = chain.w3.eth.block_number
    url = database_factory()
    path = tmp_path / "devnet.toml"
    path.write_text(chain.config_toml(url, **ONE_BLOCK_BATCHES))
    proc = start_sync(path, tmp_path / "sync.log")
    wait_for_checkpoint(url, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, (tmp_path / "sync.log").read_text()
    stopped_at = checkpoint(url)
    assert stopped_at < head, "the sync finished before the signal: make the chain longer"
    sync_once(path)
    assert checkpoint(url) == head
    assert dump_tables(url) == reference_run(chain, tmp_path, database_factory)


def test_kill_9_at_random_instants_then_restart_matches_uninterrupted(chain, tmp_path, database_factory):
    long_chain(chain)
    head = chain.w3.eth.block_number
    url = database_factory()
    path = tmp_path / "devnet.toml"
    path.write_text(chain.config_toml(url, **ONE_BLOCK_BATCHES))
    rng = random.Random(20261124)
    kills_mid_sync = 0
    kills = int(os.environ.get("INDEXER_TEST_KILLS", "6"))
    for _ in range(kills):
        proc = start_sync(path, tmp_path / "sync.log", "--once")
        wait_for_checkpoint(url, proc)
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if checkpoint(url) < head:
            kills_mid_sync += 1
    print(f"kill -9: {kills} kills, {kills_mid_sync} mid-sync")
    assert kills_mid_sync >= kills // 2
    sync_once(path)
    assert dump_tables(url) == reference_run(chain, tmp_path, database_factory)


# A sync whose end is slow on the server: the derivers' settling steps and the writer's index
# build each start with a minute of pg_sleep (statements a cancel request can stop).
SLOW_END = """
from indexer import store
derive_step, create_address_indexes = store.derive_step, store.create_address_indexes
def slow_derive_step(conn, *args, settle=True, **kwargs):
    if settle:
        conn.execute("SELECT pg_sleep(60) /* settling */")
    return derive_step(conn, *args, settle=settle, **kwargs)
def slow_create_address_indexes(conn, *args):
    conn.execute("SELECT pg_sleep(60) /* building */")
    return create_address_indexes(conn, *args)
store.derive_step, store.create_address_indexes = slow_derive_step, slow_create_address_indexes
from indexer.cli import main
main()
"""


def sleeping(database_url) -> list[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return sorted(r[0] for r in conn.execute(
            "SELECT query FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%' "
            "AND state = 'active'").fetchall())


def test_a_second_ctrl_c_at_the_backfills_end_cancels_the_derivers_and_the_builds(
        chain, tmp_path, database_url):
    chain.script_history()
    chain.anvil.rpc("anvil_mine", [hex(300)])  # longer than the reorg window: indexes at the end
    path = tmp_path / "c.toml"
    path.write_text(chain.config_toml(database_url))
    log_path = tmp_path / "sync.log"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_END, "--config", str(path), "sync",
                             "--once"], stdout=subprocess.DEVNULL, stderr=open(log_path, "wb"))
    try:
        deadline = time.monotonic() + 60
        while sleeping(database_url).count("SELECT pg_sleep(60) /* settling */") < 2 \
                or "SELECT pg_sleep(60) /* building */" not in sleeping(database_url):
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, sleeping(database_url)
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)  # the first: the end goes on
        time.sleep(0.5)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)  # the second: abort, without waiting for the server
        assert proc.wait(20) != 0
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while sleeping(database_url):  # nothing left running on the server either
        assert time.monotonic() < deadline, sleeping(database_url)
        time.sleep(0.1)

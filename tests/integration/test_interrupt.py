"""Stopping `indexer sync` at any moment and starting it again ends where an uninterrupted run
ends: SIGTERM between batches (exit 0) and kill -9 at random instants."""

from __future__ import annotations

import os
import random
import signal
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

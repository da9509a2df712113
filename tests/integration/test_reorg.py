"""Reorganisations made with anvil_reorg: after the chain settles, every table equals a fresh
sync of the final chain, row for row; reorgs too deep to handle are refused."""

from __future__ import annotations

import signal
import time

import psycopg
import pytest

from tests.conftest import start_sync
from tests.integration.test_sync import dump_tables, run_cli, stored_logs, chain_logs, sync_once

pytestmark = pytest.mark.integration


def fresh_sync(chain, tmp_path, database_factory, **sync) -> dict:
    url = database_factory()
    path = tmp_path / f"fresh{time.monotonic_ns()}.toml"
    path.write_text(chain.config_toml(url, **sync))
    sync_once(path)
    return dump_tables(url)


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 8])
def test_sync_rolls_back_and_matches_fresh_sync_after_reorg(chain, devnet_config, database_url,
                                                           tmp_path, database_factory, depth):
    chain.script_history()
    sync_once(devnet_config)
    before = set(stored_logs(database_url))
    fork = chain.w3.eth.block_number - depth  # the last block both chains share
    chain.reorg(depth, salt=depth)
    result = run_cli("--config", str(devnet_config), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert "reorg: blocks" in result.output or "reorg: blocks" in str(result.stderr_bytes or b"")
    after = set(stored_logs(database_url))
    # The logs of the replaced blocks are gone, those of their replacements (each new block has
    # a PAXG and an XAUT mint) are stored, and nothing at or below the fork moved.
    replaced = {lg for lg in before if lg[0] > fork}
    replacing = {lg for lg in chain_logs(chain) if lg[0] > fork}
    assert replaced and not replaced & after
    assert {lg[0] for lg in replacing} == set(range(fork + 1, fork + depth + 1))
    assert {lg for lg in after if lg[0] > fork} == replacing
    assert {lg for lg in after if lg[0] <= fork} == {lg for lg in before if lg[0] <= fork}
    assert after == chain_logs(chain)
    assert dump_tables(database_url) == fresh_sync(chain, tmp_path, database_factory)


def test_reorg_deeper_than_window_is_refused_and_changes_nothing(chain, tmp_path, database_url):
    chain.script_history()
    path = tmp_path / "small-window.toml"
    path.write_text(chain.config_toml(database_url, reorg_window=3))
    sync_once(path)
    before = dump_tables(database_url)
    chain.reorg(6)
    result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 3
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: the chain reorganised below block ")
    assert "deeper than the 3 stored blocks of sync.reorg_window; nothing was changed" in last
    assert dump_tables(database_url) == before


def test_reorg_below_finalized_block_is_refused(chain, tmp_path, database_url):
    # anvil calls head-64 finalized: a reorg of 70 blocks forks below it.
    chain.script_history()
    chain.anvil.rpc("anvil_mine", [hex(80)])
    chain.script_more()
    sync_once_path = tmp_path / "c.toml"
    sync_once_path.write_text(chain.config_toml(database_url))
    sync_once(sync_once_path)
    before = dump_tables(database_url)
    chain.reorg(70)
    result = run_cli("--config", str(sync_once_path), "sync", "--once")
    assert result.exit_code == 3, result.output
    assert "that this database had seen finalized; refusing to roll back finalized data" in result.output
    assert dump_tables(database_url) == before


def test_daemon_follows_head_through_repeated_reorgs(chain, tmp_path, database_url, database_factory):
    chain.script_history()
    path = tmp_path / "follow.toml"
    path.write_text(chain.config_toml(database_url, poll_interval=0.1))
    log_path = tmp_path / "sync.log"
    proc = start_sync(path, log_path)

    def wait_caught_up():
        head = chain.w3.eth.block_number
        head_hash = chain.w3.eth.get_block(head).hash.to_0x_hex()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()
            with psycopg.connect(database_url) as conn:
                row = conn.execute("SELECT min(block_number), min(block_hash) FROM checkpoints").fetchone()
            if row == (head, head_hash):
                return
            time.sleep(0.05)
        raise AssertionError(f"sync did not reach {head}: {log_path.read_text()[-2000:]}")

    try:
        wait_caught_up()
        depths = [1, 3, 2, 5, 1, 4]
        for i, depth in enumerate(depths):
            chain.script_more()
            wait_caught_up()
            chain.reorg(depth, salt=100 + i)
            wait_caught_up()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    log_text = log_path.read_text()
    assert code == 0, log_text
    assert log_text.count("reorg: blocks") == len(depths), log_text
    assert dump_tables(database_url) == fresh_sync(chain, tmp_path, database_factory)


def test_a_fork_that_lost_before_finality_is_rolled_back_when_noticed_late(
        chain, tmp_path, database_url, database_factory):
    # anvil calls head-64 finalized. The rows of the last blocks are stored before they are
    # final; the node then replaces them and builds on the new fork until its finalized block
    # passes them, all before the next sync: those rows were never final, so they roll back.
    chain.script_history()
    chain.anvil.rpc("anvil_mine", [hex(80)])
    chain.script_more()
    path = tmp_path / "c.toml"
    path.write_text(chain.config_toml(database_url))
    sync_once(path)
    head = chain.w3.eth.block_number
    with psycopg.connect(database_url) as conn:
        final_seen = conn.execute("SELECT final_seen FROM chain_heads").fetchone()[0]
        flags = conn.execute("SELECT block_number, is_final FROM transfers").fetchall()
    assert final_seen == head - 64
    assert {is_final for _, is_final in flags} == {True, False}
    assert all(is_final == (block <= final_seen) for block, is_final in flags)

    chain.reorg(4, salt=9)
    chain.anvil.rpc("anvil_mine", [hex(70)])  # the node's finalized block passes the fork
    result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert f"reorg: blocks {head - 3}-{head} replaced (depth 4)" in result.output
    after, fresh = dump_tables(database_url), fresh_sync(chain, tmp_path, database_factory)
    # The first sync kept the headers of its whole reorg window, the fresh one (its window
    # starts 70 blocks later) fewer: every stored header must be the chain's, all else equal.
    for number, block_hash, *_ in ((r[1], r[2]) for r in after.pop("blocks")):
        assert chain.w3.eth.get_block(number).hash.to_0x_hex() == block_hash, number
    fresh.pop("blocks")
    assert after == fresh


def test_a_token_joining_the_walk_has_its_checkpoint_checked_first(
        chain, tmp_path, database_url, database_factory):
    # XAUT alone is synced to the head; while the sync is down the last blocks are replaced and
    # the chain grows, and PAXG is enabled: the walk starts at PAXG's first block and XAUT
    # joins it above its checkpoint, which no longer is on the chain.
    chain.script_history()
    xaut_only = tmp_path / "xaut.toml"
    xaut_only.write_text(chain.config_toml(database_url).replace(
        "[tokens.PAXG]\n", "[tokens.PAXG]\nenabled = false\n"))
    sync_once(xaut_only)
    chain.reorg(3, salt=5)
    chain.script_more()
    both = tmp_path / "both.toml"
    both.write_text(chain.config_toml(database_url))
    result = run_cli("--config", str(both), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert "reorg: blocks" in result.output
    assert dump_tables(database_url) == fresh_sync(chain, tmp_path, database_factory)

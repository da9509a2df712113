"""Running it as a daemon: status, metrics, health and readiness, JSON logs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import psycopg
import pytest
import requests

from tests.conftest import free_port, start_sync
from tests.faultproxy import FaultProxy
from tests.integration.test_interrupt import long_chain, wait_for_checkpoint
from tests.integration.test_sync import run_cli

pytestmark = pytest.mark.integration


def status_json(config_path, *extra):
    result = run_cli("--config", str(config_path), "status", "--json", *extra)
    return result.exit_code, json.loads(result.output)


def test_status_before_during_and_after_a_sync(chain, tmp_path, database_url):
    long_chain(chain, rounds=8, gap=10)
    head = chain.w3.eth.block_number
    path = tmp_path / "c.toml"
    path.write_text(chain.config_toml(database_url, batch_blocks=1, min_batch_blocks=1,
                                      max_batch_blocks=1, poll_interval=0.2))

    code, before = status_json(path)
    assert code == 1 and before["tokens"] == [] and before["sync_running"] is False
    assert before["head_block"] == head and before["errors"] == []

    proc = start_sync(path, tmp_path / "sync.log")
    try:
        wait_for_checkpoint(database_url, proc)
        code, during = status_json(path, "--max-lag", "100000")
        assert during["sync_running"] is True
        assert {t["token"] for t in during["tokens"]} == {"PAXG", "XAUT"}
        assert code == 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            code, after = status_json(path, "--max-lag", "0")
            # Caught up, and the derivers (a batch behind the writer at most) too, the latest
            # periods counted (at the end of each backfill).
            if code == 0 and all(t["derived_block"] == head and t["periods_settled"]
                                 for t in after["tokens"]):
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert code == 0 and after["healthy"] is True
    for t in after["tokens"]:
        assert t["indexed_block"] == head and t["lag_blocks"] == 0 and t["lag_seconds"] == 0
        assert t["derived_block"] == head  # the views include every stored log
        assert t["events_stored"] > 0 and t["last_batch_events_per_second"] is not None
    code, stopped = status_json(path)
    assert stopped["sync_running"] is False and code == 0

    chain.anvil.rpc("anvil_mine", [hex(10)])
    table = run_cli("--config", str(path), "status", "--max-lag", "5")
    assert table.exit_code == 1
    lines = table.output.strip().splitlines()
    assert lines[0] == f"chain31337 (chain 31337): head {head + 10}, finalized {max(0, head + 10 - 64)}; sync not running"
    assert lines[1].split() == ["token", "indexed", "block", "block", "time", "(UTC)", "lag", "lag",
                                "time", "events", "last", "batch", "views", "at"]
    assert lines[2].startswith("PAXG") and lines[3].startswith("XAUT")
    assert lines[2].split()[-1] == str(head)  # the views include every stored log
    assert " 10 " in lines[2]
    assert lines[4].startswith("rpc since")
    assert lines[-1] == "lagging (more than 5 blocks)"

    # As a backfill that was stopped between its derive steps leaves them (revision 0016).
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE derived_marks SET periods_settled = false WHERE token = 'XAUT'")
    lines = run_cli("--config", str(path), "status").output.strip().splitlines()
    assert lines[4] == ("XAUT: the latest day's and month's distinct senders and receivers "
                        "wait for the backfill's end")


def test_status_exits_2_when_the_rpc_is_unreachable(chain, tmp_path, database_url):
    path = tmp_path / "c.toml"
    path.write_text(chain.config_toml(database_url).replace(chain.anvil.url, f"http://127.0.0.1:{free_port()}/KEY123"))
    result = run_cli("--config", str(path), "status")
    assert result.exit_code == 2
    assert "error: RPC: " in result.output and "KEY123" not in result.output
    assert result.output.strip().splitlines()[-1] == "unreachable"


def scrape(port: int) -> dict[str, float]:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def scrape_when_caught_up(port: int, chain, timeout: float = 30) -> dict[str, float]:
    """The metrics once both tokens' checkpoints and views are at the chain's head."""
    head = chain.w3.eth.block_number
    deadline = time.monotonic() + timeout
    while True:
        values = scrape(port)
        if all(values.get(f'gold_indexer_{m}{{token="{t}"}}') == head
               for m in ("indexed_block", "derived_block") for t in ("PAXG", "XAUT")):
            return values
        assert time.monotonic() < deadline, f"not caught up with block {head}: {values}"
        time.sleep(0.1)


def assert_metrics_tell_the_truth(values: dict[str, float], chain, database_url) -> None:
    """Each figure against what it counts: the database, the chain, the requests made."""
    head = chain.w3.eth.block_number
    with psycopg.connect(database_url) as conn:
        checkpoints = dict(conn.execute("SELECT token, block_number FROM checkpoints").fetchall())
        marks = dict(conn.execute("SELECT token, block_number FROM derived_marks").fetchall())
        stored = dict(conn.execute("SELECT token, count(*) FROM logs GROUP BY token").fetchall())
    assert values["gold_indexer_head_block"] == head
    assert values["gold_indexer_finalized_block"] == chain.w3.eth.get_block("finalized").number
    for token in ("PAXG", "XAUT"):
        label = f'{{token="{token}"}}'
        assert values[f"gold_indexer_indexed_block{label}"] == checkpoints[token] == head
        assert values[f"gold_indexer_derived_block{label}"] == marks[token] == head
        assert values[f"gold_indexer_lag_blocks{label}"] == 0
        assert values[f"gold_indexer_events_indexed_total{label}"] == stored[token] > 0
        # Every block from the token's start block to the checkpoint, each scanned once.
        assert values[f"gold_indexer_blocks_indexed_total{label}"] == head - chain.deploy_block + 1
    for method in ("eth_blockNumber", "eth_getBlockByNumber", "eth_getLogs"):
        assert values[f'gold_indexer_rpc_requests_total{{method="{method}"}}'] > 0, method
    # A local node answers every request at once: no error, retry, split or reorg to count.
    assert not [name for name in values if name.startswith("gold_indexer_rpc_errors_total")]
    for counter in ("rpc_retries_total", "range_splits_total", "reorgs_total"):
        assert values[f"gold_indexer_{counter}"] == 0, counter
    assert values["gold_indexer_database_up"] == 1
    assert values["gold_indexer_batch_duration_seconds_count"] >= 1


def test_metrics_move_as_blocks_are_indexed(chain, tmp_path, database_url):
    chain.script_history()
    port = free_port()
    path = tmp_path / "c.toml"
    path.write_text(chain.config_toml(database_url, poll_interval=0.3)
                    + "\n[metrics]\nmax_lag_blocks = 5\n")
    proc = start_sync(path, tmp_path / "sync.log", "--metrics-port", str(port))
    try:
        assert wait_readyz(port, 200).status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).text == "ok\n"
        first = scrape_when_caught_up(port, chain)
        assert_metrics_tell_the_truth(first, chain, database_url)

        chain.script_more()
        second = scrape_when_caught_up(port, chain)
        assert_metrics_tell_the_truth(second, chain, database_url)
        for token in ("PAXG", "XAUT"):
            name = f'gold_indexer_events_indexed_total{{token="{token}"}}'
            assert second[name] > first[name]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def readyz(port: int) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)


def wait_readyz(port: int, status: int, timeout: float = 60) -> requests.Response:
    """/readyz's first answer with `status` (or the last one after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = readyz(port)
        except requests.ConnectionError:  # the daemon is still starting
            answer = None
        if answer is not None and (answer.status_code == status or time.monotonic() > deadline):
            return answer
        assert time.monotonic() < deadline, "/readyz never answered"
        time.sleep(0.2)


def test_readyz_follows_the_syncs_own_head_polls(chain, tmp_path, database_url):
    # Readiness uses the sync's own head polls (its endpoints, its failover; no request of its
    # own): behind when a poll shows the head too far ahead, stale when the polls stop.
    chain.script_history()
    port = free_port()
    with FaultProxy(chain.anvil.url, seed=1, rate=0.0, faults=("http_500",)) as proxy:
        path = tmp_path / "c.toml"
        path.write_text(chain.config_toml(database_url, poll_interval=0.5).replace(
            f'url = "{chain.anvil.url}"', f'url = "{proxy.url}"\nmax_attempts = 100')
            + "\n[metrics]\nmax_lag_blocks = 5\n")
        proc = start_sync(path, tmp_path / "sync.log", "--metrics-port", str(port))
        try:
            ready = wait_readyz(port, 200)
            assert ready.text == "ready: 0 blocks behind\n"
            proxy.set_rate(1.0)  # every request now fails: the sync retries, polls stop
            stale = wait_readyz(port, 503)
            limit = 5 * 0.5 + 10
            assert stale.text.startswith("not ready: the last head poll was "), stale.text
            assert stale.text.endswith(f"s ago (limit {limit:.0f}s)\n"), stale.text
            assert proxy.counts["http_500"] > 0
            proxy.set_rate(0.0)
            assert wait_readyz(port, 200).text == "ready: 0 blocks behind\n"
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0


def test_readyz_is_ready_while_the_sync_runs_on_a_fallback(chain, tmp_path, database_url):
    chain.script_history()
    port = free_port()
    with FaultProxy(chain.anvil.url, seed=3, rate=1.0, faults=("http_500",)) as broken:
        path = tmp_path / "c.toml"
        path.write_text(chain.config_toml(database_url, poll_interval=0.5).replace(
            f'url = "{chain.anvil.url}"',
            f'url = "{broken.url}"\nfallback_urls = ["{chain.anvil.url}"]\nbackoff_seconds = 0.01'))
        proc = start_sync(path, tmp_path / "sync.log", "--metrics-port", str(port))
        try:
            assert wait_readyz(port, 200).text == "ready: 0 blocks behind\n"
            assert broken.counts["http_500"] >= 1  # the primary is down all along
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0


def test_json_logs_parse_line_by_line(chain, tmp_path, database_url):
    chain.script_history()
    path = tmp_path / "c.toml"
    path.write_text(chain.config_toml(database_url))
    done = subprocess.run([sys.executable, "-m", "indexer", "--config", str(path), "--log-format", "json",
                           "sync", "--once"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    entries = [json.loads(line) for line in lines]
    assert len(entries) >= 3
    assert all(set(e) >= {"time", "level", "logger", "message"} for e in entries)
    assert any(e["message"].startswith("blocks ") and "events/s" in e["message"] for e in entries)
    assert entries[-1]["message"].startswith("done: ")


def test_following_the_head_reads_finality_once_a_minute_not_at_every_poll(chain, tmp_path,
                                                                          database_url):
    chain.script_history()
    with FaultProxy(chain.anvil.url, seed=1, rate=0.0) as proxy:
        path = tmp_path / "c.toml"
        path.write_text(chain.config_toml(database_url, poll_interval=0.1).replace(
            f'url = "{chain.anvil.url}"', f'url = "{proxy.url}"'))
        proc = start_sync(path, tmp_path / "sync.log")
        try:
            deadline = time.monotonic() + 30
            while proxy.calls["eth_blockNumber"] < 40:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
    # Every poll reads the head; the safe and finalized blocks only at the first (within 60 s).
    assert proxy.tags_asked["finalized"] == proxy.tags_asked["safe"] == 1, proxy.tags_asked

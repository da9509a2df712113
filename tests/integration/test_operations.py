"""Running it as a daemon: status, metrics, health and readiness, JSON logs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import free_port, start_sync
from tests.integration.test_interrupt import long_chain, wait_for_checkpoint
from tests.integration.test_sync import run_cli

pytestmark = pytest.mark.integration


def status_json(config_path, *extra):
    result = run_cli("--config", str(config_path), "status", "--json", *extra)
    return result.exit_code, json.loads(result.output)


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError("/readyz never answered 200")


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
            if code == 0:
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
    assert lines[0] == f"chain 31337: head {head + 10}, finalized {max(0, head + 10 - 64)}; sync not running"
    assert lines[1].split() == ["token", "indexed", "block", "block", "time", "(UTC)", "lag", "lag",
                                "time", "events", "last", "batch", "views", "at"]
    assert lines[2].startswith("PAXG") and lines[3].startswith("XAUT")
    assert lines[2].split()[-1] == str(head)  # the views include every stored log
    assert " 10 " in lines[2]
    assert lines[-1] == "lagging (more than 5 blocks)"


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


def test_metrics_move_as_blocks_are_indexed(chain, tmp_path, database_url):
    chain.script_history()
    port = free_port()
    path = tmp_path / "c.toml"
    path.write_text(chain.config_toml(database_url, poll_interval=0.3)
                    + "\n[metrics]\nmax_lag_blocks = 5\n")
    proc = start_sync(path, tmp_path / "sync.log", "--metrics-port", str(port))
    try:
        wait_ready(port)
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).text == "ok\n"
        first = scrape(port)
        for series in ('gold_indexer_events_indexed_total{token="PAXG"}',
                       'gold_indexer_blocks_indexed_total{token="XAUT"}',
                       'gold_indexer_indexed_block{token="PAXG"}', "gold_indexer_head_block",
                       'gold_indexer_lag_blocks{token="PAXG"}', "gold_indexer_batch_duration_seconds_count",
                       'gold_indexer_rpc_requests_total{method="eth_getLogs"}',
                       "gold_indexer_range_splits_total", "gold_indexer_reorgs_total",
                       "gold_indexer_rpc_retries_total", "gold_indexer_database_up"):
            assert series in first, series
        assert first['gold_indexer_events_indexed_total{token="PAXG"}'] > 0

        chain.script_more()
        head = chain.w3.eth.block_number
        deadline = time.monotonic() + 30
        while scrape(port)['gold_indexer_indexed_block{token="PAXG"}'] < head \
                or scrape(port).get('gold_indexer_derived_block{token="PAXG"}', -1) < head:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        second = scrape(port)
        assert second['gold_indexer_derived_block{token="XAUT"}'] == head  # the views caught up
        assert second['gold_indexer_events_indexed_total{token="PAXG"}'] > first['gold_indexer_events_indexed_total{token="PAXG"}']
        assert second['gold_indexer_events_indexed_total{token="XAUT"}'] > first['gold_indexer_events_indexed_total{token="XAUT"}']

    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_readyz_flips_when_the_sync_falls_behind(chain, tmp_path, database_url):
    chain.script_history()
    port = free_port()
    path = tmp_path / "c.toml"
    # Polls only every 60 s once caught up, so blocks mined after that put it behind.
    path.write_text(chain.config_toml(database_url, poll_interval=60)
                    + "\n[metrics]\nmax_lag_blocks = 5\n")
    proc = start_sync(path, tmp_path / "sync.log", "--metrics-port", str(port))
    try:
        wait_ready(port)
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.text == "ready: 0 blocks behind\n"
        # Ready comes with the last batch's commit, a moment before the daemon settles into its
        # 60 s wait (derivers catching up, indexes built): blocks mined in that moment are still
        # picked up. Mine again until they land in the wait.
        for _ in range(5):
            chain.anvil.rpc("anvil_mine", [hex(20)])
            time.sleep(1.1)  # the readiness check reads the head at most once a second
            behind = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            if behind.status_code != 200:
                break
        assert behind.status_code == 503
        assert behind.text == "not ready: 20 blocks behind (threshold 5)\n"
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0  # SIGTERM ends the 60 s wait at once


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

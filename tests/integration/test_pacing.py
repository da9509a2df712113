"""Hosted providers' limits, played by tests/faultproxy.py in front of anvil: a JSON-RPC batch
cap, a used-up daily quota (HTTP 402), a per-second credit budget (HTTP 429). Each time the sync
completes and equals a run without limits; the quota pause shows in the log, in `indexer
status` and in the metrics, and SIGTERM ends it at once."""

from __future__ import annotations

import json
import re
import signal
import time

import pytest

from tests.conftest import free_port, start_sync
from tests.faultproxy import INFURA_COSTS, FaultProxy
from tests.integration.test_interrupt import long_chain, reference_run
from tests.integration.test_operations import scrape
from tests.integration.test_sync import dump_tables, run_cli

pytestmark = pytest.mark.integration


def proxied_config(chain, database_url, proxy_url: str, rpc: str = "", **sync) -> str:
    text = chain.config_toml(database_url, **sync)
    return text.replace(f'url = "{chain.anvil.url}"', f'url = "{proxy_url}"\n{rpc}')


def direct_run(chain, tmp_path, database_factory, **sync) -> dict:
    """The tables of a sync straight to anvil with these [sync] settings."""
    url = database_factory()
    path = tmp_path / "direct.toml"
    path.write_text(chain.config_toml(url, **sync))
    result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    return dump_tables(url)


def wait_for_line(log_path, pattern: str, proc, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text() if log_path.exists() else ""
        m = re.search(pattern, text)
        if m:
            return m.group(0)
        assert proc.poll() is None, f"sync exited before {pattern!r}:\n{text}"
        time.sleep(0.05)
    raise AssertionError(f"no {pattern!r} in the log:\n{log_path.read_text()}")


def status_json(path) -> dict:
    return json.loads(run_cli("--config", str(path), "status", "--json",
                              "--max-lag", "1000000").stdout)


def test_sync_through_a_batch_cap_equals_a_run_without_one(chain, tmp_path, database_factory):
    # Every block is in the reorg window: the sync asks for all the headers, 100 at a time.
    long_chain(chain, rounds=3, gap=25)
    reference = reference_run(chain, tmp_path, database_factory)
    for answer in ("object", "geth", "http413"):
        url = database_factory()
        with FaultProxy(chain.anvil.url, seed=0, batch_cap=7, batch_answer=answer) as proxy:
            path = tmp_path / f"cap-{answer}.toml"
            path.write_text(proxied_config(chain, url, proxy.url))
            result = run_cli("--config", str(path), "sync", "--once")
        assert result.exit_code == 0, result.output
        assert dump_tables(url) == reference, answer
        assert 0 < proxy.largest_batch <= 7, answer
        # The cap is learned once and kept: the first refusal names it (max 7), the others
        # halve the refused size (100, 50, 25, 12) until a batch goes through.
        assert proxy.counts["batch_cap"] == (1 if answer == "object" else 4), answer
        said = [line for line in result.output.splitlines() if "refuses batches of" in line]
        assert len(said) == 1, result.output
        assert said[0].endswith("at most 7 per batch from now on" if answer == "object"
                                else "at most 50 per batch from now on")
        assert "refused calls: batch " in result.output


def test_quota_pause_is_logged_shown_and_waited_out(chain, tmp_path, database_factory):
    long_chain(chain, rounds=4, gap=10)
    reference = reference_run(chain, tmp_path, database_factory)
    url = database_factory()
    port = free_port()
    with FaultProxy(chain.anvil.url, seed=0, quota_after=40) as proxy:
        path = tmp_path / "quota.toml"
        path.write_text(proxied_config(chain, url, proxy.url, "quota_retry_minutes = 0.01",
                                       batch_blocks=1, min_batch_blocks=1, max_batch_blocks=1))
        log_path = tmp_path / "sync.log"
        proc = start_sync(path, log_path, "--once", "--metrics-port", str(port))
        try:
            line = wait_for_line(log_path, r"quota used up \(.*\): pausing until (\S+ \S+) UTC",
                                 proc)
            paused = status_json(path)["rpc"]
            metrics = scrape(port)
            text = run_cli("--config", str(path), "status", "--max-lag", "1000000").output
            proxy.set_quota(False)
            assert proc.wait(60) == 0
            after = status_json(path)["rpc"]
        finally:
            if proc.poll() is None:
                proc.kill()
    log = log_path.read_text()
    assert "HTTP 402 from http://127.0.0.1:" in line and "Payment Required: You have reached " \
        "your daily credit limit." in line
    assert log.count("pausing until") == 1  # said once, however many threads met it
    assert "answers again: the quota pause is over" in log
    assert paused["paused"] is True and paused["paused_until"] is not None
    assert paused["paused_endpoint"].startswith("http://127.0.0.1:")
    assert "Payment Required" in paused["pause_reason"]
    assert metrics["gold_indexer_rpc_quota_paused"] == 1
    assert metrics["gold_indexer_rpc_quota_resume_timestamp_seconds"] > time.time() - 60
    assert "rpc paused: quota used up at http://127.0.0.1:" in text
    assert "faultproxy-secret-key" not in log + text + json.dumps(paused)
    assert dump_tables(url) == reference
    assert after["paused"] is False and after["paused_until"] is None
    # (The proxy also refused the two status commands' own requests.)
    assert 1 <= after["refused"]["quota"] <= proxy.limited["quota"] - 2
    assert "retrying" not in log  # a quota answer used up no attempt meant for faults


def test_sigterm_during_a_quota_pause_exits_0_at_once(chain, tmp_path, database_url):
    long_chain(chain, rounds=4, gap=10)
    with FaultProxy(chain.anvil.url, seed=0, quota_after=40) as proxy:
        path = tmp_path / "quota.toml"
        path.write_text(proxied_config(chain, database_url, proxy.url, "quota_retry_minutes = 60",
                                       batch_blocks=1, min_batch_blocks=1, max_batch_blocks=1))
        log_path = tmp_path / "sync.log"
        proc = start_sync(path, log_path)
        try:
            wait_for_line(log_path, r"pausing until", proc)
            time.sleep(0.5)  # every thread is waiting now
            asked = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0, log_path.read_text()
            took = time.monotonic() - asked
        finally:
            if proc.poll() is None:
                proc.kill()
    assert took < 5, took
    done = [line for line in log_path.read_text().splitlines() if " done: " in line]
    assert len(done) == 1 and done[0].endswith("; stopped on request")
    rpc = status_json(path)["rpc"]
    assert rpc["paused"] is False and rpc["paused_until"] is None  # no sync runs, none waits
    assert rpc["refused"]["quota"] >= 1


def test_paced_sync_stays_inside_a_credit_budget(chain, tmp_path, database_url,
                                                 database_factory):
    long_chain(chain, rounds=8, gap=12)
    # Four-block ranges below a two-block reorg window: the ranges in flight (four, each on a
    # client of its own) share the budget.
    sync = {"batch_blocks": 4, "min_batch_blocks": 1, "max_batch_blocks": 4, "reorg_window": 2}
    reference = direct_run(chain, tmp_path, database_factory, **sync)
    budget = 2000  # credits per second, Infura's prices
    with FaultProxy(chain.anvil.url, seed=0, rate_limit=budget, costs=INFURA_COSTS,
                    rate_answer="infura") as proxy:
        path = tmp_path / "paced.toml"
        path.write_text(proxied_config(
            chain, database_url, proxy.url,
            f'pricing = "infura"\nmax_credits_per_second = {budget}', **sync))
        started = time.monotonic()
        result = run_cli("--config", str(path), "sync", "--once")
        took = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert dump_tables(database_url) == reference
    calls = sum(proxy.calls.values())
    print(f"{calls} calls, {dict(proxy.limited)} refused, {proxy.credits:.0f} credits "
          f"in {took:.1f}s")
    assert proxy.credits > 3 * budget  # the budget held the sync back for seconds
    assert proxy.limited["rate"] < 0.02 * calls
    # What the sync says it spent is what the provider billed.
    done = [line for line in result.output.splitlines() if " done: " in line][-1]
    assert f"; {proxy.credits:,.0f} credits (infura)" in done
    rpc = status_json(path)["rpc"]
    assert rpc["pricing"] == "infura" and rpc["unit"] == "credits"
    assert rpc["credits_total"] == proxy.credits
    assert sum(rpc["calls"].values()) == calls
    assert set(rpc["requests"]) >= {"eth_getLogs", "eth_getBlockByNumber", "eth_blockNumber"}

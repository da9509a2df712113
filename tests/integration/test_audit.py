"""Auditing during the sync (indexer/sync/audit.py): a provider that answers eth_getLogs with
200 OK and logs missing is caught while the sync runs, the range is fetched again, and the
stored result equals the chain; a loss that persists stops the sync naming the range."""

from __future__ import annotations

import pytest

from indexer.tokens import (FEE_COLLECTED, MINT, SUPPLY_DECREASED, SUPPLY_INCREASED,
                            TRANSFER)
from tests.faultproxy import FaultProxy
from tests.integration.test_faults import faulty_config
from tests.integration.test_interrupt import long_chain, reference_run
from tests.integration.test_sync import dump_tables, run_cli, sync_once

pytestmark = pytest.mark.integration

SMALL_RANGES = {"batch_blocks": 4, "min_batch_blocks": 1, "max_batch_blocks": 4, "target_logs": 20}


def audit_config(chain, database_url, proxy_url: str, audit: str, fallback: str | None = None) -> str:
    """The config of a sync through `proxy_url` with `audit` in its [audit] section; the
    whole-transaction check is off unless `audit` turns it on, so that what a test shows is the
    mechanism it names."""
    text = faulty_config(chain, database_url, proxy_url, **SMALL_RANGES)
    if "whole_transactions" not in audit:
        audit += "\nwhole_transactions = false"
    if fallback is not None:
        text = text.replace("[chain]", f'fallback_urls = ["{fallback}"]\n\n[chain]')
    return text + f"\n[audit]\n{audit}\n"


def sync_dropping(chain, database_url, tmp_path, audit: str, **drops):
    with FaultProxy(chain.anvil.url, seed=4, **drops) as proxy:
        path = tmp_path / "audited.toml"
        path.write_text(audit_config(chain, database_url, proxy.url, audit))
        result = run_cli("--config", str(path), "sync", "--once")
    return result, proxy


@pytest.mark.parametrize("drops", [
    {"drop_logs": 2, "drop_share": 0.3, "max_drops": 6},
    {"drop_logs": 2, "drop_share": 0.3, "drop_tail": True, "max_drops": 6},
], ids=["random logs", "a block's tail"])
def test_audit_catches_dropped_logs_and_the_result_equals_the_chain(
        chain, tmp_path, database_url, database_factory, drops):
    long_chain(chain, rounds=6, gap=5)
    reference = reference_run(chain, tmp_path, database_factory)
    result, proxy = sync_dropping(chain, database_url, tmp_path,
                                   "every_batches = 1\nsample = 100", **drops)
    assert proxy.dropped, "the proxy dropped nothing: the test proves nothing"
    assert result.exit_code == 0, result.output
    assert "audit: blocks" in result.output
    assert "found logs missing, fetched again" in result.output.splitlines()[-1]
    assert dump_tables(database_url) == reference


def test_without_the_audit_the_dropped_logs_stay_lost(chain, tmp_path, database_url,
                                                      database_factory):
    """The mechanism switched off: the same drops leave a database that differs from the chain."""
    long_chain(chain, rounds=6, gap=5)
    reference = reference_run(chain, tmp_path, database_factory)
    result, proxy = sync_dropping(chain, database_url, tmp_path, "enabled = false",
                                  drop_logs=2, drop_share=0.3, max_drops=6)
    assert result.exit_code == 0, result.output
    assert proxy.dropped and dump_tables(database_url) != reference


def test_a_loss_that_persists_stops_the_sync_naming_the_range(chain, tmp_path, database_url):
    long_chain(chain, rounds=2, gap=5)
    # Every answer loses a Transfer: each refetch is short of one again.
    result, proxy = sync_dropping(chain, database_url, tmp_path, "every_batches = 1\nsample = 100",
                                  drop_logs=1, drop_share=1.0,
                                  drop_where=lambda log: log["topics"][0] == TRANSFER.topic0)
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: audit: blocks ") and "still differ from the chain after 3 " \
        "refetches" in last and "indexer verify --repair" in last, last


def test_a_refetch_asks_the_next_endpoint(chain, tmp_path, database_url, database_factory):
    """One endpoint drops a log from every answer, the fallback is honest: the range the audit
    rejects is fetched again from the fallback, and the result equals the chain."""
    long_chain(chain, rounds=2, gap=5)
    reference = reference_run(chain, tmp_path, database_factory)
    with FaultProxy(chain.anvil.url, seed=4, drop_logs=1, drop_share=1.0,
                    drop_where=lambda log: log["topics"][0] == TRANSFER.topic0) as liar, \
            FaultProxy(chain.anvil.url, seed=5) as honest:
        path = tmp_path / "two.toml"
        path.write_text(audit_config(chain, database_url, liar.url,
                                     "every_batches = 1\nsample = 100", fallback=honest.url))
        result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert liar.dropped and "fetching blocks" in result.output
    assert dump_tables(database_url) == reference


def test_a_node_without_old_state_turns_auditing_off_for_old_blocks_once(
        chain, tmp_path, database_url, database_factory):
    long_chain(chain, rounds=6, gap=5)
    reference = reference_run(chain, tmp_path, database_factory)
    with FaultProxy(chain.anvil.url, seed=4, state_window=8) as proxy:
        path = tmp_path / "pruned.toml"
        path.write_text(audit_config(chain, database_url, proxy.url, "every_batches = 1"))
        result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert result.output.count("the node has no state of block") == 1, result.output
    assert dump_tables(database_url) == reference


@pytest.mark.parametrize("whole", [True, False], ids=["checked", "off"])
@pytest.mark.parametrize("lost", ["PAXG operations' logs", "zero fee legs", "mints' Mint"])
def test_the_whole_transaction_check_asks_again_for_an_answer_with_orphans(
        chain, tmp_path, database_url, database_factory, whole, lost):
    """audit.whole_transactions, with the audit off: a log lost from a multi-log transaction
    (a PAXG transfer, mint or burn; a fee leg of 0 or an XAUT Mint move no balance) leaves
    its partner alone in the answer; the range is asked for again before anything is stored,
    and the result equals the chain. (A transaction of one log, a plain XAUT transfer or an
    Upgraded, is the audit's and the cross-check's.)"""
    long_chain(chain, rounds=6, gap=5)
    reference = reference_run(chain, tmp_path, database_factory)
    paxg = chain.paxg.address.lower()
    where = {
        "PAXG operations' logs": lambda log: log["address"].lower() == paxg
        and log["topics"][0] in (TRANSFER.topic0, SUPPLY_INCREASED.topic0,
                                 SUPPLY_DECREASED.topic0, FEE_COLLECTED.topic0),
        "zero fee legs": lambda log: log["address"].lower() == paxg
        and log["topics"][0] == TRANSFER.topic0 and int(log["data"], 16) == 0,
        "mints' Mint": lambda log: log["topics"][0] == MINT.topic0,
    }[lost]
    result, proxy = sync_dropping(chain, database_url, tmp_path,
                                  f"enabled = false\nwhole_transactions = {str(whole).lower()}",
                                  drop_logs=1, drop_share=0.3, max_drops=8, drop_where=where)
    assert result.exit_code == 0, result.output
    assert proxy.dropped, "the proxy dropped nothing: the test proves nothing"
    if whole:
        assert "lacks logs of transactions it holds; asking again" in result.output
        assert dump_tables(database_url) == reference
    else:
        assert dump_tables(database_url) != reference


@pytest.mark.parametrize("endpoints", [2, 1], ids=["two endpoints", "one endpoint"])
@pytest.mark.parametrize("cross_check", [1, 0], ids=["cross-checked", "off"])
def test_a_second_opinion_settles_a_lying_endpoint(chain, tmp_path, database_url,
                                                   database_factory, cross_check, endpoints):
    """sync.cross_check: every range below the reorg window is also asked of the next endpoint
    (of the same one again when there is only one, as a fleet behind one URL); with the audit
    and the whole-transaction check off, only the comparison stands between the lying endpoint
    and the database."""
    long_chain(chain, rounds=6, gap=5)
    reference_url = database_factory()
    reference_path = tmp_path / "reference.toml"
    reference_path.write_text(chain.config_toml(reference_url, reorg_window=4, **SMALL_RANGES))
    sync_once(reference_path)
    reference = dump_tables(reference_url)
    below_window = chain.w3.eth.block_number - 8
    # One endpoint: two answers that lost the same log agree, and nothing can tell; fewer,
    # rarer drops keep that chance small (a few hundredths of a run).
    drops = {"drop_share": 0.5} if endpoints == 2 else {"drop_share": 0.3, "max_drops": 3}
    with FaultProxy(chain.anvil.url, seed=4, drop_logs=1, **drops,
                    drop_where=lambda log: int(log["blockNumber"], 16) < below_window) as liar, \
            FaultProxy(chain.anvil.url, seed=5) as honest:
        path = tmp_path / "two.toml"
        text = audit_config(chain, database_url, liar.url, "enabled = false",
                            fallback=honest.url if endpoints == 2 else None)
        path.write_text(text.replace("[sync]\n", f"[sync]\nreorg_window = 4\n"
                                                 f"cross_check = {cross_check}\n"))
        assert "cross_check" in path.read_text()
        result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert liar.dropped
    if cross_check:
        assert "the endpoints' eth_getLogs answers differed" in result.output
        assert dump_tables(database_url) == reference
    else:
        assert dump_tables(database_url) != reference


def test_the_same_orphans_in_every_answer_are_kept_and_their_rule_turned_off(
        chain, tmp_path, database_url):
    """A sequence the rules do not know looks like a loss in every answer: the sync asks again
    (5 answers), keeps the chain's logs as they are with a warning, and after 3 such answers
    stops checking that rule, so a contract version the rules do not know cannot stall it."""
    long_chain(chain, rounds=6, gap=5)
    paxg = chain.paxg.address.lower()
    result, proxy = sync_dropping(
        chain, database_url, tmp_path, "enabled = false\nwhole_transactions = true",
        drop_logs=1, drop_share=1.0,
        drop_where=lambda log: log["address"].lower() == paxg
        and log["topics"][0] == TRANSFER.topic0 and int(log["data"], 16) == 0)
    assert result.exit_code == 0, result.output
    assert proxy.dropped
    kept = result.output.count("kept as the chain's own logs")
    assert kept >= 3, result.output
    assert result.output.count("completeness check 'fee leg missing after a principal "
                               "Transfer' is off from now on") == 1

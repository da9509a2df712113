"""`indexer sync` against a real anvil and a real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from indexer.cli import main
from indexer.tokens import MAINNET_TOKENS, all_topics

pytestmark = pytest.mark.integration


def run_cli(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def sync_once(config_path) -> None:
    result = run_cli("--config", str(config_path), "sync", "--once")
    assert result.exit_code == 0, result.output


def chain_logs(chain) -> set[tuple]:
    """What eth_getLogs says the two contracts emitted, for the topics we index."""
    topics = all_topics(list(MAINNET_TOKENS.values()))
    logs = chain.w3.eth.get_logs({
        "fromBlock": 0, "toBlock": "latest",
        "address": [chain.paxg.address, chain.xaut.address],
        "topics": [topics],
    })
    return {
        (lg["blockNumber"], lg["logIndex"], lg["blockHash"].to_0x_hex(),
         lg["transactionHash"].to_0x_hex(), tuple(t.to_0x_hex() for t in lg["topics"]),
         lg["data"].to_0x_hex())
        for lg in logs
    }


def stored_logs(database_url) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT block_number, log_index, block_hash, tx_hash, topics, data FROM logs"
        ).fetchall()


def test_sync_once_stores_every_log_exactly_once(chain, devnet_config, database_url):
    chain.script_history()
    sync_once(devnet_config)
    rows = stored_logs(database_url)
    stored = {(b, i, bh, th, tuple(tp), d) for b, i, bh, th, tp, d in rows}
    assert len(rows) == len(stored)  # no duplicates
    expected = chain_logs(chain)
    assert len(expected) > 50
    assert stored == expected

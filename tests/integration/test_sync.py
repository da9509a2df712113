"""`indexer sync` against a real anvil and a real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from indexer.cli import main
from indexer.tokens import MAINNET_TOKENS, all_topics
from indexer.decode import raw_fields

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
    """(block, log index, block hash, tx hash, topics, data) of every stored log, the raw
    fields rebuilt from the decoded columns where they are not stored."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """SELECT block_number, log_index, block_hash, tx_hash, token, event, from_address,
                      to_address, amount, args, topics, data FROM logs"""
        ).fetchall()
    out = []
    for b, i, bh, th, token, event, frm, to, amount, args, topics, data in rows:
        if topics is None:
            topics, data = raw_fields(MAINNET_TOKENS[token], event, frm, to, amount, args)
        out.append((b, i, bh, th, tuple(topics), data))
    return out


def test_sync_once_stores_every_log_exactly_once(chain, devnet_config, database_url):
    chain.script_history()
    sync_once(devnet_config)
    rows = stored_logs(database_url)
    stored = set(rows)
    assert len(rows) == len(stored)  # no duplicates
    expected = chain_logs(chain)
    assert len(expected) > 50
    assert stored == expected


def dump_tables(database_url) -> dict[str, list]:
    """Every stored fact, in a stable order (updated_at is wall-clock, so left out)."""
    with psycopg.connect(database_url) as conn:
        return {
            "logs": conn.execute("SELECT * FROM logs ORDER BY chain_id, block_number, log_index").fetchall(),
            "blocks": conn.execute("SELECT * FROM blocks ORDER BY chain_id, number").fetchall(),
            "checkpoints": conn.execute(
                "SELECT chain_id, token, block_number, block_hash FROM checkpoints ORDER BY token"
            ).fetchall(),
            "tokens": conn.execute("SELECT * FROM tokens ORDER BY symbol").fetchall(),
            "daily_stats": conn.execute("SELECT * FROM daily_stats ORDER BY 1, 2, 3").fetchall(),
            "period_uniques": conn.execute("SELECT * FROM period_uniques ORDER BY 1, 2, 3, 4").fetchall(),
            "period_members": conn.execute(
                "SELECT * FROM period_members ORDER BY 1, 2, 3, 4, 5, 6").fetchall(),
            "holder_state": conn.execute("SELECT * FROM holder_state ORDER BY 1, 2, 3").fetchall(),
            "token_totals": conn.execute("SELECT * FROM token_totals ORDER BY 1, 2").fetchall(),
            "prices": conn.execute("SELECT * FROM prices ORDER BY 1, 2, 3").fetchall(),
            "price_aggregators": conn.execute(
                "SELECT * FROM price_aggregators ORDER BY 1, 2, 3").fetchall(),
            "price_feeds": conn.execute(
                "SELECT chain_id, feed, proxy, decimals FROM price_feeds ORDER BY 1, 2").fetchall(),
        }


def test_second_sync_adds_nothing(chain, devnet_config, database_url):
    chain.script_history()
    sync_once(devnet_config)
    before = dump_tables(database_url)
    sync_once(devnet_config)
    assert dump_tables(database_url) == before


def test_sync_resumes_after_new_blocks(chain, devnet_config, database_url):
    chain.script_history()
    sync_once(devnet_config)
    chain.script_more()
    sync_once(devnet_config)
    assert len(stored_logs(database_url)) == len(chain_logs(chain))


def test_balances_from_transfers_equal_balance_of_and_total_supply(chain, devnet_config, database_url):
    chain.script_history()
    sync_once(devnet_config)
    zero = "0x" + "00" * 20
    with psycopg.connect(database_url) as conn:
        for token in ("PAXG", "XAUT"):
            balances = dict(conn.execute(
                """SELECT addr, sum(delta) FROM (
                       SELECT to_address AS addr, amount AS delta FROM transfers WHERE token = %s
                       UNION ALL
                       SELECT from_address, -amount FROM transfers WHERE token = %s
                   ) t GROUP BY addr""", (token, token)).fetchall())
            supply = -balances.pop(zero)
            assert supply == chain.total_supply(token) > 0
            for holder in chain.holders():
                assert balances.get(holder.lower(), 0) == chain.balance_of(token, holder), holder


def test_paxg_fee_legs_are_flagged(chain, devnet_config, database_url):
    chain.script_history()
    sync_once(devnet_config)
    with psycopg.connect(database_url) as conn:
        fee_legs = conn.execute(
            "SELECT to_address, amount FROM transfers WHERE token = 'PAXG' AND is_fee ORDER BY block_number, log_index"
        ).fetchall()
        xaut_fees = conn.execute("SELECT count(*) FROM transfers WHERE token = 'XAUT' AND is_fee").fetchone()[0]
    r0, r1 = chain.fee_recipient.lower(), chain.users[6].lower()
    relayer = chain.users[5].lower()
    # From script_history: every PAXG transfer emits a fee leg (even at fee 0); the relayed
    # transfers also pay a service fee to the relayer. Fee = value * 200 / 1e6 while the rate is 200.
    assert fee_legs == [
        (r0, 0),                       # transfer at rate 0
        (r0, 10**20 * 200 // 10**6),   # rate 200
        (r0, 10**18 * 200 // 10**6),   # to the fee recipient itself
        (r0, 10**18 * 200 // 10**6), (r0, 2 * 10**18 * 200 // 10**6), (r0, 0),  # batch; 3 wei -> 0
        (r0, 5 * 10**18 * 200 // 10**6), (relayer, 10**16),  # delegated: fee leg, service leg
        (r1, 10**18 * 200 // 10**6),   # after the fee recipient changed
        (r1, 0), (relayer, 10**15),    # delegated at rate 0
    ]
    assert xaut_fees == 0


def test_chain_id_mismatch_is_refused(chain, tmp_path, database_url):
    path = tmp_path / "wrong.toml"
    path.write_text(chain.config_toml(database_url).replace("id = 31337", "id = 1"))
    result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"Error: RPC endpoint {chain.anvil.url} serves chain id 31337, but the config says 1: "
        "fix [chain] id or the RPC URL"
    )
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0] == 0


@pytest.mark.parametrize("edit, message", [
    (lambda t: t + "\n[sync2]\nx = 1\n", "Error: unknown section [sync2]"),
    (lambda t: t.replace("confirmations = 0", "confirmation = 0"), "Error: unknown key sync.confirmation"),
    (lambda t: t.replace("confirmations = 0", 'confirmations = "zero"'),
     "Error: sync.confirmations must be an integer, got str 'zero'"),
    (lambda t: t.replace('[rpc]\nurl = "', '[rpc]\nurl_unused = "'), "Error: unknown key rpc.url_unused"),
    (lambda t: t.replace("[tokens.XAUT]", "[tokens.XAUTX]"), "Error: tokens.XAUTX is not a built-in token (those are PAXG, XAUT): add it with kind "
     "(kind: one of paxg, xaut, erc20, oft)"),
    (lambda t: t + "oops = = 1\n", "is not valid TOML"),
])
def test_bad_config_is_refused_with_one_line(chain, tmp_path, database_url, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(edit(chain.config_toml(database_url)))
    result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM tokens").fetchone()[0] == 0


def test_bad_address_checksum_is_refused(chain, tmp_path, database_url):
    good = chain.paxg.address
    flipped = good[:2] + "".join(c.swapcase() if c.isalpha() else c for c in good[2:])
    path = tmp_path / "bad.toml"
    path.write_text(chain.config_toml(database_url).replace(good, flipped))
    result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: tokens.PAXG.address = '{flipped}' has a bad EIP-55 checksum: copy the address "
        "again, or write it all in lowercase"
    )


def test_missing_rpc_url_is_refused(tmp_path, database_url, monkeypatch):
    monkeypatch.delenv("INDEXER_RPC_URL", raising=False)
    path = tmp_path / "c.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n')
    result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: no RPC URL: set [rpc] url in the config, INDEXER_RPC_URL, or --rpc-url"
    )


def address_indexes(database_url) -> set[str]:
    with psycopg.connect(database_url) as conn:
        return {r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'logs_transfer_%%_idx'").fetchall()}


def test_first_backfill_defers_address_indexes_and_builds_them_at_its_end(chain, tmp_path, database_url):
    chain.script_history()
    chain.anvil.rpc("anvil_mine", [hex(300)])  # longer than the reorg window: a deferred backfill
    path = tmp_path / "c.toml"
    path.write_text(chain.config_toml(database_url))
    result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert "per-address indexes are built at its end" in result.output
    assert "built the per-address indexes" in result.output
    assert address_indexes(database_url) == {"logs_transfer_from_idx", "logs_transfer_to_idx"}
    chain.script_more()
    again = run_cli("--config", str(path), "sync", "--once")
    assert "per-address indexes" not in again.output  # a short catch-up keeps them


def test_a_migrated_database_labels_the_tether_treasury(database_url):
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT chain_id, address, kind FROM labels").fetchall()
    assert (1, "0x5754284f345afc66a98fbb0a0afe71e0f007b949", "treasury") in rows


def test_a_database_error_the_sync_cannot_handle_is_one_line(chain, devnet_config, database_url):
    chain.script_history()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE derived_marks")  # a schema broken under the sync's feet
    result = run_cli("--config", str(devnet_config), "sync", "--once")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1] == 'Error: PostgreSQL: relation "derived_marks" does not exist', result.output
    assert "Traceback" not in result.output

"""A gold token added by configuration alone ([tokens.NAME] with kind erc20): its Transfers are
read beside PAXG and XAUT, its decimals come from the contract, and the views and verify agree
with the chain."""

from __future__ import annotations

import psycopg
import pytest

from tests.chain import Chain
from tests.integration.test_sync import run_cli, sync_once

pytestmark = pytest.mark.integration

ZERO = "0x" + "00" * 20


def add_gold_token(chain: Chain):
    """A third gold token on the devnet (another XautLike: Transfer, Mint, Redeem logs), with
    mints, transfers and a redemption."""
    token = chain._deploy("XautLike")
    start = chain.w3.eth.block_number
    f, u = token.functions, chain.users
    chain.send(f.mint(u[0], 5_000_000), chain.deployer)
    chain.send(f.transfer(u[1], 1_250_000), u[0])
    chain.send(f.multiTransfer([u[2], u[3]], [10, 20]), u[1])
    chain.send(f.mint(u[4], 7), chain.deployer)
    chain.send(f.redeem(250_000), u[0])
    return token, start


def test_a_token_added_by_configuration_is_indexed_and_verified(chain, tmp_path, database_url):
    chain.script_history()
    token, start = add_gold_token(chain)
    path = tmp_path / "added.toml"
    path.write_text(chain.config_toml(database_url) + f"""
[tokens.XAUm]
kind = "erc20"
address = "{token.address}"
start_block = {start}
""")
    sync_once(path)
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT decimals, address FROM tokens WHERE symbol = 'XAUm'").fetchone() \
            == (6, token.address.lower())
        events = conn.execute("SELECT DISTINCT event FROM logs WHERE token = 'XAUm'").fetchall()
        assert events == [("Transfer",)]  # kind erc20 reads Transfer only
        supply = conn.execute("SELECT supply, supply_units FROM supply_daily WHERE token = 'XAUm' "
                              "ORDER BY day DESC LIMIT 1").fetchone()
        assert supply[0] == token.functions.totalSupply().call() == 5_000_007 - 250_000
        assert supply[1] == supply[0] / 10**6
        balances = dict(conn.execute("SELECT address, balance FROM holder_balances "
                                     "WHERE token = 'XAUm'").fetchall())
        for holder in chain.users[:5]:
            assert balances.get(holder.lower(), 0) == token.functions.balanceOf(holder).call()
        others = conn.execute("SELECT token, count(*) FROM logs GROUP BY token ORDER BY token")
        assert [t for t, _ in others.fetchall()] == ["PAXG", "XAUT", "XAUm"]
    result = run_cli("--config", str(path), "verify")
    assert result.exit_code == 0, result.output
    assert "XAUm" in result.output
    result = run_cli("--config", str(path), "export", "supply_daily", "--token", "xaum")
    assert result.exit_code == 0, result.output
    assert result.output.count("XAUm") >= 1 and "PAXG" not in result.output
    report = tmp_path / "report.html"
    result = run_cli("--config", str(path), "report", "--token", "XAUm", "-o", str(report))
    assert result.exit_code == 0, result.output
    assert "XAUm" in report.read_text()


def test_a_token_whose_decimals_do_not_answer_is_refused_before_anything_is_written(
        chain, tmp_path, database_url):
    path = tmp_path / "nocode.toml"
    path.write_text(chain.config_toml(database_url) + """
[tokens.GOLD]
kind = "erc20"
address = "0x00000000000000000000000000000000000000aa"
start_block = 1
""")
    result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code != 0
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: tokens.GOLD: decimals() of 0x00000000000000000000000000000000000000aa "
                           "did not answer") and last.endswith("set tokens.GOLD.decimals"), last
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM logs").fetchone() == (0,)

"""PAXG's proxy upgraded from V1 (fee legs) to a V2-style implementation (one Transfer per
transfer) in the middle of a history: fee legs are paired only while V1 is live, so volume
and counts stay right on both sides. Expected figures come from the script, not the indexer."""

from __future__ import annotations

import psycopg
import pytest

from tests.integration.test_sync import run_cli, sync_once

pytestmark = pytest.mark.integration

FEE_RATE = 200  # 0.02%


def fee(value: int) -> int:
    return value * FEE_RATE // 1_000_000


def transfers(database_url) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            """SELECT from_address, to_address, amount, is_fee FROM transfers WHERE token = 'PAXG'
               AND from_address <> '0x0000000000000000000000000000000000000000'
               ORDER BY block_number, log_index""").fetchall()


def volume(database_url) -> tuple:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            """SELECT sum(transfer_count), sum(volume), sum(fee_count), sum(fees) FROM volume_daily
               WHERE token = 'PAXG'""").fetchone()


def test_fee_legs_are_paired_only_while_v1_is_live(chain, devnet_config, database_url):
    p, c, u = chain.paxg.functions, chain.controller, chain.users
    recipient = chain.fee_recipient
    chain.send(p.increaseSupply(10**21), c)
    chain.send(p.setFeeRate(FEE_RATE), chain.deployer)
    chain.send(p.transfer(u[0], 4 * 10**20), c)
    # A multi-send with two transfers to the fee recipient in a row, under V1 and under V2.
    sends = [recipient, recipient, u[1]], [3 * 10**18, 10**18, 5 * 10**18]
    chain.send(p.batchTransfer(*sends), u[0])
    chain.upgrade_paxg("PaxgV2Like")
    v2 = chain.paxg.functions
    chain.send(v2.batchTransfer(*sends), u[0])
    chain.send(v2.transfer(recipient, 7), u[1])
    chain.send(v2.increaseSupplyToAddress(10**18, u[2]), c)

    result = run_cli("--config", str(devnet_config), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert "has no feeRate(): one Transfer per transfer, no fee legs" in result.output

    r, a, b = recipient.lower(), u[0].lower(), u[1].lower()
    ctl = c.lower()
    v1_legs = []
    for to, value in ((a, 4 * 10**20),):
        v1_legs += [(ctl, to, value - fee(value), False), (ctl, r, fee(value), True)]
    for to, value in zip(*sends):
        v1_legs += [(a, to.lower(), value - fee(value), False), (a, r, fee(value), True)]
    v2_transfers = [(a, to.lower(), value, False) for to, value in zip(*sends)] + [(b, r, 7, False)]
    assert transfers(database_url) == v1_legs + v2_transfers

    v1_principals = [value - fee(value) for value in (4 * 10**20, *sends[1])]
    v1_fees = [fee(value) for value in (4 * 10**20, *sends[1])]
    assert volume(database_url) == (
        len(v1_principals) + len(v2_transfers),
        sum(v1_principals) + sum(sends[1]) + 7,
        sum(1 for f in v1_fees if f > 0),
        sum(v1_fees),
    )
    with psycopg.connect(database_url) as conn:
        balances = dict(conn.execute(
            "SELECT address, balance FROM holder_balances WHERE token = 'PAXG'").fetchall())
    for holder in chain.holders():
        assert balances.get(holder.lower(), 0) == chain.balance_of("PAXG", holder)


def test_a_proxy_live_on_v2_from_its_first_block_pairs_nothing(chain, tmp_path, database_url):
    # No Upgraded log at all: what is live comes from the proxy's slot at the first block.
    from tests.chain import load_artifact

    implementation = chain._deploy("PaxgV2Like")
    proxy = chain._deploy("ZosProxy", implementation.address)
    first = chain.w3.eth.block_number
    token = chain.w3.eth.contract(address=proxy.address, abi=load_artifact("PaxgV2Like")["abi"])
    u = chain.users
    chain.send(token.functions.increaseSupplyToAddress(10**18, u[0]), chain.deployer)
    chain.send(token.functions.batchTransfer([u[1], u[1]], [10, 20]), u[0])
    path = tmp_path / "v2.toml"
    path.write_text(chain.config_toml(database_url).replace(
        f'address = "{chain.paxg.address}"\nstart_block = {chain.deploy_block}',
        f'address = "{proxy.address}"\nstart_block = {first}'))
    sync_once(path)
    assert transfers(database_url) == [(u[0].lower(), u[1].lower(), 10, False),
                                       (u[0].lower(), u[1].lower(), 20, False)]

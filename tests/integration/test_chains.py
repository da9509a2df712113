"""Several chains in one database ([chains.NAME], issue 14): one `indexer sync` syncs each chain
beside the others, `--chain` splits them over processes writing at once, a reorg on one chain
rolls back only that chain, and status and verify speak per chain."""

from __future__ import annotations

import json
from decimal import Decimal
import subprocess
import sys
import time

import psycopg
import pytest
from web3 import Web3

from tests.chain import deploy
from tests.conftest import Anvil
from tests.integration.test_sync import dump_tables, run_cli, sync_once

pytestmark = pytest.mark.integration

SIDE_ID = 42161


class SideChain:
    """A second anvil (chain id 42161) with one gold token of kind erc20 (an XautLike)."""

    def __init__(self):
        self.anvil = Anvil(("--chain-id", str(SIDE_ID)))
        self.w3 = Web3(Web3.HTTPProvider(self.anvil.url, request_kwargs={"timeout": 60}))
        self.accounts = [Web3.to_checksum_address(a) for a in self.w3.eth.accounts]
        self.token = deploy(self.w3, "XautLike", self.accounts[0])
        self.start = self.w3.eth.block_number  # anvil mines the deployment at once

    def send(self, fn, sender):
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
        assert receipt.status == 1

    def history(self) -> None:
        f, a = self.token.functions, self.accounts
        self.send(f.mint(a[3], 9_000_000), a[0])
        self.send(f.transfer(a[4], 2_000_000), a[3])
        self.send(f.redeem(500_000), a[3])
        for i in range(4):
            self.send(f.transfer(a[5 + i % 2], 1_000 + i), a[4])

    def reorg(self, depth: int) -> None:
        """The last `depth` blocks replaced by blocks each minting to another holder."""
        txs = [[{"from": self.accounts[0], "to": self.token.address, "gas": 300_000,
                 "data": self.token.functions.mint(self.accounts[7], 77 + i)
                 ._encode_transaction_data()}, i] for i in range(depth)]
        self.anvil.rpc("anvil_reorg", [depth, txs])

    def config(self, token: str | None = None, start: int | None = None,
               **token_keys: str) -> str:
        """The [chains.arb] of this anvil and its token (the XautLike as kind erc20 unless told
        otherwise: `token`, `start` and more keys, e.g. kind and oft)."""
        keys = {"kind": "erc20", **token_keys}
        return f"""
[chains.arb]
id = {SIDE_ID}
confirmations = 0
[chains.arb.rpc]
url = "{self.anvil.url}"

[tokens.XAUt0]
chain = "arb"
address = "{token or self.token.address}"
start_block = {self.start if start is None else start}
""" + "".join(f'{k} = "{v}"\n' for k, v in keys.items())


@pytest.fixture
def side():
    node = SideChain()
    yield node
    node.anvil.stop()


def rows_of(dump: dict, chain_id: int) -> dict:
    return {name: [r for r in rows if r[0] == chain_id] for name, rows in dump.items()}


def two_chains(chain, side, tmp_path, database_url, name="two.toml", **sync) -> str:
    path = tmp_path / name
    path.write_text(chain.config_toml(database_url, **sync) + side.config())
    return str(path)


def test_one_sync_indexes_every_chain_and_each_verifies(chain, side, tmp_path, database_url):
    chain.script_history()
    side.history()
    path = two_chains(chain, side, tmp_path, database_url)
    result = run_cli("--config", path, "sync", "--once")
    assert result.exit_code == 0, result.output
    assert "arb: done:" in result.output and "chain31337: done:" in result.output
    with psycopg.connect(database_url) as conn:
        per_chain = conn.execute("SELECT chain_id, token, count(*) FROM logs GROUP BY 1, 2 "
                                 "ORDER BY 1, 2").fetchall()
        assert [(c, t) for c, t, _ in per_chain] == [(31337, "PAXG"), (31337, "XAUT"),
                                                     (SIDE_ID, "XAUt0")]
        supply = conn.execute("SELECT supply FROM supply_daily WHERE chain_id = %s "
                              "ORDER BY day DESC LIMIT 1", (SIDE_ID,)).fetchone()[0]
        assert supply == side.token.functions.totalSupply().call() == 8_500_000
        assert conn.execute("SELECT decimals FROM tokens WHERE chain_id = %s",
                            (SIDE_ID,)).fetchone() == (6,)
    for name in ("arb", "chain31337"):
        result = run_cli("--config", path, "verify", "--chain", name)
        assert result.exit_code == 0, (name, result.output)
    result = run_cli("--config", path, "status", "--json")
    report = json.loads(result.output)
    assert [(c["chain"], c["chain_id"], [t["token"] for t in c["tokens"]])
            for c in report["chains"]] == [("chain31337", 31337, ["PAXG", "XAUT"]),
                                           ("arb", SIDE_ID, ["XAUt0"])]
    result = run_cli("--config", path, "status", "--chain", "arb")
    assert result.output.splitlines()[0].startswith(f"arb (chain {SIDE_ID}): head ")
    # export and report: one chain's rows, or every chain's
    result = run_cli("--config", path, "export", "supply_daily", "--chain", "arb")
    assert result.exit_code == 0, result.output
    rows = result.output.splitlines()[1:]
    assert rows and all(r.startswith(f"{SIDE_ID},XAUt0,") for r in rows), rows
    result = run_cli("--config", path, "export", "supply_daily", "--token", "xaut0")
    assert result.exit_code == 0 and result.output.splitlines()[1].startswith(f"{SIDE_ID},XAUt0,")
    result = run_cli("--config", path, "export", "supply_daily", "--chain", "arb", "--token",
                     "PAXG")
    assert result.exit_code == 2 and "unknown token 'PAXG': this database has XAUt0 on chain " \
        f"{SIDE_ID}" in result.output, result.output
    page = tmp_path / "arb.html"
    result = run_cli("--config", path, "report", "--chain", "arb", "-o", str(page))
    assert result.exit_code == 0, result.output
    assert "XAUt0" in page.read_text() and "PAXG" not in page.read_text()


def test_a_chain_that_fails_stops_the_sync_naming_it(chain, side, tmp_path, database_url):
    path = tmp_path / "bad.toml"
    path.write_text(chain.config_toml(database_url) + side.config().replace(
        f"id = {SIDE_ID}", "id = 10"))  # the node serves 42161
    result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1].startswith(
        f"Error: chain arb: RPC endpoint {side.anvil.url} serves chain id {SIDE_ID}, but the "
        "config says 10"), result.output


def test_a_reorg_on_one_chain_rolls_back_that_chain_only(chain, side, tmp_path, database_url,
                                                         database_factory):
    chain.script_history()
    side.history()
    path = two_chains(chain, side, tmp_path, database_url)
    sync_once(path)
    main_before = rows_of(dump_tables(database_url), 31337)
    side.reorg(3)
    result = run_cli("--config", path, "sync", "--once")
    assert result.exit_code == 0, result.output
    assert "reorg: blocks" in result.output
    after = dump_tables(database_url)
    assert rows_of(after, 31337) == main_before
    fresh_url = database_factory()
    sync_once(two_chains(chain, side, tmp_path, fresh_url, "fresh.toml"))
    assert rows_of(after, SIDE_ID) == rows_of(dump_tables(fresh_url), SIDE_ID)


def test_two_processes_of_two_chains_write_at_once(chain, side, tmp_path, database_url,
                                                   database_factory):
    chain.script_history()
    side.history()
    path = two_chains(chain, side, tmp_path, database_url)
    procs = [subprocess.Popen([sys.executable, "-m", "indexer", "--config", path, "sync",
                               "--chain", name], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
             for name in ("chain31337", "arb")]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both daemons caught up with their heads
            with psycopg.connect(database_url) as conn:
                done = conn.execute(
                    "SELECT count(*) FROM checkpoints c JOIN tokens t USING (chain_id) "
                    "WHERE c.token = t.symbol AND c.block_number >= 0").fetchone()[0]
            if done == 3 and all(p.poll() is None for p in procs):
                break
            time.sleep(0.3)
        # Each chain's writer lock is its own: a second writer of one chain is refused.
        again = run_cli("--config", path, "sync", "--once", "--chain", "arb")
        assert again.exit_code == 1 and "already writing chain 42161" in again.output, again.output
    finally:
        for p in procs:
            p.terminate()
        outputs = [p.communicate(timeout=30)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    time.sleep(0.2)
    fresh_url = database_factory()
    sync_once(two_chains(chain, side, tmp_path, fresh_url, "fresh.toml"))
    assert dump_tables(database_url) == dump_tables(fresh_url)


def tokenized(database_url) -> dict:
    """tokenized_gold_daily's last day: ounces by (chain_id, token)."""
    with psycopg.connect(database_url) as conn:
        return {(c, t): o for c, t, o in conn.execute(
            "SELECT chain_id, token, ounces FROM tokenized_gold_daily "
            "WHERE day = (SELECT max(day) FROM tokenized_gold_daily)").fetchall()}


def test_a_bridge_out_and_in_moves_gold_between_chains_and_keeps_the_total(
        chain, side, tmp_path, database_url):
    """XAUT locked in an OFT adapter on the first chain (OFTSent), XAUt0 minted on the second
    by its OFT contract (OFTReceived), then part of it bridged back: both chains' rows carry the
    bridge's events with one guid each way, and XAUt0's indexed supply equals the XAUT indexed as
    locked in the adapter (the bridged ounces a cross-chain total must count once)."""
    user = chain.users[0]
    chain.script_history()
    chain.send(chain.xaut.functions.mint(user, 10_000_000), chain.deployer)
    adapter = deploy(chain.w3, "OftAdapterLike", chain.deployer, chain.xaut.address)
    xaut0 = deploy(side.w3, "OftTokenLike", side.accounts[0])
    minter = deploy(side.w3, "OftMinterLike", side.accounts[0], xaut0.address)
    side.send(xaut0.functions.setOft(minter.address), side.accounts[0])
    xaut0_start = side.w3.eth.block_number - 2
    path = tmp_path / "bridge.toml"
    path.write_text(chain.config_toml(database_url).replace(
        "[tokens.XAUT]\n", f'[tokens.XAUT]\noft = "{adapter.address}"\n')
        + side.config(xaut0.address, xaut0_start, kind="oft", oft=minter.address))
    result = run_cli("--config", str(path), "label", "add", adapter.address, "OFT adapter",
                     "--kind", "bridge")
    assert result.exit_code == 0, result.output
    sync_once(path)
    before = tokenized(database_url)
    assert set(before) == {(31337, "PAXG"), (31337, "XAUT")}

    chain.send(chain.xaut.functions.approve(adapter.address, 4_000_000), user)
    chain.send(adapter.functions.send(30110, 4_000_000), user)
    [sent] = adapter.events.OFTSent().get_logs(from_block=0)
    side.send(minter.functions.deliver(sent.args.guid, 30101, side.accounts[3], 4_000_000),
              side.accounts[0])
    side.send(xaut0.functions.transfer(side.accounts[4], 1_000_000), side.accounts[3])
    side.send(minter.functions.send(30101, 1_500_000), side.accounts[3])
    [back] = minter.events.OFTSent().get_logs(from_block=0)
    chain.send(adapter.functions.deliver(back.args.guid, 30110, user, 1_500_000), chain.deployer)
    sync_once(path)
    locked = chain.xaut.functions.balanceOf(adapter.address).call()
    assert locked == xaut0.functions.totalSupply().call() == 2_500_000
    with psycopg.connect(database_url) as conn:
        bridge = conn.execute(
            "SELECT chain_id, token, event, from_address, to_address, amount, args->>'guid' "
            "FROM logs WHERE event LIKE 'OFT%' ORDER BY chain_id, block_number").fetchall()
        guid_out, guid_back = "0x" + sent.args.guid.hex(), "0x" + back.args.guid.hex()
        assert bridge == [
            (31337, "XAUT", "OFTSent", user.lower(), None, 4_000_000, guid_out),
            (31337, "XAUT", "OFTReceived", None, user.lower(), 1_500_000, guid_back),
            (SIDE_ID, "XAUt0", "OFTReceived", None, side.accounts[3].lower(), 4_000_000, guid_out),
            (SIDE_ID, "XAUt0", "OFTSent", side.accounts[3].lower(), None, 1_500_000, guid_back),
        ]
        latest = {row[0]: row[1:] for row in conn.execute(
            "SELECT DISTINCT ON (token) token, supply, bridged_units FROM supply_daily "
            "ORDER BY token, day DESC")}
    xaut_supply, xaut_bridged = latest["XAUT"]
    xaut0_supply, _ = latest["XAUt0"]
    # Each chain's index agrees with its own chain: XAUT's supply, the XAUT locked (bridged),
    # and XAUt0's supply, which is that same gold.
    assert xaut_supply == chain.xaut.functions.totalSupply().call()
    assert xaut_bridged * 10**6 == locked == xaut0_supply
    # tokenized_gold_daily counts the bridged ounces once, on the chain where XAUt0 holds them:
    # the total is what it was before the bridge, the split has moved.
    after = tokenized(database_url)
    assert after[(31337, "XAUT")] == before[(31337, "XAUT")] - Decimal("2.5")
    assert after[(SIDE_ID, "XAUt0")] == Decimal("2.5")
    assert after[(31337, "PAXG")] == before[(31337, "PAXG")]
    assert sum(after.values()) == sum(before.values())
    for name in ("arb", "chain31337"):
        assert run_cli("--config", str(path), "verify", "--chain", name).exit_code == 0
    # Without the second chain's index the locked XAUT is still counted once: 'elsewhere'.
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM logs WHERE chain_id = %s", (SIDE_ID,))
        conn.execute("DELETE FROM daily_stats WHERE chain_id = %s", (SIDE_ID,))
        conn.execute("DELETE FROM tokens WHERE chain_id = %s", (SIDE_ID,))
    elsewhere = tokenized(database_url)
    assert elsewhere[(None, None)] == Decimal("2.5")
    assert sum(elsewhere.values()) == sum(before.values())

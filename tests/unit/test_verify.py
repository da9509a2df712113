"""verify_token's requests: one eth_call for totalSupply and one batch per 100 holders, each
check beside the database's figure (the database stood in for by the store functions)."""

from __future__ import annotations

from indexer import store
from indexer.tokens import MAINNET_TOKENS
from indexer.verify import Check, verify_token
from tests.unit.test_contracts import Contract, client, erc20, holder

PAXG = MAINNET_TOKENS["PAXG"]


def test_verify_token_asks_total_supply_then_one_batch_per_hundred_holders(monkeypatch):
    holders = [holder(i) for i in range(201)]
    monkeypatch.setattr(store, "indexed_supply", lambda conn, chain, token, block: 10**21 + block)
    monkeypatch.setattr(store, "pick_holders", lambda *args: holders)
    monkeypatch.setattr(store, "indexed_balances", lambda conn, chain, token, block, addresses:
                        {a: int(a, 16) * 1000 for a in addresses} | {holders[7]: 1})
    node = Contract(erc20)
    rpc, _ = client(node)
    checks = verify_token(None, rpc, 1, PAXG, 0x1234, top=150, sample=51)
    assert node.shapes() == ["single", 100, 100, "single"]  # a batch of one: a plain request
    assert {(c[1], c[3]) for c in node.calls()} == {(PAXG.address, "0x1234")}
    assert checks[0] == Check("PAXG", "totalSupply", 10**21 + 0x1234, 10**21 + 0x1234)
    assert [c.what for c in checks[1:]] == holders
    assert [c for c in checks if not c.ok] == [Check("PAXG", holders[7], 1, 8000)]


def test_verify_token_also_checks_the_addresses_it_is_given(monkeypatch):
    picked = [holder(i) for i in range(3)]
    monkeypatch.setattr(store, "indexed_supply", lambda *args: 10**21)
    monkeypatch.setattr(store, "pick_holders", lambda *args: list(picked))
    monkeypatch.setattr(store, "indexed_balances", lambda conn, chain, token, block, addresses:
                        {a: int(a, 16) * 1000 for a in addresses})
    rpc, _ = client(Contract(erc20))
    checks = verify_token(None, rpc, 1, PAXG, 7, top=2, sample=1,
                          also=[holder(9), holder(1), holder(9)])
    assert [c.what for c in checks[1:]] == picked + [holder(9)]  # once each, after the picked

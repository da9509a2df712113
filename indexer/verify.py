"""Compare indexed supply and balances with the chain (eth_call at one block)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import decode

from indexer import store
from indexer.rpc import RpcClient
from indexer.tokens import Token

TOTAL_SUPPLY = "0x18160ddd"  # totalSupply()
BALANCE_OF = "0x70a08231"  # balanceOf(address)


@dataclass(frozen=True, slots=True)
class Check:
    token: str
    what: str  # "totalSupply" or an address
    indexed: int
    chain: int

    @property
    def ok(self) -> bool:
        return self.indexed == self.chain


def _uint(raw: bytes) -> int:
    return decode(["uint256"], raw)[0]


def verify_token(conn, rpc: RpcClient, chain_id: int, token: Token, block: int, *,
                 top: int, sample: int, seed: float = 0.42) -> list[Check]:
    checks = [Check(token.symbol, "totalSupply",
                    store.indexed_supply(conn, chain_id, token.symbol, block),
                    _uint(rpc.call(token.address, TOTAL_SUPPLY, block)))]
    holders = store.pick_holders(conn, chain_id, token.symbol, top, sample, seed)
    indexed = store.indexed_balances(conn, chain_id, token.symbol, block, holders)
    calls = [("eth_call", [{"to": token.address, "data": BALANCE_OF + "00" * 12 + h[2:]}, hex(block)])
             for h in holders]
    for start in range(0, len(calls), 100):
        results = rpc.batch(calls[start:start + 100])
        for holder, result in zip(holders[start:start + 100], results):
            checks.append(Check(token.symbol, holder, indexed[holder], _uint(bytes.fromhex(result[2:]))))
    return checks

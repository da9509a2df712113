"""Compare indexed supply and balances with the chain (totalSupply and balanceOf at one block)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from indexer import store
from indexer.contracts import Contracts
from indexer.rpc import RpcClient
from indexer.tokens import Token


@dataclass(frozen=True, slots=True)
class Check:
    token: str
    what: str  # "totalSupply" or an address
    indexed: int
    chain: int

    @property
    def ok(self) -> bool:
        return self.indexed == self.chain


def verify_token(conn, rpc: RpcClient, chain_id: int, token: Token, block: int, *,
                 top: int, sample: int, seed: float = 0.42,
                 also: Sequence[str] = ()) -> list[Check]:
    """totalSupply (one eth_call) and the balances of the `top` largest holders, `sample`
    others and the addresses `also` names (one batch per 100) at `block`, each beside what the
    database says."""
    contracts = Contracts(rpc)
    checks = [Check(token.symbol, "totalSupply",
                    store.indexed_supply(conn, chain_id, token.symbol, block),
                    contracts.total_supply(token.address, block))]
    holders = store.pick_holders(conn, chain_id, token.symbol, top, sample, seed)
    holders += [a for a in dict.fromkeys(also) if a not in holders]
    indexed = store.indexed_balances(conn, chain_id, token.symbol, block, holders)
    on_chain = contracts.balances_of(token.address, holders, block)
    checks += [Check(token.symbol, holder, indexed[holder], balance)
               for holder, balance in zip(holders, on_chain)]
    return checks

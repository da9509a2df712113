"""What a token's proxy delegates to, read from the chain: the implementation live at a block,
and whether an implementation emits PAXG V1's fee legs.

PAXG V1 emits a fee-leg Transfer after every transfer; PAXG V2 (PaxosTokenV2-based) emits one
Transfer per transfer and has no fee at all. The decoder pairs legs only while the live
implementation is one with fees, and learns which it is here: V1 has `feeRate()`, V2 has no
such function. The question is put to the implementation contract itself (its own code, at
the latest block), so it needs no archive node and costs one eth_call per implementation.
"""

from __future__ import annotations

import logging

from indexer.contracts import Contracts
from indexer.errors import IndexerError
from indexer.rpc import RpcClient
from indexer.tokens import Token

log = logging.getLogger(__name__)


def read_implementation(rpc: RpcClient, token: Token, block: int) -> str | None:
    """The implementation in `token`'s proxy slot at `block`; None when it cannot be known:
    the token is no proxy we read, the slot is empty at that block (the proxy came later), or
    the node no longer has that block's state (only an archive node keeps it)."""
    if token.implementation_slot is None:
        return None
    try:
        word = rpc.fetch_storage_at(token.address, token.implementation_slot, block)
    except IndexerError as exc:
        log.info("%s: the proxy's implementation at block %d cannot be read (%s)",
                 token.symbol, block, str(exc)[:200])
        return None
    address = "0x" + word[-40:].lower()
    return None if int(address, 16) == 0 else address


def implementation_at_start(rpc: RpcClient, token: Token) -> str | None:
    """The implementation in `token`'s proxy at its first block (read_implementation); when it
    cannot be known, the log says what the decoder assumes meanwhile."""
    found = read_implementation(rpc, token, token.start_block)
    if found is None:
        log.warning("%s: the proxy's implementation at block %d is unknown (reading it needs an "
                    "archive node); fee legs are paired, as under PAXG V1, until an Upgraded log "
                    "names another", token.symbol, token.start_block)
    return found


def fee_legs_live(rpc: RpcClient, implementation: str | None, known: dict[str, bool]) -> bool:
    """Whether `implementation` (live in a fee-legs token's proxy) emits fee legs; an unknown
    one (None) is taken to, as PAXG V1. `known` holds the answers by address and gains this one
    (the decoder's DecodeState.implementation_fee_legs)."""
    if implementation is None:
        return True
    if implementation not in known:
        known[implementation] = emits_fee_legs(rpc, implementation)
    return known[implementation]


def emits_fee_legs(rpc: RpcClient, implementation: str) -> bool:
    """Whether `implementation` is one with PAXG V1's fees (and fee legs): it answers
    feeRate(). A revert (no such function) or no code at all means no fee legs."""
    fee_legs = Contracts(rpc).has_fee_rate(implementation)
    log.info("implementation %s %s", implementation,
             "has feeRate(): transfers carry fee legs" if fee_legs
             else "has no feeRate(): one Transfer per transfer, no fee legs")
    return fee_legs

"""Typed contract reads: ERC-20 supply, balances and decimals, PAXG V1's feeRate(), Chainlink
feed proxies' phases. web3's contract interface over the indexer's own RpcClient
(indexer/rpc/web3provider.py), so these calls are paced, retried and failed over like the rest.

The ABIs are data, in indexer/abi/*.json: only the functions read here. Addresses go in and
come out as lowercase 0x strings, as the indexer stores them; web3 sees checksummed ones.

Every read is one request: a single eth_call, or one JSON-RPC batch for several (the client
may still cut a batch that is over the endpoint's cap or the budget). A call that reverts
raises `RpcError` with the node's text; an answer that is not what the ABI says (an empty
answer: no contract at that address, or not yet at that block) raises `UndecodableAnswer`.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any, Sequence

from web3.contract.contract import ContractFunction
from web3.exceptions import BadFunctionCallOutput

from indexer.errors import ConfigError, RpcError
from indexer.rpc import RpcClient
from indexer.rpc.web3provider import make_web3
from indexer.tokens import Token

ABI_DIR = Path(__file__).resolve().parent / "abi"
# balanceOf calls per JSON-RPC batch: what verify has always sent, under every provider's cap
# but the public endpoints' (the client cuts a batch those refuse).
BALANCES_PER_BATCH = 100

Block = int | str  # a block number or a tag ("latest", "safe", "finalized")


class UndecodableAnswer(RpcError):
    """A call answered bytes its ABI cannot decode: most often none at all, because there is
    no contract at that address (or not yet at that block). Check the address and the block."""


@cache
def load_abi(name: str) -> tuple[dict, ...]:
    """indexer/abi/<name>.json: the functions of a contract that the indexer reads."""
    return tuple(json.loads((ABI_DIR / f"{name}.json").read_text()))


def _reverted(exc: RpcError) -> bool:
    # Nodes word it "execution reverted", "execution reverted: <reason>", "VM Exception while
    # processing transaction: revert": the word is what they share.
    return "revert" in str(exc).lower()


class Contracts:
    """Reads through `rpc`; one per RpcClient (and so one per thread)."""

    def __init__(self, rpc: RpcClient):
        self.rpc = rpc
        self.w3 = make_web3(rpc)
        self._factories: dict[str, Any] = {}

    def _functions(self, address: str, abi: str):
        factory = self._factories.get(abi)
        if factory is None:
            factory = self._factories[abi] = self.w3.eth.contract(abi=list(load_abi(abi)))
        return factory(address=self.w3.to_checksum_address(address)).functions

    def _read(self, calls: Sequence[ContractFunction], block: Block) -> list[Any]:
        """The decoded results of `calls` at `block`, in order, from one request. Sent through
        web3's batch interface even when there is one call: web3's plain .call() follows an
        empty answer with an eth_getCode to word its error, a request nobody asked for."""
        try:
            with self.w3.batch_requests() as batch:
                for fn in calls:
                    batch.add(fn.call(block_identifier=block))
                return batch.execute()
        except BadFunctionCallOutput as exc:
            raise UndecodableAnswer(
                f"{calls[0].address.lower()} at block {block}: {exc}; is there a contract with "
                "that function at that address and block?") from None

    # -- ERC-20 ------------------------------------------------------------------------------

    def total_supply(self, token: str, block: Block = "latest") -> int:
        [supply] = self._read([self._functions(token, "erc20").totalSupply()], block)
        return supply

    def balances_of(self, token: str, holders: Sequence[str], block: Block = "latest") -> list[int]:
        """balanceOf(holder) for each of `holders`, in order: one batch per 100 holders."""
        return self.supply_and_balances(token, holders, block, supply=False)[1]

    def supplies_and_balances(self, reads: dict[str, Sequence[str]], block: Block,
                              supply: bool = True) -> dict[str, tuple[int | None, list[int]]]:
        """Per token address: (totalSupply() (unless `supply` is False: None),
        [balanceOf(holder) for its holders]) at `block`, every token's calls together in
        batches of 100 (an audit's few in one request)."""
        calls = []
        for token, holders in reads.items():
            erc20 = self._functions(token, "erc20")
            if supply:
                calls.append(erc20.totalSupply())
            calls += [erc20.balanceOf(self.w3.to_checksum_address(h)) for h in holders]
        out: list[int] = []
        for start in range(0, len(calls), BALANCES_PER_BATCH):
            out += self._read(calls[start:start + BALANCES_PER_BATCH], block)
        results = iter(out)
        return {token: (next(results) if supply else None, [next(results) for _ in holders])
                for token, holders in reads.items()}

    def supply_and_balances(self, token: str, holders: Sequence[str], block: Block,
                            supply: bool = True) -> tuple[int | None, list[int]]:
        """supplies_and_balances of one token (a step of the repair's bisection)."""
        return self.supplies_and_balances({token: holders}, block, supply)[token]

    def decimals(self, token: str) -> int:
        [decimals] = self._read([self._functions(token, "erc20").decimals()], "latest")
        return decimals

    def with_decimals(self, tokens: Sequence[Token]) -> tuple[Token, ...]:
        """`tokens`, each enabled one with its decimals: those the configuration left out (a
        token it adds) read from the contract, one request per token."""
        out = []
        for token in tokens:
            if token.decimals is None and token.enabled:
                try:
                    token = dataclasses.replace(token, decimals=self.decimals(token.address))
                except RpcError as exc:
                    raise ConfigError(
                        f"tokens.{token.symbol}: decimals() of {token.address} did not answer "
                        f"({exc}); set tokens.{token.symbol}.decimals") from None
            out.append(token)
        return tuple(out)

    # -- PAXG V1 -----------------------------------------------------------------------------

    def has_fee_rate(self, implementation: str) -> bool:
        """Whether `implementation` answers PAXG V1's feeRate() with a uint (asked of its own
        code, at the latest block: no archive node needed). A revert (no such function) or no
        answer at all (no code there) means no."""
        try:
            self._read([self._functions(implementation, "paxg_v1").feeRate()], "latest")
        except UndecodableAnswer:
            return False
        except RpcError as exc:
            if not _reverted(exc):
                raise
            return False
        return True

    # -- Chainlink feeds ---------------------------------------------------------------------

    def feed_phases(self, proxy: str, block: Block = "latest") -> tuple[int, dict[int, str]]:
        """A feed proxy's current phase id and the aggregator of every phase up to it
        ({phase: address}, zero addresses left out): phaseId(), then phaseAggregators(i) for
        i in 1..phaseId in one batch. Both may land on different blocks when `block` is a tag;
        that is harmless, as a phase's aggregator never changes once the proxy has moved on."""
        feed = self._functions(proxy, "chainlink_aggregator_proxy")
        [phase_id] = self._read([feed.phaseId()], block)
        if phase_id == 0:
            return 0, {}
        found = self._read([feed.phaseAggregators(i) for i in range(1, phase_id + 1)], block)
        return phase_id, {i: a.lower() for i, a in enumerate(found, 1) if int(a, 16) != 0}

    def feed_decimals(self, proxy: str) -> int:
        """The decimals of a feed's answers (the current aggregator's, through the proxy)."""
        [decimals] = self._read([self._functions(proxy, "chainlink_aggregator_proxy").decimals()],
                                "latest")
        return decimals

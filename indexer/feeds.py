"""The price feed registry: Chainlink's XAU/USD and PAXG/USD on Ethereum, and what their logs are.

A feed is a proxy (the address users read) in front of one aggregator per phase. The proxy
emits no log per round; each aggregator emits
`AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt)` for its
rounds. The proxy's round id is `phaseId << 64 | the aggregator's round id`. The sync reads
the proxy's phases with eth_call (indexer/sync/feeds.py) and adds each aggregator to the
tokens' eth_getLogs filter as one more log source, with a checkpoint of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.tokens import MAINNET_CHAIN_ID, EventSpec

# keccak256("AnswerUpdated(int256,uint256,uint256)"); tests/unit/test_tokens.py recomputes it.
ANSWER_UPDATED = EventSpec("AnswerUpdated", "AnswerUpdated(int256,uint256,uint256)",
                           "0x0559884fd3a460db3073b7fc896cc77986f16e378210ded43186175bf646fc5f")

# Feed name → proxy on Ethereum mainnet (data.chain.link; ../shared/FACTS.md). 8 decimals each,
# read from the proxy all the same. XAU/USD: gold in USD per troy ounce; PAXG/USD: the market
# price of one PAXG token, so its premium or discount to gold can be seen.
XAU_USD = "XAU/USD"
PAXG_USD = "PAXG/USD"
MAINNET_FEEDS: dict[str, str] = {
    XAU_USD: "0x214ed9da11d2fbe465a6fc601a91e62ebec1a0d6",
    PAXG_USD: "0x9944d86ceb9160af5c5feb251fd671923323f8c3",
}
DEFAULT_FEEDS: dict[int, dict[str, str]] = {MAINNET_CHAIN_ID: MAINNET_FEEDS}


@dataclass(frozen=True, slots=True)
class Aggregator:
    """One phase's aggregator of a feed, as a log source of the sync: the same attributes the
    fetcher reads of a Token (symbol as its key, address, start_block, events)."""

    feed: str
    phase: int
    address: str  # lowercase 0x-hex
    start_block: int
    events: tuple[EventSpec, ...] = (ANSWER_UPDATED,)

    @property
    def symbol(self) -> str:
        """The key of its position in the sync: 'XAU/USD@3' (no token symbol has an '@')."""
        return f"{self.feed}@{self.phase}"

    @property
    def topics(self) -> dict[str, EventSpec]:
        return {e.topic0: e for e in self.events}


def round_id(phase: int, aggregator_round: int) -> int:
    """The proxy's round id of an aggregator's round."""
    return phase << 64 | aggregator_round

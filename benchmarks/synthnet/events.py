"""The contracts the synthetic chain knows: the two tokens (addresses, start blocks) and
Chainlink's XAU/USD and PAXG/USD feeds (proxies, phases and their aggregators), and every log
kind they emit with its topic0 and layout (../../../shared/FACTS.md).

The facts are restated here from FACTS.md, not imported from the indexer's registry: the
benchmark must not inherit a mistake of the code it measures. Topic0s are computed from the
canonical signatures.

A log is stored as a small record (kind, a, b, amount, extra); `KINDS[kind]` says which
contract emits it (its `source`: 0 PAXG, 1 XAUT, 2 on the aggregators in AGGREGATORS' order) and
how a, b and amount become topics and data.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak

PAXG_ADDRESS = "0x45804880de22913dafe09f4980848ece6ecbaf78"
XAUT_ADDRESS = "0x68749665ff8d2d112fa859aa293f07a622782f38"
PAXG_START = 8_426_430
XAUT_START = 13_524_498
TOKENS = ("PAXG", "XAUT")
TOKEN_ADDRESSES = (PAXG_ADDRESS, XAUT_ADDRESS)
DECIMALS = (18, 6)
XAUT_TREASURY = "0x5754284f345afc66a98fbb0a0afe71e0f007b949"
PAXG_FEE_RATE = 200  # parts per million until Paxos set it to zero (after April 2024)
FEE_PARTS = 1_000_000
FEE_ZERO_BLOCK = 19_780_000  # early May 2024: where our FeeRateSet(200, 0) sits

# Address ids with a fixed role; holders follow from FIRST_HOLDER on.
ZERO, PAXG_CONTRACT, XAUT_CONTRACT, SUPPLY_CONTROLLER, FEE_RECIPIENT, TREASURY, RELAYER, \
    PAXG_IMPL, XAUT_IMPL, XAUT_OWNER, XAUT_ADMIN, SPENDER, TRANSMITTER = range(13)
FIRST_HOLDER = 16
FIXED_ADDRESSES = {ZERO: "0x" + "00" * 20, PAXG_CONTRACT: PAXG_ADDRESS, XAUT_CONTRACT: XAUT_ADDRESS,
                   TREASURY: XAUT_TREASURY}


def topic0(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


# Layouts: which of a, b, amount (and extra) go to topics and data.
AB_AMOUNT = "ab_amount"      # topics [t0, a, b], data amount        (Transfer, FeeCollected, Approval)
A_AMOUNT = "a_amount"        # topics [t0, a], data amount           (SupplyIncreased, Mint, ...)
AMOUNT = "amount"            # topics [t0], data amount              (Redeem)
A = "a"                      # topics [t0, a], no data               (AddressFrozen, Upgraded on XAUT)
AB = "ab"                    # topics [t0, a, b], no data            (FeeRecipientSet, OwnershipTransferred)
NUMBERS = "numbers"          # topics [t0, word(a), word(b)]         (FeeRateSet: both values indexed)
DATA_A = "data_a"            # topics [t0], data address a           (Upgraded on PAXG's proxy)
DATA_AB = "data_ab"          # topics [t0], data addresses a, b      (AdminChanged)
BETA = "beta"                # topics [t0, a, b], data amount, seq, service fee
ANSWER = "answer"            # topics [t0, int256 amount, word(a)], data word(b)  (AnswerUpdated)
NEW_ROUND = "new_round"      # topics [t0, word(a), b], data word(amount)        (NewRound)


@dataclass(frozen=True, slots=True)
class Kind:
    code: int
    source: int  # the emitting contract: 0 PAXG, 1 XAUT, 2 + its index in AGGREGATORS
    name: str
    signature: str
    layout: str
    moves_balance: bool = False  # a Transfer: the only logs balances and supply come from

    @property
    def topic0(self) -> str:
        return topic0(self.signature)


_KINDS = (
    Kind(1, 0, "Transfer", "Transfer(address,address,uint256)", AB_AMOUNT, True),
    Kind(2, 0, "SupplyIncreased", "SupplyIncreased(address,uint256)", A_AMOUNT),
    Kind(3, 0, "SupplyDecreased", "SupplyDecreased(address,uint256)", A_AMOUNT),
    Kind(4, 0, "FeeCollected", "FeeCollected(address,address,uint256)", AB_AMOUNT),
    Kind(5, 0, "FeeRateSet", "FeeRateSet(uint256,uint256)", NUMBERS),
    Kind(6, 0, "FeeRecipientSet", "FeeRecipientSet(address,address)", AB),
    Kind(7, 0, "FrozenAddressWiped", "FrozenAddressWiped(address)", A),
    Kind(8, 0, "AddressFrozen", "AddressFrozen(address)", A),
    Kind(9, 0, "AddressUnfrozen", "AddressUnfrozen(address)", A),
    Kind(10, 0, "SupplyControllerSet", "SupplyControllerSet(address,address)", AB),
    Kind(11, 0, "BetaDelegatedTransfer",
         "BetaDelegatedTransfer(address,address,uint256,uint256,uint256)", BETA),
    Kind(12, 0, "Upgraded", "Upgraded(address)", DATA_A),
    Kind(20, 1, "Transfer", "Transfer(address,address,uint256)", AB_AMOUNT, True),
    Kind(21, 1, "Mint", "Mint(address,uint256)", A_AMOUNT),
    Kind(22, 1, "Redeem", "Redeem(uint256)", AMOUNT),
    Kind(23, 1, "DestroyedBlockedFunds", "DestroyedBlockedFunds(address,uint256)", A_AMOUNT),
    Kind(24, 1, "BlockPlaced", "BlockPlaced(address)", A),
    Kind(25, 1, "BlockReleased", "BlockReleased(address)", A),
    Kind(26, 1, "Upgraded", "Upgraded(address)", A),
    # Emitted on chain but not asked for by a scanner that filters on the events it stores:
    # they test that the node applies the topic filter (and providers count only matches).
    Kind(27, 1, "Approval", "Approval(address,address,uint256)", AB_AMOUNT),
    Kind(28, 1, "OwnershipTransferred", "OwnershipTransferred(address,address)", AB),
    Kind(29, 1, "AdminChanged", "AdminChanged(address,address)", DATA_AB),
)
# -- Chainlink's gold feeds ---------------------------------------------------------------------
#
# FACTS.md, "Gold prices on Ethereum (Chainlink)": the proxies, 8 decimals, heartbeat 24 h and
# deviation 0.3% (XAU/USD) / 0.5% (PAXG/USD); the proxy emits no per-round logs, each phase's
# aggregator emits AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256
# updatedAt) and NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt).
# XAU/USD's aggregator since August 2024 is 0x0e3dd634... (FACTS.md, medium confidence). The
# other aggregators' addresses and every phase-change block are ours (no source lists them):
# plausible dates (XAU/USD from mid 2020, an OCR migration in 2021, a change in late 2022, the
# August 2024 one; PAXG/USD from April 2021), addresses derived from a fixed text.


@dataclass(frozen=True, slots=True)
class Phase:
    aggregator: str  # lowercase 0x-hex
    block: int  # the proxy answers from this aggregator from this block on; its first round lands here


@dataclass(frozen=True, slots=True)
class Feed:
    name: str
    proxy: str  # lowercase 0x-hex
    description: str
    decimals: int
    heartbeat: int  # seconds
    deviation: float  # a round when the answer moves by this fraction
    phases: tuple[Phase, ...]  # phase i + 1 is phases[i]


def _made_up_aggregator(feed: str, phase: int) -> str:
    return "0x" + keccak(text=f"synthnet {feed} aggregator {phase}")[-20:].hex()


XAU_USD_PROXY = "0x214ed9da11d2fbe465a6fc601a91e62ebec1a0d6"
PAXG_USD_PROXY = "0x9944d86ceb9160af5c5feb251fd671923323f8c3"
XAU_USD_AGGREGATOR_2024 = "0x0e3dd634ffbf7ea89bbdcf09ccc463302fd5f903"
FEEDS = (
    Feed("XAU/USD", XAU_USD_PROXY, "XAU / USD", 8, 86_400, 0.003, (
        Phase(_made_up_aggregator("XAU/USD", 1), 10_600_000),   # 2020-08-05
        Phase(_made_up_aggregator("XAU/USD", 2), 12_382_000),   # 2021-05-07
        Phase(_made_up_aggregator("XAU/USD", 3), 16_200_000),   # 2022-12-17
        Phase(XAU_USD_AGGREGATOR_2024, 20_470_000),             # 2024-08-06
    )),
    Feed("PAXG/USD", PAXG_USD_PROXY, "PAXG / USD", 8, 86_400, 0.005, (
        Phase(_made_up_aggregator("PAXG/USD", 1), 12_150_000),  # 2021-04-01
        Phase(_made_up_aggregator("PAXG/USD", 2), 14_600_000),  # 2022-04-18
        Phase(_made_up_aggregator("PAXG/USD", 3), 19_000_000),  # 2024-01-13
    )),
)
FEED_NAMES = tuple(f.name for f in FEEDS)
FEED_PROXIES = tuple(f.proxy for f in FEEDS)


@dataclass(frozen=True, slots=True)
class AggregatorInfo:
    feed: int  # index in FEEDS
    phase: int  # 1-based, as the proxy numbers it
    address: str
    block: int
    answer_kind: int  # its AnswerUpdated kind code
    new_round_kind: int


AGGREGATOR_KIND_BASE = 40  # AnswerUpdated of aggregator j is 40 + 2j, its NewRound 41 + 2j
_PHASES = [(f, p + 1, ph) for f, feed in enumerate(FEEDS) for p, ph in enumerate(feed.phases)]
AGGREGATORS = tuple(AggregatorInfo(f, p, ph.aggregator, ph.block, AGGREGATOR_KIND_BASE + 2 * j,
                                   AGGREGATOR_KIND_BASE + 2 * j + 1)
                    for j, (f, p, ph) in enumerate(_PHASES))
AGGREGATOR_ADDRESSES = tuple(a.address for a in AGGREGATORS)
# Every contract that emits logs, by Kind.source.
SOURCE_ADDRESSES = TOKEN_ADDRESSES + AGGREGATOR_ADDRESSES

_KINDS += tuple(
    k for j, a in enumerate(AGGREGATORS) for k in (
        Kind(a.answer_kind, 2 + j, "AnswerUpdated", "AnswerUpdated(int256,uint256,uint256)", ANSWER),
        Kind(a.new_round_kind, 2 + j, "NewRound", "NewRound(uint256,address,uint256)", NEW_ROUND)))

KINDS: dict[int, Kind] = {k.code: k for k in _KINDS}
BY_NAME = {(k.source, k.name): k.code for k in _KINDS}
P_TRANSFER, P_SUPPLY_INCREASED, P_SUPPLY_DECREASED, P_FEE_COLLECTED, P_FEE_RATE_SET, \
    P_FEE_RECIPIENT_SET, P_FROZEN_WIPED, P_ADDRESS_FROZEN, P_ADDRESS_UNFROZEN, \
    P_SUPPLY_CONTROLLER_SET, P_BETA, P_UPGRADED = range(1, 13)
X_TRANSFER, X_MINT, X_REDEEM, X_DESTROYED, X_BLOCK_PLACED, X_BLOCK_RELEASED, X_UPGRADED, \
    X_APPROVAL, X_OWNERSHIP, X_ADMIN = range(20, 30)
TRANSFER_KINDS = (P_TRANSFER, X_TRANSFER)
# The events an ERC-20 scanner of these tokens stores (all but the three audit-only ones
# above); the expected counts per token are over these.
SCANNED = frozenset(k.code for k in _KINDS
                    if k.source < 2 and k.code not in (X_APPROVAL, X_OWNERSHIP, X_ADMIN))
# The aggregators' AnswerUpdated logs a price reader asks for (NewRound it must leave out).
PRICE_SCANNED = frozenset(a.answer_kind for a in AGGREGATORS)
AGGREGATOR_OF_KIND = {k: j for j, a in enumerate(AGGREGATORS) for k in (a.answer_kind, a.new_round_kind)}
# What the indexer's eth_getLogs filter asks for: both, in the same call (the floor is over these).
INDEXER_SCANNED = SCANNED | PRICE_SCANNED
TOPIC0 = {k.code: k.topic0 for k in _KINDS}

"""The token registry: the one place that holds the tokens' on-chain facts.

Addresses, decimals, start blocks and event topics of PAXG and XAUT on Ethereum mainnet, with
the source of each fact beside it (the tokens' verified sources and public indexer
configurations); README's "What is stored" says how each event is read. The config can override
address, start block, decimals and the enabled flag per token (devnets), but never the events:
those are what the contracts emit. It can add tokens of a known kind (`configured_token`).
"""

from __future__ import annotations

from dataclasses import dataclass

MAINNET_CHAIN_ID = 1
ZERO_ADDRESS = "0x" + "00" * 20

# Per chain id: (first block, seconds) from which every block sits in a slot of fixed length
# (Ethereum's proof of stake since the merge, block 15,537,394: 12 s). Between two blocks
# whose times are exactly that many slots apart no slot was missed, so every block between
# has a known time: a + 12 s per block.
FIXED_SLOTS: dict[int, tuple[int, int]] = {MAINNET_CHAIN_ID: (15_537_394, 12)}


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event the scanner asks for: its name, canonical signature and topic0."""

    name: str
    signature: str
    topic0: str


def _ev(name: str, signature: str, topic0: str) -> EventSpec:
    return EventSpec(name, signature, topic0)


# topic0 = keccak256(signature); tests/unit/test_tokens.py recomputes every one.
TRANSFER = _ev("Transfer", "Transfer(address,address,uint256)",
               "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
UPGRADED = _ev("Upgraded", "Upgraded(address)",
               "0xbc7cd75a20ee27fd9adebab32041f755214dbc6bffa90cc0225b39da2e5c2d3b")

SUPPLY_INCREASED = _ev("SupplyIncreased", "SupplyIncreased(address,uint256)",
                       "0xf5c174d57843e57fea3c649fdde37f015ef08750759cbee88060390566a98797")
SUPPLY_DECREASED = _ev("SupplyDecreased", "SupplyDecreased(address,uint256)",
                       "0x1b7e18241beced0d7f41fbab1ea8ed468732edbcb74ec4420151654ca71c8a63")
FEE_COLLECTED = _ev("FeeCollected", "FeeCollected(address,address,uint256)",
                    "0xf228de527fc1b9843baac03b9a04565473a263375950e63435d4138464386f46")
FEE_RATE_SET = _ev("FeeRateSet", "FeeRateSet(uint256,uint256)",
                   "0x959ec4191db1bd972bfbc60dc7d735d4cfb897ca3fd297f4ebd6ee918feb84d4")
FEE_RECIPIENT_SET = _ev("FeeRecipientSet", "FeeRecipientSet(address,address)",
                        "0x15d80a013f22151bc7246e3bc132e12828cde19de98870475e3fa70840152721")
FROZEN_ADDRESS_WIPED = _ev("FrozenAddressWiped", "FrozenAddressWiped(address)",
                           "0xfc5960f1c5a5d2b60f031bf534af053b1bf7d9881989afaeb8b1d164db23aede")
ADDRESS_FROZEN = _ev("AddressFrozen", "AddressFrozen(address)",
                     "0x90811a8edd3b3c17eeaefffc17f639cc69145d41a359c9843994dc2538203690")
ADDRESS_UNFROZEN = _ev("AddressUnfrozen", "AddressUnfrozen(address)",
                       "0xc3776b472ebf54114339eec9e4dc924e7ce307a97f5c1ee72b6d474e6e5e8b7c")
SUPPLY_CONTROLLER_SET = _ev("SupplyControllerSet", "SupplyControllerSet(address,address)",
                            "0x40d53b0b666e4424f29d55244e7e171a1dc332acc11d04ed4abd884629d8cc97")
BETA_DELEGATED_TRANSFER = _ev(
    "BetaDelegatedTransfer", "BetaDelegatedTransfer(address,address,uint256,uint256,uint256)",
    "0xe526c2818be85606ab8e0ea3f317c198ef15baabbb4430bcf2d836eed3c7769b")
FREEZE_ADDRESS = _ev("FreezeAddress", "FreezeAddress(address)",
                     "0x1aa660498c83ea285bc55e4cfc00afcaa7120798db87b74f3c0d7c6e001bc392")
UNFREEZE_ADDRESS = _ev("UnfreezeAddress", "UnfreezeAddress(address)",
                       "0x150465b020dfc06a59269da94ed66db9b65a516cf4fdd5f583b0f12752339bbe")

MINT = _ev("Mint", "Mint(address,uint256)",
           "0x0f6798a560793a54c3bcfe86a93cde1e73087d944c0ea20544137d4121396885")
REDEEM = _ev("Redeem", "Redeem(uint256)",
             "0x702d5967f45f6513a38ffc42d6ba9bf230bd40e8f53b16363c7eb4fd2deb9a44")
DESTROYED_BLOCKED_FUNDS = _ev("DestroyedBlockedFunds", "DestroyedBlockedFunds(address,uint256)",
                              "0x6a2859ae7902313752498feb80a014e6e7275fe964c79aa965db815db1c7f1e9")
BLOCK_PLACED = _ev("BlockPlaced", "BlockPlaced(address)",
                   "0x406bbf2d8d145125adf1198d2cf8a67c66cc4bb0ab01c37dccd4f7c0aae1e7c7")
BLOCK_RELEASED = _ev("BlockReleased", "BlockReleased(address)",
                     "0x665918c9e02eb2fd85acca3969cb054fc84c138e60ec4af22ab6ef2fd4c93c27")

# LayerZero OFT (XAUt0): emitted by a token's OFT contract (the adapter that locks XAUT on
# Ethereum, the mint-and-burn OFT beside XAUt0 on its chains), not by the token itself.
OFT_SENT = _ev("OFTSent", "OFTSent(bytes32,uint32,address,uint256,uint256)",
               "0x85496b760a4b7f8d66384b9df21b381f5d1b1e79f229a47aaf4c232edc2fe59a")
OFT_RECEIVED = _ev("OFTReceived", "OFTReceived(bytes32,uint32,address,uint256)",
                   "0xefed6d3500546b29533b128a29e3a94d70788727f0507505ac12eaf2e578fd9c")
OFT_EVENTS = (OFT_SENT, OFT_RECEIVED)

# Approval is left out on purpose: it is the busiest event after Transfer and moves no balance.
PAXG_EVENTS = (
    TRANSFER, SUPPLY_INCREASED, SUPPLY_DECREASED, FEE_COLLECTED, FEE_RATE_SET, FEE_RECIPIENT_SET,
    FROZEN_ADDRESS_WIPED, ADDRESS_FROZEN, ADDRESS_UNFROZEN, SUPPLY_CONTROLLER_SET,
    BETA_DELEGATED_TRANSFER, FREEZE_ADDRESS, UNFREEZE_ADDRESS, UPGRADED,
)
XAUT_EVENTS = (
    TRANSFER, MINT, REDEEM, DESTROYED_BLOCKED_FUNDS, BLOCK_PLACED, BLOCK_RELEASED, UPGRADED,
)


@dataclass(frozen=True, slots=True)
class Token:
    """One indexed token. `address` is lowercase 0x-hex, as it appears in logs."""

    symbol: str
    name: str
    address: str
    decimals: int | None  # None: not known yet (a configured token's, read from the contract)
    start_block: int
    events: tuple[EventSpec, ...]
    enabled: bool = True
    # PAXG V1 emits a fee-leg Transfer after every transfer; an implementation the proxy is
    # upgraded to may not (indexer/proxies.py asks each one). False: the token never has them.
    fee_legs: bool = False
    # The proxy's storage slot holding its implementation address (None: not a proxy we read).
    implementation_slot: str | None = None
    # The name of the configured chain it lives on (None: not placed by a configuration yet).
    chain: str | None = None
    # Its LayerZero OFT contract (lowercase), whose OFTSent/OFTReceived are its bridge-outs and
    # bridge-ins (None: not bridged, or not read).
    oft: str | None = None
    # What it is (KINDS below): paxg, xaut, erc20 or oft.
    kind: str = "erc20"

    @property
    def topics(self) -> dict[str, EventSpec]:
        return {e.topic0: e for e in self.events}

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address whose logs are this token's: itself, and its OFT contract."""
        return (self.address,) if self.oft is None else (self.address, self.oft)

    def topics_at(self, address: str) -> dict[str, EventSpec]:
        """The events read at `address`: the OFT's at its OFT contract, the token's at itself."""
        return {e.topic0: e for e in OFT_EVENTS} if address == self.oft else self.topics


# keccak256("org.zeppelinos.proxy.implementation"): where PAXG's ZeppelinOS
# AdminUpgradeabilityProxy keeps its implementation (not EIP-1967's slot).
ZEPPELINOS_IMPLEMENTATION_SLOT = "0x7050c9e0f4ca769c69bd3a8ef740bc37934f8e2c036e5a723fd8ee048ed3f8c3"
# keccak256("eip1967.proxy.implementation") - 1: XAUT's EIP-1967 proxy.
EIP1967_IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc"

MAINNET_TOKENS: dict[str, Token] = {
    "PAXG": Token(
        symbol="PAXG",
        name="Paxos Gold",
        address="0x45804880de22913dafe09f4980848ece6ecbaf78",
        decimals=18,
        # Aug 2019, the proxy's deployment; taken from public indexer configs (medium confidence).
        start_block=8_426_430,
        events=PAXG_EVENTS,
        fee_legs=True,
        kind="paxg",
        implementation_slot=ZEPPELINOS_IMPLEMENTATION_SLOT,
    ),
    "XAUT": Token(
        symbol="XAUT",
        name="Tether Gold",
        address="0x68749665ff8d2d112fa859aa293f07a622782f38",
        decimals=6,
        # Oct 2021, the proxy's deployment; taken from public indexer configs (medium confidence).
        start_block=13_524_498,
        events=XAUT_EVENTS,
        implementation_slot=EIP1967_IMPLEMENTATION_SLOT,
        kind="xaut",
    ),
}

# What a configured token's kind means: the events read, whether transfers carry PAXG V1's fee
# legs, and the proxy slot its implementation sits in. `erc20` is any other gold token: its
# Transfer alone, mints from and burns to 0x0.
KINDS: dict[str, tuple[tuple[EventSpec, ...], bool, str | None]] = {
    "paxg": (PAXG_EVENTS, True, ZEPPELINOS_IMPLEMENTATION_SLOT),
    "xaut": (XAUT_EVENTS, False, EIP1967_IMPLEMENTATION_SLOT),
    "erc20": ((TRANSFER,), False, None),
    # XAUt0 on its chains: its Transfer (bridge-ins are mints from 0x0, bridge-outs burns to
    # it), and OFTSent/OFTReceived at its OFT contract (`oft`, required).
    "oft": ((TRANSFER,), False, None),
}
BUILT_IN_KINDS = {"PAXG": "paxg", "XAUT": "xaut"}


def configured_token(symbol: str, kind: str, address: str, start_block: int,
                     decimals: int | None, enabled: bool = True, oft: str | None = None) -> Token:
    """A token the configuration adds ([tokens.NAME] with a kind). decimals None: read from
    the contract (decimals()) before the sync stores anything."""
    events, fee_legs, slot = KINDS[kind]
    return Token(symbol=symbol, name=symbol, address=address, decimals=decimals,
                 start_block=start_block, events=events, enabled=enabled, fee_legs=fee_legs,
                 implementation_slot=slot, oft=oft, kind=kind)


# XAUT's first contract (Jan 2020, legacy USDT-style events), migrated to the current one. Not
# indexed by default, and its events have other layouts than kind xaut's.
XAUT_LEGACY_ADDRESS = "0x4922a015c4407f87432b179bb209e125432e4a2a"


def all_topics(tokens: list[Token] | tuple[Token, ...]) -> list[str]:
    """Every topic0 any of `tokens` needs, in a stable order, for one eth_getLogs filter."""
    seen: dict[str, None] = {}
    for token in tokens:
        for event in (*token.events, *(OFT_EVENTS if getattr(token, "oft", None) else ())):
            seen.setdefault(event.topic0)
    return list(seen)


def all_addresses(sources) -> list[str]:
    """Every address the log sources (tokens, price aggregators) are read at."""
    return [a for s in sources for a in getattr(s, "addresses", (s.address,))]

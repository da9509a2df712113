"""The token registry against the facts in FACTS.md (copied here so the test needs no other file)."""

from __future__ import annotations

import pytest
from eth_utils import event_signature_to_log_topic, keccak

from indexer import feeds, tokens
from indexer.tokens import MAINNET_TOKENS, PAXG_EVENTS, XAUT_EVENTS, EventSpec, all_topics

ALL_SPECS = sorted(
    {v for m in (tokens, feeds) for v in vars(m).values() if isinstance(v, EventSpec)},
    key=lambda e: e.name
)

# FACTS.md, both tables: (which token, event name, canonical signature, topic0).
# "proxy" events (Upgraded) are on both tokens' proxies.
FACTS_EVENTS = [
    ("both", "Transfer", "Transfer(address,address,uint256)",
     "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"),
    ("PAXG", "SupplyIncreased", "SupplyIncreased(address,uint256)",
     "0xf5c174d57843e57fea3c649fdde37f015ef08750759cbee88060390566a98797"),
    ("PAXG", "SupplyDecreased", "SupplyDecreased(address,uint256)",
     "0x1b7e18241beced0d7f41fbab1ea8ed468732edbcb74ec4420151654ca71c8a63"),
    ("PAXG", "FeeCollected", "FeeCollected(address,address,uint256)",
     "0xf228de527fc1b9843baac03b9a04565473a263375950e63435d4138464386f46"),
    ("PAXG", "FeeRateSet", "FeeRateSet(uint256,uint256)",
     "0x959ec4191db1bd972bfbc60dc7d735d4cfb897ca3fd297f4ebd6ee918feb84d4"),
    ("PAXG", "FrozenAddressWiped", "FrozenAddressWiped(address)",
     "0xfc5960f1c5a5d2b60f031bf534af053b1bf7d9881989afaeb8b1d164db23aede"),
    ("XAUT", "Mint", "Mint(address,uint256)",
     "0x0f6798a560793a54c3bcfe86a93cde1e73087d944c0ea20544137d4121396885"),
    ("XAUT", "Redeem", "Redeem(uint256)",
     "0x702d5967f45f6513a38ffc42d6ba9bf230bd40e8f53b16363c7eb4fd2deb9a44"),
    ("XAUT", "DestroyedBlockedFunds", "DestroyedBlockedFunds(address,uint256)",
     "0x6a2859ae7902313752498feb80a014e6e7275fe964c79aa965db815db1c7f1e9"),
    ("both", "Upgraded", "Upgraded(address)",
     "0xbc7cd75a20ee27fd9adebab32041f755214dbc6bffa90cc0225b39da2e5c2d3b"),
    ("PAXG", "AddressFrozen", "AddressFrozen(address)",
     "0x90811a8edd3b3c17eeaefffc17f639cc69145d41a359c9843994dc2538203690"),
    ("PAXG", "AddressUnfrozen", "AddressUnfrozen(address)",
     "0xc3776b472ebf54114339eec9e4dc924e7ce307a97f5c1ee72b6d474e6e5e8b7c"),
    ("PAXG", "SupplyControllerSet", "SupplyControllerSet(address,address)",
     "0x40d53b0b666e4424f29d55244e7e171a1dc332acc11d04ed4abd884629d8cc97"),
    ("PAXG", "FeeRecipientSet", "FeeRecipientSet(address,address)",
     "0x15d80a013f22151bc7246e3bc132e12828cde19de98870475e3fa70840152721"),
    ("PAXG", "BetaDelegatedTransfer",
     "BetaDelegatedTransfer(address,address,uint256,uint256,uint256)",
     "0xe526c2818be85606ab8e0ea3f317c198ef15baabbb4430bcf2d836eed3c7769b"),
    ("PAXG", "FreezeAddress", "FreezeAddress(address)",
     "0x1aa660498c83ea285bc55e4cfc00afcaa7120798db87b74f3c0d7c6e001bc392"),
    ("PAXG", "UnfreezeAddress", "UnfreezeAddress(address)",
     "0x150465b020dfc06a59269da94ed66db9b65a516cf4fdd5f583b0f12752339bbe"),
    ("XAUT", "BlockPlaced", "BlockPlaced(address)",
     "0x406bbf2d8d145125adf1198d2cf8a67c66cc4bb0ab01c37dccd4f7c0aae1e7c7"),
    ("XAUT", "BlockReleased", "BlockReleased(address)",
     "0x665918c9e02eb2fd85acca3969cb054fc84c138e60ec4af22ab6ef2fd4c93c27"),
]
APPROVAL_TOPIC = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"


def _symbols(which: str) -> list[str]:
    return ["PAXG", "XAUT"] if which == "both" else [which]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda e: e.name)
def test_every_event_topic0_is_keccak_of_its_signature(spec):
    assert spec.topic0 == "0x" + keccak(text=spec.signature).hex()
    assert spec.topic0 == "0x" + event_signature_to_log_topic(spec.signature).hex()


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda e: e.name)
def test_every_event_name_is_its_signature_prefix(spec):
    assert spec.signature.split("(")[0] == spec.name


@pytest.mark.parametrize("which,name,signature,topic0", FACTS_EVENTS, ids=lambda x: str(x)[:24])
def test_facts_topic0_is_registered_for_the_right_token(which, name, signature, topic0):
    assert "0x" + event_signature_to_log_topic(signature).hex() == topic0
    for symbol in _symbols(which):
        spec = MAINNET_TOKENS[symbol].topics[topic0]
        assert (spec.name, spec.signature) == (name, signature)


@pytest.mark.parametrize("which,name,signature,topic0",
                         [e for e in FACTS_EVENTS if e[0] != "both"], ids=lambda x: str(x)[:24])
def test_token_specific_topic0_is_not_registered_for_the_other_token(which, name, signature, topic0):
    other = "XAUT" if which == "PAXG" else "PAXG"
    assert topic0 not in MAINNET_TOKENS[other].topics


def test_each_token_registers_exactly_the_facts_events():
    for symbol in ("PAXG", "XAUT"):
        expected = {t0 for which, _, _, t0 in FACTS_EVENTS if symbol in _symbols(which)}
        assert set(MAINNET_TOKENS[symbol].topics) == expected


def test_approval_is_left_out_of_both_tokens():
    assert APPROVAL_TOPIC not in MAINNET_TOKENS["PAXG"].topics
    assert APPROVAL_TOPIC not in MAINNET_TOKENS["XAUT"].topics


def test_paxg_mainnet_facts():
    paxg = MAINNET_TOKENS["PAXG"]
    assert paxg.symbol == "PAXG"
    assert paxg.name == "Paxos Gold"
    assert paxg.address == "0x45804880De22913dAFE09f4980848ECE6EcbAf78".lower()
    assert paxg.decimals == 18
    assert paxg.start_block == 8_426_430
    assert paxg.enabled is True


def test_xaut_mainnet_facts():
    xaut = MAINNET_TOKENS["XAUT"]
    assert xaut.symbol == "XAUT"
    assert xaut.name == "Tether Gold"
    assert xaut.address == "0x68749665FF8D2d112Fa859AA293F07A622782F38".lower()
    assert xaut.decimals == 6
    assert xaut.start_block == 13_524_498
    assert xaut.enabled is True


def test_registry_holds_exactly_paxg_and_xaut_in_that_order():
    assert list(MAINNET_TOKENS) == ["PAXG", "XAUT"]
    assert tokens.MAINNET_CHAIN_ID == 1


def test_xaut_legacy_address_is_lowercase_and_not_indexed_by_default():
    assert tokens.XAUT_LEGACY_ADDRESS == "0x4922a015C4407F87432B179bb209e125432E4a2A".lower()
    assert tokens.XAUT_LEGACY_ADDRESS not in {t.address for t in MAINNET_TOKENS.values()}


def test_zero_address_is_forty_zero_digits():
    assert tokens.ZERO_ADDRESS == "0x0000000000000000000000000000000000000000"


def test_topics_property_maps_topic0_to_spec_in_event_order():
    paxg = MAINNET_TOKENS["PAXG"]
    assert list(paxg.topics.values()) == list(PAXG_EVENTS)


def test_all_topics_of_paxg_then_xaut_keeps_first_seen_order_without_duplicates():
    got = all_topics([MAINNET_TOKENS["PAXG"], MAINNET_TOKENS["XAUT"]])
    assert got == [e.topic0 for e in PAXG_EVENTS] + [
        tokens.MINT.topic0, tokens.REDEEM.topic0, tokens.DESTROYED_BLOCKED_FUNDS.topic0,
        tokens.BLOCK_PLACED.topic0, tokens.BLOCK_RELEASED.topic0,
    ]
    assert len(got) == len(set(got)) == 19


def test_all_topics_of_xaut_then_paxg_starts_with_xaut_events():
    got = all_topics((MAINNET_TOKENS["XAUT"], MAINNET_TOKENS["PAXG"]))
    assert got[:7] == [e.topic0 for e in XAUT_EVENTS]
    assert got[7:] == [
        e.topic0 for e in PAXG_EVENTS if e not in (tokens.TRANSFER, tokens.UPGRADED)
    ]


def test_all_topics_of_one_token_listed_twice_is_that_token_once():
    xaut = MAINNET_TOKENS["XAUT"]
    assert all_topics([xaut, xaut]) == [e.topic0 for e in XAUT_EVENTS]


def test_all_topics_of_no_tokens_is_empty():
    assert all_topics([]) == []


def test_proxy_implementation_slots_are_the_standards_hashes():
    zos = "0x" + keccak(text="org.zeppelinos.proxy.implementation").hex()
    eip1967 = hex(int.from_bytes(keccak(text="eip1967.proxy.implementation"), "big") - 1)
    assert MAINNET_TOKENS["PAXG"].implementation_slot == zos
    assert MAINNET_TOKENS["XAUT"].implementation_slot == eip1967


def test_only_paxg_has_fee_legs():
    assert MAINNET_TOKENS["PAXG"].fee_legs is True
    assert MAINNET_TOKENS["XAUT"].fee_legs is False

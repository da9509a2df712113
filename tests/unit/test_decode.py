"""Decoding raw eth_getLogs entries into `logs` rows, with PAXG fee legs and XAUT Redeem pairing.

Logs are built as the node sends them (hex strings); the log sequences follow FACTS.md,
"How each operation shows up in the logs".
"""

from __future__ import annotations

import json

import pytest

from indexer import tokens as T
from indexer.decode import (_RAW_SHAPE, LOG_COLUMNS, PRICE_COLUMNS, BadLog, DecodeState,
                            decode_logs, decode_prices, format_time, raw_fields,
                            upgraded_implementations)
from indexer.feeds import ANSWER_UPDATED, Aggregator
from indexer.tokens import MAINNET_TOKENS, ZERO_ADDRESS

PAXG = MAINNET_TOKENS["PAXG"]
XAUT = MAINNET_TOKENS["XAUT"]
BY_ADDRESS = {PAXG.address: PAXG, XAUT.address: XAUT}

ALICE = "0x1111111111111111111111111111111111111111"
BOB = "0x2222222222222222222222222222222222222222"
CAROL = "0x3333333333333333333333333333333333333333"
FEE_RECIPIENT = "0xfee0000000000000000000000000000000000fee"
NEW_FEE_RECIPIENT = "0xfee1111111111111111111111111111111111fee"
SUPPLY_CONTROLLER = "0x5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c"
RELAYER = "0x7777777777777777777777777777777777777777"
TREASURY = "0x5754284f345afc66a98fbb0a0afe71e0f007b949"
IMPL = "0xabcdefabcdefabcdefabcdefabcdefabcdefabcd"

BLOCK = 16_777_216
BLOCK_HASH = "0x" + "b1" * 32
TX = "0x" + "a1" * 32
TX2 = "0x" + "a2" * 32
TX3 = "0x" + "a3" * 32
TIME = format_time(1_700_000_000)
BLOCK_TIMES = {BLOCK - 1: format_time(1_699_999_988), BLOCK: TIME, BLOCK + 1: format_time(1_700_000_012)}

ONE_PAXG = 10**18
FEE = ONE_PAXG * 200 // 1_000_000  # feeRate 200 = 0.02%
PRINCIPAL = ONE_PAXG - FEE


def topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


def word(n: int) -> str:
    return f"{n:064x}"


def data(*values: int) -> str:
    return "0x" + "".join(word(v) for v in values)


def log(token, spec, topics, data_hex="0x", *, index, tx=TX, block=BLOCK, tx_index=3, **extra):
    entry = {
        "address": token.address,
        "topics": [spec.topic0, *topics],
        "data": data_hex,
        "blockNumber": hex(block),
        "blockHash": BLOCK_HASH,
        "logIndex": hex(index),
        "transactionHash": tx,
        "transactionIndex": hex(tx_index),
        "removed": False,
    }
    entry.update(extra)
    return entry


def transfer(token, frm, to, amount, *, index, tx=TX, block=BLOCK):
    return log(token, T.TRANSFER, [topic(frm), topic(to)], data(amount), index=index, tx=tx,
               block=block)


def fee_collected(frm, to, amount, *, index, tx=TX):
    return log(PAXG, T.FEE_COLLECTED, [topic(frm), topic(to)], data(amount), index=index, tx=tx)


def beta(frm, to, value, seq, service_fee, *, index, tx=TX):
    return log(PAXG, T.BETA_DELEGATED_TRANSFER, [topic(frm), topic(to)],
               data(value, seq, service_fee), index=index, tx=tx)


def decode(raw, state=None, first_block=None):
    return decode_logs(
        raw,
        chain_id=1,
        tokens_by_address=BY_ADDRESS,
        first_block=first_block or {"PAXG": 0, "XAUT": 0},
        block_times=BLOCK_TIMES,
        state=DecodeState() if state is None else state,
    )


def brief(rows):
    """(event, from, to, amount, is_fee, args) of each row."""
    col = {name: i for i, name in enumerate(LOG_COLUMNS)}
    return [
        (r[col["event"]], r[col["from_address"]], r[col["to_address"]], r[col["amount"]],
         r[col["is_fee"]], r[col["args"]])
        for r in rows
    ]


def known(recipient=FEE_RECIPIENT) -> DecodeState:
    return DecodeState(fee_recipient={"PAXG": recipient})


# -- one row in full ----------------------------------------------------------------------------

def test_paxg_principal_transfer_row_has_every_column():
    raw = [transfer(PAXG, ALICE, BOB, PRINCIPAL, index=0x1f)]
    assert decode(raw) == [[
        1, BLOCK, 31, "PAXG", BLOCK_HASH, "2023-11-14 22:13:20+00", TX, 3, "Transfer",
        ALICE, BOB, PRINCIPAL, False, None,
        None, None,  # raw topics and data: the decoded columns hold all of them
    ]]
    assert len(LOG_COLUMNS) == 16


def test_format_time_is_utc_timestamptz_literal():
    assert format_time(1_700_000_000) == "2023-11-14 22:13:20+00"
    assert format_time(0) == "1970-01-01 00:00:00+00"


def test_block_time_comes_from_the_block_times_map():
    raw = [transfer(XAUT, ALICE, BOB, 1, index=0, block=BLOCK - 1, tx=TX),
           transfer(XAUT, ALICE, BOB, 2, index=0, block=BLOCK + 1, tx=TX2)]
    rows = decode(raw)
    assert [r[5] for r in rows] == ["2023-11-14 22:13:08+00", "2023-11-14 22:13:32+00"]
    assert [r[1] for r in rows] == [BLOCK - 1, BLOCK + 1]


def test_checksummed_log_address_is_matched_and_amounts_are_exact_ints():
    entry = transfer(PAXG, ALICE, BOB, 2**256 - 1, index=0)
    entry["address"] = "0x45804880De22913dAFE09f4980848ECE6EcbAf78"
    [row] = decode([entry])
    assert row[3] == "PAXG"
    assert row[11] == 2**256 - 1
    assert type(row[11]) is int


def test_addresses_in_rows_are_lowercase_0x_hex():
    mixed = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"
    [row] = decode([log(XAUT, T.TRANSFER, [topic(mixed).lower(), topic(BOB)], data(5), index=0)])
    assert row[9] == mixed.lower()
    assert row[10] == BOB


# -- PAXG fee legs ------------------------------------------------------------------------------

@pytest.mark.parametrize("state", [None, "known"], ids=["recipient-unknown", "recipient-known"])
def test_fee_leg_after_principal_is_flagged(state):
    raw = [
        transfer(PAXG, ALICE, BOB, PRINCIPAL, index=5),
        transfer(PAXG, ALICE, FEE_RECIPIENT, FEE, index=6),
        fee_collected(ALICE, FEE_RECIPIENT, FEE, index=7),
    ]
    rows = decode(raw, known() if state else None)
    assert brief(rows) == [
        ("Transfer", ALICE, BOB, 999_800_000_000_000_000, False, None),
        ("Transfer", ALICE, FEE_RECIPIENT, 200_000_000_000_000, True, None),
        ("FeeCollected", ALICE, FEE_RECIPIENT, 200_000_000_000_000, None, None),
    ]


@pytest.mark.parametrize("state", [None, "known"], ids=["recipient-unknown", "recipient-known"])
def test_zero_fee_leg_is_flagged(state):
    raw = [
        transfer(PAXG, ALICE, BOB, ONE_PAXG, index=0),
        transfer(PAXG, ALICE, FEE_RECIPIENT, 0, index=1),
    ]
    assert brief(decode(raw, known() if state else None)) == [
        ("Transfer", ALICE, BOB, ONE_PAXG, False, None),
        ("Transfer", ALICE, FEE_RECIPIENT, 0, True, None),
    ]


def test_transfer_to_fee_recipient_keeps_principal_first_and_fee_second():
    raw = [
        transfer(PAXG, ALICE, FEE_RECIPIENT, PRINCIPAL, index=0),
        transfer(PAXG, ALICE, FEE_RECIPIENT, FEE, index=1),
        fee_collected(ALICE, FEE_RECIPIENT, FEE, index=2),
    ]
    assert [r[12] for r in decode(raw, known())] == [False, True, None]
    assert [r[12] for r in decode(raw)] == [False, True, None]


def test_batch_of_zero_fee_transfers_in_one_tx_alternates_principal_and_fee():
    raw = [
        transfer(PAXG, ALICE, BOB, 10, index=0),
        transfer(PAXG, ALICE, FEE_RECIPIENT, 0, index=1),
        transfer(PAXG, ALICE, CAROL, 20, index=2),
        transfer(PAXG, ALICE, FEE_RECIPIENT, 0, index=3),
    ]
    assert brief(decode(raw)) == [
        ("Transfer", ALICE, BOB, 10, False, None),
        ("Transfer", ALICE, FEE_RECIPIENT, 0, True, None),
        ("Transfer", ALICE, CAROL, 20, False, None),
        ("Transfer", ALICE, FEE_RECIPIENT, 0, True, None),
    ]


def test_batch_of_fee_paying_transfers_in_one_tx_flags_each_fee_leg():
    raw = [
        transfer(PAXG, ALICE, BOB, PRINCIPAL, index=0),
        transfer(PAXG, ALICE, FEE_RECIPIENT, FEE, index=1),
        fee_collected(ALICE, FEE_RECIPIENT, FEE, index=2),
        transfer(PAXG, ALICE, CAROL, PRINCIPAL, index=3),
        transfer(PAXG, ALICE, FEE_RECIPIENT, FEE, index=4),
        fee_collected(ALICE, FEE_RECIPIENT, FEE, index=5),
    ]
    assert [(r[8], r[10], r[12]) for r in decode(raw, known())] == [
        ("Transfer", BOB, False), ("Transfer", FEE_RECIPIENT, True), ("FeeCollected", FEE_RECIPIENT, None),
        ("Transfer", CAROL, False), ("Transfer", FEE_RECIPIENT, True), ("FeeCollected", FEE_RECIPIENT, None),
    ]


def test_transfers_in_different_transactions_are_never_paired():
    raw = [
        transfer(PAXG, ALICE, BOB, 10, index=0, tx=TX),
        transfer(PAXG, ALICE, CAROL, 20, index=1, tx=TX2),
    ]
    assert [r[12] for r in decode(raw)] == [False, False]


def test_non_adjacent_second_transfer_is_not_a_fee_leg():
    raw = [
        transfer(PAXG, ALICE, BOB, 10, index=0),
        transfer(PAXG, ALICE, FEE_RECIPIENT, 0, index=2),
    ]
    assert [r[12] for r in decode(raw)] == [False, False]


def test_second_leg_from_another_sender_is_not_a_fee_leg():
    raw = [
        transfer(PAXG, ALICE, BOB, 10, index=0),
        transfer(PAXG, BOB, FEE_RECIPIENT, 0, index=1),
    ]
    assert [r[12] for r in decode(raw)] == [False, False]


def test_known_fee_recipient_rejects_second_leg_going_elsewhere():
    raw = [
        transfer(PAXG, ALICE, BOB, 10, index=0),
        transfer(PAXG, ALICE, CAROL, 20, index=1),
    ]
    assert [r[12] for r in decode(raw, known())] == [False, False]


def test_unknown_fee_recipient_flags_second_leg_by_shape_alone():
    raw = [
        transfer(PAXG, ALICE, BOB, 10, index=0),
        transfer(PAXG, ALICE, CAROL, 20, index=1),
    ]
    assert [r[12] for r in decode(raw)] == [False, True]


def test_xaut_transfers_are_never_fee_legs():
    # multiTransfer: one Transfer per recipient, adjacent, same sender.
    raw = [
        transfer(XAUT, ALICE, BOB, 10, index=0),
        transfer(XAUT, ALICE, CAROL, 20, index=1),
    ]
    assert [r[12] for r in decode(raw)] == [False, False]


def test_paxg_and_xaut_logs_of_one_tx_are_paired_per_token():
    raw = [
        transfer(PAXG, ALICE, BOB, 10, index=0),
        transfer(XAUT, ALICE, BOB, 7, index=1),
        transfer(PAXG, ALICE, FEE_RECIPIENT, 0, index=2),
    ]
    assert [(r[3], r[12]) for r in decode(raw)] == [("PAXG", False), ("XAUT", False), ("PAXG", False)]


# -- FeeRecipientSet and DecodeState ------------------------------------------------------------

def test_fee_recipient_set_updates_decode_state_and_later_pairing():
    state = DecodeState()
    first = decode([log(PAXG, T.FEE_RECIPIENT_SET, [topic(FEE_RECIPIENT), topic(NEW_FEE_RECIPIENT)],
                        index=0)], state)
    assert brief(first) == [("FeeRecipientSet", FEE_RECIPIENT, NEW_FEE_RECIPIENT, None, None, None)]
    assert state.fee_recipient == {"PAXG": NEW_FEE_RECIPIENT}

    later = decode([
        transfer(PAXG, ALICE, BOB, 10, index=0, tx=TX2, block=BLOCK + 1),
        transfer(PAXG, ALICE, NEW_FEE_RECIPIENT, 0, index=1, tx=TX2, block=BLOCK + 1),
        transfer(PAXG, ALICE, BOB, 10, index=2, tx=TX3, block=BLOCK + 1),
        transfer(PAXG, ALICE, FEE_RECIPIENT, 0, index=3, tx=TX3, block=BLOCK + 1),
    ], state)
    assert [r[12] for r in later] == [False, True, False, False]


def test_fee_recipient_set_applies_to_transfers_later_in_the_same_batch():
    state = known()
    rows = decode([
        log(PAXG, T.FEE_RECIPIENT_SET, [topic(FEE_RECIPIENT), topic(NEW_FEE_RECIPIENT)], index=0, tx=TX),
        transfer(PAXG, ALICE, BOB, 10, index=1, tx=TX2),
        transfer(PAXG, ALICE, NEW_FEE_RECIPIENT, 0, index=2, tx=TX2),
    ], state)
    assert [r[12] for r in rows] == [None, False, True]
    assert state.fee_recipient == {"PAXG": NEW_FEE_RECIPIENT}


# -- PAXG supply --------------------------------------------------------------------------------

def test_mint_is_not_flagged_as_fee():
    raw = [
        log(PAXG, T.SUPPLY_INCREASED, [topic(SUPPLY_CONTROLLER)], data(5 * ONE_PAXG), index=0),
        transfer(PAXG, ZERO_ADDRESS, SUPPLY_CONTROLLER, 5 * ONE_PAXG, index=1),
    ]
    assert brief(decode(raw)) == [
        ("SupplyIncreased", None, SUPPLY_CONTROLLER, 5 * ONE_PAXG, None, None),
        ("Transfer", ZERO_ADDRESS, SUPPLY_CONTROLLER, 5 * ONE_PAXG, False, None),
    ]


def test_burn_is_not_flagged_as_fee():
    raw = [
        log(PAXG, T.SUPPLY_DECREASED, [topic(SUPPLY_CONTROLLER)], data(3 * ONE_PAXG), index=0),
        transfer(PAXG, SUPPLY_CONTROLLER, ZERO_ADDRESS, 3 * ONE_PAXG, index=1),
    ]
    assert brief(decode(raw)) == [
        ("SupplyDecreased", SUPPLY_CONTROLLER, None, 3 * ONE_PAXG, None, None),
        ("Transfer", SUPPLY_CONTROLLER, ZERO_ADDRESS, 3 * ONE_PAXG, False, None),
    ]


def test_two_mints_in_one_tx_are_not_fee_legs():
    raw = [
        transfer(PAXG, ZERO_ADDRESS, SUPPLY_CONTROLLER, 1, index=0),
        transfer(PAXG, ZERO_ADDRESS, SUPPLY_CONTROLLER, 2, index=1),
    ]
    assert [r[12] for r in decode(raw)] == [False, False]


@pytest.mark.parametrize("balance", [7 * ONE_PAXG, 0])
def test_wipe_sequence_decodes_to_three_rows_none_a_fee(balance):
    raw = [
        log(PAXG, T.FROZEN_ADDRESS_WIPED, [topic(CAROL)], index=0),
        log(PAXG, T.SUPPLY_DECREASED, [topic(CAROL)], data(balance), index=1),
        transfer(PAXG, CAROL, ZERO_ADDRESS, balance, index=2),
    ]
    assert brief(decode(raw)) == [
        ("FrozenAddressWiped", CAROL, None, None, None, None),
        ("SupplyDecreased", CAROL, None, balance, None, None),
        ("Transfer", CAROL, ZERO_ADDRESS, balance, False, None),
    ]


@pytest.mark.parametrize("spec", [T.ADDRESS_FROZEN, T.ADDRESS_UNFROZEN, T.FREEZE_ADDRESS,
                                  T.UNFREEZE_ADDRESS], ids=lambda s: s.name)
def test_paxg_freeze_events_name_the_address_in_from(spec):
    assert brief(decode([log(PAXG, spec, [topic(CAROL)], index=0)])) == [
        (spec.name, CAROL, None, None, None, None)]


def test_supply_controller_set_names_old_and_new():
    raw = [log(PAXG, T.SUPPLY_CONTROLLER_SET, [topic(SUPPLY_CONTROLLER), topic(BOB)], index=0)]
    assert brief(decode(raw)) == [("SupplyControllerSet", SUPPLY_CONTROLLER, BOB, None, None, None)]


def test_fee_rate_set_args_hold_old_and_new_rate_from_topics():
    raw = [log(PAXG, T.FEE_RATE_SET, ["0x" + word(200), "0x" + word(0)], index=0)]
    assert brief(decode(raw)) == [
        ("FeeRateSet", None, None, None, None, '{"old_fee_rate":200,"new_fee_rate":0}')]


# -- betaDelegatedTransfer ----------------------------------------------------------------------

def test_beta_delegated_transfer_with_fee_flags_fee_and_service_fee_legs():
    service_fee = 5_000
    raw = [
        transfer(PAXG, ALICE, BOB, PRINCIPAL, index=0),
        transfer(PAXG, ALICE, FEE_RECIPIENT, FEE, index=1),
        fee_collected(ALICE, FEE_RECIPIENT, FEE, index=2),
        transfer(PAXG, ALICE, RELAYER, service_fee, index=3),
        beta(ALICE, BOB, PRINCIPAL, 42, service_fee, index=4),
    ]
    assert brief(decode(raw, known())) == [
        ("Transfer", ALICE, BOB, PRINCIPAL, False, None),
        ("Transfer", ALICE, FEE_RECIPIENT, FEE, True, None),
        ("FeeCollected", ALICE, FEE_RECIPIENT, FEE, None, None),
        ("Transfer", ALICE, RELAYER, 5_000, True, None),
        ("BetaDelegatedTransfer", ALICE, BOB, PRINCIPAL, None, '{"seq":"42","service_fee":"5000"}'),
    ]


@pytest.mark.parametrize("state", [None, "known"], ids=["recipient-unknown", "recipient-known"])
def test_beta_delegated_transfer_without_fee_flags_zero_fee_and_service_fee_legs(state):
    raw = [
        transfer(PAXG, ALICE, BOB, ONE_PAXG, index=0),
        transfer(PAXG, ALICE, FEE_RECIPIENT, 0, index=1),
        transfer(PAXG, ALICE, RELAYER, 1_000, index=2),
        beta(ALICE, BOB, ONE_PAXG, 0, 1_000, index=3),
    ]
    assert brief(decode(raw, known() if state else None)) == [
        ("Transfer", ALICE, BOB, ONE_PAXG, False, None),
        ("Transfer", ALICE, FEE_RECIPIENT, 0, True, None),
        ("Transfer", ALICE, RELAYER, 1_000, True, None),
        ("BetaDelegatedTransfer", ALICE, BOB, ONE_PAXG, None, '{"seq":"0","service_fee":"1000"}'),
    ]


def test_beta_delegated_transfer_without_service_fee_flags_only_the_fee_leg():
    raw = [
        transfer(PAXG, ALICE, BOB, ONE_PAXG, index=0),
        transfer(PAXG, ALICE, FEE_RECIPIENT, 0, index=1),
        beta(ALICE, BOB, ONE_PAXG, 7, 0, index=2),
    ]
    assert brief(decode(raw)) == [
        ("Transfer", ALICE, BOB, ONE_PAXG, False, None),
        ("Transfer", ALICE, FEE_RECIPIENT, 0, True, None),
        ("BetaDelegatedTransfer", ALICE, BOB, ONE_PAXG, None, '{"seq":"7","service_fee":"0"}'),
    ]


def test_beta_delegated_transfer_does_not_flag_a_leg_of_another_amount():
    raw = [
        transfer(PAXG, ALICE, BOB, PRINCIPAL, index=0),
        transfer(PAXG, ALICE, FEE_RECIPIENT, FEE, index=1),
        fee_collected(ALICE, FEE_RECIPIENT, FEE, index=2),
        transfer(PAXG, ALICE, RELAYER, 999, index=3),
        beta(ALICE, BOB, PRINCIPAL, 1, 1_000, index=4),
    ]
    assert [r[12] for r in decode(raw, known())] == [False, True, None, False, None]


# -- XAUT supply --------------------------------------------------------------------------------

def test_xaut_mint_decodes_transfer_from_zero_and_mint_to_destination():
    raw = [
        transfer(XAUT, ZERO_ADDRESS, TREASURY, 1_000_000_000, index=0),
        log(XAUT, T.MINT, [topic(TREASURY)], data(1_000_000_000), index=1),
    ]
    assert brief(decode(raw)) == [
        ("Transfer", ZERO_ADDRESS, TREASURY, 1_000_000_000, False, None),
        ("Mint", None, TREASURY, 1_000_000_000, None, None),
    ]


def test_xaut_redeem_takes_from_address_of_the_preceding_burn():
    raw = [
        transfer(XAUT, TREASURY, ZERO_ADDRESS, 250_000, index=8),
        log(XAUT, T.REDEEM, [], data(250_000), index=9),
    ]
    assert brief(decode(raw)) == [
        ("Transfer", TREASURY, ZERO_ADDRESS, 250_000, False, None),
        ("Redeem", TREASURY, None, 250_000, None, None),
    ]


def test_xaut_redeem_after_burn_of_another_amount_keeps_no_from_address():
    raw = [
        transfer(XAUT, TREASURY, ZERO_ADDRESS, 250_000, index=0),
        log(XAUT, T.REDEEM, [], data(1), index=1),
    ]
    assert brief(decode(raw))[1] == ("Redeem", None, None, 1, None, None)


def test_xaut_redeem_in_another_tx_than_the_burn_keeps_no_from_address():
    raw = [
        transfer(XAUT, TREASURY, ZERO_ADDRESS, 250_000, index=0, tx=TX),
        log(XAUT, T.REDEEM, [], data(250_000), index=1, tx=TX2),
    ]
    assert brief(decode(raw))[1] == ("Redeem", None, None, 250_000, None, None)


def test_xaut_destroyed_blocked_funds_names_the_blocked_user():
    raw = [
        transfer(XAUT, CAROL, ZERO_ADDRESS, 123_456, index=0),
        log(XAUT, T.DESTROYED_BLOCKED_FUNDS, [topic(CAROL)], data(123_456), index=1),
    ]
    assert brief(decode(raw)) == [
        ("Transfer", CAROL, ZERO_ADDRESS, 123_456, False, None),
        ("DestroyedBlockedFunds", CAROL, None, 123_456, None, None),
    ]


@pytest.mark.parametrize("spec", [T.BLOCK_PLACED, T.BLOCK_RELEASED], ids=lambda s: s.name)
def test_xaut_block_events_name_the_user_in_from(spec):
    assert brief(decode([log(XAUT, spec, [topic(CAROL)], index=0)])) == [
        (spec.name, CAROL, None, None, None, None)]


# -- Upgraded -----------------------------------------------------------------------------------

def test_paxg_upgraded_reads_implementation_from_data():
    raw = [log(PAXG, T.UPGRADED, [], "0x" + "0" * 24 + IMPL[2:], index=0)]
    assert brief(decode(raw, DecodeState(implementation_fee_legs={IMPL: True}))) == [
        ("Upgraded", None, None, None, None, f'{{"implementation":"{IMPL}"}}')]


def test_xaut_upgraded_reads_implementation_from_topic():
    raw = [log(XAUT, T.UPGRADED, [topic(IMPL)], "0x", index=0)]
    assert brief(decode(raw)) == [
        ("Upgraded", None, None, None, None, f'{{"implementation":"{IMPL}"}}')]


# -- filtering and refusals ---------------------------------------------------------------------

def test_first_block_drops_each_tokens_logs_below_its_own_next_block():
    raw = [
        transfer(PAXG, ALICE, BOB, 1, index=0, block=BLOCK - 1, tx=TX),
        transfer(XAUT, ALICE, BOB, 2, index=1, block=BLOCK - 1, tx=TX),
        transfer(PAXG, ALICE, BOB, 3, index=0, block=BLOCK, tx=TX2),
        transfer(XAUT, ALICE, BOB, 4, index=1, block=BLOCK, tx=TX2),
        transfer(XAUT, ALICE, BOB, 5, index=0, block=BLOCK + 1, tx=TX3),
    ]
    rows = decode(raw, first_block={"PAXG": BLOCK, "XAUT": BLOCK + 1})
    assert [(r[3], r[1], r[11]) for r in rows] == [("PAXG", BLOCK, 3), ("XAUT", BLOCK + 1, 5)]


def test_logs_of_unknown_address_are_skipped():
    entry = transfer(PAXG, ALICE, BOB, 1, index=0)
    entry["address"] = "0xdac17f958d2ee523a2206206994597c13d831ec7"
    assert decode([entry]) == []


def test_logs_of_unknown_topic_are_skipped():
    approval = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
    entry = transfer(PAXG, ALICE, BOB, 1, index=0)
    entry["topics"][0] = approval
    assert decode([entry]) == []


def test_event_of_the_other_token_is_skipped():
    # Mint is an XAUT event; the same topic0 at PAXG's address is not ours.
    assert decode([log(PAXG, T.MINT, [topic(ALICE)], data(1), index=0)]) == []


def test_log_without_topics_is_skipped():
    entry = transfer(PAXG, ALICE, BOB, 1, index=0)
    entry["topics"] = []
    assert decode([entry]) == []


def test_removed_log_raises_bad_log():
    entry = transfer(PAXG, ALICE, BOB, 1, index=0)
    entry["removed"] = True
    raw = [transfer(PAXG, ALICE, BOB, 2, index=0, tx=TX2), entry]
    with pytest.raises(BadLog, match="^node returned a removed log in eth_getLogs$"):
        decode(raw)


def test_malformed_transfer_without_indexed_addresses_is_stored_undecoded():
    # An ERC-20 variant with nothing indexed: topic0 only, all three values in data.
    entry = log(PAXG, T.TRANSFER, [], data(int(ALICE, 16), int(BOB, 16), 5), index=4)
    [row] = decode([entry])
    assert row[8:14] == ["Transfer", None, None, None, False, '{"undecoded": true}']
    assert row[14] == "{" + T.TRANSFER.topic0 + "}"
    assert row[15] == entry["data"]
    assert row[:8] == [1, BLOCK, 4, "PAXG", BLOCK_HASH, TIME, TX, 3]


def test_malformed_transfer_with_empty_data_is_stored_undecoded():
    # ERC-721 shape: the third value indexed too, no data.
    entry = log(XAUT, T.TRANSFER, [topic(ALICE), topic(BOB), "0x" + word(9)], "0x", index=0)
    [row] = decode([entry])
    assert row[8:14] == ["Transfer", None, None, None, False, '{"undecoded": true}']
    assert row[14] == "{" + ",".join(entry["topics"]) + "}"


@pytest.mark.parametrize("entry", [
    log(PAXG, T.UPGRADED, [], "0x", index=0),
    log(PAXG, T.TRANSFER, [topic(ALICE), topic(BOB)], "0x01", index=0),
], ids=["upgraded-empty-data", "transfer-short-data"])
def test_malformed_log_with_short_data_is_stored_undecoded(entry):
    [row] = decode([entry])
    assert row[13] == '{"undecoded": true}'


# -- raw topics and data ------------------------------------------------------------------------

def _raw_cases():
    """One log of every event each token can emit, with awkward values (top bits set)."""
    big = 2**256 - 1
    cases = []
    for token in (PAXG, XAUT):
        for spec in token.topics.values():
            if spec.name == "Upgraded":
                continue
            in_topics, in_data = _RAW_SHAPE[spec.name]
            values = {"from": ALICE, "to": "0xffffffffffffffffffffffffffffffffffffffff",
                      "amount": big, "seq": 7, "service_fee": 2**255, "old_fee_rate": 0,
                      "new_fee_rate": big}
            topics = [topic(values[n]) if n in ("from", "to") else "0x" + word(values[n])
                      for n in in_topics]
            cases.append(pytest.param(
                token, log(token, spec, topics, data(*(values[n] for n in in_data)), index=5),
                id=f"{token.symbol}-{spec.name}"))
    return cases


@pytest.mark.parametrize("token,entry", _raw_cases())
def test_decoded_columns_give_back_the_raw_log(token, entry):
    [row] = decode([entry])
    assert row[14] is None and row[15] is None  # not stored: the columns hold all of it
    args = json.loads(row[13]) if row[13] else None
    assert raw_fields(token, row[8], row[9], row[10], row[11], args) == \
        (entry["topics"], entry["data"])


@pytest.mark.parametrize("entry", [
    log(PAXG, T.UPGRADED, [], data(int(IMPL, 16)), index=0),
    log(XAUT, T.UPGRADED, [topic(IMPL)], "0x", index=0),
], ids=["paxg-data", "xaut-topic"])
def test_upgraded_keeps_its_raw_log(entry):
    [row] = decode([entry], DecodeState(implementation_fee_legs={IMPL: True}))
    assert row[14] == "{" + ",".join(entry["topics"]) + "}"
    assert row[15] == entry["data"]


# -- fee legs follow the live implementation ----------------------------------------------------

def upgraded(implementation, *, index, tx=TX3):
    return log(PAXG, T.UPGRADED, [], data(int(implementation, 16)), index=index, tx=tx)


def multi_send_to_fee_recipient(tx):
    """One sender, two adjacent Transfers to the fee recipient: under V1 a principal and its
    fee leg, under an implementation without fees two transfers."""
    return [transfer(PAXG, ALICE, FEE_RECIPIENT, PRINCIPAL, index=0, tx=tx),
            transfer(PAXG, ALICE, FEE_RECIPIENT, FEE, index=1, tx=tx)]


def test_an_upgrade_to_an_implementation_without_fee_legs_stops_the_pairing():
    raw = [*multi_send_to_fee_recipient(TX), upgraded(IMPL, index=2),
           *multi_send_to_fee_recipient(TX2)]
    state = DecodeState(fee_recipient={"PAXG": FEE_RECIPIENT},
                        implementation_fee_legs={IMPL: False})
    flags = [r[12] for r in decode(raw, state) if r[8] == "Transfer"]
    assert flags == [False, True, False, False]
    assert state.fee_legs == {"PAXG": False}  # carried to the next range


def test_an_upgrade_to_an_implementation_with_fee_legs_pairs_again():
    raw = [upgraded(IMPL, index=0), *multi_send_to_fee_recipient(TX2)]
    state = DecodeState(fee_legs={"PAXG": False}, implementation_fee_legs={IMPL: True})
    flags = [r[12] for r in decode(raw, state) if r[8] == "Transfer"]
    assert flags == [False, True]
    assert state.fee_legs == {"PAXG": True}


def test_a_live_implementation_without_fee_legs_pairs_nothing():
    state = DecodeState(fee_recipient={"PAXG": FEE_RECIPIENT}, fee_legs={"PAXG": False})
    assert [r[12] for r in decode(multi_send_to_fee_recipient(TX), state)] == [False, False]


def test_an_upgrade_to_an_implementation_not_asked_about_is_refused():
    with pytest.raises(LookupError, match="whether it emits fee legs is unknown"):
        decode([upgraded(IMPL, index=0)])


def test_upgraded_implementations_are_those_of_tokens_with_fee_legs():
    other = "0x" + "ab" * 20
    raw = [upgraded(IMPL, index=0), log(XAUT, T.UPGRADED, [topic(other)], "0x", index=1),
           transfer(PAXG, ALICE, BOB, 1, index=2),
           log(PAXG, T.UPGRADED, [], "0x1234", index=3)]  # undecodable: names nothing
    assert upgraded_implementations(raw, BY_ADDRESS) == {IMPL}


# -- price feed aggregators (AnswerUpdated) ------------------------------------------------------

def _answer_log(aggregator: str, answer: int, round_: int, updated_at: int, block: int = BLOCK,
                index: int = 0) -> dict:
    return {
        "address": aggregator, "blockNumber": hex(block), "blockHash": BLOCK_HASH,
        "transactionHash": TX, "transactionIndex": "0x0", "logIndex": hex(index),
        "topics": [ANSWER_UPDATED.topic0, "0x" + f"{answer % (1 << 256):064x}",
                   "0x" + f"{round_:064x}"],
        "data": "0x" + f"{updated_at:064x}",
    }


def test_answer_updated_decodes_to_a_price_row_with_the_proxys_round_id():
    agg = Aggregator("XAU/USD", 3, "0x" + "a9" * 20, BLOCK)
    rows = decode_prices(
        [_answer_log(agg.address, 2_650_12345678, 41, 1_700_000_005),
         _answer_log(PAXG.address, 1, 1, 1, index=1)],  # another source's log: not a price
        chain_id=1, aggregators_by_address={agg.address: agg}, first_block={agg.symbol: BLOCK},
        block_times=BLOCK_TIMES)
    assert [dict(zip(PRICE_COLUMNS, r)) for r in rows] == [{
        "chain_id": 1, "block_number": BLOCK, "log_index": 0, "feed": "XAU/USD", "phase_id": 3,
        "round_id": (3 << 64) | 41, "answer": 2_650_12345678,
        "updated_at": format_time(1_700_000_005), "block_time": TIME, "block_hash": BLOCK_HASH,
        "tx_hash": TX}]


def test_a_negative_answer_is_read_as_int256_and_rows_below_the_next_block_are_dropped():
    agg = Aggregator("PAXG/USD", 1, "0x" + "a8" * 20, BLOCK)
    rows = decode_prices(
        [_answer_log(agg.address, 5, 1, 1, block=BLOCK - 1),
         _answer_log(agg.address, -7, 2, 2, block=BLOCK)],
        chain_id=1, aggregators_by_address={agg.address: agg}, first_block={agg.symbol: BLOCK},
        block_times=BLOCK_TIMES)
    assert [(r[1], r[6]) for r in rows] == [(BLOCK, -7)]


def test_an_answer_updated_of_another_layout_is_refused():
    agg = Aggregator("XAU/USD", 1, "0x" + "a7" * 20, BLOCK)
    bad = _answer_log(agg.address, 1, 1, 1)
    bad["data"] = "0x"
    with pytest.raises(BadLog):
        decode_prices([bad], chain_id=1, aggregators_by_address={agg.address: agg},
                      first_block={agg.symbol: BLOCK}, block_times=BLOCK_TIMES)


def test_oft_events_at_a_tokens_oft_contract_are_its_rows():
    """OFTSent/OFTReceived come from the token's OFT contract (kind oft, or XAUT's adapter),
    not from the token: read at that address only, decoded, their raw fields kept."""
    import dataclasses

    oft = "0x" + "0f" * 20
    xaut = dataclasses.replace(XAUT, oft=oft)
    guid = "0x" + "9a" * 32
    sent = dict(log(xaut, T.OFT_SENT, [guid, topic(ALICE)], data(30110, 5, 5), index=0),
                address=oft)
    received = dict(log(xaut, T.OFT_RECEIVED, [guid, topic(BOB)], data(30101, 7), index=1),
                    address=oft)
    wrong_place = log(xaut, T.OFT_SENT, [guid, topic(ALICE)], data(1, 2, 3), index=2)  # token's
    rows = decode_logs([sent, received, wrong_place], chain_id=1,
                       tokens_by_address={XAUT.address: xaut, oft: xaut},
                       first_block={"XAUT": 0}, block_times=BLOCK_TIMES, state=DecodeState())
    assert brief(rows) == [
        ("OFTSent", ALICE, None, 5, None, f'{{"guid":"{guid}","dst_eid":30110,"amount_received":"5"}}'),
        ("OFTReceived", None, BOB, 7, None, f'{{"guid":"{guid}","src_eid":30101}}'),
    ]
    assert rows[0][14] == "{" + ",".join(sent["topics"]) + "}" and rows[0][15] == sent["data"]

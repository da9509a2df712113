"""indexer/completeness.py: every real multi-log sequence of PAXG and XAUT (FACTS.md) passes
whole, and losing any one of its logs leaves a gap, except the few losses listed below that
leave a sequence of another real operation behind."""

from __future__ import annotations

import pytest

from indexer import tokens as T
from indexer.completeness import RULES, gaps
from indexer.decode import DecodeState
from indexer.tokens import ZERO_ADDRESS
from tests.unit.test_decode import (ALICE, BOB, CAROL, FEE_RECIPIENT, IMPL, PAXG, RELAYER,
                                    SUPPLY_CONTROLLER, TREASURY, XAUT, beta, data, decode,
                                    fee_collected, log, topic, transfer)

TOKENS = {"PAXG": PAXG, "XAUT": XAUT}
FEE = 200


def paxg_transfer(fee):
    seq = [transfer(PAXG, ALICE, BOB, 10**18, index=0),
           transfer(PAXG, ALICE, FEE_RECIPIENT, fee, index=1)]
    return seq + ([fee_collected(ALICE, FEE_RECIPIENT, fee, index=2)] if fee else [])


def paxg_beta(fee, service_fee):
    seq = [transfer(PAXG, ALICE, BOB, 10**18, index=0),
           transfer(PAXG, ALICE, FEE_RECIPIENT, fee, index=1)]
    if fee:
        seq.append(fee_collected(ALICE, FEE_RECIPIENT, fee, index=2))
    if service_fee:
        seq.append(transfer(PAXG, ALICE, RELAYER, service_fee, index=len(seq)))
    return seq + [beta(ALICE, BOB, 10**18, 7, service_fee, index=len(seq))]


SEQUENCES = {
    "paxg transfer, fee 0": (paxg_transfer(0), set()),
    "paxg transfer, fee": (paxg_transfer(FEE), set()),
    "paxg relayed, fees": (paxg_beta(FEE, 5), set()),
    # Without its BetaDelegatedTransfer a relayed transfer without service fee is an ordinary
    # transfer.
    "paxg relayed, fee 0, service fee 0": (paxg_beta(0, 0), {2}),
    "paxg mint": ([log(PAXG, T.SUPPLY_INCREASED, [topic(SUPPLY_CONTROLLER)], data(9), index=0),
                   transfer(PAXG, ZERO_ADDRESS, SUPPLY_CONTROLLER, 9, index=1)], set()),
    "paxg burn": ([log(PAXG, T.SUPPLY_DECREASED, [topic(SUPPLY_CONTROLLER)], data(9), index=0),
                   transfer(PAXG, SUPPLY_CONTROLLER, ZERO_ADDRESS, 9, index=1)], set()),
    # Without FrozenAddressWiped a seizure is a burn.
    "paxg wipe": ([log(PAXG, T.FROZEN_ADDRESS_WIPED, [topic(CAROL)], index=0),
                   log(PAXG, T.SUPPLY_DECREASED, [topic(CAROL)], data(9), index=1),
                   transfer(PAXG, CAROL, ZERO_ADDRESS, 9, index=2)], {0}),
    "xaut mint": ([transfer(XAUT, ZERO_ADDRESS, TREASURY, 9, index=0),
                   log(XAUT, T.MINT, [topic(TREASURY)], data(9), index=1)], set()),
    "xaut redeem": ([transfer(XAUT, ALICE, ZERO_ADDRESS, 9, index=0),
                     log(XAUT, T.REDEEM, [], data(9), index=1)], set()),
    "xaut seizure": ([transfer(XAUT, CAROL, ZERO_ADDRESS, 9, index=0),
                      log(XAUT, T.DESTROYED_BLOCKED_FUNDS, [topic(CAROL)], data(9), index=1)],
                     set()),
}


def found(raw, state=None, legs=None, off=frozenset()):
    state = state or DecodeState()
    start = dict(state.fee_legs) if legs is None else legs
    return gaps(decode(raw, state), TOKENS, start, state.implementation_fee_legs, off)


@pytest.mark.parametrize("name", SEQUENCES)
def test_a_whole_sequence_has_no_gap(name):
    assert found(SEQUENCES[name][0]) == []


@pytest.mark.parametrize("name", SEQUENCES)
def test_losing_any_log_of_a_sequence_leaves_a_gap(name):
    seq, undetectable = SEQUENCES[name]
    for lost in range(len(seq)):
        rest = seq[:lost] + seq[lost + 1:]
        assert (found(rest) == []) == (lost in undetectable), (name, lost)


def test_single_log_operations_have_no_gap():
    raw = [transfer(XAUT, ALICE, BOB, 5, index=0),
           transfer(PAXG, PAXG.address, ALICE, 5, index=1),  # reclaimPAXG: no fee leg
           log(PAXG, T.FEE_RATE_SET, [data(0)[2:].rjust(66, "0"), "0x" + "0" * 62 + "c8"],
               index=2, tx="0x" + "c3" * 32)]
    raw[2]["topics"][1] = "0x" + "0" * 64
    assert found(raw) == []


def test_many_transactions_in_one_block_are_checked_each_on_its_own():
    raw = []
    for t in range(5):
        for entry in paxg_transfer(FEE if t % 2 else 0):
            entry = dict(entry, transactionHash=f"0x{t:064x}",
                         logIndex=hex(int(entry["logIndex"], 16) + 3 * t))
            raw.append(entry)
    assert found(raw) == []
    lost = [e for e in raw if not (e["transactionHash"] == f"0x{3:064x}"
                                    and e["logIndex"] == hex(10))]  # tx 3's fee leg
    assert {(g.token, g.log_index, g.tx_hash, g.rule) for g in found(lost)} == {
        ("PAXG", 9, f"0x{3:064x}", "fee leg missing after a principal Transfer"),
        ("PAXG", 11, f"0x{3:064x}", "fee leg missing before FeeCollected")}


def test_a_gap_names_its_rule_and_place():
    [gap] = found(paxg_transfer(0)[:1])
    assert str(gap) == (f"PAXG block {16_777_216} log 0 (tx {'0x' + 'a1' * 32}): "
                        "fee leg missing after a principal Transfer")


def test_a_rule_left_out_is_not_checked():
    lone = paxg_transfer(0)[:1]
    assert found(lone, off=frozenset({"fee leg missing after a principal Transfer"})) == []
    assert {r[0] for r in RULES} >= {"fee leg missing after a principal Transfer"}


def test_paxg_after_an_upgrade_to_an_implementation_without_fee_legs_is_not_checked():
    state = DecodeState(implementation_fee_legs={IMPL: False})
    upgraded = log(PAXG, T.UPGRADED, [], data(int(IMPL, 16)), index=0, tx="0x" + "99" * 32)
    lone = transfer(PAXG, ALICE, BOB, 5, index=1)
    assert found([upgraded, lone], state, legs={}) == []
    assert found([lone], DecodeState(), legs={}) != []
    assert found([lone], DecodeState(), legs={"PAXG": False}) == []


def test_neighbours_are_the_same_tokens_logs_whatever_the_rows_order():
    """Rows in the node's order find a log's neighbours next to it in the list; rows in another
    order (a caller's or a provider's) find the same ones by key. A log of another token at the
    next log index is not a neighbour."""
    raw = []
    for t in range(4):
        for entry in paxg_transfer(FEE if t % 2 else 0):
            raw.append(dict(entry, transactionHash=f"0x{t:064x}",
                            logIndex=hex(int(entry["logIndex"], 16) + 4 * t)))
    # tx 1's fee leg is lost; tx 4 burns PAXG and redeems XAUT of the same amount, and the
    # XAUT Transfer of the redemption is lost: the PAXG burn's Transfer is not its partner.
    lost = [e for e in raw if not (e["transactionHash"] == f"0x{1:064x}" and e["logIndex"] == hex(5))]
    burn = f"0x{4:064x}"
    lost += [dict(log(PAXG, T.SUPPLY_DECREASED, [topic(SUPPLY_CONTROLLER)], data(9), index=16),
                  transactionHash=burn),
             dict(transfer(PAXG, SUPPLY_CONTROLLER, ZERO_ADDRESS, 9, index=17), transactionHash=burn),
             dict(log(XAUT, T.REDEEM, [], data(9), index=18), transactionHash=burn)]
    rows = decode(lost, DecodeState())
    expected = {("PAXG", 4, "fee leg missing after a principal Transfer"),
                ("PAXG", 6, "fee leg missing before FeeCollected"),
                ("XAUT", 18, "Transfer to 0x0 missing before Redeem")}
    in_order = gaps(rows, TOKENS, {}, {})
    assert {(g.token, g.log_index, g.rule) for g in in_order} == expected
    shuffled = rows[::-1]
    assert sorted(map(str, gaps(shuffled, TOKENS, {}, {}))) == sorted(map(str, in_order))
    assert gaps(decode(raw, DecodeState()), TOKENS, {}, {}) == []
    assert gaps(decode(raw, DecodeState())[::-1], TOKENS, {}, {}) == []

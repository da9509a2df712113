"""Checks of the synthetic mainnet itself (not part of the test run: `testpaths` is tests/).

    .venv/bin/pytest benchmarks/test_synthnet.py -q
"""

from __future__ import annotations

import random
import sys
from array import array
from pathlib import Path

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthnet import events as ev  # noqa: E402
from benchmarks.synthnet import floor as fl  # noqa: E402
from benchmarks.synthnet import history as hist  # noqa: E402
from benchmarks.synthnet.blocks import (  # noqa: E402
    MERGE_BLOCK, MERGE_SLOT, MERGE_TIMESTAMP, POW_ANCHORS, Blocks,
)
from benchmarks.synthnet.node import Node, RpcFailure  # noqa: E402
from benchmarks.synthnet.providers import PROFILES, Gate, with_overrides  # noqa: E402

SCALE = 0.004


@pytest.fixture(scope="module")
def blocks() -> Blocks:
    return Blocks(3)


@pytest.fixture(scope="module")
def history(blocks) -> hist.History:
    return hist.generate(hist.Params(seed=3, scale=SCALE), blocks, log=lambda _: None)


@pytest.fixture(scope="module")
def node(history, blocks) -> Node:
    return Node(history, blocks)


def test_time_runs_forward_through_anchors_and_the_merge(blocks):
    numbers = set(range(MERGE_BLOCK - 300, MERGE_BLOCK + 300))
    for a, _ in POW_ANCHORS[1:-1]:
        numbers.update(range(a - 50, a + 50))
    numbers.update(random.Random(1).sample(range(1, blocks.head), 20_000))
    for n in sorted(numbers):
        assert blocks.timestamp(n) > blocks.timestamp(n - 1), n
    assert blocks.timestamp(MERGE_BLOCK) == MERGE_TIMESTAMP
    assert blocks.slot(MERGE_BLOCK) == MERGE_SLOT


def test_pos_misses_about_one_slot_in_a_hundred(blocks):
    n = 2_000_000
    missed = blocks.slot(MERGE_BLOCK + n) - MERGE_SLOT - n
    assert 0.008 < missed / n < 0.012
    gaps = {blocks.timestamp(m) - blocks.timestamp(m - 1) for m in range(MERGE_BLOCK + 1, MERGE_BLOCK + 5000)}
    assert gaps <= {12, 24, 36, 48} and 12 in gaps and 24 in gaps


def test_pow_blocks_average_about_thirteen_seconds(blocks):
    span = blocks.timestamp(15_000_000) - blocks.timestamp(9_000_000)
    assert 13.0 < span / 6_000_000 < 14.0


def test_headers_link_and_look_like_mainnet(node, blocks):
    for n in (1, 8_426_430, MERGE_BLOCK, 19_500_000, 26_400_000):
        h = orjson.loads(orjson.dumps(node.get_block([hex(n), False])))
        assert h["parentHash"] == blocks.block_hash(n - 1)
        assert len(h["hash"]) == 66 and int(h["hash"], 16) >= 0
        assert int(h["number"], 16) == n and int(h["timestamp"], 16) == blocks.timestamp(n)
        assert all(len(t) == 66 for t in h["transactions"])
    assert node.get_block([hex(blocks.head + 1), False]) is None
    for tag, depth in (("finalized", 64), ("safe", 32), ("latest", 0)):
        header = orjson.loads(orjson.dumps(node.get_block([tag, False])))
        assert int(header["number"], 16) == blocks.head - depth


def test_header_lists_token_transactions_at_their_index(node, history):
    n = history.block[len(history) // 2]
    header = orjson.loads(orjson.dumps(node.get_block([hex(n), False])))
    logs = node.render_logs(node.plan_logs([{"fromBlock": hex(n), "toBlock": hex(n)}]), False)
    for log in logs:
        assert header["transactions"][int(log["transactionIndex"], 16)] == log["transactionHash"]
        assert log["blockHash"] == header["hash"]
    full = node.get_block([hex(n), True])
    assert [t["hash"] for t in full["transactions"]] == header["transactions"]


def test_logs_are_sorted_with_increasing_log_index(history):
    last = (-1, -1)
    for n, li in zip(history.block, history.logi):
        assert (n, li) > last
        last = (n, li)


def test_ledger_never_goes_negative_and_matches_eth_call(history):
    balances = [dict(), dict()]
    supply = [0, 0]
    for i in range(len(history)):
        k = history.kind[i]
        if k not in ev.TRANSFER_KINDS:
            continue
        t = ev.KINDS[k].source
        s, r, v = history.a[i], history.b[i], history.amount(i)
        if s == ev.ZERO:
            supply[t] += v
        else:
            balances[t][s] = balances[t].get(s, 0) - v
            assert balances[t][s] >= 0
        if r == ev.ZERO:
            supply[t] -= v
        else:
            balances[t][r] = balances[t].get(r, 0) + v
    head = history.params.head
    for t in (0, 1):
        assert history.total_supply(t, head) == supply[t] > 0
        for h, bal in list(balances[t].items())[:50]:
            assert history.balance_of(t, history.addresses[h], head) == bal


def test_paxg_transfers_have_fee_legs_and_fee_collected_only_above_zero(history, node):
    logs = node.render_logs(node.plan_logs([{"fromBlock": hex(ev.PAXG_START),
                                             "toBlock": hex(history.params.head),
                                             "address": ev.PAXG_ADDRESS}]), False)
    transfer, fee_collected = ev.TOPIC0[ev.P_TRANSFER], ev.TOPIC0[ev.P_FEE_COLLECTED]
    fee_recipient_topic = node.topic_of[ev.FEE_RECIPIENT]
    seen = 0
    for a, b in zip(logs, logs[1:]):
        fee_leg = b["topics"][0] == transfer and b["topics"][2] == fee_recipient_topic
        if a["topics"][0] == transfer and fee_leg and a["transactionHash"] == b["transactionHash"] \
                and a["topics"][1] != node.topic_of[ev.ZERO]:
            seen += 1
            fee = int(b["data"], 16)
            value = int(a["data"], 16) + fee
            n = int(a["blockNumber"], 16)
            assert fee == value * (200 if n < ev.FEE_ZERO_BLOCK else 0) // 1_000_000
    assert seen > 100
    assert any(log["topics"][0] == fee_collected for log in logs)


def test_get_logs_filters_by_topic_and_counts_before_rendering(node, history):
    scanned_topics = [ev.TOPIC0[k] for k in ev.SCANNED]
    q = node.plan_logs([{"fromBlock": hex(ev.PAXG_START), "toBlock": hex(history.params.head),
                         "address": list(ev.TOKEN_ADDRESSES), "topics": [scanned_topics]}])
    logs = node.render_logs(q, True)
    assert len(logs) == node.count_logs(q) == len(history.token_blocks)
    assert all(log["topics"][0] != ev.TOPIC0[ev.X_APPROVAL] for log in logs)
    assert all(int(log["blockTimestamp"], 16) == node.blocks.timestamp(int(log["blockNumber"], 16))
               for log in logs[:500])
    end = node.end_within(q, 1000)
    inside = node.plan_logs([{"fromBlock": hex(ev.PAXG_START), "toBlock": hex(end),
                              "topics": [scanned_topics]}])
    beyond = node.plan_logs([{"fromBlock": hex(ev.PAXG_START), "toBlock": hex(end + 1),
                              "topics": [scanned_topics]}])
    assert node.count_logs(inside) <= 1000 < node.count_logs(beyond)
    with pytest.raises(RpcFailure):
        node.plan_logs([{"fromBlock": "0x10", "toBlock": "0x1"}])


def test_eth_call_totals_at_a_block_and_before_the_token(node, history):
    n = ev.XAUT_START + 1_000_000
    call = node.eth_call([{"to": ev.XAUT_ADDRESS, "data": "0x18160ddd"}, hex(n)])
    assert int(call, 16) == history.total_supply(1, n)
    assert node.eth_call([{"to": ev.XAUT_ADDRESS, "data": "0x18160ddd"}, hex(ev.XAUT_START - 1)]) == "0x"
    holder = history.addresses[ev.TREASURY]
    data = "0x70a08231" + "0" * 24 + holder[2:]
    assert int(node.eth_call([{"to": ev.XAUT_ADDRESS, "data": data}, hex(n)]), 16) == \
        history.balance_of(1, holder, n)


def _brute_floor(log_blocks, lo, hi, rb, rc, either) -> int:
    """Fewest acceptable ranges covering [lo, hi], by dynamic programming."""
    def ok(a, b):
        span_ok = not rb or b - a + 1 <= rb
        count = sum(1 for x in log_blocks if a <= x <= b)
        res_ok = not rc or count <= rc
        return (span_ok or res_ok) if (either and rb and rc) else (span_ok and res_ok)
    best = {lo - 1: 0}
    for b in range(lo, hi + 1):
        options = [best[a - 1] + 1 for a in range(lo, b + 1) if a - 1 in best and ok(a, b)]
        if options:
            best[b] = min(options)
    return best[hi]


@pytest.mark.parametrize("either", [False, True])
def test_greedy_floor_is_minimal(either):
    rng = random.Random(5)
    for _ in range(60):
        lo, hi = 1, rng.randint(5, 40)
        blocks = sorted(rng.choice(range(lo, hi + 1)) for _ in range(rng.randint(0, 60)))
        rb, rc = rng.randint(2, 12), rng.randint(3, 10)
        if any(blocks.count(b) > rc for b in set(blocks)):
            continue
        ends, impossible = fl.log_ranges(array("I", blocks), lo, hi, rb, rc, either)
        assert impossible == 0
        assert len(ends) == _brute_floor(blocks, lo, hi, rb, rc, either)


def test_rate_limit_refuses_with_the_providers_answer():
    gate = Gate(with_overrides(PROFILES["quicknode"], {"latency": "0,0"}), seed=1)
    verdicts = [gate.admit([(i, "eth_getBlockByNumber")], False) for i in range(60)]
    refused = [v for v in verdicts if v.action == "answer"]
    assert len(refused) >= 9 and all(v.status == 429 for v in refused)
    assert refused[0].body["error"]["code"] == -32007
    assert "50/second request limit reached" in refused[0].body["error"]["message"]
    assert gate.stats.methods["eth_getBlockByNumber"]["refused"]["rate"] == len(refused)


def test_big_batch_is_admitted_from_a_full_bucket_then_pays_it_back():
    gate = Gate(with_overrides(PROFILES["infura"], {"latency": "0,0"}), seed=1)
    batch = [(i, "eth_getBlockByNumber") for i in range(250)]  # 20,000 credits > 500/s
    assert gate.admit(batch, True).action == "serve"
    v = gate.admit([(1, "eth_blockNumber")], False)
    assert v.status == 429 and v.body["error"]["data"]["backoff_seconds"] > 30


def test_batch_caps_answer_like_geth_and_like_public_endpoints():
    geth = Gate(PROFILES["geth"], seed=1).admit([(i + 7, "eth_call") for i in range(101)], True)
    assert geth.body == [{"jsonrpc": "2.0", "id": 7, "error": {"code": -32600, "message": "batch too large"}}]
    public = Gate(with_overrides(PROFILES["public"], {"p_502": 0, "p_drop": 0, "p_hang": 0}), seed=1)
    v = public.admit([(i, "eth_call") for i in range(11)], True)
    assert v.body["error"] == {"code": -32600, "message": "batch size too large (max 10)"}


def test_caps_set_on_a_profile_without_them_get_a_generic_refusal():
    gate = Gate(with_overrides(PROFILES["none"], {"batch_cap": 2, "rate": 1}), seed=1)
    assert gate.admit([(1, "eth_call")] * 3, True).body["error"]["code"] == -32600
    assert gate.admit([(1, "eth_call")], False).status == 200  # the bucket starts full
    assert gate.admit([(1, "eth_call")], False).status == 429


def test_daily_quota_answers_402():
    gate = Gate(with_overrides(PROFILES["infura"], {"daily_quota": 1000, "rate": 1e9}), seed=1)
    assert gate.admit([(1, "eth_getLogs")] * 3, True).action == "serve"  # 765 credits
    v = gate.admit([(1, "eth_getLogs")], False)
    assert v.status == 402 and v.body["message"] == "Payment Required"


def test_range_refusals_carry_the_providers_hint(node, history):
    gate = Gate(PROFILES["infura"], seed=1)
    q = node.plan_logs([{"fromBlock": hex(ev.PAXG_START), "toBlock": hex(ev.PAXG_START + 20_000)}])
    status, err = gate.check_logs(node, q)
    assert (status, err["code"]) == (200, -32602) and err["message"] == "range 20001 exceeds limit of 10000"
    alchemy = Gate(with_overrides(PROFILES["alchemy"], {"result_cap": 10}), seed=1)
    wide = node.plan_logs([{"fromBlock": hex(ev.PAXG_START), "toBlock": hex(history.params.head)}])
    status, err = alchemy.check_logs(node, wide)
    assert status == 400 and err["message"].startswith("Log response size exceeded.")
    hint = [int(x, 16) for x in err["message"].split("[")[1].rstrip("]").split(", ")]
    assert hint[0] == ev.PAXG_START and hint[1] >= ev.PAXG_START + 1999

"""Checks of the synthetic mainnet itself (not part of the test run: `testpaths` is tests/).

    .venv/bin/pytest benchmarks/test_synthnet.py -q
"""

from __future__ import annotations

import datetime
import hashlib
import random
import sys
import time
from array import array
from pathlib import Path

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthnet import events as ev  # noqa: E402
from benchmarks.synthnet import feeds  # noqa: E402
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


# -- Chainlink's feeds -----------------------------------------------------------------------

ANSWER_UPDATED_TOPIC = "0x0559884fd3a460db3073b7fc896cc77986f16e378210ded43186175bf646fc5f"
NEW_ROUND_TOPIC = "0x0109fc6f55cf40689f02fbaad7af7fe7bbac8a3d2186600afc7d3e10cac60271"


def _call(node, to: str, data: str, n: int) -> str:
    return node.eth_call([{"to": to, "data": data}, hex(n)])


def _words(raw: str) -> list[int]:
    return [int(raw[2 + 64 * i:66 + 64 * i], 16) for i in range((len(raw) - 2) // 64)]


def _price_logs(history) -> list[tuple]:
    """(block, txi, logi, kind, a, b, amount) of every aggregator log in the history."""
    return [(history.block[i], history.txi[i], history.logi[i], history.kind[i], history.a[i],
             history.b[i], history.amount(i)) for i in range(len(history))
            if history.kind[i] in ev.AGGREGATOR_OF_KIND]


@pytest.fixture(scope="module")
def rounds(blocks):
    return feeds.generate_rounds(3, blocks, blocks.head)


def test_feed_rounds_are_deterministic_per_seed_and_do_not_scale(blocks, history, rounds):
    assert feeds.generate_rounds(3, blocks, blocks.head) == rounds
    assert feeds.generate_rounds(4, blocks, blocks.head)[:50] != rounds[:50]
    per_feed = [sum(1 for r in rounds if ev.AGGREGATORS[r.aggregator].feed == f) for f in (0, 1)]
    assert all(2_000 <= n <= 8_000 for n in per_feed), per_feed
    assert history.meta["price_rounds"] == dict(zip(ev.FEED_NAMES, per_feed))
    bigger = hist.generate(hist.Params(seed=3, scale=SCALE * 5), blocks, log=lambda _: None)
    assert _price_logs(bigger) == _price_logs(history)
    xau = [r.answer / 1e8 for r in rounds if ev.AGGREGATORS[r.aggregator].feed == 0]
    assert 1_600 < xau[0] < 2_200 and 3_000 < xau[-1] < 5_000


def test_proxy_answers_the_phases_begun_at_each_block(node, blocks):
    for f, feed in enumerate(ev.FEEDS):
        first = feed.phases[0].block
        assert _call(node, feed.proxy, "0x58303b10", first - 1) == "0x"  # no code yet
        assert _call(node, feed.proxy, "0x313ce567", first) == "0x" + format(8, "064x")
        for p, phase in enumerate(feed.phases, start=1):
            n = phase.block
            assert _words(_call(node, feed.proxy, "0x58303b10", n)) == [p]
            ask = "0xc1597304" + format(p, "064x")
            assert _call(node, feed.proxy, ask, n)[-40:] == phase.aggregator[2:]
            assert _call(node, phase.aggregator, "0x313ce567", n - 1) == "0x"
            assert _words(_call(node, phase.aggregator, "0x313ce567", n)) == [8]
            round_id, answer, started, updated, answered = _words(_call(node, feed.proxy, "0xfeaf968c", n))
            assert (round_id, answered) == (p << 64 | 1, p << 64 | 1)
            assert updated == started == blocks.timestamp(n) and answer > 0
            by_id = _words(_call(node, feed.proxy, "0x9a6fc8f5" + format(p << 64 | 1, "064x"), n))
            assert by_id == [round_id, answer, started, updated, answered]
            own = _words(_call(node, phase.aggregator, "0xfeaf968c", n))
            assert own == [1, answer, started, updated, 1]
            if p > 1:
                assert _words(_call(node, feed.proxy, "0x58303b10", n - 1)) == [p - 1]
                assert int(_call(node, feed.proxy, ask, n - 1), 16) == 0
                assert _words(_call(node, feed.proxy, "0xfeaf968c", n - 1))[0] >> 64 == p - 1
        with pytest.raises(RpcFailure):  # a phase the proxy has not had
            _call(node, feed.proxy, "0x9a6fc8f5" + format((len(feed.phases) + 1) << 64 | 1, "064x"),
                  blocks.head)


def test_price_logs_have_chainlinks_layout(node, history, rounds):
    q = node.plan_logs([{"fromBlock": hex(ev.PAXG_START), "toBlock": hex(history.params.head),
                         "address": list(ev.AGGREGATOR_ADDRESSES)}])
    logs = node.render_logs(q, True)
    assert len(logs) == 2 * len(rounds)
    transmitter = node.topic_of[ev.TRANSMITTER]
    # Rounds of two aggregators in one block sit in the order of their transactions.
    by_id = {(ev.AGGREGATORS[r.aggregator].address, r.round_id): r for r in rounds}
    for answer_log, new_round in zip(logs[::2], logs[1::2]):
        r = by_id.pop((answer_log["address"], int(answer_log["topics"][2], 16)))
        assert new_round["address"] == answer_log["address"]
        assert answer_log["topics"] == [ANSWER_UPDATED_TOPIC, "0x" + format(r.answer, "064x"),
                                        "0x" + format(r.round_id, "064x")]
        assert answer_log["data"] == "0x" + format(r.updated_at, "064x")
        assert int(answer_log["blockNumber"], 16) == r.block
        assert int(answer_log["blockTimestamp"], 16) == r.updated_at
        assert new_round["topics"] == [NEW_ROUND_TOPIC, "0x" + format(r.round_id, "064x"), transmitter]
        assert new_round["data"] == answer_log["data"]
        assert new_round["transactionHash"] == answer_log["transactionHash"]
        assert int(new_round["logIndex"], 16) == int(answer_log["logIndex"], 16) + 1
    assert not by_id
    for log in logs[:200:2]:  # the round's transaction is in its block's header, at its index
        header = orjson.loads(orjson.dumps(node.get_block([log["blockNumber"], False])))
        assert header["transactions"][int(log["transactionIndex"], 16)] == log["transactionHash"]


def test_get_logs_returns_aggregator_logs_only_when_asked(node, history, rounds):
    span = {"fromBlock": hex(ev.PAXG_START), "toBlock": hex(history.params.head)}
    topics = sorted({ev.TOPIC0[k] for k in ev.INDEXER_SCANNED})  # the indexer's filter
    tokens_only = node.plan_logs([{**span, "address": list(ev.TOKEN_ADDRESSES), "topics": [topics]}])
    logs = node.render_logs(tokens_only, False)
    assert len(logs) == node.count_logs(tokens_only) == len(history.token_blocks)
    assert not any(log["address"] in ev.AGGREGATOR_ADDRESSES for log in logs)
    both = node.plan_logs([{**span, "address": list(ev.SOURCE_ADDRESSES), "topics": [topics]}])
    logs = node.render_logs(both, False)
    assert len(logs) == node.count_logs(both) == len(history.scanned_blocks)
    answers = [log for log in logs if log["address"] in ev.AGGREGATOR_ADDRESSES]
    assert len(answers) == len(rounds)
    assert all(log["topics"][0] == ANSWER_UPDATED_TOPIC for log in answers)  # NewRound left out
    order = [(int(log["blockNumber"], 16), int(log["logIndex"], 16)) for log in logs]
    assert order == sorted(set(order))
    one = ev.AGGREGATORS[1]
    q = node.plan_logs([{**span, "address": one.address, "topics": [ANSWER_UPDATED_TOPIC]}])
    assert node.count_logs(q) == sum(1 for r in rounds if r.aggregator == 1)


def test_an_old_aggregator_overlaps_the_next_phase(history, blocks, rounds):
    overlapping = {}
    for j, a in enumerate(ev.AGGREGATORS):
        nxt = next((k for k, b in enumerate(ev.AGGREGATORS)
                    if b.feed == a.feed and b.phase == a.phase + 1), None)
        if nxt is None:
            continue
        switch = blocks.timestamp(ev.AGGREGATORS[nxt].block)
        late = [r for r in rounds if r.aggregator == j and r.updated_at >= switch]
        assert late and all(r.updated_at <= switch + feeds.OVERLAP[1] for r in late), j
        overlapping[a.feed] = overlapping.get(a.feed, 0) + len(late)
    expected = feeds.expected_prices(history, blocks, blocks.head)
    for f, name in enumerate(ev.FEED_NAMES):
        assert expected[name]["proxy_rounds"] == expected[name]["rounds"] - overlapping[f]


def test_floor_counts_the_price_blocks_and_phase_calls(history):
    lo, hi = ev.PAXG_START, history.params.head - 12
    with_prices = fl.floor(PROFILES["infura"], history.scanned_blocks, history.scanned_log_blocks, lo, hi,
                           timestamps=False, eth_calls=fl.phase_calls(hi))
    tokens = fl.floor(PROFILES["infura"], history.token_blocks, history.token_log_blocks, lo, hi,
                      timestamps=False)
    price_only = set(history.scanned_log_blocks) - set(history.token_log_blocks)
    assert with_prices["calls"]["eth_getBlockByNumber"] - tokens["calls"]["eth_getBlockByNumber"] \
        == len(price_only) > 2_000
    assert with_prices["calls"]["eth_getLogs"] == tokens["calls"]["eth_getLogs"]  # same ranges
    assert with_prices["calls"]["eth_call"] == fl.phase_calls(hi) == 9
    # Before PAXG/USD's first phase: phaseId() and one phaseAggregators() of XAU/USD, and
    # PAXG/USD's phaseId() (answered 0x).
    assert fl.phase_calls(ev.FEEDS[1].phases[0].block - 1) == 3


def test_prices_digest_is_an_md5_of_row_md5s():
    rows = [(1, 2, 3, 3 << 64 | 4, 5, 6, "0xab", "0xcd")]
    inner = hashlib.md5(f"1|2|3|{3 << 64 | 4}|5|6|0xab|0xcd".encode()).hexdigest()
    assert feeds.rows_digest(rows) == hashlib.md5(inner.encode()).hexdigest()


class _FakeConn:
    """Answers mainnet.check_prices' queries with the rows given (numeric as Decimal, as psycopg)."""

    def __init__(self, answers: dict[str, list[tuple]]):
        self.answers = answers

    def execute(self, query: str, params=None):
        rows = next(rows for key, rows in self.answers.items() if key in query)
        return type("Cursor", (), {"fetchall": lambda _: rows,
                                   "fetchone": lambda _: rows[0] if rows else None})()


def test_mainnet_check_prices_accepts_the_history_and_flags_what_differs(node, history, blocks):
    from decimal import Decimal

    from benchmarks import mainnet
    from benchmarks.synthnet.server import Server

    server = Server(("127.0.0.1", 0), node, history, 3)
    try:
        to = blocks.head - 12
        expected = server.control({"op": "expect", "to_block": to, "prices": True})
    finally:
        server.server_close()
    rows = feeds.price_rows(history, blocks, to)
    gold = feeds.proxy_rounds(rows["XAU/USD"])
    latest = max(gold, key=lambda r: (r[5], r[3]))
    closes = {}
    for r in gold:  # the last answer of each UTC day, as gold_price_daily keeps it
        closes[time.strftime("%Y-%m-%d", time.gmtime(r[5]))] = r[4]
    days = (datetime.date.fromisoformat(expected["to_block_day"])
            - datetime.date.fromisoformat(min(closes))).days + 1

    def answers(stored_rows):
        return {
            "FROM prices WHERE": [(f, len(r), feeds.rows_digest(r)) for f, r in stored_rows.items()],
            "FROM price_rounds": [(f, len(feeds.proxy_rounds(r))) for f, r in stored_rows.items()],
            "gold_price_latest": [(Decimal(latest[4]), Decimal(latest[3]), latest[5])],
            "gold_price_daily": [(min(closes), expected["to_block_day"], days,
                                  Decimal(min(closes.values())), Decimal(max(closes.values())),
                                  Decimal(latest[4]))],
            "paxg_premium_daily": [(Decimal("0.0123"),)],
        }

    ok = mainnet.check_prices(_FakeConn(answers(rows)), expected)
    assert ok["ok"], ok["problems"]
    short = {**rows, "PAXG/USD": rows["PAXG/USD"][:-1]}
    problems = mainnet.check_prices(_FakeConn(answers(short)), expected)["problems"]
    assert any(p.startswith("PAXG/USD:") and "rounds stored" in p for p in problems)
    first = rows["XAU/USD"][0]
    changed = {**rows, "XAU/USD": [first[:4] + (first[4] + 1,) + first[5:]] + rows["XAU/USD"][1:]}
    assert "digests differ" in mainnet.check_prices(_FakeConn(answers(changed)), expected)["problems"][0]


# -- silent log drops ------------------------------------------------------------------------

def _log_ranges(history, n: int, span: int = 20_000) -> list[list[dict]]:
    """eth_getLogs parameters of n ranges that each start at a block holding logs."""
    starts = sorted(set(history.block))[::7][:n]
    return [[{"fromBlock": hex(b), "toBlock": hex(b + span)}] for b in starts]


def _served(node, gate, calls) -> list[tuple[list, list]]:
    """(whole answer, served answer) of each eth_getLogs call through the gate."""
    out = []
    for params in calls:
        rendered, count = node.render_logs_json(node.plan_logs(params), False)
        served, served_count = gate.drop_logs(params, rendered, count)
        whole, kept = orjson.loads(rendered), orjson.loads(served)
        assert len(kept) == served_count
        out.append((whole, kept))
    return out


def _drop_gate(seed: int = 1, **figures) -> Gate:
    return Gate(with_overrides(PROFILES["none"], {k: str(v) for k, v in figures.items()}), seed=seed)


def _lost(whole: list, kept: list) -> list[tuple[int, int]]:
    have = {(x["blockNumber"], x["logIndex"]) for x in kept}
    return [(int(x["blockNumber"], 16), int(x["logIndex"], 16)) for x in whole
            if (x["blockNumber"], x["logIndex"]) not in have]


def test_drops_are_deterministic_per_seed_whatever_the_order_of_requests(node, history):
    calls = _log_ranges(history, 300)
    figures = {"drop_share": 0.2, "drop_logs": 2}
    first = _drop_gate(**figures)
    _served(node, first, calls)
    again = _drop_gate(**figures)
    _served(node, again, list(reversed(calls)))  # as if concurrent requests arrived otherwise
    other = _drop_gate(seed=2, **figures)
    _served(node, other, calls)
    assert first.stats.drop_answers > 20
    assert sorted(first.stats.dropped) == sorted(again.stats.dropped)
    assert sorted(first.stats.dropped) != sorted(other.stats.dropped)


def test_drop_share_is_about_right_and_answers_stay_200_with_logs_missing(node, history):
    calls = _log_ranges(history, 1_500, span=2_000)
    gate = _drop_gate(drop_share=0.1, drop_logs=2)
    served = _served(node, gate, calls)
    hit = [(w, k) for w, k in served if len(k) < len(w)]
    assert 0.07 < len(hit) / len(served) < 0.13
    assert all(len(w) - len(k) == min(2, len(w)) for w, k in hit)
    assert all(k == [x for x in w if x in k] for w, k in hit)  # the rest unchanged, in order
    lost = [x for w, k in hit for x in _lost(w, k)]
    assert gate.stats.drop_answers == len(hit) and sorted(gate.stats.dropped) == sorted(lost)
    assert gate.stats.as_dict()["drops"]["logs"] == len(lost)


def test_drop_tail_removes_the_last_logs_of_one_block_only(node, history):
    gate = _drop_gate(drop_share=1, drop_logs=2, drop_tail="true")
    served = _served(node, gate, _log_ranges(history, 200))
    tails = 0
    for whole, kept in served:
        lost = _lost(whole, kept)
        blocks = {b for b, _ in lost}
        assert len(blocks) == 1
        block = blocks.pop()
        in_block = [int(x["logIndex"], 16) for x in whole if int(x["blockNumber"], 16) == block]
        assert [i for _, i in lost] == in_block[-2:]
        tails += len(in_block) > 2
    assert tails > 10  # blocks with more logs than the tail, whose first logs stayed


def test_drop_max_caps_the_answers_that_lose_logs(node, history):
    gate = _drop_gate(drop_share=1, drop_logs=1, drop_max=3)
    served = _served(node, gate, _log_ranges(history, 50))
    assert sum(len(k) < len(w) for w, k in served) == 3
    assert gate.stats.drop_answers == 3 and len(gate.stats.dropped) == 3


def test_no_profile_drops_logs_by_default(node, history):
    calls = _log_ranges(history, 50)
    for profile in PROFILES.values():
        gate = Gate(profile, seed=1)
        assert all(w == k for w, k in _served(node, gate, calls)), profile.name
        assert gate.stats.as_dict()["drops"] == {"answers": 0, "logs": 0, "dropped": []}


def test_route_drops_logs_and_mainnet_reports_them(node, history):
    from benchmarks import mainnet
    from benchmarks.synthnet.server import Server

    server = Server(("127.0.0.1", 0), node, history, 3)
    try:
        overrides = {k: v for k, v in mainnet.parse_overrides(
            ["none.drop_share=1", "none.drop_logs=2", "none.drop_max=4"])["none"].items()}
        path = server.control({"op": "open", "profile": "none", "overrides": overrides})["path"]
        route = server.routes[path]
        body = orjson.dumps([{"jsonrpc": "2.0", "id": i, "method": "eth_getLogs", "params": params}
                             for i, params in enumerate(_log_ranges(history, 6))])
        action, status, _, out, _ = route.serve(body)
        assert (action, status) == ("answer", 200) and all("result" in a for a in orjson.loads(out))
        stats = server.control({"op": "stats", "path": path})
        plain = server.control({"op": "stats", "path": "/none/nots/0"})
    finally:
        server.server_close()
    assert stats["drops"]["answers"] == 4 and stats["drops"]["logs"] == 8
    assert len(stats["drops"]["dropped"]) == 8 and plain["drops"]["answers"] == 0
    assert mainnet.injected_drops(stats) == {"answers": 4, "logs": 8}
    assert mainnet.injected_drops(plain) is None


def test_mainnet_check_row_carries_the_drops_injected():
    from benchmarks import mainnet

    stats = {"http_requests": 10, "methods": {}, "batches": 0, "batch_items": 0, "largest_batch": 0,
             "bytes_out": 0, "credits": 10, "drops": {"answers": 4, "logs": 8, "dropped": []}}
    verify = {"ok": False, "counts_ok": False, "verify": {"agree": 3, "checks": 4}, "blocks_checked": 5,
              "blocks_bad": 0, "fee_legs": 1, "expected_fee_legs": 1, "drops_injected": 4}
    run = {"profile": "none", "timestamps": False, "node": stats, "floor": {
               "calls": {"eth_getLogs": 1, "eth_getBlockByNumber": 1}, "credits": 2,
               "linked_extra_headers": 0, "linked_credits": 0, "total_calls": 2},
           "sync": {"stopped": False, "exit_code": 0, "wall_seconds": 1.0, "peak_rss_mb": 1.0,
                    "cpu_seconds": {}},
           "drops_injected": mainnet.injected_drops(stats), "verify": verify}
    col = mainnet.column(run)
    assert col["result"].startswith("done, WRONG")
    assert col["check"].startswith("logs != history") and col["check"].endswith("drops injected 4")
    assert col["drops injected"] == "4 answers (8 logs)"
    assert "drops injected" in mainnet.table([run])


@pytest.mark.parametrize("tail", [False, True])
def test_drop_events_takes_only_logs_of_those_events(node, history, tail):
    transfer = ev.TOPIC0[ev.P_TRANSFER]
    gate = _drop_gate(drop_share=1, drop_logs=2, drop_tail=tail, drop_events="Transfer")
    served = _served(node, gate, _log_ranges(history, 200))
    kinds = {(x["blockNumber"], x["logIndex"]): x["topics"][0] for w, _ in served for x in w}
    lost = [(hex(b), hex(i)) for w, k in served for b, i in _lost(w, k)]
    assert len(lost) > 100
    if tail:  # a block's tail holding at least one transfer, the rest of the tail with it
        assert any(kinds[x] == transfer for x in lost)
    else:
        assert all(kinds[x] == transfer for x in lost)
    assert any(t != transfer for w, _ in served for t in (x["topics"][0] for x in w))
    with pytest.raises(ValueError, match="unknown event"):
        _drop_gate(drop_share=1, drop_logs=2, drop_events="Transfer,Nope")

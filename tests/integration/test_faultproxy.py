"""tests/faultproxy.py against a real anvil: each fault class is observable, rate 0 is a
transparent proxy, and a seed gives a reproducible sequence of decisions."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from tests.faultproxy import ALL_FAULTS, FaultProxy, other_fork_hash

pytestmark = pytest.mark.integration

BATCH_FAULTS = {"http_429", "http_500", "timeout", "truncated", "credits", "null_block",
                "fork_header"}


def req(method: str, params: list | None = None, rid=1) -> dict:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or []}


def post(url: str, payload, timeout: float = 10) -> requests.Response:
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return requests.post(url, data=data, headers={"Content-Type": "application/json"},
                         timeout=timeout)


def get_logs(lo, hi, rid=1, **extra) -> dict:
    flt = {"fromBlock": lo if isinstance(lo, str) else hex(lo),
           "toBlock": hi if isinstance(hi, str) else hex(hi), **extra}
    return req("eth_getLogs", [flt], rid)


@pytest.fixture
def mined(anvil):
    anvil.rpc("anvil_mine", ["0x20"])
    return anvil


def only(mined, fault: str, **kw) -> FaultProxy:
    return FaultProxy(mined.url, seed=1, rate=1.0, faults=(fault,), **kw)


def assert_injected(proxy: FaultProxy, fault: str, n: int = 1) -> None:
    assert proxy.counts[fault] == n
    assert sum(1 for f, _ in proxy.events if f == fault) == n


# --- rate 0 ----------------------------------------------------------------------------------

def test_rate_zero_forwards_everything_unchanged(mined):
    payloads = [
        req("eth_chainId"),
        req("eth_blockNumber", rid="str-id"),
        req("eth_getBlockByNumber", ["0x3", False], rid=42),
        req("eth_getBlockByNumber", ["0x999", False]),  # not found: result null
        get_logs(0, "latest"),
        [req("eth_blockNumber", rid=1), req("eth_getBlockByNumber", ["0x1", False], rid=2)],
        b"this is not json",
        [],
    ]
    with FaultProxy(mined.url, seed=3, rate=0.0) as proxy:
        assert proxy.url.startswith("http://127.0.0.1:")
        for p in payloads:
            direct, via = post(mined.url, p), post(proxy.url, p)
            assert via.status_code == direct.status_code
            assert via.json() == direct.json()
    assert proxy.events == []
    assert proxy.counts == {"forwarded": len(payloads)}


# --- each fault class --------------------------------------------------------------------------

def test_http_429_alternates_retry_after(mined):
    with only(mined, "http_429") as proxy:
        answers = [post(proxy.url, req("eth_blockNumber")) for _ in range(3)]
        batch = post(proxy.url, [req("eth_blockNumber"), req("eth_chainId", rid=2)])
    for r in answers + [batch]:
        assert r.status_code == 429
        assert r.json() == {"error": "rate limited"}
    assert [r.headers["Retry-After"] for r in answers + [batch]] == ["0", "1", "0", "1"]
    assert proxy.counts == {"http_429": 4}
    assert proxy.events[-1] == ("http_429", "batch")


def test_http_500(mined):
    with only(mined, "http_500") as proxy:
        r = post(proxy.url, req("eth_blockNumber"))
    assert r.status_code == 500
    assert r.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(ValueError):
        r.json()
    assert proxy.events == [("http_500", "eth_blockNumber")]


def test_timeout_closes_without_answer(mined):
    with only(mined, "timeout", timeout_seconds=2) as proxy:
        with pytest.raises(requests.Timeout):
            post(proxy.url, req("eth_blockNumber"), timeout=1)
        proxy.set_rate(0.0)  # the proxy still serves others while one handler sleeps
        assert post(proxy.url, req("eth_blockNumber")).json()["result"] == "0x20"
    assert proxy.counts == {"timeout": 1, "forwarded": 1}


def test_truncated_returns_half_the_body(mined):
    payload = req("eth_getBlockByNumber", ["0x5", False])
    batch = [req("eth_blockNumber"), req("eth_getBlockByNumber", ["0x5", False], rid=2)]
    with only(mined, "truncated") as proxy:
        for p in (payload, batch):
            full = post(mined.url, p).content
            r = post(proxy.url, p)
            assert r.status_code == 200
            assert r.content == full[: len(full) // 2]
            with pytest.raises(ValueError):
                r.json()
    assert proxy.counts == {"truncated": 2}


HINT = re.compile(r"\[(0x[0-9a-f]+), (0x[0-9a-f]+)\]")


def test_range_hint_is_valid(mined):
    with only(mined, "range_hint") as proxy:
        body = post(proxy.url, get_logs(2, 0x20, rid=9)).json()
    assert body["id"] == 9 and "result" not in body
    assert body["error"]["code"] == -32005
    assert body["error"]["message"] == ("query returned more than 10000 results. "
                                        "Try with this block range [0x2, 0x11].")
    lo, hi = (int(x, 16) for x in HINT.search(body["error"]["message"]).groups())
    assert 2 <= lo < hi < 0x20
    assert proxy.events == [("range_hint", "eth_getLogs")]


def test_range_inverted_hint(mined):
    with only(mined, "range_inverted_hint") as proxy:
        body = post(proxy.url, get_logs(2, 0x20, rid="x")).json()
    assert body["id"] == "x"
    assert body["error"]["code"] == -32602
    assert body["error"]["message"].startswith("Log response size exceeded.")
    assert body["error"]["message"].endswith("this block range should work: [0x11, 0x2]")


def test_range_no_hint_and_tags(mined):
    with only(mined, "range_no_hint") as proxy:
        # "earliest".."latest" is resolved against upstream: spans 0x0..0x20
        body = post(proxy.url, get_logs("earliest", "latest")).json()
        assert body["error"] == {"code": -32600, "message": "block range is too wide"}
        # not applicable: one block, a blockHash filter, a batch, another method
        block5 = mined.rpc("eth_getBlockByNumber", ["0x5", False])
        for p in (get_logs(5, 5), req("eth_getLogs", [{"blockHash": block5["hash"]}]),
                  [get_logs(0, 0x20)], req("eth_blockNumber")):
            direct, via = post(mined.url, p).json(), post(proxy.url, p).json()
            assert via == direct
    assert proxy.counts == {"range_no_hint": 1, "forwarded": 4}


def test_range_hint_with_latest(mined):
    with only(mined, "range_hint") as proxy:
        body = post(proxy.url, get_logs(0x10, "latest")).json()
    assert body["error"]["message"].endswith("[0x10, 0x18].")


def test_credits_single_and_batch(mined):
    with only(mined, "credits") as proxy:
        single = post(proxy.url, req("eth_chainId", rid=5)).json()
        batch = post(proxy.url, [req("eth_chainId", rid=1), req("eth_blockNumber", rid=2)]).json()
    assert single == {"jsonrpc": "2.0", "id": 5,
                      "error": {"code": -32012, "message": "credits limited"}}
    assert isinstance(batch, dict)  # one error object for the whole batch, not an array
    assert batch["error"] == {"code": -32012, "message": "credits limited"}
    assert proxy.events == [("credits", "eth_chainId"), ("credits", "batch")]


def test_null_block_single_and_batch(mined):
    batch = [req("eth_blockNumber", rid=1), req("eth_getBlockByNumber", ["0x3", False], rid=2),
             req("eth_getBlockByNumber", ["0x4", False], rid=3)]
    with only(mined, "null_block") as proxy:
        single = post(proxy.url, req("eth_getBlockByNumber", ["0x3", False], rid=7)).json()
        assert single == {"jsonrpc": "2.0", "id": 7, "result": None}
        direct = {e["id"]: e for e in post(mined.url, batch).json()}
        via = post(proxy.url, batch).json()
        assert isinstance(via, list) and len(via) == 3
        via = {e["id"]: e for e in via}
        nulled = [i for i in (2, 3) if via[i]["result"] is None]
        assert len(nulled) == 1
        assert all(via[i] == direct[i] for i in (1, 2, 3) if i not in nulled)
        # not applicable elsewhere
        assert post(proxy.url, req("eth_blockNumber")).json()["result"] == "0x20"
        assert post(proxy.url, [req("eth_blockNumber")]).json()[0]["result"] == "0x20"
    assert proxy.counts == {"null_block": 2, "forwarded": 2}


def test_lagging_head(mined):
    with only(mined, "lagging_head") as proxy:
        head = post(proxy.url, req("eth_blockNumber")).json()
        logs = post(proxy.url, get_logs(5, 5, rid=3)).json()
        untouched = post(proxy.url, req("eth_chainId")).json()
    assert head["result"] == hex(0x20 - 5)
    assert logs == {"jsonrpc": "2.0", "id": 3, "error": {
        "code": -32000, "message": "block range extends beyond current head block"}}
    assert untouched["result"] == "0x7a69"
    assert proxy.events == [("lagging_head", "eth_blockNumber"), ("lagging_head", "eth_getLogs")]


def test_lagging_head_not_below_zero(anvil):
    with FaultProxy(anvil.url, seed=1, rate=1.0, faults=("lagging_head",)) as proxy:
        assert post(proxy.url, req("eth_blockNumber")).json()["result"] == "0x0"


def test_missing_logs(chain):
    chain.send(chain.xaut.functions.mint(chain.users[0], 1), chain.deployer)
    everything = get_logs(0, "latest")
    direct = post(chain.anvil.url, everything).json()["result"]
    assert len(direct) >= 2
    with FaultProxy(chain.anvil.url, seed=1, rate=1.0, faults=("missing_logs",)) as proxy:
        via = post(proxy.url, everything).json()
        assert via["result"] == direct[:-1]
        # fewer than two logs: nothing to drop, forwarded as is
        assert post(proxy.url, get_logs(0, 0)).json()["result"] == []
    assert proxy.counts == {"missing_logs": 1, "forwarded": 1}


def test_fork_log_gives_the_last_block_of_the_answer_another_hash(chain):
    for user in chain.users[:2]:  # two blocks of two logs each (Transfer, Mint)
        chain.send(chain.xaut.functions.mint(user, 1), chain.deployer)
    everything = get_logs(0, "latest")
    direct = post(chain.anvil.url, everything).json()["result"]
    last = direct[-1]["blockHash"]
    assert sum(e["blockHash"] == last for e in direct) == 2 < len(direct)
    with FaultProxy(chain.anvil.url, seed=1, rate=1.0, faults=("fork_log",)) as proxy:
        via = post(proxy.url, everything).json()["result"]
        # no logs: nothing to alter, forwarded as is
        assert post(proxy.url, get_logs(0, 0)).json()["result"] == []
    forged = other_fork_hash(last)
    assert len(forged) == 66 and forged != last
    assert via == [{**e, "blockHash": forged} if e["blockHash"] == last else e for e in direct]
    assert proxy.counts == {"fork_log": 1, "forwarded": 1}


def test_fork_header_gives_the_second_to_last_header_of_a_batch_another_hash(mined):
    batch = [req("eth_blockNumber", rid=1)] + [
        req("eth_getBlockByNumber", [hex(n), False], rid=n) for n in (3, 4, 5)]
    with only(mined, "fork_header") as proxy:
        direct = {e["id"]: e for e in post(mined.url, batch).json()}
        via = {e["id"]: e for e in post(proxy.url, batch).json()}
        # not applicable: one header, headers by tag, a single request
        for p in ([req("eth_getBlockByNumber", ["0x3", False])],
                  [req("eth_getBlockByNumber", ["latest", False], rid=1),
                   req("eth_getBlockByNumber", ["finalized", False], rid=2)],
                  req("eth_getBlockByNumber", ["0x3", False])):
            assert post(proxy.url, p).json() == post(mined.url, p).json()
    forged = other_fork_hash(direct[4]["result"]["hash"])
    assert via[4]["result"] == {**direct[4]["result"], "hash": forged}
    assert via[5]["result"]["parentHash"] != forged  # block 5 no longer builds on it
    assert all(via[i] == direct[i] for i in (1, 3, 5))
    assert proxy.counts == {"fork_header": 1, "forwarded": 3}
    assert proxy.events == [("fork_header", "batch")]


def test_fork_head_answers_a_block_by_number_with_another_hash(mined):
    with only(mined, "fork_head") as proxy:
        direct = post(mined.url, req("eth_getBlockByNumber", ["0x20", False])).json()
        via = post(proxy.url, req("eth_getBlockByNumber", ["0x20", False])).json()
        # not applicable: a tag, an unknown block, a batch, another method
        for p in (req("eth_getBlockByNumber", ["latest", False]),
                  req("eth_getBlockByNumber", ["0x999", False]),
                  [req("eth_getBlockByNumber", ["0x20", False])], req("eth_blockNumber")):
            assert post(proxy.url, p).json() == post(mined.url, p).json()
    assert via["result"] == {**direct["result"], "hash": other_fork_hash(direct["result"]["hash"])}
    assert proxy.counts == {"fork_head": 1, "forwarded": 4}


def test_max_faults_forwards_everything_after_the_limit(mined):
    with FaultProxy(mined.url, seed=5, rate=1.0, faults=("http_500",), max_faults=2) as proxy:
        statuses = [post(proxy.url, req("eth_blockNumber")).status_code for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    assert proxy.counts == {"http_500": 2, "forwarded": 2}
    assert proxy.decisions == ["http_500", "http_500", "forwarded", "forwarded"]


# --- decisions, counts ------------------------------------------------------------------------

def run_sequence(url: str, seed: int, faults=tuple(f for f in ALL_FAULTS if f != "timeout")):
    script = [req("eth_blockNumber"), get_logs(0, 0x20), req("eth_getBlockByNumber", ["0x2", False]),
              [req("eth_chainId", rid=1), req("eth_getBlockByNumber", ["0x1", False], rid=2)],
              b"not json"] * 8
    with FaultProxy(url, seed=seed, rate=0.5, faults=faults) as proxy:
        for p in script:
            post(proxy.url, p)
    return proxy, len(script)


def test_same_seed_same_decisions_and_counts_add_up(mined):
    a, n = run_sequence(mined.url, seed=1234)
    b, _ = run_sequence(mined.url, seed=1234)
    c, _ = run_sequence(mined.url, seed=99)
    assert a.decisions == b.decisions and a.events == b.events and a.counts == b.counts
    assert a.decisions != c.decisions
    for p in (a, b, c):
        assert sum(p.counts.values()) == n  # each request counted once
        injected = sum(v for k, v in p.counts.items() if k != "forwarded")
        assert injected == len(p.events) > 0
        assert p.counts["forwarded"] >= 8  # the non-JSON bodies are never faulted
        for fault, method in p.events:
            if method == "batch":
                assert fault in BATCH_FAULTS


def test_set_rate(mined):
    with FaultProxy(mined.url, seed=5, rate=1.0, faults=("http_500",)) as proxy:
        assert post(proxy.url, req("eth_blockNumber")).status_code == 500
        proxy.set_rate(0.0)
        assert post(proxy.url, req("eth_blockNumber")).json()["result"] == "0x20"
        proxy.set_rate(1.0)
        assert post(proxy.url, req("eth_blockNumber")).status_code == 500
    assert proxy.counts == {"http_500": 2, "forwarded": 1}


def test_unknown_fault_rejected(anvil):
    with pytest.raises(ValueError):
        FaultProxy(anvil.url, seed=0, faults=("nope",))


# --- provider limits ---------------------------------------------------------------------------

def headers_batch(n: int, first: int = 1) -> list[dict]:
    return [req("eth_getBlockByNumber", [hex(b), False], rid=b) for b in range(first, first + n)]


def test_batch_cap_refuses_longer_batches_as_a_public_endpoint_does(mined):
    with FaultProxy(mined.url, seed=1, batch_cap=3) as proxy:
        refused = post(proxy.url, headers_batch(4))
        ok = post(proxy.url, headers_batch(3))
        single = post(proxy.url, req("eth_blockNumber"))
    assert refused.status_code == 200
    assert refused.json() == {"jsonrpc": "2.0", "id": None, "error": {
        "code": -32600, "message": "batch size too large (max 3)"}}
    assert [e["id"] for e in ok.json()] == [1, 2, 3]
    assert single.json()["result"] == "0x20"
    assert proxy.counts == {"batch_cap": 1, "forwarded": 2}
    assert proxy.events == [("batch_cap", "batch")]
    assert sum(proxy.calls.values()) == 8 and proxy.limited == {"batch": 4}
    assert proxy.largest_batch == 3


def test_batch_cap_answers_as_geth_and_with_http_413(mined):
    with FaultProxy(mined.url, seed=1, batch_cap=2, batch_answer="geth") as proxy:
        geth = post(proxy.url, headers_batch(3, first=5))
    assert geth.json() == [{"jsonrpc": "2.0", "id": 5,
                            "error": {"code": -32600, "message": "batch too large"}}]
    with FaultProxy(mined.url, seed=1, batch_cap=2, batch_answer="http413") as proxy:
        r = post(proxy.url, headers_batch(3))
    assert r.status_code == 413 and r.text == "Request Entity Too Large"


def test_quota_answers_402_until_it_is_lifted(mined):
    with FaultProxy(mined.url, seed=1) as proxy:
        proxy.set_quota(True)
        single = post(proxy.url, req("eth_blockNumber"))
        batch = post(proxy.url, headers_batch(2))
        proxy.set_quota(False)
        after = post(proxy.url, req("eth_blockNumber"))
    for r in (single, batch):
        assert r.status_code == 402
        assert r.json() == {"code": 402, "message": "Payment Required", "details": (
            "You have reached your daily credit limit. To continue, upgrade your plan or wait "
            "for the daily reset at 00:00 UTC.")}
    assert after.json()["result"] == "0x20"
    assert proxy.counts == {"quota": 2, "forwarded": 1}
    assert proxy.limited == {"quota": 3}


def test_rate_limit_is_a_token_bucket_of_one_second(mined):
    costs = {"eth_getBlockByNumber": 80, "eth_blockNumber": 80}
    with FaultProxy(mined.url, seed=1, rate_limit=400, costs=costs,
                    rate_answer="infura") as proxy:
        first = [post(proxy.url, req("eth_blockNumber")) for _ in range(5)]  # 400 credits
        refused = post(proxy.url, req("eth_blockNumber", rid=7))
        batch = post(proxy.url, headers_batch(2))
        time.sleep(0.45)  # 180 credits back
        again = post(proxy.url, headers_batch(2))
    assert all(r.status_code == 200 for r in first)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert refused.json()["id"] == 7 and error["code"] == -32005
    assert error["message"] == "project ID request rate exceeded"
    assert 0 < error["data"]["backoff_seconds"] <= 0.2
    assert batch.status_code == 429 and [e["id"] for e in batch.json()] == [1, 2]
    assert again.status_code == 200
    assert proxy.limited == {"rate": 3} and sum(proxy.calls.values()) == 10


def test_rate_limit_lets_a_request_larger_than_the_bucket_through_a_full_bucket(mined):
    with FaultProxy(mined.url, seed=1, rate_limit=5, rate_answer="public") as proxy:
        big = post(proxy.url, headers_batch(8))  # 8 calls, more than a second's 5
        refused = post(proxy.url, req("eth_blockNumber"))
    assert big.status_code == 200 and len(big.json()) == 8
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.json()["error"] == {"code": 429, "message": "Too Many Requests"}


@pytest.mark.parametrize("kind,code", [("alchemy", 429), ("quicknode", -32007)])
def test_rate_limit_answers_in_the_providers_words(mined, kind, code):
    with FaultProxy(mined.url, seed=1, rate_limit=1, rate_answer=kind) as proxy:
        post(proxy.url, req("eth_blockNumber"))
        r = post(proxy.url, req("eth_blockNumber"))
    assert r.status_code == 429 and r.json()["error"]["code"] == code
    assert ("compute units per second" if kind == "alchemy" else "1/second request limit reached") \
        in r.json()["error"]["message"]


# --- an incomplete log index, pruned state ------------------------------------------------------

TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def some_blocks(chain) -> int:
    """Four blocks of two logs each (XAUT's Transfer then Mint), then two of one (a transfer);
    returns the first."""
    first = chain.w3.eth.block_number + 1
    for user in chain.users[:4]:
        chain.send(chain.xaut.functions.mint(user, 5), chain.deployer)
    for user in chain.users[1:3]:
        chain.send(chain.xaut.functions.transfer(user, 1), chain.users[0])
    return first


def test_drop_logs_takes_random_logs_out_of_a_share_of_answers(chain):
    everything = get_logs(some_blocks(chain), "latest")
    direct = post(chain.anvil.url, everything).json()["result"]
    assert len(direct) == 10
    with FaultProxy(chain.anvil.url, seed=2, drop_logs=3, drop_share=0.5) as proxy:
        answers = [post(proxy.url, {**everything, "id": i}).json()["result"] for i in range(40)]
    short = [a for a in answers if len(a) < len(direct)]
    assert 10 <= len(short) <= 30  # about half, each missing exactly three logs, still in order
    assert all(len(a) == 7 and a == [e for e in direct if e in a] for a in short)
    assert proxy.counts == {"drop_logs": len(short), "forwarded": 40 - len(short)}
    assert len(proxy.dropped) == 3 * len(short)
    assert len({tuple(e["logIndex"] for e in a) + tuple(e["blockNumber"] for e in a)
                for a in short}) > 1  # not the same logs every time


def test_drop_tail_takes_the_last_logs_of_one_block(chain):
    everything = get_logs(some_blocks(chain), "latest")
    direct = post(chain.anvil.url, everything).json()["result"]
    with FaultProxy(chain.anvil.url, seed=3, drop_logs=1, drop_share=1.0, drop_tail=True,
                    drop_where=lambda e: e["topics"][0] == TRANSFER) as proxy:
        answers = [post(proxy.url, {**everything, "id": i}).json()["result"] for i in range(20)]
    # Only tails holding a Transfer: the last log of the two transfer blocks (the mint
    # blocks end with their Mint).
    tails = [e for e in direct if e["topics"][0] == TRANSFER and e["data"] == "0x" + "0" * 63 + "1"]
    assert len(tails) == 2
    for answer in answers:
        [gone] = [e for e in direct if e not in answer]
        assert gone in tails
    assert {e["blockNumber"] for e in proxy.dropped} == {e["blockNumber"] for e in tails}
    with FaultProxy(chain.anvil.url, seed=3, drop_logs=5, drop_share=1.0, drop_tail=True) as proxy:
        answer = post(proxy.url, everything).json()["result"]
    [block] = {e["blockNumber"] for e in proxy.dropped}
    assert len(proxy.dropped) == sum(e["blockNumber"] == block for e in direct)  # the whole block
    assert answer == [e for e in direct if e["blockNumber"] != block]


def test_drops_are_the_same_for_a_seed_and_stop_at_max_drops(chain):
    first = some_blocks(chain)

    def run(seed, **kw):
        with FaultProxy(chain.anvil.url, seed=seed, drop_logs=2, drop_share=0.5, **kw) as proxy:
            for i in range(12):
                post(proxy.url, get_logs(first, "latest", rid=i))
                post(proxy.url, get_logs(first + 1, "latest", rid=i))
        return proxy

    a, b, c = run(11), run(11), run(12)
    assert a.dropped == b.dropped and a.decisions == b.decisions
    assert a.dropped != c.dropped
    capped = run(11, max_drops=2)
    assert capped.counts["drop_logs"] == 2 and capped.dropped == a.dropped[:4]


def test_state_window_answers_old_eth_calls_with_missing_trie_node(chain):
    chain.anvil.rpc("anvil_mine", ["0x8"])
    head = chain.w3.eth.block_number
    call = {"to": chain.xaut.address, "data": "0x18160ddd"}  # totalSupply()
    with FaultProxy(chain.anvil.url, seed=1, state_window=2) as proxy:
        old = post(proxy.url, req("eth_call", [call, hex(head - 3)])).json()
        recent = post(proxy.url, req("eth_call", [call, hex(head - 2)])).json()
        latest = post(proxy.url, req("eth_call", [call, "latest"])).json()
        batch = post(proxy.url, [req("eth_call", [call, hex(head - 5)], rid=1),
                                 req("eth_call", [call, hex(head)], rid=2)]).json()
    assert old["error"]["code"] == -32000
    assert re.fullmatch(r"missing trie node ([0-9a-f]{64}) \(path \) state 0x\1 is not available, "
                        r"not found", old["error"]["message"])
    assert "result" in recent and "result" in latest
    assert batch[0]["error"]["message"].startswith("missing trie node ") and "result" in batch[1]
    assert proxy.counts["missing_state"] == 2

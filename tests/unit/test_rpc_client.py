"""RpcClient against scripted HTTP answers (no network, no real sleep): rate refusals do not
use up the attempts meant for faults, a refused batch is cut down to the endpoint's cap, a
used-up quota pauses a client with a stop event and fails one without, the stop event ends
every wait, and the stats count what was sent."""

from __future__ import annotations

import logging
import threading

import orjson
import pytest

from indexer.errors import RpcError
from indexer.rpc import PRESETS, Endpoint, RpcClient, RpcStopped
from tests.unit.test_pacing import Clock


class Answer:
    def __init__(self, status: int, body, headers: dict | None = None):
        self.status_code = status
        self.headers = headers or {}
        self.content = body if isinstance(body, bytes) else orjson.dumps(body)


class Node:
    """A fake session: answers each POST with `script(payload)` (an Answer), else as a node
    with blocks numbered as asked, and remembers what was posted."""

    def __init__(self, script=None):
        self.script = script
        self.posted: list = []

    def post(self, url, data, timeout):
        payload = orjson.loads(data)
        self.posted.append(payload)
        if self.script is not None:
            answer = self.script(payload)
            if answer is not None:
                return answer
        items = payload if isinstance(payload, list) else [payload]
        out = [{"jsonrpc": "2.0", "id": i["id"], "result": self.result(i)} for i in items]
        return Answer(200, out if isinstance(payload, list) else out[0])

    @staticmethod
    def result(item):
        if item["method"] == "eth_getBlockByNumber":
            number = item["params"][0]
            return {"number": number if number.startswith("0x") else "0xc",
                    "hash": "0x" + "ab" * 32}
        return "0x10"

    def close(self):
        pass


def client(node: Node, *, pricing: str = "none", clock: Clock | None = None, stop=None,
           max_attempts: int = 3, **endpoint) -> tuple[RpcClient, Clock]:
    clock = clock or Clock()
    ep = Endpoint("https://rpc.example/KEY", pricing=PRESETS[pricing], clock=clock,
                  wall=clock.wall, **endpoint)
    rpc = RpcClient([ep], max_attempts=max_attempts, backoff=0.01, stop=stop)
    rpc._session = node

    def sleep(seconds):  # the client's waits, on the fake clock; the stop event still counts
        if stop is not None and stop.is_set():
            raise RpcStopped("stopped")
        clock.sleep(seconds)

    rpc._sleep = sleep
    return rpc, clock


def infura_429(wait: float = 0.5) -> Answer:
    return Answer(429, {"jsonrpc": "2.0", "id": 1, "error": {
        "code": -32005, "message": "project ID request rate exceeded",
        "data": {"backoff_seconds": wait}}})


def test_rate_refusals_do_not_use_up_the_attempts_for_faults():
    refusals = iter(range(20))

    def script(payload):
        return infura_429() if next(refusals, None) is not None else None

    rpc, clock = client(Node(script), pricing="infura", max_attempts=2)
    assert rpc.fetch_block_number() == 16  # 20 refusals, then an answer, with 2 attempts
    assert rpc.stats.refused == {"rate": 20}
    assert rpc.stats.requests == 21 and rpc.stats.retries == 20
    # Each refusal held the endpoint for its backoff_seconds before the next attempt.
    assert sum(clock.slept) >= 20 * 0.5
    assert rpc.endpoints[0].pacer.rate() < 500 * 0.9  # and the budget was cut


def test_faults_still_give_up_after_max_attempts():
    rpc, _ = client(Node(lambda p: Answer(502, b"bad gateway")), max_attempts=3)
    with pytest.raises(RpcError, match="eth_blockNumber failed 3 times; last error: HTTP 502"):
        rpc.fetch_block_number()
    assert rpc.stats.requests == 3 and rpc.stats.refused == {"other": 3}


def test_batch_refused_as_too_large_is_cut_to_the_cap_named_and_remembered(caplog):
    def script(payload):
        if isinstance(payload, list) and len(payload) > 10:
            return Answer(200, {"jsonrpc": "2.0", "id": None, "error": {
                "code": -32600, "message": "batch size too large (max 10)"}})

    node = Node(script)
    rpc, _ = client(node)
    with caplog.at_level(logging.WARNING):
        headers = rpc.fetch_headers(list(range(1, 26)))
        rpc.fetch_headers(list(range(26, 51)))
    assert sorted(headers) == list(range(1, 26))
    assert [len(p) for p in node.posted] == [25, 10, 10, 5, 10, 10, 5]
    assert rpc.stats.refused == {"batch": 25}
    warnings = [r.getMessage() for r in caplog.records if "refuses batches" in r.getMessage()]
    assert warnings == ["https://rpc.example/… refuses batches of 25 calls (-32600: batch size too "
                        "large (max 10)): at most 10 per batch from now on"]


@pytest.mark.parametrize("answer", [
    Answer(413, b"Request Entity Too Large"),
    Answer(200, [{"jsonrpc": "2.0", "id": 1, "error": {"code": -32600,
                                                      "message": "batch too large"}}]),
], ids=["http-413", "geth"])
def test_batches_refused_without_a_cap_are_halved_down_to_single_calls(answer):
    node = Node(lambda p: answer if isinstance(p, list) else None)
    rpc, _ = client(node)
    assert sorted(rpc.fetch_headers([1, 2, 3, 4])) == [1, 2, 3, 4]
    # 4 refused, 2 refused, then single requests (no batch at all).
    assert [len(p) if isinstance(p, list) else "single" for p in node.posted] == \
        [4, 2] + ["single"] * 4
    assert rpc.fetch_chain_head() == (16, 12, 12)  # the chain head: one call at a time too
    assert all(isinstance(p, dict) for p in node.posted[-3:])


def test_headers_are_batched_by_the_budget():
    node = Node()
    rpc, _ = client(node, pricing="infura")
    rpc.fetch_headers(list(range(1, 21)), chunk=250)
    assert [len(p) for p in node.posted] == [5, 5, 5, 5]  # 5 × 80 credits ≤ 450 paced per second
    assert rpc.batch_room("eth_getBlockByNumber", 250) == 5
    assert rpc.batch_room("eth_getLogs", 250) == 1
    usage = rpc.usage()
    assert usage["requests"] == {"eth_getBlockByNumber": 4}
    assert usage["calls"] == {"eth_getBlockByNumber": 20}
    assert usage["credits"] == {"eth_getBlockByNumber": 1600}
    assert (usage["pricing"], usage["unit"], usage["paused_until"]) == ("infura", "credits", None)


def infura_402() -> Answer:
    return Answer(402, {"code": 402, "message": "Payment Required",
                        "details": "You have reached your daily credit limit. ..."})


def test_quota_pauses_a_client_with_a_stop_event_until_it_is_lifted(caplog):
    state = {"refusals": 3}

    def script(payload):
        if state["refusals"]:
            state["refusals"] -= 1
            return infura_402()

    heard = []
    rpc, clock = client(Node(script), pricing="alchemy", stop=threading.Event(),
                        max_attempts=1, quota_retry_minutes=5)
    rpc.endpoints[0].add_pause_listener(lambda url, until, reason: heard.append((url, until)))
    with caplog.at_level(logging.INFO):
        assert rpc.fetch_block_number() == 16  # never failed, one attempt allowed
    assert sum(clock.slept) == pytest.approx(3 * 300)  # three tries, five minutes apart
    assert rpc.stats.refused == {"quota": 3} and rpc.stats.credits == 10
    text = [r.getMessage() for r in caplog.records]
    started = [t for t in text if "quota used up" in t]
    assert len(started) == 1 and "pausing until" in started[0]
    assert "Payment Required: You have reached your daily credit limit" in started[0]
    assert sum("quota still used up" in t for t in text) == 2
    assert any("answers again" in t for t in text)
    assert [u for _, u in heard][-1] is None and len(heard) == 4  # started, twice renewed, over
    assert heard[0][0] == "https://rpc.example/…"


def test_quota_fails_a_one_shot_client_with_a_clear_message():
    rpc, _ = client(Node(lambda p: infura_402()))
    with pytest.raises(RpcError, match=r"eth_blockNumber: the provider's quota is used up \(HTTP "
                                       r"402 from https://rpc.example/…: Payment Required"):
        rpc.fetch_block_number()


def test_stop_event_ends_a_quota_pause_and_a_back_off():
    stop = threading.Event()
    rpc, clock = client(Node(lambda p: infura_402()), stop=stop, quota_retry_minutes=60)
    real_sleep = rpc._sleep

    def sleep(seconds):
        if seconds > 1:
            stop.set()  # SIGTERM during the pause
        real_sleep(seconds)

    rpc._sleep = sleep
    with pytest.raises(RpcStopped):
        rpc.fetch_block_number()
    stop.clear()
    rpc2, _ = client(Node(lambda p: Answer(503, b"busy")), stop=stop, max_attempts=50)
    stop.set()
    with pytest.raises(RpcStopped):
        rpc2.fetch_block_number()
    assert rpc2.stats.requests == 1  # no second attempt after the stop


def test_real_stop_event_wakes_a_sleeping_client_at_once():
    stop = threading.Event()
    ep = Endpoint("https://rpc.example/KEY", pricing=PRESETS["alchemy"], quota_retry_minutes=60)
    rpc = RpcClient([ep], stop=stop)
    rpc._session = Node(lambda p: infura_402())
    threading.Timer(0.2, stop.set).start()
    import time
    started = time.monotonic()
    with pytest.raises(RpcStopped):
        rpc.fetch_block_number()
    assert time.monotonic() - started < 2


def test_unconfigured_endpoint_learns_a_budget_at_its_first_rate_refusal_and_says_so(caplog):
    state = {"refuse": 0}

    def script(payload):
        if state["refuse"]:
            state["refuse"] -= 1
            return Answer(429, b"", {"Retry-After": "1"})

    rpc, clock = client(Node(script))
    for _ in range(40):
        rpc.fetch_block_number()
        clock.advance(0.05)  # 20 calls a second
    assert rpc.endpoints[0].pacer.rate() is None
    state["refuse"] = 3
    with caplog.at_level(logging.WARNING):
        rpc.fetch_block_number()
        clock.advance(10)
        rpc.fetch_block_number()
    learned = [r.getMessage() for r in caplog.records if "no budget is configured" in r.getMessage()]
    assert len(learned) == 1 and "pacing to 14 calls/s" in learned[0], learned
    assert rpc.stats.refused == {"rate": 3}


def test_quota_used_up_on_one_endpoint_moves_to_a_fallback_without_waiting(caplog):
    clock = Clock()
    stop = threading.Event()
    first = Endpoint("https://a.example/KEY", pricing=PRESETS["infura"], clock=clock,
                     wall=clock.wall)
    second = Endpoint("https://b.example/KEY", pricing=PRESETS["infura"], clock=clock,
                      wall=clock.wall)
    rpc = RpcClient([first, second], stop=stop)

    class Session(Node):
        def post(self, url, data, timeout):
            if url.startswith("https://a."):
                self.posted.append("a")
                return infura_402()
            return super().post(url, data, timeout)

    rpc._session = Session()
    rpc._sleep = clock.sleep
    with caplog.at_level(logging.WARNING):
        assert rpc.fetch_block_number() == 16
        assert rpc.fetch_block_number() == 16
    assert rpc._session.posted[0] == "a" and rpc._session.posted.count("a") == 1
    assert sum(clock.slept) < 1  # paced, never paused
    assert first.pacer.paused and not second.pacer.paused
    assert any("quota used up" in r.getMessage() and "using https://b.example/…" in r.getMessage()
               for r in caplog.records)

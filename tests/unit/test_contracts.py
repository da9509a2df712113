"""indexer.contracts over web3 over the RpcClient, against scripted HTTP answers: each read is
exactly the requests it should be (web3 adds none of its own), reverts and empty answers come
out as the indexer's RpcError, and the client's retries, failover, budget and redaction apply."""

from __future__ import annotations

import pytest
from eth_abi import encode
from web3.exceptions import Web3Exception

from indexer.contracts import Contracts, UndecodableAnswer
from indexer.errors import RpcError
from indexer.rpc import PRESETS, Endpoint, RpcClient
from indexer.rpc.web3provider import make_web3
from tests.unit.test_pacing import Clock
from tests.unit.test_rpc_client import Answer, Node, client

TOKEN = "0x45804880de22913dafe09f4980848ece6ecbaf78"
PROXY = "0x214ed9da11d2fbe465a6fc601a91e62ebec1a0d6"
AGGREGATORS = {1: "0x" + "a1" * 20, 3: "0x" + "a3" * 20}  # phase 2's slot is empty
REVERT = {"code": 3, "message": "execution reverted", "data": "0x"}

TOTAL_SUPPLY, BALANCE_OF, FEE_RATE = "0x18160ddd", "0x70a08231", "0x978bbdb9"
PHASE_ID, PHASE_AGGREGATORS, DECIMALS = "0x58303b10", "0xc1597304", "0x313ce567"


def word(value: int) -> str:
    return "0x" + format(value, "064x")


class Contract(Node):
    """A node whose eth_calls answer `answer(to, data, block)`: a 0x-hex result, or a dict
    (a JSON-RPC error)."""

    def __init__(self, answer):
        super().__init__(self._script)
        self.answer = answer

    def _script(self, payload):
        items = payload if isinstance(payload, list) else [payload]
        out = []
        for item in items:
            tx, block = item["params"]
            got = self.answer(tx["to"].lower(), tx["data"], block)
            key = "error" if isinstance(got, dict) else "result"
            out.append({"jsonrpc": "2.0", "id": item["id"], key: got})
        return Answer(200, out if isinstance(payload, list) else out[0])

    def shapes(self) -> list:
        """Each request posted: 'single' or the length of its batch."""
        return [len(p) if isinstance(p, list) else "single" for p in self.posted]

    def calls(self) -> list[tuple]:
        items = [i for p in self.posted for i in (p if isinstance(p, list) else [p])]
        return [(i["method"], i["params"][0]["to"].lower(), i["params"][0]["data"],
                 i["params"][1]) for i in items]


def holder(i: int) -> str:
    return "0x" + format(i + 1, "040x")


def erc20(to, data, block):
    if data == TOTAL_SUPPLY:
        return word(10**21 + int(block, 16))
    if data.startswith(BALANCE_OF):
        return word(int(data[-40:], 16) * 1000)  # each holder's balance names the holder
    if data == DECIMALS:
        return word(18)
    return REVERT


def feed(to, data, block):
    if data == PHASE_ID:
        return word(3)
    if data.startswith(PHASE_AGGREGATORS):
        phase = int(data[10:], 16)
        return "0x" + encode(["address"], [AGGREGATORS.get(phase, "0x" + "00" * 20)]).hex()
    if data == DECIMALS:
        return word(8)
    return REVERT


def test_total_supply_is_one_eth_call_sent_by_the_client():
    node = Contract(erc20)
    rpc, _ = client(node)
    assert Contracts(rpc).total_supply(TOKEN, 0x7B) == 10**21 + 0x7B
    assert node.calls() == [("eth_call", TOKEN, TOTAL_SUPPLY, "0x7b")]
    assert node.shapes() == ["single"]
    assert rpc.stats.requests_by_method == {"eth_call": 1}


def test_balances_of_sends_one_batch_per_hundred_holders_in_order():
    node = Contract(erc20)
    rpc, _ = client(node)
    holders = [holder(i) for i in range(250)]
    assert Contracts(rpc).balances_of(TOKEN, holders, 12) == [(i + 1) * 1000 for i in range(250)]
    assert node.shapes() == [100, 100, 50]
    assert [c[2] for c in node.calls()] == [BALANCE_OF + "00" * 12 + h[2:] for h in holders]
    assert {(c[0], c[1], c[3]) for c in node.calls()} == {("eth_call", TOKEN, "0xc")}
    assert Contracts(rpc).balances_of(TOKEN, [], 12) == []
    assert len(node.posted) == 3  # no holders: no request


def test_supply_and_balances_share_batches_the_supply_first():
    node = Contract(erc20)
    rpc, _ = client(node)
    holders = [holder(i) for i in range(150)]
    supply, balances = Contracts(rpc).supply_and_balances(TOKEN, holders, 0x20)
    assert supply == 10**21 + 0x20 and balances == [(i + 1) * 1000 for i in range(150)]
    assert node.shapes() == [100, 51]
    assert node.calls()[0][2] == TOTAL_SUPPLY
    assert Contracts(rpc).supply_and_balances(TOKEN, holders[:2], 0x20, supply=False) \
        == (None, [1000, 2000])
    assert node.shapes()[-1] == 2 and TOTAL_SUPPLY not in [c[2] for c in node.calls()[151:]]


def test_decimals_is_one_eth_call_at_the_latest_block():
    node = Contract(erc20)
    rpc, _ = client(node)
    assert Contracts(rpc).decimals(TOKEN) == 18
    assert node.calls() == [("eth_call", TOKEN, DECIMALS, "latest")]


def test_a_revert_is_the_indexers_rpc_error_with_the_nodes_text():
    node = Contract(lambda to, data, block: REVERT)
    rpc, _ = client(node)
    contracts = Contracts(rpc)
    for read in (lambda: contracts.total_supply(TOKEN, 5),
                 lambda: contracts.balances_of(TOKEN, [holder(0), holder(1)], 5)):
        with pytest.raises(RpcError, match="execution reverted") as caught:
            read()
        assert not isinstance(caught.value, Web3Exception)
    assert node.shapes() == ["single", 2]  # a revert is not retried


def test_an_empty_answer_is_undecodable_after_one_request():
    node = Contract(lambda to, data, block: "0x")  # no code at that address
    rpc, _ = client(node)
    with pytest.raises(UndecodableAnswer, match=f"{TOKEN} at block 5: .*is there a contract"):
        Contracts(rpc).total_supply(TOKEN, 5)
    # web3's own .call() would have asked eth_getCode to word its error.
    assert node.calls() == [("eth_call", TOKEN, TOTAL_SUPPLY, "0x5")]


@pytest.mark.parametrize("answer, fee_rate", [
    (word(200), True),  # PAXG V1
    (word(0), True),  # V1 with its fee set to zero still pairs fee legs
    (REVERT, False),  # PAXG V2: no feeRate() at all
    ({"code": -32000, "message": "VM Exception while processing transaction: revert"}, False),
    ("0x", False),  # no code
], ids=["v1", "v1-zero-fee", "revert", "revert-other-wording", "no-code"])
def test_has_fee_rate_asks_feerate_once(answer, fee_rate):
    node = Contract(lambda to, data, block: answer)
    rpc, _ = client(node)
    assert Contracts(rpc).has_fee_rate(TOKEN) is fee_rate
    assert node.calls() == [("eth_call", TOKEN, FEE_RATE, "latest")]


def test_has_fee_rate_raises_an_error_that_is_no_revert():
    node = Contract(lambda to, data, block: {"code": -32601, "message": "method not found"})
    rpc, _ = client(node)
    with pytest.raises(RpcError, match="method not found"):
        Contracts(rpc).has_fee_rate(TOKEN)


def test_feed_phases_reads_every_phase_in_one_batch_and_leaves_out_empty_ones():
    node = Contract(feed)
    rpc, _ = client(node)
    assert Contracts(rpc).feed_phases(PROXY, 99) == (3, AGGREGATORS)
    assert node.shapes() == ["single", 3]
    assert node.calls() == [("eth_call", PROXY, PHASE_ID, "0x63")] + [
        ("eth_call", PROXY, PHASE_AGGREGATORS + format(i, "064x"), "0x63") for i in (1, 2, 3)]


def test_feed_phases_of_a_proxy_with_no_phase_reads_nothing_more():
    node = Contract(lambda to, data, block: word(0))
    rpc, _ = client(node)
    assert Contracts(rpc).feed_phases(PROXY) == (0, {})
    assert node.shapes() == ["single"]


def test_feed_decimals_is_one_eth_call():
    node = Contract(feed)
    rpc, _ = client(node)
    assert Contracts(rpc).feed_decimals(PROXY) == 8
    assert node.calls() == [("eth_call", PROXY, DECIMALS, "latest")]


def test_web3_over_the_client_sends_only_the_calls_asked_for():
    node = Contract(erc20)
    rpc, _ = client(node)
    w3 = make_web3(rpc)
    # web3's default middleware would ask eth_chainId before every eth_call (its validation).
    raw = w3.eth.call({"to": w3.to_checksum_address(TOKEN), "data": TOTAL_SUPPLY}, 7)
    assert int.from_bytes(raw, "big") == 10**21 + 7
    assert node.calls() == [("eth_call", TOKEN, TOTAL_SUPPLY, "0x7")]
    node = Node()
    rpc, _ = client(node)
    w3 = make_web3(rpc)
    assert w3.eth.block_number == 16
    assert w3.is_connected()
    assert [p["method"] for p in node.posted] == ["eth_blockNumber", "eth_chainId"]


def test_a_revert_through_web3s_own_call_is_the_indexers_rpc_error():
    rpc, _ = client(Contract(lambda to, data, block: REVERT))
    w3 = make_web3(rpc)
    with pytest.raises(RpcError, match="execution reverted") as caught:
        w3.eth.call({"to": w3.to_checksum_address(TOKEN), "data": TOTAL_SUPPLY})
    assert not isinstance(caught.value, Web3Exception)


def test_calls_through_web3_are_retried_and_fail_over_to_the_next_endpoint():
    clock = Clock()
    first = Endpoint("https://a.example/KEY", clock=clock, wall=clock.wall)
    second = Endpoint("https://b.example/KEY", clock=clock, wall=clock.wall)
    rpc = RpcClient([first, second], max_attempts=3, backoff=0.01)
    node = Contract(erc20)

    class Session:
        def post(self, url, data, timeout):
            if url.startswith("https://a."):
                return Answer(503, b"unavailable")
            return node.post(url, data, timeout)

    rpc._session = Session()
    rpc._sleep = clock.sleep
    assert Contracts(rpc).total_supply(TOKEN, 1) == 10**21 + 1
    assert rpc.stats.retries == 1 and rpc.stats.requests == 2
    assert node.calls() == [("eth_call", TOKEN, TOTAL_SUPPLY, "0x1")]


def test_calls_through_web3_wait_for_the_budget():
    node = Contract(erc20)
    rpc, clock = client(node, pricing="infura", max_credits_per_second=800)
    Contracts(rpc).balances_of(TOKEN, [holder(i) for i in range(100)], 1)
    # eth_call costs 80 credits: 10 a second at most, so the batch of 100 is cut into 10 or
    # more requests, and they take about 10 s of waiting.
    assert len(node.calls()) == 100 and len(node.posted) >= 10
    assert sum(clock.slept) >= 8
    assert rpc.usage()["credits"] == {"eth_call": 8000}


def test_an_error_through_web3_keeps_the_api_key_out_of_its_message():
    rpc, _ = client(Node(lambda p: Answer(502, b"bad gateway")), max_attempts=2)
    with pytest.raises(RpcError) as caught:
        Contracts(rpc).total_supply(TOKEN)
    assert "https://rpc.example/…" in str(caught.value) and "KEY" not in str(caught.value)

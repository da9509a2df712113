"""Provider error texts (FACTS.md, "JSON-RPC provider limits") → what the scanner does about them."""

from __future__ import annotations

import pytest

from indexer.errors import RpcError
from indexer.rpc import (
    BatchTooLarge,
    MissingState,
    QuotaExhausted,
    RangeTooLarge,
    RateLimited,
    RetryableRpcError,
    classify_error,
    parse_batch_cap,
    parse_range_hint,
    redact_url,
)

INFURA_RESULTS = ("query returned more than 10000 results. "
                  "Try with this block range [0x1298A8B, 0x12992A0].")
ALCHEMY_INVERTED = (
    "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range "
    "and no limit on the response size, or you can request any block range with a cap of 10K "
    "logs in the response. Based on your parameters, this block range should work: "
    "[0x10d4f2e, 0x10d4a00]"
)
LLAMARPC = "query exceeds max results 20000, retry with the range 18000000-18000499"


# -- parse_range_hint ---------------------------------------------------------------------------

def test_infura_hint_in_hex_brackets_is_parsed():
    assert parse_range_hint(INFURA_RESULTS) == (0x1298A8B, 0x12992A0)
    assert parse_range_hint(INFURA_RESULTS) == (19_499_659, 19_501_728)


def test_alchemy_inverted_hint_comes_back_lowest_first():
    assert parse_range_hint(ALCHEMY_INVERTED) == (0x10d4a00, 0x10d4f2e)


def test_alchemy_hint_in_order_is_kept():
    assert parse_range_hint("this block range should work: [0x64, 0xc8]") == (100, 200)


def test_llamarpc_dash_hint_is_parsed_as_decimal():
    assert parse_range_hint(LLAMARPC) == (18_000_000, 18_000_499)


def test_hint_with_spaces_inside_brackets_is_parsed():
    assert parse_range_hint("Try with this block range [ 0xa ,0x14 ]") == (10, 20)


@pytest.mark.parametrize("message", [
    "query returned more than 10000 results",
    "range 1000000 exceeds limit of 10000",
    "eth_getLogs is limited to a 10,000 range",
    "Block range limit exceeded.",
    "block range is too wide",
    "eth_getLogs is limited to 1024 block range",
    "",
])
def test_message_without_a_range_has_no_hint(message):
    assert parse_range_hint(message) is None


# -- classify_error: split --------------------------------------------------------------------

def _classify(code, message, data=None):
    error = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return classify_error(error)


# (code, message, hint, about the span (not the results), the span limit it states)
@pytest.mark.parametrize("code,message,hint,about_span,span_limit", [
    (-32005, INFURA_RESULTS, (0x1298A8B, 0x12992A0), False, None),
    (-32602, ALCHEMY_INVERTED, (0x10d4a00, 0x10d4f2e), False, None),
    (-32000, LLAMARPC, (18_000_000, 18_000_499), False, None),
    (-32005, "query returned more than 10000 results", None, False, None),
    (-32602, "range 1000000 exceeds limit of 10000", None, True, 10_000),
    (-32614, "eth_getLogs is limited to a 10,000 range", None, True, 10_000),
    (-32000, "Block range limit exceeded.", None, True, None),
    (-32600, "block range is too wide", None, True, None),
    (-32000, "eth_getLogs is limited to 1024 block range", None, True, 1024),
], ids=["infura-results", "alchemy", "llamarpc", "infura-no-hint", "infura-range", "quicknode",
        "chainstack", "ankr", "blockpi"])
def test_provider_range_limit_is_range_too_large(code, message, hint, about_span, span_limit):
    exc = _classify(code, message)
    assert type(exc) is RangeTooLarge
    assert exc.hint == hint
    assert (exc.about_span, exc.span_limit) == (about_span, span_limit)
    assert str(exc) == f"{code}: {message}"


def test_range_limit_in_error_data_is_range_too_large_with_hint():
    exc = _classify(-32602, "invalid params", data="query exceeds max results 20000, retry with the range 5-9")
    assert type(exc) is RangeTooLarge
    assert exc.hint == (5, 9)
    assert str(exc) == "-32602: invalid params"


def test_long_message_is_cut_to_300_characters():
    exc = _classify(-32005, "query returned more than 10000 results" + "x" * 500)
    assert str(exc) == "-32005: " + ("query returned more than 10000 results" + "x" * 500)[:300]


# -- classify_error: slow down ------------------------------------------------------------------

@pytest.mark.parametrize("code,message", [
    (429, "Your app has exceeded its compute units per second capacity."),
    (429, "Too Many Requests"),
    (-32005, "project ID request rate exceeded"),
    (-32005, "daily request count exceeded, request rate limited"),
    (-32005, "limit exceeded"),
    (-32012, "credits limited to 100/sec"),
    (-32012, "request cost exceeded"),
    (-32000, "credits limited"),
], ids=["http-429-alchemy", "429-text", "infura-rate", "infura-daily", "32005-bare",
        "32012-credits", "32012-code-only", "credits-text"])
def test_quota_and_rate_errors_are_rate_limited(code, message):
    exc = _classify(code, message)
    assert type(exc) is RateLimited
    assert isinstance(exc, RetryableRpcError)
    assert exc.retry_after is None
    assert str(exc) == f"{code}: {message}"


# -- classify_error: node behind ----------------------------------------------------------------

@pytest.mark.parametrize("code,message", [
    (-32000, "block range extends beyond current head block"),
    (-32000, "header not found"),
    (-32000, "unknown block"),
])
def test_lagging_node_errors_are_retryable(code, message):
    exc = _classify(code, message)
    assert type(exc) is RetryableRpcError
    assert str(exc) == f"node behind: {code}: {message}"


def test_internal_timeout_is_retryable():
    exc = _classify(-32603, "request timeout")
    assert type(exc) is RetryableRpcError
    assert str(exc) == "-32603: request timeout"


def test_malformed_error_object_is_retryable():
    exc = classify_error("oops")
    assert type(exc) is RetryableRpcError
    assert str(exc) == "malformed JSON-RPC error: oops"


# -- classify_error: no state for that block ---------------------------------------------------

@pytest.mark.parametrize("error", [
    {"code": -32000, "message": "missing trie node ef7df5d88cb1614dc3f143879a653cd90717ee42e967c5fabbcd"
                                "7505a968f314 (path )"},  # geth, a full node past 128 blocks
    {"code": -32000, "message": "missing trie node c6eb (path ) state 0xc6eb is not available, not "
                                "found"},
    {"code": -32000, "message": "historical state 0x9a1b is not available"},
    {"code": -32603, "message": "Internal error",
     "data": "Nethermind.Trie.MissingTrieNodeException: Node A: P:2 H:0x992e is missing from the DB"},
    {"code": -32000, "message": "This request is not supported because your node is running with "
                                "state pruning. Run with --pruning=archive."},
    # anvil loaded from a dump: the blocks before it are gone
    {"code": -32000, "message": "BlockOutOfRangeError: block height is 20004 but requested was 95"},
])
def test_a_pruned_state_is_missing_state_and_not_retried(error):
    exc = classify_error(error)
    assert type(exc) is MissingState and isinstance(exc, RpcError)
    assert str(exc).startswith(f"RPC error {error['code']}: ")
    assert ("MissingTrieNode" in str(exc)) == ("data" in error)


def test_a_block_above_the_nodes_height_is_a_node_behind_and_retried():
    exc = classify_error({"code": -32000,
                          "message": "BlockOutOfRangeError: block height is 7 but requested was 9"})
    assert type(exc) is RetryableRpcError and str(exc).startswith("node behind: -32000: ")


# -- classify_error: give up --------------------------------------------------------------------

@pytest.mark.parametrize("code,message", [
    (-32601, "the method eth_foo does not exist/is not available"),
    (3, "execution reverted"),
    (-32000, "execution reverted: Ownable: caller is not the owner"),
    (-32602, "invalid argument 0: hex string without 0x prefix"),
])
def test_other_errors_are_rpc_errors(code, message):
    exc = _classify(code, message)
    assert type(exc) is RpcError
    assert str(exc) == f"RPC error {code}: {message}"


# -- classify_error: batch caps, daily quotas, back-off hints ----------------------------------

def test_infura_rate_refusal_carries_its_backoff_seconds():
    exc = classify_error({"code": -32005, "message": "project ID request rate exceeded",
                          "data": {"see": "https://infura.io/dashboard", "current_rps": 13.333,
                                   "allowed_rps": 10.0, "backoff_seconds": 30.0}})
    assert type(exc) is RateLimited and exc.retry_after == 30.0


@pytest.mark.parametrize("message,cap", [
    ("batch size too large (max 10)", 10),
    ("batch too large", None),
    ("Batch size limit exceeded, maximum batch size is 100", 100),
])
def test_batch_refusals_are_batch_too_large_with_their_cap(message, cap):
    exc = classify_error({"code": -32600, "message": message})
    assert type(exc) is BatchTooLarge and exc.cap == cap
    assert parse_batch_cap(message) == cap


def test_infura_daily_limit_body_is_quota_exhausted():
    body = {"code": 402, "message": "Payment Required",
            "details": "You have reached your daily credit limit. To continue, upgrade your plan "
                       "or wait for the daily reset at 00:00 UTC."}
    exc = classify_error(body)
    assert type(exc) is QuotaExhausted
    assert str(exc).startswith("402: Payment Required You have reached your daily credit limit.")


def test_range_texts_are_not_batch_refusals():
    assert type(classify_error({"code": -32600, "message": "block range is too wide"})) \
        is not BatchTooLarge
    assert type(classify_error({"code": -32600, "message": "invalid request"})) is RpcError


# -- redact_url ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url,safe", [
    ("https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef", "https://mainnet.infura.io/…"),
    ("https://eth-mainnet.g.alchemy.com/v2/SECRETKEY", "https://eth-mainnet.g.alchemy.com/…"),
    ("https://rpc.example.com/?apikey=SECRET", "https://rpc.example.com/…"),
    ("https://rpc.example.com?apikey=SECRET", "https://rpc.example.com/…"),
    ("https://user:SECRET@rpc.example.com:8443/path", "https://rpc.example.com:8443/…"),
    ("http://user:SECRET@localhost:8545", "http://localhost:8545"),
    ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
    ("http://127.0.0.1:8545/", "http://127.0.0.1:8545"),
    ("https://ethereum-rpc.publicnode.com", "https://ethereum-rpc.publicnode.com"),
], ids=["infura-path", "alchemy-path", "query", "query-no-slash", "userinfo-port-path",
        "userinfo-port", "ip-port", "ip-port-slash", "bare-host"])
def test_redact_url_drops_keys_and_keeps_scheme_host_port(url, safe):
    assert redact_url(url) == safe
    assert "SECRET" not in redact_url(url)


def test_redact_url_of_unparseable_url_gives_placeholder():
    assert redact_url("http://host:notaport/KEY") == "<rpc>"


def test_redact_url_keeps_ipv6_brackets():
    assert redact_url("http://[::1]:8545/KEY") == "http://[::1]:8545/…"

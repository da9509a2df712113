"""A web3 provider whose every request is one of the indexer's own RpcClient's.

web3 brings the typed contract interface (ABIs as data, argument encoding, result decoding);
the RpcClient brings everything the indexer learned about providers: pacing to a budget, retries
with back-off, failover between endpoints, quota pauses, usage accounting and API keys kept out
of messages. web3 sends no HTTP of its own here.

An error answer never reaches web3: the RpcClient raises it first, as the `RpcError` (or
`RpcStopped`) it raises for any other call, with the node's text ("execution reverted"), so
callers recognise a revert the way they do elsewhere and no web3 exception type leaks out.

`make_web3` builds a Web3 without middleware: web3's default onion would resolve ENS names
(eth_calls to the ENS registry), fill gas prices and estimates, and ask eth_chainId to check
transactions, none of which a read needs, and each of which would cost requests the budget
does not plan for. CCIP-read (EIP-3668) is off: it fetches from URLs a contract names, which
would be HTTP outside the client.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from web3 import Web3
from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from indexer.errors import IndexerError
from indexer.rpc.client import RpcClient


class RpcClientProvider(JSONBaseProvider):
    """web3's requests, each sent as `rpc.request`; its batches (`w3.batch_requests()`) as
    `rpc.batch`: results in order, or the first error raised."""

    global_ccip_read_enabled = False

    def __init__(self, rpc: RpcClient):
        super().__init__()
        self.rpc = rpc
        self._ids = itertools.count(1)

    def __str__(self) -> str:
        return f"RpcClientProvider({self.rpc.safe_url})"

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        result = self.rpc.request(method, _plain(params or []))
        return {"jsonrpc": "2.0", "id": next(self._ids), "result": result}

    def make_batch_request(self, requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse]:
        results = self.rpc.batch([(method, _plain(params or [])) for method, params in requests])
        return [{"jsonrpc": "2.0", "id": next(self._ids), "result": result}
                for result in results]

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            self.rpc.request("eth_chainId", [])
        except IndexerError:
            if show_traceback:
                raise
            return False
        return True


def make_web3(rpc: RpcClient) -> Web3:
    """A Web3 over `rpc` that sends exactly the calls it is asked to make."""
    return Web3(RpcClientProvider(rpc), middleware=[])


def _plain(value: Any) -> Any:
    """web3's request parameters as JSON values: tuples as lists, bytes as 0x-hex, mappings
    (AttributeDict) as dicts; the client serialises with orjson, which knows none of them."""
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value

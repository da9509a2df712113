"""The only code that speaks JSON-RPC: logs, headers, chain id, calls.

client.py   HTTP, batches, retries, failover between endpoints
endpoint.py one URL with its pacer and its usage (requests, calls, credits, refusals)
pacing.py   budgets (credits, requests), rate refusals (AIMD), batch caps, quota pauses
limits.py   what a provider's error means (range and result limits, slow down, batch cap,
            quota, lagging node, pruned state)
redact.py   API keys out of every message
web3provider.py  a web3 provider whose requests are the client's (typed calls: indexer/contracts.py)
"""

from indexer.rpc.client import BACKOFF_MAX_SECONDS, RpcClient, RpcStats
from indexer.rpc.endpoint import Endpoint, make_endpoints, refusal_kind
from indexer.rpc.limits import (BatchTooLarge, MissingState, QuotaExhausted, RangeTooLarge,
                                RateLimited, RetryableRpcError, classify_error, parse_batch_cap,
                                parse_range_hint)
from indexer.rpc.pacing import PRESETS, Pacer, Pricing, RpcStopped, make_pricing
from indexer.rpc.redact import RedactingFilter, redact_text, redact_url, register_secret_url

__all__ = [
    "BACKOFF_MAX_SECONDS", "BatchTooLarge", "Endpoint", "MissingState", "PRESETS", "Pacer", "Pricing",
    "QuotaExhausted", "RangeTooLarge", "RateLimited", "RedactingFilter", "RetryableRpcError",
    "RpcClient", "RpcStats", "RpcStopped", "classify_error", "make_endpoints", "make_pricing",
    "parse_batch_cap", "parse_range_hint", "redact_text", "redact_url", "refusal_kind",
    "register_secret_url",
]

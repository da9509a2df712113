"""The only code that speaks JSON-RPC: logs, headers, chain id, calls.

client.py   HTTP, batches, retries, failover between endpoints
limits.py   what a provider's error means (range and result limits, slow down, lagging node)
redact.py   API keys out of every message
"""

from indexer.rpc.client import BACKOFF_MAX_SECONDS, Endpoint, RpcClient, RpcStats, make_endpoints
from indexer.rpc.limits import (RangeTooLarge, RateLimited, RetryableRpcError, classify_error,
                                parse_range_hint)
from indexer.rpc.redact import RedactingFilter, redact_text, redact_url, register_secret_url

__all__ = [
    "BACKOFF_MAX_SECONDS", "Endpoint", "RangeTooLarge", "RateLimited", "RedactingFilter",
    "RetryableRpcError", "RpcClient", "RpcStats", "classify_error", "make_endpoints",
    "parse_range_hint", "redact_text", "redact_url", "register_secret_url",
]

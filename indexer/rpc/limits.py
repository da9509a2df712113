"""What a provider's answer means: its error texts and codes classified once, here.

Retryable faults (time-outs, 5xx, garbled bodies, a lagging node) are `RetryableRpcError`; a
request to slow down is `RateLimited` (with the wait the provider asks for, if any); a refused
eth_getLogs range is `RangeTooLarge` (with the provider's suggested range when its text gives
one); a batch over the endpoint's cap is `BatchTooLarge` (with the cap when the text names it); a
used-up daily quota is `QuotaExhausted`; a past block's state the node no longer keeps is
`MissingState`; everything else is an `RpcError`.
"""

from __future__ import annotations

import re
from typing import Any

from indexer.errors import RpcError

# A Retry-After longer than this is clamped: we would rather fail over or give up visibly.
RETRY_AFTER_MAX_SECONDS = 120.0


class RetryableRpcError(Exception):
    """A fault worth another attempt: network, 5xx, garbled body, node behind."""


class Unanswered(RetryableRpcError):
    """No JSON-RPC answer came back (time-out, lost connection, 5xx, a garbled body)."""


class RateLimited(RetryableRpcError):
    """The provider asks us to slow down (429, -32005 quota, -32012, 'credits limited')."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class BatchTooLarge(Exception):
    """The endpoint refuses JSON-RPC batches this long; `cap` is the most it accepts, when its
    answer says ("batch size too large (max 10)"). Sent again in smaller batches, not retried."""

    def __init__(self, message: str, cap: int | None = None):
        super().__init__(message)
        self.cap = cap
        self.endpoint = None  # set by the client: the endpoint that refused


class QuotaExhausted(Exception):
    """The provider's quota is used up (Infura's daily credit limit: HTTP 402): nothing will be
    answered until it resets. The sync pauses; one-shot commands report it as an RpcError."""

    def __init__(self, message: str):
        super().__init__(message)
        self.endpoint = None  # set by the client: the endpoint that answered


class MissingState(RpcError):
    """The node has no state for that block: it keeps only recent blocks' state (a full node,
    not an archive node). Asking again, or another attempt, will not change that."""


class RangeTooLarge(Exception):
    """eth_getLogs refused a range. `hint`: the provider's suggested range, if any.
    `about_span`: the refusal is about the number of blocks (an endpoint's limit), not about
    how many logs this stretch holds; `span_limit`: that limit when the text states it."""

    def __init__(self, message: str, hint: tuple[int, int] | None = None, *,
                 about_span: bool = False, span_limit: int | None = None):
        super().__init__(message)
        self.hint = hint
        self.about_span = about_span
        self.span_limit = span_limit


# Provider messages that mean "ask for fewer blocks": Infura, Alchemy, QuickNode, Chainstack, Ankr,
# BlockPI, llamarpc and geth-style public endpoints (tests/unit/test_rpc.py quotes each one).
_RANGE_PATTERNS = re.compile(
    r"returned more than \d+ results|exceeds limit|response size exceeded|limited to .*range"
    r"|block range limit|block range is too wide|exceeds max results|range too (large|wide)"
    r"|too many (results|logs)|max(imum)? block range|query timeout exceeded"
    r"|bigger than range limit|block range too (high|large)",
    re.IGNORECASE,
)
_SLOW_DOWN_PATTERNS = re.compile(
    r"rate limit|too many requests|credits limited|capacity|throughput|exceeded .*quota"
    r"|daily request count|request limit reached",
    re.IGNORECASE,
)
# A batch over the endpoint's cap: public endpoints ("batch size too large (max 10)"), geth's
# --rpc.batch-request-limit ("batch too large"), others' "batch limit exceeded".
_BATCH_PATTERNS = re.compile(
    r"batch (size )?too (large|big|long)|batch (request )?limit|too many (requests|calls) in (a |the )?batch"
    r"|batch size (exceeds|exceeded)|max(imum)? batch size",
    re.IGNORECASE,
)
_BATCH_CAP = re.compile(r"\bmax(?:imum)?\b\D{0,20}(\d+)", re.IGNORECASE)
# A quota used up for the day (Infura's HTTP 402 body), as opposed to a per-second rate.
_QUOTA_PATTERNS = re.compile(r"daily credit limit|payment required", re.IGNORECASE)
_LAGGING_PATTERNS = re.compile(
    r"beyond current head|header not found|unknown block|block not found|after last accepted"
    r"|BlockOutOfRange|block height is \d+ but requested",
    re.IGNORECASE,
)
# A past block's state pruned away: geth ("missing trie node <root> (path )", and with the path
# scheme "historical state ... not available"), Nethermind (MissingTrieNodeException in data),
# OpenEthereum ("running with state pruning"), others' "state ... pruned" / "unavailable".
_MISSING_STATE_PATTERNS = re.compile(
    r"missing trie node|MissingTrieNode|historical state|state pruning|\bpruned\b"
    r"|world state (is )?unavailable|state (is )?(not available|unavailable)",
    re.IGNORECASE,
)
# anvil's "BlockOutOfRangeError: block height is 7 but requested was 9" is a node behind; with a
# requested block below the height (a node loaded from a dump, without the blocks before it) it
# is a past state the node does not have.
_OUT_OF_RANGE = re.compile(r"block height is (\d+) but requested was (\d+)", re.IGNORECASE)


def _below_history(text: str) -> bool:
    m = _OUT_OF_RANGE.search(text)
    return m is not None and int(m.group(2)) < int(m.group(1))


# Refusals about how much this range holds, not how many blocks it spans.
_RESULT_PATTERNS = re.compile(r"results|response size|too many logs|timeout", re.IGNORECASE)
# "exceeds limit of 10000", "limited to a 10,000 range", "limited to 1024 block range"
_SPAN_LIMIT = re.compile(r"(?:limit of|limited to(?: an?)?)\s*([\d,]+)", re.IGNORECASE)
_HINT_BRACKETS = re.compile(r"\[\s*(0x[0-9a-fA-F]+)\s*,\s*(0x[0-9a-fA-F]+)\s*\]")
_HINT_DASH = re.compile(r"range\s+(\d+)\s*-\s*(\d+)", re.IGNORECASE)


def parse_range_hint(message: str) -> tuple[int, int] | None:
    """The block range a provider suggests in its error text, lowest first (Alchemy may invert it)."""
    m = _HINT_BRACKETS.search(message)
    if m:
        a, b = int(m.group(1), 16), int(m.group(2), 16)
    else:
        m = _HINT_DASH.search(message)
        if not m:
            return None
        a, b = int(m.group(1)), int(m.group(2))
    return (a, b) if a <= b else (b, a)


def classify_error(error: Any) -> Exception:
    """Turn a JSON-RPC error object into the exception that says what to do about it."""
    if not isinstance(error, dict):
        return RetryableRpcError(f"malformed JSON-RPC error: {str(error)[:200]}")
    code = error.get("code")
    message = str(error.get("message", ""))
    data = error.get("data")
    details = error.get("details")  # Infura's 402 body: {"code", "message", "details"}
    text = " ".join(str(part) for part in (message, data, details) if part)
    if code == 402 or _QUOTA_PATTERNS.search(text):
        return QuotaExhausted(f"{code}: {' '.join(str(p) for p in (message, details) if p)[:300]}")
    if _BATCH_PATTERNS.search(text):
        return BatchTooLarge(f"{code}: {message[:300]}", parse_batch_cap(text))
    if _RANGE_PATTERNS.search(text):
        about_span = not _RESULT_PATTERNS.search(text)
        limit = _SPAN_LIMIT.search(text) if about_span else None
        return RangeTooLarge(f"{code}: {message[:300]}", parse_range_hint(text),
                             about_span=about_span,
                             span_limit=int(limit.group(1).replace(",", "")) if limit else None)
    if code in (-32012, -32007, 429) or _SLOW_DOWN_PATTERNS.search(text):
        return RateLimited(f"{code}: {message[:300]}", parse_backoff(data))
    if code == -32005:  # reused for quotas when it is not a range/result limit
        return RateLimited(f"{code}: {message[:300]}", parse_backoff(data))
    if _MISSING_STATE_PATTERNS.search(text) or _below_history(text):
        said = message if _MISSING_STATE_PATTERNS.search(message) else f"{message}: {data}"
        return MissingState(f"RPC error {code}: {said[:300]}")
    if _LAGGING_PATTERNS.search(text):
        return RetryableRpcError(f"node behind: {code}: {message[:300]}")
    if code in (-32603, -32000) and "timeout" in text.lower():
        return RetryableRpcError(f"{code}: {message[:300]}")
    return RpcError(f"RPC error {code}: {message[:300]}")


def parse_batch_cap(message: str) -> int | None:
    """The largest batch an endpoint's refusal names ("batch size too large (max 10)")."""
    m = _BATCH_CAP.search(message)
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


def parse_backoff(data: Any) -> float | None:
    """The wait Infura asks for in its rate refusal's data: {"backoff_seconds": 1.5, ...}."""
    if isinstance(data, dict):
        value = data.get("backoff_seconds")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return min(float(value), RETRY_AFTER_MAX_SECONDS)
    return None


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), RETRY_AFTER_MAX_SECONDS)
    except ValueError:
        return None  # an HTTP date; the exponential back-off is good enough

"""RPC URLs carry API keys: they are scrubbed from every log line and error message."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit


def redact_url(url: str) -> str:
    """Keep scheme, host and port; drop path, query and credentials, where API keys live."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<rpc>"
    tail = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{tail}"


# Every secret-bearing piece of every RPC URL in use. `redact_text` scrubs them from any text
# that reaches a user: log records (RedactingFilter on the CLI's handler) and error messages.
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def register_secret_url(url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    pieces = {url}
    if parts is not None:
        if parts.path not in ("", "/"):
            pieces.add(parts.path.strip("/"))
        if parts.query:
            pieces.add(parts.query)
        if parts.password:
            pieces.add(parts.password)
    with _SECRETS_LOCK:
        # Longest first, so a URL is replaced whole before its own path would be.
        _SECRETS.update(p for p in pieces if len(p) >= 4)


def redact_text(text: str) -> str:
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, redact_url(secret) if "://" in secret else "…")
    return text


class RedactingFilter(logging.Filter):
    """Scrubs registered RPC URL secrets from every record passing the handler it sits on."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True

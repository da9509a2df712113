"""Errors a user can act on. The CLI prints their message as one line, never a traceback."""


class IndexerError(Exception):
    """Base class: the message says what went wrong and what to do."""

    exit_code = 1


class ConfigError(IndexerError):
    """The configuration is invalid; the message names the key and the fix."""

    exit_code = 2


class ChainMismatch(IndexerError):
    """The RPC endpoint serves another chain than the configured one."""

    exit_code = 2


class RpcError(IndexerError):
    """The node answered with an error we cannot retry or split our way out of."""


class DatabaseError(IndexerError):
    """PostgreSQL could not be reached or refused an operation."""


class SyncLocked(IndexerError):
    """Another `indexer sync` holds the database's writer lock."""


class ReorgTooDeep(IndexerError):
    """The chain reorganised below the stored window or the finalized block: nothing was changed.
    Re-sync from an earlier block (a fresh database, or a larger sync.reorg_window)."""

    exit_code = 3

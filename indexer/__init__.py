"""gold-indexer: PAXG and XAUT events from Ethereum JSON-RPC into PostgreSQL."""

__version__ = "0.1.0"

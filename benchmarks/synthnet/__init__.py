"""A deterministic synthetic Ethereum mainnet for the PAXG/XAUT scanner, with provider profiles
in front of it (benchmarks/mainnet.py runs the indexer against it; see benchmarks/README.md)."""

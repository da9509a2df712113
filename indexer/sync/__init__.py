"""The sync: ranges planned, fetched and checked, written, derived, and the head followed.

plan.py     how many blocks to ask for next (RangeSizer)
ranges.py   one range: its logs and headers fetched, checked against each other, decoded (a Batch)
fetch.py    ranges several in flight, ahead of the writer, asked again when wrong (Fetcher)
derive.py   the derived tables kept up with the committed logs (Deriver, one per token)
cancel.py   the derivers' connections, and how an aborting writer stops their statements
follow.py   the loop: backfill, follow the head, reorgs, shutdown (Syncer)
process.py  what the sync's process sets up: signal handlers, garbage collection
"""

from indexer.sync.fetch import HASH_MISMATCH_ATTEMPTS, FetchPool
from indexer.sync.ranges import Batch, HashMismatch, ReorgDetected, build_batch, fetch_range
from indexer.sync.follow import Syncer, SyncSummary
from indexer.sync.plan import RangeSizer
from indexer.sync.process import collect_less, install_signal_handlers

__all__ = [
    "HASH_MISMATCH_ATTEMPTS", "Batch", "FetchPool", "HashMismatch", "RangeSizer", "ReorgDetected",
    "SyncSummary", "Syncer", "build_batch", "collect_less", "fetch_range", "install_signal_handlers",
]

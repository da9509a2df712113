"""The sync: ranges planned, fetched and checked, written, derived, and the head followed.

plan.py     how many blocks to ask for next (RangeSizer)
fetch.py    ranges → checked, decoded batches on a thread ahead of the writer (Fetcher)
derive.py   the derived tables kept up with the committed logs (Deriver, one per token)
follow.py   the loop: backfill, follow the head, reorgs, shutdown (Syncer)
"""

from indexer.sync.fetch import HASH_MISMATCH_ATTEMPTS, Batch, HashMismatch, ReorgDetected, fetch_batch
from indexer.sync.follow import Syncer, SyncSummary, install_signal_handlers
from indexer.sync.plan import CEILING_MEMORY, RangeSizer

__all__ = [
    "CEILING_MEMORY", "HASH_MISMATCH_ATTEMPTS", "Batch", "HashMismatch", "RangeSizer",
    "ReorgDetected", "SyncSummary", "Syncer", "fetch_batch", "install_signal_handlers",
]

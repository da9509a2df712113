"""indexer/sync/process.py: what `indexer sync` sets up in its process."""

from __future__ import annotations

import gc

from indexer.sync import collect_less
from indexer.sync.process import GC_THRESHOLDS


def test_collect_less_freezes_start_up_and_makes_collections_rarer():
    before = gc.get_threshold()
    try:
        gc.unfreeze()
        collect_less()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] >= 100 * before[0]  # young passes at least 100 times rarer
        assert gc.get_freeze_count() > 0  # what was alive is out of the collector's passes
        assert gc.isenabled()  # rarer, not off: a cycle is still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

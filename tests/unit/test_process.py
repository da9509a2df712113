"""indexer/sync/process.py: what `indexer sync` sets up in its process."""

from __future__ import annotations

import gc

from indexer.sync import collect_less
from indexer.sync.process import GC_THRESHOLDS

PYTHON_DEFAULTS = (700, 10, 10)  # CPython's gc thresholds


def test_collect_less_freezes_start_up_and_makes_collections_rarer():
    before = gc.get_threshold()  # an in-process `indexer sync` of another test may have run it
    try:
        gc.unfreeze()
        gc.set_threshold(*PYTHON_DEFAULTS)
        collect_less()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] >= 100 * PYTHON_DEFAULTS[0]  # young passes 100 times rarer
        assert gc.get_freeze_count() > 0  # what was alive is out of the collector's passes
        assert gc.isenabled()  # rarer, not off: a cycle is still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

"""How many blocks to ask eth_getLogs for next."""

from __future__ import annotations

import logging

from indexer.config import SyncConfig

log = logging.getLogger(__name__)

# After this many good ranges, forget the size at which the provider last refused a range.
CEILING_MEMORY = 50

class RangeSizer:
    """How many blocks to ask for next: grows while ranges are sparse, shrinks on limits."""

    def __init__(self, cfg: SyncConfig):
        self.cfg = cfg
        self.size = cfg.batch_blocks
        self.ceiling = cfg.max_batch_blocks
        self._good = 0

    def after_result(self, span: int, n_logs: int) -> None:
        self._good += 1
        if self._good >= CEILING_MEMORY:
            self.ceiling, self._good = self.cfg.max_batch_blocks, 0
        if n_logs > self.cfg.target_logs:
            self.size = max(self.cfg.min_batch_blocks, span // 2)
        elif n_logs < self.cfg.target_logs // 2 and span >= self.size:
            self.size = min(self.ceiling, self.size * 2)

    def after_too_large(self, from_block: int, span: int, hint: tuple[int, int] | None) -> None:
        """Split: the next request covers [from, mid] (or the provider's hint), then [mid+1, ...]."""
        if hint is not None and hint[0] == from_block and from_block <= hint[1] < from_block + span - 1:
            new = hint[1] - from_block + 1
        else:
            new = span // 2
        self.size = max(self.cfg.min_batch_blocks, new)
        self.ceiling = max(self.cfg.min_batch_blocks, min(self.ceiling, span - 1))
        self._good = 0



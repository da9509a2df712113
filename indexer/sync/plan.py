"""How many blocks to ask eth_getLogs for next.

The range grows while ranges are sparse and halves when one returns more than `target_logs`.
A provider's refusal says one of two things. Too many results (Infura's 10,000, Alchemy's
response size): this stretch is dense, so split it, but the next stretch may be sparse again.
Too many blocks (QuickNode's 10,000-block range, a public endpoint's 50): a limit of the
endpoint, so it sticks as a ceiling — the stated limit when the text gives one, else half the
refused span — and growth stops there instead of being refused over and over. A ceiling below
the refused span is probed rarely: after PROBE_AFTER good ranges one range tries halfway to the
refused span; each refused probe doubles the wait before the next.
"""

from __future__ import annotations

from indexer.config import SyncConfig
from indexer.rpc import RangeTooLarge

# Good ranges before the first probe above a ceiling the provider's refusal set.
PROBE_AFTER = 500


class RangeSizer:
    """How many blocks to ask for next: grows while ranges are sparse, shrinks on limits."""

    def __init__(self, cfg: SyncConfig):
        self.cfg = cfg
        self.size = cfg.batch_blocks
        self.ceiling = cfg.max_batch_blocks
        self.refused: int | None = None  # the smallest span refused for its blocks
        self._good = 0
        self._probe_after = PROBE_AFTER

    def after_result(self, span: int, n_logs: int) -> None:
        self._good += 1
        if span > self.ceiling:  # a probe above the ceiling went through
            self.ceiling = span
        if n_logs > self.cfg.target_logs:
            self.size = max(self.cfg.min_batch_blocks, span // 2)
        elif n_logs < self.cfg.target_logs // 2 and span >= self.size:
            self.size = min(self.ceiling, self.size * 2)
        if self.refused is not None and self._good >= self._probe_after \
                and self.size == self.ceiling and self.refused > self.ceiling + 1:
            self.size = (self.ceiling + self.refused) // 2  # one range tries it
            self._good = 0

    def after_too_large(self, from_block: int, span: int, refusal: RangeTooLarge) -> int:
        """The refused range [from, from+span-1] is split: returns the length of its first part
        (the provider's suggested range, its stated limit, or half), the next ranges' size."""
        hint = refusal.hint
        min_blocks = self.cfg.min_batch_blocks
        if refusal.about_span and span > self.ceiling:  # a refused probe: back to what works
            first = self.ceiling
        elif hint is not None and hint[0] == from_block and from_block <= hint[1] < from_block + span - 1:
            first = hint[1] - from_block + 1
        elif refusal.span_limit is not None and refusal.span_limit < span:
            first = refusal.span_limit
        else:
            first = span // 2
        first = max(min_blocks, min(first, span - 1) if span > 1 else 1)
        if refusal.about_span:
            if span > self.ceiling:  # a probe: the ceiling stands, probe again later
                self._probe_after *= 2
            elif refusal.span_limit is not None:
                self.ceiling = max(min_blocks, min(self.ceiling, refusal.span_limit))
            else:
                self.ceiling = max(min_blocks, min(self.ceiling, span // 2))
            self.refused = span if self.refused is None else min(self.refused, span)
            if refusal.span_limit is not None:
                self.refused = min(self.refused, refusal.span_limit + 1)
        self.size = max(min_blocks, min(first, self.ceiling))
        self._good = 0
        return first

"""RangeSizer: how many blocks the next eth_getLogs asks for."""

from __future__ import annotations

import pytest

from indexer.config import SyncConfig
from indexer.rpc import parse_range_hint
from indexer.rpc import RangeTooLarge
from indexer.sync import RangeSizer
from indexer.sync.plan import PROBE_AFTER


def sizer(batch=1_000, lo=1, hi=100_000, target=10_000) -> RangeSizer:
    return RangeSizer(SyncConfig(batch_blocks=batch, min_batch_blocks=lo, max_batch_blocks=hi,
                                 target_logs=target))


def next_range(s: RangeSizer, cursor: int) -> tuple[int, int]:
    """The range the fetcher asks for next from `cursor` (sync.Fetcher._walk_ranges)."""
    return cursor, cursor + s.size - 1


def results(hint=None) -> RangeTooLarge:
    """A refusal for too many results (Infura's 10,000 logs, Alchemy's response size)."""
    return RangeTooLarge("too many results", hint)


def blocks(limit=None) -> RangeTooLarge:
    """A refusal for too many blocks (QuickNode's 10,000-block range, a public endpoint's 50)."""
    return RangeTooLarge("range too wide", about_span=True, span_limit=limit)


def test_first_range_is_batch_blocks():
    s = sizer(batch=2_000)
    assert s.size == 2_000
    assert s.ceiling == 100_000
    assert next_range(s, 50) == (50, 2_049)


def test_sparse_ranges_double_the_size_up_to_max():
    s = sizer(batch=1_000, hi=5_000)
    sizes = []
    for _ in range(4):
        s.after_result(s.size, 0)
        sizes.append(s.size)
    assert sizes == [2_000, 4_000, 5_000, 5_000]


def test_growth_stops_at_half_the_target():
    s = sizer(target=10_000)
    s.after_result(1_000, 4_999)
    assert s.size == 2_000
    s.after_result(2_000, 5_000)
    assert s.size == 2_000
    s.after_result(2_000, 10_000)
    assert s.size == 2_000


def test_short_range_at_the_end_of_the_walk_does_not_grow_the_size():
    s = sizer(batch=1_000)
    s.after_result(300, 0)
    assert s.size == 1_000


def test_range_over_target_logs_halves_that_range():
    s = sizer(batch=4_000, target=10_000)
    s.after_result(4_000, 10_001)
    assert s.size == 2_000
    s.after_result(2_000, 50_000)
    assert s.size == 1_000


def test_shrink_never_goes_below_min_batch_blocks():
    s = sizer(batch=150, lo=100)
    s.after_result(150, 1_000_000)
    assert s.size == 100
    t = sizer(batch=3, lo=1)
    t.after_result(3, 1_000_000)
    t.after_result(1, 1_000_000)
    assert t.size == 1


def test_too_large_halves_so_next_range_is_from_to_mid():
    s = sizer(batch=1_000)
    lo, hi = 100, 1_099
    assert s.after_too_large(lo, hi - lo + 1, results()) == 500
    mid = (lo + hi) // 2
    assert s.size == 500
    assert next_range(s, lo) == (lo, mid) == (100, 599)
    assert next_range(s, mid + 1) == (600, 1_099)


def test_too_large_follows_hint_starting_at_the_same_block():
    s = sizer(batch=1_000)
    assert s.after_too_large(100, 1_000, results((100, 349))) == 250
    assert s.size == 250
    assert next_range(s, 100) == (100, 349)


def test_too_large_follows_alchemy_inverted_hint_once_parsed():
    hint = parse_range_hint("this block range should work: [0x15d, 0x64]")
    assert hint == (100, 349)
    s = sizer(batch=1_000)
    s.after_too_large(100, 1_000, results(hint))
    assert next_range(s, 100) == (100, 349)


@pytest.mark.parametrize("hint", [(50, 300), (101, 349), (100, 1_099), (100, 5_000)],
                         ids=["starts-before", "starts-after", "same-size", "larger"])
def test_too_large_ignores_hint_that_does_not_shrink_from_the_same_block(hint):
    s = sizer(batch=1_000)
    assert s.after_too_large(100, 1_000, results(hint)) == 500
    assert s.size == 500


def test_too_large_ignores_raw_inverted_hint():
    s = sizer(batch=1_000)
    s.after_too_large(100, 1_000, results((100, 40)))
    assert s.size == 500


def test_too_large_never_goes_below_min_batch_blocks():
    s = sizer(batch=100, lo=64)
    s.after_too_large(0, 100, blocks())
    assert s.size == 64
    s.after_too_large(0, 64, results((0, 9)))
    assert s.size == 64
    assert s.ceiling == 64


def test_too_large_on_a_single_block_keeps_size_and_ceiling_at_one():
    s = sizer(batch=1, lo=1)
    assert s.after_too_large(7, 1, blocks()) == 1
    assert (s.size, s.ceiling) == (1, 1)


def test_too_many_results_shrink_the_range_but_set_no_ceiling():
    s = sizer(batch=1_000)
    s.after_too_large(0, 1_000, results())
    assert (s.size, s.ceiling) == (500, 100_000)
    for expected in (1_000, 2_000, 4_000):
        s.after_result(s.size, 0)
        assert s.size == expected  # a sparse stretch grows past the refused span


def test_a_stated_span_limit_is_the_ceiling_from_then_on():
    s = sizer(batch=1_000)
    for _ in range(4):
        s.after_result(s.size, 0)
    assert s.size == 16_000
    assert s.after_too_large(0, 16_000, blocks(limit=10_000)) == 10_000
    assert (s.size, s.ceiling) == (10_000, 10_000)
    for _ in range(10 * PROBE_AFTER):
        s.after_result(s.size, 0)
        assert s.size == 10_000  # never refused again: no probe above a stated limit


def test_a_span_refusal_without_a_limit_sets_half_the_span_and_sticks():
    # A public endpoint that allows 50 blocks and says only "block range is too wide".
    s = sizer(batch=100)
    assert s.after_too_large(0, 100, blocks()) == 50
    assert (s.size, s.ceiling) == (50, 50)
    sizes = set()
    for _ in range(PROBE_AFTER - 1):
        s.after_result(s.size, 0)
        sizes.add(s.size)
    assert sizes == {50}  # no growth past the ceiling, so no refusal after refusal


def test_the_ceiling_is_probed_rarely_and_less_often_after_each_refused_probe():
    s = sizer(batch=100)
    s.after_too_large(0, 100, blocks())  # ceiling 50, refused at 100
    for _ in range(PROBE_AFTER):
        s.after_result(s.size, 0)
    assert s.size == 75  # one probe halfway to the refused span
    s.after_too_large(0, 75, blocks())  # refused: the ceiling stands
    assert (s.size, s.ceiling, s.refused) == (50, 50, 75)
    for _ in range(PROBE_AFTER):
        s.after_result(s.size, 0)
    assert s.size == 50  # the next probe waits twice as long
    for _ in range(PROBE_AFTER):
        s.after_result(s.size, 0)
    assert s.size == 62
    s.after_result(62, 0)  # the probe went through: the ceiling rises to it
    assert (s.size, s.ceiling) == (62, 62)

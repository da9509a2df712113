"""date_blocks: every block with a log gets its exact UTC day from a few headers; its time is
exact where a header was read or fixed slots leave no doubt, else an estimate in that day."""

from __future__ import annotations

import random

from indexer.sync.ranges import DAY, date_blocks


class Headers:
    """Answers fetch_headers from a table of block timestamps, counting what it was asked."""

    def __init__(self, stamps: dict[int, int]):
        self.stamps, self.asked = stamps, []

    def fetch_headers(self, numbers, chunk):
        self.asked += list(numbers)
        return {n: {"number": hex(n), "timestamp": hex(self.stamps[n])} for n in numbers}


def pow_chain(blocks: int, seed: int, start: int = 1_600_000_000) -> dict[int, int]:
    rng, t, stamps = random.Random(seed), start, {}
    for n in range(blocks):
        t += rng.choice((1, 3, 9, 13, 14, 20, 41))
        stamps[n] = t
    return stamps


def test_every_block_gets_its_exact_day_from_a_few_headers_per_midnight():
    stamps = pow_chain(40_000, seed=3)
    rng = random.Random(4)
    blocks = sorted(rng.sample(range(1, 39_999), 2_500))
    node = Headers(stamps)
    fetched, times = date_blocks(node, blocks, slots=None)
    days = stamps[blocks[-1]] // DAY - stamps[blocks[0]] // DAY
    assert days >= 4
    for n in blocks:
        if n in fetched:
            assert int(fetched[n]["timestamp"], 16) == stamps[n]
        else:
            t, exact = times[n]
            assert t // DAY == stamps[n] // DAY, n
            assert not exact
    assert len(node.asked) <= 2 + 6 * days  # not one per block with a log


def test_no_missed_slot_between_two_headers_makes_every_time_between_exact():
    merge = 1_000
    stamps = {n: 1_700_000_000 + 12 * (n - merge) for n in range(merge, merge + 5_000)}
    node = Headers(stamps)
    blocks = [1_000, 1_010, 1_500, 2_222, 5_999]
    fetched, times = date_blocks(node, blocks, slots=(merge, 12))
    for n in blocks:
        if n not in fetched:
            assert times[n] == (stamps[n], True)


def test_a_missed_slot_leaves_estimates_but_exact_days():
    merge = 1_000
    stamps, t = {}, 1_700_006_400
    for n in range(merge, merge + 20_000):
        stamps[n] = t
        t += 24 if n % 97 == 0 else 12  # a missed slot now and then
    node = Headers(stamps)
    blocks = list(range(merge + 5, merge + 20_000, 13))
    fetched, times = date_blocks(node, blocks, slots=(merge, 12))
    assert any(not exact for _, exact in times.values())
    for n, (t, exact) in times.items():
        assert t // DAY == stamps[n] // DAY
        if exact:
            assert t == stamps[n]


def test_before_the_first_fixed_slot_nothing_is_called_exact():
    stamps = {n: 1_600_000_000 + 12 * n for n in range(100)}  # evenly spaced, but proof of work
    _, times = date_blocks(Headers(stamps), [10, 20, 30], slots=(500, 12))
    assert all(not exact for _, exact in times.values())


def test_no_block_no_header_and_one_block_one_header():
    node = Headers({7: 1_600_000_000})
    assert date_blocks(node, [], slots=None) == ({}, {})
    fetched, times = date_blocks(node, [7], slots=None)
    assert list(fetched) == [7] and times == {} and node.asked == [7]

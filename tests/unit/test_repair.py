"""The repair's bisection: where a difference starts, in ceil(log2(span)) questions."""

from __future__ import annotations

import math

import pytest

from indexer.repair import bisect
from indexer.tokens import MAINNET_TOKENS


@pytest.mark.parametrize("good, bad, first", [
    (8_500_000, 23_000_000, 8_500_001), (8_500_000, 23_000_000, 19_123_457),
    (8_500_000, 23_000_000, 23_000_000), (0, 1, 1), (4, 6, 5), (10, 200, 137),
])
def test_bisect_finds_the_first_bad_block_in_log2_questions(good, bad, first):
    asked = []

    def is_bad(block: int) -> bool:
        assert good < block < bad  # the ends are known, never asked
        asked.append(block)
        return block >= first

    assert bisect(good, bad, is_bad) == first
    assert len(asked) <= math.ceil(math.log2(bad - good))
    assert len(set(asked)) == len(asked)


def test_mainnet_history_takes_about_25_questions():
    # From the tokens' first blocks to a head of mid-2025, each question one eth_call request.
    for start, questions in ((MAINNET_TOKENS["PAXG"].start_block, 24),
                             (MAINNET_TOKENS["XAUT"].start_block, 24)):
        asked = []
        bisect(start - 1, 23_000_000, lambda b: asked.append(b) or b > 20_000_000)
        assert len(asked) == questions


def test_bisect_on_a_difference_that_comes_and_goes_ends_where_one_starts():
    # Two dropped logs that cancel out in between: any block found is one where the stored
    # logs account for another change than the chain shows (bad right above good).
    bad_blocks = set(range(30, 40)) | set(range(70, 101))
    found = bisect(0, 100, lambda b: b in bad_blocks)
    assert found in bad_blocks and found - 1 not in bad_blocks


def test_dry_run_alone_is_refused_before_anything_is_read():
    from click.testing import CliRunner

    from indexer.cli import main

    result = CliRunner().invoke(main, ["verify", "--dry-run"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == "Error: --dry-run goes with --repair"

"""The request floor: the fewest calls any correct scanner needs for the same history under a
profile's caps, and what they cost.

A correct scanner of blocks [lo, hi] must
- cover every block with eth_getLogs (it cannot know where logs are without asking), in
  ranges the provider accepts. The fewest such ranges come from a greedy walk: from the first
  uncovered block, take the longest range the caps allow (for "both caps" providers the
  shorter of the block cap and the last block before the (cap+1)-th log; for Alchemy's
  "either" rule the longer). Acceptance is closed under shrinking a range and the longest
  acceptable end never moves back as the start moves on, so greedy is optimal;
- know each log's block time: one header per distinct block with a log, unless the logs
  carry blockTimestamp;
- ask the chain id and the head once;
- with the price feeds: learn each proxy's aggregators by eth_call (`phaseId()`, then
  `phaseAggregators(i)` for each phase: 9 calls for the two feeds), and ask for their
  AnswerUpdated logs in the same eth_getLogs as the tokens' (the aggregators' addresses and
  topic join the filter): no call of their own, but their logs count against a result cap
  and their blocks need headers like any other log's.

That is the strict floor. A scanner that also checkpoints a block hash at the end of every
range (as the indexer does, to link ranges and resume on a known hash) needs one more header
per range whose last block holds no log: the "linked" floor. Below the finalized block
nothing can reorganise, so the strict floor is the true minimum; the linked one is the
minimum for the indexer's design.

Batching does not lower these figures: providers bill and rate-limit each call of a batch.
"""

from __future__ import annotations

import bisect
from array import array

from benchmarks.synthnet import events as ev
from benchmarks.synthnet.providers import Profile

GET_LOGS, HEADER, CALL = "eth_getLogs", "eth_getBlockByNumber", "eth_call"
START_CALLS = ("eth_chainId", "eth_blockNumber")


def phase_calls(at_block: int) -> int:
    """The eth_calls that list the feeds' aggregators at a block: phaseId() and
    phaseAggregators(i) for each phase begun by then, per feed (decimals() is not needed:
    FACTS.md gives 8, and it is not a request the logs depend on)."""
    return sum(1 + sum(1 for p in f.phases if p.block <= at_block) for f in ev.FEEDS)


def log_ranges(log_blocks: array, lo: int, hi: int, range_blocks: int, result_cap: int,
               either: bool) -> tuple[list[int], int]:
    """The last block of each range of the greedy cover of [lo, hi], and how many ranges are
    a single block holding more logs than the result cap (refused whatever a scanner does)."""
    ends: list[int] = []
    impossible = 0
    n_logs = len(log_blocks)
    pos = lo
    while pos <= hi:
        by_span = pos + range_blocks - 1 if range_blocks else hi
        if result_cap:
            i = bisect.bisect_left(log_blocks, pos) + result_cap
            by_count = log_blocks[i] - 1 if i < n_logs else hi
        else:
            by_count = hi
        if either and range_blocks and result_cap:
            end = max(by_span, by_count)
        else:
            end = min(by_span, by_count)
        if end < pos:
            end = pos
            impossible += 1
        end = min(end, hi)
        ends.append(end)
        pos = end + 1
    return ends, impossible


def floor(profile: Profile, log_blocks: array, distinct_log_blocks: array, lo: int, hi: int, *,
          timestamps: bool, eth_calls: int = 0) -> dict:
    """The floor for scanning [lo, hi] under `profile`, with or without blockTimestamp.
    `log_blocks`: the block of every log the scan asks for (the price feeds' too, if it reads
    them); `eth_calls`: the eth_calls it needs besides (phase_calls, for the feeds)."""
    if profile.range_blocks and not profile.result_cap and not profile.either:
        # Fixed-size ranges: no need to walk them one by one for the count.
        ends = list(range(lo + profile.range_blocks - 1, hi, profile.range_blocks)) + [hi]
        impossible = 0
    else:
        ends, impossible = log_ranges(log_blocks, lo, hi, profile.range_blocks, profile.result_cap,
                                      profile.either)
    a = bisect.bisect_left(distinct_log_blocks, lo)
    b = bisect.bisect_right(distinct_log_blocks, hi)
    log_block_count = b - a
    headers = 0 if timestamps else log_block_count
    # Range ends whose header the strict floor does not already fetch.
    if timestamps:
        extra = len(ends)
    else:
        extra = 0
        for end in ends:
            j = bisect.bisect_left(distinct_log_blocks, end, a, b)
            if j == b or distinct_log_blocks[j] != end:
                extra += 1
    calls = {GET_LOGS: len(ends), HEADER: headers, **{m: 1 for m in START_CALLS}}
    if eth_calls:
        calls[CALL] = eth_calls
    credits = sum(profile.cost(m) * n for m, n in calls.items())
    linked_credits = credits + extra * profile.cost(HEADER)
    out = {
        "from_block": lo, "to_block": hi, "timestamps": timestamps,
        "calls": calls, "total_calls": sum(calls.values()), "credits": credits,
        "linked_extra_headers": extra, "linked_calls": sum(calls.values()) + extra,
        "linked_credits": linked_credits, "log_blocks": log_block_count,
        "single_block_over_cap": impossible,
    }
    if profile.rate:
        out["seconds_at_rate"] = round(credits / profile.rate, 1)
    if profile.daily_quota:
        out["days_of_quota"] = round(credits / profile.daily_quota, 3)
    if profile.free_tier:
        period, units = profile.free_tier
        out["free_tier_share"] = round(credits / units, 4)
        out["free_tier_period"] = period
    return out

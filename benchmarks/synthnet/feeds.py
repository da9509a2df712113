"""Chainlink's XAU/USD and PAXG/USD on the synthetic chain: a gold price, the rounds each
phase's aggregator posts, and what a reader of their logs must end up with.

- **Price**: gold follows a log-linear path through approximate real closes (1,780 USD in mid
  2020, 2,060 in August 2020, 1,630 in late 2022, 2,790 in late 2024, about 4,000 at the head)
  plus two mean-reverting deviations (days and weeks), stepped every 15 minutes while the
  market is open (Sunday 22:00 to Friday 21:00 UTC); over the weekend it stands at Friday's
  close, so the feed only re-posts it at the heartbeat. PAXG/USD is gold times (1 + a premium)
  that wanders within +-1%, around the clock (PAXG trades at weekends).
- **Rounds**: an aggregator posts when its answer would move by the feed's deviation (0.3%
  XAU/USD, 0.5% PAXG/USD) since its last round, or when its last round is a heartbeat (24 h)
  old, checked at each step; the round lands in the first block at or after the step
  (updatedAt = that block's time). Answers have 8 decimals. Round ids count from 1 per
  aggregator.
- **Phases** (events.FEEDS): a new aggregator's first round lands in the block where the
  proxy switches to it; the old one goes on posting for 25-36 h (real aggregators overlap),
  which a reader must not take for the proxy's answer: its rounds count until the next
  phase's first round, as the indexer's `price_rounds` view says.

Everything comes from the seed alone (its own random streams, and the block times), never
from --scale: the feeds do not grow with token activity. About 4,000-5,000 rounds per feed.
"""

from __future__ import annotations

import bisect
import calendar
import hashlib
import math
import random
import time
from dataclasses import dataclass

from benchmarks.synthnet import events as ev
from benchmarks.synthnet.blocks import Blocks

STEP = 900  # seconds between the walk's steps, where the aggregators check deviation and heartbeat
OVERLAP = (25 * 3_600, 36 * 3_600)  # how long an old aggregator goes on after a phase change
# (UTC date, USD per troy ounce): the path the walk's log price is pulled to; roughly real
# closes until 2025, about 4,000 at the synthetic head (November 2026).
GOLD_PATH = (
    ("2020-07-01", 1_780), ("2020-08-06", 2_060), ("2020-11-30", 1_780), ("2021-03-08", 1_680),
    ("2021-06-01", 1_905), ("2021-09-30", 1_745), ("2022-03-08", 2_040), ("2022-09-28", 1_630),
    ("2023-05-04", 2_050), ("2023-10-05", 1_820), ("2024-04-12", 2_380), ("2024-10-30", 2_790),
    ("2025-04-22", 3_420), ("2025-10-20", 4_250), ("2026-03-02", 3_900), ("2026-12-31", 4_010),
)
# Mean-reverting deviations from the path, per step of an open market: a fast one (about two
# days) and a slow one (about a month). Together about 0.45% a trading day, which with the
# 0.3% deviation gives XAU/USD two or three rounds a trading day, as the real feed posts.
FAST_PULL, FAST_SIGMA = 1 / 192, 0.00030
SLOW_PULL, SLOW_SIGMA = 1 / 2_000, 0.00035
# PAXG's premium to gold: mean-reverting around 0 (about 0.4%), clipped to +-1%, every step.
PREMIUM_PULL, PREMIUM_SIGMA, PREMIUM_LIMIT = 1 / 500, 0.00025, 0.01


@dataclass(frozen=True, slots=True)
class Round:
    block: int
    aggregator: int  # index in ev.AGGREGATORS
    round_id: int  # the aggregator's own round id (the proxy's is phase << 64 | this)
    answer: int  # 8 decimals
    updated_at: int  # the block's time


def _utc(date: str) -> int:
    return calendar.timegm(time.strptime(date, "%Y-%m-%d"))


_PATH_T = [_utc(d) for d, _ in GOLD_PATH]
_PATH_X = [math.log(p) for _, p in GOLD_PATH]


def gold_path(t: float) -> float:
    """The log price the walk is pulled to at unix time t."""
    i = bisect.bisect_right(_PATH_T, t) - 1
    if i < 0:
        return _PATH_X[0]
    if i >= len(_PATH_T) - 1:
        return _PATH_X[-1]
    f = (t - _PATH_T[i]) / (_PATH_T[i + 1] - _PATH_T[i])
    return _PATH_X[i] + f * (_PATH_X[i + 1] - _PATH_X[i])


def market_open(t: int) -> bool:
    """Gold trades from Sunday 22:00 to Friday 21:00 UTC."""
    day = (t // 86_400 + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    hour = t % 86_400 // 3_600
    if day == 5:  # Saturday
        return False
    if day == 4:
        return hour < 21
    if day == 6:
        return hour >= 22
    return True


def first_block_at(blocks: Blocks, t: int) -> int:
    """The first block whose time is t or later."""
    n = blocks.block_at_time(t)
    return n if blocks.timestamp(n) >= t else n + 1


def generate_rounds(seed: int, blocks: Blocks, head: int) -> list[Round]:
    """Every round of every aggregator up to block `head`, sorted by (block, aggregator)."""
    rng = random.Random(f"synthnet-feeds-{seed}")
    gauss = rng.gauss
    aggs = ev.AGGREGATORS
    start_time = [blocks.timestamp(a.block) for a in aggs]
    # An aggregator stops posting a while after the proxy moved on to the next phase.
    end_time: list[float] = []
    for j, a in enumerate(aggs):
        nxt = j + 1 if j + 1 < len(aggs) and aggs[j + 1].feed == a.feed else None
        end_time.append(math.inf if nxt is None or aggs[nxt].block > head
                        else start_time[nxt] + OVERLAP[0] + rng.random() * (OVERLAP[1] - OVERLAP[0]))
    head_time = blocks.timestamp(head)
    t = min(start_time) // STEP * STEP
    fast = slow = premium = 0.0
    gold = math.exp(gold_path(t))
    rounds: list[Round] = []
    last_answer = [0] * len(aggs)
    last_at = [0] * len(aggs)
    posted = [0] * len(aggs)  # rounds so far; 0 = not started
    scale = [10 ** ev.FEEDS[a.feed].decimals for a in aggs]
    deviation = [ev.FEEDS[a.feed].deviation for a in aggs]
    heartbeat = [ev.FEEDS[a.feed].heartbeat for a in aggs]
    live = [j for j in range(len(aggs)) if aggs[j].block <= head]
    while t <= head_time and live:
        if market_open(t):
            fast += -FAST_PULL * fast + FAST_SIGMA * gauss(0.0, 1.0)
            slow += -SLOW_PULL * slow + SLOW_SIGMA * gauss(0.0, 1.0)
            gold = math.exp(gold_path(t) + fast + slow)
        premium = max(-PREMIUM_LIMIT, min(PREMIUM_LIMIT, premium - PREMIUM_PULL * premium
                                          + PREMIUM_SIGMA * gauss(0.0, 1.0)))
        prices = (gold, gold * (1 + premium))
        for j in tuple(live):
            a = aggs[j]
            answer = round(prices[a.feed] * scale[j])
            if not posted[j]:
                if t < start_time[j]:
                    continue
                block, at = a.block, start_time[j]  # lands with the proxy's switch to it
            elif t >= end_time[j]:
                live.remove(j)
                continue
            elif abs(answer - last_answer[j]) >= deviation[j] * last_answer[j] \
                    or t - last_at[j] >= heartbeat[j]:
                block = first_block_at(blocks, t)
                if block > head:
                    live.remove(j)
                    continue
                at = blocks.timestamp(block)
            else:
                continue
            posted[j] += 1
            last_answer[j], last_at[j] = answer, at
            rounds.append(Round(block, j, posted[j], answer, at))
        t += STEP
    rounds.sort(key=lambda r: (r.block, r.aggregator))
    return rounds


# -- what a reader of the logs must store ----------------------------------------------------

def price_rows(history, blocks: Blocks, to_block: int) -> dict[str, list[tuple]]:
    """Per feed, the rows the indexer's `prices` table must hold after reading blocks up to
    `to_block`: (block_number, log_index, phase_id, round_id, answer, updated_at, block_hash,
    tx_hash), in (block, log index) order; round_id is the proxy's."""
    rows: dict[str, list[tuple]] = {name: [] for name in ev.FEED_NAMES}
    for i in history.answer_positions(to_block):
        a = ev.AGGREGATORS[ev.AGGREGATOR_OF_KIND[history.kind[i]]]
        n = history.block[i]
        rows[ev.FEEDS[a.feed].name].append((
            n, history.logi[i], a.phase, a.phase << 64 | history.a[i], history.amount(i), history.b[i],
            blocks.block_hash(n), blocks.tx_hash(n, history.txi[i])))
    return rows


def rows_digest(rows: list[tuple]) -> str:
    """The md5 PRICES_DIGEST_SQL computes over the same rows."""
    inner = "".join(hashlib.md5("|".join(str(x) for x in row).encode()).hexdigest() for row in rows)
    return hashlib.md5(inner.encode()).hexdigest()


# The same fingerprint over what the indexer stored, per feed (rows_digest computes it from the
# history: integers print alike in both, updated_at as whole unix seconds).
PRICES_DIGEST_SQL = """
    SELECT feed, count(*), md5(string_agg(md5(concat_ws('|', block_number, log_index, phase_id,
               round_id, answer, extract(epoch FROM updated_at)::bigint, block_hash, tx_hash)),
               '' ORDER BY block_number, log_index))
    FROM prices WHERE chain_id = 1 GROUP BY feed"""


def proxy_rounds(rows: list[tuple]) -> list[tuple]:
    """The rows that were the proxy's answer, by the indexer's rule (sql/0011_prices.sql,
    price_rounds): a phase's rounds count until the next phase's first round."""
    first_at: dict[int, int] = {}
    for row in rows:
        first_at[row[2]] = min(first_at.get(row[2], row[5]), row[5])
    end_at = {p: min((at for q, at in first_at.items() if q > p), default=None) for p in first_at}
    return [row for row in rows if end_at[row[2]] is None or row[5] < end_at[row[2]]]


def expected_prices(history, blocks: Blocks, to_block: int) -> dict:
    """Per feed: rounds stored, their digest, the rounds that were the proxy's answer, the
    latest of those (gold_price_latest's row), the lowest and highest answer, the UTC day of
    the first one."""
    out = {}
    for name, rows in price_rows(history, blocks, to_block).items():
        proxied = proxy_rounds(rows)
        latest = max(proxied, key=lambda r: (r[5], r[3]), default=None)
        out[name] = {
            "rounds": len(rows), "digest": rows_digest(rows), "proxy_rounds": len(proxied),
            "latest": None if latest is None else {"answer": latest[4], "round_id": str(latest[3]),
                                                   "updated_at": latest[5], "block": latest[0]},
            "min_answer": min((r[4] for r in proxied), default=None),
            "max_answer": max((r[4] for r in proxied), default=None),
            "first_day": time.strftime("%Y-%m-%d", time.gmtime(min(r[5] for r in proxied)))
            if proxied else None,
        }
    return out

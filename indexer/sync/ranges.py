"""One block range: its logs and headers fetched and checked against each other, then decoded
into a batch (fetch_range, build_batch); fetch.py runs these on threads ahead of the writer."""

from __future__ import annotations

import logging
from bisect import bisect_left
from dataclasses import dataclass, field

from indexer import proxies
from indexer.completeness import Gap, gaps
from indexer.decode import (DecodeState, decode_logs, decode_prices, format_time,
                            upgraded_implementations)
from indexer.feeds import Aggregator
from indexer.metrics import NullMetrics
from indexer.rpc import RpcClient
from indexer.store import Header
from indexer.tokens import Token

log = logging.getLogger(__name__)


class HashMismatch(Exception):
    """The node's answers disagree (a log's blockHash vs its header, the chain moved while we
    fetched, a header missing): refetch the range, never store it."""


class IncompleteAnswer(Exception):
    """The range's eth_getLogs answer lacks logs of transactions it holds: a provider left
    them out. Ask again; nothing of it was stored or kept in the decode state."""

    def __init__(self, lo: int, hi: int, found: list[Gap]):
        more = f" and {len(found) - 1} more" if len(found) > 1 else ""
        super().__init__(f"blocks {lo}-{hi}: {found[0]}{more}")
        self.gaps = found


class ReorgDetected(Exception):
    """The first block of a range does not build on the block we stored below it."""

    def __init__(self, block: int):
        super().__init__(f"block {block + 1} does not build on stored block {block}")
        self.block = block


@dataclass(slots=True)
class Batch:
    from_block: int
    to_block: int
    rows: list[list]
    headers: list[Header]
    # The block the due tokens' checkpoints move to: to_block, or deep in final history (where
    # no header is fetched) the last block with a log, whose hash the logs gave; None when no
    # block of the range has a known hash (nothing to store, nothing to move).
    checkpoint: Header | None
    tokens: tuple[str, ...]
    window_from: int
    events_by_token: dict[str, int]
    estimated: list[int] = field(default_factory=list)  # blocks whose stored time is an estimate
    prices: list[list] = field(default_factory=list)  # rows of `prices`
    feeds: tuple[str, ...] = ()  # the price feed aggregators whose checkpoints move too


@dataclass(slots=True)
class RangeAnswer:
    """What the node said about one range: its logs, the headers asked for it, and near the
    head the hash its last block had before eth_getLogs."""

    lo: int
    hi: int
    logs: list[dict]
    headers: dict[int, dict]
    hash_before: str | None
    # Deep, without blockTimestamp: the time of each log block without a header, and whether
    # it is exact (else an estimate inside the block's UTC day, which is exact): date_blocks.
    times: dict[int, tuple[int, bool]] = field(default_factory=dict)


def _header(raw: dict) -> Header:
    return Header(
        number=int(raw["number"], 16),
        hash=raw["hash"],
        parent_hash=raw["parentHash"],
        block_time=format_time(int(raw["timestamp"], 16)),
    )


def _stamps(logs: list[dict]) -> dict[int, int] | None:
    """Block number → timestamp from the logs' blockTimestamp (execution-apis, August 2025);
    None when a log lacks one. A zero is no timestamp (an old erigon release sent 0x0)."""
    stamps: dict[int, int] = {}
    seen = None  # (blockNumber, blockTimestamp) of the last log, as sent: a block's logs repeat it
    for entry in logs:
        raw = entry.get("blockTimestamp")
        if (entry["blockNumber"], raw) == seen:
            continue
        if not raw or int(raw, 16) == 0:
            return None
        seen = (entry["blockNumber"], raw)
        stamps[int(entry["blockNumber"], 16)] = int(raw, 16)
    return stamps


DAY = 86_400


def date_blocks(rpc: RpcClient, blocks: list[int], *, slots: tuple[int, int] | None
                ) -> tuple[dict[int, dict], dict[int, tuple[int, bool]]]:
    """The UTC day of each of `blocks` (sorted) exactly, from few headers.

    The headers of the first and the last come first. Between two blocks whose days are the
    same every block has that day, and a time interpolated between them (exact where `slots`
    says no slot was missed between them). Where the days differ, the block nearest to where
    the midnight should fall is asked for, and each side is dated again: a day boundary costs
    a few headers (each one an exact time), not one header per block with a log.
    Returns the headers fetched and (time, exact) for the other blocks.
    """
    if not blocks:
        return {}, {}
    lo, hi = blocks[0], blocks[-1]
    fetched = rpc.fetch_headers(sorted({lo, hi}), chunk=2)
    stamp = {n: int(h["timestamp"], 16) for n, h in fetched.items()}
    times: dict[int, tuple[int, bool]] = {}
    todo = [(lo, hi, blocks[1:-1])]
    while todo:
        a, b, inside = todo.pop()
        if not inside:
            continue
        ta, tb = stamp[a], stamp[b]
        if ta // DAY == tb // DAY:
            exact = slots is not None and a >= slots[0] and tb - ta == slots[1] * (b - a)
            for n in inside:
                times[n] = (ta + (tb - ta) * (n - a) // (b - a), exact)
            continue
        midnight = (ta // DAY + 1) * DAY
        guess = a + (midnight - ta) * (b - a) / (tb - ta)
        i = min(bisect_left(inside, guess), len(inside) - 1)
        if i > 0 and guess - inside[i - 1] < inside[i] - guess:
            i -= 1
        probe = inside[i]
        fetched.update(rpc.fetch_headers([probe], chunk=1))
        stamp[probe] = int(fetched[probe]["timestamp"], 16)
        todo.append((a, probe, inside[:i]))
        todo.append((probe, b, inside[i + 1:]))
    return fetched, times


# A cross-checked range is asked at most this many more times before its answers are given up
# on as all different (then the range is fetched again, as for any inconsistent answer).
MORE_OPINIONS = 3


def _log_keys(logs: list[dict]) -> list[tuple]:
    return sorted((int(e["blockNumber"], 16), int(e["logIndex"], 16), e["blockHash"].lower(),
                   e["transactionHash"].lower(), tuple(t.lower() for t in e["topics"]),
                   e["data"].lower()) for e in logs)


def second_opinion(rpc: RpcClient, lo: int, hi: int, addresses: list[str], topics: list[str],
                   logs: list[dict], metrics: NullMetrics) -> list[dict]:
    """The range's logs as the endpoints settle them: `logs` (the client's endpoint) when the
    next endpoint answers the same. Otherwise the answer that holds every log of the others,
    if one does (what a provider gets wrong this way is leaving logs out; this deep in final
    history no fork can add any), else the endpoints are asked in turn until two endpoints
    agree or one answer holds all the others' logs. With one endpoint it is asked again: a
    hosted provider's URL is a load-balanced fleet, and the next answer comes from another
    of its nodes, often enough."""
    n = len(rpc.endpoints)
    first = rpc.current_index
    answers = [(first, logs, _log_keys(logs))]
    for step in range(1, MORE_OPINIONS + 2):
        index = (first + step) % n
        other = rpc.fetch_logs_from(index, lo, hi, addresses, topics)
        mine = _log_keys(other)
        if step == 1 and mine == answers[0][2]:
            metrics.cross_check("agree")
            return logs
        answers.append((index, other, mine))
        chosen = next((a for a in answers for b in answers
                       if (a[0] != b[0] or n == 1) and a is not b and a[2] == b[2]), None)
        if chosen is None:
            union = set().union(*(set(a[2]) for a in answers))
            chosen = next((a for a in answers if set(a[2]) == union), None)
        if chosen is not None:
            metrics.cross_check("settled")
            log.warning("blocks %d-%d: the endpoints' eth_getLogs answers differed (%s logs); "
                        "taking the %d logs of %s", lo, hi,
                        ", ".join(str(len(a[2])) for a in answers), len(chosen[1]),
                        rpc.endpoints[chosen[0]].safe_url)
            return chosen[1]
    raise HashMismatch(f"{len(answers)} eth_getLogs answers for blocks {lo}-{hi} from the "
                       f"endpoints all differ ({', '.join(str(len(a[2])) for a in answers)} logs)")


def fetch_range(rpc: RpcClient, lo: int, hi: int, *, addresses: list[str], topics: list[str],
                window_from: int, finalized: int | None, header_batch: int,
                anchor: bool = False, slots: tuple[int, int] | None = None,
                cross_check: bool = False, metrics: NullMetrics | None = None) -> RangeAnswer:
    """All the node's answers one range needs (runs on a pool thread, several side by side).

    Near the head (blocks from `window_from` on) the range's last block is read before
    eth_getLogs and every header of the window part is fetched; a range that reaches blocks
    not yet final also gets the headers of its ends (it must build on the block stored below)
    and of its blocks with logs there. Blocks with logs below that, final and outside the
    window, need no header to link them, only their times: from their logs' blockTimestamp, or
    else from the few headers that give each its exact UTC day (date_blocks). `anchor` asks
    for `hi`'s header too (a checkpoint far behind, after ranges without logs, moves to it).
    """
    near_head = hi >= window_from
    hash_before = None
    if near_head:
        before = rpc.fetch_header(hi)
        if before is None:
            raise HashMismatch(f"node has no block {hi} yet")
        hash_before = before["hash"]
    logs = rpc.fetch_logs(lo, hi, addresses, topics)
    if cross_check:
        logs = second_opinion(rpc, lo, hi, addresses, topics, logs, metrics or NullMetrics())
    numbers = {int(raw, 16) for raw in {entry["blockNumber"] for entry in logs}}
    if any(n < lo or n > hi for n in numbers):
        raise HashMismatch(f"node returned logs outside {lo}-{hi}")
    # Blocks below this are outside the reorg window and final: no header is needed to link
    # them, only their times, which their logs' blockTimestamp gives (date_blocks otherwise).
    final_below = window_from if finalized is None else min(window_from, finalized + 1)
    stamped = _stamps(logs) is not None
    headers, times = ({}, {}) if stamped else date_blocks(
        rpc, sorted(n for n in numbers if n < final_below), slots=slots)
    need = {n for n in numbers if n >= final_below}
    if hi >= final_below:  # the range reaches unfinal blocks: its ends link it
        need.update((lo, hi))
    elif anchor:
        need.add(hi)
    if near_head:
        need.update(range(max(lo, window_from), hi + 1))
    need.difference_update(headers)
    if need:
        headers.update(rpc.fetch_headers(sorted(need), chunk=header_batch))
    return RangeAnswer(lo, hi, logs, headers, hash_before, times)


def build_batch(answer: RangeAnswer, rpc: RpcClient, *, chain_id: int,
                tokens: list[Token | Aggregator], next_block: dict[str, int], state: DecodeState,
                prev_hash: str | None, window_from: int,
                complete: frozenset[str] | None = None) -> Batch:
    """A range's answer checked and decoded into the batch the writer stores.

    `prev_hash` is the stored hash of block lo-1 (None when it is unknown: a token's first
    block, or after a range whose end had no header): the range must build on it, else
    ReorgDetected. Near the head the range's last block must have kept its hash while its
    logs were read (a block hash commits to all its ancestors, so the same hash both times
    means the logs came from the chain the headers describe), and the window's headers must
    link; every log's blockHash must be its header's. Without headers (deep, logs with
    blockTimestamp) the logs of one block must agree on its hash.
    With `complete` (a set of indexer.completeness rules to leave out), a decoded answer with
    gaps raises IncompleteAnswer and leaves `state` as it was.
    """
    lo, hi, raw_logs = answer.lo, answer.hi, answer.logs
    headers = {n: _header(h) for n, h in answer.headers.items()}
    if answer.hash_before is not None:
        if headers[hi].hash != answer.hash_before:
            raise HashMismatch(f"block {hi} changed while its range was fetched")
        for n in range(max(lo, window_from) + 1, hi + 1):
            if headers[n].parent_hash != headers[n - 1].hash:
                raise HashMismatch(f"headers {n - 1} and {n} do not link")
    fetched = set(headers)
    estimated = set()
    seen = None  # (blockNumber, blockHash) of the last log checked: the next logs of its block
    for entry in raw_logs:  # pass the same checks
        if (entry["blockNumber"], entry["blockHash"]) == seen:
            continue
        seen = (entry["blockNumber"], entry["blockHash"])
        n = int(entry["blockNumber"], 16)
        header = headers.get(n)
        if header is None:  # deep, no header asked for: the block as its logs describe it
            if n in answer.times:
                stamp, exact = answer.times[n]
                if not exact:
                    estimated.add(n)
            else:
                stamp = int(entry["blockTimestamp"], 16)
            headers[n] = Header(n, entry["blockHash"], None, format_time(stamp))
        elif entry["blockHash"] != header.hash:
            what = "header" if n in fetched else "another log of the block"
            raise HashMismatch(f"log in block {n} has blockHash {entry['blockHash']}, "
                               f"{what} says {header.hash}")
    if prev_hash is not None and lo in fetched and headers[lo].parent_hash != prev_hash:
        raise ReorgDetected(lo - 1)
    for n in [n for n in fetched if n < window_from]:
        # Below the reorg window no linkage is ever checked again: a row there holds what any
        # split of the ranges gives, the block's hash and time, whether its header was fetched.
        headers[n] = Header(n, headers[n].hash, None, headers[n].block_time)
    checkpoint = headers[hi] if hi in headers else headers[max(headers)] if headers else None
    aggregators = [t for t in tokens if isinstance(t, Aggregator)]
    tokens = [t for t in tokens if not isinstance(t, Aggregator)]
    by_address = {a: t for t in tokens for a in t.addresses}
    for implementation in upgraded_implementations(raw_logs, by_address) \
            - state.implementation_fee_legs.keys():
        state.implementation_fee_legs[implementation] = proxies.emits_fee_legs(rpc, implementation)
    before = (dict(state.fee_recipient), dict(state.fee_legs))
    rows = decode_logs(
        raw_logs,
        chain_id=chain_id,
        tokens_by_address=by_address,
        first_block={t.symbol: next_block[t.symbol] for t in tokens},
        block_times={n: h.block_time for n, h in headers.items()},
        state=state,
    )
    if complete is not None:
        found = gaps(rows, {t.symbol: t for t in tokens}, before[1],
                     state.implementation_fee_legs, complete)
        if found:
            state.fee_recipient, state.fee_legs = before
            raise IncompleteAnswer(lo, hi, found)
    prices = decode_prices(
        raw_logs,
        chain_id=chain_id,
        aggregators_by_address={a.address: a for a in aggregators},
        first_block={a.symbol: next_block[a.symbol] for a in aggregators},
        block_times={n: h.block_time for n, h in headers.items()},
    ) if aggregators else []
    keep = {row[1] for row in rows}
    if checkpoint is not None:
        keep.add(checkpoint.number)
    if answer.hash_before is not None:
        keep.update(range(max(lo, window_from), hi + 1))
    return Batch(
        from_block=lo,
        to_block=hi,
        rows=rows,
        headers=[headers[n] for n in sorted(keep)],
        checkpoint=checkpoint,
        tokens=tuple(t.symbol for t in tokens),
        window_from=window_from,
        events_by_token=_count_by_token(rows),
        estimated=sorted(estimated),
        prices=prices,
        feeds=tuple(a.symbol for a in aggregators),
    )


def _count_by_token(rows: list[list]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[3]] = counts.get(row[3], 0) + 1
    return counts

"""The price feeds the database reads (revision 0011): their proxies and aggregators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import psycopg

from indexer.feeds import Aggregator


@dataclass(frozen=True, slots=True)
class PriceFeed:
    feed: str
    proxy: str
    decimals: int
    checked_block: int | None
    aggregators: tuple[Aggregator, ...]


def load_price_feeds(conn: psycopg.Connection, chain_id: int) -> dict[str, PriceFeed]:
    """The feeds this database reads, with their aggregators as the sync's log sources."""
    aggregators: dict[str, list[Aggregator]] = {}
    for feed, phase, address, start in conn.execute(
            """SELECT feed, phase_id, aggregator, start_block FROM price_aggregators
               WHERE chain_id = %s ORDER BY feed, phase_id""", (chain_id,)).fetchall():
        aggregators.setdefault(feed, []).append(Aggregator(feed, phase, address, start))
    return {feed: PriceFeed(feed, proxy, decimals, checked, tuple(aggregators.get(feed, ())))
            for feed, proxy, decimals, checked in conn.execute(
                """SELECT feed, proxy, decimals, checked_block FROM price_feeds
                   WHERE chain_id = %s""", (chain_id,)).fetchall()}


def save_price_feed(conn: psycopg.Connection, chain_id: int, feed: str, proxy: str, decimals: int,
                    checked_block: int, new: Sequence[Aggregator]) -> None:
    """Record a reading of a feed's phases at `checked_block` and the aggregators it found
    that the database did not have, in one transaction."""
    with conn.transaction():
        conn.execute(
            """INSERT INTO price_feeds (chain_id, feed, proxy, decimals, checked_block)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (chain_id, feed) DO UPDATE SET proxy = EXCLUDED.proxy,
                   decimals = EXCLUDED.decimals,
                   checked_block = greatest(price_feeds.checked_block, EXCLUDED.checked_block)""",
            (chain_id, feed, proxy, decimals, checked_block))
        for a in new:
            conn.execute(
                """INSERT INTO price_aggregators (chain_id, feed, phase_id, aggregator, start_block)
                   VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                (chain_id, a.feed, a.phase, a.address, a.start_block))


def load_price_status(conn: psycopg.Connection, chain_id: int) -> list[dict]:
    """Per price feed: its proxy, phases, the block its aggregators are read to, the rounds
    stored and the latest answer (the proxy's, price_rounds) with its time; [] before
    revision 0011 or without feeds."""
    if conn.execute("SELECT to_regclass('public.price_feeds')").fetchone()[0] is None:
        return []
    rows = conn.execute(
        """SELECT f.feed, f.proxy, f.decimals,
                  (SELECT count(*) FROM price_aggregators a
                   WHERE a.chain_id = f.chain_id AND a.feed = f.feed),
                  (SELECT min(coalesce(a.block_number, a.start_block - 1)) FROM price_aggregators a
                   WHERE a.chain_id = f.chain_id AND a.feed = f.feed),
                  (SELECT count(*) FROM prices p WHERE p.chain_id = f.chain_id AND p.feed = f.feed),
                  r.price, r.updated_at
           FROM price_feeds f
           LEFT JOIN LATERAL (SELECT price, updated_at FROM price_rounds r
                              WHERE r.chain_id = f.chain_id AND r.feed = f.feed
                              ORDER BY updated_at DESC, round_id DESC LIMIT 1) r ON true
           WHERE f.chain_id = %s ORDER BY f.feed""",
        (chain_id,),
    ).fetchall()
    keys = ("feed", "proxy", "decimals", "phases", "indexed_block", "rounds", "latest_price",
            "latest_updated_at")
    return [dict(zip(keys, r)) for r in rows]

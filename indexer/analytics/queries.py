"""The SQL of `indexer report`, in one place: what each section reads from the documented views.

Queries are composed with psycopg.sql (identifiers from the constants below, values only as
parameters) and run through store, the only module that speaks to PostgreSQL.

The USD figures come from a later revision: the price views (`PRICE_VIEWS`) and columns added
at the end of existing views (`USD_COLUMNS`). `read_schema` finds out once which of them this
database has (information_schema), and each query asks for an absent column as a typed NULL,
so the same report runs on the schema before that revision and shows the figures after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Sequence

from psycopg import sql

from indexer import store
from indexer.errors import IndexerError

# The views every section needs: revision 0002's.
REQUIRED_VIEWS = ("supply_daily", "volume_monthly", "holders_daily", "holder_concentration",
                  "holder_balances")
# Columns a later revision adds at the end of these views (all numeric).
USD_COLUMNS = {
    "supply_daily": ("supply_usd", "treasury_units", "circulating_units", "circulating_usd",
                     "bridged_units"),
    "volume_monthly": ("volume_usd",),
    "holder_balances": ("balance_usd",),
    "holder_concentration": ("total_usd",),
}
# Views that same revision adds: gold_price_daily (XAU/USD per UTC day), price_daily (per
# feed: 'XAU/USD', 'PAXG/USD') and paxg_premium_daily (PAXG/USD over XAU/USD, minus one).
PRICE_VIEWS = ("gold_price_daily", "price_daily", "paxg_premium_daily")


@dataclass(frozen=True, slots=True)
class Schema:
    """Which of the views and columns the report can use are in this database."""

    columns: dict[str, frozenset[str]]  # view name -> its columns (empty: no such view)

    def has(self, view: str, column: str | None = None) -> bool:
        present = self.columns.get(view, frozenset())
        return bool(present) if column is None else column in present

    @property
    def missing(self) -> list[str]:
        return [v for v in REQUIRED_VIEWS if not self.has(v)]


def read_schema(conn) -> Schema:
    return Schema({v: frozenset(store.view_columns(conn, v)) for v in (*REQUIRED_VIEWS, *PRICE_VIEWS)})


def _optional(schema: Schema, view: str, alias: str) -> sql.Composable:
    """`, a.col` for each of the view's USD columns it has, `, NULL::numeric AS col` for the
    others."""
    parts = [
        sql.SQL(", {}.{}").format(sql.Identifier(alias), sql.Identifier(col))
        if schema.has(view, col) else sql.SQL(", NULL::numeric AS {}").format(sql.Identifier(col))
        for col in USD_COLUMNS[view]
    ]
    return sql.Composed(parts)


def read_now(conn):
    """The transaction's start time: the report's 'now', the same for every section."""
    return store.fetch_dicts(conn, sql.SQL("SELECT now() AS now"))[0]["now"]


def read_tokens(conn, chain_id: int | None) -> list[str]:
    """The symbols of the tokens indexed on `chain_id` (None: on any chain)."""
    rows = store.fetch_dicts(conn, sql.SQL(
        "SELECT DISTINCT symbol FROM tokens WHERE %(chain)s::integer IS NULL "
        "OR chain_id = %(chain)s ORDER BY symbol"), {"chain": chain_id})
    return [r["symbol"] for r in rows]


class UnknownToken(IndexerError):
    """A token the database does not have (--token of report and export)."""

    exit_code = 2


def choose_tokens(indexed: list[str], asked: Sequence[str], chain_id: int | None) -> list[str]:
    """The indexed tokens `asked` names (case aside), in its order; all of them when it names
    none."""
    where = "" if chain_id is None else f" on chain {chain_id}"
    if not indexed:
        raise IndexerError(f"nothing indexed yet{where}: run `indexer sync` first")
    if not asked:
        return indexed
    chosen = []
    for token in asked:
        match = next((t for t in indexed if t.upper() == token.upper()), None)
        if match is None:
            raise UnknownToken(f"unknown token {token!r}: this database has {', '.join(indexed)}"
                               f"{where}")
        if match not in chosen:
            chosen.append(match)
    return chosen


def read_freshness(conn, chain_id: int, tokens: list[str]) -> list[dict]:
    """Per token: the indexed block (checkpoint) and its time, the block the views include, and
    whether its latest day's and month's distinct senders and receivers are counted (false
    while a backfill's steps leave them waiting, revision 0016; before it, always true)."""
    settled = sql.SQL("coalesce(m.periods_settled, true)") \
        if "periods_settled" in store.view_columns(conn, "derived_marks") else sql.SQL("true")
    return store.fetch_dicts(conn, sql.SQL(
        """SELECT t.symbol AS token, c.block_number AS indexed_block, b.block_time AS indexed_time,
                  m.block_number AS views_block, {} AS periods_settled
           FROM tokens t
           LEFT JOIN checkpoints c ON c.chain_id = t.chain_id AND c.token = t.symbol
           LEFT JOIN blocks b ON b.chain_id = c.chain_id AND b.number = c.block_number
           LEFT JOIN derived_marks m ON m.chain_id = t.chain_id AND m.token = t.symbol
           WHERE t.chain_id = %(chain)s AND t.symbol = ANY(%(tokens)s)
           ORDER BY t.symbol""").format(settled), {"chain": chain_id, "tokens": tokens})


def read_price_freshness(conn, schema: Schema, chain_id: int) -> list[dict]:
    """Per price feed: its latest day, price, round time and age ([] without price data)."""
    params = {"chain": chain_id}
    if schema.has("price_daily"):
        return store.fetch_dicts(conn, sql.SQL(
            """SELECT DISTINCT ON (feed) feed, day, price, updated_at, age FROM price_daily
               WHERE chain_id = %(chain)s AND price IS NOT NULL
               ORDER BY feed, day DESC"""), params)
    if schema.has("gold_price_daily"):
        return store.fetch_dicts(conn, sql.SQL(
            """SELECT 'XAU/USD' AS feed, day, price, updated_at, age FROM gold_price_daily
               WHERE chain_id = %(chain)s AND price IS NOT NULL
               ORDER BY day DESC LIMIT 1"""), params)
    return []


def read_supply(conn, schema: Schema, chain_id: int, tokens: list[str], since: date | None) -> list[dict]:
    """supply_daily per token and day from `since`, starting at the last row on or before it
    (the supply `since` opens with: the view has rows only on days with mints or burns)."""
    return store.fetch_dicts(conn, sql.SQL(
        """WITH s AS (
               SELECT s.token, s.day, s.supply_units{optional} FROM supply_daily s
               WHERE s.chain_id = %(chain)s AND s.token = ANY(%(tokens)s)
           ), opening AS (
               SELECT token, max(day) FILTER (WHERE day <= %(since)s::date) AS day FROM s GROUP BY token
           )
           SELECT s.* FROM s JOIN opening o ON o.token = s.token
           WHERE o.day IS NULL OR s.day >= o.day
           ORDER BY s.token, s.day""").format(optional=_optional(schema, "supply_daily", "s")),
        {"chain": chain_id, "tokens": tokens, "since": since})


def read_volume_monthly(conn, schema: Schema, chain_id: int, tokens: list[str],
                        since: date | None) -> list[dict]:
    """volume_monthly from the month that holds `since`; its year-over-year change compares
    with the whole history, also before `since`."""
    return store.fetch_dicts(conn, sql.SQL(
        """SELECT v.token, v.month, v.transfer_count, v.volume_units, v.volume_yoy{optional}
           FROM volume_monthly v
           WHERE v.chain_id = %(chain)s AND v.token = ANY(%(tokens)s)
             AND (%(since)s::date IS NULL OR v.month >= date_trunc('month', %(since)s::date))
           ORDER BY v.token, v.month""").format(optional=_optional(schema, "volume_monthly", "v")),
        {"chain": chain_id, "tokens": tokens, "since": since})


def read_holders_daily(conn, chain_id: int, tokens: list[str], since: date | None) -> list[dict]:
    return store.fetch_dicts(conn, sql.SQL(
        """SELECT token, day, holders, top10_share FROM holders_daily
           WHERE chain_id = %(chain)s AND token = ANY(%(tokens)s)
             AND (%(since)s::date IS NULL OR day >= %(since)s::date)
           ORDER BY token, day"""), {"chain": chain_id, "tokens": tokens, "since": since})


def read_concentration(conn, schema: Schema, chain_id: int, tokens: list[str]) -> list[dict]:
    return store.fetch_dicts(conn, sql.SQL(
        """SELECT c.token, c.scope, c.holders, to_units(c.total_balance, t.decimals) AS total_units,
                  c.top1_share, c.top10_share, c.top100_share, c.gini, c.hhi, c.nakamoto{optional}
           FROM holder_concentration c
           JOIN tokens t ON t.chain_id = c.chain_id AND t.symbol = c.token
           WHERE c.chain_id = %(chain)s AND c.token = ANY(%(tokens)s)
           ORDER BY c.token, c.scope""").format(
        optional=_optional(schema, "holder_concentration", "c")),
        {"chain": chain_id, "tokens": tokens})


def read_top_holders(conn, schema: Schema, chain_id: int, tokens: list[str], limit: int) -> list[dict]:
    """The `limit` largest current holders of each token, with their labels."""
    return store.fetch_dicts(conn, sql.SQL(
        """SELECT t.symbol AS token, h.address, h.balance_units, h.label, h.label_kind,
                  h.last_time{optional}
           FROM tokens t
           CROSS JOIN LATERAL (
               SELECT * FROM holder_balances h
               WHERE h.chain_id = t.chain_id AND h.token = t.symbol AND h.balance > 0
               ORDER BY h.balance DESC, h.address LIMIT %(limit)s
           ) h
           WHERE t.chain_id = %(chain)s AND t.symbol = ANY(%(tokens)s)
           ORDER BY t.symbol, h.balance DESC, h.address""").format(
        optional=_optional(schema, "holder_balances", "h")),
        {"chain": chain_id, "tokens": tokens, "limit": limit})


def read_premium(conn, schema: Schema, chain_id: int, since: date | None) -> list[dict]:
    """paxg_premium_daily from `since` ([] without the view)."""
    if not schema.has("paxg_premium_daily"):
        return []
    return store.fetch_dicts(conn, sql.SQL(
        """SELECT day, paxg_usd, xau_usd, premium FROM paxg_premium_daily
           WHERE chain_id = %(chain)s AND premium IS NOT NULL
             AND (%(since)s::date IS NULL OR day >= %(since)s::date)
           ORDER BY day"""), {"chain": chain_id, "since": since})

"""Stream a documented view to CSV (RFC 4180: header row, CRLF line ends) with COPY … TO STDOUT.

The view name and filters never become SQL text: the view must be one of `VIEWS`, identifiers go
through psycopg.sql.Identifier and values through sql.Literal after they were parsed here.
"""

from __future__ import annotations

import gzip
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import IO, Callable, Iterator

from psycopg import sql

from indexer import store
from indexer.errors import IndexerError


@dataclass(frozen=True, slots=True)
class ViewSpec:
    description: str
    time_column: str | None  # what --since/--until filter on
    order_by: tuple[str, ...]
    block_column: bool = False  # has block_number, so --as-of-block applies
    token_column: bool = True  # has token, so --token applies


VIEWS: dict[str, ViewSpec] = {
    "transfers": ViewSpec("every Transfer log, fee legs flagged", "block_time",
                          ("chain_id", "block_number", "log_index"), block_column=True),
    "supply_changes": ViewSpec("every mint and burn with its reason", "block_time",
                               ("chain_id", "block_number", "log_index"), block_column=True),
    "supply_daily": ViewSpec("minted, burned, net issuance and supply per token and day", "day",
                             ("chain_id", "token", "day")),
    "volume_daily": ViewSpec("transfer count, volume, unique senders/receivers, fees per day",
                             "day", ("chain_id", "token", "day")),
    "volume_monthly": ViewSpec("the same per month, with year-over-year change", "month",
                               ("chain_id", "token", "month")),
    "holder_balances": ViewSpec("current balance of every holder, first and last activity", None,
                                ("chain_id", "token", "balance DESC", "address")),
    "holder_concentration": ViewSpec("holders, top-1/10/100 share, Gini, HHI, Nakamoto coefficient",
                                     None, ("chain_id", "token", "scope")),
    "holders_daily": ViewSpec("holder count and top-10 share at the end of every day", "day",
                              ("chain_id", "token", "day")),
    "price_rounds": ViewSpec("every Chainlink round that was its feed's answer (XAU/USD, PAXG/USD)",
                             "updated_at", ("chain_id", "feed", "updated_at", "round_id"),
                             block_column=True, token_column=False),
    "price_daily": ViewSpec("each feed's price at every UTC day's close, carried forward, its age",
                            "day", ("chain_id", "feed", "day"), token_column=False),
    "gold_price_daily": ViewSpec("XAU/USD, USD per troy ounce, at every UTC day's close", "day",
                                 ("chain_id", "day"), token_column=False),
    "gold_price_latest": ViewSpec("the latest XAU/USD answer and its age now", None, ("chain_id",),
                                  token_column=False),
    "paxg_premium_daily": ViewSpec("PAXG/USD against XAU/USD per day: PAXG's premium to gold",
                                   "day", ("chain_id", "day"), token_column=False),
    "label_balances_daily": ViewSpec("balance of treasury- and bridge-labelled addresses per day",
                                     "day", ("chain_id", "token", "kind", "day")),
    "tokenized_gold_daily": ViewSpec("ounces and USD of tokenized gold per day, chain and token, "
                                     "each bridged ounce once", "day",
                                     ("day", "chain_id", "token")),
}


class ExportError(IndexerError):
    exit_code = 2


def parse_when(value: str, option: str) -> datetime:
    """A date (YYYY-MM-DD) or ISO timestamp, as an instant in UTC; naive values are UTC."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), timezone.utc)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ExportError(f"{option} {value!r} is not a date (YYYY-MM-DD) or ISO timestamp") from None
    return _utc(parsed)


def _utc(when: datetime) -> datetime:
    return when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)


def period_bound(when: datetime, period: str, *, up: bool) -> date:
    """The first day of the `period` ("day" or "month", in UTC) that contains the instant `when`;
    with `up`, of the period after it, unless `when` is that period's very start.

    A day or month row is exported when its period overlaps [since, until): from the period
    containing --since, up to the one containing --until, which is left out only when --until
    is its start (a plain date: that day is not exported)."""
    utc = _utc(when)
    start = utc.date() if period == "day" else utc.date().replace(day=1)
    if up and utc != datetime.combine(start, time(), timezone.utc):
        if period == "day":
            start += timedelta(days=1)
        else:
            start = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start


def build_query(view: str, *, token: str | None = None, since: datetime | None = None,
                until: datetime | None = None, as_of_block: int | None = None,
                chain_id: int | None = None) -> sql.Composable:
    if view not in VIEWS:
        raise ExportError(f"unknown view {view!r}: choose one of {', '.join(VIEWS)}")
    spec = VIEWS[view]
    where: list[sql.Composable] = []
    if chain_id is not None:  # every view has chain_id
        where.append(sql.SQL("chain_id = {}").format(sql.Literal(chain_id)))
    if token is not None:
        if not spec.token_column:
            raise ExportError(f"--token does not apply to {view}: it is per price feed, not token")
        where.append(sql.SQL("token = {}").format(sql.Literal(token)))
    if since is not None or until is not None:
        if spec.time_column is None:
            raise ExportError(f"--since/--until do not apply to {view}: it has no time column")
        column = sql.Identifier(spec.time_column)
        periods = spec.time_column in ("day", "month")
        if since is not None:
            value = period_bound(since, spec.time_column, up=False) if periods else _utc(since)
            where.append(sql.SQL("{} >= {}").format(column, sql.Literal(value)))
        if until is not None:
            value = period_bound(until, spec.time_column, up=True) if periods else _utc(until)
            where.append(sql.SQL("{} < {}").format(column, sql.Literal(value)))
    if as_of_block is not None:
        if not spec.block_column:
            with_blocks = ", ".join(v for v, s in VIEWS.items() if s.block_column)
            raise ExportError(f"--as-of-block applies to {with_blocks}, not to {view}")
        where.append(sql.SQL("block_number <= {}").format(sql.Literal(as_of_block)))
    query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(view))
    if where:
        query = sql.SQL("{} WHERE {}").format(query, sql.SQL(" AND ").join(where))
    order = sql.SQL(", ").join(
        sql.SQL("{} DESC").format(sql.Identifier(o.split()[0])) if o.endswith(" DESC")
        else sql.Identifier(o)
        for o in spec.order_by
    )
    return sql.SQL("{} ORDER BY {}").format(query, order)


@contextmanager
def open_output(path: str | None) -> Iterator[Callable[[bytes], object]]:
    """A writer to stdout, a file, or a .gz file. A file is written under a `.NAME.partial`
    name and takes its own name only when the block ends without an error; on an error (or
    Ctrl-C) the partial file is removed and an existing file of that name is left as it was."""
    if path is None or path == "-":
        out = sys.stdout.buffer
        yield out.write
        out.flush()
        return
    target = Path(path)
    tmp = target.with_name(f".{target.name}.partial")
    try:
        fh: IO[bytes] = gzip.open(tmp, "wb") if target.suffix == ".gz" else open(tmp, "wb")
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror}") from None
    try:
        with fh:
            yield fh.write
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise IndexerError(f"cannot write {target}: {exc.strerror or exc}") from None
        raise
    tmp.replace(target)


def export(conn, query: sql.Composable, write: Callable[[bytes], object]) -> None:
    """COPY the query out as CSV; line ends become CRLF (RFC 4180). No field holds a newline:
    the data is hex, numbers and times, and label names are refused if they contain one."""
    store.copy_csv_out(conn, query, lambda chunk: write(chunk.replace(b"\n", b"\r\n")))

"""Stream a documented view to CSV (RFC 4180: header row, CRLF line ends) with COPY … TO STDOUT.

The view name and filters never become SQL text: the view must be one of `VIEWS`, identifiers go
through psycopg.sql.Identifier and values through sql.Literal after they were parsed here.
"""

from __future__ import annotations

import gzip
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, Callable

from psycopg import sql

from indexer import store
from indexer.errors import IndexerError


@dataclass(frozen=True, slots=True)
class ViewSpec:
    description: str
    time_column: str | None  # what --since/--until filter on
    order_by: tuple[str, ...]
    block_column: bool = False  # has block_number, so --as-of-block applies


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
}


class ExportError(IndexerError):
    exit_code = 2


def parse_when(value: str, option: str) -> datetime:
    """A date (YYYY-MM-DD) or ISO timestamp; naive values are UTC."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), timezone.utc)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ExportError(f"{option} {value!r} is not a date (YYYY-MM-DD) or ISO timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def build_query(view: str, *, token: str | None = None, since: datetime | None = None,
                until: datetime | None = None, as_of_block: int | None = None) -> sql.Composable:
    if view not in VIEWS:
        raise ExportError(f"unknown view {view!r}: choose one of {', '.join(VIEWS)}")
    spec = VIEWS[view]
    where: list[sql.Composable] = []
    if token is not None:
        where.append(sql.SQL("token = {}").format(sql.Literal(token)))
    if since is not None or until is not None:
        if spec.time_column is None:
            raise ExportError(f"--since/--until do not apply to {view}: it has no time column")
        column = sql.Identifier(spec.time_column)
        if since is not None:
            value = since.date() if spec.time_column in ("day", "month") else since
            where.append(sql.SQL("{} >= {}").format(column, sql.Literal(value)))
        if until is not None:
            value = until.date() if spec.time_column in ("day", "month") else until
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


def open_output(path: str | None) -> tuple[Callable[[bytes], object], Callable[[], None]]:
    """A writer and a closer for stdout, a file, or a .gz file (written whole or not at all)."""
    if path is None or path == "-":
        out = sys.stdout.buffer
        return out.write, out.flush
    target = Path(path)
    tmp = target.with_name(f".{target.name}.partial")
    try:
        fh: IO[bytes] = gzip.open(tmp, "wb") if target.suffix == ".gz" else open(tmp, "wb")
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror}") from None

    def close() -> None:
        fh.close()
        tmp.replace(target)

    return fh.write, close


def export(conn, query: sql.Composable, write: Callable[[bytes], object]) -> None:
    """COPY the query out as CSV; line ends become CRLF (RFC 4180). No field holds a newline:
    the data is hex, numbers and times, and label names are refused if they contain one."""
    store.copy_csv_out(conn, query, lambda chunk: write(chunk.replace(b"\n", b"\r\n")))

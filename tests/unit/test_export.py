"""Export filters: what --since/--until mean, in UTC, on instant, day and month views; the output
file appears whole or not at all."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from indexer.errors import IndexerError
from indexer.export import ExportError, build_query, open_output, parse_when, period_bound


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize("value, instant", [
    ("2024-01-02", utc(2024, 1, 2)),
    ("2024-01-02T01:00", utc(2024, 1, 2, 1)),  # naive: UTC
    ("2024-01-02T01:00Z", utc(2024, 1, 2, 1)),
    ("2024-01-02T01:00+05:00", utc(2024, 1, 1, 20)),  # the day before, in UTC
    ("2024-01-31T23:30-01:00", utc(2024, 2, 1, 0, 30)),
])
def test_parse_when_gives_the_instant_in_utc(value, instant):
    parsed = parse_when(value, "--since")
    assert parsed == instant
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", ["last week", "2024-13-01", "2024-01-02T25:00", ""])
def test_parse_when_refuses_what_is_no_date(value):
    with pytest.raises(ExportError, match=r"^--until .* is not a date \(YYYY-MM-DD\) or ISO timestamp$"):
        parse_when(value, "--until")


@pytest.mark.parametrize("when, period, down, up", [
    # At a day's start: since and until both mean that day's start.
    (utc(2024, 1, 2), "day", date(2024, 1, 2), date(2024, 1, 2)),
    # Within a day: since takes the whole day, until keeps it too (it overlaps [since, until)).
    (utc(2024, 1, 2, 1), "day", date(2024, 1, 2), date(2024, 1, 3)),
    (utc(2024, 12, 31, 23, 59, 59), "day", date(2024, 12, 31), date(2025, 1, 1)),
    (utc(2024, 3, 1), "month", date(2024, 3, 1), date(2024, 3, 1)),
    (utc(2024, 3, 15), "month", date(2024, 3, 1), date(2024, 4, 1)),
    (utc(2024, 3, 1, 0, 0, 1), "month", date(2024, 3, 1), date(2024, 4, 1)),
    (utc(2024, 12, 5), "month", date(2024, 12, 1), date(2025, 1, 1)),
    # 2024-01-02 01:00 at +05:00 is 2024-01-01 20:00 UTC: January 1st, not the 2nd.
    (datetime(2024, 1, 2, 1, tzinfo=timezone(timedelta(hours=5))), "day",
     date(2024, 1, 1), date(2024, 1, 2)),
    (datetime(2024, 3, 1, 3, tzinfo=timezone(timedelta(hours=5))), "month",
     date(2024, 2, 1), date(2024, 3, 1)),
])
def test_period_bound_takes_the_utc_day_or_month_of_the_instant(when, period, down, up):
    assert period_bound(when, period, up=False) == down
    assert period_bound(when, period, up=True) == up


def where(view: str, **filters) -> str:
    text = build_query(view, **filters).as_string()
    return text.split(" WHERE ", 1)[1].split(" ORDER BY ")[0] if " WHERE " in text else ""


def test_build_query_converts_to_utc_before_taking_the_day():
    since = parse_when("2024-01-02T01:00+05:00", "--since")
    until = parse_when("2024-01-05T01:00+05:00", "--until")
    assert where("volume_daily", since=since, until=until) == \
        "\"day\" >= '2024-01-01'::date AND \"day\" < '2024-01-05'::date"
    # Called with an offset (not through parse_when), the same.
    local = datetime(2024, 1, 2, 1, tzinfo=timezone(timedelta(hours=5)))
    assert where("supply_daily", since=local) == "\"day\" >= '2024-01-01'::date"


def test_build_query_bounds_of_plain_dates():
    since, until = parse_when("2024-01-02", "--since"), parse_when("2024-03-01", "--until")
    assert where("supply_daily", since=since, until=until) == \
        "\"day\" >= '2024-01-02'::date AND \"day\" < '2024-03-01'::date"
    assert where("volume_monthly", since=since, until=until) == \
        "\"month\" >= '2024-01-01'::date AND \"month\" < '2024-03-01'::date"
    mid = parse_when("2024-03-15", "--until")
    assert where("volume_monthly", until=mid) == "\"month\" < '2024-04-01'::date"


def test_build_query_filters_instants_exactly():
    since = parse_when("2024-01-02T01:00+05:00", "--since")
    assert where("transfers", since=since, token="PAXG", as_of_block=7) == (
        "token = 'PAXG' AND \"block_time\" >= '2024-01-01 20:00:00+00:00'::timestamptz"
        " AND block_number <= 7")


@pytest.mark.parametrize("view, filters, message", [
    ("balances", {}, "unknown view 'balances'"),
    ("holder_balances", {"until": utc(2024, 1, 1)}, "--since/--until do not apply to holder_balances"),
    ("volume_daily", {"as_of_block": 3}, "--as-of-block applies to transfers, supply_changes"),
])
def test_build_query_refuses_filters_that_do_not_apply(view, filters, message):
    with pytest.raises(ExportError, match=message):
        build_query(view, **filters)


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz"])
def test_output_file_appears_only_when_complete(tmp_path, name):
    target = tmp_path / name
    with open_output(str(target)) as write:
        write(b"a,b\r\n")
        assert list(tmp_path.iterdir()) == [tmp_path / f".{name}.partial"]
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("error", [IndexerError("export failed: boom"), KeyboardInterrupt()])
def test_output_file_failed_midway_leaves_nothing_and_keeps_an_older_file(tmp_path, error):
    target = tmp_path / "out.csv"
    target.write_bytes(b"the previous export\r\n")
    with pytest.raises(type(error)):
        with open_output(str(target)) as write:
            write(b"a,b\r\n1,2\r\n")
            raise error
    assert list(tmp_path.iterdir()) == [target]
    assert target.read_bytes() == b"the previous export\r\n"


def test_export_list_names_every_view_with_its_description():
    from click.testing import CliRunner

    from indexer.cli import main

    result = CliRunner().invoke(main, ["export", "--list"])
    assert result.exit_code == 0, result.output
    listed = [line.split()[0] for line in result.output.splitlines()]
    assert listed == ["transfers", "supply_changes", "supply_daily", "volume_daily",
                      "volume_monthly", "holder_balances", "holder_concentration", "holders_daily",
                      "price_rounds", "price_daily", "gold_price_daily", "gold_price_latest",
                      "paxg_premium_daily",
                      "label_balances_daily", "tokenized_gold_daily"]


def test_price_views_filter_on_time_and_refuse_a_token():
    since = parse_when("2024-01-02", "--since")
    assert where("gold_price_daily", since=since) == "\"day\" >= '2024-01-02'::date"
    assert where("price_rounds", as_of_block=5) == "block_number <= 5"
    with pytest.raises(ExportError, match="--token does not apply to price_daily"):
        build_query("price_daily", token="PAXG")


def test_holders_daily_filters_on_its_day():
    since, until = parse_when("2024-01-02T01:00+05:00", "--since"), parse_when("2024-03-01", "--until")
    assert where("holders_daily", since=since, until=until, token="XAUT") == (
        "token = 'XAUT' AND \"day\" >= '2024-01-01'::date AND \"day\" < '2024-03-01'::date")

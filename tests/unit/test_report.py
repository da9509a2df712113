"""The report's pure parts: numbers as people read them, charts as inline SVG that refers to
nothing outside itself, and HTML that says "no price data yet" where the price views are
missing and shows their columns once they are there."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from click.testing import CliRunner

from indexer.analytics import charts, queries, report
from indexer.errors import IndexerError

D = Decimal
NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def schema(prices: bool) -> queries.Schema:
    base = {v: frozenset({"chain_id"}) for v in queries.REQUIRED_VIEWS}
    if prices:
        for view, columns in queries.USD_COLUMNS.items():
            base[view] = base[view] | set(columns)
        base.update({v: frozenset({"chain_id", "day"}) for v in queries.PRICE_VIEWS})
    return queries.Schema(base)


def sample_data(prices: bool = False, tokens=("PAXG", "XAUT"), label="Binance 14") -> report.ReportData:
    """Figures of the shapes queries.py returns: a month and a half of two tokens."""
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(60)]
    usd = (lambda v: v * D("2900.5")) if prices else (lambda v: None)
    supply, holders, volume, concentration, top = [], [], [], [], []
    for k, token in enumerate(tokens):
        for i, day in enumerate(days[::7]):
            units = D(1000 * (k + 1) + 37 * i) + D("0.123456789012345678")
            supply.append({"token": token, "day": day, "supply_units": units, "supply_usd": usd(units),
                           "treasury_units": D(100) if prices else None,
                           "circulating_units": units - 100 if prices else None,
                           "circulating_usd": usd(units - 100), "bridged_units": D(0) if prices else None})
        for i, day in enumerate(days):
            holders.append({"token": token, "day": day, "holders": 10 + i,
                            "top10_share": D("0.9") - D(i) / 200})
        for month, yoy in ((date(2026, 1, 1), None), (date(2026, 2, 1), D("0.25"))):
            volume.append({"token": token, "month": month, "transfer_count": 1234,
                           "volume_units": D("5432.1"), "volume_yoy": yoy, "volume_usd": usd(D("5432.1"))})
        for scope in ("all", "excluding_issuers"):
            concentration.append({"token": token, "scope": scope, "holders": 70, "total_units": D(3000),
                                  "top1_share": D("0.5"), "top10_share": D("0.9"),
                                  "top100_share": D(1), "gini": D("0.8123456"), "hhi": D("0.3"),
                                  "nakamoto": 1, "total_usd": usd(D(3000))})
        top.append({"token": token, "address": "0x" + "ab" * 20, "balance_units": D(1500),
                    "label": label, "label_kind": "exchange", "last_time": NOW, "balance_usd": usd(D(1500))})
    freshness = [{"token": t, "indexed_block": 19_000_000, "indexed_time": NOW - timedelta(seconds=90),
                  "views_block": 19_000_000, "periods_settled": True} for t in tokens]
    price_rows = [{"feed": "XAU/USD", "day": NOW.date(), "price": D("2900.5"),
                   "updated_at": NOW - timedelta(hours=3), "age": timedelta(hours=3)}] if prices else []
    premium = [{"day": day, "paxg_usd": D(2910), "xau_usd": D("2900.5"),
                "premium": D(2910) / D("2900.5") - 1} for day in days] if prices else []
    return report.ReportData(1, tuple(tokens), None, NOW, schema(prices), freshness, price_rows,
                             supply, volume, holders, concentration, top, premium, 20)


@pytest.mark.parametrize("fn, value, text", [
    (report.fmt_oz, D("1234567.891249999999999999"), "1,234,567.8912"),
    (report.fmt_oz, D("0.00005"), "0.0000"),  # half to even
    (report.fmt_oz, None, "—"),
    (report.fmt_usd, D("1234567.005"), "$1,234,567.00"),
    (report.fmt_usd, D("-12.5"), "−$12.50"),
    (report.fmt_share, D("0.123456"), "12.35%"),
    (report.fmt_change, D("0.25"), "+25.0%"),
    (report.fmt_change, D("-0.1004"), "−10.0%"),
    (report.fmt_change, D("12.345"), "+1,234.5%"),
    (report.fmt_int, 1234567, "1,234,567"),
    (report.fmt_age, timedelta(days=2, hours=3, minutes=4), "2 d 3 h"),
    (report.fmt_age, timedelta(hours=5, minutes=12, seconds=9), "5 h 12 min"),
    (report.fmt_age, timedelta(seconds=45), "45 s"),
    (report.fmt_age, timedelta(seconds=-75), "−1 min 15 s"),
    (report.fmt_time, datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
     "2026-01-02 01:04:05 UTC"),
])
def test_numbers_read_as_people_write_them(fn, value, text):
    assert fn(value) == text


def small_chart(name: str) -> str:
    days = tuple(date(2026, 1, 1) + timedelta(days=i) for i in range(10))
    return charts.draw(name, f"{name} <title>", [charts.Panel("ounces", lines=(
        charts.Line("PAXG", days, tuple(float(i) for i in range(10)), "#b8860b"),))])


def test_chart_svg_is_an_html_element_that_refers_to_nothing_outside():
    svg = small_chart("supply-oz")
    assert svg.startswith('<svg viewBox="') and svg.endswith("</svg>")
    assert "<?xml" not in svg and "DOCTYPE" not in svg and "xmlns" not in svg
    assert "<title>supply-oz &lt;title&gt;</title>" in svg
    assert not re.search(r"(?i)https?:|//|xlink:", svg)
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert ids and all(i.startswith("supply-oz-") for i in ids)
    refs = re.findall(r'href="#([^"]+)"|url\(#([^)]+)\)', svg)
    assert refs and {a or b for a, b in refs} <= set(ids)  # every reference resolves in the chart
    assert re.search(r'id="supply-oz-plotarea-0"', svg) and re.search(r'id="supply-oz-mark-0"', svg)


def test_two_charts_on_one_page_share_no_id():
    ids = [set(re.findall(r'\bid="([^"]+)"', small_chart(n))) for n in ("holders", "volume")]
    assert not ids[0] & ids[1]


def test_inline_svg_refuses_an_svg_that_names_a_url():
    svg = ('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1">'
           '<image href="https://example.com/x.png"/></svg>')
    with pytest.raises(ValueError, match="refers to something outside it"):
        charts.inline_svg(svg, "c", "c")
    clean = charts.inline_svg(svg.replace("https://example.com/x.png", "#a"), "c", "c")
    assert 'href="#c-a"' in clean


def test_a_chart_without_data_is_refused():
    with pytest.raises(ValueError, match="no data to draw"):
        charts.draw("empty", "Empty", [charts.Panel("ounces", lines=(charts.Line("x", (), (), "#000"),))])


def test_report_before_the_price_views_says_no_price_data_yet():
    html = report.render(sample_data(prices=False))
    assert html.count(report.NO_PRICES) == 3  # price age, supply in USD, the premium
    assert "the database has no price views yet" in html
    assert "(USD)" not in html and "circulating (oz)" not in html
    assert set(re.findall(r'data-chart="([^"]+)"', html)) == {"supply-oz", "volume", "holders"}


def test_report_with_the_price_views_shows_usd_and_the_premium():
    html = report.render(sample_data(prices=True))
    assert report.NO_PRICES not in html
    for heading in ("circulating (oz)", "total (USD)", "PAXG volume (USD)", "balance (USD)",
                    "XAU/USD", "premium"):
        assert heading in html, heading
    assert set(re.findall(r'data-chart="([^"]+)"', html)) == {
        "supply-oz", "supply-usd", "volume", "holders", "premium"}
    assert ">$4,350,750.00<" in html  # 1,500 oz at $2,900.50


def test_price_views_without_rows_say_no_price_data_yet():
    data = sample_data(prices=True)
    empty = sample_data(prices=False)
    data = report.ReportData(**{**{f: getattr(data, f) for f in data.__slots__},
                                "prices": [], "premium": [], "supply": empty.supply})
    html = report.render(data)
    assert html.count(report.NO_PRICES) == 3
    assert "the price views hold no rows for this chain yet" in html


def test_report_html_loads_nothing_and_escapes_labels():
    html = report.render(sample_data(prices=True, label='<script>alert("x")</script> & co'))
    assert "<script" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in html
    assert not re.search(r"(?i)https?:|//|\bsrc=|<link\b|@import|@font-face|url\((?!#)", html)
    assert "default-src 'none'" in html  # and the browser is told not to


def test_exact_values_are_a_hover_away():
    html = report.render(sample_data())
    assert 'title="1296.123456789012345678">1,296.1235<' in html  # PAXG's supply now


def test_the_freshness_section_says_which_tokens_latest_periods_wait():
    data = sample_data()
    assert "wait for the backfill" not in report.render(data)
    data.freshness[1]["periods_settled"] = False  # XAUT's backfill is under way
    section = re.search(r'<section id="freshness">.*?</section>', report.render(data), re.S)[0]
    assert ("XAUT: the latest day&#x27;s and month&#x27;s distinct senders and receivers wait "
            "for the backfill&#x27;s end") in section


def test_report_of_one_token_has_no_premium_section():
    html = report.render(sample_data(tokens=("XAUT",)))
    assert 'id="premium"' not in html and "PAXG" not in html


@pytest.mark.parametrize("asked, chosen", [
    ((), ["PAXG", "XAUT"]), (("xaut",), ["XAUT"]), (("XAUT", "paxg", "XAUT"), ["XAUT", "PAXG"]),
])
def test_tokens_are_chosen_among_the_indexed_ones(asked, chosen):
    assert queries.choose_tokens(["PAXG", "XAUT"], asked, 1) == chosen


def test_an_unknown_token_or_nothing_indexed_is_refused():
    with pytest.raises(queries.UnknownToken, match=r"^unknown token 'GOLD': this database has "
                                                 r"PAXG, XAUT on chain 1$") as exc:
        queries.choose_tokens(["PAXG", "XAUT"], ("GOLD",), 1)
    assert exc.value.exit_code == 2
    with pytest.raises(IndexerError, match=r"^nothing indexed yet on chain 5: run `indexer sync`"):
        queries.choose_tokens([], (), 5)


def test_report_refuses_a_bad_date_before_it_connects(tmp_path):
    from indexer.cli import main

    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["--database-url", "postgresql://nobody@127.0.0.1:1/none",
                                       "report", "--since", "yesterday", "-o", str(out)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "Error: --since 'yesterday' is not a date (YYYY-MM-DD) or ISO timestamp"]
    assert list(tmp_path.iterdir()) == []


def test_report_help_has_examples():
    from indexer.cli import main

    result = CliRunner().invoke(main, ["report", "--help"])
    assert result.exit_code == 0
    lines = [line.strip() for line in result.output.splitlines()]
    assert lines[lines.index("Example:") + 1:][:2] == [
        "indexer report", "indexer report -o gold.html --since 2024-01-01"]

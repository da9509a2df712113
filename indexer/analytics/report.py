"""`indexer report`: one self-contained HTML file of the views' figures.

`collect` reads every section in one read-only snapshot (queries.py holds the SQL); `render`
turns what it read into HTML with the standard library (html.escape) and inline SVG charts
(charts.py). The page loads nothing: no script, no stylesheet, no font, no image from anywhere,
and its Content-Security-Policy forbids the browser to fetch any, so it opens offline as it is.

Sections whose figures need prices (USD values, PAXG's premium, the price age) say "no price
data yet" until the database has the price views and they hold rows (queries.Schema).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from html import escape
from typing import Callable, Sequence

from indexer import __version__, store
from indexer.analytics import charts, queries
from indexer.errors import IndexerError

Progress = Callable[[int, int, str], None]  # (step, steps, what it does now)

# What build() does, in order: one progress line each.
STEPS = ("freshness", "supply", "monthly volume", "holders over time", "concentration",
         "largest holders", "prices", "charts")

NO_PRICES = "no price data yet"


@dataclass(frozen=True, slots=True)
class ReportData:
    chain_id: int
    tokens: tuple[str, ...]
    since: date | None
    now: datetime  # the snapshot's time: every figure is as of it
    schema: queries.Schema
    freshness: list[dict]
    prices: list[dict]  # latest per feed
    supply: list[dict]
    volume: list[dict]
    holders: list[dict]
    concentration: list[dict]
    top_holders: list[dict]
    premium: list[dict]
    top: int


def build(conn, chain_id: int, tokens: Sequence[str] = (), since: date | None = None, *,
          top: int = 20, progress: Progress | None = None) -> str:
    """The report's HTML: collect, then render."""
    progress = progress or (lambda step, steps, what: None)
    data = collect(conn, chain_id, tokens, since, top=top, progress=progress)
    progress(len(STEPS), len(STEPS), STEPS[-1])
    return render(data)


def collect(conn, chain_id: int, tokens: Sequence[str] = (), since: date | None = None, *,
            top: int = 20, progress: Progress | None = None) -> ReportData:
    """Read every section in one read-only snapshot. `tokens` empty: every indexed token."""
    progress = progress or (lambda step, steps, what: None)
    steps = iter(enumerate(STEPS, 1))

    def step() -> None:
        n, what = next(steps)
        progress(n, len(STEPS), what)

    with store.read_snapshot(conn):
        step()
        schema = queries.read_schema(conn)
        if schema.missing:
            raise IndexerError(
                f"the database has no {', '.join(schema.missing)}: it holds no indexer schema "
                "(or an old one); run `indexer migrate` or `indexer sync` first")
        chosen = queries.choose_tokens(queries.read_tokens(conn, chain_id), tokens, chain_id)
        now = queries.read_now(conn)
        freshness = queries.read_freshness(conn, chain_id, chosen)
        step()
        supply = queries.read_supply(conn, schema, chain_id, chosen, since)
        step()
        volume = queries.read_volume_monthly(conn, schema, chain_id, chosen, since)
        step()
        holders = queries.read_holders_daily(conn, chain_id, chosen, since)
        step()
        concentration = queries.read_concentration(conn, schema, chain_id, chosen)
        step()
        top_holders = queries.read_top_holders(conn, schema, chain_id, chosen, top)
        step()
        prices = queries.read_price_freshness(conn, schema, chain_id)
        premium = (queries.read_premium(conn, schema, chain_id, since)
                   if "PAXG" in chosen else [])
    return ReportData(chain_id, tuple(chosen), since, now, schema, freshness, prices, supply,
                      volume, holders, concentration, top_holders, premium, top)




# -- Numbers as people read them ----------------------------------------------------------------

def fmt_int(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def fmt_oz(value: Decimal | None, places: int = 4) -> str:
    """Troy ounces with thousands separators, rounded to `places` (half to even)."""
    return "—" if value is None else f"{value:,.{places}f}"


def fmt_usd(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"−${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def fmt_share(value: Decimal | None) -> str:
    """A fraction as a percentage: 0.123456 -> 12.35%."""
    return "—" if value is None else f"{value * 100:.2f}%"


def fmt_change(value: Decimal | None, places: int = 1) -> str:
    """A relative change with its sign: 0.25 -> +25.0%, -0.1 -> −10.0%."""
    if value is None:
        return "—"
    text = f"{abs(value) * 100:,.{places}f}%"
    return f"−{text}" if value < 0 else f"+{text}"


def fmt_ratio(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def fmt_time(when: datetime | None) -> str:
    return "—" if when is None else when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_age(age: timedelta | None) -> str:
    """A duration in its two largest units: '2 d 3 h', '5 h 12 min', '45 s'."""
    if age is None:
        return "—"
    seconds = int(age.total_seconds())
    sign, seconds = ("−", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days} d {hours} h"
    elif hours:
        text = f"{hours} h {minutes} min"
    elif minutes:
        text = f"{minutes} min {secs} s"
    else:
        text = f"{secs} s"
    return sign + text


# -- HTML ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    exact: str | None = None  # shown on hover: the exact numeric value
    numeric: bool = True
    code: bool = False


def _num(text: str, exact: object | None = None) -> Cell:
    return Cell(text, None if exact is None else str(exact))


def _txt(text: str | None, code: bool = False) -> Cell:
    return Cell("—" if text is None else text, numeric=False, code=code)


def _table(heads: Sequence[str], rows: Sequence[Sequence[Cell]], caption: str | None = None) -> str:
    if not rows:
        return '<p class="note">no rows</p>'
    numeric = [all(r[i].numeric for r in rows) for i in range(len(heads))]
    out = ['<div class="scroll"><table>']
    if caption:
        out.append(f"<caption>{escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(
        f'<th{" class=num" if numeric[i] else ""}>{escape(h)}</th>' for i, h in enumerate(heads))
        + "</tr></thead><tbody>")
    for row in rows:
        cells = []
        for cell in row:
            attrs = ' class="num"' if cell.numeric else ""
            if cell.exact is not None and cell.exact != cell.text:
                attrs += f' title="{escape(cell.exact)}"'
            text = escape(cell.text)
            cells.append(f"<td{attrs}>{f'<code>{text}</code>' if cell.code else text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _chart(name: str, title: str, panels: Sequence[charts.Panel], caption: str = "") -> str:
    svg = charts.draw(name, title, panels)
    figcaption = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (f'<figure class="chart" data-chart="{escape(name)}"><h3>{escape(title)}</h3>'
            f"{svg}{figcaption}</figure>")


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _no_prices(data: ReportData, what: str) -> str:
    why = ("the database has no price views yet" if not data.schema.has("gold_price_daily")
           else "the price views hold no rows for this chain yet")
    return f'<p class="note no-prices">{escape(what)}: {NO_PRICES} ({escape(why)}).</p>'


def _f(value) -> float:
    return float(value)


def render(data: ReportData) -> str:
    sections = [_freshness(data), _supply(data), _volume(data), _holders(data),
                _concentration(data), _top_holders(data)]
    if "PAXG" in data.tokens:
        sections.append(_premium(data))
    since = f" · since {data.since.isoformat()}" if data.since else ""
    title = f"Gold tokens report: {', '.join(data.tokens)}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        # Nothing to fetch, and the browser is told to fetch nothing: the page stays whole
        # offline, and a label's text can never make it load anything.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p class=\"meta\">chain {data.chain_id} · "
        f"as of {escape(fmt_time(data.now))}{escape(since)} · amounts in troy ounces "
        "(one token is one ounce of gold)</p></header><main>"
        + "".join(sections)
        + f"</main><footer>gold-indexer {escape(__version__)}: figures from the views "
        "supply_daily, volume_monthly, holders_daily, holder_concentration and holder_balances"
        f"{', and the price views' if data.schema.has('gold_price_daily') else ''}; days and "
        "months in UTC; hover a rounded number for its exact value.</footer></body></html>\n"
    )


def _section(anchor: str, heading: str, *parts: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(heading)}</h2>{"".join(parts)}</section>'


def _freshness(data: ReportData) -> str:
    rows = []
    for r in data.freshness:
        behind = data.now - r["indexed_time"] if r["indexed_time"] else None
        rows.append([_txt(r["token"]), _num(fmt_int(r["indexed_block"])),
                     _txt(fmt_time(r["indexed_time"])), _num(fmt_age(behind)),
                     _num(fmt_int(r["views_block"]))])
    tokens = _table(["token", "indexed block", "block time", "behind the report's time",
                     "views include block"], rows)
    waiting = store.periods_waiting([r["token"] for r in data.freshness
                                     if not r["periods_settled"]])
    if waiting:
        tokens += _note(f"{waiting} (the sync counts them then).")
    if data.prices:
        prices = _table(["price feed", "day", "price (USD per ounce)", "round updated", "age"], [
            [_txt(p["feed"]), _txt(p["day"].isoformat()), _num(fmt_usd(p["price"]), p["price"]),
             _txt(fmt_time(p["updated_at"])), _num(fmt_age(p["age"]))] for p in data.prices])
    else:
        prices = _no_prices(data, "Price age")
    return _section("freshness", "Data freshness", tokens, prices)


def _by_token(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["token"], []).append(r)
    return out


def _days(rows: list[dict], since: date | None) -> tuple[date, ...]:
    """The rows' days, the first moved up to `since` (it holds the supply `since` opens with)."""
    days = [r["day"] for r in rows]
    if since and days and days[0] < since:
        days[0] = since
    return tuple(days)


def _has_values(rows: list[dict], column: str) -> bool:
    return any(r.get(column) is not None for r in rows)


def _supply(data: ReportData) -> str:
    by_token = _by_token(data.supply)
    if not by_token:
        return _section("supply", "Supply", _note("no supply yet: nothing minted"))
    indexed_day = {r["token"]: r["indexed_time"].astimezone(timezone.utc).date()
                   for r in data.freshness if r["indexed_time"]}
    circulating = data.schema.has("supply_daily", "circulating_units")
    ounces, usd = [], []
    for i, (token, rows) in enumerate(by_token.items()):
        color = charts.token_color(token, i)
        until = max(indexed_day.get(token, rows[-1]["day"]), rows[-1]["day"])
        days = _days(rows, data.since)
        ounces.append(charts.Line(f"{token} total", days, tuple(_f(r["supply_units"]) for r in rows),
                                  color, step_until=until))
        circ = [r for r in rows if r["circulating_units"] is not None]
        if circ:
            ounces.append(charts.Line(f"{token} circulating", _days(circ, data.since),
                                      tuple(_f(r["circulating_units"]) for r in circ), color,
                                      dashed=True, step_until=until))
        for column, label, dashed in (("supply_usd", "total", False),
                                      ("circulating_usd", "circulating", True)):
            valued = [r for r in rows if r[column] is not None]
            if valued:
                usd.append(charts.Line(f"{token} {label}", tuple(r["day"] for r in valued),
                                       tuple(_f(r[column]) for r in valued), color, dashed=dashed))
    parts = [_chart("supply-oz", "Supply in troy ounces",
                    [charts.Panel("troy ounces", lines=tuple(ounces))],
                    "" if circulating else
                    "Circulating supply appears once the database has the revision that adds "
                    "it (treasury balances left out).")]
    if usd:
        parts.append(_chart("supply-usd", "Supply in US dollars",
                            [charts.Panel("US dollars", lines=tuple(usd))],
                            "Valued at each day's XAU/USD price, on the days supply changed."))
    else:
        parts.append(_no_prices(data, "Supply in US dollars"))
    # The latest row of each token: the supply now.
    cols = [("supply_units", "total (oz)", fmt_oz)]
    cols += [(c, h, f) for c, h, f in (
        ("treasury_units", "treasury (oz)", fmt_oz), ("circulating_units", "circulating (oz)", fmt_oz),
        ("bridged_units", "bridged (oz)", fmt_oz), ("supply_usd", "total (USD)", fmt_usd),
        ("circulating_usd", "circulating (USD)", fmt_usd)) if data.schema.has("supply_daily", c)]
    rows = [[_txt(token), _txt(rows[-1]["day"].isoformat())]
            + [_num(f(rows[-1][c]), rows[-1][c]) for c, _h, f in cols]
            for token, rows in by_token.items()]
    parts.append(_table(["token", "last change"] + [h for _c, h, _f in cols], rows,
                        "Supply now (as of the last day it changed)"))
    return _section("supply", "Supply", *parts)


def _volume(data: ReportData) -> str:
    by_token = _by_token(data.volume)
    if not by_token:
        return _section("volume", "Monthly volume", _note("no transfers yet"))
    bars, yoy = [], []
    for i, (token, rows) in enumerate(by_token.items()):
        color = charts.token_color(token, i)
        bars.append(charts.Bars(token, tuple(r["month"] for r in rows),
                                tuple(_f(r["volume_units"]) for r in rows), color))
        compared = [r for r in rows if r["volume_yoy"] is not None]
        if compared:
            yoy.append(charts.Line(token, tuple(r["month"] + timedelta(days=15) for r in compared),
                                   tuple(_f(r["volume_yoy"]) for r in compared), color))
    panels = [charts.Panel("troy ounces", bars=tuple(bars))]
    if yoy:
        panels.append(charts.Panel("change on a year before", lines=tuple(yoy), percent=True,
                                   zero_line=True))
    caption = ("Transfers between holders (no mints, burns or fee legs) per UTC month."
               + ("" if yoy else " The year-over-year change appears once a month has the "
                  "same month a year before it in the data."))
    # The last twelve months, one row each, a group of columns per token.
    usd = data.schema.has("volume_monthly", "volume_usd")
    months = sorted({r["month"] for r in data.volume}, reverse=True)[:12]
    cell = {(r["token"], r["month"]): r for r in data.volume}
    heads = ["month"]
    for token in by_token:
        heads += [f"{token} volume (oz)", "year over year", "transfers"] + (
            [f"{token} volume (USD)"] if usd else [])
    rows = []
    for month in months:
        row = [_txt(month.strftime("%Y-%m"))]
        for token in by_token:
            r = cell.get((token, month), {})
            row += [_num(fmt_oz(r.get("volume_units")), r.get("volume_units")),
                    _num(fmt_change(r.get("volume_yoy")), r.get("volume_yoy")),
                    _num(fmt_int(r.get("transfer_count")))]
            if usd:
                row.append(_num(fmt_usd(r.get("volume_usd")), r.get("volume_usd")))
        rows.append(row)
    return _section("volume", "Monthly volume",
                    _chart("volume", "Monthly transfer volume", panels, caption),
                    _table(heads, rows, "The last twelve months; year over year: the change "
                                        "on the same month a year before"))


def _holders(data: ReportData) -> str:
    by_token = _by_token(data.holders)
    if not by_token:
        return _section("holders", "Holders", _note("no holders yet"))
    counts, shares = [], []
    for i, (token, rows) in enumerate(by_token.items()):
        color, days = charts.token_color(token, i), tuple(r["day"] for r in rows)
        counts.append(charts.Line(token, days, tuple(_f(r["holders"]) for r in rows), color))
        with_share = [r for r in rows if r["top10_share"] is not None]
        if with_share:
            shares.append(charts.Line(token, tuple(r["day"] for r in with_share),
                                      tuple(_f(r["top10_share"]) for r in with_share), color))
    panels = [charts.Panel("holders", lines=tuple(counts)),
              charts.Panel("top-10 share", lines=tuple(shares), percent=True)]
    return _section("holders", "Holders",
                    _chart("holders", "Holders and the top 10's share of supply", panels,
                           "At the end of each UTC day: addresses with a balance above zero, "
                           "and the ten largest balances' share of the supply."))


_SCOPES = {"all": "all holders", "excluding_issuers": "without issuers and treasuries"}


def _concentration(data: ReportData) -> str:
    usd = data.schema.has("holder_concentration", "total_usd")
    rows = [[_txt(r["token"]), _txt(_SCOPES.get(r["scope"], r["scope"])), _num(fmt_int(r["holders"])),
             _num(fmt_oz(r["total_units"]), r["total_units"]),
             _num(fmt_share(r["top1_share"]), r["top1_share"]),
             _num(fmt_share(r["top10_share"]), r["top10_share"]),
             _num(fmt_share(r["top100_share"]), r["top100_share"]),
             _num(fmt_ratio(r["gini"]), r["gini"]), _num(fmt_ratio(r["hhi"]), r["hhi"]),
             _num(fmt_int(r["nakamoto"]))]
            + ([_num(fmt_usd(r["total_usd"]), r["total_usd"])] if usd else [])
            for r in data.concentration]
    heads = ["token", "scope", "holders", "balance (oz)", "top 1", "top 10", "top 100", "Gini",
             "HHI", "Nakamoto"] + (["balance (USD)"] if usd else [])
    return _section("concentration", "Concentration", _table(heads, rows),
                    _note("Without issuers and treasuries: addresses labelled issuer or "
                          "treasury left out (indexer label add … --kind issuer). Nakamoto: "
                          "the fewest holders with more than half."))


def _top_holders(data: ReportData) -> str:
    supply = {r["token"]: r["total_units"] for r in data.concentration if r["scope"] == "all"}
    usd = data.schema.has("holder_balances", "balance_usd")
    parts = []
    for token, rows in _by_token(data.top_holders).items():
        total = supply.get(token)
        table_rows = [
            [_num(str(rank)), _txt(r["address"], code=True), _txt(r["label"]), _txt(r["label_kind"]),
             _num(fmt_oz(r["balance_units"]), r["balance_units"]),
             _num(fmt_share(r["balance_units"] / total) if total else "—")]
            + ([_num(fmt_usd(r["balance_usd"]), r["balance_usd"])] if usd else [])
            + [_txt(r["last_time"].astimezone(timezone.utc).date().isoformat())]
            for rank, r in enumerate(rows, 1)]
        heads = ["#", "address", "label", "kind", "balance (oz)", "share"] + (
            ["balance (USD)"] if usd else []) + ["last active"]
        parts.append(_table(heads, table_rows, f"{token}: the {len(rows)} largest holders"))
    return _section("holders-top", "Largest holders", *(parts or [_note("no holders yet")]))


def _premium(data: ReportData) -> str:
    if not data.premium:
        return _section("premium", "PAXG premium to gold", _no_prices(data, "PAXG premium"))
    days = tuple(r["day"] for r in data.premium)
    panels = [
        charts.Panel("US dollars per ounce", lines=(
            charts.Line("PAXG/USD", days, tuple(_f(r["paxg_usd"]) for r in data.premium),
                        charts.token_color("PAXG")),
            charts.Line("XAU/USD (gold)", days, tuple(_f(r["xau_usd"]) for r in data.premium),
                        "#555555", dashed=True)), from_zero=False),
        charts.Panel("premium", lines=(
            charts.Line("PAXG premium", days, tuple(_f(r["premium"]) for r in data.premium),
                        charts.token_color("PAXG")),), percent=True, zero_line=True),
    ]
    last = data.premium[-1]
    low = min(data.premium, key=lambda r: r["premium"])
    high = max(data.premium, key=lambda r: r["premium"])
    rows = [[_txt(label), _txt(r["day"].isoformat()), _num(fmt_usd(r["paxg_usd"]), r["paxg_usd"]),
             _num(fmt_usd(r["xau_usd"]), r["xau_usd"]),
             _num(fmt_change(r["premium"], 3), r["premium"])]
            for label, r in (("latest", last), ("lowest", low), ("highest", high))]
    return _section("premium", "PAXG premium to gold",
                    _chart("premium", "PAXG's price against gold", panels,
                           "Chainlink PAXG/USD over XAU/USD, minus one, per UTC day."),
                    _table(["", "day", "PAXG/USD", "XAU/USD", "premium"], rows))


_CSS = """
:root{color-scheme:light;--ink:#1d1d1f;--muted:#666;--line:#e2e2e2}
body{margin:0 auto;max-width:1040px;padding:24px 28px 48px;font:14px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:36px 0 10px;padding-top:8px;
border-top:2px solid var(--ink)}h3{font-size:14px;margin:0 0 4px;font-weight:600}
.meta,figcaption,.note,footer,caption{color:var(--muted);font-size:13px}
footer{margin-top:40px;border-top:1px solid var(--line);padding-top:8px}
figure{margin:16px 0 20px}.chart-svg{display:block;width:100%;height:auto}
.no-prices{border-left:3px solid #c9a227;padding:6px 10px;background:#faf7ec;color:var(--ink)}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:12px 0 20px;font-variant-numeric:tabular-nums;
font-size:13px}caption{text-align:left;padding:0 0 4px}
th,td{padding:3px 10px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{font-weight:600;border-bottom:1px solid #999}.num{text-align:right}
code{font:12px ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace}
"""

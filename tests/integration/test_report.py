"""`indexer report` on a synced devnet, opened in headless Chromium (tests/browser.py): every
chart holds drawn marks, the page asks for nothing beyond its own file, and the USD sections
appear once the price views exist, saying "no price data yet" before.

Prices come from the devnet's own Chainlink-style feeds (tests/chain.py, Feed): one XAU/USD and
one PAXG/USD round a week, read by a second sync once [prices] names them.

INDEXER_UPDATE_SCREENSHOT=1 also writes the README's docs/report.png from the priced report.
"""

from __future__ import annotations

import math
import os
import random
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from tests.browser import visit
from tests.chain import Feed
from tests.conftest import REPO, Anvil
from tests.integration.test_analytics import roles  # noqa: F401 (a fixture)
from tests.integration.test_sync import run_cli, sync_once

pytestmark = pytest.mark.integration

NO_PRICES = "no price data yet"

# Per chart (figure.chart): its plot areas, and per plot area the marks drawn in it: an element
# of the data's artists (ids NAME-mark-…) that is displayed, painted (a fill or a stroke) and has
# an extent that overlaps the area: width and height for a filled shape, either for a stroke.
MARKS_JS = r"""
[...document.querySelectorAll('figure.chart')].map(fig => {
  const name = fig.dataset.chart;
  const areas = [...fig.querySelectorAll(`g[id^="${name}-plotarea-"] > path`)]
    .map(p => p.getBoundingClientRect());
  const counts = areas.map(() => 0);
  for (const el of fig.querySelectorAll(`g[id^="${name}-mark-"] :is(path, use, rect, polyline, polygon, circle, ellipse, line)`)) {
    if (el.closest('defs')) continue;
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    if (s.display === 'none' || s.visibility === 'hidden' || Number(s.opacity) === 0) continue;
    const fill = s.fill !== 'none', stroke = s.stroke !== 'none' && parseFloat(s.strokeWidth) > 0;
    if (!fill && !stroke) continue;
    if (!(stroke ? (r.width > 0 || r.height > 0) : (r.width > 0 && r.height > 0))) continue;
    areas.forEach((a, i) => {
      if (r.right >= a.left && r.left <= a.right && r.bottom >= a.top && r.top <= a.bottom
          && a.width > 0 && a.height > 0) counts[i] += 1;
    });
  }
  const box = fig.getBoundingClientRect();
  return {name, marks: counts, visible: box.width > 0 && box.height > 0};
})
"""


def open_report(path: Path, screenshot: Path | None = None) -> dict[str, dict]:
    """Load the report in Chromium; assert it asked for nothing; its charts by name."""
    seen = visit(path, evaluate=MARKS_JS, screenshot=screenshot)
    assert seen.requests == [], seen.requests
    assert seen.violations == [], seen.violations
    assert seen.proxied == [], seen.proxied
    return {chart["name"]: chart for chart in seen.result}


def assert_every_chart_drawn(found: dict[str, dict], names: set[str]) -> None:
    assert set(found) == names
    for name, chart in found.items():
        assert chart["visible"], name
        assert chart["marks"] and all(n > 0 for n in chart["marks"]), (name, chart["marks"])


# -- A devnet history worth a chart: two years of weekly activity, ending last week -------------

WEEKS = 106


class Story:
    """Weekly blocks (automine off, one `evm_mine` at the week's time): PAXG minted by its
    controller and handed out, XAUT minted to a treasury that hands it out, holders trading,
    new holders arriving, an occasional redemption; activity grows over time."""

    def __init__(self, chain, start: date, feeds: dict | None = None):
        self.chain, self.start, self.feeds = chain, start, feeds or {}
        self.rng = random.Random(11)
        self.balances: dict[tuple[str, str], int] = {}

    def send(self, contract, call, sender: str) -> None:
        self.chain.anvil.rpc("eth_sendTransaction", [{
            "from": sender, "to": contract.address, "gas": "0x493e0",
            "data": call._encode_transaction_data()}])

    def move(self, token: str, sender: str, to: str, amount: int) -> None:
        c = self.chain
        contract = c.paxg if token == "PAXG" else c.xaut
        self.send(contract, contract.functions.transfer(to, amount), sender)
        self.credit(token, sender, -amount)
        self.credit(token, to, amount)

    def run(self) -> None:
        c, rng = self.chain, self.rng
        anvil = c.anvil
        treasury, traders = c.users[0], c.users[1:]
        newcomers = {token: [c.w3.to_checksum_address(f"0x{base + i:040x}") for i in range(WEEKS * 3)]
                     for token, base in (("PAXG", 0x600d000), ("XAUT", 0x700d000))}
        unit = {"PAXG": 10**18, "XAUT": 10**6}
        anvil.rpc("evm_setAutomine", [False])
        try:
            for week in range(WEEKS):
                growth = 1 + week / 60

                def ounces(lo: float, hi: float, token: str) -> int:
                    return int(rng.uniform(lo, hi) * growth * unit[token])

                minted = ounces(150, 400, "PAXG")
                self.send(c.paxg, c.paxg.functions.increaseSupply(minted), c.controller)
                self.credit("PAXG", c.controller, minted)
                if week % 2 == 0:
                    minted = ounces(400, 900, "XAUT")
                    self.send(c.xaut, c.xaut.functions.mint(treasury, minted), c.deployer)
                    self.credit("XAUT", treasury, minted)
                for token, issuer in (("PAXG", c.controller), ("XAUT", treasury)):
                    for to in rng.sample(traders, 2):
                        self.move(token, issuer, to, self.balances[(token, issuer)] * rng.randint(15, 35) // 100)
                    for _ in range(rng.randint(2, 4)):
                        sender, to = rng.sample(traders, 2)
                        self.move(token, sender, to, min(self.held(token, sender), ounces(40, 250, token)))
                    for _ in range(rng.randint(1, 3)):  # new holders arrive
                        sender = rng.choice(traders)
                        to = newcomers[token].pop()
                        self.move(token, sender, to, min(self.held(token, sender), ounces(1, 12, token)))
                if week % 5 == 4:  # a redemption of PAXG: back to the controller, burned
                    sender = rng.choice(traders)
                    amount = self.held("PAXG", sender) // 4
                    self.move("PAXG", sender, c.controller, amount)
                    self.send(c.paxg, c.paxg.functions.decreaseSupply(amount), c.controller)
                    self.credit("PAXG", c.controller, -amount)
                if week % 6 == 5:  # and of XAUT, by a holder
                    sender = rng.choice(traders)
                    amount = self.held("XAUT", sender) // 5
                    self.send(c.xaut, c.xaut.functions.redeem(amount), sender)
                    self.credit("XAUT", sender, -amount)
                when = datetime.combine(self.start + timedelta(days=7 * week), time(14), timezone.utc)
                gold = 2300 + 180 * math.sin(week / 8) + 5 * week
                for name, price in (("XAU/USD", gold),
                                    ("PAXG/USD", gold * (1.002 + 0.004 * math.sin(week / 5)))):
                    if name in self.feeds:
                        aggregator = self.feeds[name].aggregator
                        self.send(aggregator, aggregator.functions.post(
                            int(price * 10**8), int(when.timestamp())), c.deployer)
                anvil.rpc("evm_mine", [int(when.timestamp())])
                receipts = anvil.rpc("eth_getBlockReceipts", ["latest"])
                assert receipts and all(r["status"] == "0x1" for r in receipts), week
        finally:
            anvil.rpc("evm_setAutomine", [True])

    def held(self, token: str, holder: str) -> int:
        return self.balances.get((token, holder), 0)

    def credit(self, token: str, holder: str, amount: int) -> None:
        self.balances[(token, holder)] = self.held(token, holder) + amount


@pytest.fixture
def story(tmp_path, database_url):
    """A synced devnet database with the Story's history and labels, its feeds not read yet;
    yields its config path and the feeds."""
    from tests.chain import Chain

    start = date.today() - timedelta(days=7 * (WEEKS - 1) + 2)  # the last week: two days ago
    genesis = datetime.combine(start - timedelta(days=1), time(), timezone.utc)
    node = Anvil(("--timestamp", str(int(genesis.timestamp()))))
    try:
        chain = Chain(node)
        config = tmp_path / "devnet.toml"
        config.write_text(chain.config_toml(database_url))
        feeds = {"XAU/USD": Feed(chain, "XAU / USD"), "PAXG/USD": Feed(chain, "PAXG / USD")}
        Story(chain, start, feeds).run()
        sync_once(config)
        for address, name, kind in ((chain.controller, "PAXG supply controller", "issuer"),
                                    (chain.users[0], "XAUT treasury", "treasury"),
                                    (chain.users[1], "Exchange hot wallet", "exchange")):
            result = run_cli("--config", str(config), "label", "add", address, name, "--kind", kind)
            assert result.exit_code == 0, result.output
        yield config, feeds
    finally:
        node.stop()


def add_feeds(config: Path, feeds: dict) -> None:
    """Name the devnet's feeds in the config: the next sync reads their rounds from the start."""
    config.write_text(config.read_text() + f"""
[prices]
xau_usd = "{feeds['XAU/USD'].proxy.address}"
paxg_usd = "{feeds['PAXG/USD'].proxy.address}"
""")


def report(config: Path, out: Path, *args: str) -> str:
    result = run_cli("--config", str(config), "report", "-o", str(out), *args)
    assert result.exit_code == 0, result.output
    return out.read_text()


def test_report_in_a_browser_before_and_after_the_prices(story, database_url, tmp_path):
    config, feeds = story
    # No feed read yet: every chart drawn, the price sections say so, USD columns empty.
    html = report(config, tmp_path / "empty.html")
    assert_every_chart_drawn(open_report(tmp_path / "empty.html"), {"supply-oz", "volume", "holders"})
    assert html.count(NO_PRICES) == 3  # price age, supply in USD, PAXG's premium
    assert "circulating (oz)" in html and "balance (USD)" in html  # columns found, no prices

    add_feeds(config, feeds)
    sync_once(config)
    html = report(config, tmp_path / "report.html")
    shot = tmp_path / "report.png"
    found = open_report(tmp_path / "report.html", screenshot=shot)
    assert_every_chart_drawn(found, {"supply-oz", "supply-usd", "volume", "holders", "premium"})
    assert NO_PRICES not in html
    assert len(found["volume"]["marks"]) == 2  # the year-over-year panel too
    for heading in ("circulating (USD)", "volume (USD)", "balance (USD)", "XAU/USD", "PAXG/USD"):
        assert heading in html
    assert "Exchange hot wallet" in html and "XAUT treasury" in html
    assert shot.stat().st_size > 50_000
    if os.environ.get("INDEXER_UPDATE_SCREENSHOT"):
        save_readme_screenshot(shot, REPO / "docs" / "report.png")


def save_readme_screenshot(full: Path, target: Path) -> None:
    """The top of the page (title, freshness, supply), in few colours: small enough to commit."""
    from PIL import Image

    with Image.open(full) as image:
        top = image.crop((0, 0, image.width, min(image.height, 1500)))
        target.parent.mkdir(exist_ok=True)
        top.convert("RGB").quantize(colors=64, dither=Image.Dither.NONE).save(target, optimize=True)
    assert target.stat().st_size < 200_000


# -- The browser checks fail when what they look for is there -----------------------------------

def sample_page(tmp_path: Path, name: str, edit=lambda html: html) -> Path:
    from tests.unit.test_report import sample_data

    from indexer.analytics import report as report_mod

    path = tmp_path / name
    path.write_text(edit(report_mod.render(sample_data(prices=True))))
    return path


REMOTE_IMAGE = '<img src="http://example.com/x.png" alt="">'
CSP = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"


def test_freshness_reads_a_database_from_before_revision_0016(empty_database_url, database_url):
    """The report runs on older schemas: derived_marks.periods_settled comes with 0016."""
    from indexer import migrate, store
    from indexer.analytics import queries
    from indexer.tokens import MAINNET_TOKENS

    migrate.upgrade(empty_database_url, "0015")
    for url, settled in ((empty_database_url, None), (database_url, False)):
        with store.connect(url) as conn:
            store.save_tokens(conn, 1, [MAINNET_TOKENS["PAXG"]], "ethereum")
            conn.execute("INSERT INTO derived_marks (chain_id, token, block_number) VALUES (1, 'PAXG', 5)")
            if settled is not None:
                conn.execute("UPDATE derived_marks SET periods_settled = %s", (settled,))
            rows = queries.read_freshness(conn, 1, ["PAXG"])
        assert [(r["token"], r["views_block"], r["periods_settled"]) for r in rows] == \
            [("PAXG", 5, settled is None)]


def test_a_remote_reference_is_seen_with_and_without_the_pages_policy(tmp_path):
    clean = visit(sample_page(tmp_path, "clean.html"))
    assert (clean.requests, clean.violations, clean.proxied) == ([], [], [])

    def inject(html: str) -> str:
        assert html.count("<main>") == 1
        return html.replace("<main>", "<main>" + REMOTE_IMAGE)

    # The report's own policy blocks the image: the browser says so, and nothing is sent.
    blocked = visit(sample_page(tmp_path, "blocked.html", inject))
    assert blocked.violations == ["http://example.com/x.png (img-src)"]
    assert blocked.requests == ["http://example.com/x.png"]
    assert blocked.proxied == []
    # Without the policy the request goes out, as far as the recording proxy.
    def without_policy(html: str) -> str:
        assert CSP in html
        return inject(html.replace(CSP, ""))

    sent = visit(sample_page(tmp_path, "sent.html", without_policy))
    assert sent.violations == []
    assert sent.requests == ["http://example.com/x.png"]
    assert sent.proxied == ["GET http://example.com/x.png HTTP/1.1"]
    for seen in (blocked, sent):
        with pytest.raises(AssertionError):
            open_report(Path(seen.url.removeprefix("file://")))


def test_the_mark_check_finds_a_chart_that_draws_nothing(tmp_path):
    from indexer.analytics import charts

    day = date(2026, 1, 1)
    good = charts.draw("good", "Good", [charts.Panel("oz", lines=(
        charts.Line("a", (day, day + timedelta(days=9)), (1.0, 2.0), "#000"),))])
    # Data, but nothing to see: two points on one spot make a line of no length, no marker.
    flat = charts.draw("flat", "Flat", [charts.Panel("oz", lines=(
        charts.Line("a", (day, day), (1.0, 1.0), "#000"),))])
    # Drawn, but outside the plot area (a y range set by hand).
    away = charts.draw("away", "Away", [charts.Panel("oz", lines=(
        charts.Line("a", (day, day + timedelta(days=9)), (-5.0, -4.0), "#000"),))])
    page = tmp_path / "marks.html"
    page.write_text("<!DOCTYPE html><meta charset=utf-8><style>svg{width:900px}</style>" + "".join(
        f'<figure class="chart" data-chart="{n}">{svg}</figure>'
        for n, svg in (("good", good), ("flat", flat), ("away", away))))
    found = open_report(page)
    assert [found[n]["marks"] for n in ("good", "flat", "away")] == [[1], [0], [0]]
    with pytest.raises(AssertionError):
        assert_every_chart_drawn(found, {"good", "flat", "away"})


# -- The command ----------------------------------------------------------------------------------

@pytest.fixture
def synced(chain, devnet_config):
    """A devnet with the tokens deployed and synced, nothing more."""
    sync_once(devnet_config)
    return devnet_config


@pytest.mark.parametrize("case, code, message", [
    ("unknown token", 2, "Error: unknown token 'GOLD': this database has PAXG, XAUT on chain 31337"),
    ("no server", 1, "Error: cannot connect to PostgreSQL: "),
    ("nothing indexed", 1, "Error: nothing indexed yet on chain 1: run `indexer sync` first"),
    ("no schema", 1, "Error: the database has no supply_daily, volume_monthly, holders_daily, "
                     "holder_concentration, holder_balances: it holds no indexer schema"),
])
def test_report_refuses_with_one_line_and_writes_nothing(request, tmp_path, case, code, message):
    from tests.conftest import free_port

    if case == "unknown token":
        args = ["--config", str(request.getfixturevalue("synced")), "report", "--token", "paxg",
                "--token", "GOLD"]
    else:
        url = {"no server": lambda: f"postgresql://nobody@127.0.0.1:{free_port()}/none",
               "nothing indexed": lambda: request.getfixturevalue("database_url"),
               "no schema": lambda: request.getfixturevalue("empty_database_url")}[case]()
        args = ["--database-url", url, "report"]
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(*args, "-o", str(out / "report.html"))
    assert result.exit_code == code
    lines = [line for line in result.output.splitlines() if not line.startswith("report: ")]
    assert len(lines) == 1 and lines[0].startswith(message), result.output
    assert list(out.iterdir()) == []


def test_report_failing_midway_keeps_the_older_file(synced, database_url, tmp_path, monkeypatch):
    from indexer.analytics import queries

    read = queries.read_holders_daily

    def connection_lost(conn, *args):  # the server ends the session in the middle of the report
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND application_name = 'gold-indexer'")
        return read(conn, *args)

    monkeypatch.setattr(queries, "read_holders_daily", connection_lost)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "report.html"
    target.write_text("yesterday's report")
    result = run_cli("--config", str(synced), "report", "-o", str(target))
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert errors and errors[0].startswith("Error: PostgreSQL: "), result.output
    assert list(out.iterdir()) == [target]
    assert target.read_text() == "yesterday's report"


def test_report_of_one_token_since_a_day_run_by_the_read_only_role(roles, chain, devnet_config,
                                                                    database_url, tmp_path):
    from tests.integration.test_analytics import Script, as_user

    from indexer import store
    from indexer.analytics import report as report_mod

    Script(chain).run()  # days 2030-01-01 to 2031-02-05
    sync_once(devnet_config)
    analyst = f"gi_report_{os.getpid()}"
    roles.append(analyst)
    assert run_cli("--config", str(devnet_config), "readonly-role", analyst).exit_code == 0
    readonly = as_user(database_url, analyst)

    out = tmp_path / "xaut.html"
    result = run_cli("--config", str(devnet_config), "--database-url", readonly, "report",
                     "--token", "xaut", "--since", "2030-02-01", "-o", str(out))
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[:-1] == [f"report: {what} ({n}/8)" for n, what in enumerate(report_mod.STEPS, 1)]
    assert lines[-1].startswith(f"wrote {out} (") and lines[-1].endswith(" KiB)")
    html = out.read_text()
    assert "<title>Gold tokens report: XAUT</title>" in html
    assert "PAXG" not in html and 'id="premium"' not in html
    assert "· since 2030-02-01 ·" in html

    conn = store.connect(readonly)
    try:
        data = report_mod.collect(conn, 31337, ["XAUT"], date(2030, 2, 1))
    finally:
        conn.close()
    # The supply opens with its last change before the day (2030-01-03), then follows it.
    assert [r["day"] for r in data.supply] == [date(2030, 1, 3), date(2030, 2, 10)]
    assert [r["month"] for r in data.volume] == [date(2030, 2, 1)]
    assert data.holders[0]["day"] == date(2030, 2, 1)
    assert {r["token"] for r in data.holders + data.concentration + data.top_holders} == {"XAUT"}

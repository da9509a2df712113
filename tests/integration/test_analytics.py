"""The analytics views, export and verify against a scripted history whose expected figures the
test computes itself, from the script (a ledger model), never from the indexed data."""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql as pgsql

from tests.integration.test_sync import run_cli, sync_once

pytestmark = pytest.mark.integration

ZERO = "0x" + "00" * 20
BASE = datetime(2030, 1, 1, tzinfo=timezone.utc)


@dataclass
class Ledger:
    """What the script did, in the token's own units, kept by the test."""

    balances: dict = field(default_factory=lambda: defaultdict(int))
    daily: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    senders: dict = field(default_factory=lambda: defaultdict(set))
    receivers: dict = field(default_factory=lambda: defaultdict(set))
    changes: list = field(default_factory=list)  # (token, kind, reason, account, amount)
    end_of_day: dict = field(default_factory=dict)  # (token, day) -> balances after its last transfer

    def snapshot(self, token, day):
        self.end_of_day[(token, day)] = {a: b for (t, a), b in self.balances.items() if t == token}

    def mint(self, token, day, to, amount, reason):
        self.balances[(token, to)] += amount
        d = self.daily[(token, day)]
        d["minted"] += amount
        d["n_mints"] += 1
        self.changes.append((token, "mint", reason, to, amount))
        self.snapshot(token, day)

    def burn(self, token, day, frm, amount, reason):
        self.balances[(token, frm)] -= amount
        d = self.daily[(token, day)]
        d["burned"] += amount
        d["n_burns"] += 1
        self.changes.append((token, "burn", reason, frm, amount))
        self.snapshot(token, day)

    def transfer(self, token, day, frm, to, amount, fee=0, fee_to=None):
        self.balances[(token, frm)] -= amount
        self.balances[(token, to)] += amount - fee
        d = self.daily[(token, day)]
        d["n_transfers"] += 1
        d["volume"] += amount - fee
        for period in (("d", day), ("m", day.replace(day=1))):
            self.senders[(token, period)].add(frm)
            self.receivers[(token, period)].add(to)
        if fee_to is not None:  # PAXG: a fee leg always, counted as a fee only above 0
            self.balances[(token, fee_to)] += fee
            if fee > 0:
                d["n_fees"] += 1
                d["fees"] += fee
        self.snapshot(token, day)


class Script:
    def __init__(self, chain):
        self.chain = chain
        self.ledger = Ledger()
        self.fee_rate = 0
        self.fee_recipient = chain.fee_recipient.lower()
        self.seq = 0

    def at(self, day: int) -> date:
        """The next transaction's block lands on this day (UTC)."""
        self.seq += 1
        ts = BASE + timedelta(days=day, minutes=self.seq)
        self.chain.anvil.rpc("evm_setNextBlockTimestamp", [int(ts.timestamp())])
        return ts.date()

    def run(self) -> None:
        c, led = self.chain, self.ledger
        p, x = c.paxg.functions, c.xaut.functions
        ctl, dep = c.controller, c.deployer
        u = c.users
        lu = [a.lower() for a in u]
        lctl = ctl.lower()

        def paxg_transfer(day_no, sender, to, amount):
            day = self.at(day_no)
            c.send(p.transfer(to, amount), sender)
            fee = amount * self.fee_rate // 1_000_000
            led.transfer("PAXG", day, sender.lower(), to.lower(), amount, fee, self.fee_recipient)

        day = self.at(0)
        c.send(p.increaseSupply(1000 * 10**18), ctl)
        led.mint("PAXG", day, lctl, 1000 * 10**18, "increase_supply")
        day = self.at(0)
        c.send(x.mint(u[0], 5000 * 10**6), dep)
        led.mint("XAUT", day, lu[0], 5000 * 10**6, "mint")
        paxg_transfer(0, ctl, u[0], 400 * 10**18)
        day = self.at(0)
        c.send(x.transfer(u[1], 1000 * 10**6), u[0])
        led.transfer("XAUT", day, lu[0], lu[1], 1000 * 10**6)

        self.at(1)
        c.send(p.setFeeRate(200), dep)
        self.fee_rate = 200
        paxg_transfer(1, u[0], u[1], 100 * 10**18)
        paxg_transfer(1, u[0], u[2], 10**18)
        paxg_transfer(1, u[0], u[2], 7)  # fee rounds down to 0: a fee leg of 0, not a fee
        day = self.at(1)
        c.send(x.transfer(u[2], 300 * 10**6), u[1])
        led.transfer("XAUT", day, lu[1], lu[2], 300 * 10**6)
        day = self.at(1)
        c.send(x.redeem(100 * 10**6), u[1])
        led.burn("XAUT", day, lu[1], 100 * 10**6, "redeem")

        day = self.at(2)
        c.send(p.decreaseSupply(100 * 10**18), ctl)
        led.burn("PAXG", day, lctl, 100 * 10**18, "decrease_supply")
        self.at(2)
        c.send(p.freeze(u[2]), dep)
        day = self.at(2)
        wiped = c.balance_of("PAXG", u[2])
        c.send(p.wipeFrozenAddress(u[2]), dep)
        led.burn("PAXG", day, lu[2], wiped, "wipe_frozen_address")
        self.at(2)
        c.send(x.addToBlockedList(u[2]), dep)
        day = self.at(2)
        blocked = c.balance_of("XAUT", u[2])
        c.send(x.destroyBlockedFunds(u[2]), dep)
        led.burn("XAUT", day, lu[2], blocked, "destroy_blocked_funds")

        paxg_transfer(40, u[1], u[3], 5 * 10**18)
        day = self.at(40)
        c.send(x.transfer(u[3], 10 * 10**6), u[0])
        led.transfer("XAUT", day, lu[0], lu[3], 10 * 10**6)
        paxg_transfer(41, u[1], u[3], 2 * 10**18)
        paxg_transfer(41, u[3], u[4], 10**18)
        paxg_transfer(400, u[1], u[3], 3 * 10**18)  # the same month a year later: YoY


@pytest.fixture
def scripted(chain, devnet_config, database_url):
    script = Script(chain)
    script.run()
    sync_once(devnet_config)
    return script


def q(database_url, query, *args):
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, args).fetchall()


def units(amount: int, token: str) -> Decimal:
    return Decimal(amount) / Decimal(10) ** (18 if token == "PAXG" else 6)


def test_supply_daily_equals_the_script(scripted, database_url):
    led = scripted.ledger
    rows = q(database_url, """SELECT token, day, minted, burned, net_issuance, supply, n_mints, n_burns,
                                     supply_units FROM supply_daily ORDER BY token, day""")
    expected, running = [], defaultdict(int)
    for token, day in sorted(led.daily):
        d = led.daily[(token, day)]
        running[token] += d["minted"] - d["burned"]
        expected.append((token, day, d["minted"], d["burned"], d["minted"] - d["burned"],
                         running[token], d["n_mints"], d["n_burns"], units(running[token], token)))
    assert rows == expected
    for token in ("PAXG", "XAUT"):
        assert running[token] == scripted.chain.total_supply(token)


def test_supply_changes_give_each_reason(scripted, database_url):
    rows = q(database_url, """SELECT token, kind, reason, account, amount FROM supply_changes
                              ORDER BY block_number, log_index""")
    assert rows == scripted.ledger.changes


def test_volume_daily_and_monthly_equal_the_script(scripted, database_url):
    led = scripted.ledger
    rows = q(database_url, """SELECT token, day, transfer_count, volume, unique_senders,
                                     unique_receivers, fee_count, fees
                              FROM volume_daily ORDER BY token, day""")
    expected = []
    for token, day in sorted(led.daily):
        d = led.daily[(token, day)]
        expected.append((token, day, d["n_transfers"], d["volume"],
                         len(led.senders[(token, ("d", day))]), len(led.receivers[(token, ("d", day))]),
                         d["n_fees"], d["fees"]))
    assert rows == expected

    monthly = q(database_url, """SELECT token, month, transfer_count, volume, unique_senders,
                                        unique_receivers, fees, volume_year_before, volume_yoy
                                 FROM volume_monthly ORDER BY token, month""")
    months = defaultdict(lambda: defaultdict(int))
    for (token, day), d in led.daily.items():
        m = months[(token, day.replace(day=1))]
        for k in ("n_transfers", "volume", "fees"):
            m[k] += d[k]
    expected = []
    for token, month in sorted(months):
        m = months[(token, month)]
        before = months.get((token, month.replace(year=month.year - 1)))
        prev = before["volume"] if before else None
        yoy = round((Decimal(m["volume"]) - prev) / prev, 6) if prev else None
        expected.append((token, month, m["n_transfers"], m["volume"],
                         len(led.senders[(token, ("m", month))]), len(led.receivers[(token, ("m", month))]),
                         m["fees"], prev, yoy))
    assert monthly == expected
    assert any(r[8] is not None for r in monthly)  # the script has a year-over-year month


def test_holder_balances_equal_the_script_and_the_chain(scripted, database_url):
    led, chain = scripted.ledger, scripted.chain
    rows = q(database_url, "SELECT token, address, balance FROM holder_balances ORDER BY token, address")
    expected = sorted((t, a, b) for (t, a), b in led.balances.items())
    assert rows == expected
    for token, address, balance in rows:
        assert balance == chain.balance_of(token, chain.w3.to_checksum_address(address))


def concentration(balances: list[int]) -> dict:
    xs = sorted((b for b in balances if b > 0), reverse=True)
    n, total = len(xs), sum(xs)
    share = lambda k: round(Decimal(sum(xs[:k])) / total, 6)  # noqa: E731
    gini = (2 * sum((n - i) * x for i, x in enumerate(xs)) / Decimal(total) - (n + 1)) / n
    running, nakamoto = 0, None
    for i, x in enumerate(xs, 1):
        running += x
        if running * 2 > total:
            nakamoto = i
            break
    hhi = sum((Decimal(x) / total) ** 2 for x in xs)
    return {"holders": n, "total": total, "top1": share(1), "top10": share(10),
            "top100": share(100), "gini": round(gini, 6), "hhi": round(hhi, 6), "nakamoto": nakamoto}


def test_holder_concentration_with_and_without_issuers(scripted, database_url, devnet_config):
    led, chain = scripted.ledger, scripted.chain
    result = run_cli("--config", str(devnet_config), "label", "add", chain.controller,
                     "PAXG supply controller", "--kind", "issuer")
    assert result.exit_code == 0, result.output
    rows = q(database_url, """SELECT token, scope, holders, total_balance, top1_share, top10_share,
                                     top100_share, gini, hhi, nakamoto
                              FROM holder_concentration ORDER BY token, scope""")
    issuer = chain.controller.lower()
    expected = []
    for token in ("PAXG", "XAUT"):
        for scope in ("all", "excluding_issuers"):
            bal = [b for (t, a), b in led.balances.items()
                   if t == token and (scope == "all" or a != issuer)]
            c = concentration(bal)
            expected.append((token, scope, c["holders"], c["total"], c["top1"], c["top10"],
                             c["top100"], c["gini"], c["hhi"], c["nakamoto"]))
    assert rows == expected
    assert expected[0][2] != expected[1][2]  # the label took the issuer out of PAXG's figures


def test_holder_concentration_known_answers(database_url):
    """Figures worked out by hand, not with the view's formulas. Gini is the mean absolute
    difference over all ordered pairs divided by twice the mean, HHI the sum of squared shares,
    Nakamoto the fewest holders with more than half.

    Chain 1 PAXG, balances 6, 3, 1 (and an emptied account, no holder):
      gini = 2 * (|6-3| + |6-1| + |3-1|) / (2 * 3^2 * 10/3) = 20 / 60 = 1/3
      hhi = .6^2 + .3^2 + .1^2 = .36 + .09 + .01 = .46; top1 = 6/10; nakamoto = 1 (6 > 5)
      without the 6, labelled issuer: 3, 1: gini = 2 * 2 / (2 * 2^2 * 2) = .25,
      hhi = .75^2 + .25^2 = .625, top1 = .75, nakamoto = 1 (3 > 2)
    Chain 1 XAUT, balances 4, 3, 2, 1:
      gini = 2 * (1 + 2 + 3 + 1 + 2 + 1) / (2 * 4^2 * 10/4) = 20 / 80 = .25
      hhi = .16 + .09 + .04 + .01 = .30; top1 = .4; nakamoto = 2 (4 <= 5, 4 + 3 > 5)
    Chain 2 PAXG, twelve balances of 5: gini = 0; hhi = 12 * (1/12)^2 = 1/12;
      top1 = 1/12, top10 = 10/12; nakamoto = 7 (6 * 5 = 30 is only half of 60)
    """
    wei = 10**18
    balances = [(1, "PAXG", 6 * wei), (1, "PAXG", 3 * wei), (1, "PAXG", 1 * wei), (1, "PAXG", 0),
                (1, "XAUT", 4), (1, "XAUT", 3), (1, "XAUT", 2), (1, "XAUT", 1)]
    balances += [(2, "PAXG", 5)] * 12
    with psycopg.connect(database_url) as conn:
        for i, (chain_id, token, balance) in enumerate(balances):
            conn.execute("""INSERT INTO holder_state (chain_id, token, address, balance, n_transfers,
                                                      first_block, first_time, last_block, last_time)
                            VALUES (%s, %s, %s, %s, 1, 1, now(), 1, now())""",
                         (chain_id, token, f"0x{i:040x}", balance))
        conn.execute("INSERT INTO labels VALUES (1, %s, 'the issuer', 'issuer')", (f"0x{0:040x}",))
    rows = q(database_url, """SELECT chain_id, token, scope, holders, total_balance, top1_share,
                                     top10_share, top100_share, gini, hhi, nakamoto
                              FROM holder_concentration ORDER BY 1, 2, 3""")
    d = Decimal
    assert rows == [
        (1, "PAXG", "all", 3, 10 * wei, d(".6"), 1, 1, d(".333333"), d(".46"), 1),
        (1, "PAXG", "excluding_issuers", 2, 4 * wei, d(".75"), 1, 1, d(".25"), d(".625"), 1),
        (1, "XAUT", "all", 4, 10, d(".4"), 1, 1, d(".25"), d(".3"), 2),
        (1, "XAUT", "excluding_issuers", 4, 10, d(".4"), 1, 1, d(".25"), d(".3"), 2),
        (2, "PAXG", "all", 12, 60, d(".083333"), d(".833333"), 1, 0, d(".083333"), 7),
        (2, "PAXG", "excluding_issuers", 12, 60, d(".083333"), d(".833333"), 1, 0, d(".083333"), 7),
    ]


def test_holders_daily_equals_the_script(scripted, database_url):
    led = scripted.ledger
    rows = q(database_url, "SELECT token, day, holders, top10, supply, top10_share FROM holders_daily ORDER BY token, day")
    expected = []
    for token in ("PAXG", "XAUT"):
        days = sorted(d for (t, d) in led.end_of_day if t == token)
        day, state = days[0], None
        while day <= days[-1]:
            state = led.end_of_day.get((token, day), state)
            positive = sorted((b for b in state.values() if b > 0), reverse=True)
            top10, supply = sum(positive[:10]), sum(state.values())
            expected.append((token, day, len(positive), top10, supply,
                             round(Decimal(top10) / supply, 6)))
            day += timedelta(days=1)
    assert rows == expected
    assert len(rows) > 400  # the script spans more than a year


def test_as_of_block_functions_equal_the_chain_at_that_block(scripted, database_url):
    chain = scripted.chain
    with psycopg.connect(database_url) as conn:
        lo, hi = conn.execute("SELECT min(block_number), max(block_number) FROM logs").fetchone()
        for block in (lo + (hi - lo) // 3, lo + 2 * (hi - lo) // 3, hi):
            supply = dict(conn.execute(
                "SELECT token, supply FROM supply_at(%s)", (block,)).fetchall())
            balances = conn.execute(
                "SELECT token, address, balance FROM balances_at(%s)", (block,)).fetchall()
            holders = dict(conn.execute(
                "SELECT token, holders FROM concentration_at(%s) WHERE scope = 'all'", (block,)).fetchall())
            for token in ("PAXG", "XAUT"):
                assert supply[token] == chain.total_supply(token, block)
                mine = [(a, b) for t, a, b in balances if t == token]
                for address, balance in mine:
                    assert balance == chain.balance_of(token, chain.w3.to_checksum_address(address), block)
                assert holders[token] == sum(1 for _, b in mine if b > 0)
        current = conn.execute("SELECT * FROM concentration_at(NULL) ORDER BY 1, 2, 3").fetchall()
        view = conn.execute("SELECT * FROM holder_concentration ORDER BY 1, 2, 3").fetchall()
        assert current == [row[:-1] for row in view]  # its last column: total_usd


def test_export_matches_the_view_and_filters(scripted, database_url, devnet_config, tmp_path):
    out = tmp_path / "volume.csv.gz"
    result = run_cli("--config", str(devnet_config), "export", "volume_daily", "--token", "PAXG",
                     "--since", "2030-01-02", "-o", str(out))
    assert result.exit_code == 0, result.output
    raw = gzip.open(out, "rb").read()
    assert raw.endswith(b"\r\n") and b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    records = list(csv.reader(io.StringIO(raw.decode())))
    view = q(database_url, """SELECT * FROM volume_daily WHERE token = 'PAXG' AND day >= '2030-01-02'
                              ORDER BY chain_id, token, day""")
    cols = [d[0] for d in q(database_url, """SELECT column_name FROM information_schema.columns
                              WHERE table_name = 'volume_daily' ORDER BY ordinal_position""")]
    assert records[0] == cols
    assert records[1:] == [["" if v is None else str(v) for v in row] for row in view]
    assert len(view) >= 2

    transfers = run_cli("--config", str(devnet_config), "export", "transfers")
    lines = transfers.output.splitlines()
    assert len(lines) - 1 == q(database_url, "SELECT count(*) FROM transfers")[0][0]


def test_export_knows_every_view_of_the_schema(database_url):
    from indexer import export

    views = {r[0] for r in q(database_url, """SELECT table_name FROM information_schema.views
                                              WHERE table_schema = 'public'""")}
    assert views <= set(export.VIEWS)
    for view in views:  # each one's query runs, with every filter that applies to it
        spec = export.VIEWS[view]
        when = datetime(2030, 1, 1, tzinfo=timezone.utc) if spec.time_column else None
        token = "PAXG" if spec.token_column else None
        q(database_url, export.build_query(view, token=token, since=when, until=when).as_string())


# Rows enough that COPY streams several chunks into the file before the failure.
MANY_ROWS = 2_000_000


@pytest.mark.parametrize("failure", ["bad_row", "connection_lost"])
def test_export_failing_midway_leaves_no_file_and_one_error_line(database_url, tmp_path,
                                                                 monkeypatch, failure):
    from indexer import export

    # A query that fails after it has sent rows: a division by zero at row MANY_ROWS/2, or the
    # server ending the session (pg_terminate_backend) once the first chunk is written.
    boom = "1 / (%s - i)" % (MANY_ROWS // 2) if failure == "bad_row" else "i"
    monkeypatch.setattr(export, "build_query", lambda *a, **k: pgsql.SQL(
        "SELECT i, {} AS x FROM generate_series(1, {}) i").format(pgsql.SQL(boom), MANY_ROWS))
    written: list[int] = []
    real_export = export.export

    def watched(conn, query, write):
        def spy(chunk):
            if not written and failure == "connection_lost":
                q(database_url, """SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
                                   WHERE datname = current_database() AND pid <> pg_backend_pid()
                                     AND application_name = 'gold-indexer'""")
            written.append(len(chunk))
            return write(chunk)
        return real_export(conn, query, spy)

    monkeypatch.setattr(export, "export", watched)
    out = tmp_path / "out" / "volume.csv.gz"
    out.parent.mkdir()
    result = run_cli("--database-url", database_url, "export", "volume_daily", "-o", str(out))
    assert result.exit_code == 1
    message = {"bad_row": "Error: export failed: division by zero",
               "connection_lost": "Error: export failed: "}[failure]
    assert len(result.output.splitlines()) == 1 and result.output.startswith(message), result.output
    assert sum(written) > 0  # it did fail midway, with CSV in the partial file
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["export", "balances"], "Error: unknown view 'balances': choose one of transfers,"),
    (["export", "volume_daily", "--since", "last week"],
     "Error: --since 'last week' is not a date (YYYY-MM-DD) or ISO timestamp"),
    (["export", "holder_balances", "--until", "2030-01-01"],
     "Error: --since/--until do not apply to holder_balances: it has no time column"),
    (["export", "supply_daily", "--as-of-block", "5"],
     "Error: --as-of-block applies to transfers, supply_changes, price_rounds, not to supply_daily"),
])
def test_export_refuses_bad_input_with_one_line(scripted, devnet_config, args, message):
    result = run_cli("--config", str(devnet_config), *args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.output


def test_verify_passes_then_fails_after_tampering(scripted, database_url, devnet_config):
    ok = run_cli("--config", str(devnet_config), "verify", "--top", "5", "--sample", "3")
    assert ok.exit_code == 0, ok.output
    assert "DIFFERENT" not in ok.output
    assert ok.output.strip().endswith("checks agree")
    victim = scripted.chain.users[1].lower()
    with psycopg.connect(database_url) as conn:
        conn.execute("""UPDATE logs SET amount = amount + 1 WHERE event = 'Transfer' AND token = 'XAUT'
                        AND to_address = %s AND block_number = (SELECT min(block_number) FROM logs
                        WHERE event = 'Transfer' AND token = 'XAUT' AND to_address = %s)""",
                     (victim, victim))
    bad = run_cli("--config", str(devnet_config), "verify", "--top", "5", "--sample", "3")
    assert bad.exit_code == 1
    assert f"XAUT   {victim}" in bad.output and "DIFFERENT" in bad.output


def as_user(url: str, user: str) -> str:
    """`url` with another user (the test server trusts local connections: no password)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.split('@')[-1]}"))


def grant_create_on_public_to_everyone(url: str) -> None:
    """What PostgreSQL 14 and older do by default: every role (PUBLIC) may CREATE in schema
    public. The test server is newer; grant it, so the command must take it away."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")


def assert_cannot_write_or_create(url: str, role: str) -> None:
    with psycopg.connect(as_user(url, role), autocommit=True) as conn:
        for statement in ("DELETE FROM logs", "UPDATE labels SET name = 'x'",
                          "CREATE TABLE mine (x int)", "CREATE TEMP TABLE mine (x int)"):
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute(statement)
        # The read-only mode is only the role's default: without it, it must lack the privileges.
        conn.execute("SET default_transaction_read_only = off")
        for statement in ("INSERT INTO labels VALUES (1, '0x' || repeat('0', 40), 'x', 'other')",
                          "DELETE FROM logs", "TRUNCATE tokens", "CREATE TABLE mine (x int)",
                          "CREATE TEMP TABLE mine (x int)", "CREATE SCHEMA mine",
                          "CREATE VIEW mine AS SELECT 1"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def row_counts(url: str, relations: list[str]) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {r: conn.execute(f"SELECT count(*) FROM {r}").fetchone()[0] for r in relations}


@dataclass
class OwnedDatabase:
    admin_url: str  # as a superuser
    url: str  # as its owner
    owner: str


@pytest.fixture
def roles(pg_admin_url):
    """Roles a test makes (they belong to the whole server), dropped at its end. Request it
    before the databases: those go first, with the privileges the roles hold in them."""
    made: list[str] = []
    yield made
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in reversed(made):
            conn.execute(pgsql.SQL("DROP ROLE IF EXISTS {}").format(pgsql.Identifier(name)))


@pytest.fixture
def owned_database(roles, database_factory, pg_admin_url) -> OwnedDatabase:
    """A database owned and migrated by a role that is no superuser (CREATEROLE only, to make
    the analyst's role), as the indexer's user would be in production."""
    from indexer import migrate

    owner = f"gi_owner_{os.getpid()}"
    admin_url = database_factory(migrated=False)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP ROLE IF EXISTS {}").format(pgsql.Identifier(owner)))
        conn.execute(pgsql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(pgsql.Identifier(owner)))
        roles.append(owner)
        conn.execute(pgsql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            pgsql.Identifier(urlsplit(admin_url).path.lstrip("/")), pgsql.Identifier(owner)))
    url = as_user(admin_url, owner)
    migrate.upgrade(url)
    return OwnedDatabase(admin_url, url, owner)


def test_readonly_role_reads_everything_and_changes_nothing(scripted, database_url, devnet_config,
                                                            monkeypatch):
    grant_create_on_public_to_everyone(database_url)
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def spy(self, query, params=None, **kwargs):
        text = query.as_string(self) if isinstance(query, pgsql.Composable) else str(query)
        sent.append(f"{text} {params!r}")
        return execute(self, query, params, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", spy)
    monkeypatch.setenv("GI_TEST_PW", "pw-for-analyst")
    result = run_cli("--config", str(devnet_config), "readonly-role", "gi_analyst",
                     "--password-env", "GI_TEST_PW")
    monkeypatch.undo()
    assert result.exit_code == 0, result.output
    # The password never reached the server (its log, pg_stat_activity), only its verifier.
    assert not [s for s in sent if "pw-for-analyst" in s]
    assert [s for s in sent if 'ROLE "gi_analyst"' in s and "PASSWORD 'SCRAM-SHA-256$4096:" in s]
    assert q(database_url, "SELECT rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid "
                           "WHERE rolname = 'gi_analyst'") == [(True,)]

    relations = ["transfers", "supply_daily", "supply_changes", "volume_daily", "volume_monthly",
                 "holder_balances", "holder_concentration", "holders_daily", "logs", "labels",
                 "blocks", "checkpoints", "derived_marks", "balances_at(1000000)", "concentration_at(NULL)"]
    owner_sees = row_counts(database_url, relations)
    assert all(owner_sees.values()), owner_sees
    assert row_counts(as_user(database_url, "gi_analyst"), relations) == owner_sees
    assert_cannot_write_or_create(database_url, "gi_analyst")
    assert row_counts(database_url, relations) == owner_sees


def test_readonly_role_leaves_the_indexers_user_every_right(roles, owned_database, monkeypatch):
    db = owned_database
    grant_create_on_public_to_everyone(db.admin_url)
    analyst = f"gi_ro_{os.getpid()}"
    roles.append(analyst)
    result = run_cli("--database-url", db.url, "readonly-role", analyst)
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("GI_TEST_PW", "a-new-one")  # again, as when its password changes
    result = run_cli("--database-url", db.url, "readonly-role", analyst, "--password-env", "GI_TEST_PW")
    assert result.exit_code == 0, result.output
    assert_cannot_write_or_create(db.url, analyst)
    with psycopg.connect(db.url, autocommit=True) as conn:  # the indexer's user, the owner
        conn.execute("CREATE TABLE mine (x int)")
        conn.execute("CREATE TEMP TABLE mine_too (x int)")
        conn.execute("INSERT INTO labels VALUES (1, '0x' || repeat('0', 40), 'x', 'other')")
    # Migrations still run (0006's downgrade makes a temporary table), and what they create
    # again the analyst can read.
    from alembic import command

    from indexer import migrate

    command.downgrade(migrate.alembic_config(db.url), "0004")
    migrate.upgrade(db.url)
    assert row_counts(as_user(db.url, analyst), ["derived_marks", "labels"]) == \
        {"derived_marks": 0, "labels": 3}  # the two seeded (treasury, bridge) and the one added


def test_readonly_role_refuses_what_only_the_schemas_owner_can_revoke(roles, owned_database):
    """PostgreSQL 14 and older: schema public belongs to the superuser and every role may
    CREATE in it. The indexer's user cannot take that away: the command says who must, and
    changes nothing."""
    db = owned_database
    with psycopg.connect(db.admin_url, autocommit=True) as conn:
        conn.execute("ALTER SCHEMA public OWNER TO CURRENT_USER")
        superuser = conn.execute("SELECT current_user").fetchone()[0]
    grant_create_on_public_to_everyone(db.admin_url)
    analyst = f"gi_ro_{os.getpid()}"
    roles.append(analyst)
    result = run_cli("--database-url", db.url, "readonly-role", analyst)
    assert result.exit_code == 1
    fix = f"REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT CREATE ON SCHEMA public TO {db.owner}"
    assert result.output.splitlines() == [
        f"Error: role {analyst} would still hold CREATE on schema public; nothing was changed: "
        f"PUBLIC holds it and only its owner {superuser} or a superuser can revoke that; run "
        f"`{fix}` as one of them, then this command again"]
    # Nothing half-done: no role, and PUBLIC keeps TEMPORARY on the database, which the command
    # revoked before it found it could not finish.
    assert q(db.admin_url, "SELECT count(*) FROM pg_roles WHERE rolname = %s", analyst) == [(0,)]
    assert q(db.admin_url, """SELECT has_database_privilege('public', current_database(), 'TEMPORARY'),
                                     has_schema_privilege('public', 'public', 'CREATE')""") == [(True, True)]

    with psycopg.connect(db.admin_url, autocommit=True) as conn:  # the owner does as told
        conn.execute(fix)
    result = run_cli("--database-url", db.url, "readonly-role", analyst)
    assert result.exit_code == 0, result.output
    assert_cannot_write_or_create(db.url, analyst)
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE mine (x int)")  # the indexer's user still can


def test_readme_sql_examples_run(scripted, database_url):
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    blocks = readme.split("```sql\n")[1:]
    statements = [s.strip() for b in blocks for s in b.split("```")[0].split(";") if s.strip()]
    runnable = [s for s in statements if not all(l.startswith("--") for l in s.splitlines())]
    assert len(runnable) >= 9
    with psycopg.connect(database_url) as conn:
        for statement in runnable:
            if "INSERT INTO labels" in statement:
                continue
            conn.execute(statement).fetchall()

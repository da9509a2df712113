"""Prices from Chainlink-style feeds on the devnet (tests/contracts/MockFeedProxy.sol and
MockAggregator.sol): rounds, a phase change, days without a round, a reorg that removes a
round, and the USD, circulating and bridged figures of the views against values computed here
by hand from the script."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest

from tests.chain import Feed
from tests.integration.test_sync import dump_tables, run_cli, sync_once

pytestmark = pytest.mark.integration

BASE = datetime(2030, 1, 1, tzinfo=timezone.utc)
DAY0 = BASE.date()
OZ = 10**6  # XAUT has 6 decimals


def usd(text: str) -> int:
    """A USD price as the feed's 8-decimal integer answer."""
    return int(Decimal(text) * 10**8)


class Clock:
    """Puts the next transaction's block at a given day and minute (UTC)."""

    def __init__(self, chain):
        self.chain = chain

    def at(self, day: int, hour: int, minute: int = 0) -> int:
        ts = int((BASE + timedelta(days=day, hours=hour, minutes=minute)).timestamp())
        self.chain.anvil.rpc("evm_setNextBlockTimestamp", [ts])
        return ts


def feeds_config(chain, database_url: str, xau: Feed, paxg: Feed | None = None) -> str:
    text = chain.config_toml(database_url) + f'\n[prices]\nxau_usd = "{xau.proxy.address}"\n'
    if paxg is not None:
        text += f'paxg_usd = "{paxg.proxy.address}"\n'
    return text


def q(database_url: str, query: str, *args):
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, args).fetchall()


@pytest.fixture
def priced(chain, tmp_path, database_url):
    """A history of XAUT and of both feeds over four days, synced. Day -1 has a mint before
    the feed's first round; day 1 has no round; day 2 changes XAU/USD's phase, and its old
    aggregator answers once more after the new phase's first round (not the proxy's answer)."""
    x = chain.xaut.functions
    dep = chain.deployer
    treasury, holder, bridge, other = chain.users[:4]
    xau, paxg = Feed(chain, "XAU / USD"), Feed(chain, "PAXG / USD")
    clock = Clock(chain)

    clock.at(-1, 12)
    chain.send(x.mint(treasury, 10 * OZ), dep)  # before any round: no USD
    clock.at(0, 10)
    xau.post(usd("2000"), BASE_TS(0, 10))
    clock.at(0, 11)
    paxg.post(usd("2010"), BASE_TS(0, 11))
    clock.at(0, 12)
    chain.send(x.mint(treasury, 990 * OZ), dep)
    clock.at(0, 13)
    xau.post(usd("2010.5"), BASE_TS(0, 13))
    clock.at(0, 15)
    chain.send(x.transfer(holder, 300 * OZ), treasury)
    clock.at(1, 9)
    chain.send(x.transfer(bridge, 100 * OZ), holder)
    clock.at(2, 9)
    xau.post(usd("2020"), BASE_TS(2, 9))  # phase 1, still the proxy's
    old = xau.aggregator
    clock.at(2, 9, 30)
    xau.change_phase()
    clock.at(2, 10)
    xau.post(usd("2030"), BASE_TS(2, 10))  # phase 2's first round
    clock.at(2, 11)
    chain.send(old.functions.post(usd("2040"), BASE_TS(2, 11)), dep)  # old phase: ignored
    clock.at(2, 12)
    chain.send(x.transfer(other, 50 * OZ), holder)

    path = tmp_path / "prices.toml"
    path.write_text(feeds_config(chain, database_url, xau, paxg))
    for address, name, kind in ((treasury, "devnet treasury", "treasury"),
                                (bridge, "devnet OFT adapter", "bridge")):
        result = run_cli("--config", str(path), "label", "add", address, name, "--kind", kind)
        assert result.exit_code == 0, result.output
    sync_once(path)
    return {"path": path, "xau": xau, "paxg": paxg, "old": old,
            "users": [a.lower() for a in (treasury, holder, bridge, other)]}


def BASE_TS(day: int, hour: int, minute: int = 0) -> int:
    return int((BASE + timedelta(days=day, hours=hour, minutes=minute)).timestamp())


def test_rounds_are_stored_with_the_proxys_round_ids_and_the_phase_change(priced, database_url):
    rows = q(database_url, "SELECT feed, phase_id, round_id, answer FROM prices ORDER BY block_number")
    xau = priced["xau"]
    assert rows == [
        ("XAU/USD", 1, xau.round_id(1, phase=1), usd("2000")),
        ("PAXG/USD", 1, xau.round_id(1, phase=1), usd("2010")),
        ("XAU/USD", 1, xau.round_id(2, phase=1), usd("2010.5")),
        ("XAU/USD", 1, xau.round_id(3, phase=1), usd("2020")),
        ("XAU/USD", 2, xau.round_id(1, phase=2), usd("2030")),
        ("XAU/USD", 1, xau.round_id(4, phase=1), usd("2040")),
    ]
    # The old aggregator's round after the new phase's first is not the proxy's answer.
    counted = q(database_url, "SELECT price FROM price_rounds WHERE feed = 'XAU/USD' ORDER BY updated_at")
    assert [r[0] for r in counted] == [Decimal("2000"), Decimal("2010.5"), Decimal("2020"),
                                       Decimal("2030")]


def test_gold_price_daily_carries_the_last_answer_over_days_without_a_round(priced, database_url):
    rows = q(database_url, "SELECT day, price, updated_at, age FROM gold_price_daily ORDER BY day")
    at = lambda d, h: datetime.fromtimestamp(BASE_TS(d, h), timezone.utc)  # noqa: E731
    assert rows == [
        (DAY0, Decimal("2010.5"), at(0, 13), timedelta(hours=11)),
        (DAY0 + timedelta(days=1), Decimal("2010.5"), at(0, 13), timedelta(hours=35)),
        # The last indexed block (day 2, 12:00) ends the series: age at that block.
        (DAY0 + timedelta(days=2), Decimal("2030"), at(2, 10), timedelta(hours=2)),
    ]


def test_supply_circulating_bridged_and_usd_equal_the_hand_computed_values(priced, database_url):
    rows = q(database_url,
             """SELECT day, supply_units, supply_usd, treasury_units, circulating_units,
                       circulating_usd, bridged_units
                FROM supply_daily WHERE token = 'XAUT' ORDER BY day""")
    D = Decimal
    assert rows == [
        # Before the feed's first round: NULL, never 0.
        (DAY0 - timedelta(days=1), D(10), None, D(10), D(0), None, D(0)),
        # 1,000 oz, 700 in the treasury; the day's close is 2,010.5.
        (DAY0, D(1000), D("2010500"), D(700), D(300), D("603150"), D(0)),
        (DAY0 + timedelta(days=1), D(1000), D("2010500"), D(700), D(300), D("603150"), D(100)),
        (DAY0 + timedelta(days=2), D(1000), D("2030000"), D(700), D(300), D("609000"), D(100)),
    ]


def test_volume_in_usd_per_day_and_month(priced, database_url):
    daily = q(database_url, "SELECT day, volume_units, volume_usd FROM volume_daily "
                            "WHERE token = 'XAUT' ORDER BY day")
    assert daily == [
        (DAY0 - timedelta(days=1), Decimal(0), None),
        (DAY0, Decimal(300), Decimal("603150")),
        (DAY0 + timedelta(days=1), Decimal(100), Decimal("201050")),
        (DAY0 + timedelta(days=2), Decimal(50), Decimal("101500")),
    ]
    monthly = q(database_url, "SELECT month, volume_usd FROM volume_monthly "
                              "WHERE token = 'XAUT' ORDER BY month")
    # December 2029 had no volume (a mint only): 0 USD, not unknown; January at each day's close.
    assert monthly == [(date(2029, 12, 1), Decimal(0)), (date(2030, 1, 1), Decimal("905700"))]


def test_balances_and_concentration_at_the_latest_answer(priced, database_url):
    treasury, holder, bridge, other = priced["users"]
    rows = dict(q(database_url, "SELECT address, balance_usd FROM holder_balances WHERE token = 'XAUT'"))
    assert rows[treasury] == Decimal(700) * 2030
    assert rows[holder] == Decimal(150) * 2030
    assert rows[bridge] == Decimal(100) * 2030
    assert rows[other] == Decimal(50) * 2030
    total = q(database_url, "SELECT scope, total_usd FROM holder_concentration "
                            "WHERE token = 'XAUT' ORDER BY scope")
    assert total == [("all", Decimal(1000) * 2030), ("excluding_issuers", Decimal(300) * 2030)]


def test_paxg_premium_to_gold(priced, database_url):
    rows = q(database_url, "SELECT day, paxg_usd, xau_usd, premium FROM paxg_premium_daily ORDER BY day")
    premium = (Decimal("2010") / Decimal("2010.5") - 1).quantize(Decimal("0.000001"))
    assert rows[0] == (DAY0, Decimal("2010"), Decimal("2010.5"), premium)
    assert rows[2] == (DAY0 + timedelta(days=2), Decimal("2010"), Decimal("2030"),
                       (Decimal("2010") / Decimal("2030") - 1).quantize(Decimal("0.000001")))


def test_a_reorg_that_removes_a_round_rolls_it_back_with_the_logs(
        priced, chain, database_url, database_factory, tmp_path):
    xau = priced["xau"]
    Clock(chain).at(3, 10)
    xau.post(usd("2050"), BASE_TS(3, 10))
    sync_once(priced["path"])
    assert q(database_url, "SELECT price FROM gold_price_latest") == [(Decimal("2050"),)]
    # The block holding the 2,050 round is replaced by one holding a 2,045 round.
    post = xau.aggregator.functions.post(usd("2045"), BASE_TS(3, 10))
    tx = {"from": chain.deployer, "to": xau.aggregator.address, "gas": 300_000,
          "data": post._encode_transaction_data()}
    chain.anvil.rpc("anvil_reorg", [1, [[tx, 0]]])
    result = run_cli("--config", str(priced["path"]), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert q(database_url, "SELECT answer FROM prices WHERE updated_at = %s",
             datetime.fromtimestamp(BASE_TS(3, 10), timezone.utc)) == [(usd("2045"),)]
    assert q(database_url, "SELECT price FROM gold_price_latest") == [(Decimal("2045"),)]
    # Row for row what a fresh sync of the final chain stores.
    fresh = database_factory()
    path = tmp_path / f"fresh{time.monotonic_ns()}.toml"
    path.write_text(feeds_config(chain, fresh, xau, priced["paxg"]))
    sync_once(path)
    assert dump_tables(database_url) == dump_tables(fresh)


def test_a_feed_added_to_a_synced_database_is_read_from_the_start(chain, tmp_path, database_url):
    xau = Feed(chain, "XAU / USD")
    xau.post(usd("2500"), int(time.time()))
    chain.send(chain.xaut.functions.mint(chain.users[0], OZ), chain.deployer)
    path = tmp_path / "tokens.toml"
    path.write_text(chain.config_toml(database_url))
    sync_once(path)  # no [prices] on a devnet: no feed read
    assert q(database_url, "SELECT count(*) FROM prices") == [(0,)]
    path.write_text(feeds_config(chain, database_url, xau))
    sync_once(path)
    assert q(database_url, "SELECT answer FROM prices") == [(usd("2500"),)]
    head = chain.w3.eth.block_number
    assert q(database_url, "SELECT block_number FROM price_aggregators") == [(head,)]


def test_a_phase_found_later_is_read_from_the_block_after_the_last_reading(
        chain, tmp_path, database_url):
    xau = Feed(chain, "XAU / USD")
    xau.post(usd("2500"), int(time.time()) - 100)
    path = tmp_path / "prices.toml"
    path.write_text(feeds_config(chain, database_url, xau))
    sync_once(path)
    checked = q(database_url, "SELECT checked_block FROM price_feeds")[0][0]
    xau.change_phase()
    xau.post(usd("2600"), int(time.time()))
    sync_once(path)
    assert q(database_url, "SELECT phase_id, start_block FROM price_aggregators ORDER BY phase_id") \
        == [(1, chain.deploy_block), (2, checked + 1)]
    assert q(database_url, "SELECT price FROM price_rounds ORDER BY updated_at, phase_id") == [
        (Decimal("2500"),), (Decimal("2600"),)]


def test_a_proxy_that_does_not_answer_leaves_prices_out_with_a_warning(chain, tmp_path, database_url):
    path = tmp_path / "prices.toml"
    path.write_text(chain.config_toml(database_url)
                    + '\n[prices]\nxau_usd = "0x000000000000000000000000000000000000dead"\n')
    result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    assert q(database_url, "SELECT count(*) FROM price_feeds") == [(0,)]


def test_export_of_a_price_view_and_status_show_the_feeds(priced, database_url, tmp_path):
    out = tmp_path / "gold.csv"
    result = run_cli("--config", str(priced["path"]), "export", "gold_price_daily", "--since",
                     "2030-01-02", "-o", str(out))
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "chain_id,day,price,answer,round_id,updated_at,age"
    assert [line.split(",")[1:3] for line in lines[1:]] == [["2030-01-02", "2010.5"],
                                                             ["2030-01-03", "2030"]]
    status = run_cli("--config", str(priced["path"]), "status")
    assert "price XAU/USD: 2,030.00 USD at 2030-01-03 10:00:00 UTC" in status.output
    assert "5 rounds over 2 phases" in status.output  # stored; price_rounds counts 4

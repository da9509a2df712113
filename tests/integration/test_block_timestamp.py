"""Logs that carry blockTimestamp (anvil's do; the fault proxy strips it to play an older node):
deep in final history no header is asked for, and every stored time is exact either way."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.faultproxy import FaultProxy
from tests.integration.test_sync import dump_tables, run_cli

pytestmark = pytest.mark.integration


def history_with_a_deep_part(chain) -> None:
    """Activity, then enough blocks that it lies below the reorg window (128) and the
    finalized block (anvil: head - 64), then activity near the head."""
    chain.script_history()
    chain.anvil.rpc("anvil_mine", [hex(300)])
    chain.script_more()


def sync_via(chain, database_url, tmp_path, name, sync=None, **proxy_options):
    with FaultProxy(chain.anvil.url, seed=1, rate=0.0, **proxy_options) as proxy:
        path = tmp_path / f"{name}.toml"
        path.write_text(chain.config_toml(database_url, **(sync or {})).replace(
            f'url = "{chain.anvil.url}"', f'url = "{proxy.url}"'))
        result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    return proxy


def log_times(database_url) -> dict[int, object]:
    with psycopg.connect(database_url) as conn:
        return dict(conn.execute("SELECT DISTINCT block_number, block_time FROM logs").fetchall())


# 100: the deep blocks lie in ranges of their own; 1000: one range reaches from them into the
# reorg window.
@pytest.mark.parametrize("batch_blocks", [100, 1000])
def test_deep_log_blocks_need_no_header_when_logs_carry_their_time(chain, tmp_path,
                                                                   database_factory, batch_blocks):
    history_with_a_deep_part(chain)
    head = chain.w3.eth.block_number
    stamped, full = database_factory(), database_factory()
    with_stamps = sync_via(chain, stamped, tmp_path, "stamped", {"batch_blocks": batch_blocks})

    times = log_times(stamped)
    deep = {n for n in times if n < head - 128}
    assert len(deep) > 20
    for n, stored in times.items():  # exact: the chain's own timestamps
        assert stored.timestamp() == chain.w3.eth.get_block(n).timestamp, n
    # No deep log block's header was asked for (only the reorg window's and the polls').
    assert not deep & set(with_stamps.blocks_asked)
    assert with_stamps.calls["eth_getBlockByNumber"] < 150

    # The same rows as a sync that reads every header (all blocks in its reorg window).
    path = tmp_path / "full.toml"
    path.write_text(chain.config_toml(full, reorg_window=1000))
    result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    a, b = dump_tables(stamped), dump_tables(full)
    a.pop("blocks"), b.pop("blocks")  # the window's rows differ: that is the point
    assert a == b


def test_without_block_timestamp_each_log_gets_its_exact_day_from_few_headers(
        chain, tmp_path, database_factory):
    # Blocks 3 h 17 min apart: the history's logs fall on many days, several to a day.
    chain.anvil.rpc("anvil_setBlockTimestampInterval", [3 * 3600 + 17 * 60])
    chain.script_history()
    chain.script_more()
    chain.script_more()
    chain.anvil.rpc("anvil_removeBlockTimestampInterval")
    chain.anvil.rpc("anvil_mine", [hex(300)])
    head = chain.w3.eth.block_number
    stamped, stripped = database_factory(), database_factory()
    sync_via(chain, stamped, tmp_path, "stamped")
    without = sync_via(chain, stripped, tmp_path, "stripped", strip_block_timestamp=True)

    truth = {n: chain.w3.eth.get_block(n).timestamp for n in log_times(stamped)}
    deep = {n for n in truth if n < head - 128}
    assert len({t // 86400 for t in truth.values()}) >= 5 and len(deep) == len(truth)
    with psycopg.connect(stripped) as conn:
        estimated = {r[0] for r in conn.execute("SELECT block_number FROM estimated_times")}
    times = log_times(stripped)
    for n, stored in times.items():
        if n in estimated:  # an estimate, inside the block's own UTC day
            assert int(stored.timestamp()) // 86400 == truth[n] // 86400, n
        else:
            assert int(stored.timestamp()) == truth[n], n
    assert estimated and len(estimated) > len(deep) // 2
    direct = tmp_path / "direct.toml"
    direct.write_text(chain.config_toml(stripped))
    status = run_cli("--config", str(direct), "status", "--json")
    assert json.loads(status.output)["estimated_block_times"] == len(estimated)
    asked = deep & set(without.blocks_asked)
    assert len(asked) < len(deep) // 2  # a few per day boundary, not one per block with a log

    a, b = dump_tables(stamped), dump_tables(stripped)
    for table in ("daily_stats", "period_uniques", "token_totals", "checkpoints", "tokens"):
        assert a[table] == b[table], table  # every day-bucketed figure is exact
    time_at = {c: i for i, c in enumerate(("chain_id", "block_number", "log_index", "token",
                                           "block_hash", "block_time"))}["block_time"]
    assert [r[:time_at] + r[time_at + 1:] for r in a["logs"]] == \
        [r[:time_at] + r[time_at + 1:] for r in b["logs"]]

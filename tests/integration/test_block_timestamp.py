"""Logs that carry blockTimestamp (anvil's do; the fault proxy strips it to play an older node):
deep in final history no header is asked for, and every stored time is exact either way."""

from __future__ import annotations

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


def sync_via(chain, database_url, tmp_path, name, **proxy_options):
    with FaultProxy(chain.anvil.url, seed=1, rate=0.0, **proxy_options) as proxy:
        path = tmp_path / f"{name}.toml"
        path.write_text(chain.config_toml(database_url).replace(
            f'url = "{chain.anvil.url}"', f'url = "{proxy.url}"'))
        result = run_cli("--config", str(path), "sync", "--once")
    assert result.exit_code == 0, result.output
    return proxy


def log_times(database_url) -> dict[int, object]:
    with psycopg.connect(database_url) as conn:
        return dict(conn.execute("SELECT DISTINCT block_number, block_time FROM logs").fetchall())


def test_deep_log_blocks_need_no_header_when_logs_carry_their_time(chain, tmp_path,
                                                                   database_factory):
    history_with_a_deep_part(chain)
    head = chain.w3.eth.block_number
    stamped, stripped = database_factory(), database_factory()
    with_stamps = sync_via(chain, stamped, tmp_path, "stamped")
    without = sync_via(chain, stripped, tmp_path, "stripped", strip_block_timestamp=True)

    times = log_times(stamped)
    deep = {n for n in times if n < head - 128}
    assert len(deep) > 20
    for n, stored in times.items():  # exact: the chain's own timestamps
        assert stored.timestamp() == chain.w3.eth.get_block(n).timestamp, n
    assert log_times(stripped) == times
    # With blockTimestamp no deep log block's header was asked for; without, each one was.
    assert not deep & set(with_stamps.blocks_asked)
    assert deep <= set(without.blocks_asked)
    assert with_stamps.calls["eth_getBlockByNumber"] < without.calls["eth_getBlockByNumber"] - len(deep)

    a, b = dump_tables(stamped), dump_tables(stripped)
    assert a.pop("blocks") == b.pop("blocks")  # the same rows, whichever way they were made
    assert a == b

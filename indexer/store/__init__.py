"""The only package that speaks to PostgreSQL (psycopg 3). Callers use `store.<name>`; each
concern has its module:

- connection: connecting (with retries), the server's settings, the writer lock, read helpers;
- batches: the writer's transactions (logs by COPY, headers, checkpoints), the chain head and
  the per-address indexes;
- derived: the derive steps that keep the derived tables (the views' figures);
- reorg: a reorganisation's rollback and a repair's replacement of one block;
- prices: the price feeds and their aggregators;
- status: what `indexer status` and the report read, and the RPC figures the sync records;
- holders: labels and the holder queries `indexer verify` uses;
- roles: the read-only role for analysts.
"""

from indexer.store import derived  # noqa: F401  (store.derived.MEMBERS_FROM: tests lower it)
from indexer.store.connection import (  # noqa: F401
    CONNECT_ATTEMPTS,
    CONNECTION_ERRORS,
    connect,
    ensure_database,
    configure_server,
    acquire_writer_lock,
    sync_running,
    copy_csv_out,
    read_snapshot,
    view_columns,
    fetch_dicts,
)
from indexer.store.batches import (  # noqa: F401
    Header,
    Checkpoint,
    save_tokens,
    load_checkpoints,
    load_source_checkpoints,
    load_fee_recipients,
    load_implementations,
    write_batch,
    record_batch_seconds,
    save_chain_head,
    mark_final_seen,
    count_estimated_times,
    load_final_seen,
    prune_headers,
    drop_address_indexes,
    create_address_indexes,
)
from indexer.store.derived import (  # noqa: F401
    derive_step,
    derived_mark,
    derive_all,
)
from indexer.store.reorg import (  # noqa: F401
    load_block_hashes,
    rewind,
    load_block,
    load_block_logs,
    replace_block,
)
from indexer.store.prices import (  # noqa: F401
    PriceFeed,
    load_price_feeds,
    save_price_feed,
    load_price_status,
)
from indexer.store.status import (  # noqa: F401
    load_status,
    periods_waiting,
    record_rpc_usage,
    record_rpc_pause,
    load_rpc_status,
)
from indexer.store.holders import (  # noqa: F401
    add_label,
    remove_label,
    list_labels,
    indexed_supply,
    indexed_balances,
    pick_holders,
)
from indexer.store.roles import (  # noqa: F401
    create_readonly_role,
)

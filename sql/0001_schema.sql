-- gold-indexer schema, revision 0001. Applied by alembic (alembic/versions/0001_initial.py).
-- Addresses and hashes are lowercase 0x-hex text, as they appear in JSON-RPC; amounts are raw
-- integers (NUMERIC(78,0) holds any uint256); times are UTC.

-- The tokens this database indexes, as configured at the last `indexer sync`.
CREATE TABLE tokens (
    chain_id     integer NOT NULL,
    symbol       text    NOT NULL,
    address      text    NOT NULL,
    decimals     integer NOT NULL,
    start_block  bigint  NOT NULL,
    PRIMARY KEY (chain_id, symbol)
);

-- Every log the scanner stored, exactly once: (chain_id, block_number, log_index) is the key,
-- so a range can never be stored twice.
CREATE TABLE logs (
    chain_id      integer       NOT NULL,
    block_number  bigint        NOT NULL,
    log_index     integer       NOT NULL,
    token         text          NOT NULL,
    block_hash    text          NOT NULL,
    block_time    timestamptz   NOT NULL,
    tx_hash       text          NOT NULL,
    tx_index      integer       NOT NULL,
    event         text          NOT NULL,
    from_address  text,
    to_address    text,
    amount        numeric(78,0),
    is_fee        boolean,       -- Transfer only: PAXG fee or service-fee leg
    args          jsonb,         -- fields that fit no column above (fee rates, seq, ...)
    topics        text[]        NOT NULL,
    data          text          NOT NULL,
    PRIMARY KEY (chain_id, block_number, log_index)
);

-- Headers of every block that has stored logs and of every checkpoint block: the reference
-- that each log's block_hash is checked against, and the chain that reorg detection walks.
CREATE TABLE blocks (
    chain_id     integer     NOT NULL,
    number       bigint      NOT NULL,
    hash         text        NOT NULL,
    parent_hash  text        NOT NULL,
    block_time   timestamptz NOT NULL,
    PRIMARY KEY (chain_id, number)
);

-- Per token: the last block whose logs are all stored. Written in the same transaction as
-- the logs, so data and progress can never disagree.
CREATE TABLE checkpoints (
    chain_id      integer     NOT NULL,
    token         text        NOT NULL,
    block_number  bigint      NOT NULL,
    block_hash    text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_id, token)
);

-- The node's view of the chain at the last head poll. Rows at or below finalized_block can no
-- longer be rolled back by a reorg; NULL when the node does not support the finalized tag.
CREATE TABLE chain_heads (
    chain_id         integer     PRIMARY KEY,
    head_block       bigint      NOT NULL,
    safe_block       bigint,
    finalized_block  bigint,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Every Transfer log, PAXG fee legs included and flagged. is_final: the block is at or below
-- the node's finalized block, so no reorg can remove this row.
CREATE VIEW transfers AS
SELECT l.chain_id, l.token, l.block_number, l.block_time, l.tx_hash, l.log_index,
       l.from_address, l.to_address, l.amount, l.is_fee, l.block_hash,
       coalesce(l.block_number <= h.finalized_block, false) AS is_final
FROM logs l
LEFT JOIN chain_heads h ON h.chain_id = l.chain_id
WHERE l.event = 'Transfer';

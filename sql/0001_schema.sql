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

-- Every Transfer log, PAXG fee legs included and flagged.
CREATE VIEW transfers AS
SELECT chain_id, token, block_number, block_time, tx_hash, log_index,
       from_address, to_address, amount, is_fee, block_hash
FROM logs
WHERE event = 'Transfer';

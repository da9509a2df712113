-- gold-indexer revision 0009: block times from logs, and from few headers.
--
-- Deep in the final history, a node whose logs carry their block's timestamp (blockTimestamp)
-- is not asked for headers: a log block's row then holds the hash and time its logs gave, and
-- no parent hash (NULL: no linkage is checked below the reorg window, so no row there keeps
-- one). Linkage is only ever checked near the head, where every header is fetched.
ALTER TABLE blocks ALTER COLUMN parent_hash DROP NOT NULL;

-- A node whose logs lack blockTimestamp is asked for the few headers that give every log its
-- exact UTC day; the time of a block between them is then an estimate inside that day. The
-- blocks whose stored time (in logs and blocks) is such an estimate, until a header replaces it.
CREATE TABLE estimated_times (
    chain_id      integer NOT NULL,
    block_number  bigint  NOT NULL,
    PRIMARY KEY (chain_id, block_number)
);

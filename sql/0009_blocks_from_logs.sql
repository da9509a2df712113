-- gold-indexer revision 0009: deep in the final history, a node whose logs carry their block's
-- timestamp (blockTimestamp) is not asked for headers: a log block's row then holds the hash and
-- time its logs gave, and no parent hash (NULL: its header was never fetched). Linkage is only
-- ever checked near the head, where every header is fetched.
ALTER TABLE blocks ALTER COLUMN parent_hash DROP NOT NULL;

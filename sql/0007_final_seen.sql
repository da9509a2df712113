-- gold-indexer revision 0007: finality as this database has seen it.
--
-- final_seen is the highest block whose stored rows this database has seen final: rows stored
-- from a chain that the node, at a poll, called finalized at or above them. A reorg may only
-- remove rows above it. The node's own finalized_block says nothing about rows stored from a
-- fork that lost before it was finalized (a daemon down across a reorg): those are replaced,
-- not refused. NULL until the first batch or poll after this revision.
ALTER TABLE chain_heads ADD COLUMN final_seen bigint;

CREATE OR REPLACE VIEW transfers AS
SELECT l.chain_id, l.token, l.block_number, l.block_time, l.tx_hash, l.log_index,
       l.from_address, l.to_address, l.amount, l.is_fee, l.block_hash,
       coalesce(l.block_number <= h.final_seen, false) AS is_final
FROM logs l
LEFT JOIN chain_heads h ON h.chain_id = l.chain_id
WHERE l.event = 'Transfer';

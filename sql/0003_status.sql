-- gold-indexer revision 0003: what `indexer status` reports about the last batch per token.
ALTER TABLE checkpoints
    ADD COLUMN last_batch_blocks  bigint,
    ADD COLUMN last_batch_events  bigint,
    ADD COLUMN last_batch_seconds double precision;

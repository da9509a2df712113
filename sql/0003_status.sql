-- gold-indexer revision 0003: what `indexer status` reports about the last batch per token.
ALTER TABLE checkpoints
    ADD COLUMN last_batch_blocks  bigint,
    ADD COLUMN last_batch_events  bigint,
    ADD COLUMN last_batch_seconds double precision;

-- The fee recipient the decoder starts from is the last FeeRecipientSet: find it without a
-- scan of every log.
CREATE INDEX logs_fee_recipient_idx ON logs (chain_id, token, block_number DESC, log_index DESC)
    WHERE event = 'FeeRecipientSet';

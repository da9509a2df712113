-- gold-indexer revision 0008: each poll reads the last Upgraded log of each token (the live
-- implementation decides whether PAXG's fee legs are paired): find it without a scan of logs.
CREATE INDEX logs_upgraded_idx ON logs (chain_id, token, block_number DESC, log_index DESC)
    WHERE event = 'Upgraded';

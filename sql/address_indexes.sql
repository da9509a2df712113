-- Transfers of one address, fast: what analysts ask most, and what a reorg rollback needs to
-- find an address's last activity before the fork. Created by revision 0002; `indexer sync`
-- drops them for a long backfill and runs this again when it ends.
CREATE INDEX IF NOT EXISTS logs_transfer_from_idx ON logs (chain_id, token, from_address, block_number)
    WHERE event = 'Transfer'
;
CREATE INDEX IF NOT EXISTS logs_transfer_to_idx ON logs (chain_id, token, to_address, block_number)
    WHERE event = 'Transfer'

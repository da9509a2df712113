-- gold-indexer revision 0005: the derived tables are kept by their own transactions, on a
-- second connection, while the writer copies the next batch of logs (sync.Deriver).
-- derived_marks says how far: per token, the derived tables hold exactly its Transfer logs up
-- to block_number. Each derive transaction adds a range of logs and moves the mark together.
CREATE TABLE derived_marks (
    chain_id      integer NOT NULL,
    token         text    NOT NULL,
    block_number  bigint  NOT NULL,
    PRIMARY KEY (chain_id, token)
);

-- Until now the derived tables were written with the logs: they are as far as the checkpoints.
INSERT INTO derived_marks (chain_id, token, block_number)
SELECT chain_id, token, block_number FROM checkpoints;

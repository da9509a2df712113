-- gold-indexer revision 0006: leaner backfill.
--
-- The raw topics and data of a log are kept only when the decoded columns do not hold all of
-- it (a layout the decoder does not know, Upgraded): for every other event they are NULL, since
-- event, from_address, to_address, amount and args give them back exactly. That halves the
-- size of logs and the work of copying them in. Rows stored before this revision lose theirs
-- too, so that every row reads the same way (this rewrites the rows once).
ALTER TABLE logs ALTER COLUMN topics DROP NOT NULL, ALTER COLUMN data DROP NOT NULL;
UPDATE logs SET topics = NULL, data = NULL
WHERE event <> 'Upgraded' AND args IS DISTINCT FROM '{"undecoded": true}'::jsonb;

-- Both legs of each Transfer from one scan of its range (was: two scans, UNION ALL).
CREATE OR REPLACE FUNCTION transfer_legs(p_chain integer, p_token text, p_lo bigint, p_hi bigint)
RETURNS TABLE (chain_id integer, token text, address text, delta numeric, block_number bigint,
               block_time timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT l.chain_id, l.token, v.address, v.delta, l.block_number, l.block_time
    FROM logs l
    CROSS JOIN LATERAL (VALUES (l.to_address, l.amount), (l.from_address, -l.amount))
               AS v(address, delta)
    WHERE l.chain_id = p_chain AND (p_token IS NULL OR l.token = p_token)
      AND l.block_number BETWEEN p_lo AND p_hi AND l.event = 'Transfer'
      AND v.address <> '0x0000000000000000000000000000000000000000'
$$;

-- gold-indexer revision 0012: distinct senders and receivers kept incrementally.
--
-- Until now each derive step counted the distinct senders and receivers of every day and month
-- it touched again, from all of the period's logs so far (refresh_period_uniques): on a busy
-- day or month each batch cost as much as the period held, and the period's total work grew
-- with its square. Now period_members holds who sent and received in each period; a batch adds
-- its own senders and receivers with ON CONFLICT DO NOTHING and counts only the new ones into
-- period_uniques (sql/derived_add.sql), so its work follows the batch's size. first_block (the
-- block where the address first appears in the period) lets a reorg rollback take off exactly
-- the members whose every appearance is rolled back (sql/derived_remove.sql).

-- Who sent ('s') and received ('r') transfers (category "transfer": neither mint, burn nor fee
-- leg) in each day ('d') and month ('m'). COLLATE "C": the key compares byte-wise, which is
-- the same order for lowercase 0x-hex and faster than the server's collation.
CREATE TABLE period_members (
    chain_id     integer NOT NULL,
    token        text    NOT NULL,
    period       char(1) NOT NULL,
    start        date    NOT NULL,
    role         char(1) NOT NULL,
    address      text    COLLATE "C" NOT NULL,
    first_block  bigint  NOT NULL,
    PRIMARY KEY (chain_id, token, period, start, role, address)
);

-- The senders ('s') and receivers ('r') of a range of Transfer logs, per UTC day, each with the
-- first block it appears in within the range. A batch adds them to the days' members, and
-- those new to their day to the months' members: an address already in its day is already in
-- its month (both are added together and taken off together), so a busy day's repeated
-- senders and receivers cost one look-up each, not two.
CREATE FUNCTION transfer_members(p_chain integer, p_token text, p_lo bigint, p_hi bigint)
RETURNS TABLE (day date, role char(1), address text, first_block bigint)
LANGUAGE sql STABLE AS $$
    SELECT (l.block_time AT TIME ZONE 'UTC')::date, r.role, r.address COLLATE "C",
           min(l.block_number)
    FROM logs l
    CROSS JOIN LATERAL (VALUES ('s', l.from_address), ('r', l.to_address)) AS r(role, address)
    WHERE l.chain_id = p_chain AND l.token = p_token
      AND l.block_number BETWEEN p_lo AND p_hi AND l.event = 'Transfer' AND NOT l.is_fee
      AND l.from_address <> '0x0000000000000000000000000000000000000000'
      AND l.to_address <> '0x0000000000000000000000000000000000000000'
    GROUP BY 1, 2, 3
$$;

-- The members of the logs the derived tables hold now: each token's logs up to its mark.
-- period_uniques already counts exactly these, so it is left as it is.
INSERT INTO period_members (chain_id, token, period, start, role, address, first_block)
SELECT d.chain_id, d.token, 'd', m.day, m.role, m.address, m.first_block
FROM derived_marks d
CROSS JOIN LATERAL transfer_members(d.chain_id, d.token, 0, d.block_number) m;

INSERT INTO period_members (chain_id, token, period, start, role, address, first_block)
SELECT chain_id, token, 'm', date_trunc('month', start)::date, role, address, min(first_block)
FROM period_members
WHERE period = 'd'
GROUP BY chain_id, token, date_trunc('month', start)::date, role, address;

DROP FUNCTION refresh_period_uniques(integer, text, date);

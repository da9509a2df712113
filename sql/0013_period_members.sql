-- gold-indexer revision 0013: distinct senders and receivers of busy periods kept incrementally.
--
-- Until now each derive step counted the distinct senders and receivers of every day and month
-- it touched again, from all of the period's logs so far (refresh_period_uniques): on a busy
-- day or month each batch cost as much as the period held, and the period's total work grew
-- with its square. Now a period holding more than a bound of transfers (store.MEMBERS_FROM,
-- passed in as p_members_from) keeps its members in period_members: a batch adds its own
-- senders and receivers there with ON CONFLICT DO NOTHING and counts only the new ones into
-- period_uniques (sql/derived_add.sql), so its work follows the batch's size. A smaller period
-- is still counted again from its logs, which costs at most that bound, and writes nothing
-- per address. A period's members, when kept, are all of them; first_block (the block where
-- the address first appears in the period) lets a reorg rollback take off exactly the members
-- whose every appearance is rolled back (sql/derived_remove.sql).
--
-- Nothing is filled here: a period over the bound gets its members from its logs the first
-- time a batch or a rollback touches it (count_period_uniques), and the rest need none.

-- Who sent ('s') and received ('r') transfers (category "transfer": neither mint, burn nor fee
-- leg) in each day ('d') and month ('m') with members kept. COLLATE "C": the key compares
-- byte-wise, which is the same order for lowercase 0x-hex and faster than the server's collation.
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

-- Whether the period's members are kept in period_members (then a batch adds to them, and a
-- rollback takes off from them), or it is counted from its logs. A flag on the period's own
-- small row, not a look-up into period_members: "are there any rows for this period" tempts
-- the planner into a scan of the whole table whenever it expects many.
ALTER TABLE period_uniques ADD COLUMN members_kept boolean NOT NULL DEFAULT false;

-- The senders and receivers of a range of Transfer logs, per UTC day, each with the first block
-- it appears in within the range.
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

-- Token p_token's days from p_from on and months from p_from's month on, from daily_stats: their
-- blocks (block timestamps only grow, so a period's logs are one range of blocks), how many
-- transfers they hold, and whether their members are kept (period_uniques.members_kept).
CREATE FUNCTION token_periods(p_chain integer, p_token text, p_from date)
RETURNS TABLE (period char(1), start date, stop date, lo bigint, hi bigint, n_transfers numeric,
               kept boolean)
LANGUAGE sql STABLE AS $$
    SELECT p.period, p.start, p.stop, min(d.first_block), max(d.last_block), sum(d.n_transfers),
           EXISTS (SELECT 1 FROM period_uniques u
                   WHERE u.chain_id = p_chain AND u.token = p_token
                     AND u.period = p.period AND u.start = p.start AND u.members_kept)
    FROM daily_stats d
    CROSS JOIN LATERAL (VALUES  -- char(1), as the key's column: a text one would not use the key
        ('d'::char(1), d.day, d.day + 1),
        ('m', date_trunc('month', d.day)::date, (date_trunc('month', d.day) + interval '1 month')::date)
    ) AS p(period, start, stop)
    WHERE d.chain_id = p_chain AND d.token = p_token
      AND d.day >= date_trunc('month', p_from)::date
      AND (p.period = 'm' OR d.day >= p_from)
    GROUP BY p.period, p.start, p.stop
$$;

-- Distinct senders and receivers of token p_token's periods from p_from on (days from p_from,
-- months from its month) whose members are not kept, from the logs the derived tables hold: a
-- period over p_members_from transfers gets its members now, and is counted from them; a
-- smaller one is counted from its logs. Periods with members kept are left to the callers,
-- which add and take off their members.
CREATE FUNCTION count_period_uniques(p_chain integer, p_token text, p_from date,
                                     p_members_from bigint)
RETURNS void
LANGUAGE sql AS $$
    DELETE FROM period_uniques u
    WHERE u.chain_id = p_chain AND u.token = p_token
      AND ((u.period = 'd' AND u.start >= p_from)
           OR (u.period = 'm' AND u.start >= date_trunc('month', p_from)::date))
      AND NOT u.members_kept;

    INSERT INTO period_members (chain_id, token, period, start, role, address, first_block)
    SELECT p_chain, p_token, b.period, b.start, m.role, m.address, min(m.first_block)
    FROM token_periods(p_chain, p_token, p_from) b
    CROSS JOIN LATERAL transfer_members(p_chain, p_token, b.lo, b.hi) m
    WHERE NOT b.kept AND b.n_transfers > p_members_from
      AND m.day >= b.start AND m.day < b.stop
    GROUP BY b.period, b.start, m.role, m.address;

    -- The periods without a row now (their rows went above, or they are new): counted from the
    -- members just given to them, or from their logs.
    INSERT INTO period_uniques (chain_id, token, period, start, senders, receivers, members_kept)
    SELECT p_chain, p_token, b.period, b.start, c.senders, c.receivers, b.kept
    FROM (SELECT period, start, stop, lo, hi, n_transfers > p_members_from AS kept
          FROM token_periods(p_chain, p_token, p_from) b
          WHERE NOT EXISTS (SELECT 1 FROM period_uniques u
                            WHERE u.chain_id = p_chain AND u.token = p_token
                              AND u.period = b.period AND u.start = b.start)) b
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE m.role = 's') AS senders,
               count(*) FILTER (WHERE m.role = 'r') AS receivers
        FROM period_members m
        WHERE b.kept AND m.chain_id = p_chain AND m.token = p_token
          AND m.period = b.period AND m.start = b.start
        UNION ALL
        -- COLLATE "C": the same distinct values, sorted byte-wise (about a third faster).
        SELECT count(DISTINCT l.from_address COLLATE "C"), count(DISTINCT l.to_address COLLATE "C")
        FROM logs l
        WHERE NOT b.kept AND l.chain_id = p_chain AND l.block_number BETWEEN b.lo AND b.hi
          AND l.token = p_token AND l.event = 'Transfer' AND NOT l.is_fee
          AND l.from_address <> '0x0000000000000000000000000000000000000000'
          AND l.to_address <> '0x0000000000000000000000000000000000000000'
          AND (l.block_time AT TIME ZONE 'UTC')::date >= b.start
          AND (l.block_time AT TIME ZONE 'UTC')::date < b.stop
    ) c
    WHERE c.senders > 0;
$$;

DROP FUNCTION refresh_period_uniques(integer, text, date);

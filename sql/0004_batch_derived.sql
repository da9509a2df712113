-- gold-indexer revision 0004: derived state kept per batch instead of per address-period and
-- per day, which made it most of a backfill's cost (benchmarks/README.md).
--
-- * Distinct senders/receivers per day and month are counted again from the period's logs
--   whenever a batch or a rollback touches the period, instead of upserting one participants
--   row per (period, role, address). daily_stats keeps each day's first and last block with a
--   Transfer log, so a period's logs are one range of the logs primary key.
-- * Balances, holders, supply and top-10 are applied once per batch (sql/derived_add.sql), with
--   every day's end-of-day figures computed set-based, instead of one statement per day.
-- The migration empties the derived tables; alembic/versions/0004 fills them again from logs.

TRUNCATE daily_stats, period_uniques, holder_state, token_totals;
DROP TABLE participants;
DROP FUNCTION transfer_participants(integer, text, bigint, bigint);

ALTER TABLE daily_stats
    ADD COLUMN first_block bigint NOT NULL,  -- the day's first and last block with a Transfer log
    ADD COLUMN last_block  bigint NOT NULL;

DROP FUNCTION transfer_day_sums(integer, text, bigint, bigint);
CREATE FUNCTION transfer_day_sums(p_chain integer, p_token text, p_lo bigint, p_hi bigint)
RETURNS TABLE (chain_id integer, token text, day date, n_logs bigint, minted numeric,
               burned numeric, n_mints bigint, n_burns bigint, n_transfers bigint,
               volume numeric, n_fees bigint, fees numeric, first_block bigint, last_block bigint)
LANGUAGE sql STABLE AS $$
    SELECT l.chain_id, l.token, (l.block_time AT TIME ZONE 'UTC')::date,
           count(*),
           coalesce(sum(l.amount) FILTER (WHERE l.from_address = '0x0000000000000000000000000000000000000000'), 0),
           coalesce(sum(l.amount) FILTER (WHERE l.to_address = '0x0000000000000000000000000000000000000000'), 0),
           count(*) FILTER (WHERE l.from_address = '0x0000000000000000000000000000000000000000'),
           count(*) FILTER (WHERE l.to_address = '0x0000000000000000000000000000000000000000'),
           count(*) FILTER (WHERE NOT l.is_fee
                              AND l.from_address <> '0x0000000000000000000000000000000000000000'
                              AND l.to_address <> '0x0000000000000000000000000000000000000000'),
           coalesce(sum(l.amount) FILTER (WHERE NOT l.is_fee
                              AND l.from_address <> '0x0000000000000000000000000000000000000000'
                              AND l.to_address <> '0x0000000000000000000000000000000000000000'), 0),
           count(*) FILTER (WHERE l.is_fee AND l.amount > 0),
           coalesce(sum(l.amount) FILTER (WHERE l.is_fee), 0),
           min(l.block_number), max(l.block_number)
    FROM logs l
    WHERE l.chain_id = p_chain AND (p_token IS NULL OR l.token = p_token)
      AND l.block_number BETWEEN p_lo AND p_hi AND l.event = 'Transfer'
    GROUP BY l.chain_id, l.token, (l.block_time AT TIME ZONE 'UTC')::date
$$;

-- Count the distinct senders and receivers of transfers (neither mint, burn nor fee leg) again
-- for token p_token's days from p_from on and its months from p_from's month on, from the logs
-- of the days daily_stats holds. Block timestamps only grow, so a period's logs are the blocks
-- between its days' first and last block.
CREATE FUNCTION refresh_period_uniques(p_chain integer, p_token text, p_from date)
RETURNS void
LANGUAGE sql AS $$
    DELETE FROM period_uniques u
    WHERE u.chain_id = p_chain AND u.token = p_token
      AND ((u.period = 'd' AND u.start >= p_from)
           OR (u.period = 'm' AND u.start >= date_trunc('month', p_from)::date));

    INSERT INTO period_uniques (chain_id, token, period, start, senders, receivers)
    SELECT p_chain, p_token, b.period, b.start, c.senders, c.receivers
    FROM (
        SELECT p.period, p.start, p.stop, min(d.first_block) AS lo, max(d.last_block) AS hi
        FROM daily_stats d
        CROSS JOIN LATERAL (VALUES
            ('d', d.day, d.day + 1),
            ('m', date_trunc('month', d.day)::date, (date_trunc('month', d.day) + interval '1 month')::date)
        ) AS p(period, start, stop)
        WHERE d.chain_id = p_chain AND d.token = p_token
          AND d.day >= date_trunc('month', p_from)::date
          AND (p.period = 'm' OR d.day >= p_from)
        GROUP BY p.period, p.start, p.stop
    ) b
    CROSS JOIN LATERAL (
        -- COLLATE "C": the same distinct values, sorted byte-wise (about a third faster).
        SELECT count(DISTINCT l.from_address COLLATE "C") AS senders,
               count(DISTINCT l.to_address COLLATE "C") AS receivers
        FROM logs l
        WHERE l.chain_id = p_chain AND l.block_number BETWEEN b.lo AND b.hi
          AND l.token = p_token AND l.event = 'Transfer' AND NOT l.is_fee
          AND l.from_address <> '0x0000000000000000000000000000000000000000'
          AND l.to_address <> '0x0000000000000000000000000000000000000000'
          AND (l.block_time AT TIME ZONE 'UTC')::date >= b.start
          AND (l.block_time AT TIME ZONE 'UTC')::date < b.stop
    ) c
    WHERE c.senders > 0;
$$;

-- gold-indexer revision 0016: a backfill counts each period's senders and receivers once, when
-- the period is over, instead of keeping members for the one still filling.
--
-- Until now every derive step brought every period it touched up to date, the open ones (the
-- latest day and its month) included: a busy open period got its members in period_members
-- and each later batch added to them. Over a backfill that is most of the derivers' work on a
-- busy chain (on benchmarks/run.py --days 3, 16 of their 38 seconds of PostgreSQL), all of it
-- for periods whose members nobody reads again once the sync has passed them. Now a derive
-- step that more batches follow (store.derive_step with settle false: the writer is still
-- backfilling) counts only the periods that are over, each from its logs, once; the latest
-- day and month of the token wait for the step that settles them (the writer's backfill is
-- done), which counts them, or gives them their members when they are busy. A period over is
-- never given members: no batch adds to it any more.
--
-- derived_marks.periods_settled says whether the token's latest day and month are counted
-- (every earlier period always is): false between an unsettled step and the next settling one.

ALTER TABLE derived_marks ADD COLUMN periods_settled boolean NOT NULL DEFAULT true;

DROP FUNCTION count_period_uniques(integer, text, date, bigint);

-- Distinct senders and receivers of token p_token's periods from p_from on (days from p_from,
-- months from its month) whose members are not kept, from the logs the derived tables hold,
-- leaving out (without a row) the periods that end after p_before (NULL: none left out). A period holding the
-- token's latest day and over p_members_from transfers gets its members now and is counted from
-- them; every other one is counted from its logs. Periods with members kept are left to the
-- callers, which add and take off their members.
CREATE FUNCTION count_period_uniques(p_chain integer, p_token text, p_from date, p_before date,
                                     p_members_from bigint)
RETURNS void
LANGUAGE sql AS $$
    -- The periods left out lose their rows too: their figures are unknown (NULL in the views)
    -- until a step counts them, rather than stale.
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
      AND b.stop > (SELECT max(day) FROM daily_stats WHERE chain_id = p_chain AND token = p_token)
      AND (p_before IS NULL OR b.stop <= p_before)
      AND m.day >= b.start AND m.day < b.stop
    GROUP BY b.period, b.start, m.role, m.address;

    -- The periods without a row now (their rows went above, or they are new): counted from the
    -- members just given to them, or from their logs.
    INSERT INTO period_uniques (chain_id, token, period, start, senders, receivers, members_kept)
    SELECT p_chain, p_token, b.period, b.start, c.senders, c.receivers, b.kept
    FROM (SELECT period, start, stop, lo, hi,
                 n_transfers > p_members_from
                 AND stop > (SELECT max(day) FROM daily_stats
                             WHERE chain_id = p_chain AND token = p_token) AS kept
          FROM token_periods(p_chain, p_token, p_from) b
          WHERE (p_before IS NULL OR b.stop <= p_before)
            AND NOT EXISTS (SELECT 1 FROM period_uniques u
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

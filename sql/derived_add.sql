-- Add token %(token)s's Transfer logs of blocks [%(lo)s, %(hi)s] of chain %(chain_id)s to the
-- derived tables: store.derive_step runs it in a deriver's transaction for the next stored
-- range (about 20,000 logs at most) and moves the token's mark in derived_marks with it. The
-- result is the same however the history was cut into ranges (a day that spans two gets its
-- end-of-day figures from the second), once a step with %(settle)s true has come last. Statements
-- are separated by a line holding only ";" (indexer.resources.sql_statements splits them).

INSERT INTO daily_stats AS d (chain_id, token, day, n_logs, minted, burned, n_mints, n_burns,
                              n_transfers, volume, n_fees, fees, first_block, last_block)
SELECT * FROM transfer_day_sums(%(chain_id)s, %(token)s, %(lo)s, %(hi)s)
ON CONFLICT (chain_id, token, day) DO UPDATE SET
    n_logs = d.n_logs + EXCLUDED.n_logs,
    minted = d.minted + EXCLUDED.minted, burned = d.burned + EXCLUDED.burned,
    n_mints = d.n_mints + EXCLUDED.n_mints, n_burns = d.n_burns + EXCLUDED.n_burns,
    n_transfers = d.n_transfers + EXCLUDED.n_transfers, volume = d.volume + EXCLUDED.volume,
    n_fees = d.n_fees + EXCLUDED.n_fees, fees = d.fees + EXCLUDED.fees,
    first_block = least(d.first_block, EXCLUDED.first_block),
    last_block = greatest(d.last_block, EXCLUDED.last_block)
;
-- Distinct senders and receivers of the periods whose members are kept (revision 0013): the
-- batch's own join their day's members, and those new to the day, or of a day without kept
-- members, join their month's; only the new members are counted, so the work follows the
-- batch, not the period. An address already in its day is already in its month: a day's
-- members are kept only once its month's are (a month holds at least its days' transfers).
WITH kept AS (  -- the kept months this batch may touch (a kept day's month is kept): without
    -- any, the statement reads no log at all
    SELECT start FROM period_uniques
    WHERE chain_id = %(chain_id)s AND token = %(token)s AND period = 'm' AND members_kept
      AND start >= (SELECT date_trunc('month', min(day))::date FROM daily_stats
                    WHERE chain_id = %(chain_id)s AND token = %(token)s AND last_block >= %(lo)s)
), batch AS (
    SELECT day, role, address, first_block
    FROM transfer_members(%(chain_id)s, %(token)s, %(lo)s, %(hi)s)
    WHERE EXISTS (SELECT 1 FROM kept)
), kept_days AS (
    SELECT day FROM (SELECT DISTINCT day FROM batch) b
    WHERE EXISTS (SELECT 1 FROM period_uniques u
                  WHERE u.chain_id = %(chain_id)s AND u.token = %(token)s
                    AND u.period = 'd' AND u.start = b.day AND u.members_kept)
), new_days AS (
    INSERT INTO period_members (chain_id, token, period, start, role, address, first_block)
    SELECT %(chain_id)s, %(token)s, 'd', day, role, address, first_block
    FROM batch WHERE day IN (SELECT day FROM kept_days)
    ON CONFLICT DO NOTHING
    RETURNING period, start, role, address, first_block
), candidates AS (
    SELECT date_trunc('month', day)::date AS month, role, address, min(first_block) AS first_block
    FROM (SELECT start AS day, role, address, first_block FROM new_days
          UNION ALL
          SELECT day, role, address, first_block FROM batch
          WHERE day NOT IN (SELECT day FROM kept_days)) x
    GROUP BY 1, 2, 3
), kept_months AS (
    SELECT month FROM (SELECT DISTINCT month FROM candidates) c
    WHERE EXISTS (SELECT 1 FROM period_uniques u
                  WHERE u.chain_id = %(chain_id)s AND u.token = %(token)s
                    AND u.period = 'm' AND u.start = c.month AND u.members_kept)
), new_months AS (
    INSERT INTO period_members (chain_id, token, period, start, role, address, first_block)
    SELECT %(chain_id)s, %(token)s, 'm', month, role, address, first_block
    FROM candidates WHERE month IN (SELECT month FROM kept_months)
    ON CONFLICT DO NOTHING
    RETURNING period, start, role
)
INSERT INTO period_uniques AS u (chain_id, token, period, start, senders, receivers)
SELECT %(chain_id)s, %(token)s, period, start,
       count(*) FILTER (WHERE role = 's'), count(*) FILTER (WHERE role = 'r')
FROM (SELECT period, start, role FROM new_days UNION ALL SELECT * FROM new_months) added
GROUP BY period, start
ON CONFLICT (chain_id, token, period, start) DO UPDATE SET
    senders = u.senders + EXCLUDED.senders, receivers = u.receivers + EXCLUDED.receivers
;
-- The other periods: counted again from their logs (revisions 0016, 0017). Without %(settle)s,
-- only those over (before the token's latest day and month), from the latest day of the steps
-- before (%(settled)s false: still to count) or this batch's first day on; with it, those and
-- the latest ones too, which get their members instead when they hold more than
-- %(members_from)s transfers and an earlier step counted them (the sync follows the head).
-- Nothing to do for a batch without transfers, unless it settles.
SELECT count_period_uniques(
    %(chain_id)s, %(token)s,
    CASE WHEN %(settled)s THEN min(day) FILTER (WHERE last_block >= %(lo)s)
         ELSE coalesce(max(day) FILTER (WHERE first_block < %(lo)s),
                       min(day) FILTER (WHERE last_block >= %(lo)s)) END,
    CASE WHEN %(settle)s THEN NULL ELSE max(day) END,
    %(members_from)s)
FROM daily_stats
WHERE chain_id = %(chain_id)s AND token = %(token)s
HAVING bool_or(last_block >= %(lo)s) OR (%(settle)s AND NOT %(settled)s)
;
-- Balances, and every touched day's end-of-day holders, supply and sum of the ten largest
-- balances. Every part of one statement reads the same snapshot: holder_state and token_totals
-- as they were before this batch. holder_state is read through its key (one probe per
-- address and day, whatever its size); the rest are aggregates and windows over the batch's
-- legs, summed per address and day in one pass (by_day; every later part reads only that),
-- with no join whose plan could go wrong on row estimates of intermediate results.
WITH by_day AS (  -- each address's movement on each day it moved
    SELECT address, (block_time AT TIME ZONE 'UTC')::date AS day, sum(delta) AS delta,
           count(*) AS n, min(block_number) AS fb, min(block_time) AS ft,
           max(block_number) AS lb, max(block_time) AS lt
    FROM transfer_legs(%(chain_id)s, %(token)s, %(lo)s, %(hi)s)
    GROUP BY 1, 2
), per_address AS (
    SELECT address, sum(delta) AS delta, sum(n) AS n, min(fb) AS fb,
           min(ft) AS ft, max(lb) AS lb, max(lt) AS lt
    FROM by_day GROUP BY address
), after_day AS (  -- an address's balance at the end of each day it moved
    SELECT address, day, delta, start,
           start + sum(delta) OVER (PARTITION BY address ORDER BY day) AS balance
    FROM (SELECT x.address, x.day, x.delta,
                 coalesce((SELECT h.balance FROM holder_state h
                           WHERE h.chain_id = %(chain_id)s AND h.token = %(token)s
                             AND h.address = x.address), 0) AS start
          FROM by_day x
          OFFSET 0) y  -- keeps the probe one per row (inlined, it ran once per use of start)
), days AS (
    SELECT day FROM daily_stats
    WHERE chain_id = %(chain_id)s AND token = %(token)s
      AND last_block >= %(lo)s AND first_block <= %(hi)s
), totals AS (
    SELECT coalesce(max(holders), 0) AS holders, coalesce(max(supply), 0) AS supply
    FROM token_totals WHERE chain_id = %(chain_id)s AND token = %(token)s
), end_of_day AS (  -- holders move by the addresses that cross zero
    SELECT d.day,
           t.holders + sum(coalesce(c.holders, 0)) OVER w AS holders,
           t.supply + sum(coalesce(c.supply, 0)) OVER w AS supply
    FROM days d
    CROSS JOIN totals t
    LEFT JOIN (SELECT day, sum((balance > 0)::int - (balance - delta > 0)::int) AS holders,
                      sum(delta) AS supply
               FROM after_day GROUP BY day) c USING (day)
    WINDOW w AS (ORDER BY d.day)
), untouched AS (  -- the ten largest balances this batch leaves alone
    SELECT h.balance FROM holder_state h
    WHERE h.chain_id = %(chain_id)s AND h.token = %(token)s AND h.balance > 0
      AND h.address NOT IN (SELECT address FROM per_address)  -- a hashed subplan
    ORDER BY h.balance DESC LIMIT 10
), bar AS (  -- on every day ten balances at least this large are held by untouched addresses
    SELECT CASE WHEN count(*) = 10 THEN min(balance) ELSE 0 END AS balance FROM untouched
), contenders AS (  -- the movements of touched addresses that reach the bar on some day
    SELECT address, day, balance, start FROM (
        SELECT address, day, balance, start,
               greatest(start, max(balance) OVER (PARTITION BY address)) AS peak
        FROM after_day) x
    WHERE peak >= (SELECT balance FROM bar) AND peak > 0
), grid AS (  -- each contender on each day: its balance if it moved that day, else NULL
    SELECT address, day, max(balance) AS balance, max(start) AS start FROM (
        SELECT address, day, balance, start FROM contenders
        UNION ALL
        SELECT c.address, d.day, NULL, c.start
        FROM (SELECT DISTINCT address, start FROM contenders) c CROSS JOIN days d
    ) g
    GROUP BY address, day
), held AS (  -- grp numbers a contender's runs of days between its own movements
    SELECT day, coalesce(first_value(balance) OVER (PARTITION BY address, grp ORDER BY day),
                         start) AS balance
    FROM (SELECT address, day, balance, start,
                 count(balance) OVER (PARTITION BY address ORDER BY day) AS grp
          FROM grid) g
), top AS (
    SELECT day, sum(balance) AS top10 FROM (
        SELECT day, balance, row_number() OVER (PARTITION BY day ORDER BY balance DESC) AS rank
        FROM (SELECT day, balance FROM held WHERE balance > 0
              UNION ALL
              SELECT d.day, u.balance FROM days d CROSS JOIN untouched u) all_balances
    ) ranked
    WHERE rank <= 10
    GROUP BY day
), balances AS (
    INSERT INTO holder_state AS h (chain_id, token, address, balance, n_transfers, first_block,
                                   first_time, last_block, last_time)
    SELECT %(chain_id)s, %(token)s, address, delta, n, fb, ft, lb, lt FROM per_address
    ON CONFLICT (chain_id, token, address) DO UPDATE SET
        balance = h.balance + EXCLUDED.balance,
        n_transfers = h.n_transfers + EXCLUDED.n_transfers,
        first_block = least(h.first_block, EXCLUDED.first_block),
        first_time = least(h.first_time, EXCLUDED.first_time),
        last_block = greatest(h.last_block, EXCLUDED.last_block),
        last_time = greatest(h.last_time, EXCLUDED.last_time)
    RETURNING 1
), running AS (
    INSERT INTO token_totals AS tt (chain_id, token, holders, supply)
    SELECT %(chain_id)s, %(token)s, holders, supply FROM end_of_day
    WHERE EXISTS (SELECT 1 FROM per_address)
    ORDER BY day DESC LIMIT 1
    ON CONFLICT (chain_id, token) DO UPDATE SET
        holders = EXCLUDED.holders, supply = EXCLUDED.supply
    RETURNING 1
)
UPDATE daily_stats d SET holders = e.holders, supply = e.supply, top10 = coalesce(t.top10, 0)
FROM end_of_day e
LEFT JOIN top t USING (day)
WHERE d.chain_id = %(chain_id)s AND d.token = %(token)s AND d.day = e.day

-- Add token %(token)s's Transfer logs of blocks [%(lo)s, %(hi)s] of chain %(chain_id)s to the
-- additive derived tables (daily sums and counts, period participants): once per batch, in the
-- ingest transaction, right after the logs were copied in. sql/derived_day.sql follows, once
-- per day. Statements are separated by a line holding only ";" (store.py splits them).

INSERT INTO daily_stats AS d (chain_id, token, day, n_logs, minted, burned, n_mints, n_burns,
                              n_transfers, volume, n_fees, fees)
SELECT * FROM transfer_day_sums(%(chain_id)s, %(token)s, %(lo)s, %(hi)s)
ON CONFLICT (chain_id, token, day) DO UPDATE SET
    n_logs = d.n_logs + EXCLUDED.n_logs,
    minted = d.minted + EXCLUDED.minted, burned = d.burned + EXCLUDED.burned,
    n_mints = d.n_mints + EXCLUDED.n_mints, n_burns = d.n_burns + EXCLUDED.n_burns,
    n_transfers = d.n_transfers + EXCLUDED.n_transfers, volume = d.volume + EXCLUDED.volume,
    n_fees = d.n_fees + EXCLUDED.n_fees, fees = d.fees + EXCLUDED.fees
;
-- New participants of a period (xmax = 0: the row was inserted, not updated) raise its count.
WITH ins AS (
    INSERT INTO participants AS x (chain_id, token, period, start, role, address, n)
    SELECT * FROM transfer_participants(%(chain_id)s, %(token)s, %(lo)s, %(hi)s)
    ON CONFLICT (chain_id, token, period, start, role, address) DO UPDATE SET n = x.n + EXCLUDED.n
    RETURNING chain_id, token, period, start, role, (xmax = 0) AS is_new
)
INSERT INTO period_uniques AS u (chain_id, token, period, start, senders, receivers)
SELECT chain_id, token, period, start,
       count(*) FILTER (WHERE is_new AND role = 's'), count(*) FILTER (WHERE is_new AND role = 'r')
FROM ins
GROUP BY chain_id, token, period, start
ON CONFLICT (chain_id, token, period, start) DO UPDATE SET
    senders = u.senders + EXCLUDED.senders, receivers = u.receivers + EXCLUDED.receivers

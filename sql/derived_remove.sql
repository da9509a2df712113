-- Take the Transfer logs above block %(ancestor)s of chain %(chain_id)s off the derived tables,
-- exactly: the reorg rollback runs this in its transaction, before it deletes those logs.
-- Afterwards every derived figure equals what a fresh sync up to %(ancestor)s would hold (a
-- period that keeps its members in period_members keeps them, even if it falls back under the
-- bound where a fresh sync would count it from its logs: the same counts either way).

WITH gone AS (
    SELECT * FROM transfer_day_sums(%(chain_id)s, NULL, %(ancestor)s + 1, 9223372036854775807)
)
UPDATE daily_stats d SET
    n_logs = d.n_logs - g.n_logs, minted = d.minted - g.minted, burned = d.burned - g.burned,
    n_mints = d.n_mints - g.n_mints, n_burns = d.n_burns - g.n_burns,
    n_transfers = d.n_transfers - g.n_transfers, volume = d.volume - g.volume,
    n_fees = d.n_fees - g.n_fees, fees = d.fees - g.fees
FROM gone g
WHERE d.chain_id = g.chain_id AND d.token = g.token AND d.day = g.day
;
DELETE FROM daily_stats WHERE chain_id = %(chain_id)s AND n_logs = 0
;
-- The last day left of each token may have lost its last blocks.
UPDATE daily_stats d SET last_block = (
    SELECT max(l.block_number) FROM logs l
    WHERE l.chain_id = d.chain_id AND l.token = d.token AND l.event = 'Transfer'
      AND l.block_number BETWEEN d.first_block AND %(ancestor)s)
WHERE d.chain_id = %(chain_id)s AND d.last_block > %(ancestor)s
;
-- Distinct senders and receivers of the periods whose members are kept: a member whose first
-- block in its period is above the ancestor appears there only in logs being rolled back, so
-- it leaves; every other one keeps an appearance. Only the periods from the first day that
-- loses logs on can hold such members.
WITH lost AS (
    SELECT token, date_trunc('month', min(block_time) AT TIME ZONE 'UTC')::date AS month
    FROM logs
    WHERE chain_id = %(chain_id)s AND block_number > %(ancestor)s AND event = 'Transfer'
    GROUP BY token
), gone AS (
    DELETE FROM period_members m
    USING lost
    WHERE m.chain_id = %(chain_id)s AND m.token = lost.token
      AND m.period IN ('d', 'm') AND m.start >= lost.month AND m.first_block > %(ancestor)s
    RETURNING m.token, m.period, m.start, m.role
)
UPDATE period_uniques u SET senders = u.senders - g.senders, receivers = u.receivers - g.receivers
FROM (SELECT token, period, start, count(*) FILTER (WHERE role = 's') AS senders,
             count(*) FILTER (WHERE role = 'r') AS receivers
      FROM gone GROUP BY token, period, start) g
WHERE u.chain_id = %(chain_id)s AND u.token = g.token AND u.period = g.period AND u.start = g.start
;
-- Each transfer has a sender and a receiver: a period left without senders has no transfer left.
DELETE FROM period_uniques WHERE chain_id = %(chain_id)s AND senders = 0
;
-- The periods without kept members, from the first day that loses logs on: counted again over
-- the days left (whose blocks are all at or below the ancestor now).
SELECT count_period_uniques(%(chain_id)s, token, min((block_time AT TIME ZONE 'UTC')::date),
                            NULL, %(members_from)s)
FROM logs
WHERE chain_id = %(chain_id)s AND block_number > %(ancestor)s AND event = 'Transfer'
GROUP BY token
;
WITH g AS (
    SELECT chain_id, token, address, sum(delta) AS delta, count(*) AS n
    FROM transfer_legs(%(chain_id)s, NULL, %(ancestor)s + 1, 9223372036854775807)
    GROUP BY chain_id, token, address
)
UPDATE holder_state h SET balance = h.balance - g.delta, n_transfers = h.n_transfers - g.n
FROM g
WHERE h.chain_id = g.chain_id AND h.token = g.token AND h.address = g.address
;
DELETE FROM holder_state WHERE chain_id = %(chain_id)s AND n_transfers = 0
;
-- Last activity of the addresses whose last transfer is being rolled back: the latest one at or
-- below the ancestor (found through the per-address indexes on logs).
UPDATE holder_state h SET last_block = x.block_number, last_time = x.block_time
FROM holder_state h2
CROSS JOIN LATERAL (
    SELECT block_number, block_time FROM (
        (SELECT block_number, block_time FROM logs
         WHERE chain_id = h2.chain_id AND token = h2.token AND event = 'Transfer'
           AND from_address = h2.address AND block_number <= %(ancestor)s
         ORDER BY block_number DESC LIMIT 1)
        UNION ALL
        (SELECT block_number, block_time FROM logs
         WHERE chain_id = h2.chain_id AND token = h2.token AND event = 'Transfer'
           AND to_address = h2.address AND block_number <= %(ancestor)s
         ORDER BY block_number DESC LIMIT 1)
    ) both_sides
    ORDER BY block_number DESC LIMIT 1
) x
WHERE h2.chain_id = %(chain_id)s AND h2.last_block > %(ancestor)s
  AND h.chain_id = h2.chain_id AND h.token = h2.token AND h.address = h2.address
;
;
-- Running totals and the end-of-day figures of the last day left: what a fresh sync up to the
-- ancestor would hold (balances only change with Transfer logs, so the state now is the state
-- after that day's last one).
UPDATE token_totals tt SET
    holders = (SELECT count(*) FROM holder_state h
               WHERE h.chain_id = tt.chain_id AND h.token = tt.token AND h.balance > 0),
    supply = (SELECT coalesce(sum(balance), 0) FROM holder_state h
              WHERE h.chain_id = tt.chain_id AND h.token = tt.token)
WHERE tt.chain_id = %(chain_id)s
;
DELETE FROM token_totals tt WHERE tt.chain_id = %(chain_id)s
  AND NOT EXISTS (SELECT 1 FROM holder_state h WHERE h.chain_id = tt.chain_id AND h.token = tt.token)
;
UPDATE daily_stats d SET
    holders = tt.holders,
    supply = tt.supply,
    top10 = (SELECT coalesce(sum(balance), 0) FROM (
                 SELECT balance FROM holder_state h
                 WHERE h.chain_id = d.chain_id AND h.token = d.token AND h.balance > 0
                 ORDER BY balance DESC LIMIT 10) top)
FROM token_totals tt
WHERE d.chain_id = %(chain_id)s AND tt.chain_id = d.chain_id AND tt.token = d.token
  AND d.day = (SELECT max(day) FROM daily_stats d2 WHERE d2.chain_id = d.chain_id AND d2.token = d.token)

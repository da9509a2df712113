-- Token %(token)s's Transfer logs of blocks [%(lo)s, %(hi)s] of chain %(chain_id)s, all on day
-- %(day)s: balances, and the end-of-day figures. Runs once per (token, day) part of a batch, in
-- block order, after sql/derived_add.sql, so the last write of a day holds the state after its
-- last Transfer log whatever the batch boundaries were.

-- Balances; the holders count moves by the addresses that cross zero (read before the upsert:
-- every part of one statement sees the same snapshot).
WITH g AS (
    SELECT chain_id, token, address, sum(delta) AS delta, count(*) AS n, min(block_number) AS fb,
           min(block_time) AS ft, max(block_number) AS lb, max(block_time) AS lt
    FROM transfer_legs(%(chain_id)s, %(token)s, %(lo)s, %(hi)s)
    GROUP BY chain_id, token, address
), crossed AS (
    SELECT coalesce(sum((coalesce(h.balance, 0) + g.delta > 0)::int
                        - (coalesce(h.balance, 0) > 0)::int), 0) AS holders,
           coalesce(sum(g.delta), 0) AS supply
    FROM g
    LEFT JOIN holder_state h ON h.chain_id = g.chain_id AND h.token = g.token AND h.address = g.address
), up AS (
    INSERT INTO holder_state AS h (chain_id, token, address, balance, n_transfers, first_block,
                                   first_time, last_block, last_time)
    SELECT chain_id, token, address, delta, n, fb, ft, lb, lt FROM g
    ON CONFLICT (chain_id, token, address) DO UPDATE SET
        balance = h.balance + EXCLUDED.balance,
        n_transfers = h.n_transfers + EXCLUDED.n_transfers,
        first_block = least(h.first_block, EXCLUDED.first_block),
        first_time = least(h.first_time, EXCLUDED.first_time),
        last_block = greatest(h.last_block, EXCLUDED.last_block),
        last_time = greatest(h.last_time, EXCLUDED.last_time)
    RETURNING 1
)
INSERT INTO token_totals AS tt (chain_id, token, holders, supply)
SELECT %(chain_id)s, %(token)s, holders, supply FROM crossed
WHERE EXISTS (SELECT 1 FROM g)
ON CONFLICT (chain_id, token) DO UPDATE SET
    holders = tt.holders + EXCLUDED.holders, supply = tt.supply + EXCLUDED.supply
;
-- End-of-day figures: this runs once per (token, day) part of a batch, in block order, so the
-- last write of a day holds the state after its last Transfer log.
UPDATE daily_stats d SET
    holders = tt.holders,
    supply = tt.supply,
    top10 = (SELECT coalesce(sum(balance), 0) FROM (
                 SELECT balance FROM holder_state
                 WHERE chain_id = %(chain_id)s AND token = %(token)s AND balance > 0
                 ORDER BY balance DESC LIMIT 10) top)
FROM token_totals tt
WHERE d.chain_id = %(chain_id)s AND d.token = %(token)s AND d.day = %(day)s
  AND tt.chain_id = d.chain_id AND tt.token = d.token
;

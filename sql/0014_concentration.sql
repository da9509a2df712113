-- gold-indexer revision 0014: holder concentration in one ordered pass per token.
-- Revision 0002 ranked every holder twice (once per scope, the scope a sort key ahead of the
-- balance) and worked out the HHI with a numeric division per holder: 167 ms (best of 3) for
-- the PAXG rows on the benchmark's dense chain (13,665 holders); 75 ms as written here. Each
-- token's holders are sorted once by balance; the excluding_issuers figures are the same
-- windows with a FILTER on the issuer flag (the labels join is a hash join, not a subquery per
-- row). Exact as before:
--   gini's sum((n + 1 - rank) * balance) is the sum of the running totals (each balance is in
--   the running total of its own rank and of every rank after it: n + 1 - rank of them);
--   hhi's sum((balance / total) ^ 2) is sum(balance ^ 2) / total ^ 2, with one division.
-- Same signature and columns: holder_concentration reads it unchanged.
CREATE OR REPLACE FUNCTION concentration_at(p_block bigint DEFAULT NULL)
RETURNS TABLE (chain_id integer, token text, scope text, holders bigint, total_balance numeric,
               top1_share numeric, top10_share numeric, top100_share numeric, gini numeric,
               hhi numeric, nakamoto bigint)
LANGUAGE sql STABLE AS $$
WITH held AS (
    SELECT h.chain_id, h.token, h.balance, l.address IS NOT NULL AS issuer
    FROM balances_at(p_block) h
    LEFT JOIN labels l ON l.chain_id = h.chain_id AND l.address = h.address
                      AND l.kind IN ('issuer', 'treasury')
    WHERE h.balance > 0
), ranked AS (
    SELECT chain_id, token, balance, issuer,
           row_number() OVER w AS rank_all,
           sum(balance) OVER w AS running_all,
           sum(balance) OVER t AS total_all,
           count(*) FILTER (WHERE NOT issuer) OVER w AS rank_ex,
           sum(balance) FILTER (WHERE NOT issuer) OVER w AS running_ex,
           sum(balance) FILTER (WHERE NOT issuer) OVER t AS total_ex
    FROM held
    WINDOW t AS (PARTITION BY chain_id, token),
           w AS (t ORDER BY balance DESC ROWS UNBOUNDED PRECEDING)
), per_token AS (
    SELECT chain_id, token,
           count(*) AS n_all, max(total_all) AS total_all, max(balance) AS top1_all,
           sum(balance) FILTER (WHERE rank_all <= 10) AS top10_all,
           sum(balance) FILTER (WHERE rank_all <= 100) AS top100_all,
           sum(running_all) AS runs_all, sum(balance * balance) AS squares_all,
           min(rank_all) FILTER (WHERE running_all * 2 > total_all) AS nakamoto_all,
           count(*) FILTER (WHERE NOT issuer) AS n_ex, max(total_ex) AS total_ex,
           max(balance) FILTER (WHERE NOT issuer) AS top1_ex,
           sum(balance) FILTER (WHERE NOT issuer AND rank_ex <= 10) AS top10_ex,
           sum(balance) FILTER (WHERE NOT issuer AND rank_ex <= 100) AS top100_ex,
           sum(running_ex) FILTER (WHERE NOT issuer) AS runs_ex,
           sum(balance * balance) FILTER (WHERE NOT issuer) AS squares_ex,
           min(rank_ex) FILTER (WHERE NOT issuer AND running_ex * 2 > total_ex) AS nakamoto_ex
    FROM ranked
    GROUP BY chain_id, token
)
SELECT p.chain_id, p.token, s.scope, s.n, s.total,
       round(s.top1 / s.total, 6),
       round(s.top10 / s.total, 6),
       round(s.top100 / s.total, 6),
       -- Gini, with i = n + 1 - rank the ascending position: G = (2 * sum(i * x) / total - (n + 1)) / n
       round((2 * s.runs / s.total - (s.n + 1)) / s.n, 6),
       round(s.squares / (s.total * s.total), 6),
       s.nakamoto
FROM per_token p
CROSS JOIN LATERAL (VALUES
    ('all', n_all, total_all, top1_all, top10_all, top100_all, runs_all, squares_all, nakamoto_all),
    ('excluding_issuers', n_ex, total_ex, top1_ex, top10_ex, top100_ex, runs_ex, squares_ex,
     nakamoto_ex)
) s (scope, n, total, top1, top10, top100, runs, squares, nakamoto)
WHERE s.n > 0
$$;

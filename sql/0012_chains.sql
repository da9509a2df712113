-- gold-indexer revision 0012: several chains in one database, and the tokenized gold counted
-- once across them (issue 14).

-- The chains this database holds, by the names the configuration gives them (sync writes its
-- chain's row; databases synced before get their chains' default names).
CREATE TABLE chains (
    chain_id  integer PRIMARY KEY,
    name      text    NOT NULL
);
INSERT INTO chains (chain_id, name)
SELECT DISTINCT chain_id, CASE WHEN chain_id = 1 THEN 'ethereum' ELSE 'chain' || chain_id END
FROM tokens;

-- What each token is: its kind (paxg, xaut, erc20, oft; NULL: a row written before 0012 of a
-- token other than PAXG and XAUT, read as erc20) and its LayerZero OFT contract, if any.
ALTER TABLE tokens ADD COLUMN kind text, ADD COLUMN oft text;
UPDATE tokens SET kind = CASE symbol WHEN 'PAXG' THEN 'paxg' WHEN 'XAUT' THEN 'xaut' END;

-- Tokenized gold per UTC day, chain and token, each ounce counted once (one token = one troy
-- ounce, as PAXG, XAUT and XAUt0 are). A token's supply at the day's end (carried over days
-- without activity), less what addresses labelled 'bridge' hold of it: that gold is locked
-- behind a bridged token on another chain (XAUT in the XAUt0 adapter) and is counted there, as
-- that token's supply (tokens of kind oft count their whole supply). The bridged gold on chains
-- this database does not index (locked, less the oft tokens' supply here) is one more row per
-- day, chain_id and token NULL, chain 'elsewhere': without it the total would drop each time
-- XAUT leaves for a chain not synced. So sum(ounces) over a day is the whole tokenized gold of
-- the indexed issuers, whatever is indexed of its bridges.
--   ounces      troy ounces (whole tokens)
--   usd         ounces at the day's XAU/USD close (NULL before the feed's first round)
--   gold_price  that close (read on the chain that has the feeds)
CREATE VIEW tokenized_gold_daily AS
WITH s AS MATERIALIZED (
    SELECT chain_id, token, day, supply_units, bridged_units FROM supply_daily
),
grid AS (
    SELECT g.day::date AS day, t.chain_id, t.symbol AS token, coalesce(t.kind, 'erc20') AS kind
    FROM (SELECT min(day) AS first FROM s) span
    CROSS JOIN generate_series(span.first, (now() AT TIME ZONE 'UTC')::date, interval '1 day') g(day)
    CROSS JOIN tokens t
),
marked AS (
    SELECT g.day, g.chain_id, g.token, g.kind, s.supply_units, s.bridged_units,
           count(s.day) OVER (PARTITION BY g.chain_id, g.token ORDER BY g.day) AS run
    FROM grid g
    LEFT JOIN s ON s.chain_id = g.chain_id AND s.token = g.token AND s.day = g.day
),
carried AS (  -- each day takes the figures of the token's last day with activity
    SELECT day, chain_id, token, kind,
           max(supply_units) OVER w AS supply_units, max(bridged_units) OVER w AS bridged_units
    FROM marked
    WINDOW w AS (PARTITION BY chain_id, token, run)
),
per_token AS (
    SELECT day, chain_id, token,
           CASE WHEN kind = 'oft' THEN supply_units
                ELSE supply_units - coalesce(bridged_units, 0) END AS ounces,
           CASE WHEN kind = 'oft' THEN 0 ELSE coalesce(bridged_units, 0) END AS locked,
           CASE WHEN kind = 'oft' THEN supply_units ELSE 0 END AS bridged_in
    FROM carried
    WHERE supply_units IS NOT NULL
),
rows AS (
    SELECT day, chain_id, token, ounces FROM per_token
    UNION ALL
    SELECT day, NULL, NULL, sum(locked) - sum(bridged_in)
    FROM per_token GROUP BY day HAVING sum(locked) <> sum(bridged_in)
),
price AS (
    SELECT DISTINCT ON (day) day, price FROM gold_price_daily ORDER BY day, chain_id
)
SELECT r.day, r.chain_id, CASE WHEN r.chain_id IS NULL THEN 'elsewhere' ELSE c.name END AS chain,
       r.token, r.ounces, r.ounces * p.price AS usd, p.price AS gold_price
FROM rows r
LEFT JOIN chains c ON c.chain_id = r.chain_id
LEFT JOIN price p ON p.day = r.day;

-- gold-indexer analytics, revision 0002: derived state kept up to date in each ingest
-- transaction (sql/derived_add.sql) and undone exactly on a reorg rollback
-- (sql/derived_remove.sql), the labels table, and the documented views.
--
-- Transfer categories, used everywhere below:
--   mint      from_address = 0x0
--   burn      to_address   = 0x0
--   fee       is_fee (a PAXG fee or service-fee leg); zero-value fee legs are not counted
--   transfer  everything else: neither mint, burn nor fee leg

-- Per token and UTC day: additive sums and counts of the categories.
CREATE TABLE daily_stats (
    chain_id     integer       NOT NULL,
    token        text          NOT NULL,
    day          date          NOT NULL,
    n_logs       bigint        NOT NULL,  -- Transfer logs of the day, all categories
    minted       numeric(78,0) NOT NULL,
    burned       numeric(78,0) NOT NULL,
    n_mints      bigint        NOT NULL,
    n_burns      bigint        NOT NULL,
    n_transfers  bigint        NOT NULL,
    volume       numeric(78,0) NOT NULL,
    n_fees       bigint        NOT NULL,  -- fee legs with a value above 0
    fees         numeric(78,0) NOT NULL,
    -- At the end of the day (after its last Transfer log): holders with a balance above 0,
    -- the sum of the ten largest balances, and the supply.
    holders      bigint,
    top10        numeric(78,0),
    supply       numeric(78,0),
    PRIMARY KEY (chain_id, token, day)
);

-- Running totals per token, so each day's end-of-day figures cost no scan of all holders.
CREATE TABLE token_totals (
    chain_id  integer       NOT NULL,
    token     text          NOT NULL,
    holders   bigint        NOT NULL,
    supply    numeric(78,0) NOT NULL,
    PRIMARY KEY (chain_id, token)
);

-- Who sent and received transfers (category "transfer") in each day ('d') and month ('m'):
-- n counts their transfers, so a rollback can take them off exactly.
CREATE TABLE participants (
    chain_id  integer NOT NULL,
    token     text    NOT NULL,
    period    char(1) NOT NULL,  -- 'd' day, 'm' month
    start     date    NOT NULL,
    role      char(1) NOT NULL,  -- 's' sender, 'r' receiver
    address   text    NOT NULL,
    n         bigint  NOT NULL,
    PRIMARY KEY (chain_id, token, period, start, role, address)
);

-- Distinct senders and receivers per period: rows of participants, counted as they come and go.
CREATE TABLE period_uniques (
    chain_id   integer NOT NULL,
    token      text    NOT NULL,
    period     char(1) NOT NULL,
    start      date    NOT NULL,
    senders    bigint  NOT NULL,
    receivers  bigint  NOT NULL,
    PRIMARY KEY (chain_id, token, period, start)
);

-- Current balance of every address that ever held or moved the token (0x0 excluded).
CREATE TABLE holder_state (
    chain_id     integer       NOT NULL,
    token        text          NOT NULL,
    address      text          NOT NULL,
    balance      numeric(78,0) NOT NULL,
    n_transfers  bigint        NOT NULL,  -- Transfer logs touching the address, fee legs included
    first_block  bigint        NOT NULL,
    first_time   timestamptz   NOT NULL,
    last_block   bigint        NOT NULL,
    last_time    timestamptz   NOT NULL,
    PRIMARY KEY (chain_id, token, address)
);
CREATE INDEX holder_state_balance_idx ON holder_state (chain_id, token, balance DESC) WHERE balance > 0;

-- What a range of Transfer logs contributes to the derived tables. p_token NULL means every
-- token. A batch adds these for its blocks (sql/derived_add.sql) and a rollback
-- takes them off for the blocks above the fork (sql/derived_remove.sql): one definition for both.
CREATE FUNCTION transfer_day_sums(p_chain integer, p_token text, p_lo bigint, p_hi bigint)
RETURNS TABLE (chain_id integer, token text, day date, n_logs bigint, minted numeric,
               burned numeric, n_mints bigint, n_burns bigint, n_transfers bigint,
               volume numeric, n_fees bigint, fees numeric)
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
           coalesce(sum(l.amount) FILTER (WHERE l.is_fee), 0)
    FROM logs l
    WHERE l.chain_id = p_chain AND (p_token IS NULL OR l.token = p_token)
      AND l.block_number BETWEEN p_lo AND p_hi AND l.event = 'Transfer'
    GROUP BY l.chain_id, l.token, (l.block_time AT TIME ZONE 'UTC')::date
$$;

-- Senders and receivers of transfers (neither mint, burn nor fee leg) per day and month.
CREATE FUNCTION transfer_participants(p_chain integer, p_token text, p_lo bigint, p_hi bigint)
RETURNS TABLE (chain_id integer, token text, period char(1), start date, role char(1),
               address text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT l.chain_id, l.token, g.period, g.start, r.role, r.address, count(*)
    FROM logs l
    CROSS JOIN LATERAL (VALUES ('s', l.from_address), ('r', l.to_address)) AS r(role, address)
    CROSS JOIN LATERAL (VALUES ('d', (l.block_time AT TIME ZONE 'UTC')::date),
                               ('m', date_trunc('month', l.block_time AT TIME ZONE 'UTC')::date))
                       AS g(period, start)
    WHERE l.chain_id = p_chain AND (p_token IS NULL OR l.token = p_token)
      AND l.block_number BETWEEN p_lo AND p_hi AND l.event = 'Transfer' AND NOT l.is_fee
      AND l.from_address <> '0x0000000000000000000000000000000000000000'
      AND l.to_address <> '0x0000000000000000000000000000000000000000'
    GROUP BY l.chain_id, l.token, g.period, g.start, r.role, r.address
$$;

-- Every balance movement: the receiving side (+) and the sending side (−) of each Transfer.
CREATE FUNCTION transfer_legs(p_chain integer, p_token text, p_lo bigint, p_hi bigint)
RETURNS TABLE (chain_id integer, token text, address text, delta numeric, block_number bigint,
               block_time timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT l.chain_id, l.token, l.to_address, l.amount, l.block_number, l.block_time
    FROM logs l
    WHERE l.chain_id = p_chain AND (p_token IS NULL OR l.token = p_token)
      AND l.block_number BETWEEN p_lo AND p_hi AND l.event = 'Transfer'
      AND l.to_address <> '0x0000000000000000000000000000000000000000'
    UNION ALL
    SELECT l.chain_id, l.token, l.from_address, -l.amount, l.block_number, l.block_time
    FROM logs l
    WHERE l.chain_id = p_chain AND (p_token IS NULL OR l.token = p_token)
      AND l.block_number BETWEEN p_lo AND p_hi AND l.event = 'Transfer'
      AND l.from_address <> '0x0000000000000000000000000000000000000000'
$$;

-- The per-address indexes on logs are in sql/address_indexes.sql (this revision runs it too):
-- a long backfill drops them and builds them again at its end, once, which is cheaper than
-- keeping them up to date row by row.

-- Named addresses. kind 'issuer' and 'treasury' are left out of the "excluding issuers" figures.
CREATE TABLE labels (
    chain_id  integer NOT NULL,
    address   text    NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$'),
    name      text    NOT NULL,
    kind      text    NOT NULL DEFAULT 'other',
    PRIMARY KEY (chain_id, address)
);
INSERT INTO labels (chain_id, address, name, kind) VALUES
    (1, '0x5754284f345afc66a98fbb0a0afe71e0f007b949', 'Tether treasury (XAUT)', 'treasury');

-- Views ---------------------------------------------------------------------------------------

-- A raw amount in whole tokens, exactly: 10 ^ -decimals is exact in numeric, and so is the
-- product (a plain division would round to about 16 significant digits).
CREATE FUNCTION to_units(amount numeric, decimals integer) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT trim_scale(amount * 10::numeric ^ (-decimals)) $$;

CREATE VIEW supply_daily AS
SELECT d.chain_id, d.token, d.day,
       d.minted, d.burned, d.minted - d.burned AS net_issuance,
       sum(d.minted - d.burned) OVER w AS supply,
       d.n_mints, d.n_burns,
       to_units(d.minted, t.decimals) AS minted_units,
       to_units(d.burned, t.decimals) AS burned_units,
       to_units((d.minted - d.burned), t.decimals) AS net_issuance_units,
       to_units(sum(d.minted - d.burned) OVER w, t.decimals) AS supply_units
FROM daily_stats d
JOIN tokens t ON t.chain_id = d.chain_id AND t.symbol = d.token
WINDOW w AS (PARTITION BY d.chain_id, d.token ORDER BY d.day);

CREATE VIEW supply_changes AS
SELECT l.chain_id, l.token, l.block_number, l.block_time, l.tx_hash, l.log_index,
       CASE WHEN l.from_address = '0x0000000000000000000000000000000000000000' THEN 'mint'
            ELSE 'burn' END AS kind,
       CASE
         WHEN l.from_address = '0x0000000000000000000000000000000000000000' THEN
           CASE l.token WHEN 'PAXG' THEN 'increase_supply' ELSE 'mint' END
         ELSE coalesce((
           SELECT CASE e.event
                    WHEN 'FrozenAddressWiped' THEN 'wipe_frozen_address'
                    WHEN 'DestroyedBlockedFunds' THEN 'destroy_blocked_funds'
                    WHEN 'Redeem' THEN 'redeem'
                    WHEN 'SupplyDecreased' THEN 'decrease_supply'
                  END
           FROM logs e
           WHERE e.chain_id = l.chain_id AND e.block_number = l.block_number
             AND e.tx_hash = l.tx_hash AND e.token = l.token
             AND e.event IN ('FrozenAddressWiped', 'DestroyedBlockedFunds', 'Redeem', 'SupplyDecreased')
             AND (e.from_address = l.from_address OR e.event = 'Redeem')
             AND e.log_index BETWEEN l.log_index - 2 AND l.log_index + 1
           ORDER BY (e.event = 'FrozenAddressWiped') DESC, abs(e.log_index - l.log_index)
           LIMIT 1), 'burn')
       END AS reason,
       CASE WHEN l.from_address = '0x0000000000000000000000000000000000000000'
            THEN l.to_address ELSE l.from_address END AS account,
       l.amount,
       to_units(l.amount, t.decimals) AS amount_units
FROM logs l
JOIN tokens t ON t.chain_id = l.chain_id AND t.symbol = l.token
WHERE l.event = 'Transfer'
  AND (l.from_address = '0x0000000000000000000000000000000000000000'
       OR l.to_address = '0x0000000000000000000000000000000000000000');
-- INCLUDE lets counts and sums over mints and burns read the index alone.
CREATE INDEX logs_supply_idx ON logs (chain_id, block_number, log_index)
    INCLUDE (token, from_address, to_address, amount)
    WHERE event = 'Transfer' AND (from_address = '0x0000000000000000000000000000000000000000'
                                  OR to_address = '0x0000000000000000000000000000000000000000');

CREATE VIEW volume_daily AS
SELECT d.chain_id, d.token, d.day,
       d.n_transfers AS transfer_count, d.volume,
       to_units(d.volume, t.decimals) AS volume_units,
       coalesce(u.senders, 0) AS unique_senders, coalesce(u.receivers, 0) AS unique_receivers,
       d.n_fees AS fee_count, d.fees, to_units(d.fees, t.decimals) AS fees_units
FROM daily_stats d
JOIN tokens t ON t.chain_id = d.chain_id AND t.symbol = d.token
LEFT JOIN period_uniques u
  ON u.chain_id = d.chain_id AND u.token = d.token AND u.period = 'd' AND u.start = d.day;

CREATE VIEW volume_monthly AS
WITH m AS (
    SELECT chain_id, token, date_trunc('month', day)::date AS month,
           sum(n_transfers) AS transfer_count, sum(volume) AS volume,
           sum(n_fees) AS fee_count, sum(fees) AS fees
    FROM daily_stats
    GROUP BY chain_id, token, date_trunc('month', day)::date
)
SELECT m.chain_id, m.token, m.month, m.transfer_count, m.volume,
       to_units(m.volume, t.decimals) AS volume_units,
       coalesce(u.senders, 0) AS unique_senders, coalesce(u.receivers, 0) AS unique_receivers,
       m.fee_count, m.fees, to_units(m.fees, t.decimals) AS fees_units,
       p.volume AS volume_year_before,
       CASE WHEN p.volume > 0 THEN round((m.volume - p.volume) / p.volume, 6) END AS volume_yoy,
       p.transfer_count AS transfer_count_year_before,
       CASE WHEN p.transfer_count > 0
            THEN round((m.transfer_count - p.transfer_count)::numeric / p.transfer_count, 6)
       END AS transfer_count_yoy
FROM m
JOIN tokens t ON t.chain_id = m.chain_id AND t.symbol = m.token
LEFT JOIN period_uniques u
  ON u.chain_id = m.chain_id AND u.token = m.token AND u.period = 'm' AND u.start = m.month
LEFT JOIN m p
  ON p.chain_id = m.chain_id AND p.token = m.token AND p.month = (m.month - interval '1 year')::date;

CREATE VIEW holder_balances AS
SELECT h.chain_id, h.token, h.address, h.balance,
       to_units(h.balance, t.decimals) AS balance_units,
       h.n_transfers, h.first_block, h.first_time, h.last_block, h.last_time,
       l.name AS label, l.kind AS label_kind
FROM holder_state h
JOIN tokens t ON t.chain_id = h.chain_id AND t.symbol = h.token
LEFT JOIN labels l ON l.chain_id = h.chain_id AND l.address = h.address;

-- Balances as of any past block, summed from Transfer logs (NULL: the current ones, from
-- holder_state). Exact, and fast for the current state; a past block costs a scan of its history.
CREATE FUNCTION balances_at(p_block bigint DEFAULT NULL)
RETURNS TABLE (chain_id integer, token text, address text, balance numeric)
LANGUAGE sql STABLE AS $$
    SELECT h.chain_id, h.token, h.address, h.balance FROM holder_state h WHERE p_block IS NULL
    UNION ALL
    SELECT g.chain_id, g.token, g.address, sum(g.delta)
    FROM tokens t
    CROSS JOIN LATERAL transfer_legs(t.chain_id, t.symbol, 0, p_block) g
    WHERE p_block IS NOT NULL
    GROUP BY g.chain_id, g.token, g.address
$$;

-- Supply per token as of a block: Σ minted − Σ burned (through the supply index).
CREATE FUNCTION supply_at(p_block bigint)
RETURNS TABLE (chain_id integer, token text, supply numeric, supply_units numeric)
LANGUAGE sql STABLE AS $$
    SELECT l.chain_id, l.token,
           sum(CASE WHEN l.from_address = '0x0000000000000000000000000000000000000000'
                    THEN l.amount ELSE -l.amount END),
           to_units(sum(CASE WHEN l.from_address = '0x0000000000000000000000000000000000000000'
                             THEN l.amount ELSE -l.amount END), max(t.decimals))
    FROM logs l JOIN tokens t ON t.chain_id = l.chain_id AND t.symbol = l.token
    WHERE l.event = 'Transfer' AND l.block_number <= p_block
      AND (l.from_address = '0x0000000000000000000000000000000000000000'
           OR l.to_address = '0x0000000000000000000000000000000000000000')
    GROUP BY l.chain_id, l.token
$$;

-- Concentration of balances (current, or as of p_block): one row per token and scope ('all',
-- or 'excluding_issuers': without addresses labelled issuer or treasury).
CREATE FUNCTION concentration_at(p_block bigint DEFAULT NULL)
RETURNS TABLE (chain_id integer, token text, scope text, holders bigint, total_balance numeric,
               top1_share numeric, top10_share numeric, top100_share numeric, gini numeric,
               hhi numeric, nakamoto bigint)
LANGUAGE sql STABLE AS $$
WITH scoped AS (
    SELECT h.chain_id, h.token, s.scope, h.balance
    FROM balances_at(p_block) h
    LEFT JOIN labels l ON l.chain_id = h.chain_id AND l.address = h.address
    CROSS JOIN LATERAL (VALUES ('all'), ('excluding_issuers')) s(scope)
    WHERE h.balance > 0
      AND (s.scope = 'all' OR l.kind IS NULL OR l.kind NOT IN ('issuer', 'treasury'))
), ranked AS (
    SELECT chain_id, token, scope, balance,
           row_number() OVER (PARTITION BY chain_id, token, scope ORDER BY balance DESC) AS rank,
           count(*) OVER (PARTITION BY chain_id, token, scope) AS n,
           sum(balance) OVER (PARTITION BY chain_id, token, scope) AS total,
           sum(balance) OVER (PARTITION BY chain_id, token, scope ORDER BY balance DESC
                              ROWS UNBOUNDED PRECEDING) AS running
    FROM scoped
)
SELECT chain_id, token, scope,
       max(n) AS holders,
       max(total) AS total_balance,
       round(sum(balance) FILTER (WHERE rank <= 1) / max(total), 6) AS top1_share,
       round(sum(balance) FILTER (WHERE rank <= 10) / max(total), 6) AS top10_share,
       round(sum(balance) FILTER (WHERE rank <= 100) / max(total), 6) AS top100_share,
       -- Gini, with i = n + 1 - rank the ascending position: G = (2 * sum(i * x) / total - (n + 1)) / n
       round((2 * sum((n + 1 - rank) * balance) / max(total) - (max(n) + 1)) / max(n), 6) AS gini,
       round(sum((balance / total) ^ 2), 6) AS hhi,
       min(rank) FILTER (WHERE running * 2 > total) AS nakamoto
FROM ranked
GROUP BY chain_id, token, scope
$$;

CREATE VIEW holder_concentration AS SELECT * FROM concentration_at(NULL);

-- Holder count and top-10 share at the end of every day, from each token's first day to its
-- last (days without transfers carry the previous day's figures).
CREATE VIEW holders_daily AS
SELECT r.chain_id, r.token, s.day::date AS day, x.holders, x.top10, x.supply,
       round(x.top10 / nullif(x.supply, 0), 6) AS top10_share
FROM (SELECT chain_id, token, min(day) AS lo, max(day) AS hi
      FROM daily_stats GROUP BY chain_id, token) r
CROSS JOIN LATERAL generate_series(r.lo, r.hi, interval '1 day') AS s(day)
CROSS JOIN LATERAL (
    SELECT d.holders, d.top10, d.supply FROM daily_stats d
    WHERE d.chain_id = r.chain_id AND d.token = r.token AND d.day <= s.day::date
    ORDER BY d.day DESC LIMIT 1
) x;

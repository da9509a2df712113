-- gold-indexer revision 0011: what the gold is worth, from Chainlink's feeds on the chain
-- itself, and the supply that circulates.
--
-- A Chainlink feed is a proxy (the address users read) in front of one aggregator per phase;
-- the proxy emits no per-round logs, each aggregator emits AnswerUpdated(int256 indexed current,
-- uint256 indexed roundId, uint256 updatedAt) for its rounds. The sync reads the proxy's
-- phases with eth_call (phaseId(), phaseAggregators(uint16)) and fetches the aggregators'
-- AnswerUpdated logs in the same eth_getLogs as the tokens' logs.

-- The feeds this database reads (sync's [prices]); checked_block: the head when the proxy's
-- phases were last read, so that an aggregator found later is read from the block after it.
CREATE TABLE price_feeds (
    chain_id       integer NOT NULL,
    feed           text    NOT NULL,  -- 'XAU/USD', 'PAXG/USD'
    proxy          text    NOT NULL,
    decimals       integer NOT NULL,
    checked_block  bigint,
    PRIMARY KEY (chain_id, feed)
);

-- One aggregator per phase of a feed. start_block: the first block its logs are read from;
-- block_number/block_hash: the last block whose logs of it are all stored (NULL: none yet),
-- moved in the same transaction as the prices, like the tokens' checkpoints.
CREATE TABLE price_aggregators (
    chain_id      integer NOT NULL,
    feed          text    NOT NULL,
    phase_id      integer NOT NULL,
    aggregator    text    NOT NULL,
    start_block   bigint  NOT NULL,
    block_number  bigint,
    block_hash    text,
    PRIMARY KEY (chain_id, feed, phase_id),
    FOREIGN KEY (chain_id, feed) REFERENCES price_feeds (chain_id, feed)
);

-- Every AnswerUpdated log of an aggregator, keyed like the logs (a reorg rollback deletes the
-- rows above its fork block). answer: the raw int256 (decimals in price_feeds); round_id: the
-- proxy's round id, phase_id << 64 | the aggregator's round id; updated_at: the round's time.
CREATE TABLE prices (
    chain_id      integer       NOT NULL,
    block_number  bigint        NOT NULL,
    log_index     integer       NOT NULL,
    feed          text          NOT NULL,
    phase_id      integer       NOT NULL,
    round_id      numeric(78,0) NOT NULL,
    answer        numeric(78,0) NOT NULL,
    updated_at    timestamptz   NOT NULL,
    block_time    timestamptz   NOT NULL,
    block_hash    text          NOT NULL,
    tx_hash       text          NOT NULL,
    PRIMARY KEY (chain_id, block_number, log_index)
);
CREATE INDEX prices_feed_idx ON prices (chain_id, feed, updated_at);

-- XAUT locked in LayerZero's OFT adapter backs XAUt0 on other chains.
INSERT INTO labels (chain_id, address, name, kind) VALUES
    (1, '0xb9c2321bb7d0db468f570d10a424d1cc8efd696c', 'XAUt0 OFT adapter (LayerZero)', 'bridge')
ON CONFLICT (chain_id, address) DO NOTHING;

-- Views ---------------------------------------------------------------------------------------

-- The rounds that were the proxy's answer: every round of a phase until the next phase's first
-- round (an aggregator may go on answering for a while after the proxy moved on). price: the
-- answer in USD per unit of the feed's base (troy ounce for XAU/USD, token for PAXG/USD).
CREATE VIEW price_rounds AS
WITH phases AS (
    SELECT chain_id, feed, phase_id, min(updated_at) AS first_at
    FROM prices GROUP BY chain_id, feed, phase_id
), ends AS (
    SELECT a.chain_id, a.feed, a.phase_id,
           (SELECT min(b.first_at) FROM phases b
            WHERE b.chain_id = a.chain_id AND b.feed = a.feed AND b.phase_id > a.phase_id) AS end_at
    FROM phases a
)
SELECT p.chain_id, p.feed, p.phase_id, p.round_id, p.answer,
       to_units(p.answer, f.decimals) AS price, p.updated_at, p.block_number, p.block_time,
       p.tx_hash, p.log_index
FROM prices p
JOIN price_feeds f ON f.chain_id = p.chain_id AND f.feed = p.feed
JOIN ends e ON e.chain_id = p.chain_id AND e.feed = p.feed AND e.phase_id = p.phase_id
WHERE e.end_at IS NULL OR p.updated_at < e.end_at;

-- Per feed and UTC day, from the day of its first round to the day of the last indexed block:
-- the last answer updated by the day's end, carried forward over days without a round. age:
-- how old that answer was at the day's end (or at the last indexed block, on its day).
CREATE VIEW price_daily AS
WITH last_of_day AS (
    SELECT DISTINCT ON (chain_id, feed, (updated_at AT TIME ZONE 'UTC')::date)
           chain_id, feed, (updated_at AT TIME ZONE 'UTC')::date AS day,
           price, answer, round_id, updated_at
    FROM price_rounds
    ORDER BY chain_id, feed, (updated_at AT TIME ZONE 'UTC')::date, updated_at DESC, round_id DESC
), bounds AS (
    SELECT l.chain_id, l.feed, min(l.day) AS lo,
           greatest(max(l.updated_at), max(h.block_time)) AS last_at
    FROM last_of_day l
    LEFT JOIN LATERAL (SELECT b.block_time FROM blocks b WHERE b.chain_id = l.chain_id
                       ORDER BY b.number DESC LIMIT 1) h ON true
    GROUP BY l.chain_id, l.feed
), filled AS (
    SELECT b.chain_id, b.feed, s.day::date AS day, b.last_at, l.price, l.answer, l.round_id,
           l.updated_at,
           count(l.day) OVER (PARTITION BY b.chain_id, b.feed ORDER BY s.day) AS grp
    FROM bounds b
    CROSS JOIN LATERAL generate_series(b.lo::timestamp,
                                       (b.last_at AT TIME ZONE 'UTC')::date::timestamp,
                                       interval '1 day') AS s(day)
    LEFT JOIN last_of_day l ON l.chain_id = b.chain_id AND l.feed = b.feed AND l.day = s.day::date
), carried AS (
    SELECT chain_id, feed, day, last_at,
           first_value(price) OVER g AS price, first_value(answer) OVER g AS answer,
           first_value(round_id) OVER g AS round_id, first_value(updated_at) OVER g AS updated_at
    FROM filled
    WINDOW g AS (PARTITION BY chain_id, feed, grp ORDER BY day)
)
SELECT chain_id, feed, day, price, answer, round_id, updated_at,
       least((day + 1)::timestamp AT TIME ZONE 'UTC', last_at) - updated_at AS age
FROM carried;

-- Gold in USD per troy ounce (Chainlink XAU/USD) at each UTC day's close.
CREATE VIEW gold_price_daily AS
SELECT chain_id, day, price, answer, round_id, updated_at, age
FROM price_daily WHERE feed = 'XAU/USD';

-- The latest XAU/USD answer per chain, and its age now.
CREATE VIEW gold_price_latest AS
SELECT DISTINCT ON (chain_id) chain_id, price, answer, round_id, updated_at,
       now() - updated_at AS age
FROM price_rounds WHERE feed = 'XAU/USD'
ORDER BY chain_id, updated_at DESC, round_id DESC;

-- PAXG's market price (Chainlink PAXG/USD) against gold's (XAU/USD), per UTC day's close:
-- premium > 0 when a PAXG token trades above the ounce it holds.
CREATE VIEW paxg_premium_daily AS
SELECT g.chain_id, g.day, p.price AS paxg_usd, g.price AS xau_usd,
       round(p.price / g.price - 1, 6) AS premium
FROM price_daily g
JOIN price_daily p ON p.chain_id = g.chain_id AND p.day = g.day AND p.feed = 'PAXG/USD'
WHERE g.feed = 'XAU/USD' AND g.price > 0;

-- Per token and UTC day: the balance at the day's end held by addresses labelled 'treasury'
-- (stock minted but not issued) and 'bridge' (locked behind a token on another chain), on the
-- days it changed.
CREATE VIEW label_balances_daily AS
WITH moves AS (
    SELECT l.chain_id, l.token, b.kind, (l.block_time AT TIME ZONE 'UTC')::date AS day,
           sum(CASE WHEN l.to_address = b.address THEN l.amount ELSE 0 END)
           - sum(CASE WHEN l.from_address = b.address THEN l.amount ELSE 0 END) AS delta
    FROM labels b
    JOIN logs l ON l.chain_id = b.chain_id AND l.event = 'Transfer'
               AND (l.from_address = b.address OR l.to_address = b.address)
    WHERE b.kind IN ('treasury', 'bridge')
    GROUP BY l.chain_id, l.token, b.kind, (l.block_time AT TIME ZONE 'UTC')::date
)
SELECT chain_id, token, kind, day,
       sum(delta) OVER (PARTITION BY chain_id, token, kind ORDER BY day) AS balance
FROM moves;

-- supply_daily, its first columns as before, then in whole tokens (troy ounces) and USD at the
-- day's close (NULL before the feed's first round, never 0):
--   treasury_units     held by addresses labelled 'treasury' at the day's end
--   circulating_units  supply less treasury
--   bridged_units      held by addresses labelled 'bridge' (XAUT locked in the XAUt0 adapter):
--                      part of circulating here, counted again as XAUt0 on other chains
CREATE OR REPLACE VIEW supply_daily AS
WITH labelled AS MATERIALIZED (SELECT * FROM label_balances_daily)
SELECT d.chain_id, d.token, d.day,
       d.minted, d.burned, d.minted - d.burned AS net_issuance,
       sum(d.minted - d.burned) OVER w AS supply,
       d.n_mints, d.n_burns,
       to_units(d.minted, t.decimals) AS minted_units,
       to_units(d.burned, t.decimals) AS burned_units,
       to_units((d.minted - d.burned), t.decimals) AS net_issuance_units,
       to_units(sum(d.minted - d.burned) OVER w, t.decimals) AS supply_units,
       to_units(sum(d.minted - d.burned) OVER w, t.decimals) * g.price AS supply_usd,
       to_units(coalesce(tr.balance, 0), t.decimals) AS treasury_units,
       to_units(sum(d.minted - d.burned) OVER w - coalesce(tr.balance, 0), t.decimals)
           AS circulating_units,
       to_units(sum(d.minted - d.burned) OVER w - coalesce(tr.balance, 0), t.decimals) * g.price
           AS circulating_usd,
       to_units(coalesce(br.balance, 0), t.decimals) AS bridged_units,
       g.price AS gold_price
FROM daily_stats d
JOIN tokens t ON t.chain_id = d.chain_id AND t.symbol = d.token
LEFT JOIN gold_price_daily g ON g.chain_id = d.chain_id AND g.day = d.day
LEFT JOIN LATERAL (
    SELECT lb.balance FROM labelled lb
    WHERE lb.chain_id = d.chain_id AND lb.token = d.token AND lb.kind = 'treasury'
      AND lb.day <= d.day
    ORDER BY lb.day DESC LIMIT 1
) tr ON true
LEFT JOIN LATERAL (
    SELECT lb.balance FROM labelled lb
    WHERE lb.chain_id = d.chain_id AND lb.token = d.token AND lb.kind = 'bridge'
      AND lb.day <= d.day
    ORDER BY lb.day DESC LIMIT 1
) br ON true
WINDOW w AS (PARTITION BY d.chain_id, d.token ORDER BY d.day);

-- volume_daily as before, plus the day's volume at the day's close.
CREATE OR REPLACE VIEW volume_daily AS
SELECT d.chain_id, d.token, d.day,
       d.n_transfers AS transfer_count, d.volume,
       to_units(d.volume, t.decimals) AS volume_units,
       coalesce(u.senders, 0) AS unique_senders, coalesce(u.receivers, 0) AS unique_receivers,
       d.n_fees AS fee_count, d.fees, to_units(d.fees, t.decimals) AS fees_units,
       to_units(d.volume, t.decimals) * g.price AS volume_usd
FROM daily_stats d
JOIN tokens t ON t.chain_id = d.chain_id AND t.symbol = d.token
LEFT JOIN period_uniques u
  ON u.chain_id = d.chain_id AND u.token = d.token AND u.period = 'd' AND u.start = d.day
LEFT JOIN gold_price_daily g ON g.chain_id = d.chain_id AND g.day = d.day;

-- volume_monthly as before, plus volume_usd: each day's volume at that day's close, summed;
-- NULL when a day of the month with volume has no price.
CREATE OR REPLACE VIEW volume_monthly AS
WITH m AS (
    SELECT d.chain_id, d.token, date_trunc('month', d.day)::date AS month,
           sum(d.n_transfers) AS transfer_count, sum(d.volume) AS volume,
           sum(d.n_fees) AS fee_count, sum(d.fees) AS fees,
           CASE WHEN bool_and(g.price IS NOT NULL OR d.volume = 0)
                THEN coalesce(sum(to_units(d.volume, t.decimals) * g.price), 0) END AS volume_usd
    FROM daily_stats d
    JOIN tokens t ON t.chain_id = d.chain_id AND t.symbol = d.token
    LEFT JOIN gold_price_daily g ON g.chain_id = d.chain_id AND g.day = d.day
    GROUP BY d.chain_id, d.token, date_trunc('month', d.day)::date
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
       END AS transfer_count_yoy,
       m.volume_usd
FROM m
JOIN tokens t ON t.chain_id = m.chain_id AND t.symbol = m.token
LEFT JOIN period_uniques u
  ON u.chain_id = m.chain_id AND u.token = m.token AND u.period = 'm' AND u.start = m.month
LEFT JOIN m p
  ON p.chain_id = m.chain_id AND p.token = m.token AND p.month = (m.month - interval '1 year')::date;

-- holder_balances as before, plus the balance at the latest XAU/USD answer.
CREATE OR REPLACE VIEW holder_balances AS
SELECT h.chain_id, h.token, h.address, h.balance,
       to_units(h.balance, t.decimals) AS balance_units,
       h.n_transfers, h.first_block, h.first_time, h.last_block, h.last_time,
       l.name AS label, l.kind AS label_kind,
       to_units(h.balance, t.decimals) * g.price AS balance_usd
FROM holder_state h
JOIN tokens t ON t.chain_id = h.chain_id AND t.symbol = h.token
LEFT JOIN labels l ON l.chain_id = h.chain_id AND l.address = h.address
LEFT JOIN gold_price_latest g ON g.chain_id = h.chain_id;

-- holder_concentration as before, plus the total at the latest XAU/USD answer.
CREATE OR REPLACE VIEW holder_concentration AS
SELECT c.*, to_units(c.total_balance, t.decimals) * g.price AS total_usd
FROM concentration_at(NULL) c
LEFT JOIN tokens t ON t.chain_id = c.chain_id AND t.symbol = c.token
LEFT JOIN gold_price_latest g ON g.chain_id = c.chain_id;

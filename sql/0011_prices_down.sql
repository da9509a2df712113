-- gold-indexer revision 0011, downgrade: drop the price tables and views, and put back the
-- views as revision 0002 defined them (a view cannot lose columns in place).
DROP VIEW holder_concentration, holder_balances, volume_monthly, volume_daily, supply_daily,
          label_balances_daily, paxg_premium_daily, gold_price_latest, gold_price_daily,
          price_daily, price_rounds;
DROP TABLE prices, price_aggregators, price_feeds;
DELETE FROM labels WHERE chain_id = 1 AND address = '0xb9c2321bb7d0db468f570d10a424d1cc8efd696c'
                     AND kind = 'bridge';

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

CREATE VIEW holder_concentration AS SELECT * FROM concentration_at(NULL);

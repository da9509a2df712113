-- gold-indexer revision 0010: what the sync's RPC use costs, and whether it waits for a quota.
--
-- One row per chain, written by the running sync: at its start (usage emptied, no pause), after
-- each batch (usage) and when a provider's quota pause starts or ends. `indexer status` reads it.
-- usage: {"pricing", "unit", "requests": {method: n}, "calls": {method: n},
--         "credits": {method: n}, "refused": {kind: n}} since run_started_at, where credits are in
-- the pricing's unit and kinds are rate, range, batch, quota and other.
CREATE TABLE rpc_status (
    chain_id         integer     PRIMARY KEY,
    run_started_at   timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    usage            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    paused_until     timestamptz,
    pause_reason     text,
    paused_endpoint  text
);

"""The configuration's shape: one frozen dataclass per TOML section, with each key's default
and what it does beside it, and the `Config` they make together."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from indexer.errors import ConfigError
from indexer.feeds import DEFAULT_FEEDS, PAXG_USD, XAU_USD
from indexer.tokens import MAINNET_CHAIN_ID, Token

@dataclass(frozen=True, slots=True)
class RpcConfig:
    url: str | None = None
    # Seconds for one HTTP request; eth_getLogs over a wide range can be slow on busy providers.
    timeout: float = 30.0
    # Attempts per request before giving up (with jittered exponential back-off in between).
    max_attempts: int = 8
    # More endpoints of the same chain: a retryable fault moves the next attempt to the next one.
    fallback_urls: tuple[str, ...] = ()
    # First back-off in seconds after a retryable fault; it doubles (jittered) up to 30 s.
    backoff_seconds: float = 0.5
    # HTTP requests per second per endpoint, evenly spaced; 0 = no limit.
    max_requests_per_second: float = 0.0
    # The provider's price list: "infura", "alchemy", "quicknode", or "none" (every call
    # costs 1). It gives each method's cost, the budget of the provider's free or entry plan,
    # and (Infura) the quota's reset at 00:00 UTC.
    pricing: str | None = None
    # The provider's budget per second in the pricing's unit (credits, CU, requests; calls
    # without a pricing), shared by every thread; 0 = the pricing's default (none without one).
    # The client paces 10% below it and sizes batches to about one second of it.
    max_credits_per_second: float = 0.0
    # Per-method costs replacing the pricing's, e.g. {eth_getLogs = 75, default = 20}.
    method_costs: tuple[tuple[str, float], ...] = ()
    # While a provider reports its quota used up (HTTP 402), try again this often (minutes).
    # Infura's daily quota is waited out until 00:00 UTC instead.
    quota_retry_minutes: float = 10.0


@dataclass(frozen=True, slots=True)
class ChainConfig:
    id: int = MAINNET_CHAIN_ID
    # The chain's name in `sync --chain`, status and tokens' `chain` (default: "ethereum" for
    # chain id 1, else "chain<id>").
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or default_chain_name(self.id)


def default_chain_name(chain_id: int) -> str:
    return "ethereum" if chain_id == MAINNET_CHAIN_ID else f"chain{chain_id}"


@dataclass(frozen=True, slots=True)
class ChainSpec:
    """One chain the configuration syncs: [chain] with [rpc] (the first), or a [chains.NAME]
    table with its own [chains.NAME.rpc]; confirmations and poll_interval None: [sync]'s."""

    name: str
    id: int
    rpc: RpcConfig
    confirmations: int | None = None
    poll_interval: float | None = None


@dataclass(frozen=True, slots=True)
class SyncConfig:
    # 12 blocks (~2.4 min on mainnet): post-merge reorgs deeper than 2 blocks are almost unseen,
    # so rows this far behind the head are very unlikely ever to be rolled back.
    confirmations: int = 12
    # Seconds between head polls once caught up: one mainnet slot.
    poll_interval: float = 12.0
    # First eth_getLogs range; it adapts between min and max from there. Small, because one
    # over-wide first answer on a dense chain costs hundreds of MB; it doubles per sparse range.
    batch_blocks: int = 100
    min_batch_blocks: int = 1
    max_batch_blocks: int = 100_000
    # Grow the range while a request returns fewer logs than this, shrink when it returns more.
    target_logs: int = 10_000
    # Block headers asked for in one JSON-RPC batch request.
    header_batch: int = 250
    # eth_getLogs ranges in flight at once, committed in order: where round trips dominate (a
    # hosted provider 50-200 ms away) they overlap; the provider's pace still bounds the total.
    ranges_in_flight: int = 4
    # Headers of every block this close to the head are kept, to find the common ancestor after
    # a reorg. 128 blocks: four epochs, twice the distance after which mainnet blocks are final.
    # A reorg deeper than this is refused (re-sync from an earlier block).
    reorg_window: int = 128
    # Every Nth range below the reorg window is also asked of the next endpoint (of the same
    # one when there is one), and the answers compared (0: off).
    cross_check: int = 0


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    # None: start the embedded PostgreSQL under the data directory.
    url: str | None = None


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    # Port of the Prometheus /metrics, /healthz and /readyz endpoint; 0 = off.
    port: int = 0
    # Loopback only unless you open it on purpose (e.g. "0.0.0.0" behind a firewall).
    host: str | None = "127.0.0.1"
    # /readyz answers 503 when the sync is more than this many blocks behind the head
    # (64 blocks, ~13 minutes on mainnet, well past confirmations).
    max_lag_blocks: int = 64


@dataclass(frozen=True, slots=True)
class PricesConfig:
    # Read Chainlink's price feeds (their AnswerUpdated logs ride in the tokens' eth_getLogs).
    # Unset: on for Ethereum mainnet (chain 1), elsewhere only when a proxy is given below.
    enabled: bool | None = None
    # The feeds' proxy addresses; unset: Chainlink's on mainnet (README, "Prices").
    xau_usd: str | None = None
    paxg_usd: str | None = None
    # While following the head, the proxies' phases are read again this often (minutes): a new
    # phase's aggregator is read from the block after the last reading.
    phase_check_minutes: float = 60.0


@dataclass(frozen=True, slots=True)
class AuditConfig:
    # After committed batches, compare totalSupply() and a sample of balanceOf() at their last
    # block with the indexed figures (catches a provider that drops logs; README, "Audits").
    enabled: bool = True
    # Addresses the batch's transfers touched whose balance is compared, per token.
    sample: int = 3
    # The audits' calls cost at most this share of what the sync's own requests cost.
    budget_share: float = 0.03
    # Audit every N committed batches instead of by the budget (0: by the budget).
    every_batches: int = 0
    # Check that each eth_getLogs answer holds every log of the transactions it shows (a PAXG
    # transfer's fee leg, a mint's two logs, ...; indexer/completeness.py) and ask again if not.
    # Costs no request; independent of `enabled`.
    whole_transactions: bool = True


@dataclass(frozen=True, slots=True)
class Config:
    rpc: RpcConfig
    chain: ChainConfig
    sync: SyncConfig
    database: DatabaseConfig
    metrics: MetricsConfig
    tokens: tuple[Token, ...]
    source: str  # where the file came from, for messages
    prices: PricesConfig = PricesConfig()
    audit: AuditConfig = AuditConfig()
    # Every chain configured, the first being this config's own; every chain's tokens (each
    # Token's `chain` names its chain). `tokens` holds this chain's only.
    chains: tuple[ChainSpec, ...] = ()
    all_tokens: tuple[Token, ...] = ()

    @property
    def enabled_tokens(self) -> tuple[Token, ...]:
        return tuple(t for t in self.tokens if t.enabled)

    def chain_named(self, name: str) -> ChainSpec:
        for spec in self.chains:
            if spec.name.lower() == name.lower():
                return spec
        raise ConfigError(f"no chain named {name!r}: the configured chains are "
                          f"{', '.join(c.name for c in self.chains)}")

    def for_chain(self, name: str) -> Config:
        """This configuration as one chain's: its id, RPC, confirmations and tokens. Prices
        are read on the first chain only (the feeds' proxies are mainnet's)."""
        spec = self.chain_named(name)
        first = spec is self.chains[0]
        sync = dataclasses.replace(
            self.sync,
            confirmations=self.sync.confirmations if spec.confirmations is None else spec.confirmations,
            poll_interval=self.sync.poll_interval if spec.poll_interval is None else spec.poll_interval)
        return dataclasses.replace(
            self, rpc=spec.rpc, chain=ChainConfig(spec.id, spec.name), sync=sync,
            tokens=tuple(t for t in self.all_tokens if t.chain == spec.name),
            prices=self.prices if first else dataclasses.replace(self.prices, enabled=False))

    @property
    def feeds(self) -> dict[str, str]:
        """The price feeds to read: name → proxy address (lowercase)."""
        p = self.prices
        given = {XAU_USD: p.xau_usd, PAXG_USD: p.paxg_usd}
        enabled = p.enabled
        if enabled is None:
            enabled = self.chain.id in DEFAULT_FEEDS or any(given.values())
        if not enabled:
            return {}
        defaults = DEFAULT_FEEDS.get(self.chain.id, {})
        feeds = {name: address or defaults.get(name) for name, address in given.items()}
        return {name: address for name, address in feeds.items() if address}


_SECTIONS: dict[str, type] = {
    "rpc": RpcConfig,
    "chain": ChainConfig,
    "sync": SyncConfig,
    "database": DatabaseConfig,
    "metrics": MetricsConfig,
    "prices": PricesConfig,
    "audit": AuditConfig,
}


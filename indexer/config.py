"""Configuration: TOML file + environment + CLI flags → one frozen `Config`, validated.

Precedence, lowest first: built-in defaults, the TOML file (`--config`, else `$INDEXER_CONFIG`,
else `./config.toml` if present), environment variables `INDEXER_<SECTION>_<KEY>` (for example
`INDEXER_RPC_URL`, `INDEXER_SYNC_CONFIRMATIONS`, `INDEXER_TOKENS_XAUT_START_BLOCK`), then CLI flags.
Every problem is reported as one `ConfigError` line naming the key and the fix.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from eth_utils import is_checksum_address, is_hex_address

from indexer.errors import ConfigError
from indexer.feeds import DEFAULT_FEEDS, PAXG_USD, XAU_USD
from indexer.tokens import (BUILT_IN_KINDS, KINDS, MAINNET_CHAIN_ID, MAINNET_TOKENS, Token,
                            configured_token)

ENV_PREFIX = "INDEXER_"


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
class TokenOverride:
    address: str | None = None
    start_block: int | None = None
    decimals: int | None = None
    enabled: bool = True
    # A token the registry does not know is added with its kind (paxg, xaut, erc20; see
    # indexer/tokens.py KINDS).
    kind: str | None = None


# A token's name in [tokens.NAME]: it keys the database's rows, metrics labels and
# INDEXER_TOKENS_NAME_* variables.
TOKEN_SYMBOL = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,19}")


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

    @property
    def enabled_tokens(self) -> tuple[Token, ...]:
        return tuple(t for t in self.tokens if t.enabled)

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


def _field_types(cls: type) -> dict[str, Any]:
    hints = {"str | None": str, "int": int, "float": float, "bool": bool, "int | None": int,
             "bool | None": bool,
             "tuple[str, ...]": tuple, "tuple[tuple[str, float], ...]": dict}
    return {f.name: hints[f.type] for f in dataclasses.fields(cls)}


def _coerce(key: str, value: Any, kind: type, from_env: bool) -> Any:
    """Check (file) or parse (environment) one value against its type."""
    if kind is dict:  # a table of numbers (method costs), kept as sorted (name, number) pairs
        if from_env:
            pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
            if not all(len(p) == 2 for p in pairs):
                raise ConfigError(f"{key} must look like 'eth_getLogs=255,default=80', got {value!r}")
            try:
                value = {name.strip(): float(number) for name, number in pairs}
            except ValueError:
                raise ConfigError(f"{key} must map names to numbers, got {value!r}") from None
        if not isinstance(value, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()):
            raise ConfigError(f"{key} must be a table of numbers, e.g. {{eth_getLogs = 255}}, "
                              f"got {value!r}")
        return tuple(sorted((str(k), float(v)) for k, v in value.items()))
    if kind is tuple:
        if from_env:
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key} must be a list of strings, got {value!r}")
        return tuple(value)
    if from_env:
        try:
            if kind is bool:
                lowered = value.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return kind(value)
        except ValueError:
            raise ConfigError(
                f"{key} must be {_kind_name(kind)}, got {value!r} from the environment"
            ) from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{key} must be {_kind_name(kind)}, got {type(value).__name__} {value!r}")
    return value


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            tuple: "a list of strings", dict: "a table of numbers"}[kind]


def find_config_file(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("INDEXER_CONFIG")
    if env:
        return Path(env)
    default = Path("config.toml")
    return default if default.is_file() else None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found: check --config or $INDEXER_CONFIG") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None


def load_config(
    path: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the Config. `overrides` are dotted keys from CLI flags, e.g. {"rpc.url": "..."}."""
    env = os.environ if env is None else env
    file = find_config_file(path)
    raw = read_toml(file) if file else {}
    source = str(file) if file else "built-in defaults"

    sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    token_raw: dict[str, dict[str, Any]] = {}
    for name, body in raw.items():
        if name == "tokens":
            if not isinstance(body, dict):
                raise ConfigError("tokens must be a table, e.g. [tokens.PAXG]")
            for symbol, tbody in body.items():
                if not TOKEN_SYMBOL.fullmatch(symbol):
                    raise ConfigError(
                        f"tokens.{symbol}: a token's name is a letter then up to 19 letters, "
                        "digits or _")
                if not isinstance(tbody, dict):
                    raise ConfigError(f"tokens.{symbol} must be a table")
                token_raw[symbol] = dict(tbody)
            continue
        if name not in _SECTIONS:
            raise ConfigError(
                f"unknown section [{name}] in {source}: valid sections are "
                f"{', '.join(list(_SECTIONS) + ['tokens'])}"
            )
        if not isinstance(body, dict):
            raise ConfigError(f"{name} must be a table: write [{name}] and its keys below it")
        sections[name] = dict(body)

    built: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        values = _read_table(name, cls, sections[name], env, source)
        for key in _field_types(cls):
            if overrides and overrides.get(f"{name}.{key}") is not None:
                values[key] = overrides[f"{name}.{key}"]
        built[name] = cls(**values)
    built["prices"] = dataclasses.replace(built["prices"], **{
        key: _check_address(f"prices.{key}", value)
        for key in ("xau_usd", "paxg_usd") if (value := getattr(built["prices"], key)) is not None})

    tokens = tuple(
        _build_token(symbol, token_raw.get(symbol, {}), env, source)
        for symbol in [*MAINNET_TOKENS, *(s for s in token_raw if s not in MAINNET_TOKENS)]
    )
    config = Config(tokens=tokens, source=source, **built)
    _validate(config)
    return config


def _read_table(dotted: str, cls: type, body: dict[str, Any], env: Mapping[str, str],
                source: str) -> dict[str, Any]:
    """The values of table `dotted` (e.g. "sync", "tokens.PAXG"): from the file, then from
    INDEXER_<DOTTED>_<KEY> in the environment; unknown keys and wrong types refused."""
    types = _field_types(cls)
    values: dict[str, Any] = {}
    for key, value in body.items():
        if key not in types:
            raise ConfigError(
                f"unknown key {dotted}.{key} in {source}: valid keys are {', '.join(types)}"
            )
        values[key] = _coerce(f"{dotted}.{key}", value, types[key], from_env=False)
    for key, kind in types.items():
        env_name = f"{ENV_PREFIX}{dotted.replace('.', '_')}_{key}".upper()
        if env.get(env_name, "") != "":
            values[key] = _coerce(env_name, env[env_name], kind, from_env=True)
    return values


def _build_token(symbol: str, body: dict[str, Any], env: Mapping[str, str], source: str) -> Token:
    values = _read_table(f"tokens.{symbol}", TokenOverride, body, env, source)
    override = TokenOverride(**values)
    kinds = ", ".join(KINDS)
    if override.kind == "oft":
        raise ConfigError(f"tokens.{symbol}.kind = oft (XAUt0 on its chains) is not supported "
                          "yet: kind erc20 reads its Transfers, mints and burns")
    if override.kind is not None and override.kind not in KINDS:
        raise ConfigError(f"tokens.{symbol}.kind must be one of {kinds}, got {override.kind!r}")
    if symbol not in MAINNET_TOKENS:
        return _added_token(symbol, override, kinds)
    if override.kind not in (None, BUILT_IN_KINDS[symbol]):
        raise ConfigError(f"tokens.{symbol} is the built-in {symbol}, of kind "
                          f"{BUILT_IN_KINDS[symbol]}: give another name to a token of kind "
                          f"{override.kind}")
    base = MAINNET_TOKENS[symbol]
    address = base.address
    if override.address is not None:
        address = _check_address(f"tokens.{symbol}.address", override.address)
    start = base.start_block if override.start_block is None else override.start_block
    if start < 0:
        raise ConfigError(f"tokens.{symbol}.start_block must be 0 or more, got {start}")
    decimals = base.decimals if override.decimals is None else override.decimals
    if not 0 <= decimals <= 77:
        raise ConfigError(f"tokens.{symbol}.decimals must be between 0 and 77, got {decimals}")
    return dataclasses.replace(
        base, address=address, start_block=start, decimals=decimals, enabled=override.enabled
    )


def _added_token(symbol: str, override: TokenOverride, kinds: str) -> Token:
    """A token [tokens.NAME] adds: its kind, address and first block are required."""
    missing = [key for key in ("kind", "address", "start_block")
               if getattr(override, key) is None]
    if missing:
        raise ConfigError(
            f"tokens.{symbol} is not a built-in token (those are {', '.join(MAINNET_TOKENS)}): "
            f"add it with {', '.join(missing)} (kind: one of {kinds})")
    if override.start_block < 0:
        raise ConfigError(f"tokens.{symbol}.start_block must be 0 or more, got {override.start_block}")
    if override.decimals is not None and not 0 <= override.decimals <= 77:
        raise ConfigError(
            f"tokens.{symbol}.decimals must be between 0 and 77, got {override.decimals}")
    return configured_token(symbol, override.kind,
                            _check_address(f"tokens.{symbol}.address", override.address),
                            override.start_block, override.decimals,
                            enabled=override.enabled)


def check_address(key: str, value: str) -> str:
    """A 0x-hex address, checksum-verified when mixed case; returned lowercase."""
    return _check_address(key, value)


def _check_address(key: str, value: str) -> str:
    if not value.startswith("0x") or not is_hex_address(value):
        raise ConfigError(f"{key} = {value!r} is not a 20-byte 0x-hex address")
    body = value[2:]
    mixed_case = body != body.lower() and body != body.upper()
    if mixed_case and not is_checksum_address(value):
        raise ConfigError(
            f"{key} = {value!r} has a bad EIP-55 checksum: copy the address again, "
            "or write it all in lowercase"
        )
    return value.lower()


def _validate(config: Config) -> None:
    for key, url in [("rpc.url", config.rpc.url)] + [
        (f"rpc.fallback_urls[{i}]", u) for i, u in enumerate(config.rpc.fallback_urls)
    ]:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ConfigError(f"{key} must start with http:// or https://, got {url.split(':')[0]}:…")
    if not config.rpc.max_requests_per_second >= 0 or not math.isfinite(
        config.rpc.max_requests_per_second
    ):
        raise ConfigError("rpc.max_requests_per_second must be 0 (no limit) or more")
    from indexer.rpc.pacing import PRESETS

    if config.rpc.pricing is not None and config.rpc.pricing not in PRESETS:
        raise ConfigError(f"rpc.pricing = {config.rpc.pricing!r} is not a known price list: use "
                          f"one of {', '.join(repr(p) for p in PRESETS)}")
    if not config.rpc.max_credits_per_second >= 0 or not math.isfinite(
        config.rpc.max_credits_per_second
    ):
        raise ConfigError("rpc.max_credits_per_second must be 0 (the pricing's default) or more")
    for method, cost in config.rpc.method_costs:
        if not cost >= 0 or not math.isfinite(cost):
            raise ConfigError(f"rpc.method_costs.{method} must be 0 or more, got {cost}")
    if not config.rpc.quota_retry_minutes > 0 or not math.isfinite(config.rpc.quota_retry_minutes):
        raise ConfigError("rpc.quota_retry_minutes must be a positive number of minutes")
    if not config.rpc.timeout > 0 or not math.isfinite(config.rpc.timeout):
        raise ConfigError("rpc.timeout must be a positive number of seconds")
    if not config.rpc.backoff_seconds >= 0 or not math.isfinite(config.rpc.backoff_seconds):
        raise ConfigError("rpc.backoff_seconds must be 0 or more")
    if config.rpc.max_attempts < 1:
        raise ConfigError("rpc.max_attempts must be at least 1")
    if config.chain.id <= 0:
        raise ConfigError(f"chain.id must be a positive integer, got {config.chain.id}")
    s = config.sync
    if s.confirmations < 0:
        raise ConfigError("sync.confirmations must be 0 or more")
    if not s.poll_interval > 0 or not math.isfinite(s.poll_interval):
        raise ConfigError("sync.poll_interval must be a positive number of seconds")
    if not 1 <= s.min_batch_blocks <= s.batch_blocks <= s.max_batch_blocks:
        raise ConfigError(
            "sync batch sizes must satisfy 1 <= min_batch_blocks <= batch_blocks <= max_batch_blocks"
        )
    if s.reorg_window < 1:
        raise ConfigError("sync.reorg_window must be at least 1")
    if s.target_logs < 1 or s.header_batch < 1:
        raise ConfigError("sync.target_logs and sync.header_batch must be at least 1")
    if s.cross_check < 0:
        raise ConfigError("sync.cross_check must be 0 (off) or more")
    if not 1 <= s.ranges_in_flight <= 64:
        raise ConfigError(f"sync.ranges_in_flight must be between 1 and 64, got {s.ranges_in_flight}")
    if config.database.url is not None and not config.database.url.startswith(
        ("postgresql://", "postgres://")
    ):
        raise ConfigError("database.url must be a postgresql:// URL")
    if not 0 <= config.metrics.port <= 65535:
        raise ConfigError(f"metrics.port must be between 0 (off) and 65535, got {config.metrics.port}")
    if config.metrics.max_lag_blocks < 0:
        raise ConfigError("metrics.max_lag_blocks must be 0 or more")
    if config.prices.enabled and not config.feeds:
        raise ConfigError(f"prices.enabled is true but chain {config.chain.id} has no built-in "
                          "feeds: set prices.xau_usd (and prices.paxg_usd) to the proxies' addresses")
    if not config.prices.phase_check_minutes > 0 or not math.isfinite(config.prices.phase_check_minutes):
        raise ConfigError("prices.phase_check_minutes must be a positive number of minutes")
    a = config.audit
    if a.sample < 0 or a.every_batches < 0:
        raise ConfigError("audit.sample and audit.every_batches must be 0 or more")
    if not 0 <= a.budget_share <= 1:
        raise ConfigError(f"audit.budget_share must be between 0 and 1, got {a.budget_share}")
    if not config.enabled_tokens:
        raise ConfigError("every token is disabled: enable at least one under [tokens.*]")
    addresses = [t.address for t in config.enabled_tokens]
    if len(set(addresses)) != len(addresses):
        raise ConfigError("two enabled tokens share one address: check [tokens.*] address")
    symbols = [t.symbol.upper() for t in config.tokens]
    if len(set(symbols)) != len(symbols):
        raise ConfigError("two tokens' names differ only in case: rename one of [tokens.*]")


def require_rpc_url(config: Config) -> str:
    """The RPC URL, for the commands that need one; the others run without it."""
    if not config.rpc.url:
        raise ConfigError("no RPC URL: set [rpc] url in the config, INDEXER_RPC_URL, or --rpc-url")
    return config.rpc.url

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
from typing import Any, Mapping

from indexer.config.chains import CHAIN_NAME, read_chains
from indexer.config.schema import (_SECTIONS, AuditConfig, ChainConfig, ChainSpec, Config,
                                   DatabaseConfig, MetricsConfig, PricesConfig, RpcConfig,
                                   SyncConfig)
from indexer.config.tokens import TOKEN_SYMBOL, TokenOverride, build_token
from indexer.config.values import (ENV_PREFIX, _check_address, _field_types, _read_table,
                                   check_address, find_config_file, read_toml)
from indexer.errors import ConfigError
from indexer.tokens import MAINNET_TOKENS

__all__ = [
    "AuditConfig", "ChainConfig", "ChainSpec", "Config", "DatabaseConfig", "ENV_PREFIX", "MetricsConfig",
    "PricesConfig", "RpcConfig", "SyncConfig", "TokenOverride", "check_address",
    "find_config_file", "load_config", "read_toml", "require_rpc_url",
]


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
        if name == "chains":
            continue
        if name not in _SECTIONS:
            raise ConfigError(
                f"unknown section [{name}] in {source}: valid sections are "
                f"{', '.join(list(_SECTIONS) + ['tokens', 'chains'])}"
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

    chain = built["chain"]
    if chain.name is not None and not CHAIN_NAME.fullmatch(chain.name):
        raise ConfigError(f"chain.name = {chain.name!r}: a chain's name is a letter then up to "
                          "31 letters, digits or _")
    chains = read_chains(raw.get("chains", {}), env, source,
                         ChainSpec(chain.label, chain.id, built["rpc"]))
    built["chain"] = ChainConfig(chain.id, chain.label)
    tokens = tuple(
        build_token(symbol, token_raw.get(symbol, {}), env, source, [c.name for c in chains])
        for symbol in [*MAINNET_TOKENS, *(s for s in token_raw if s not in MAINNET_TOKENS)]
    )
    config = Config(tokens=tuple(t for t in tokens if t.chain == chains[0].name), source=source,
                    chains=chains, all_tokens=tokens, **built)
    for spec in chains:
        try:
            _validate(config.for_chain(spec.name))
        except ConfigError as exc:
            if spec is chains[0]:
                raise
            # The checks name [rpc]'s keys; this chain's are in [chains.NAME.rpc].
            raise ConfigError(re.sub(r"(?<![\w.])rpc\.", f"chains.{spec.name}.rpc.",
                                     str(exc))) from None
    if not any(t.enabled for t in tokens):
        raise ConfigError("every token is disabled: enable at least one under [tokens.*]")
    symbols = [t.symbol.upper() for t in tokens]
    if len(set(symbols)) != len(symbols):
        raise ConfigError("two tokens' names differ only in case: rename one of [tokens.*]")
    return config


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
    addresses = [a for t in config.enabled_tokens for a in t.addresses]
    if len(set(addresses)) != len(addresses):
        raise ConfigError("two enabled tokens share one address: check [tokens.*] address")


def require_rpc_url(config: Config) -> str:
    """The RPC URL, for the commands that need one; the others run without it."""
    if not config.rpc.url:
        if config.chains and config.chain.name != config.chains[0].name:
            name = config.chain.name
            raise ConfigError(f"no RPC URL for chain {name}: set url in [chains.{name}.rpc] or "
                              f"INDEXER_CHAINS_{name.upper()}_RPC_URL")
        raise ConfigError("no RPC URL: set [rpc] url in the config, INDEXER_RPC_URL, or --rpc-url")
    return config.rpc.url

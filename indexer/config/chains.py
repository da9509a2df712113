"""[chains.NAME]: chains synced beside the one [chain] and [rpc] describe, each with its own
id, RPC endpoints (a [chains.NAME.rpc] table of [rpc]'s keys) and, if it differs from [sync]'s,
confirmations and poll interval. Tokens name their chain with `chain = "NAME"`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from indexer.config.schema import ChainSpec, RpcConfig
from indexer.config.values import _read_table
from indexer.errors import ConfigError

# A chain's name keys `sync --chain`, status and INDEXER_CHAINS_NAME_* variables.
CHAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


@dataclass(frozen=True, slots=True)
class ChainTable:
    """The keys of a [chains.NAME] table besides its rpc table."""

    id: int | None = None
    confirmations: int | None = None
    poll_interval: float | None = None


def read_chains(body: Any, env: Mapping[str, str], source: str,
                first: ChainSpec) -> tuple[ChainSpec, ...]:
    """`first` ([chain] and [rpc]) and then each [chains.NAME] in the file's order."""
    if not isinstance(body, dict):
        raise ConfigError("chains must be a table, e.g. [chains.arbitrum]")
    specs = [first]
    for name, table in body.items():
        if not CHAIN_NAME.fullmatch(name):
            raise ConfigError(f"chains.{name}: a chain's name is a letter then up to 31 letters, "
                              "digits or _")
        if not isinstance(table, dict):
            raise ConfigError(f"chains.{name} must be a table: write [chains.{name}] and its "
                              "id below it")
        table = dict(table)
        rpc_body = table.pop("rpc", {})
        if not isinstance(rpc_body, dict):
            raise ConfigError(f"chains.{name}.rpc must be a table: write [chains.{name}.rpc] and "
                              "its url below it")
        keys = ChainTable(**_read_table(f"chains.{name}", ChainTable, table, env, source))
        if keys.id is None:
            raise ConfigError(f"chains.{name}.id is missing: the chain id its RPC serves (42161 "
                              "for Arbitrum One, for example)")
        rpc = RpcConfig(**_read_table(f"chains.{name}.rpc", RpcConfig, rpc_body, env, source))
        specs.append(ChainSpec(name, keys.id, rpc, keys.confirmations, keys.poll_interval))
    for i, spec in enumerate(specs):
        for other in specs[:i]:
            if spec.name.lower() == other.name.lower():
                raise ConfigError(f"chains.{spec.name}: the name is taken by "
                                  f"{'[chain]' if other is first else 'chains.' + other.name}")
            if spec.id == other.id:
                where = ("[chain] (its RPC goes in [rpc])" if other is first
                         else f"chains.{other.name}")
                raise ConfigError(f"chains.{spec.name}: chain id {spec.id} is already {where}")
    return tuple(specs)

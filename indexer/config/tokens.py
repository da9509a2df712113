"""[tokens.NAME]: the built-in tokens' overrides (a devnet's addresses) and tokens the
configuration adds by kind."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from indexer.config.values import _check_address, _read_table
from indexer.errors import ConfigError
from indexer.tokens import BUILT_IN_KINDS, KINDS, MAINNET_TOKENS, Token, configured_token

@dataclass(frozen=True, slots=True)
class TokenOverride:
    address: str | None = None
    start_block: int | None = None
    decimals: int | None = None
    enabled: bool = True
    # A token the registry does not know is added with its kind (paxg, xaut, erc20; see
    # indexer/tokens.py KINDS).
    kind: str | None = None
    # The [chains.NAME] it lives on (default: [chain]'s; the built-in tokens live there).
    chain: str | None = None
    # Its LayerZero OFT contract, whose OFTSent/OFTReceived are read as its bridge-outs and
    # bridge-ins (required for kind oft; XAUT's is the adapter that locks it on Ethereum).
    oft: str | None = None


# A token's name in [tokens.NAME]: it keys the database's rows, metrics labels and
# INDEXER_TOKENS_NAME_* variables.
TOKEN_SYMBOL = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,19}")

def build_token(symbol: str, body: dict[str, Any], env: Mapping[str, str], source: str,
                chains: Sequence[str]) -> Token:
    """The token [tokens.`symbol`] describes (a built-in one's defaults where it says nothing),
    on its chain: one of `chains`, the first by default."""
    values = _read_table(f"tokens.{symbol}", TokenOverride, body, env, source)
    override = TokenOverride(**values)
    chain = chains[0] if override.chain is None else next(
        (c for c in chains if c.lower() == override.chain.lower()), None)
    if chain is None:
        raise ConfigError(f"tokens.{symbol}.chain = {override.chain!r} names no chain: the "
                          f"configured chains are {', '.join(chains)} (add [chains.{override.chain}])")
    if symbol in MAINNET_TOKENS and chain != chains[0]:
        raise ConfigError(f"tokens.{symbol} is the built-in {symbol} of [chain]: give another "
                          f"name to a token on {chain}")
    return dataclasses.replace(_token(symbol, override), chain=chain)


def _token(symbol: str, override: TokenOverride) -> Token:
    kinds = ", ".join(KINDS)
    if override.kind == "oft" and override.oft is None:
        raise ConfigError(f"tokens.{symbol}.kind = oft needs tokens.{symbol}.oft: the address of "
                          "its OFT contract (the one that emits OFTSent and OFTReceived)")
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
        base, address=address, start_block=start, decimals=decimals, enabled=override.enabled,
        oft=_oft(symbol, override)
    )


def _oft(symbol: str, override: TokenOverride) -> str | None:
    return None if override.oft is None else _check_address(f"tokens.{symbol}.oft", override.oft)


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
                            enabled=override.enabled, oft=_oft(symbol, override))


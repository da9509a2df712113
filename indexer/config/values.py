"""Reading configuration values: the TOML file, INDEXER_* variables, each value checked
against its key's type; addresses checked against their EIP-55 checksum."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

from eth_utils import is_checksum_address, is_hex_address

from indexer.errors import ConfigError

ENV_PREFIX = "INDEXER_"


def _field_types(cls: type) -> dict[str, Any]:
    hints = {"str | None": str, "int": int, "float": float, "bool": bool, "int | None": int,
             "bool | None": bool, "float | None": float,
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



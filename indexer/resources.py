"""Where the SQL and migrations live: inside the installed package, else the source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def resource_dir() -> Path:
    packaged = Path(__file__).resolve().parent / "_resources"
    if (packaged / "alembic.ini").is_file():
        return packaged
    return Path(__file__).resolve().parent.parent


@cache
def sql_statements(name: str) -> tuple[str, ...]:
    """The statements of sql/<name>, split at lines holding only ';'."""
    text = (resource_dir() / "sql" / name).read_text()
    parts = [p.strip() for p in text.split("\n;\n")]
    return tuple(p for p in parts if p and not all(
        line.startswith("--") or not line.strip() for line in p.splitlines()))

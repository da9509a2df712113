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
    """The statements of sql/<name>, split at lines holding only ';', without comment lines
    (psycopg would read a %(name)s placeholder in a comment as a parameter)."""
    text = (resource_dir() / "sql" / name).read_text()
    statements = []
    for part in text.split("\n;\n"):
        code = "\n".join(line for line in part.splitlines() if not line.lstrip().startswith("--"))
        if code.strip():
            statements.append(code.strip())
    return tuple(statements)

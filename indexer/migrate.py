"""Run the alembic migrations (alembic/ and sql/ at the repo root, or inside the wheel)."""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config as AlembicConfig

from indexer.resources import resource_dir

log = logging.getLogger(__name__)


def alembic_config(database_url: str) -> AlembicConfig:
    root = resource_dir()
    cfg = AlembicConfig(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "alembic"))
    cfg.attributes["database_url"] = database_url
    # The CLI has configured logging already; alembic.ini's logging is for plain `alembic`.
    cfg.attributes["skip_logging_config"] = True
    return cfg


def upgrade(database_url: str, revision: str = "head", *, wait: bool = False) -> None:
    """Bring the schema up to `revision` (idempotent: applied revisions are skipped).

    With `wait`, first wait (with back-off) for PostgreSQL to accept connections."""
    import sqlalchemy.exc

    from indexer import store
    from indexer.errors import DatabaseError

    store.connect(database_url, attempts=store.CONNECT_ATTEMPTS if wait else 1).close()
    try:
        command.upgrade(alembic_config(database_url), revision)
    except sqlalchemy.exc.DBAPIError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)[:200]
        raise DatabaseError(f"migration failed: {first}") from None

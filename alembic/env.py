"""Alembic environment: runs migrations over a psycopg 3 connection.

The database URL comes from (first found): the caller (`indexer migrate` passes it in
`config.attributes`), `-x database_url=...`, or $INDEXER_DATABASE_URL.
"""

import os
from logging.config import fileConfig

import psycopg
from sqlalchemy import create_engine, pool

from alembic import context

config = context.config
if config.config_file_name is not None and not config.attributes.get("skip_logging_config"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

url = (
    config.attributes.get("database_url")
    or context.get_x_argument(as_dictionary=True).get("database_url")
    or os.environ.get("INDEXER_DATABASE_URL")
)
if not url:
    raise SystemExit(
        "alembic: no database URL: set INDEXER_DATABASE_URL or pass -x database_url=postgresql://..."
    )

# psycopg parses libpq URLs (including ?host=/socket/dir of the embedded server) itself.
engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(url),
                       poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None,
                      version_table="alembic_version", transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()

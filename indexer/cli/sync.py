"""`indexer sync`: the scanner as a command or a daemon, with its progress and RPC figures."""

from __future__ import annotations

import sys
import threading
import time

import click

from indexer.cli.app import Context, UserError, _database_url, _run, log, main, usage_text
from indexer.config import Config
from indexer.errors import IndexerError
from indexer.rpc import RpcStopped, redact_url


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


def _record_status(url: str, what: str, write, *args) -> None:
    """Write figures for `indexer status` with write(conn, *args) (a store function), on a
    connection of its own; a failure only warns: status figures never fail a sync."""
    from indexer import store

    try:
        conn = store.connect(url)
        try:
            write(conn, *args)
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - status figures never fail a sync
        log.warning("could not record %s for `indexer status`: %s", what, str(exc).strip()[:200])


def _record_usage(url: str, chain_id: int, usage: dict) -> None:
    """The run's last RPC figures, for `indexer status` (after the last batch's)."""
    from indexer import store

    _record_status(url, "the RPC figures", store.record_rpc_usage, chain_id, usage)


class _PauseRecorder:
    """Writes a quota pause's start and end for `indexer status`, on a connection of its own:
    it runs in whichever thread met the quota, while the writer may be inside a transaction."""

    def __init__(self, url: str, chain_id: int):
        self.url, self.chain_id = url, chain_id

    def __call__(self, endpoint: str, until, reason: str | None) -> None:
        from indexer import store

        _record_status(self.url, "the quota pause", store.record_rpc_pause, self.chain_id,
                       endpoint, until, reason)


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

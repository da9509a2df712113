"""`indexer status`: how far each chain is, its RPC figures, and whether it is healthy."""

from __future__ import annotations

import click

from indexer.cli.app import Context, _database_url, _run, main, usage_text
from indexer.config import Config
from indexer.errors import IndexerError
from indexer.rpc import redact_text


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

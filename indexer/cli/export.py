"""`indexer export`: a view as CSV."""

from __future__ import annotations

import click

from indexer.cli.app import Context, UserError, _open_db, _run, main
from indexer.errors import IndexerError


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

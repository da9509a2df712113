"""`indexer report`: the HTML report with its charts."""

from __future__ import annotations

import click

from indexer.cli.app import Context, UserError, _database_url, _run, _StepLine, main
from indexer.errors import IndexerError


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

"""`indexer verify`: the stored figures against the chain, and `--repair`."""

from __future__ import annotations

import click

from indexer.cli.app import Context, UserError, _open_db, _run, main, usage_text
from indexer.errors import IndexerError


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

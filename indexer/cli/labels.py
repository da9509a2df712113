"""`indexer label`: names for addresses, used by the views."""

from __future__ import annotations

import click

from indexer.cli.app import Context, _open_db, _run, main


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

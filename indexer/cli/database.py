"""The database commands: `migrate`, `db-url`, `db-stop` and `readonly-role`."""

from __future__ import annotations

import click

from indexer.cli.app import Context, _database_url, _open_db, _run, main


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

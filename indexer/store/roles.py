"""The read-only role analysts log in with (`indexer grant-readonly`)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from indexer.errors import DatabaseError
from indexer.store.connection import _first_line


# What a read-only role could still use to create or write, however it got it: the database's
# CREATE (schemas) and TEMPORARY (temporary tables), CREATE on a schema, write privileges on a
# table or view. Each row: the privilege, the object, its owner, and the statements that owner
# must run when PUBLIC holds it (NULL: the role has it through a role it belongs to); they give
# the privilege back to the user running this, who may have relied on PUBLIC's (migrations
# create tables, and one makes a temporary table).
_READONLY_LEAKS = """
SELECT p, format('database %%I', d.datname), pg_get_userbyid(d.datdba),
       CASE WHEN has_database_privilege('public', d.oid, p)
            THEN format('REVOKE %%1$s ON DATABASE %%2$I FROM PUBLIC', p, d.datname)
                 || CASE WHEN pg_has_role(current_user, d.datdba, 'USAGE') THEN ''
                         ELSE format('; GRANT %%1$s ON DATABASE %%2$I TO %%3$I',
                                     p, d.datname, current_user) END END
FROM pg_database d CROSS JOIN unnest(ARRAY['CREATE', 'TEMPORARY']) p
WHERE d.datname = current_database() AND has_database_privilege(%(role)s, d.oid, p)
UNION ALL
SELECT 'CREATE', format('schema %%I', n.nspname), pg_get_userbyid(n.nspowner),
       CASE WHEN has_schema_privilege('public', n.oid, 'CREATE')
            THEN format('REVOKE CREATE ON SCHEMA %%I FROM PUBLIC', n.nspname)
                 || CASE WHEN pg_has_role(current_user, n.nspowner, 'USAGE') THEN ''
                         ELSE format('; GRANT CREATE ON SCHEMA %%I TO %%I',
                                     n.nspname, current_user) END END
FROM pg_namespace n
WHERE has_schema_privilege(%(role)s, n.oid, 'CREATE')
UNION ALL
SELECT p, format('table %%s', c.oid::regclass), pg_get_userbyid(c.relowner),
       CASE WHEN has_table_privilege('public', c.oid, p)
            THEN format('REVOKE %%s ON %%s FROM PUBLIC', p, c.oid::regclass) END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%'
  AND has_table_privilege(%(role)s, c.oid, p)
"""


def create_readonly_role(conn: psycopg.Connection, role: str, password: str | None) -> None:
    """A login role that can read every table, view and function of the schema, now and after
    later migrations, and can neither write nor create anything, even in a session that turns
    its default read-only mode off.

    PostgreSQL lets every role (PUBLIC) create temporary tables, and up to version 14 create in
    schema public: those two are revoked from PUBLIC (only the owner of the database or the
    schema, or a superuser, can). The owner keeps them, so the indexer's own user loses nothing.
    If anything would still let the role write or create, nothing is changed and the error
    names the statement to run. The password reaches the server only as a SCRAM verifier, never
    in the statement text (server logs, pg_stat_activity)."""
    ident = sql.Identifier(role)
    dbname = sql.Identifier(conn.info.dbname)
    owner = sql.Identifier(conn.info.user)
    pw = sql.SQL("")
    if password:
        verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
        pw = sql.SQL(" PASSWORD {}").format(sql.Literal(verifier.decode()))
    try:
        with conn.transaction():
            attributes = conn.execute(
                "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s",
                (role,)).fetchone()
            if attributes is None:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE{}")
                             .format(ident, pw))
            else:
                # Name only the attributes that change: naming one at all (even NOSUPERUSER)
                # needs a superuser, and a database owner with CREATEROLE updates its own
                # analysts' roles (a new password) too.
                off = [sql.SQL(kw) for on, kw in zip(
                    attributes, ("NOSUPERUSER", "NOCREATEDB", "NOCREATEROLE")) if on]
                conn.execute(sql.SQL("ALTER ROLE {} LOGIN{}{}").format(
                    ident, sql.SQL("").join(sql.SQL(" ") + kw for kw in off), pw))
            conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident))
            # Whatever an earlier grant gave the role goes first.
            conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(ident))
            conn.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(ident))
            conn.execute(sql.SQL("REVOKE CREATE, TEMPORARY ON DATABASE {} FROM {}").format(dbname, ident))
            conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(ident))
            # PostgreSQL's own defaults to every role. A REVOKE by a role that may not revoke
            # only warns: the check below finds what is left.
            temp, create = conn.execute(
                """SELECT has_database_privilege('public', current_database(), 'TEMPORARY'),
                          has_schema_privilege('public', 'public', 'CREATE')""").fetchone()
            if temp:
                conn.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(dbname))
            if create:
                conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(dbname, ident))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
            conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(ident))
            conn.execute(sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {}").format(ident))
            conn.execute(sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT ON TABLES TO {}"
            ).format(owner, ident))
            leaks = conn.execute(_READONLY_LEAKS, {"role": role}).fetchall()
            if leaks:
                raise _readonly_leak_error(role, leaks)
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot set up role {role}: {_first_line(exc)}") from None


def _readonly_leak_error(role: str, leaks: list[tuple]) -> DatabaseError:
    privilege, obj, obj_owner, fix = leaks[0]
    more = f" (and {len(leaks) - 1} more)" if len(leaks) > 1 else ""
    if fix:
        # pg_database_owner owns schema public since PostgreSQL 15: whoever owns the database.
        who = "the database's owner" if obj_owner == "pg_database_owner" else f"its owner {obj_owner}"
        how = (f"PUBLIC holds it and only {who} or a superuser can revoke that; run `{fix}` as "
               f"one of them, then this command again")
    else:
        how = "it holds it through a role it belongs to; revoke that membership, then run this again"
    return DatabaseError(f"role {role} would still hold {privilege} on {obj}{more}; nothing was "
                         f"changed: {how}")

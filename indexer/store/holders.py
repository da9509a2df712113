"""Labels and the holder queries `indexer verify` compares with the chain."""

from __future__ import annotations

import psycopg


def add_label(conn: psycopg.Connection, chain_id: int, address: str, name: str, kind: str) -> None:
    conn.execute(
        """INSERT INTO labels (chain_id, address, name, kind) VALUES (%s, %s, %s, %s)
           ON CONFLICT (chain_id, address) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind""",
        (chain_id, address, name, kind),
    )


def remove_label(conn: psycopg.Connection, chain_id: int, address: str) -> bool:
    return conn.execute(
        "DELETE FROM labels WHERE chain_id = %s AND address = %s", (chain_id, address)
    ).rowcount > 0


def list_labels(conn: psycopg.Connection, chain_id: int) -> list[tuple[str, str, str]]:
    return conn.execute(
        "SELECT address, name, kind FROM labels WHERE chain_id = %s ORDER BY kind, name", (chain_id,)
    ).fetchall()


def indexed_supply(conn: psycopg.Connection, chain_id: int, token: str, block: int) -> int:
    """Σ minted − Σ burned over Transfer logs up to `block` (the supply_at() function)."""
    row = conn.execute(
        """SELECT coalesce((SELECT supply FROM supply_at(%s) WHERE chain_id = %s AND token = %s), 0)""",
        (block, chain_id, token),
    ).fetchone()
    return int(row[0])


def indexed_balances(conn: psycopg.Connection, chain_id: int, token: str, block: int,
                     addresses: list[str]) -> dict[str, int]:
    """Balances at `block` summed from Transfer logs: one pass over the logs that touch any of
    `addresses` (through the per-address indexes when they exist)."""
    rows = dict(conn.execute(
        """SELECT v.address, sum(v.delta)
           FROM logs l
           CROSS JOIN LATERAL (VALUES (l.to_address, l.amount), (l.from_address, -l.amount))
                              AS v(address, delta)
           WHERE l.chain_id = %(c)s AND l.token = %(t)s AND l.event = 'Transfer'
             AND l.block_number <= %(b)s
             AND (l.from_address = ANY(%(a)s) OR l.to_address = ANY(%(a)s))
             AND v.address = ANY(%(a)s)
           GROUP BY v.address""",
        {"c": chain_id, "t": token, "b": block, "a": list(addresses)},
    ).fetchall())
    return {a: int(rows.get(a, 0)) for a in addresses}


def pick_holders(conn: psycopg.Connection, chain_id: int, token: str, top: int,
                 sample: int, seed: float) -> list[str]:
    """The `top` largest current holders plus a seeded random sample of `sample` others."""
    top_rows = conn.execute(
        """SELECT address FROM holder_state WHERE chain_id = %s AND token = %s AND balance > 0
           ORDER BY balance DESC, address LIMIT %s""",
        (chain_id, token, top),
    ).fetchall()
    chosen = [r[0] for r in top_rows]
    if sample > 0:
        with conn.transaction():
            conn.execute("SELECT setseed(%s)", (seed,))
            rest = conn.execute(
                """SELECT address FROM holder_state
                   WHERE chain_id = %s AND token = %s AND NOT (address = ANY(%s))
                   ORDER BY random() LIMIT %s""",
                (chain_id, token, chosen, sample),
            ).fetchall()
        chosen += [r[0] for r in rest]
    return chosen

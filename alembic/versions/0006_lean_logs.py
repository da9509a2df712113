"""Raw topics/data only where the decoded columns do not hold the whole log; both legs of a
Transfer from one scan.

Revision ID: 0006
Revises: 0005
"""

from pathlib import Path

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def upgrade() -> None:
    op.execute((SQL_DIR / "0006_lean_logs.sql").read_text())


# What the downgrade needs to rebuild a lean row's raw topics and data, per token and event:
# topic0, what each topic after it holds and what each 32-byte data word holds. A copy of
# indexer/tokens.py and indexer.decode._RAW_SHAPE as of this revision, for every event this
# revision's decoder stores without them (Upgraded and undecoded layouts keep theirs): those
# modules serve the code of their day and may change; what this revision wrote may not.
_TRANSFER = ("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
             ("from", "to"), ("amount",))
LEAN_EVENTS = {
    "PAXG": {
        "Transfer": _TRANSFER,
        "SupplyIncreased": ("0xf5c174d57843e57fea3c649fdde37f015ef08750759cbee88060390566a98797",
                            ("to",), ("amount",)),
        "SupplyDecreased": ("0x1b7e18241beced0d7f41fbab1ea8ed468732edbcb74ec4420151654ca71c8a63",
                            ("from",), ("amount",)),
        "FeeCollected": ("0xf228de527fc1b9843baac03b9a04565473a263375950e63435d4138464386f46",
                         ("from", "to"), ("amount",)),
        "FeeRateSet": ("0x959ec4191db1bd972bfbc60dc7d735d4cfb897ca3fd297f4ebd6ee918feb84d4",
                       ("old_fee_rate", "new_fee_rate"), ()),
        "FeeRecipientSet": ("0x15d80a013f22151bc7246e3bc132e12828cde19de98870475e3fa70840152721",
                            ("from", "to"), ()),
        "FrozenAddressWiped": ("0xfc5960f1c5a5d2b60f031bf534af053b1bf7d9881989afaeb8b1d164db23aede",
                               ("from",), ()),
        "AddressFrozen": ("0x90811a8edd3b3c17eeaefffc17f639cc69145d41a359c9843994dc2538203690",
                          ("from",), ()),
        "AddressUnfrozen": ("0xc3776b472ebf54114339eec9e4dc924e7ce307a97f5c1ee72b6d474e6e5e8b7c",
                            ("from",), ()),
        "SupplyControllerSet": ("0x40d53b0b666e4424f29d55244e7e171a1dc332acc11d04ed4abd884629d8cc97",
                                ("from", "to"), ()),
        "BetaDelegatedTransfer": (
            "0xe526c2818be85606ab8e0ea3f317c198ef15baabbb4430bcf2d836eed3c7769b",
            ("from", "to"), ("amount", "seq", "service_fee")),
        "FreezeAddress": ("0x1aa660498c83ea285bc55e4cfc00afcaa7120798db87b74f3c0d7c6e001bc392",
                          ("from",), ()),
        "UnfreezeAddress": ("0x150465b020dfc06a59269da94ed66db9b65a516cf4fdd5f583b0f12752339bbe",
                            ("from",), ()),
    },
    "XAUT": {
        "Transfer": _TRANSFER,
        "Mint": ("0x0f6798a560793a54c3bcfe86a93cde1e73087d944c0ea20544137d4121396885",
                 ("to",), ("amount",)),
        "Redeem": ("0x702d5967f45f6513a38ffc42d6ba9bf230bd40e8f53b16363c7eb4fd2deb9a44",
                   (), ("amount",)),
        "DestroyedBlockedFunds": (
            "0x6a2859ae7902313752498feb80a014e6e7275fe964c79aa965db815db1c7f1e9",
            ("from",), ("amount",)),
        "BlockPlaced": ("0x406bbf2d8d145125adf1198d2cf8a67c66cc4bb0ab01c37dccd4f7c0aae1e7c7",
                        ("from",), ()),
        "BlockReleased": ("0x665918c9e02eb2fd85acca3969cb054fc84c138e60ec4af22ab6ef2fd4c93c27",
                          ("from",), ()),
    },
}


def raw_fields(token: str, event: str, frm: str | None, to: str | None, amount: int | None,
               args: dict | None) -> tuple[list[str], str]:
    """The raw (topics, data) of a lean row, rebuilt from its decoded columns."""
    try:
        topic0, in_topics, in_data = LEAN_EVENTS[token][event]
    except KeyError:
        raise RuntimeError(f"revision 0006 does not know the layout of {token} {event} logs, "
                           "which a later version stored without their raw topics and data") from None
    values = {"from": frm, "to": to, "amount": amount, **(args or {})}

    def word(name: str) -> str:
        v = values[name]
        return "0" * 24 + v[2:] if name in ("from", "to") else f"{int(v):064x}"

    return [topic0, *("0x" + word(n) for n in in_topics)], "0x" + "".join(word(n) for n in in_data)


def downgrade() -> None:
    # Give every log its raw topics and data back, rebuilt from the decoded columns.
    conn = op.get_bind().connection.driver_connection
    conn.execute("""CREATE TEMP TABLE raw_back (chain_id integer, block_number bigint,
                    log_index integer, topics text[], data text) ON COMMIT DROP""")
    with conn.cursor(name="lean_logs") as rows, conn.cursor() as cur:
        rows.execute("""SELECT chain_id, block_number, log_index, token, event, from_address,
                               to_address, amount, args FROM logs WHERE topics IS NULL""")
        # One connection cannot fetch and COPY at once: a chunk at a time.
        while chunk := rows.fetchmany(50_000):
            with cur.copy("COPY raw_back FROM STDIN") as copy:
                for chain_id, block, index, token, event, frm, to, amount, args in chunk:
                    topics, data = raw_fields(token, event, frm, to, amount, args)
                    copy.write_row((chain_id, block, index, topics, data))
    conn.execute("""UPDATE logs l SET topics = r.topics, data = r.data FROM raw_back r
                    WHERE l.chain_id = r.chain_id AND l.block_number = r.block_number
                      AND l.log_index = r.log_index""")
    op.execute("ALTER TABLE logs ALTER COLUMN topics SET NOT NULL, ALTER COLUMN data SET NOT NULL")
    sql = (SQL_DIR / "0002_analytics.sql").read_text()
    start = sql.index("CREATE FUNCTION transfer_legs")
    op.execute("CREATE OR REPLACE" + sql[start + len("CREATE"):sql.index("$$;", start) + 3])

"""The floor: the fastest plain script we can write that moves the same logs from eth_getLogs
into PostgreSQL. No headers, no checks, no checkpoint, no indexes: only fetch, parse, decode
and COPY, so the indexer's rate can be read as a fraction of what this machine can do at all.

Per process: a fetch thread posts eth_getLogs over fixed 1,000-block ranges (the same filter as
the indexer: both token addresses, every topic0 it stores) and hands the raw bodies through a
bounded queue to the main thread, which parses them with orjson, decodes each log by hand into
a tab-separated line and streams everything through one COPY into an unindexed table. With
--procs N the block range is cut into N contiguous parts, one process (and one COPY) each.

The table has the `logs` table's columns except those that need a block header (block_time)
or neighbouring logs (is_fee, args), so both write about the same bytes.

Usage (run.py calls `measure`):
    .venv/bin/python benchmarks/floor.py --rpc-url http://127.0.0.1:8545 \\
        --database-url postgresql://... --addresses 0xA,0xB --from-block 1 --to-block 10000 --procs 2
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import queue
import threading
import time
from urllib.parse import urlsplit

import orjson
import psycopg
from eth_utils import keccak

RANGE_BLOCKS = 1_000
QUEUE_DEPTH = 4

# Every event the indexer stores (FACTS.md), with where its from/to/amount live:
# ("t", i) = topic i holds an address, ("d", i) = data word i holds the amount.
_EVENTS = {
    "Transfer(address,address,uint256)": ("Transfer", 1, 2, 0),
    "FeeCollected(address,address,uint256)": ("FeeCollected", 1, 2, 0),
    "SupplyIncreased(address,uint256)": ("SupplyIncreased", None, 1, 0),
    "Mint(address,uint256)": ("Mint", None, 1, 0),
    "SupplyDecreased(address,uint256)": ("SupplyDecreased", 1, None, 0),
    "DestroyedBlockedFunds(address,uint256)": ("DestroyedBlockedFunds", 1, None, 0),
    "Redeem(uint256)": ("Redeem", None, None, 0),
    "FeeRateSet(uint256,uint256)": ("FeeRateSet", None, None, None),
    "FeeRecipientSet(address,address)": ("FeeRecipientSet", 1, 2, None),
    "SupplyControllerSet(address,address)": ("SupplyControllerSet", 1, 2, None),
    "FrozenAddressWiped(address)": ("FrozenAddressWiped", 1, None, None),
    "AddressFrozen(address)": ("AddressFrozen", 1, None, None),
    "AddressUnfrozen(address)": ("AddressUnfrozen", 1, None, None),
    "FreezeAddress(address)": ("FreezeAddress", 1, None, None),
    "UnfreezeAddress(address)": ("UnfreezeAddress", 1, None, None),
    "BlockPlaced(address)": ("BlockPlaced", 1, None, None),
    "BlockReleased(address)": ("BlockReleased", 1, None, None),
    "BetaDelegatedTransfer(address,address,uint256,uint256,uint256)":
        ("BetaDelegatedTransfer", 1, 2, 0),
    "Upgraded(address)": ("Upgraded", None, None, None),
}
LAYOUTS = {"0x" + keccak(text=sig).hex(): spec for sig, spec in _EVENTS.items()}

COLUMNS = ("chain_id", "block_number", "log_index", "token", "block_hash", "tx_hash", "tx_index",
           "event", "from_address", "to_address", "amount", "topics", "data")
CREATE_TABLE = """
DROP TABLE IF EXISTS floor_logs;
CREATE TABLE floor_logs (
    chain_id integer NOT NULL, block_number bigint NOT NULL, log_index integer NOT NULL,
    token text NOT NULL, block_hash text NOT NULL, tx_hash text NOT NULL, tx_index integer NOT NULL,
    event text NOT NULL, from_address text, to_address text, amount numeric(78,0),
    topics text[], data text
)"""
COPY_SQL = f"COPY floor_logs ({', '.join(COLUMNS)}) FROM STDIN"


def prepare(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(CREATE_TABLE)


def decode(logs: list[dict], chain_id: int, symbols: dict[str, str]) -> str:
    """COPY text lines for `logs`. Hex fields are trusted: this is the floor, not the indexer."""
    out = []
    append = out.append
    layouts = LAYOUTS
    for lg in logs:
        t = lg["topics"]
        name, fi, ti, ai = layouts[t[0]]
        d = lg["data"]
        frm = "0x" + t[fi][26:] if fi is not None else "\\N"
        to = "0x" + t[ti][26:] if ti is not None else "\\N"
        amount = str(int(d[2 + 64 * ai:66 + 64 * ai], 16)) if ai is not None else "\\N"
        # The raw fields only where the indexer keeps them too (decode.py: Upgraded).
        raw = f"{{{','.join(t)}}}\t{d}" if name == "Upgraded" else "\\N\t\\N"
        append(f"{chain_id}\t{int(lg['blockNumber'], 16)}\t{int(lg['logIndex'], 16)}\t"
               f"{symbols[lg['address']]}\t{lg['blockHash']}\t{lg['transactionHash']}\t"
               f"{int(lg['transactionIndex'], 16)}\t{name}\t{frm}\t{to}\t{amount}\t{raw}\n")
    return "".join(out)


def _fetch(rpc_url: str, flt: dict, lo: int, hi: int, out: queue.Queue, errors: list) -> None:
    # http.client, not requests: one read() of the whole body instead of requests' 10 kB
    # chunks, about 20% less time for anvil's 60 MB answers.
    url = urlsplit(rpc_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    try:
        for a in range(lo, hi + 1, RANGE_BLOCKS):
            b = min(a + RANGE_BLOCKS - 1, hi)
            body = orjson.dumps({"jsonrpc": "2.0", "id": a, "method": "eth_getLogs",
                                 "params": [{**flt, "fromBlock": hex(a), "toBlock": hex(b)}]})
            conn.request("POST", url.path or "/", body=body,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            if resp.status != 200:
                raise RuntimeError(f"eth_getLogs {a}-{b}: HTTP {resp.status}")
            out.put(resp.read())
    except BaseException as exc:  # noqa: BLE001 - reported by the consumer
        errors.append(exc)
    finally:
        conn.close()
        out.put(None)


def worker(rpc_url: str, database_url: str, lo: int, hi: int, chain_id: int,
           tokens: dict[str, str], ready, go, results) -> None:
    """One process: fetch [lo, hi] in a thread, parse + decode + COPY in this one."""
    try:
        symbols = {addr.lower(): sym for addr, sym in tokens.items()}
        flt = {"address": sorted(symbols), "topics": [sorted(LAYOUTS)]}
        conn = psycopg.connect(database_url)
        q: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
        errors: list = []
        ready.put(True)
        go.wait()
        fetcher = threading.Thread(target=_fetch, args=(rpc_url, flt, lo, hi, q, errors),
                                   daemon=True)
        fetcher.start()
        n = 0
        with conn.cursor() as cur, cur.copy(COPY_SQL) as copy:
            while (body := q.get()) is not None:
                payload = orjson.loads(body)
                if "error" in payload:
                    raise RuntimeError(f"eth_getLogs: {payload['error']}")
                logs = payload["result"]
                n += len(logs)
                copy.write(decode(logs, chain_id, symbols))
        if errors:
            raise errors[0]
        conn.commit()
        conn.close()
        results.put((n, time.monotonic(), None))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent
        results.put((0, time.monotonic(), repr(exc)))


def measure(rpc_url: str, database_url: str, from_block: int, to_block: int, chain_id: int,
            tokens: dict[str, str], procs: int = 1) -> dict:
    """Run the floor with `procs` processes into a fresh `floor_logs` table; logs/s end to end
    (from the moment every process is connected to the moment the last COPY committed)."""
    prepare(database_url)
    ctx = mp.get_context("fork")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    span = to_block - from_block + 1
    # Contiguous parts cut at range boundaries, so both runs fetch the same ranges.
    n_ranges = -(-span // RANGE_BLOCKS)
    cuts = [from_block + (n_ranges * i // procs) * RANGE_BLOCKS for i in range(procs)] + [to_block + 1]
    workers = [ctx.Process(target=worker, args=(rpc_url, database_url, cuts[i], cuts[i + 1] - 1,
                                                chain_id, tokens, ready, go, results))
               for i in range(procs)]
    for w in workers:
        w.start()
    for _ in workers:
        ready.get(timeout=60)
    start = time.monotonic()
    go.set()
    done = [results.get() for _ in workers]
    for w in workers:
        w.join()
    failed = [err for _, _, err in done if err]
    if failed:
        raise RuntimeError(f"floor worker failed: {failed[0]}")
    seconds = max(t for _, t, _ in done) - start
    logs = sum(n for n, _, _ in done)
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT count(*) FROM floor_logs").fetchone()[0]
    return {"procs": procs, "logs": logs, "stored": stored, "seconds": round(seconds, 2),
            "logs_per_s": round(logs / seconds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rpc-url", required=True)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--addresses", required=True, help="PAXG address,XAUT address")
    ap.add_argument("--from-block", type=int, required=True)
    ap.add_argument("--to-block", type=int, required=True)
    ap.add_argument("--chain-id", type=int, default=31337)
    ap.add_argument("--procs", type=int, default=1)
    a = ap.parse_args()
    paxg, xaut = a.addresses.split(",")
    print(json.dumps(measure(a.rpc_url, a.database_url, a.from_block, a.to_block, a.chain_id,
                             {paxg: "PAXG", xaut: "XAUT"}, a.procs)))


if __name__ == "__main__":
    main()

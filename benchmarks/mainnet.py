"""Mainnet-shaped benchmark: `indexer sync --once` against a synthetic Ethereum mainnet (chain
id 1, PAXG and XAUT at their real addresses and start blocks, ~2.5M logs over 18M blocks, head
26.5M, and Chainlink's XAU/USD and PAXG/USD feeds, whose rounds the indexer reads by default)
behind provider profiles (no limits, Infura free, QuickNode, Alchemy pay-as-you-go, a public
endpoint, a batch-capped geth). Prints per profile: wall time, requests by method, batch
items, credits, the share of the free tier, refusals by kind, what the prices cost, and the
request floor beside them; writes everything to benchmarks/out/mainnet-<scale>.json.

Example:
    .venv/bin/python benchmarks/mainnet.py --scale 0.01 --profiles none,infura --max-seconds 120
    .venv/bin/python benchmarks/mainnet.py                       # full scale, every profile
    .venv/bin/python benchmarks/mainnet.py --timestamps both --profiles none
    .venv/bin/python benchmarks/mainnet.py --node-bench           # the node's own throughput
    .venv/bin/python benchmarks/mainnet.py --no-prices --profiles none   # without the feeds
    .venv/bin/python benchmarks/mainnet.py --scale 0.01 --profiles none \
        --set none.drop_share=0.02 --set none.drop_logs=2    # silent log drops, audited
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402
import psycopg  # noqa: E402
import requests  # noqa: E402

from benchmarks.run import (  # noqa: E402
    DONE_LINE, Watch, export_revision, fresh_database, git_state, postmaster_pid, with_database,
)
from benchmarks.synthnet.events import FEED_NAMES, PAXG_START, TOKENS  # noqa: E402
from benchmarks.synthnet.feeds import PRICES_DIGEST_SQL  # noqa: E402
from benchmarks.synthnet.providers import PROFILES, REFUSALS  # noqa: E402

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PYTHON = sys.executable
DEFAULT_PROFILES = "none,infura,quicknode,alchemy,public,geth"
CONFIRMATIONS = 12  # the indexer's default
STOP_GRACE_SECONDS = 60
VERIFY_BLOCK_SAMPLE = 300


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- the node --------------------------------------------------------------------------------

class NodeProcess:
    """benchmarks/synthnet/server.py as a subprocess, and its control endpoint."""

    def __init__(self, scale: float, seed: int, out_dir: Path, rebuild: bool = False,
                 lean_headers: bool = False):
        cmd = [PYTHON, "-m", "benchmarks.synthnet.server", "--scale", str(scale), "--seed", str(seed)]
        if rebuild:
            cmd.append("--rebuild")
        if lean_headers:
            cmd.append("--lean-headers")
        self.log_path = out_dir / "synthnet.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=self._log)
        self.url = None
        deadline = time.monotonic() + 1800  # generating scale 1 the first time takes a minute or two
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                raise RuntimeError(f"the synthetic node exited; see {self.log_path}")
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                break
        self.session = requests.Session()
        self.pid = self.proc.pid

    def control(self, **req) -> dict:
        r = self.session.post(self.url + "/_control", data=orjson.dumps(req), timeout=600)
        out = r.json()
        if r.status_code != 200:
            raise RuntimeError(f"synthnet control {req.get('op')}: {out}")
        return out

    def stop(self) -> None:
        try:
            self.control(op="shutdown")
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - then by force
            self.proc.kill()
            self.proc.wait()
        self._log.close()


# -- one run ---------------------------------------------------------------------------------

# The [rpc] settings a user who read the README's "Hosted providers" would write for each
# profile (its price list and its plan's budget); --unconfigured leaves them out.
CONFIGURED_RPC = {
    "infura": ['pricing = "infura"'],
    "quicknode": ['pricing = "quicknode"'],
    "alchemy": ['pricing = "alchemy"', "max_credits_per_second = 10000"],
    "public": ["max_credits_per_second = 10"],
}


def write_config(path: Path, rpc_url: str, database_url: str, sync_settings: list[str],
                 rpc_settings: list[str], prices: bool = True,
                 audit_settings: list[str] = ()) -> None:
    """Only what the run needs: the built-in defaults (chain id 1, both tokens at their real
    addresses and start blocks, Chainlink's two feeds, 12 confirmations) must work unchanged.
    `prices=False` turns the feeds off, to measure what they cost."""
    text = f'# Written by benchmarks/mainnet.py for one run.\n[rpc]\nurl = "{rpc_url}"\n'
    text += "".join(f"{s}\n" for s in rpc_settings)
    if sync_settings:
        text += "\n[sync]\n" + "".join(f"{s}\n" for s in sync_settings)
    if not prices:
        text += "\n[prices]\nenabled = false\n"
    if audit_settings:
        text += "\n[audit]\n" + "".join(f"{s}\n" for s in audit_settings)
    text += f'\n[database]\nurl = "{database_url}"\n'
    path.write_text(text)


def run_sync(config: Path, log_path: Path, roots: dict, max_seconds: float, src: Path) -> dict:
    """`indexer sync --once`, stopped with SIGTERM after max_seconds (then SIGKILL if it does
    not leave within a minute)."""
    cmd = [PYTHON, "-m", "indexer", "--config", str(config), "sync", "--once"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    stopped = killed = False
    with open(log_path, "wb") as log_file:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=src, stdout=log_file, stderr=subprocess.STDOUT, env=env)
        watch = Watch({**roots, "indexer": proc.pid}, rss_pid=proc.pid)
        watch.start()
        try:
            rc = proc.wait(timeout=max_seconds)
        except subprocess.TimeoutExpired:
            stopped = True
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                killed = True
                proc.kill()
                rc = proc.wait()
        wall = time.monotonic() - t0
        cpu = watch.finish()
    text = log_path.read_text(errors="replace")
    m = None
    for m in DONE_LINE.finditer(text):
        pass
    errors = [line for line in text.splitlines() if line.startswith("Error:")]
    out = {"exit_code": rc, "stopped": stopped, "killed": killed, "wall_seconds": round(wall, 1),
           "cpu_seconds": cpu, "peak_rss_mb": round(max(watch.peak_hwm, watch.peak_rss) / 2**20, 1),
           "error": errors[-1] if errors else None,
           "warnings": sum(1 for line in text.splitlines()
                           if "WARNING" in line or " failed (attempt" in line)}
    if m is not None:
        out.update({"events": int(m["events"]), "events_per_s": int(m["rate"]),
                    "sync_seconds": float(m["seconds"]), "rpc_requests": int(m["requests"]),
                    "rpc_retried": int(m["retried"])})
    return out


def stored_progress(database_url: str) -> dict:
    with psycopg.connect(database_url, autocommit=True) as conn:
        have = conn.execute("SELECT to_regclass('public.checkpoints') IS NOT NULL").fetchone()[0]
        if not have:
            return {"checkpoints": {}, "logs": {}, "blocks": 0}
        cps = dict(conn.execute("SELECT token, block_number FROM checkpoints").fetchall())
        logs = dict(conn.execute("SELECT token, count(*) FROM logs GROUP BY token").fetchall())
        blocks = conn.execute("SELECT count(*) FROM blocks").fetchone()[0]
    return {"checkpoints": cps, "logs": logs, "blocks": blocks}


# Row-for-row fingerprints of what a run stored, to compare runs of different profiles: every
# log (without its time, an estimate where logs lack blockTimestamp), every log's time, and the
# derived tables (without holder_state's times, which follow the logs' times).
DIGESTS = {
    "logs": """SELECT md5(string_agg(md5(concat_ws('|', chain_id, block_number, log_index, token,
                      block_hash, tx_hash, tx_index, event, from_address, to_address, amount,
                      is_fee, args, topics, data)), '' ORDER BY chain_id, block_number, log_index))
               FROM logs""",
    "times": """SELECT md5(string_agg(md5(concat_ws('|', block_number, log_index, block_time)), ''
                      ORDER BY chain_id, block_number, log_index)) FROM logs""",
    "derived": """SELECT md5(concat(
                      (SELECT string_agg(d::text, ',' ORDER BY d::text) FROM daily_stats d),
                      (SELECT string_agg(p::text, ',' ORDER BY p::text) FROM period_uniques p),
                      (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM token_totals t),
                      (SELECT string_agg(md5(concat_ws('|', token, address, balance, n_transfers,
                              first_block, last_block)), '' ORDER BY token, address)
                       FROM holder_state)))""",
    # Every stored round (its time comes from the log, so no estimate enters), and the feeds'
    # aggregators as read from the proxies.
    "prices": """SELECT md5(concat(
                      (SELECT string_agg(md5(concat_ws('|', chain_id, block_number, log_index, feed,
                              phase_id, round_id, answer, updated_at, block_hash, tx_hash)), ''
                              ORDER BY chain_id, block_number, log_index) FROM prices),
                      (SELECT string_agg(concat_ws('|', chain_id, feed, phase_id, aggregator,
                              start_block), ',' ORDER BY chain_id, feed, phase_id)
                       FROM price_aggregators)))""",
}
# What a finished run must show of the prices besides its rows (check_prices): the proxied
# rounds per feed, gold's latest answer, gold's daily closes and PAXG's premium to them.
PRICE_QUERIES = {
    "proxy_rounds": "SELECT feed, count(*) FROM price_rounds WHERE chain_id = 1 GROUP BY feed",
    "latest": """SELECT answer, round_id, extract(epoch FROM updated_at)::bigint
                 FROM gold_price_latest WHERE chain_id = 1""",
    "daily": """SELECT min(day)::text, max(day)::text, count(*), min(answer), max(answer),
                       (array_agg(answer ORDER BY day DESC))[1]
                FROM gold_price_daily WHERE chain_id = 1""",
    "premium": "SELECT max(abs(premium)) FROM paxg_premium_daily WHERE chain_id = 1",
}
# PAXG/USD is gold times a premium within +-1% (synthnet/feeds.py); a day's closes of the two
# feeds can lag it by their deviations (0.5% + 0.3%).
MAX_DAILY_PREMIUM = 0.018


def check_prices(conn, expected: dict) -> dict:
    """The stored prices against the history's (synthnet/feeds.py, expected_prices): rows
    per feed by count and digest, the rounds that were the proxy's answer, gold's latest
    answer, gold_price_daily's days and range, PAXG's premium."""
    want = expected["prices"]
    stored = {feed: (n, digest) for feed, n, digest in conn.execute(PRICES_DIGEST_SQL).fetchall()}
    proxied = dict(conn.execute(PRICE_QUERIES["proxy_rounds"]).fetchall())
    latest = conn.execute(PRICE_QUERIES["latest"]).fetchone()
    first_day, last_day, days, low, high, close = conn.execute(PRICE_QUERIES["daily"]).fetchone()
    premium = conn.execute(PRICE_QUERIES["premium"]).fetchone()[0]
    gold = want["XAU/USD"]
    out = {"feeds": {}, "problems": []}
    for feed in FEED_NAMES:
        n, digest = stored.get(feed, (0, None))
        w = want[feed]
        out["feeds"][feed] = {"rounds": n, "expected_rounds": w["rounds"],
                              "proxy_rounds": proxied.get(feed, 0),
                              "expected_proxy_rounds": w["proxy_rounds"], "digest": digest}
        if (n, digest) != (w["rounds"], w["digest"]):
            out["problems"].append(f"{feed}: {n:,} rounds stored, {w['rounds']:,} in the history"
                                   + ("" if n != w["rounds"] else ", digests differ"))
        if proxied.get(feed, 0) != w["proxy_rounds"]:
            out["problems"].append(f"{feed}: price_rounds has {proxied.get(feed, 0):,} rounds, "
                                   f"the proxy answered {w['proxy_rounds']:,}")
    last = gold["latest"]
    out["gold_latest"] = None if latest is None else int(latest[0])
    if latest is None or (int(latest[0]), str(int(latest[1])), int(latest[2])) != \
            (last["answer"], last["round_id"], last["updated_at"]):
        out["problems"].append(f"gold_price_latest {latest} is not the history's {last}")
    span = None
    if first_day is not None:
        from datetime import date
        span = (date.fromisoformat(last_day) - date.fromisoformat(first_day)).days + 1
    out["gold_daily"] = {"first": first_day, "last": last_day, "days": days, "close": close}
    if (first_day, last_day, days) != (gold["first_day"], expected["to_block_day"], span) \
            or close is None or int(close) != last["answer"] \
            or not gold["min_answer"] <= int(low) <= int(high) <= gold["max_answer"]:
        out["problems"].append(
            f"gold_price_daily: {days} days {first_day}..{last_day}, close {close}, answers "
            f"{low}..{high}; the history: from {gold['first_day']} to {expected['to_block_day']}, "
            f"close {last['answer']}, answers {gold['min_answer']}..{gold['max_answer']}")
    out["max_premium"] = None if premium is None else float(premium)
    if premium is None or abs(premium) > MAX_DAILY_PREMIUM:
        out["problems"].append(f"paxg_premium_daily: largest premium {premium}")
    out["ok"] = not out["problems"]
    return out


def verify_stored(node: NodeProcess, database_url: str, config: Path, target: int, src: Path,
                  out_dir: Path, tag: str, prices: bool = True) -> dict:
    """After a finished run: log counts per token against the history, the prices
    (check_prices) unless the run left them out, `indexer verify` (supply and balances by
    eth_call) against the unthrottled route, and a sample of stored blocks' hashes and times
    against the node's headers."""
    expected = node.control(op="expect", to_block=target, prices=prices)
    expect = expected["counts"]
    progress = stored_progress(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        fee_legs = conn.execute("SELECT count(*) FROM logs WHERE is_fee").fetchone()[0]
        estimated = conn.execute("SELECT count(*) FROM estimated_times").fetchone()[0]
        digests = {name: conn.execute(query).fetchone()[0] for name, query in DIGESTS.items()}
        price_check = check_prices(conn, expected) if prices else None
    result = {"expected_logs": expect, "stored_logs": progress["logs"],
              "counts_ok": all(progress["logs"].get(t, 0) == expect[t] for t in TOKENS),
              "fee_legs": fee_legs, "expected_fee_legs": expected["fee_legs"],
              "estimated_times": estimated, "digests": digests, "prices": price_check}
    node.control(op="ledger")
    plain = node.url + "/none/nots/0"
    vlog = out_dir / f"mainnet-verify-{tag}.log"
    r = subprocess.run([PYTHON, "-m", "indexer", "--config", str(config), "--rpc-url", plain, "verify",
                        "--top", "20", "--sample", "20"], cwd=src, capture_output=True, text=True)
    vlog.write_text(r.stdout + r.stderr)
    m = re.search(r"(\d+) of (\d+) checks agree", r.stdout)
    result["verify"] = {"exit_code": r.returncode, "agree": int(m.group(1)) if m else None,
                        "checks": int(m.group(2)) if m else None}
    with psycopg.connect(database_url, autocommit=True) as conn:
        # A time listed in estimated_times need only fall on the block's UTC day.
        rows = conn.execute("SELECT number, hash, extract(epoch FROM block_time)::bigint, "
                            "e.block_number IS NOT NULL FROM blocks b LEFT JOIN estimated_times e "
                            "ON e.chain_id = b.chain_id AND e.block_number = b.number "
                            "ORDER BY random() LIMIT %s", (VERIFY_BLOCK_SAMPLE,)).fetchall()
    calls = [{"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": [hex(n), False]}
             for i, (n, _, _, _) in enumerate(rows)]
    bad = 0
    if calls:
        answers = requests.post(plain, data=orjson.dumps(calls), timeout=120).json()
        by_id = {a["id"]: a["result"] for a in answers}
        for i, (n, h, t, estimate) in enumerate(rows):
            header = by_id[i]
            real = int(header["timestamp"], 16)
            if header["hash"] != h or (real // 86400 != t // 86400 if estimate else real != t):
                bad += 1
    result["blocks_checked"], result["blocks_bad"] = len(rows), bad
    result["ok"] = result["counts_ok"] and result["verify"]["exit_code"] == 0 and bad == 0 \
        and fee_legs == expected["fee_legs"] and (price_check is None or price_check["ok"])
    return result


def project(stats: dict, floor_done: dict, floor_all: dict) -> dict:
    """Extrapolate a stopped run to the whole history: each method's credits scale with what
    drives it (eth_getLogs with the floor's ranges, headers with the blocks holding logs)."""
    def frac(done, total):
        return done / total if total else 1.0

    f_logs = frac(floor_done["calls"]["eth_getLogs"], floor_all["calls"]["eth_getLogs"])
    f_heads = frac(floor_done["log_blocks"], floor_all["log_blocks"])
    used = stats["credits"] or 1
    calls_used = sum(m["calls"] for m in stats["methods"].values()) or 1
    projected = projected_calls = 0.0
    for method, m in stats["methods"].items():
        f = f_logs if method == "eth_getLogs" else f_heads if method == "eth_getBlockByNumber" else 1.0
        f = max(f, 1e-6)
        projected += m["credits"] / f
        projected_calls += m["calls"] / f
    return {"fraction_ranges": round(f_logs, 4), "fraction_log_blocks": round(f_heads, 4),
            "credits": round(projected), "calls": round(projected_calls),
            "factor": projected / used if stats["credits"] else projected_calls / calls_used}


def prices_cost(stats: dict, floor_all: dict, floor_tokens: dict) -> dict:
    """What reading the feeds cost the run: the eth_calls to their proxies and aggregators
    (phase discovery; counted by the node), and what they add to the floor (their logs' headers
    and result-cap ranges, the phase calls), as calls and credits and as a share of the floor
    without them. A run with --no-prices measures the indexer's own difference."""
    calls = {m: floor_all["calls"].get(m, 0) - floor_tokens["calls"].get(m, 0)
             for m in floor_all["calls"]}
    credits = floor_all["credits"] - floor_tokens["credits"]
    return {"feed_calls": stats.get("feed_calls", 0), "feed_credits": stats.get("feed_credits", 0),
            "floor_added_calls": calls, "floor_added_credits": credits,
            "floor_added_share": (round(credits / floor_tokens["credits"], 5)
                                  if floor_tokens["credits"] else None),
            "floor_added_linked_credits": floor_all["linked_credits"] - floor_tokens["linked_credits"]}


def measure_profile(node: NodeProcess, admin_url: str, profile_name: str, timestamps: bool | None,
                    args, roots: dict, src: Path, out_dir: Path, target: int) -> dict:
    route = node.control(op="open", profile=profile_name, timestamps=timestamps,
                         overrides=args.overrides.get(profile_name, {}))
    ts = route["timestamps"]
    tag = f"{profile_name}-{'ts' if ts else 'nots'}"
    say(f"[{tag}] route {route['path']}")
    prices = not args.no_prices
    overrides = args.overrides.get(profile_name, {})
    floor_all = node.control(op="floor", profile=profile_name, timestamps=ts, to_block=target,
                             overrides=overrides, prices=prices)
    # The same floor without the price feeds: what reading them adds at the least.
    floor_tokens = node.control(op="floor", profile=profile_name, timestamps=ts, to_block=target,
                                overrides=overrides, prices=False) if prices else floor_all
    database_url = fresh_database(admin_url, "bench_mainnet")
    config = (out_dir / f"mainnet-{tag}.toml").resolve()
    user_rpc = [] if args.unconfigured else CONFIGURED_RPC.get(profile_name, [])
    if args.fallback:
        # A second endpoint: the same node through another profile's route, without the
        # --set changes (drops) of the first, for sync.cross_check and the audits' refetches.
        second = node.control(op="open", profile=args.fallback, timestamps=ts, overrides={})
        user_rpc = user_rpc + [f'fallback_urls = ["{node.url + second["path"]}"]']
        say(f"[{tag}] fallback route {second['path']} ({args.fallback}, no --set changes)")
    write_config(config, node.url + route["path"], database_url, args.sync_set,
                 user_rpc + args.rpc_set, prices=prices, audit_settings=args.audit_set)
    say(f"[{tag}] indexer sync --once (at most {args.max_seconds:g}s)...")
    sync = run_sync(config, out_dir / f"mainnet-sync-{tag}.log", roots, args.max_seconds, src)
    stats = node.control(op="stats", path=route["path"])
    progress = stored_progress(database_url)
    result = {"profile": profile_name, "title": PROFILES[profile_name].title, "timestamps": ts,
              "route": route["path"], "sync": sync, "node": stats, "floor": floor_all,
              "stored": progress, "target_block": target, "prices": prices,
              "prices_cost": prices_cost(stats, floor_all, floor_tokens) if prices else None}
    finished = sync["exit_code"] == 0 and not sync["stopped"]
    cps = progress["checkpoints"]
    reached = min(cps.values()) if len(cps) == len(TOKENS) else (cps.get("PAXG") if cps else None)
    result["reached_block"] = reached
    drops = injected_drops(stats)
    if drops:
        result["drops_injected"] = drops
        say(f"[{tag}] drops injected {drops['answers']:,} ({drops['logs']:,} logs)")
    if finished:
        say(f"[{tag}] done in {sync['wall_seconds']}s; verifying...")
        result["verify"] = verify_stored(node, database_url, config, target, src, out_dir, tag,
                                         prices=prices)
        # The check's verdict beside what it had to survive: logs = history after N drops.
        result["verify"]["drops_injected"] = drops["answers"] if drops else 0
    elif reached is not None and reached > PAXG_START:
        floor_done = node.control(op="floor", profile=profile_name, timestamps=ts, to_block=reached,
                                  overrides=overrides, prices=prices)
        expect_done = node.control(op="expect", to_block=reached)["total"]
        expect_all = node.control(op="expect", to_block=target)["total"]
        proj = project(stats, floor_done, floor_all)
        result["progress"] = {
            "block_fraction": round((reached - PAXG_START) / (target - PAXG_START), 4),
            "log_fraction": round(expect_done / expect_all, 4) if expect_all else None,
            "projected": proj,
            "eta_seconds": round(sync["wall_seconds"] * (proj["factor"] - 1)),
        }
    state = "done" if finished else ("stopped" if sync["stopped"] else f"exit {sync['exit_code']}")
    say(f"[{tag}] {state}; {stats['http_requests']:,} HTTP requests, {stats['credits']:,} "
        f"{PROFILES[profile_name].unit}")
    return result


def injected_drops(stats: dict) -> dict | None:
    """The silent log drops the route injected (providers.py, drop_*): eth_getLogs answers
    that lost logs and the logs lost, or None if it injected none."""
    d = stats.get("drops") or {}
    return {"answers": d["answers"], "logs": d["logs"]} if d.get("answers") else None


# -- the report ------------------------------------------------------------------------------

def _n(x) -> str:
    return f"{x:,}" if isinstance(x, int) else str(x)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def _refusals(m: dict) -> str:
    r = m.get("refused") or {}
    parts = [f"{k} {r[k]:,}" for k in REFUSALS if r.get(k)]
    return "; ".join(parts)


def _share(refused: int, calls: int) -> str:
    return f"{100 * refused / calls:.1f}%" if calls else "-"


# Rows of the table, in order; a run fills those that apply to it.
ROWS = (
    "profile", "result", "progress", "error", "wall time", "ETA whole history",
    "HTTP requests", "eth_getLogs", "  eth_getLogs refused", "headers", "  headers refused",
    "other calls", "  other refused", "refused, % of calls", "drops injected",
    "batches (items, largest)", "MB served",
    "credits", "share of free tier", "whole history, projected",
    "floor: eth_getLogs + headers", "floor: credits", "floor: time at the rate limit",
    "floor: share of free tier", "calls / floor", "prices: phase calls", "prices: floor adds",
    "check", "check: prices", "digests (logs/times/derived/prices)", "peak RSS of the indexer",
    "CPU s indexer/node/pg/others",
)


def column(r: dict) -> dict[str, str]:
    p = PROFILES[r["profile"]]
    s, sync, fl = r["node"], r["sync"], r["floor"]
    col: dict[str, str] = {}
    col["profile"] = f"{r['profile']} ({'ts' if r['timestamps'] else 'no ts'})"
    pr = r.get("progress") or {}
    if "verify" in r:
        col["result"] = "done, correct" if r["verify"]["ok"] else "done, WRONG (see the JSON)"
    else:
        how = "stopped" if sync["stopped"] else f"failed (exit {sync['exit_code']})"
        reached = r.get("reached_block")
        col["result"] = f"{how} at {reached:,}" if reached else f"{how}, nothing stored"
        if pr:
            col["progress"] = f"{pr['block_fraction']:.1%} of blocks, {pr['log_fraction']:.1%} of logs"
    if sync.get("error"):
        error = sync["error"].removeprefix("Error: ")
        col["error"] = error[:44] + ("..." if len(error) > 44 else "")
    col["wall time"] = f"{sync['wall_seconds']:,.0f} s" + (
        f" ({sync['events_per_s']:,} events/s)" if sync.get("events") else "")
    stopped = bool(pr) and sync["stopped"]
    if stopped:
        col["ETA whole history"] = "~" + _duration(pr["eta_seconds"] + sync["wall_seconds"])
    col["HTTP requests"] = _n(s["http_requests"]) + (
        f" ({sync['rpc_retried']:,} retried)" if "rpc_retried" in sync else "")
    methods = s["methods"]
    all_calls = sum(m["calls"] for m in methods.values())
    for name, label in (("eth_getLogs", "eth_getLogs"), ("eth_getBlockByNumber", "headers")):
        m = methods.get(name, {"calls": 0})
        col[label] = _n(m["calls"])
        if m.get("refused"):
            col[f"  {label} refused"] = _refusals(m)
    others = {k: v for k, v in methods.items() if k not in ("eth_getLogs", "eth_getBlockByNumber")}
    col["other calls"] = ", ".join(f"{k.replace('eth_', '')} {v['calls']:,}"
                                   for k, v in others.items()) or "-"
    refused_other = "; ".join(f"{k.replace('eth_', '')}: {_refusals(v)}"
                              for k, v in others.items() if v.get("refused"))
    if refused_other:
        col["  other refused"] = refused_other
    total_refused = {k: sum(m.get("refused", {}).get(k, 0) for m in methods.values()) for k in REFUSALS}
    col["refused, % of calls"] = ", ".join(f"{k} {_share(v, all_calls)}"
                                           for k, v in total_refused.items() if v) or "none"
    drops = r.get("drops_injected")
    if drops:
        col["drops injected"] = f"{drops['answers']:,} answers ({drops['logs']:,} logs)"
    col["batches (items, largest)"] = f"{s['batches']:,} ({s['batch_items']:,}, {s['largest_batch']:,})"
    col["MB served"] = f"{s['bytes_out'] / 2**20:,.0f}"
    col["credits"] = f"{s['credits']:,} {p.unit}"
    if p.free_tier:
        period, units = p.free_tier
        col["share of free tier"] = f"{s['credits'] / units:.1%} of a {period}"
    if stopped:
        pc = pr["projected"]["credits"]
        col["whole history, projected"] = f"{pc:,} {p.unit}" + (
            f" ({pc / p.free_tier[1]:,.1f} {p.free_tier[0]}s of free tier)" if p.free_tier else "")
    calls = fl["calls"]
    col["floor: eth_getLogs + headers"] = (f"{calls['eth_getLogs']:,} + {calls['eth_getBlockByNumber']:,}"
                                           f" (+{fl['linked_extra_headers']:,} linked)")
    col["floor: credits"] = f"{fl['credits']:,}" + (
        f" ({fl['linked_credits']:,} linked)" if fl["linked_extra_headers"] else "")
    if p.rate:
        col["floor: time at the rate limit"] = _duration(fl["seconds_at_rate"])
    if p.free_tier:
        col["floor: share of free tier"] = f"{fl['free_tier_share']:.1%} of a {fl['free_tier_period']}"
    if stopped:
        col["calls / floor"] = f"{pr['projected']['calls'] / max(1, fl['total_calls']):,.1f}x (projected)"
    elif "verify" in r:
        col["calls / floor"] = f"{all_calls / max(1, fl['total_calls']):,.1f}x"
    pc = r.get("prices_cost")
    if pc:
        col["prices: phase calls"] = f"{pc['feed_calls']:,} eth_call ({pc['feed_credits']:,} {p.unit})"
        added = ", ".join(f"+{n:,} {'headers' if m == 'eth_getBlockByNumber' else m}"
                          for m, n in pc["floor_added_calls"].items() if n)
        share = pc["floor_added_share"]
        col["prices: floor adds"] = f"{added or 'nothing'}: +{pc['floor_added_credits']:,} {p.unit}" + (
            f" ({share:.2%})" if share is not None else "")
    elif "prices" in r and not r["prices"]:
        col["prices: phase calls"] = "off (--no-prices)"
    if "verify" in r:
        v = r["verify"]
        good_blocks = v["blocks_checked"] - v["blocks_bad"]
        fees = v.get("fee_legs")
        col["check"] = (f"logs {'=' if v['counts_ok'] else '!='} history, verify {v['verify']['agree']}/"
                        f"{v['verify']['checks']}, {good_blocks}/{v['blocks_checked']} blocks, fee legs "
                        f"{fees:,} {'=' if fees == v.get('expected_fee_legs') else '!='} "
                        f"{v.get('expected_fee_legs') or 0:,}"
                        + (f", {v['estimated_times']:,} times estimated" if v.get("estimated_times")
                           else "")
                        + (f", drops injected {v['drops_injected']:,}" if v.get("drops_injected")
                           else ""))
        pv = v.get("prices")
        if pv:
            rounds = "/".join(f"{f['rounds']:,}" for f in pv["feeds"].values())
            proxied = "/".join(f"{f['proxy_rounds']:,}" for f in pv["feeds"].values())
            gold = pv.get("gold_latest")
            col["check: prices"] = (
                f"rounds {rounds} {'=' if pv['ok'] else '!='} history, {proxied} proxied, gold "
                + (f"{gold / 1e8:,.2f}" if gold is not None else "-")
                + (f"; {pv['problems'][0][:60]}" if pv["problems"] else ""))
        if v.get("digests"):
            col["digests (logs/times/derived/prices)"] = "/".join(
                (v["digests"].get(k) or "-")[:8] for k in ("logs", "times", "derived", "prices"))
    col["peak RSS of the indexer"] = f"{sync['peak_rss_mb']:,.0f} MB"
    cpu = sync["cpu_seconds"]
    col["CPU s indexer/node/pg/others"] = " / ".join(
        str(cpu.get(k, "-")) for k in ("indexer", "node", "postgres", "others"))
    return col


def table(results: list[dict], markdown: bool = False) -> str:
    cols = [column(r) for r in results]
    labels = [k for k in ROWS if any(k in c for c in cols)]
    if markdown:
        lines = ["| " + " | ".join(["", *(c["profile"] for c in cols)]) + " |",
                 "|" + "---|" * (len(cols) + 1)]
        for k in labels[1:]:
            cells = [k.strip(), *(c.get(k, "").replace("|", "/") for c in cols)]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)
    w0 = max(len(x) for x in labels)
    widths = [max(len(c.get(k, "")) for k in labels) for c in cols]
    return "\n".join(f"{k:<{w0}}  " + "  ".join(f"{c.get(k, ''):<{w}}" for c, w in zip(cols, widths))
                     for k in labels)


# -- node throughput -------------------------------------------------------------------------

def node_bench(node: NodeProcess, out_dir: Path) -> dict:
    """How fast the node serves with no profile, to a plain client: every scanned log by
    eth_getLogs in ranges of at most 10,000 logs, then every log block's header in batches of
    250. Counts the node's CPU seconds too."""
    info = node.control(op="info")
    head = info["head"]
    url = node.url + "/none/nots/0"
    session = requests.Session()
    results = {}
    ranges = []
    pos = PAXG_START
    # Ranges of about 10,000 logs, from the floor's greedy cover with a 10,000-result cap.
    fl = node.control(op="floor", profile="none", timestamps=True, to_block=head,
                      overrides={"result_cap": 10_000})
    n_ranges = fl["calls"]["eth_getLogs"]
    step = max(1, (head - PAXG_START) // max(1, n_ranges))
    while pos <= head:
        ranges.append((pos, min(head, pos + step - 1)))
        pos += step
    import psutil

    from benchmarks.synthnet.events import INDEXER_SCANNED, SOURCE_ADDRESSES, TOPIC0

    # The indexer's filter: the tokens' events and the aggregators' AnswerUpdated.
    topics = sorted({TOPIC0[k] for k in INDEXER_SCANNED})

    proc = psutil.Process(node.pid)
    c0 = sum(proc.cpu_times()[:2])
    t0 = time.monotonic()
    n_logs = n_bytes = 0
    blocks_with_logs: list[int] = []
    for i, (a, b) in enumerate(ranges):
        body = orjson.dumps({"jsonrpc": "2.0", "id": i, "method": "eth_getLogs",
                             "params": [{"fromBlock": hex(a), "toBlock": hex(b),
                                         "address": list(SOURCE_ADDRESSES), "topics": [topics]}]})
        r = session.post(url, data=body, headers={"Content-Type": "application/json"})
        n_bytes += len(r.content)
        logs = orjson.loads(r.content)["result"]
        n_logs += len(logs)
        last = -1
        for log in logs:
            n = int(log["blockNumber"], 16)
            if n != last:
                blocks_with_logs.append(n)
                last = n
    t1 = time.monotonic()
    c1 = sum(proc.cpu_times()[:2])
    results["logs"] = {"calls": len(ranges), "logs": n_logs, "seconds": round(t1 - t0, 2),
                       "logs_per_s": round(n_logs / (t1 - t0)), "mb": round(n_bytes / 2**20),
                       "node_cpu_seconds": round(c1 - c0, 2),
                       "node_cpu_us_per_log": round(1e6 * (c1 - c0) / max(1, n_logs), 2)}
    say(f"node bench: {n_logs:,} logs in {t1 - t0:.1f}s ({n_logs / (t1 - t0):,.0f} logs/s; "
        f"node CPU {c1 - c0:.1f}s)")
    blocks_with_logs = sorted(set(blocks_with_logs))
    n_bytes = 0
    t0, c0 = time.monotonic(), c1
    for start in range(0, len(blocks_with_logs), 250):
        part = blocks_with_logs[start:start + 250]
        body = orjson.dumps([{"jsonrpc": "2.0", "id": j, "method": "eth_getBlockByNumber",
                              "params": [hex(n), False]} for j, n in enumerate(part)])
        r = session.post(url, data=body, headers={"Content-Type": "application/json"})
        n_bytes += len(r.content)
        orjson.loads(r.content)
    t1 = time.monotonic()
    c1 = sum(proc.cpu_times()[:2])
    nh = len(blocks_with_logs)
    results["headers"] = {"headers": nh, "seconds": round(t1 - t0, 2), "headers_per_s": round(nh / (t1 - t0)),
                          "mb": round(n_bytes / 2**20), "node_cpu_seconds": round(c1 - c0, 2),
                          "node_cpu_us_per_header": round(1e6 * (c1 - c0) / max(1, nh), 2)}
    say(f"node bench: {nh:,} headers in {t1 - t0:.1f}s ({nh / (t1 - t0):,.0f} headers/s, "
        f"{n_bytes / 2**20:,.0f} MB; node CPU {c1 - c0:.1f}s)")
    return results


# -- main ------------------------------------------------------------------------------------

def parse_overrides(items: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for item in items:
        key, _, value = item.partition("=")
        profile, _, field = key.partition(".")
        if profile not in PROFILES or not field or not _:
            raise SystemExit(f"--set wants PROFILE.KEY=VALUE with PROFILE one of "
                             f"{', '.join(PROFILES)}: {item!r}")
        out.setdefault(profile, {})[field] = value
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="share of mainnet's logs (and holders), over the same 18M blocks (default 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profiles", default=DEFAULT_PROFILES,
                    help=f"comma-separated, of: {', '.join(PROFILES)} (default: all)")
    ap.add_argument("--timestamps", choices=("profile", "with", "without", "both"), default="profile",
                    help="logs with blockTimestamp: as the provider does (profile), always, never, "
                         "or both as separate rows")
    ap.add_argument("--max-seconds", type=float, default=900,
                    help="stop each sync after this long (SIGTERM) and extrapolate (default 900)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="PROFILE.KEY=VALUE",
                    help="change a profile figure, e.g. infura.daily_quota=200000, or inject silent "
                         "log drops: none.drop_share=0.02 none.drop_logs=2 [none.drop_tail=true] "
                         "[none.drop_max=10] [none.drop_events=Transfer] (repeatable)")
    ap.add_argument("--sync-set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra [sync] setting for the indexer (repeatable)")
    ap.add_argument("--rpc-set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra [rpc] setting for the indexer (repeatable)")
    ap.add_argument("--unconfigured", action="store_true",
                    help="leave out the [rpc] pricing and budget a user would set for each "
                         "profile (CONFIGURED_RPC): what an unconfigured sync does")
    ap.add_argument("--database-url", default=None,
                    help="a PostgreSQL server to use (the benchmark creates and drops bench_mainnet on "
                         "it) instead of the embedded one in benchmarks/out/pg")
    ap.add_argument("--rev", default=None, help="run the indexer from this git revision")
    ap.add_argument("--src", type=Path, default=None, help="run the indexer from this source tree")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON result (default benchmarks/out/mainnet-<scale>.json)")
    ap.add_argument("--node-bench", action="store_true", help="measure the node's own throughput only")
    ap.add_argument("--report", type=Path, default=None, metavar="JSON",
                    help="print the table of an earlier run's JSON and exit (with --markdown: as markdown)")
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown")
    ap.add_argument("--rebuild", action="store_true", help="regenerate the history even if cached")
    ap.add_argument("--fallback", default=None, metavar="PROFILE",
                    help="give the indexer a second endpoint: a route of PROFILE on the same node, "
                         "without the --set changes of the profile measured (e.g. with drops and "
                         "--sync-set cross_check=1)")
    ap.add_argument("--audit-set", action="append", default=[], metavar="KEY=VALUE",
                    help="an [audit] setting for the indexer, e.g. enabled=false (repeatable): with "
                         "a run that audits, what the audits cost")
    ap.add_argument("--no-prices", action="store_true",
                    help="turn the indexer's price feeds off ([prices] enabled = false): with a run "
                         "that reads them, what they cost")
    ap.add_argument("--lean-headers", action="store_true",
                    help="headers list only the token transactions (~1.5 KB) instead of mainnet's "
                         "~170 transaction hashes (~14 KB): a devnet's shape, for comparisons")
    args = ap.parse_args()
    if args.report:
        print(table(json.loads(args.report.read_text())["runs"], markdown=args.markdown))
        return
    args.overrides = parse_overrides(args.overrides)
    names = [p.strip() for p in args.profiles.split(",") if p.strip()]
    unknown = [p for p in names if p not in PROFILES]
    if unknown:
        raise SystemExit(f"unknown profile(s) {', '.join(unknown)}; known: {', '.join(PROFILES)}")
    out_dir = BENCH / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    lean = "-lean" if args.lean_headers else ""
    out_path = (args.out or out_dir / f"mainnet-{args.scale:g}{lean}.json").resolve()
    confirmations = CONFIRMATIONS
    for s in args.sync_set:
        k, _, v = s.partition("=")
        if k.strip() == "confirmations":
            confirmations = int(v)

    load = os.getloadavg()
    if load[0] > 0.5:
        say(f"warning: load average {load[0]:.2f} before the run: other work on this machine "
            "lowers the figures")
    say(f"synthetic node (scale {args.scale:g}, seed {args.seed})...")
    node = NodeProcess(args.scale, args.seed, out_dir, rebuild=args.rebuild, lean_headers=args.lean_headers)
    result: dict = {"command": " ".join([Path(PYTHON).name, *sys.argv]), "git": git_state(),
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "load_before": [round(x, 2) for x in load]},
                    "scale": args.scale, "seed": args.seed, "lean_headers": args.lean_headers}
    try:
        info = node.control(op="info")
        result["history"] = info
        if args.node_bench:
            result["node_bench"] = node_bench(node, out_dir)
            out_path = out_path.with_name(out_path.stem + "-node.json")
            out_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
            say(f"wrote {out_path}")
            return
        target = info["head"] - confirmations
        if args.database_url:
            admin_url, pg_pid = args.database_url, None
        else:
            from indexer import pgserver

            pg_dir = BENCH / "out" / "pg"
            server = pgserver.start(pg_dir, keep_running=False)
            admin_url = with_database(server.url, "postgres")
            pg_pid = postmaster_pid(pg_dir / "pgdata")
        src = export_revision(args.rev, out_dir) if args.rev else (args.src or REPO).resolve()
        result["git"]["sync_source"] = args.rev or (str(args.src) if args.src else "working tree")
        roots = {"node": node.pid, "postgres": pg_pid}
        runs = []
        for name in names:
            modes = {"profile": [None], "with": [True], "without": [False],
                     "both": [False, True]}[args.timestamps]
            for ts in modes:
                runs.append(measure_profile(node, admin_url, name, ts, args, roots, src, out_dir, target))
                result["runs"] = runs
                out_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    finally:
        node.stop()
    text = table(result["runs"])
    result["table"] = text
    out_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(table(result["runs"], markdown=True) if args.markdown else text)
    say(f"wrote {out_path}")


if __name__ == "__main__":
    main()

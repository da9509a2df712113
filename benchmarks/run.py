"""Backfill throughput of `indexer sync` against this machine's floor, on a 1M-log devnet chain.

Steps: build (or load from benchmarks/cache/) an anvil chain with PAXG- and XAUT-shaped logs;
measure the floor (benchmarks/floor.py) with 1 and 2 processes; run `indexer sync --once`
end to end into a fresh database (events/s, wall time, peak RSS, RPC requests, CPU seconds of
the indexer, anvil and PostgreSQL); time every analytics view; optionally profile the sync
with py-spy. Prints one table and writes it as JSON.

Example:
    .venv/bin/python benchmarks/run.py                      # 1M logs, ~100k holders, 6 years
    .venv/bin/python benchmarks/run.py --days 3             # the same logs in 3 UTC days
    .venv/bin/python benchmarks/run.py --logs 100000 --profile
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from benchmarks import chain as bench_chain  # noqa: E402
from benchmarks import floor, sync_profile, views  # noqa: E402

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PYTHON = sys.executable
DONE_LINE = re.compile(
    r"done: (?P<events>\d+) events in (?P<blocks>\d+) blocks, (?P<seconds>[\d.]+)s "
    r"\((?P<rate>\d+) events/s\), (?P<requests>\d+) RPC requests \((?P<retried>\d+) retried\)")
BATCH_LINE = re.compile(r"blocks \d+-\d+: \d+ events")
LOG_LINE = re.compile(r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "
                      r"(?:.*blocks \d+-\d+: (?P<events>\d+) events)?", re.M)
POLL_SECONDS = 0.1
PROFILE_RATE_HZ = 100


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- PostgreSQL ----------------------------------------------------------------------------------

def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def fresh_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# -- CPU and memory watching ---------------------------------------------------------------------

class Watch(threading.Thread):
    """Samples CPU seconds of process trees (a root pid and its descendants), the whole
    machine's busy CPU, and the peak RSS of one process, until stopped."""

    def __init__(self, roots: dict[str, int | None], rss_pid: int | None = None):
        super().__init__(daemon=True)
        self.roots = {k: v for k, v in roots.items() if v}
        self.rss_pid = rss_pid
        self.cpu: dict[tuple[str, int], float] = {}
        self.base: dict[tuple[str, int], float] = {}
        self.peak_rss = 0
        self.peak_hwm = 0
        self._halt = threading.Event()
        self._machine0 = self._machine_busy()
        self._sample(first=True)

    @staticmethod
    def _machine_busy() -> float:
        t = psutil.cpu_times()
        return t.user + t.system + getattr(t, "nice", 0) + getattr(t, "irq", 0) \
            + getattr(t, "softirq", 0)

    def _sample(self, first: bool = False) -> None:
        claimed: set[int] = set()  # a process counts once, under the first root that has it
        for name, pid in self.roots.items():
            try:
                root = psutil.Process(pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for p in procs:
                if p.pid in claimed:
                    continue
                claimed.add(p.pid)
                try:
                    t = p.cpu_times()
                except psutil.Error:
                    continue
                key = (name, p.pid)
                value = t.user + t.system
                if first:
                    self.base[key] = value
                self.cpu[key] = value
        if self.rss_pid:
            try:
                self.peak_rss = max(self.peak_rss, psutil.Process(self.rss_pid).memory_info().rss)
                with open(f"/proc/{self.rss_pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.peak_hwm = max(self.peak_hwm, int(line.split()[1]) * 1024)
            except (psutil.Error, OSError, ValueError):
                pass

    def run(self) -> None:
        while not self._halt.wait(POLL_SECONDS):
            self._sample()

    def finish(self) -> dict:
        self._sample()
        self._halt.set()
        out = {}
        for name in self.roots:
            out[name] = round(sum(v - self.base.get(k, 0.0) for k, v in self.cpu.items()
                                  if k[0] == name), 1)
        out["machine"] = round(self._machine_busy() - self._machine0, 1)
        out["others"] = round(out["machine"] - sum(out[n] for n in self.roots), 1)
        return out


# -- the sync ------------------------------------------------------------------------------------

def write_config(path: Path, rpc_url: str, database_url: str, meta: dict,
                 sync_settings: list[str]) -> None:
    sync_lines = "\n".join(["confirmations = 0", *sync_settings])
    text = f"""# Written by benchmarks/run.py for one benchmark run.
[rpc]
url = "{rpc_url}"

[chain]
id = {meta['chain_id']}

[sync]
{sync_lines}

[database]
url = "{database_url}"

# An anvil loaded from a dump holds the state of its last block only, so it cannot answer the
# audits' eth_call at past blocks (and says so in words the indexer reads as "node behind").
# The floor audits nothing either.
[audit]
enabled = false
"""
    for symbol in ("PAXG", "XAUT"):
        t = meta[symbol.lower()]
        text += f"""
[tokens.{symbol}]
address = "{t['address']}"
start_block = {t['start_block']}
decimals = {t['decimals']}
"""
    path.write_text(text)


def export_revision(rev: str, out_dir: Path) -> Path:
    """The indexer's sources at git revision `rev`, exported (git archive) under out_dir: the
    sync can then run committed code while the working tree is being edited."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout.strip()
    dest = out_dir / f"src-{sha}"
    if not dest.exists():
        tmp = out_dir / f"src-{sha}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", sha], cwd=REPO, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        tmp.rename(dest)
    return dest


def run_sync(config: Path, log_path: Path, roots: dict[str, int | None],
             profile_raw: Path | None = None, src: Path = REPO) -> dict:
    """`indexer sync --once` as a subprocess (optionally under py-spy); its figures. `src` is
    the source tree to run (its `indexer` package comes first on the path: `python -m` puts
    the working directory there)."""
    cmd = [PYTHON, "-m", "indexer", "--config", str(config), "sync", "--once"]
    if profile_raw is not None:
        pyspy = shutil.which("py-spy", path=str(Path(PYTHON).parent)) or shutil.which("py-spy")
        if pyspy is None:
            raise SystemExit("py-spy not found: .venv/bin/pip install py-spy")
        cmd = [pyspy, "record", "--format", "raw", "--idle", "--threads", "--full-filenames", "--rate",
               str(PROFILE_RATE_HZ), "--output", str(profile_raw), "--", *cmd]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log_file:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=src, stdout=log_file, stderr=subprocess.STDOUT, env=env)
        target = proc.pid
        if profile_raw is not None:  # measure the indexer, not py-spy
            for _ in range(100):
                kids = psutil.Process(proc.pid).children()
                if kids:
                    target = kids[0].pid
                    break
                time.sleep(0.05)
        watch = Watch({**roots, "indexer": target}, rss_pid=target)
        watch.start()
        rc = proc.wait()
        wall = time.monotonic() - t0
        cpu = watch.finish()
    text = log_path.read_text(errors="replace")
    if rc != 0:
        tail = "\n".join(text.splitlines()[-15:])
        raise RuntimeError(f"indexer sync exited {rc}; last lines of {log_path}:\n{tail}")
    m = None
    for m in DONE_LINE.finditer(text):
        pass
    if m is None:
        raise RuntimeError(f"no 'done:' line in {log_path}")
    return {
        "events": int(m["events"]), "blocks": int(m["blocks"]),
        "seconds": float(m["seconds"]), "events_per_s": int(m["rate"]),
        "wall_seconds": round(wall, 2), "wall_events_per_s": round(int(m["events"]) / wall),
        "rpc_requests": int(m["requests"]), "rpc_retried": int(m["retried"]),
        "batches": len(BATCH_LINE.findall(text)),
        "peak_rss_mb": round(max(watch.peak_hwm, watch.peak_rss) / 2**20, 1),
        "cpu_seconds": cpu,
        **tenth_rates(text),
    }


def tenth_rates(text: str) -> dict:
    """Events/s of the first and the last tenth of the sync's events, from its log's batch lines
    (the first tenth from its first log line): whether batches slow down as the history grows."""
    from datetime import datetime

    stamps, total = [], 0
    for m in LOG_LINE.finditer(text):
        total += int(m["events"] or 0)
        stamps.append((datetime.strptime(m["time"], "%Y-%m-%d %H:%M:%S,%f"), total))
    if not total:
        return {}
    first = next(i for i, (_, n) in enumerate(stamps) if n >= total / 10)
    last = next(i for i, (_, n) in enumerate(stamps) if n > total * 9 / 10) - 1
    end = next(i for i, (_, n) in enumerate(stamps) if n == total)  # the last batch with events

    def rate(a: int, b: int) -> int:
        seconds = (stamps[b][0] - stamps[a][0]).total_seconds()
        return round((stamps[b][1] - stamps[a][1]) / seconds) if seconds > 0 else 0

    return {"first_tenth_events_per_s": rate(0, first), "last_tenth_events_per_s": rate(last, end)}


def check_sync_database(database_url: str, meta: dict) -> dict:
    """What the sync stored, against what the chain holds."""
    out = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        out["logs_stored"] = conn.execute("SELECT count(*) FROM logs").fetchone()[0]
        out["blocks_stored"] = conn.execute("SELECT count(*) FROM blocks").fetchone()[0]
        out["database_mb"] = round(conn.execute(
            "SELECT pg_database_size(current_database())").fetchone()[0] / 2**20)
        has_holders = conn.execute(
            "SELECT to_regclass('public.holder_state') IS NOT NULL").fetchone()[0]
        if has_holders:
            out["negative_balances"] = conn.execute(
                "SELECT count(*) FROM holder_state WHERE balance < 0").fetchone()[0]
        # Write amplification: rows each table took per log, and its size with indexes.
        out["tables"] = {
            r[0]: {"inserted": r[1], "updated": r[2], "deleted": r[3], "mb": round(r[4] / 2**20, 1)}
            for r in conn.execute(
                """SELECT relname, n_tup_ins, n_tup_upd, n_tup_del, pg_total_relation_size(relid)
                   FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC""")
        }
    out["logs_expected"] = meta["logs"]
    return out


_ENTRY_START = re.compile(r"^\d{4}-\d\d-\d\d \d")
_DURATION = re.compile(r"duration: (?P<ms>[\d.]+) ms\s+(?P<verb>statement|parse|bind|execute)[^:]*: ",
                       re.S)


def statement_times(log_path: Path, offset: int, wall_seconds: float) -> list[dict]:
    """Server-side time per SQL statement, from the lines log_min_duration_statement = 0 wrote
    to the embedded server's log after `offset`: which statements of a batch cost the most."""
    with open(log_path, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    entries, current = [], []
    for line in text.splitlines():
        if _ENTRY_START.match(line) and current:
            entries.append("\n".join(current))
            current = []
        current.append(line)
    if current:
        entries.append("\n".join(current))
    totals: dict[str, list[float]] = {}
    for entry in entries:
        m = _DURATION.search(entry)
        if not m:
            continue
        body = entry[m.end():]
        body = " ".join(ln.strip() for ln in body.splitlines() if not ln.strip().startswith("--"))
        key = " ".join(body.split())[:110]
        t = totals.setdefault(key, [0.0, 0])
        t[0] += float(m["ms"])
        t[1] += m["verb"] in ("statement", "execute")
    rows = sorted(totals.items(), key=lambda kv: -kv[1][0])
    return [{"statement": k, "seconds": round(ms / 1000, 2), "calls": n,
             "pct_of_wall": round(100 * ms / 1000 / wall_seconds, 1)} for k, (ms, n) in rows[:12]]


# -- report --------------------------------------------------------------------------------------

def git_state() -> dict:
    def git(*args: str) -> str:
        r = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return r.stdout.rstrip("\n")

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "dirty": [line[3:] for line in git("status", "--porcelain").splitlines()
                      if not line[3:].startswith("benchmarks/")]}


def table(result: dict) -> str:
    f1, f2, s = result["floor_1proc"], result["floor_2procs"], result["sync"]
    best = max(f1["logs_per_s"], f2["logs_per_s"])
    measured = f1["logs"] > 0  # --skip-floor leaves placeholders: no floor, no ratio
    rows = [
        ("floor, 1 process", f"{f1['logs_per_s']:,} logs/s" if measured else "skipped",
         f"{f1['logs']:,} logs in {f1['seconds']}s" if measured else ""),
        ("floor, 2 processes", f"{f2['logs_per_s']:,} logs/s" if measured else "skipped",
         f"{f2['logs']:,} logs in {f2['seconds']}s" if measured else ""),
        ("indexer sync --once", f"{s['events_per_s']:,} events/s",
         f"{s['events']:,} events in {s['seconds']}s (wall {s['wall_seconds']}s = "
         f"{s['wall_events_per_s']:,}/s incl. start-up and migrations)"),
        ("ratio sync / best floor", f"{result['ratio']:.0%}" if measured else "n/a",
         f"wall-clock ratio {s['wall_events_per_s'] / best:.0%}" if measured else ""),
        ("first / last tenth of the events", f"{s.get('first_tenth_events_per_s', 0):,} / "
         f"{s.get('last_tenth_events_per_s', 0):,} events/s", "from the batch lines of the log"),
        ("peak RSS of the sync", f"{s['peak_rss_mb']:,.0f} MB", "VmHWM"),
        ("RPC requests", f"{s['rpc_requests']:,}", f"{s['rpc_retried']} retried"),
        ("CPU s: indexer/anvil/pg/others", " / ".join(
            str(s["cpu_seconds"].get(k, "-")) for k in ("indexer", "anvil", "postgres", "others")),
         f"machine busy {s['cpu_seconds']['machine']}s of {2 * s['wall_seconds']:.0f}s "
         f"({os.cpu_count()} cores)"),
    ]
    for v in result["views"]:
        if "error" in v:
            rows.append((f"view {v['view']}", "error", v["error"][:60]))
        else:
            rows.append((f"view {v['view']}", f"{v['count_ms']:,} ms count(*)",
                         f"{v['typical_ms']:,} ms typical query; {v['rows']:,} rows"))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{w0}}  {b:>{w1}}  {c}" for a, b, c in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--logs", type=int, default=1_000_000, help="logs in the chain (about)")
    ap.add_argument("--holders", type=int, default=100_000, help="size of the holder pool")
    ap.add_argument("--blocks", type=int, default=None,
                    help="blocks in the chain (default logs/100, or logs/50 with --days)")
    ap.add_argument("--days", type=int, default=None,
                    help="pack the logs into this many UTC days (default: spread over six years)")
    ap.add_argument("--out", type=Path, default=BENCH / "out" / "result.json")
    ap.add_argument("--database-url", default=None,
                    help="a PostgreSQL server to use (any database on it; the benchmark creates "
                         "and drops bench_* databases) instead of the embedded one")
    ap.add_argument("--keep-cache", action="store_true",
                    help="keep cached chains of other parameters (default: remove them)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the chain even if cached")
    ap.add_argument("--profile", action="store_true",
                    help="also run the sync under py-spy and summarise where its time goes")
    ap.add_argument("--sync-set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra [sync] setting for the indexer's config (repeatable)")
    ap.add_argument("--rev", default=None,
                    help="run the sync from this git revision (exported with git archive) "
                         "instead of the working tree")
    ap.add_argument("--src", type=Path, default=None,
                    help="run the sync from this source tree instead (experiments: a patched "
                         "copy of the indexer)")
    ap.add_argument("--skip-floor", action="store_true",
                    help="measure the sync and views only (quicker while tuning; no ratio)")
    args = ap.parse_args()

    args.out = args.out.resolve()
    out_dir = args.out.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    if not bench_chain.ARTIFACT.exists():
        subprocess.run(["node", "tests/contracts/build.mjs"], cwd=REPO, check=True)

    params = bench_chain.ChainParams(logs=args.logs, holders=args.holders, blocks=args.blocks,
                                     days=args.days)
    state, meta = bench_chain.ensure_chain(params, rebuild=args.rebuild,
                                           keep_others=args.keep_cache, log=say)

    pg_pid = None
    if args.database_url:
        admin_url = args.database_url
    else:
        from indexer import pgserver

        pg_dir = BENCH / "out" / "pg"
        server = pgserver.start(pg_dir, keep_running=False)
        admin_url = with_database(server.url, "postgres")
        pg_pid = postmaster_pid(pg_dir / "pgdata")

    load = os.getloadavg()
    if load[0] > 0.5:
        say(f"warning: load average {load[0]:.2f} before the run: other work on this machine "
            "will lower the figures")
    anvil = bench_chain.start_cached(state, meta, log_path=out_dir / "anvil.log")
    roots = {"anvil": anvil.pid, "postgres": pg_pid}
    result: dict = {
        "chain": {k: meta[k] for k in ("logs", "logs_by_token", "transactions", "head",
                                       "holders_touched")} | {"params": meta["params"]},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_before": [round(x, 2) for x in load]},
        "git": git_state(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    try:
        tokens = {meta["paxg"]["address"]: "PAXG", meta["xaut"]["address"]: "XAUT"}
        lo, hi = meta["paxg"]["start_block"], meta["head"]
        for procs, key in ((1, "floor_1proc"), (2, "floor_2procs")):
            if args.skip_floor:
                result[key] = {"procs": procs, "logs": 0, "seconds": 0, "logs_per_s": 1}
                continue
            url = fresh_database(admin_url, "bench_floor")
            watch = Watch({**roots, "floor": os.getpid()})
            watch.start()
            say(f"floor, {procs} process(es)...")
            result[key] = floor.measure(anvil.url, url, lo, hi, meta["chain_id"], tokens, procs)
            result[key]["cpu_seconds"] = watch.finish()
            say(f"  {result[key]['logs_per_s']:,} logs/s ({result[key]['logs']:,} logs in "
                f"{result[key]['seconds']}s)")
            if result[key]["logs"] != meta["logs"] or result[key]["stored"] != meta["logs"]:
                raise RuntimeError(f"the floor saw {result[key]['logs']} logs and stored "
                                   f"{result[key]['stored']}, the chain has {meta['logs']}")

        say("indexer sync --once...")
        url = fresh_database(admin_url, "bench_sync")
        config = (out_dir / "bench.toml").resolve()
        write_config(config, anvil.url, url, meta, args.sync_set)
        src = export_revision(args.rev, out_dir) if args.rev else (args.src or REPO).resolve()
        result["git"]["sync_source"] = args.rev or (str(args.src) if args.src else "working tree")
        result["sync"] = run_sync(config, out_dir / "sync.log", roots, src=src)
        result["sync"]["stored"] = check_sync_database(url, meta)
        say(f"  {result['sync']['events_per_s']:,} events/s, peak RSS "
            f"{result['sync']['peak_rss_mb']} MB")
        stored = result["sync"]["stored"]
        if stored["logs_stored"] != meta["logs"]:
            say(f"WARNING: the sync stored {stored['logs_stored']:,} logs, the chain has "
                f"{meta['logs']:,}")
        say("views...")
        result["views"] = views.measure_views(url, meta["chain_id"], meta["sample_holders"][1])

        if args.profile:
            say("indexer sync --once under py-spy...")
            purl = fresh_database(admin_url, "bench_profile")
            pg_log = None if args.database_url else BENCH / "out" / "pg" / "pgdata" / "log"
            if pg_log is not None:
                with psycopg.connect(admin_url, autocommit=True) as conn:
                    conn.execute("ALTER DATABASE bench_profile SET log_min_duration_statement = 0")
                log_offset = pg_log.stat().st_size
            pconfig = (out_dir / "bench-profile.toml").resolve()
            write_config(pconfig, anvil.url, purl, meta, args.sync_set)
            raw = out_dir / "profile.raw"
            result["profiled_sync"] = run_sync(pconfig, out_dir / "sync-profile.log", roots,
                                               profile_raw=raw, src=src)
            summary = sync_profile.summarize(raw, PROFILE_RATE_HZ)
            result["profile"] = summary
            text = sync_profile.format_summary(summary)
            if pg_log is not None:
                stmts = statement_times(pg_log, log_offset, result["profiled_sync"]["wall_seconds"])
                summary["statements"] = stmts
                text += "\nPostgreSQL server time by statement (% of the profiled sync's wall time):\n"
                text += "\n".join(f"  {x['pct_of_wall']:5.1f}%  {x['seconds']:7.2f}s  "
                                  f"{x['calls']:5d}x  {x['statement'][:90]}" for x in stmts)
            (out_dir / "profile-summary.txt").write_text(text + "\n")
            say(text)
    finally:
        anvil.stop()

    best = max(result["floor_1proc"]["logs_per_s"], result["floor_2procs"]["logs_per_s"])
    # No floor measured: a ratio would mean nothing.
    result["ratio"] = None if args.skip_floor else round(result["sync"]["events_per_s"] / best, 3)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    say(f"wrote {args.out}")


if __name__ == "__main__":
    main()

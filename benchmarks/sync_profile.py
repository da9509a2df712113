"""Where `indexer sync` spends its time: record it with py-spy (every thread, idle samples
included, so waiting shows up) and sum the samples by thread, phase and kind of work.

phase: what the indexer was doing, from the innermost indexer function on the stack
       (eth_getLogs, headers, decode, COPY, other SQL of a batch, queue waits, start-up...).
kind:  what the innermost frame was doing: network I/O (which includes waiting for anvil to
       answer), JSON parsing (orjson.loads), psycopg (which includes waiting for PostgreSQL),
       an idle wait on a queue or event, or plain Python.

Usage: .venv/bin/python benchmarks/sync_profile.py benchmarks/out/profile.raw
"""

from __future__ import annotations

import linecache
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")

# Innermost matching function wins. (function name or suffix, phase)
PHASES = [
    ("fetch_logs", "eth_getLogs"),
    ("fetch_headers", "headers (batched eth_getBlockByNumber)"),
    ("fetch_header", "headers (single)"),
    ("fetch_chain_head", "head polls"),
    ("fetch_block_number", "head polls"),
    ("decode_logs", "decode logs"),
    ("_header", "decode headers"),
    ("Fetcher._put", "fetcher blocked: queue full (writer busy)"),
    ("write_batch", "write_batch"),
    ("derive_step", "derive step (derived tables)"),
    ("derived_mark", "deriver idle check"),
    ("Deriver.committed", "writer blocked: derivers behind"),
    ("upgrade", "migrations"),
    ("_backfill", "writer loop"),
    ("fetch_batch", "fetch_batch (other)"),
    ("_load_positions", "load positions"),
]
NETWORK_FILES = ("socket.py", "ssl.py", "http/client.py", "selectors.py", "/urllib3/", "/requests/")
IDLE_FUNCS = ("Condition.wait", "Event.wait", "Queue.get", "Queue.put", "Thread.join",
              "_wait_for_tstate_lock", "sleep")


def parse(raw: Path) -> list[tuple[str, list[tuple[str, str, int]], int]]:
    """(thread name, frames root→leaf as (func, file, line), samples) per line of raw output."""
    out = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        parts = stack.split(";")
        thread = "?"
        if parts[0].startswith("process "):
            parts = parts[1:]
        if parts and parts[0].startswith("thread ("):  # "thread (tid): name", name not always
            thread = parts[0]
            parts = parts[1:]
        frames = []
        for p in parts:
            m = _FRAME.match(p)
            if m:
                frames.append((m["func"], m["file"], int(m["line"])))
            else:
                frames.append((p, "", 0))
        out.append((thread, frames, int(count)))
    # Name each thread by the name py-spy gave it in any sample ("thread (tid): name").
    names = {}
    for thread, _, _ in out:
        tid, _, name = thread.partition(": ")
        if name:
            names[tid] = name
    return [(names.get(t.partition(": ")[0], t.partition(": ")[0]), f, n) for t, f, n in out]


def _source(file: str, line: int) -> str:
    for candidate in (file, str(Path.cwd() / file)):
        text = linecache.getline(candidate, line)
        if text:
            return text
    return ""


def phase_of(frames, thread: str) -> str:
    funcs = [f for f, _, _ in frames]
    for func in reversed(funcs):
        for name, phase in PHASES:
            if func == name or func.endswith("." + name):
                if phase == "write_batch":
                    if any("copy" in fl.lower() or f.startswith("Copy") for f, fl, _ in frames):
                        return "write_batch: COPY logs"
                    return "write_batch: other SQL (begin, blocks, checkpoint, commit)"
                return phase
    if any("_find_and_load" in f for f in funcs):
        return "start-up (imports)"
    return "other"


def kind_of(frames) -> str:
    if not frames:
        return "other"
    func, file, line = frames[-1]
    if "orjson.loads" in _source(file, line) or "loads" == func:
        return "JSON parse"
    if any(f.startswith(("Condition.wait", "Event.wait", "Queue.get", "Queue.put"))
           or f in ("sleep", "Thread.join") for f, _, _ in frames[-3:]):
        return "idle wait"
    if any(n in file for n in NETWORK_FILES):
        return "network I/O (incl. waiting on anvil)"
    if "/psycopg" in file:
        return "psycopg (incl. waiting on PostgreSQL)"
    return "python"


def summarize(raw: Path, rate: int) -> dict:
    samples = parse(raw)
    by_thread: Counter = Counter()
    by_phase: dict[str, Counter] = defaultdict(Counter)
    by_kind: dict[str, Counter] = defaultdict(Counter)
    leaves: dict[str, Counter] = defaultdict(Counter)
    for thread, frames, n in samples:
        by_thread[thread] += n
        phase, kind = phase_of(frames, thread), kind_of(frames)
        by_phase[thread][(phase, kind)] += n
        by_kind[thread][kind] += n
        if frames:
            f, fl, ln = frames[-1]
            leaves[thread][f"{f} ({Path(fl).name}:{ln})"] += n
    threads = {}
    for thread, total in by_thread.most_common():
        threads[thread] = {
            "seconds": round(total / rate, 1),
            "phases": [{"phase": p, "kind": k, "pct": round(100 * n / total, 1)}
                       for (p, k), n in by_phase[thread].most_common()],
            "kinds": {k: round(100 * n / total, 1) for k, n in by_kind[thread].most_common()},
            "top_leaves": [{"frame": f, "pct": round(100 * n / total, 1)}
                           for f, n in leaves[thread].most_common(12)],
        }
    return {"rate_hz": rate, "threads": threads}


def format_summary(summary: dict, min_pct: float = 0.5) -> str:
    lines = []
    for thread, t in summary["threads"].items():
        lines.append(f"thread {thread}: {t['seconds']}s of samples")
        for row in t["phases"]:
            if row["pct"] >= min_pct:
                lines.append(f"  {row['pct']:5.1f}%  {row['phase']:<58} {row['kind']}")
        lines.append("  by kind: " + ", ".join(f"{k} {v}%" for k, v in t["kinds"].items()))
        lines.append("  top frames: " + "; ".join(f"{x['frame']} {x['pct']}%"
                                                   for x in t["top_leaves"][:6]))
    return "\n".join(lines)


if __name__ == "__main__":
    s = summarize(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 100)
    print(format_summary(s))

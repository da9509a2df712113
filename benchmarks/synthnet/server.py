"""The synthetic mainnet node over HTTP, with provider profiles in front: one process, one
history in memory, any number of routes.

    python -m benchmarks.synthnet.server --scale 0.01 [--port 8545] [--seed 1]

prints `synthnet: listening on http://127.0.0.1:PORT` once the history is loaded (generated
and cached on the first run). JSON-RPC goes to a route, `POST /<profile>/<ts|nots>/<run>`,
each with its own profile state (rate bucket, quota, counters). Routes are opened with
`POST /_control {"op": "open", "profile": "infura", "timestamps": false}`; the same endpoint
answers `stats` (with `drops`: how many eth_getLogs answers silently lost logs, and the
(block, log index) of each log taken out), `info`, `expect` (the history's log counts up to a
block, and with `"prices": true` the price rows a reader must have stored:
feeds.expected_prices), `floor` (with the price feeds' logs and calls unless `"prices":
false`) and `shutdown`.
`/none/nots/0` and `/none/ts/0` always exist (no limits).

A threaded HTTP/1.1 server (keep-alive, one thread per connection): latency is a sleep in the
connection's thread, so slow profiles cost no CPU; the node's own work holds the GIL, and on a
no-latency run it is a fraction of what the scanner spends on the same bytes
(`benchmarks/mainnet.py --node-bench` measures it).
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson

from benchmarks.synthnet import feeds as feeds_mod
from benchmarks.synthnet import floor as floor_mod
from benchmarks.synthnet import history as history_mod
from benchmarks.synthnet.blocks import HEAD, Blocks
from benchmarks.synthnet.events import AGGREGATOR_ADDRESSES, FEED_PROXIES, PAXG_START

# eth_call targets that are the price feeds': their calls are counted apart (what prices cost).
FEED_CONTRACTS = frozenset(FEED_PROXIES + AGGREGATOR_ADDRESSES)
from benchmarks.synthnet.node import Node, RpcFailure
from benchmarks.synthnet.providers import PROFILES, Gate, with_overrides

CACHE = Path(__file__).resolve().parent.parent / "cache"


class Route:
    """One profile in front of the node, with its own state and counters."""

    def __init__(self, node: Node, path: str, profile, timestamps: bool, seed: int):
        self.node, self.path, self.profile, self.timestamps = node, path, profile, timestamps
        self.gate = Gate(profile, seed)

    def serve(self, body: bytes) -> tuple[str, int, dict, bytes, float]:
        """(action, status, headers, body, latency) for one HTTP request body."""
        started = time.monotonic()
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            err = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
            return "answer", 400, {}, orjson.dumps(err), 0.0
        is_batch = isinstance(payload, list)
        items = payload if is_batch else [payload]
        if is_batch and not items:
            err = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "empty batch"}}
            return "answer", 200, {}, orjson.dumps(err), 0.0
        calls = [((it.get("id") if isinstance(it, dict) else None),
                  (str(it.get("method")) if isinstance(it, dict) else "invalid")) for it in items]
        verdict = self.gate.admit(calls, is_batch)
        if verdict.action in ("drop", "hang"):
            return verdict.action, 0, {}, b"", verdict.latency
        if verdict.action == "answer":
            body_out = verdict.body if isinstance(verdict.body, bytes) else orjson.dumps(verdict.body)
            return "answer", verdict.status, verdict.headers, body_out, verdict.latency
        answers, status = [], 200
        logs = headers = feed_calls = 0
        gate, node = self.gate, self.node
        for item, (rid, method) in zip(items, calls):
            if not isinstance(item, dict):
                answers.append({"jsonrpc": "2.0", "id": None,
                                "error": {"code": -32600, "message": "invalid request"}})
                continue
            params = item.get("params") or []
            try:
                if method == "eth_getLogs":
                    q = node.plan_logs(params if isinstance(params, list) else [params])
                    refusal = gate.check_logs(node, q)
                    if refusal is not None:
                        code, err = refusal
                        if not is_batch:
                            status = code
                        answers.append({"jsonrpc": "2.0", "id": rid, "error": err})
                        continue
                    rendered, count = node.render_logs_json(q, self.timestamps)
                    rendered, count = gate.drop_logs(params, rendered, count)
                    logs += count
                    result = orjson.Fragment(rendered)
                else:
                    if method == "eth_call" and _call_target(params) in FEED_CONTRACTS:
                        feed_calls += 1  # billed whatever it answers, as the gate did
                    result = node.call(method, params, timestamps=self.timestamps)
                    if method == "eth_getBlockByNumber" and result is not None:
                        headers += 1
                answers.append({"jsonrpc": "2.0", "id": rid, "result": result})
            except RpcFailure as exc:
                answers.append({"jsonrpc": "2.0", "id": rid, "error": exc.as_error()})
        out = orjson.dumps(answers if is_batch else answers[0])
        with gate.lock:
            s = gate.stats
            s.logs_served += logs
            s.headers_served += headers
            s.feed_calls += feed_calls
            s.feed_credits += feed_calls * self.profile.cost("eth_call")
            s.bytes_out += len(out)
            for answer, (_, method) in zip(answers, calls):
                if "result" in answer:
                    s.method(method)["answered"] += 1
        spent = time.monotonic() - started
        return "answer", status, {}, out, max(0.0, verdict.latency - spent)


def _call_target(params) -> str:
    tx = params[0] if isinstance(params, list) and params else params
    return str(tx.get("to") or "").lower() if isinstance(tx, dict) else ""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, node: Node, history, seed: int):
        super().__init__(address, Handler)
        self.node, self.history, self.seed = node, history, seed
        self.routes: dict[str, Route] = {}
        self.route_lock = threading.Lock()
        self.opened = 0
        for ts in (False, True):
            self.open_route("none", ts, {}, fixed=f"/none/{'ts' if ts else 'nots'}/0")

    def open_route(self, profile_name: str, timestamps: bool | None, overrides: dict,
                   fixed: str | None = None) -> Route:
        profile = with_overrides(PROFILES[profile_name], overrides)
        ts = profile.timestamps if timestamps is None else timestamps
        with self.route_lock:
            self.opened += 1
            path = fixed or f"/{profile_name}/{'ts' if ts else 'nots'}/{self.opened}"
            route = Route(self.node, path, profile, ts, self.seed * 7919 + self.opened)
            self.routes[path] = route
        return route

    def control(self, req: dict) -> dict:
        op = req.get("op")
        h = self.history
        if op == "open":
            route = self.open_route(req["profile"], req.get("timestamps"), req.get("overrides") or {})
            return {"path": route.path, "timestamps": route.timestamps, "profile": route.profile.name}
        if op == "stats":
            route = self.routes[req["path"]]
            with route.gate.lock:
                out = route.gate.stats.as_dict()
            out["quota_used_today"] = route.gate.used_today
            return out
        if op == "info":
            return {"head": self.node.head, "params": h.meta["params"], "meta": h.meta,
                    "log_blocks": len(h.scanned_log_blocks), "token_log_blocks": len(h.token_log_blocks)}
        if op == "expect":
            to = int(req["to_block"])
            frm = int(req.get("from_block", 0))
            counts = h.scanned_counts(to, frm)
            out = {"counts": counts, "total": sum(counts.values()),
                   "fee_legs": h.fee_legs(to) if frm == 0 else None}
            if req.get("prices"):
                out["prices"] = feeds_mod.expected_prices(h, self.node.blocks, to)
                out["to_block_day"] = time.strftime("%Y-%m-%d", time.gmtime(self.node.blocks.timestamp(to)))
            return out
        if op == "floor":
            profile = with_overrides(PROFILES[req["profile"]], req.get("overrides") or {})
            ts = profile.timestamps if req.get("timestamps") is None else bool(req["timestamps"])
            to = int(req["to_block"])
            if req.get("prices", True):  # the indexer reads the feeds by default on chain 1
                blocks, distinct, calls = h.scanned_blocks, h.scanned_log_blocks, floor_mod.phase_calls(to)
            else:
                blocks, distinct, calls = h.token_blocks, h.token_log_blocks, 0
            return floor_mod.floor(profile, blocks, distinct, int(req.get("from_block", PAXG_START)), to,
                                   timestamps=ts, eth_calls=calls)
        if op == "ledger":  # warm the eth_call ledger before a timed verify
            started = time.monotonic()
            _ = h.ledger
            return {"seconds": round(time.monotonic() - started, 1)}
        if op == "shutdown":
            threading.Thread(target=self.shutdown, daemon=True).start()
            return {"ok": True}
        raise ValueError(f"unknown op {op!r}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, fmt, *args):  # no access log
        pass

    def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", (headers or {}).pop("Content-Type", "application/json"))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/_control":
            try:
                out = self.server.control(orjson.loads(body))
                self._send(200, orjson.dumps(out))
            except Exception as exc:  # noqa: BLE001 - reported to the caller
                self._send(400, orjson.dumps({"error": f"{type(exc).__name__}: {exc}"}))
            return
        route = self.server.routes.get(path)
        if route is None:
            self._send(404, orjson.dumps({"error": f"no route {path}"}))
            return
        action, status, headers, out, latency = route.serve(body)
        if latency > 0:
            time.sleep(latency)
            with route.gate.lock:
                route.gate.stats.latency_seconds += latency
        if action in ("drop", "hang"):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        with route.gate.lock:
            route.gate.stats.http_status[status] += 1
        self._send(status, out, dict(headers))

    def do_GET(self):
        self._send(200, orjson.dumps({"synthnet": True, "routes": sorted(self.server.routes)}))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--head", type=int, default=HEAD)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--lean-headers", action="store_true",
                    help="headers list only the token transactions (not mainnet's ~170 hashes)")
    args = ap.parse_args(argv)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    blocks = Blocks(args.seed, args.head, lean=args.lean_headers)
    params = history_mod.Params(seed=args.seed, scale=args.scale, head=args.head)
    history = history_mod.ensure(params, blocks, args.cache, rebuild=args.rebuild, log=say)
    node = Node(history, blocks)
    server = Server((args.host, args.port), node, history, args.seed)
    host, port = server.server_address[:2]
    print(f"synthnet: listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

"""`indexer verify --repair` on a mainnet-shaped database damaged by silent drops (issue 12).

First damage one: `benchmarks/mainnet.py --profiles none --timestamps with --set
none.drop_share=0.02 --set none.drop_logs=1 --set none.drop_events=Transfer --audit-set
enabled=false --audit-set whole_transactions=false --out benchmarks/out/mainnet-drops-damaged.json`
(it leaves the database bench_mainnet behind). Then this script starts the synthetic node again,
finds the addresses of the value-moving transfers the route dropped (from the run's JSON, as a
user would from an audit's stop line), and runs `indexer verify --repair --address ...` against
an honest route, timed; the node's request counts go to benchmarks/out/repair/stats.json.
Run: .venv/bin/python benchmarks/repair_drops.py"""
import json
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import requests
from benchmarks.mainnet import NodeProcess
from indexer import pgserver

REPO = Path(__file__).resolve().parents[1]
out = REPO / "benchmarks/out/repair"
out.mkdir(parents=True, exist_ok=True)
dropped = json.load(open(REPO / "benchmarks/out/mainnet-drops-damaged.json"))["runs"][0]["node"]["drops"]["dropped"]
server = pgserver.start(REPO / "benchmarks/out/pg", keep_running=True)
node = NodeProcess(1.0, 1, out)
route = node.control(op="open", profile="none", timestamps=True, overrides={})
url = node.url + route["path"]
addresses = set()
for block, li in dropped:
    r = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [
        {"fromBlock": hex(block), "toBlock": hex(block)}]}).json()["result"]
    [entry] = [e for e in r if int(e["logIndex"], 16) == li]
    amount = int(entry["data"], 16)
    print("dropped", block, li, entry["address"], "amount", amount, flush=True)
    if amount:
        addresses.update("0x" + t[-40:] for t in entry["topics"][1:3])
addresses.discard("0x" + "00" * 20)
cfg = out / "repair.toml"
cfg.write_text((REPO / "benchmarks/out/mainnet-none-ts.toml").read_text().replace(
    re.search(r'url = "(http[^"]+)"', (REPO / "benchmarks/out/mainnet-none-ts.toml").read_text()).group(1), url))
before = node.control(op="stats", path=route["path"])
args = [str(REPO / ".venv/bin/indexer"), "--config", str(cfg), "verify", "--repair"]
for a in sorted(addresses):
    args += ["--address", a]
t0 = time.monotonic()
p = subprocess.run(args, capture_output=True, text=True)
took = time.monotonic() - t0
after = node.control(op="stats", path=route["path"])
print(p.stdout[-6000:], p.stderr[-3000:], sep="\n")
print("exit", p.returncode, "seconds", round(took, 1))
(out / "stats.json").write_text(json.dumps({"before": before, "after": after, "seconds": took,
                                             "exit": p.returncode}, default=str))
node.stop()

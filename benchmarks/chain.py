"""The benchmark chain: anvil with two BulkEmitter contracts (one PAXG-shaped, one XAUT-shaped)
and about N logs, built once and cached in benchmarks/cache/ by its parameters.

The chain is deterministic for given parameters: a seeded generator, a fixed genesis timestamp
and evenly spaced block times over six years, or over a few UTC days (`days`: the same logs
packed densely in time, as on a market rush or an airdrop). Each transaction calls `mintChains` on one emitter: per chain, an amount is
minted to one holder and passed along a chain of holders (PAXG: principal leg, fee leg and
FeeCollected per hop, 0.02% fee), and the last holder sometimes burns part of it. Every holder
receives before it sends, so balances derived from the logs never go negative. Holders come
from a skewed pool (index = pool size × u³: a few addresses take most of the traffic).

Every receipt is checked (status 1, the exact number of logs predicted here), so the cached
chain holds exactly `meta["logs"]` logs of the two emitters.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from eth_utils import keccak, to_checksum_address

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CACHE = BENCH / "cache"
ARTIFACT = BENCH / "contracts" / "artifacts" / "BulkEmitter.json"

# Bump when the generator changes what it emits: old cache entries then no longer match.
GENERATOR_VERSION = 2
CHAIN_ID = 31337
GENESIS_TIMESTAMP = 1_567_296_000  # 2019-09-01 00:00:00 UTC, PAXG's first months
# The blocks span this many years (PAXG's history since 2019), so daily and monthly figures
# have realistic row counts: about 450 logs a day at 1M logs.
YEARS = 6
PAXG_FEE_RATE = 200  # parts per million, as PAXG V1 charged until 2024
FEE_PARTS = 1_000_000
PAXG_SHARE = 0.6  # share of transactions that go to the PAXG emitter
BURN_PROBABILITY = 0.15
ZERO = "0x" + "00" * 20

_SELECTOR = keccak(text="mintChains(address[],uint256[],uint256[],uint256[])")[:4]


@dataclass(frozen=True)
class ChainParams:
    logs: int = 1_000_000
    holders: int = 100_000
    blocks: int | None = None  # default: logs // 100 (logs // 50 with days), at least 1,000
    logs_per_tx: int = 200
    seed: int = 7
    days: int | None = None  # the blocks span this many UTC days instead of YEARS years

    @property
    def n_blocks(self) -> int:
        if self.blocks is not None:
            return self.blocks
        # Packed into days: about 50 logs a block, 12-second blocks at 1M logs in 3 days.
        return max(1_000, self.logs // (50 if self.days else 100))

    @property
    def block_seconds(self) -> int:
        if self.days:  # rounded down, so the last block still falls inside the last day
            return max(1, self.days * 86_400 // self.n_blocks)
        return max(1, round(YEARS * 365.25 * 86_400 / self.n_blocks))

    def key(self) -> str:
        bytecode = json.loads(ARTIFACT.read_text())["bytecode"]
        ident = {
            "logs": self.logs, "holders": self.holders, "blocks": self.n_blocks,
            "logs_per_tx": self.logs_per_tx, "seed": self.seed, "version": GENERATOR_VERSION,
            "bytecode": hashlib.sha256(bytecode.encode()).hexdigest(),
        }
        if self.days is not None:  # absent otherwise, so the spread chain keeps its cache key
            ident["days"] = self.days
        digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]
        return f"chain-{self.logs}-{self.holders}-{digest}"


# -- anvil ---------------------------------------------------------------------------------------

def anvil_binary() -> str:
    """The native anvil of the npm package pinned in package.json. Not node_modules/.bin/anvil:
    that is a node wrapper which exits on SIGINT before anvil has finished dumping its state."""
    modules = REPO / "node_modules"
    if not (modules / ".bin" / "anvil").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=REPO, check=True)
    native = sorted((modules / "@foundry-rs").glob("anvil-*/bin/anvil"))
    return str(native[0] if native else modules / ".bin" / "anvil")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Anvil:
    """An anvil process on a free port; `stop()` exits it gracefully so --dump-state is written."""

    def __init__(self, *extra: str, log_path: Path | None = None, start_timeout: float = 600):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        out = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [anvil_binary(), "--host", "127.0.0.1", "--port", str(self.port), "--silent",
             "--disable-block-gas-limit", "--accounts", "3", "--chain-id", str(CHAIN_ID), *extra],
            stdout=out, stderr=subprocess.STDOUT,
        )
        self.session = requests.Session()
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                self.rpc("eth_chainId")
                break
            except (requests.RequestException, RuntimeError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"anvil did not start (exit {self.proc.returncode})")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rpc(self, method: str, params: list | None = None):
        r = self.session.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                              "params": params or []}, timeout=600)
        body = r.json()
        if body.get("error") is not None:
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]

    def stop(self, timeout: float = 600) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.session.close()


# -- ABI, by hand (static words only) ------------------------------------------------------------

def _words(*values: int) -> bytes:
    return b"".join(v.to_bytes(32, "big") for v in values)


def encode_mint_chains(holders: list[int], lengths: list[int], amounts: list[int],
                       burns: list[int]) -> str:
    arrays = (holders, lengths, amounts, burns)
    head, tail, offset = [], [], 32 * len(arrays)
    for a in arrays:
        head.append(offset)
        tail.append(len(a))
        tail.extend(a)
        offset += 32 * (1 + len(a))
    return "0x" + (_SELECTOR + _words(*head, *tail)).hex()


def paxg_chain_logs(amount: int, hops: int, burn: int) -> int:
    """How many logs BulkEmitter._paxgChain emits (mirrors its arithmetic)."""
    n, v = 2, amount
    for _ in range(hops):
        fee = v * PAXG_FEE_RATE // FEE_PARTS
        n += 3 if fee > 0 else 2
        v -= fee
    return n + (2 if min(burn, v) > 0 else 0)


def xaut_chain_logs(amount: int, hops: int, burn: int) -> int:
    return 2 + hops + (2 if min(burn, amount) > 0 else 0)


# -- building ------------------------------------------------------------------------------------

def _send(anvil: Anvil, sender: str, to: str | None, data: str, gas: int) -> dict:
    tx = {"from": sender, "data": data, "gas": hex(gas)}
    if to is not None:
        tx["to"] = to
    tx_hash = anvil.rpc("eth_sendTransaction", [tx])
    deadline = time.monotonic() + 120
    while True:
        receipt = anvil.rpc("eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"transaction {tx_hash} was not mined")
        time.sleep(0.001)
    if receipt["status"] != "0x1":
        raise RuntimeError(f"transaction {tx_hash} reverted")
    return receipt


def build(params: ChainParams, state_path: Path, log=print) -> dict:
    """Build the chain on a fresh anvil, dump its state to `state_path`; returns the metadata."""
    art = json.loads(ARTIFACT.read_text())
    tmp = state_path.with_suffix(".partial")
    tmp.unlink(missing_ok=True)
    anvil = Anvil("--timestamp", str(GENESIS_TIMESTAMP), "--dump-state", str(tmp))
    t0 = time.monotonic()
    try:
        anvil.rpc("anvil_setBlockTimestampInterval", [params.block_seconds])
        deployer, fee_recipient = anvil.rpc("eth_accounts")[:2]
        rng = random.Random(params.seed)
        fee_recipient_int = int(fee_recipient, 16)

        def deploy(paxg_style: bool) -> tuple[str, int]:
            ctor = _words(int(paxg_style), fee_recipient_int, PAXG_FEE_RATE).hex()
            r = _send(anvil, deployer, None, art["bytecode"] + ctor, 3_000_000)
            return to_checksum_address(r["contractAddress"]), int(r["blockNumber"], 16)

        paxg, deploy_block = deploy(True)
        xaut, _ = deploy(False)
        # The PAXG emitter's constructor logs FeeRecipientSet and FeeRateSet.
        counts = {"PAXG": 2, "XAUT": 0}
        pool = [int.from_bytes(rng.randbytes(20), "big") for _ in range(params.holders)]
        touched: set[int] = set()
        first = int(anvil.rpc("eth_blockNumber"), 16) + 1
        head = first - 1
        total, n_tx = 2, 0
        while total < params.logs:
            # Spread the transactions evenly over the block budget, by progress.
            target = first + (total * params.n_blocks) // params.logs
            if target > head + 1:
                anvil.rpc("anvil_mine", [hex(target - head - 1)])
            is_paxg = rng.random() < PAXG_SHARE
            want = params.logs_per_tx * rng.uniform(0.25, 1.75)
            holders, lengths, amounts, burns, expect = [], [], [], [], 0
            while expect < want and total + expect < params.logs:
                hops = 1 + int(30 * rng.random() ** 2)
                chain = [pool[int(len(pool) * rng.random() ** 3)] for _ in range(hops + 1)]
                if is_paxg:
                    amount = int(10 ** rng.uniform(15, 21))
                else:
                    amount = int(10 ** rng.uniform(3, 9))
                burn = int(amount * rng.random() * 0.5) if rng.random() < BURN_PROBABILITY else 0
                holders += chain
                touched.update(chain)
                lengths.append(len(chain))
                amounts.append(amount)
                burns.append(burn)
                expect += (paxg_chain_logs if is_paxg else xaut_chain_logs)(amount, hops, burn)
            data = encode_mint_chains(holders, lengths, amounts, burns)
            receipt = _send(anvil, deployer, paxg if is_paxg else xaut, data, 100_000 + 4_000 * expect)
            if len(receipt["logs"]) != expect:
                raise RuntimeError(f"expected {expect} logs, the receipt has {len(receipt['logs'])}")
            head = int(receipt["blockNumber"], 16)
            total += expect
            counts["PAXG" if is_paxg else "XAUT"] += expect
            n_tx += 1
            if n_tx % 500 == 0:
                log(f"  {total:,} logs, block {head:,}, {time.monotonic() - t0:.0f}s")
        last = first + params.n_blocks - 1
        if last > head:
            anvil.rpc("anvil_mine", [hex(last - head)])
            head = last
        meta = {
            "params": params.__dict__, "key": params.key(), "chain_id": CHAIN_ID,
            "paxg": {"address": paxg, "start_block": deploy_block, "decimals": 18},
            "xaut": {"address": xaut, "start_block": deploy_block, "decimals": 6},
            "fee_recipient": fee_recipient.lower(),
            "head": head, "logs": total, "logs_by_token": counts, "transactions": n_tx,
            "holders_touched": len(touched),
            # A busy, a middling and a quiet holder, for the views' typical queries.
            "sample_holders": ["0x%040x" % pool[i] for i in (0, len(pool) // 100, len(pool) // 3)],
            "build_seconds": round(time.monotonic() - t0, 1),
        }
    finally:
        anvil.stop()
    if not tmp.exists():
        raise RuntimeError(f"anvil did not write its state to {tmp}")
    tmp.rename(state_path)
    return meta


def ensure_chain(params: ChainParams, *, rebuild: bool = False, keep_others: bool = True,
                 log=print) -> tuple[Path, dict]:
    """The cached state file and metadata for `params`, building them if needed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    key = params.key()
    state, meta_path = CACHE / f"{key}.state.json", CACHE / f"{key}.meta.json"
    if not keep_others:
        for other in CACHE.glob("chain-*"):
            if not other.name.startswith(key + "."):
                log(f"removing old cache entry {other.name}")
                other.unlink()
    if state.exists() and meta_path.exists() and not rebuild:
        return state, json.loads(meta_path.read_text())
    span = f"{params.days} days" if params.days else f"{YEARS} years"
    log(f"building a chain of {params.logs:,} logs over {params.n_blocks:,} blocks in {span} "
        f"({params.holders:,} holders) into {state.relative_to(REPO)}")
    meta = build(params, state, log=log)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    log(f"built {meta['logs']:,} logs in {meta['transactions']:,} transactions, blocks "
        f"{meta['paxg']['start_block']}-{meta['head']}, in {meta['build_seconds']}s "
        f"(state file {state.stat().st_size / 1e6:.0f} MB)")
    return state, meta


def start_cached(state: Path, meta: dict, log_path: Path | None = None) -> Anvil:
    """A fresh anvil loaded from the cached state, checked against its metadata."""
    t0 = time.monotonic()
    anvil = Anvil("--load-state", str(state), log_path=log_path)
    head = int(anvil.rpc("eth_blockNumber"), 16)
    if head != meta["head"]:
        anvil.stop()
        raise RuntimeError(f"cached chain loaded with head {head}, expected {meta['head']}; "
                           "rebuild it with --rebuild")
    print(f"anvil loaded {state.name} in {time.monotonic() - t0:.1f}s (head {head:,})",
          file=sys.stderr)
    return anvil


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Build (or find) the cached benchmark chain.")
    ap.add_argument("--logs", type=int, default=1_000_000)
    ap.add_argument("--holders", type=int, default=100_000)
    ap.add_argument("--blocks", type=int, default=None)
    ap.add_argument("--days", type=int, default=None)
    ap.add_argument("--rebuild", action="store_true")
    a = ap.parse_args()
    path, m = ensure_chain(ChainParams(logs=a.logs, holders=a.holders, blocks=a.blocks,
                                       days=a.days), rebuild=a.rebuild)
    print(path)
    print(json.dumps(m, indent=2))

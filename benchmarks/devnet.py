"""Fill a running anvil with the two test contracts and many events, and write a devnet config.

Usage:
    node_modules/.bin/anvil --silent --disable-block-gas-limit &
    .venv/bin/python benchmarks/devnet.py --rpc-url http://127.0.0.1:8545 --events 120000 \
        --out devnet.toml
    time .venv/bin/indexer --config devnet.toml sync --once

Holders are drawn from a skewed pool (a few addresses get most transfers), and every batch
passes along tokens its sender holds, so balances never go negative.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from web3 import Web3  # noqa: E402

from tests.chain import load_artifact  # noqa: E402

PER_TX = 500  # recipients per batch transaction: ~1,000 logs per transaction


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rpc-url", default="http://127.0.0.1:8545")
    ap.add_argument("--events", type=int, default=120_000, help="about how many logs to emit")
    ap.add_argument("--holders", type=int, default=20_000)
    ap.add_argument("--gap", type=int, default=20, help="empty blocks mined between transactions")
    ap.add_argument("--out", default="devnet.toml")
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()

    w3 = Web3(Web3.HTTPProvider(args.rpc_url, request_kwargs={"timeout": 300}))
    deployer, controller, fee_recipient = w3.eth.accounts[:3]
    start = w3.eth.block_number + 1

    def deploy(name, *cargs):
        art = load_artifact(name)
        tx = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"]).constructor(*cargs).transact(
            {"from": deployer})
        addr = w3.eth.wait_for_transaction_receipt(tx).contractAddress
        return w3.eth.contract(address=addr, abi=art["abi"])

    implementation = deploy("PaxgLike")
    proxy = deploy("ZosProxy", implementation.address)
    paxg = w3.eth.contract(address=proxy.address, abi=load_artifact("PaxgLike")["abi"])
    w3.eth.wait_for_transaction_receipt(
        paxg.functions.initialize(controller, fee_recipient).transact({"from": deployer}))
    xaut = deploy("XautLike")
    rng = random.Random(7)
    pool = [Web3.to_checksum_address(rng.randbytes(20)) for _ in range(args.holders)]

    def pick(n):  # skewed: index ~ holders * u^3 favours the first addresses
        return [pool[int(len(pool) * rng.random() ** 3)] for _ in range(n)]

    def send(fn, sender):
        receipt = w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender, "gas": 400_000_000}))
        assert receipt.status == 1
        if args.gap:
            w3.provider.make_request("anvil_mine", [hex(args.gap)])
        return len(receipt.logs)

    send(paxg.functions.setFeeRate(200), deployer)
    emitted = send(paxg.functions.increaseSupply(10**30), controller)
    emitted += send(xaut.functions.mint(deployer, 10**24), deployer)
    while emitted < args.events:
        emitted += send(paxg.functions.batchTransfer(pick(PER_TX), [10**15] * PER_TX), controller)
        emitted += send(xaut.functions.multiTransfer(pick(2 * PER_TX), [10**3] * (2 * PER_TX)), deployer)
        print(f"\r{emitted} logs", end="", file=sys.stderr)
    print(file=sys.stderr)
    db = f'[database]\nurl = "{args.database_url}"\n' if args.database_url else ""
    Path(args.out).write_text(f"""[rpc]
url = "{args.rpc_url}"
[chain]
id = {w3.eth.chain_id}
[sync]
confirmations = 0
{db}[tokens.PAXG]
address = "{paxg.address}"
start_block = {start}
[tokens.XAUT]
address = "{xaut.address}"
start_block = {start}
""")
    print(f"{emitted} logs in blocks {start}-{w3.eth.block_number}; config in {args.out}")


if __name__ == "__main__":
    main()

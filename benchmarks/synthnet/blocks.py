"""Block-level facts of the synthetic mainnet, as pure functions of the block number.

Nothing here is stored: a block's hash, parent hash, timestamp, transaction count, gas and
header JSON are computed from its number and the seed, so any of the 26.5M blocks can be
answered in a few microseconds and two runs with the same seed see the same chain.

- Hashes: keyed BLAKE2b of the number (0x + 64 hex), so parentHash(n) == hash(n-1) by
  construction. They are not keccak of an RLP header: nothing a scanner does can tell.
- Timestamps: proof of work before the Merge (block 15,537,394): a piecewise-linear clock
  through approximate real dates, one per million blocks or so, plus a deterministic jitter
  of 0-12 s per block (intervals of 1-27 s, ~13.5 s on average, strictly increasing). Proof
  of stake from the Merge on: 12 s slots from the beacon chain's genesis (the Merge block
  lands on its real slot 4,700,013 and time 1663224179), with about 1% of slots missed
  (per 100 blocks 0-3 missed slots at hashed positions; a prefix table makes it O(1)).
- Transactions per block: a per-era mean (120-200) with +-50% jitter. A header asked for
  without full transactions lists that many hashes, as mainnet's do (about 10 KB per header):
  hashes of the token transactions at their transactionIndex, the others drawn from a
  pre-serialized pool (so they repeat across blocks; nothing checks that). With `lean`, a
  header lists only the token transactions' hashes (about 1.5 KB instead of 14 KB): the
  shape of a devnet, for comparing with measurements taken on one.
"""

from __future__ import annotations

import bisect
import hashlib
from array import array

import orjson

HEAD = 26_500_000
MERGE_BLOCK = 15_537_394
MERGE_TIMESTAMP = 1_663_224_179
BEACON_GENESIS = 1_606_824_023
MERGE_SLOT = 4_700_013
SLOT_SECONDS = 12
LONDON = 12_965_000
SHANGHAI = 17_034_870
CANCUN = 19_426_587
PRAGUE = 22_431_084
# Blocks of 64 and 32 below the head: two epochs and one, as mainnet's finalized and safe
# tags trail the head.
FINALIZED_DEPTH = 64
SAFE_DEPTH = 32

# (block, unix time) through which the proof-of-work clock runs: approximate real dates
# (within a day or so; the exact values do not matter, the shape does).
POW_ANCHORS = (
    (0, 1_438_269_973),            # genesis, 2015-07-30
    (8_000_000, 1_561_100_149),    # 2019-06-21
    (9_000_000, 1_574_647_200),    # 2019-11-25
    (10_000_000, 1_588_598_533),   # 2020-05-04
    (11_000_000, 1_601_968_000),   # 2020-10-06
    (12_000_000, 1_615_234_816),   # 2021-03-08
    (13_000_000, 1_628_632_022),   # 2021-08-10
    (14_000_000, 1_642_114_795),   # 2022-01-13
    (15_000_000, 1_655_778_535),   # 2022-06-21
    (MERGE_BLOCK, MERGE_TIMESTAMP),
)
POW_JITTER = 13  # seconds; below the smallest per-block step, so time never runs backwards

MISSED_CHUNK = 100  # blocks per missed-slot draw
_MASK64 = (1 << 64) - 1

# Mean transactions per block by era (first block of the era, mean).
TX_ERAS = ((0, 120), (11_500_000, 170), (13_000_000, 190), (15_500_000, 170),
           (16_300_000, 150), (18_900_000, 160), (21_500_000, 190))
GAS_LIMIT_ERAS = ((0, 10_000_000), (10_500_000, 12_500_000), (11_200_000, 15_000_000),
                  (LONDON, 30_000_000), (21_700_000, 36_000_000), (22_800_000, 45_000_000),
                  (23_800_000, 60_000_000))
TX_STARTS, TX_MEANS = [a for a, _ in TX_ERAS], [m for _, m in TX_ERAS]
GAS_LIMIT_STARTS, GAS_LIMITS = [a for a, _ in GAS_LIMIT_ERAS], [g for _, g in GAS_LIMIT_ERAS]
TX_POOL = 65_536  # distinct filler transaction hashes
_ENTRY = 69  # bytes of one pool entry: '"0x' + 64 hex + '",'

EMPTY_UNCLES = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
EMPTY_ROOT = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
ZERO_HASH = "0x" + "00" * 32
POW_MINERS = ("0xea674fdde714fd979de3edf0f56aa9716b898ec8", "0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c",
              "0x829bd824b016326a401d083b33d092293333a830", "0x52bc44d5378309ee2abf1539bf71de1b7d7be3b5",
              "0x04668ec2f57cc15c381b461b9fedab5d451c8f7f", "0x99c85bb64564d9ef9a99621301f22c9993cb89e3")
POS_FEE_RECIPIENTS = ("0x95222290dd7278aa3ddd389cc1e1d165cc4bafe5",
                      "0x4838b106fce9647bdf1e7877bf73ce8b0bad5f97",
                      "0x1f9090aae28b8a3dceadf281b0f12828e676c326",
                      "0x388c818ca8b9251b393131c08a736a67ccb19297",
                      "0xdadb0d80178819f2319190d340ce9a924f783711",
                      "0x9b0c45d46d386cedd98873168c36efd0dcba8d46")


def mix(x: int) -> int:
    """splitmix64: a fast, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


class Blocks:
    """Hashes, timestamps and headers of blocks 0..head for one seed."""

    def __init__(self, seed: int, head: int = HEAD, lean: bool = False):
        self.seed = seed
        self.head = head
        self.lean = lean  # headers list only the token transactions (not mainnet-sized)
        self._key = hashlib.sha256(f"synthnet-blocks-{seed}".encode()).digest()[:32]
        self._salt = mix(seed) & _MASK64
        # Missed slots before each 100-block chunk after the Merge.
        chunks = max(0, head - MERGE_BLOCK) // MISSED_CHUNK + 2
        prefix = array("I", [0]) * (chunks + 1)
        positions: list[tuple[int, ...]] = []
        total = 0
        for c in range(chunks):
            prefix[c] = total
            positions.append(tuple(self._missed_in_chunk(c)))
            total += len(positions[-1])
        prefix[chunks] = total
        self._missed_prefix = prefix
        self._missed_positions = positions
        self._anchor_blocks = [a for a, _ in POW_ANCHORS]
        pool = bytearray()
        for i in range(TX_POOL):
            h = hashlib.blake2b(i.to_bytes(8, "big"), digest_size=32, key=self._key + b"tx").hexdigest()
            pool += b'"0x' + h.encode() + b'",'
        self._pool = bytes(pool)
        self._bloom = "0x" + hashlib.shake_256(self._key + b"bloom").hexdigest(256)

    # -- identity --------------------------------------------------------------------------

    def block_hash(self, n: int) -> str:
        return "0x" + hashlib.blake2b(n.to_bytes(8, "big"), digest_size=32, key=self._key).hexdigest()

    def tx_hash(self, n: int, tx_index: int) -> str:
        """The hash of a token transaction at (block, transactionIndex)."""
        return "0x" + hashlib.blake2b((n << 16 | tx_index).to_bytes(8, "big"), digest_size=32,
                                      key=self._key + b"tok").hexdigest()

    # -- time ------------------------------------------------------------------------------

    def _missed_in_chunk(self, c: int) -> list[int]:
        r = mix(self._salt ^ (c * 0x1000193 + 7))
        draw = r % 100
        count = 0 if draw < 37 else 1 if draw < 74 else 2 if draw < 92 else 3
        return sorted(mix(r + i + 1) % MISSED_CHUNK for i in range(count))

    def slot(self, n: int) -> int:
        """The beacon slot of a post-Merge block."""
        off = n - MERGE_BLOCK
        c, within = divmod(off, MISSED_CHUNK)
        missed = self._missed_prefix[c]
        for p in self._missed_positions[c]:
            if 0 < p <= within:
                missed += 1
        return MERGE_SLOT + off + missed

    def timestamp(self, n: int) -> int:
        if n >= MERGE_BLOCK:
            return BEACON_GENESIS + SLOT_SECONDS * self.slot(n)
        i = bisect.bisect_right(self._anchor_blocks, n) - 1
        a, ta = POW_ANCHORS[i]
        b, tb = POW_ANCHORS[i + 1]
        base = ta + (n - a) * (tb - ta) // (b - a)
        jitter = 0 if n == a else mix(self._salt + n) % POW_JITTER
        return base + jitter

    def block_at_time(self, t: float) -> int:
        """The last block at or before unix time t (binary search; for planning only)."""
        lo, hi = 0, self.head
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.timestamp(mid) <= t:
                lo = mid
            else:
                hi = mid - 1
        return lo

    # -- contents --------------------------------------------------------------------------

    def tx_count(self, n: int) -> int:
        mean = TX_MEANS[bisect.bisect_right(TX_STARTS, n) - 1]
        return max(1, mean // 2 + mix(self._salt ^ (n << 1)) % mean)

    def header(self, n: int, token_txs: list[tuple[int, str]] = (), full: bool = False):
        """The eth_getBlockByNumber answer for block n, as pre-serialized JSON (an
        orjson.Fragment; with full transactions, a dict). `token_txs`: (transactionIndex, hash)
        of the token transactions in it; they sit at their index in `transactions`."""
        if full:
            header = orjson.loads(self._header_json(n, token_txs, b"[]"))
            ntx = max(self.tx_count(n), token_txs[-1][0] + 1 if token_txs else 0)
            header["transactions"] = self._full_transactions(n, header["hash"], ntx, token_txs)
            return header
        return orjson.Fragment(self._header_json(n, token_txs, None))

    def _header_json(self, n: int, token_txs, transactions: bytes | None) -> bytes:
        # One f-string rather than a dict for orjson: this runs for every header a scanner
        # asks for (1.2M of them for the whole history), and halves the node's cost.
        h = self.block_hash(n)
        roots = hashlib.shake_256(h.encode()).hexdigest(128)
        r = mix(self._salt ^ n)
        ntx = self.tx_count(n)
        if token_txs:
            ntx = max(ntx, token_txs[-1][0] + 1)
        gas_limit = GAS_LIMITS[bisect.bisect_right(GAS_LIMIT_STARTS, n) - 1]
        pos = n >= MERGE_BLOCK
        if n >= LONDON:
            base_fee = 1_000_000_000 * (1 + r % 60) if n < 19_000_000 else 300_000_000 + r % 8_000_000_000
            head = f'{{"baseFeePerGas":"{hex(base_fee)}",'
            gas_used = gas_limit * (40 + r % 21) // 100
        else:
            head = "{"
            gas_used = gas_limit * (90 + r % 10) // 100
        if pos:
            head += '"difficulty":"0x0","extraData":"0x6265617665726275696c642e6f7267",'
            miner, nonce = POS_FEE_RECIPIENTS[r % 6], "0x0000000000000000"
        else:
            head += f'"difficulty":"{hex(2_500_000_000_000_000 + r % 1_000_000_000_000_000)}",' \
                    '"extraData":"0x7370696465723130",'
            miner, nonce = POW_MINERS[r % 6], "0x" + format(r, "016x")
        parent = self.block_hash(n - 1) if n > 0 else ZERO_HASH
        head += (f'"gasLimit":"{hex(gas_limit)}","gasUsed":"{hex(gas_used)}","hash":"{h}",'
                 f'"logsBloom":"{self._bloom}","miner":"{miner}","mixHash":"0x{roots[0:64]}",'
                 f'"nonce":"{nonce}","number":"{hex(n)}","parentHash":"{parent}",'
                 f'"receiptsRoot":"0x{roots[64:128]}","sha3Uncles":"{EMPTY_UNCLES}",'
                 f'"size":"{hex(1_000 + ntx * 180 + r % 500)}","stateRoot":"0x{roots[128:192]}",'
                 f'"timestamp":"{hex(self.timestamp(n))}","transactions":')
        tail = f',"transactionsRoot":"0x{roots[192:256]}","uncles":[]'
        if n >= SHANGHAI:
            tail += f',"withdrawals":[],"withdrawalsRoot":"{EMPTY_ROOT}"'
        if n >= CANCUN:
            tail += (f',"blobGasUsed":"{hex(131072 * (r % 7))}","excessBlobGas":"0x0",'
                     f'"parentBeaconBlockRoot":"0x{roots[0:64][::-1]}"')
        if n >= PRAGUE:
            tail += ',"requestsHash":"0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"'
        if transactions is None:
            transactions = self._hash_list(n, ntx, token_txs)
        return b"".join((head.encode(), transactions, tail.encode(), b"}"))

    def _hash_list(self, n: int, ntx: int, token_txs) -> bytes:
        """The JSON array of the block's transaction hashes, cut from the pre-serialized pool."""
        if self.lean:
            return b"[" + b",".join(b'"' + h.encode() + b'"' for _, h in token_txs) + b"]"
        start = mix(self._salt + (n << 2)) % (TX_POOL - ntx)
        pool = self._pool
        if not token_txs:
            return b"[" + pool[start * _ENTRY:(start + ntx) * _ENTRY - 1] + b"]"
        parts = [b"["]
        at = 0
        for index, tx_hash in token_txs:
            parts.append(pool[(start + at) * _ENTRY:(start + index) * _ENTRY])
            parts.append(b'"' + tx_hash.encode() + b'",')
            at = index + 1
        parts.append(pool[(start + at) * _ENTRY:(start + ntx) * _ENTRY])
        body = b"".join(parts)
        return body[:-1] + b"]"

    def _full_transactions(self, n: int, block_hash: str, ntx: int, token_txs) -> list[dict]:
        start = mix(self._salt + (n << 2)) % (TX_POOL - ntx)
        tokens = dict(token_txs)
        out = []
        for i in range(ntx):
            entry = self._pool[(start + i) * _ENTRY + 1:(start + i + 1) * _ENTRY - 2].decode()
            r = mix(self._salt ^ (n << 12) ^ i)
            out.append({
                "blockHash": block_hash, "blockNumber": hex(n),
                "from": "0x" + format(r, "016x") * 2 + format(r & 0xFFFFFFFF, "08x"),
                "gas": hex(21_000 + r % 200_000), "gasPrice": hex(1_000_000_000 + r % 50_000_000_000),
                "hash": tokens.get(i, entry), "input": "0x", "nonce": hex(r % 5_000),
                "to": "0x" + format(mix(r), "016x") * 2 + format(r >> 32, "08x"),
                "transactionIndex": hex(i), "value": hex(r % 10**18), "type": "0x2",
                "chainId": "0x1", "v": "0x1", "r": "0x" + format(mix(r + 1), "064x"),
                "s": "0x" + format(mix(r + 2), "064x"),
            })
        return out

"""The synthetic history: every PAXG and XAUT log from their real start blocks to the head,
and every round of Chainlink's XAU/USD and PAXG/USD aggregators (feeds.py), generated once
from a seed into compact arrays and cached under benchmarks/cache/.

Shape (scale 1): about 2.5M scanned logs (plus audit-only Approval/Ownership logs the
scanner's topic filter leaves out) over the 18M blocks from PAXG's start block to the head,
about one block in 15 carrying a token log. Activity grows over the years (PAXG about 5x
over its seven years, XAUT about 8x over five) and comes in bursts (dozens per token of a day
to a few weeks, 2-10x the surrounding rate, some much higher), so some 10,000-block ranges
hold more than 10,000 logs and a provider's result cap bites.

Transactions follow the contracts' real log sequences (FACTS.md):
- PAXG V1: mint = SupplyIncreased + Transfer(0x0 -> supply controller); burn =
  SupplyDecreased + Transfer(supply controller -> 0x0); transfer = principal leg, fee leg to
  the fee recipient (even at fee 0), FeeCollected when the fee is above 0 (0.02% until the
  FeeRateSet(200, 0) of May 2024); betaDelegatedTransfer adds the relayer's service-fee leg
  and BetaDelegatedTransfer; AddressFrozen, later FrozenAddressWiped + SupplyDecreased +
  Transfer to 0x0 (or AddressUnfrozen). At its start block: Upgraded (address in data),
  SupplyControllerSet, FeeRecipientSet, FeeRateSet(0, 200).
- XAUT: mint = Transfer(0x0 -> treasury) + Mint; redeem = Transfer(owner -> 0x0) + Redeem;
  transfer (a tenth by transferFrom, with an Approval after it); multiTransfer (several
  Transfers in one transaction); BlockPlaced, later Transfer to 0x0 + DestroyedBlockedFunds
  (or BlockReleased). At its start block: Upgraded (indexed), OwnershipTransferred, AdminChanged.

Balances are tracked while generating: a sender never sends more than it holds, so the
ledger (balances and supply at any block, from the Transfer logs alone) never goes negative
and `eth_call` can answer totalSupply and balanceOf at any block from it.

`--scale s` multiplies the number of transactions (and holders), over the same block span:
the block structure (and so every range-capped provider's eth_getLogs count) stays the same.

The price rounds (feeds.py) do not scale: they come from their own random streams, after the
tokens' (so the token logs are those of generator version 1, bit for bit). Each round is a
transaction of two logs (AnswerUpdated, NewRound) at a transactionIndex drawn from its own
stream; in a block that also holds token transactions it moves up to the first index where it
fits between them, so log indices stay unique and ordered by transaction.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import random
import shutil
import time
from array import array
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.synthnet import events as ev
from benchmarks.synthnet import feeds
from benchmarks.synthnet.blocks import HEAD, Blocks

# Bump when the generator changes what it emits: old cache entries then no longer match.
# 2: Chainlink's two feeds (AnswerUpdated and NewRound of seven aggregators).
GENERATOR_VERSION = 2
PAXG_TXS = 560_000
XAUT_TXS = 860_000
PAXG_POOL = 120_000
XAUT_POOL = 90_000
MIN_POOL = 2_000
CHUNK = 2_000  # blocks per activity cell
YEAR = 365.25 * 86_400
FIELDS = (("block", "I"), ("txi", "H"), ("logi", "H"), ("a", "I"), ("b", "I"),
          ("amt_hi", "Q"), ("amt_lo", "Q"))
_M64 = (1 << 64) - 1


@dataclass(frozen=True)
class Params:
    seed: int = 1
    scale: float = 1.0
    head: int = HEAD

    def key(self) -> str:
        ident = json.dumps({**asdict(self), "version": GENERATOR_VERSION}, sort_keys=True)
        return f"synthnet-s{self.scale:g}-{hashlib.sha256(ident.encode()).hexdigest()[:10]}"


def _poisson(rng: random.Random, lam: float) -> int:
    if lam < 30:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


def _schedule(rng: random.Random, blocks: Blocks, lo: int, hi: int, n_txs: int,
              growth_per_year: float, n_bursts: int) -> list[int]:
    """Block numbers of n_txs transactions (about), sorted: a growing rate with bursts."""
    n_cells = (hi - lo) // CHUNK + 1
    t0 = blocks.timestamp(lo)
    weights = [math.exp(growth_per_year * (blocks.timestamp(min(hi, lo + c * CHUNK + CHUNK // 2)) - t0)
                        / YEAR) for c in range(n_cells)]
    for _ in range(n_bursts):
        center = int(rng.random() * n_cells)
        width = 1 + rng.random() ** 2 * 40  # cells of 2,000 blocks: a few hours to weeks
        height = 2 + rng.random() * 8
        if rng.random() < 0.15:
            height *= 4  # a crash, a rally, an exchange listing
        for c in range(max(0, int(center - 3 * width)), min(n_cells, int(center + 3 * width) + 1)):
            weights[c] *= 1 + (height - 1) * math.exp(-((c - center) / width) ** 2)
    total = sum(weights)
    out: list[int] = []
    for c, w in enumerate(weights):
        start = lo + c * CHUNK
        span = min(hi, start + CHUNK - 1) - start + 1
        for _ in range(_poisson(rng, n_txs * w / total)):
            out.append(start + int(rng.random() * span))
    out.sort()
    return out


def _blocks_of(block: array, kind: bytearray, wanted: frozenset) -> tuple[array, array]:
    """The block of every log of a wanted kind, and the distinct ones, both sorted."""
    table = bytes(1 if k in wanted else 0 for k in range(256))
    blocks = array("I", (n for n, k in zip(block, kind) if table[k]))
    distinct = array("I")
    last = -1
    for n in blocks:
        if n != last:
            distinct.append(n)
            last = n
    return blocks, distinct


class History:
    """The logs as parallel arrays sorted by (block, logIndex), plus what the ledger needs."""

    def __init__(self, params: Params, arrays: dict, kind: bytearray, extra: dict[int, tuple[int, int]],
                 n_addresses: int, meta: dict):
        self.params = params
        self.block, self.txi, self.logi = arrays["block"], arrays["txi"], arrays["logi"]
        self.a, self.b = arrays["a"], arrays["b"]
        self.amt_hi, self.amt_lo = arrays["amt_hi"], arrays["amt_lo"]
        self.kind = kind
        self.extra = extra
        self.n_addresses = n_addresses
        self.meta = meta
        key = hashlib.sha256(f"synthnet-addresses-{params.seed}".encode()).digest()
        self.addresses = [ev.FIXED_ADDRESSES.get(i) or "0x" + hashlib.blake2b(
            i.to_bytes(8, "big"), digest_size=20, key=key).hexdigest() for i in range(n_addresses)]
        self._address_ids: dict[str, int] | None = None
        self._ledger: list | None = None
        self._answers: tuple[array, array] | None = None
        self._feed_rounds: dict[int, tuple[array, array]] = {}
        # Blocks of the logs the indexer's filter asks for (the tokens' and the aggregators'
        # AnswerUpdated), and the distinct ones; the same for the tokens' alone.
        self.scanned_blocks, self.scanned_log_blocks = _blocks_of(self.block, kind, ev.INDEXER_SCANNED)
        self.token_blocks, self.token_log_blocks = _blocks_of(self.block, kind, ev.SCANNED)

    def __len__(self) -> int:
        return len(self.block)

    def amount(self, i: int) -> int:
        return self.amt_hi[i] << 64 | self.amt_lo[i]

    # -- expected contents -------------------------------------------------------------------

    def scanned_counts(self, to_block: int, from_block: int = 0) -> dict[str, int]:
        """Scanned logs per token in [from_block, to_block]."""
        i0 = bisect.bisect_left(self.block, from_block)
        i1 = bisect.bisect_right(self.block, to_block)
        counts = [0, 0]
        kinds = self.kind[i0:i1]
        for code in ev.SCANNED:
            c = kinds.count(code)
            if c:
                counts[ev.KINDS[code].source] += c
        return dict(zip(ev.TOKENS, counts))

    def answer_positions(self, to_block: int) -> array:
        """Positions of every aggregator's AnswerUpdated log in blocks up to to_block, in order."""
        if self._answers is None:
            positions = []
            for code in ev.PRICE_SCANNED:
                i = self.kind.find(code)
                while i != -1:
                    positions.append(i)
                    i = self.kind.find(code, i + 1)
            positions.sort()
            self._answers = (array("I", positions), array("I", (self.block[i] for i in positions)))
        positions, blocks = self._answers
        return positions[:bisect.bisect_right(blocks, to_block)]

    def feed_rounds(self, aggregator: int) -> tuple[array, array]:
        """(blocks, positions) of one aggregator's rounds, in round order (round id = index + 1)."""
        out = self._feed_rounds.get(aggregator)
        if out is None:
            code = ev.AGGREGATORS[aggregator].answer_kind
            positions = array("I")
            i = self.kind.find(code)
            while i != -1:
                positions.append(i)
                i = self.kind.find(code, i + 1)
            out = self._feed_rounds[aggregator] = (array("I", (self.block[i] for i in positions)), positions)
        return out

    def fee_legs(self, to_block: int) -> int:
        """PAXG fee legs up to to_block: the generator sends every fee leg, and nothing else, to
        the fee recipient, and every service-fee leg, and nothing else, to the relayer."""
        i1 = bisect.bisect_right(self.block, to_block)
        fee_ids = (ev.FEE_RECIPIENT, ev.RELAYER)
        return sum(1 for i in range(i1) if self.kind[i] == ev.P_TRANSFER and self.b[i] in fee_ids)

    # -- the ledger (eth_call) ---------------------------------------------------------------

    def _build_ledger(self) -> list:
        """Per token: the blocks and running supply at each mint/burn, and per address the
        positions of its Transfer logs. Built on first use (a few seconds at scale 1)."""
        ledger = []
        for token, code in enumerate(ev.TRANSFER_KINDS):
            supply_blocks, supply = array("I"), []
            running = 0
            touched: dict[int, array] = {}
            block, a, b, kind = self.block, self.a, self.b, self.kind
            i = kind.find(code)
            while i != -1:
                s, r = a[i], b[i]
                if s == ev.ZERO or r == ev.ZERO:
                    amount = self.amount(i)
                    running += amount if s == ev.ZERO else -amount
                    supply_blocks.append(block[i])
                    supply.append(running)
                for h in ((s,) if s == r else (s, r)):  # a self-transfer (a fee leg to itself) once
                    if h != ev.ZERO:
                        positions = touched.get(h)
                        if positions is None:
                            positions = touched[h] = array("I")
                        positions.append(i)
                i = kind.find(code, i + 1)
            ledger.append((supply_blocks, supply, touched))
        return ledger

    @property
    def ledger(self) -> list:
        if self._ledger is None:
            self._ledger = self._build_ledger()
        return self._ledger

    def total_supply(self, token: int, at_block: int) -> int:
        supply_blocks, supply, _ = self.ledger[token]
        j = bisect.bisect_right(supply_blocks, at_block)
        return supply[j - 1] if j else 0

    def address_id(self, address: str) -> int | None:
        if self._address_ids is None:
            self._address_ids = {addr: i for i, addr in enumerate(self.addresses)}
        return self._address_ids.get(address.lower())

    def balance_of(self, token: int, address: str, at_block: int) -> int:
        h = self.address_id(address)
        if h is None or h == ev.ZERO:
            return 0
        positions = self.ledger[token][2].get(h)
        if not positions:
            return 0
        balance = 0
        block, a, b = self.block, self.a, self.b
        for i in positions:
            if block[i] > at_block:
                break
            if a[i] == h:
                if b[i] != h:
                    balance -= self.amount(i)
            else:
                balance += self.amount(i)
        return balance

    def holders(self, token: int) -> list[int]:
        return list(self.ledger[token][2])


# -- generation ----------------------------------------------------------------------------

class _Writer:
    """Appends logs and keeps both tokens' balances while the generator walks the blocks."""

    def __init__(self, n_addresses: int):
        self.arrays = {name: array(code) for name, code in FIELDS}
        self.kind = bytearray()
        self.extra: dict[int, tuple[int, int]] = {}
        self.balance = [[0] * n_addresses, [0] * n_addresses]
        # Addresses with a balance that may send (not frozen/blocked), per token: a list for
        # skewed picks and each one's position in it for O(1) removal.
        self.funded: list[list[int]] = [[], []]
        self.where: list[dict[int, int]] = [{}, {}]
        self.stuck: list[set[int]] = [set(), set()]  # frozen (PAXG), blocked (XAUT)

    def log(self, block: int, txi: int, logi: int, kind: int, a: int, b: int, amount: int) -> None:
        arr = self.arrays
        arr["block"].append(block)
        arr["txi"].append(txi)
        arr["logi"].append(logi)
        arr["a"].append(a)
        arr["b"].append(b)
        arr["amt_hi"].append(amount >> 64)
        arr["amt_lo"].append(amount & _M64)
        self.kind.append(kind)

    def _enlist(self, token: int, h: int) -> None:
        if h not in self.where[token] and h not in self.stuck[token] and h != ev.ZERO:
            self.where[token][h] = len(self.funded[token])
            self.funded[token].append(h)

    def _delist(self, token: int, h: int) -> None:
        pos = self.where[token].pop(h, None)
        if pos is None:
            return
        lst = self.funded[token]
        last = lst.pop()
        if last != h:
            lst[pos] = last
            self.where[token][last] = pos

    def move(self, token: int, s: int, r: int, amount: int) -> None:
        bal = self.balance[token]
        if s != ev.ZERO:
            bal[s] -= amount
            if bal[s] < 0:
                raise AssertionError(f"negative balance of {s} ({ev.TOKENS[token]})")
            if bal[s] == 0:
                self._delist(token, s)
        if r != ev.ZERO:
            bal[r] += amount
            if bal[r] > 0:
                self._enlist(token, r)

    def stick(self, token: int, h: int) -> None:
        self.stuck[token].add(h)
        self._delist(token, h)

    def unstick(self, token: int, h: int) -> None:
        self.stuck[token].discard(h)
        if self.balance[token][h] > 0:
            self._enlist(token, h)


def generate(params: Params, blocks: Blocks, log=print) -> History:
    started = time.monotonic()
    rng = random.Random(params.seed)
    scale = params.scale
    head = params.head
    paxg_pool = max(MIN_POOL, int(PAXG_POOL * scale))
    xaut_pool = max(MIN_POOL, int(XAUT_POOL * scale))
    pools = ((ev.FIRST_HOLDER, paxg_pool), (ev.FIRST_HOLDER + paxg_pool // 2, xaut_pool))
    n_addresses = ev.FIRST_HOLDER + paxg_pool // 2 + xaut_pool
    w = _Writer(n_addresses)

    # (block, order, token, what, arg): what the chain does, in block order.
    plan: list[tuple] = []
    seq = 0
    for token, (lo, n_txs, growth, bursts) in enumerate((
            (ev.PAXG_START, PAXG_TXS, math.log(5) / 7.3, 40),
            (ev.XAUT_START, XAUT_TXS, math.log(8) / 5.1, 30))):
        if lo > head:
            continue
        plan.append((lo, -1, token, "setup", None))
        for n in _schedule(rng, blocks, lo + 1, head, int(n_txs * scale), growth, bursts):
            plan.append((n, seq, token, "tx", None))
            seq += 1
        # Freezes/blocks: rare but always present, each later wiped/destroyed or released.
        for _ in range(max(2, round(12 * scale))):
            at = lo + 1 + int(rng.random() * (head - lo) * 0.9)
            later = min(head, at + 10_000 + int(rng.random() * 400_000))
            plan.append((at, seq, token, "stick", None))
            plan.append((later, seq + 1, token, "unstick", seq))
            seq += 2
    if ev.FEE_ZERO_BLOCK <= head:
        plan.append((ev.FEE_ZERO_BLOCK, seq, 0, "fee_zero", None))
    plan.sort(key=lambda p: (p[0], p[1]))
    log(f"synthnet: generating {len(plan):,} transactions over blocks {ev.PAXG_START:,}-{head:,} "
        f"(scale {scale:g}, seed {params.seed})")

    stuck_by_seq: dict[int, int | None] = {}
    fee_rate = ev.PAXG_FEE_RATE
    beta_seq = 0
    rand = rng.random

    def pool_pick(token: int, avoid: int) -> int:
        first, size = pools[token]
        for _ in range(8):
            h = first + int(size * rand() ** 3)
            if h != avoid and not (token == 0 and h in w.stuck[0]):
                return h
        return ev.TREASURY if token == 1 else ev.SUPPLY_CONTROLLER

    def funded_pick(token: int) -> int | None:
        lst = w.funded[token]
        if not lst:
            return None
        return lst[int(len(lst) * rand() ** 2)]

    def portion(balance: int) -> int:
        if rand() < 0.08:
            return balance
        return max(1, int(balance * rand() * 0.6))

    i = 0
    n_plan = len(plan)
    while i < n_plan:
        n = plan[i][0]
        j = i
        while j < n_plan and plan[j][0] == n:
            j += 1
        group = plan[i:j]
        i = j
        k = len(group)
        width = max(blocks.tx_count(n), k)
        if k == 1:
            indices = [int(rand() * width)]
        else:
            chosen: set[int] = set()
            while len(chosen) < k:
                chosen.add(int(rand() * width))
            indices = sorted(chosen)
        next_logi = 0
        for (_, order, token, what, arg), txi in zip(group, indices):
            logi = max(next_logi, txi * 2 + int(rand() * 3))
            out: list[tuple[int, int, int, int]] = []  # (kind, a, b, amount)
            if what == "setup":
                if token == 0:
                    out = [(ev.P_UPGRADED, ev.PAXG_IMPL, 0, 0),
                           (ev.P_SUPPLY_CONTROLLER_SET, ev.ZERO, ev.SUPPLY_CONTROLLER, 0),
                           (ev.P_FEE_RECIPIENT_SET, ev.ZERO, ev.FEE_RECIPIENT, 0),
                           (ev.P_FEE_RATE_SET, 0, ev.PAXG_FEE_RATE, 0)]
                else:
                    out = [(ev.X_UPGRADED, ev.XAUT_IMPL, 0, 0),
                           (ev.X_OWNERSHIP, ev.ZERO, ev.XAUT_OWNER, 0),
                           (ev.X_ADMIN, ev.ZERO, ev.XAUT_ADMIN, 0)]
            elif what == "fee_zero":
                out = [(ev.P_FEE_RATE_SET, fee_rate, 0, 0)]
                fee_rate = 0
            elif what == "stick":
                h = funded_pick(token)
                if h in (None, ev.SUPPLY_CONTROLLER, ev.FEE_RECIPIENT, ev.TREASURY):
                    h = pool_pick(token, ev.ZERO)
                stuck_by_seq[order] = h
                w.stick(token, h)
                out = [(ev.P_ADDRESS_FROZEN if token == 0 else ev.X_BLOCK_PLACED, h, 0, 0)]
            elif what == "unstick":
                h = stuck_by_seq.pop(arg)
                bal = w.balance[token][h]
                if rand() < 0.6:  # seized
                    if token == 0:
                        out = [(ev.P_FROZEN_WIPED, h, 0, 0), (ev.P_SUPPLY_DECREASED, h, 0, bal),
                               (ev.P_TRANSFER, h, ev.ZERO, bal)]
                    else:
                        out = [(ev.X_TRANSFER, h, ev.ZERO, bal), (ev.X_DESTROYED, h, 0, bal)]
                    w.move(token, h, ev.ZERO, bal)
                else:
                    out = [(ev.P_ADDRESS_UNFROZEN if token == 0 else ev.X_BLOCK_RELEASED, h, 0, 0)]
                    w.unstick(token, h)
            elif token == 0:
                out = _paxg_tx(w, rand, funded_pick, pool_pick, portion, fee_rate)
            else:
                out = _xaut_tx(w, rand, funded_pick, pool_pick, portion)
            for kind, a, b, amount, *service_fee in out:
                if service_fee:  # BetaDelegatedTransfer: its seq and service fee ride in `extra`
                    beta_seq += 1
                    w.extra[len(w.kind)] = (beta_seq, service_fee[0])
                w.log(n, txi, logi, kind, a, b, amount)
                logi += 1
            next_logi = logi + 1
    rounds = feeds.generate_rounds(params.seed, blocks, head)
    entries = _place_rounds(rounds, blocks, params.seed, w.arrays)
    arrays, kind, extra = _merge(w.arrays, w.kind, w.extra, entries)
    elapsed = time.monotonic() - started
    per_feed = {name: 0 for name in ev.FEED_NAMES}
    for r in rounds:
        per_feed[ev.FEEDS[ev.AGGREGATORS[r.aggregator].feed].name] += 1
    meta = {"params": asdict(params), "version": GENERATOR_VERSION, "logs": len(kind),
            "n_addresses": n_addresses, "seconds": round(elapsed, 1), "price_rounds": per_feed}
    history = History(params, arrays, kind, extra, n_addresses, meta)
    meta["scanned_logs"] = len(history.scanned_blocks)
    meta["scanned_log_blocks"] = len(history.scanned_log_blocks)
    meta["token_logs"] = len(history.token_blocks)
    meta["token_log_blocks"] = len(history.token_log_blocks)
    log(f"synthnet: {meta['logs']:,} logs ({meta['scanned_logs']:,} scanned, in "
        f"{meta['scanned_log_blocks']:,} blocks; price rounds "
        + ", ".join(f"{k} {v:,}" for k, v in per_feed.items()) + f") in {elapsed:.0f}s")
    return history


def _place_rounds(rounds: list[feeds.Round], blocks: Blocks, seed: int, arrays: dict) -> list[tuple]:
    """Each round as a transaction of two logs, AnswerUpdated then NewRound: the entries
    (block, txi, logi, kind, a, b, amount) in (block, logi) order. The transaction index comes
    from a stream of its own (two draws per round, whatever the tokens do); where the block's
    token transactions leave no room at that index, the round moves to the next index that has
    room (one past the last token transaction at worst)."""
    rng = random.Random(f"synthnet-feed-places-{seed}")
    t_block, t_txi, t_logi = arrays["block"], arrays["txi"], arrays["logi"]
    out: list[tuple] = []
    i = 0
    while i < len(rounds):
        n = rounds[i].block
        j = i
        while j < len(rounds) and rounds[j].block == n:
            j += 1
        # (txi, first logi, last logi) of the block's transactions, by txi.
        taken: list[list[int]] = []
        for k in range(bisect.bisect_left(t_block, n), bisect.bisect_right(t_block, n)):
            if taken and taken[-1][0] == t_txi[k]:
                taken[-1][2] = t_logi[k]
            else:
                taken.append([t_txi[k], t_logi[k], t_logi[k]])
        placed = []
        for r in rounds[i:j]:
            c = int(rng.random() * blocks.tx_count(n))
            offset = int(rng.random() * 3)
            while True:
                pos = bisect.bisect_right([t[0] for t in taken], c)
                before = taken[pos - 1] if pos else None
                after = taken[pos] if pos < len(taken) else None
                start = max(2 * c + offset, before[2] + 1 if before else 0)
                if (before is None or before[0] != c) and (after is None or start + 1 < after[1]):
                    break
                c += 1
            taken.insert(pos, [c, start, start + 1])
            a = ev.AGGREGATORS[r.aggregator]
            placed.append((n, c, start, a.answer_kind, r.round_id, r.updated_at, r.answer))
            placed.append((n, c, start + 1, a.new_round_kind, r.round_id, ev.TRANSMITTER, r.updated_at))
        out.extend(sorted(placed, key=lambda e: e[2]))
        i = j
    return out


def _merge(arrays: dict, kind: bytearray, extra: dict[int, tuple[int, int]],
           entries: list[tuple]) -> tuple[dict, bytearray, dict[int, tuple[int, int]]]:
    """The token logs with the price entries slotted in by (block, logi); `extra` (keyed by
    position) moves with its logs."""
    new = {name: array(code) for name, code in FIELDS}
    new_kind = bytearray()
    new_extra: dict[int, tuple[int, int]] = {}
    extra_keys = sorted(extra)
    block, logi = arrays["block"], arrays["logi"]
    total = len(kind)

    def copy(lo: int, hi: int) -> None:
        if hi <= lo:
            return
        shift = len(new_kind) - lo
        for k in extra_keys[bisect.bisect_left(extra_keys, lo):bisect.bisect_left(extra_keys, hi)]:
            new_extra[k + shift] = extra[k]
        for name, _ in FIELDS:
            new[name].extend(arrays[name][lo:hi])
        new_kind.extend(kind[lo:hi])

    pos = 0
    for n, txi, li, code, a, b, amount in entries:
        j = bisect.bisect_left(block, n, pos)
        while j < total and block[j] == n and logi[j] < li:
            j += 1
        copy(pos, j)
        pos = j
        for name, value in (("block", n), ("txi", txi), ("logi", li), ("a", a), ("b", b),
                            ("amt_hi", amount >> 64), ("amt_lo", amount & _M64)):
            new[name].append(value)
        new_kind.append(code)
    copy(pos, total)
    return new, new_kind, new_extra


def _paxg_tx(w: _Writer, rand, funded_pick, pool_pick, portion, fee_rate: int) -> list[tuple]:
    bal = w.balance[0]
    sc = ev.SUPPLY_CONTROLLER
    u = rand()
    if u < 0.025 and bal[sc] > 0:  # burn from the supply controller
        v = max(1, int(bal[sc] * (0.2 + 0.8 * rand())))
        w.move(0, sc, ev.ZERO, v)
        return [(ev.P_SUPPLY_DECREASED, sc, 0, v), (ev.P_TRANSFER, sc, ev.ZERO, v)]
    s = sc if (rand() < 0.12 and bal[sc] > 0) else funded_pick(0)
    if u < 0.055 or s is None:  # mint to the supply controller
        v = int(10 ** 18 * 10 ** (rand() * 3.5 - 1))
        w.move(0, ev.ZERO, sc, v)
        return [(ev.P_SUPPLY_INCREASED, sc, 0, v), (ev.P_TRANSFER, ev.ZERO, sc, v)]
    r = sc if rand() < 0.03 and s != sc else pool_pick(0, s)
    fr = ev.FEE_RECIPIENT
    if u < 0.06:  # betaDelegatedTransfer: a relayer takes a service fee on top
        total = portion(bal[s])
        service_fee = total // 1001 if rand() < 0.7 else 0
        value = total - service_fee
        fee = value * fee_rate // ev.FEE_PARTS
        out = [(ev.P_TRANSFER, s, r, value - fee), (ev.P_TRANSFER, s, fr, fee)]
        w.move(0, s, r, value - fee)
        w.move(0, s, fr, fee)
        if fee:
            out.append((ev.P_FEE_COLLECTED, s, fr, fee))
        if service_fee:
            out.append((ev.P_TRANSFER, s, ev.RELAYER, service_fee))
            w.move(0, s, ev.RELAYER, service_fee)
        out.append((ev.P_BETA, s, r, value - fee, service_fee))  # value after the fee
        return out
    value = portion(bal[s])
    fee = value * fee_rate // ev.FEE_PARTS
    w.move(0, s, r, value - fee)
    w.move(0, s, fr, fee)
    out = [(ev.P_TRANSFER, s, r, value - fee), (ev.P_TRANSFER, s, fr, fee)]
    if fee:
        out.append((ev.P_FEE_COLLECTED, s, fr, fee))
    return out


def _xaut_tx(w: _Writer, rand, funded_pick, pool_pick, portion) -> list[tuple]:
    bal = w.balance[1]
    tr = ev.TREASURY
    u = rand()
    if u < 0.003 or not w.funded[1]:  # mint to the treasury
        v = int(10 ** 6 * 10 ** (2 + rand() * 2.5))
        w.move(1, ev.ZERO, tr, v)
        return [(ev.X_TRANSFER, ev.ZERO, tr, v), (ev.X_MINT, tr, 0, v)]
    if u < 0.006:  # redeem, mostly by the treasury
        owner = tr if (rand() < 0.9 and bal[tr] > 0) else funded_pick(1)
        v = max(1, int(bal[owner] * (0.1 + 0.9 * rand())))
        w.move(1, owner, ev.ZERO, v)
        return [(ev.X_TRANSFER, owner, ev.ZERO, v), (ev.X_REDEEM, 0, 0, v)]
    s = tr if (rand() < 0.08 and bal[tr] > 0) else funded_pick(1)
    if u < 0.026:  # multiTransfer
        k = 2 + int(rand() ** 2 * 38)
        out = []
        for _ in range(k):
            if bal[s] == 0:
                break
            r = pool_pick(1, s)
            v = max(1, int(bal[s] * rand() * 0.5 / k))
            w.move(1, s, r, v)
            out.append((ev.X_TRANSFER, s, r, v))
        return out
    r = tr if (rand() < 0.04 and s != tr) else pool_pick(1, s)
    v = portion(bal[s])
    w.move(1, s, r, v)
    out = [(ev.X_TRANSFER, s, r, v)]
    if rand() < 0.1:  # transferFrom: the allowance left, after the Transfer
        out.append((ev.X_APPROVAL, s, ev.SPENDER, int(v * rand() * 3)))
    return out


# -- cache -----------------------------------------------------------------------------------

def _cache_dir(root: Path, params: Params) -> Path:
    return root / params.key()


def save(history: History, root: Path) -> Path:
    dest = _cache_dir(root, history.params)
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, _ in FIELDS:
        with open(tmp / f"{name}.bin", "wb") as f:
            getattr(history, name).tofile(f)
    (tmp / "kind.bin").write_bytes(bytes(history.kind))
    meta = {**history.meta, "extra": {str(k): v for k, v in history.extra.items()}}
    (tmp / "meta.json").write_text(json.dumps(meta))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def load(root: Path, params: Params) -> History | None:
    src = _cache_dir(root, params)
    if not (src / "meta.json").exists():
        return None
    meta = json.loads((src / "meta.json").read_text())
    n = meta["logs"]
    arrays = {}
    for name, code in FIELDS:
        arr = array(code)
        with open(src / f"{name}.bin", "rb") as f:
            arr.fromfile(f, n)
        arrays[name] = arr
    kind = bytearray((src / "kind.bin").read_bytes())
    extra = {int(k): tuple(v) for k, v in meta.pop("extra").items()}
    return History(params, arrays, kind, extra, meta["n_addresses"], meta)


def ensure(params: Params, blocks: Blocks, root: Path, *, rebuild: bool = False, log=print) -> History:
    """The history for `params`, from the cache or generated (and cached)."""
    if not rebuild:
        started = time.monotonic()
        history = load(root, params)
        if history is not None:
            log(f"synthnet: loaded {history.meta['logs']:,} logs from {_cache_dir(root, params)} "
                f"in {time.monotonic() - started:.1f}s")
            return history
    history = generate(params, blocks, log=log)
    save(history, root)
    return history

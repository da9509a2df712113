"""Auditing during the sync: a provider that answers eth_getLogs with 200 OK and logs missing is
caught while the range is still in hand, not by `indexer verify` later.

After a batch commits, at its checkpoint block B the chain's `totalSupply()` of each token the
batch held is compared with the indexed supply (catches a lost mint or burn), and `balanceOf`
of a few addresses the batch's transfers touched with their indexed balances (catches a lost
transfer), all in one JSON-RPC batch. Audits are paced by a budget: their calls may cost at
most `audit.budget_share` of what the sync's own requests cost (in the pricing's credits, else
calls), so an audit comes every few dozen ranges in a backfill and every few minutes at the
head. `audit.every_batches` fixes the pace instead.

A mismatch means a log between the last good audit A and B is missing (or extra): the sync
rolls back to A (the reorg path, derived tables included) and fetches A+1..B again, from the
next endpoint when there are several. Only a mismatch that persists over MAX_REFETCHES stops
the sync, naming the range. A node without the state of B (not an archive node) cannot answer
for old blocks: auditing is then off until the sync is near the head, said once.
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from dataclasses import dataclass

from indexer import store
from indexer.config import AuditConfig
from indexer.contracts import Contracts, UndecodableAnswer
from indexer.decode import AMOUNT, EVENT, FROM, TO, TOKEN
from indexer.errors import IndexerError
from indexer.rpc import MissingState, RpcClient
from indexer.store import Header
from indexer.tokens import ZERO_ADDRESS, Token

log = logging.getLogger(__name__)

# Addresses recently active per token, from which audits also sample: the two addresses of a
# transfer the provider left out appear in no stored row of its range, but most likely in the
# rows of earlier ones.
RECENT_ADDRESSES = 10_000
# A range whose audit fails is fetched again this many times before the sync stops.
MAX_REFETCHES = 3
# After a node says it has no state that old, audits wait until the sync is this close to the
# head (non-archive nodes keep the state of the last 128 blocks).
STATE_DEPTH = 64

def _addresses(findings: list["Finding"]) -> str:
    """' --address A --address B' for the differing balances of `findings` (verify checks its
    largest holders and a sample; these may be neither)."""
    return "".join(f" --address {a}" for a in dict.fromkeys(
        f.what for f in findings if f.what != "totalSupply"))


class AuditMismatch(Exception):
    """Indexed and chain figures differ at `block`: the logs after `good` are suspect."""

    def __init__(self, good: Header, block: int, detail: str):
        super().__init__(f"blocks {good.number + 1}-{block}: {detail}")
        self.good, self.block, self.detail = good, block, detail


@dataclass(slots=True)
class Finding:
    token: str
    what: str  # "totalSupply" or an address
    indexed: int
    chain: int


class Auditor:
    """Decides when to audit, audits, and remembers the last block that passed."""

    def __init__(self, cfg: AuditConfig, rpc: RpcClient, tokens: tuple[Token, ...], chain_id: int,
                 seed: int = 7):
        self.cfg, self.rpc, self.chain_id = cfg, rpc, chain_id
        self.tokens = {t.symbol: t for t in tokens}
        self.contracts = Contracts(rpc)
        self.rng = random.Random(seed)
        self.good: Header | None = None  # the last checkpoint that passed (or the run's start)
        self.spent = 0.0  # what the audits cost, in the pricing's unit
        self.audits = 0
        self.mismatches = 0
        self._batches = 0
        self._state_from: int | None = None  # no audit below this block (no state there)
        self._refetches: dict[tuple[int, int], int] = {}
        self._recent: dict[str, OrderedDict[str, None]] = {}

    def start(self, checkpoint: Header | None) -> None:
        """The run's starting point is trusted as far as this run can tell."""
        if self.good is None or (checkpoint is not None and checkpoint.number < self.good.number):
            self.good = checkpoint

    def rolled_back(self, to: Header) -> None:
        if self.good is None or self.good.number > to.number:
            self.good = to

    def _due(self, sync_cost: float, force: bool) -> bool:
        if not self.cfg.enabled:
            return False
        self._batches += 1
        if force:
            return True
        if self.cfg.every_batches > 0:
            return self._batches >= self.cfg.every_batches
        return self.spent <= sync_cost * self.cfg.budget_share

    def after_batch(self, conn, checkpoint: Header, tokens: tuple[str, ...], rows: list[list],
                    head: int, sync_cost: float, force: bool = False) -> None:
        """Audit at `checkpoint` if due (or `force`d); raises AuditMismatch on a difference."""
        if not tokens or (self._state_from is not None and checkpoint.number < self._state_from):
            return
        if not self._due(sync_cost, force):
            return
        self._batches = 0
        block = checkpoint.number
        touched = {}
        for row in rows:
            if row[EVENT] == "Transfer" and row[AMOUNT]:
                for address in (row[FROM], row[TO]):
                    if address and address != ZERO_ADDRESS:
                        touched.setdefault(row[TOKEN], set()).add(address)
        reads = {}
        for symbol in tokens:
            mine = sorted(touched.get(symbol, ()))
            recent = self._recent.setdefault(symbol, OrderedDict())
            older = [a for a in recent if a not in touched.get(symbol, ())]
            half = min(len(mine), max(1, self.cfg.sample - self.cfg.sample // 2))
            picked = self.rng.sample(mine, half)
            picked += self.rng.sample(older, min(self.cfg.sample - half, len(older)))
            if len(picked) < self.cfg.sample:
                rest = [a for a in mine if a not in picked]
                picked += self.rng.sample(rest, min(self.cfg.sample - len(picked), len(rest)))
            reads[symbol] = sorted(picked)
            for address in mine:
                recent[address] = None
                recent.move_to_end(address)
            while len(recent) > RECENT_ADDRESSES:
                recent.popitem(last=False)
        before = self.rpc.cost()
        try:
            chain = self._read_chain({self.tokens[s].address: h for s, h in reads.items()}, block)
        except MissingState as exc:
            # Try again halfway to the head, then halfway again: the node's window is found in
            # a few audits, and said once.
            said = self._state_from is not None
            self._state_from = max(block + 1, head - max(STATE_DEPTH, (head - block) // 2))
            if not said:
                log.warning("audit: the node has no state of block %d (%s); auditing is off until "
                            "block %d or nearer the head (an archive node answers for every "
                            "block)", block, str(exc).strip()[:120], self._state_from)
            return
        finally:
            self.spent += self.rpc.cost() - before
        self.audits += 1
        findings = self._compare(conn, reads, chain, block)
        if not findings:
            self.good = checkpoint
            return
        if checkpoint.hash is not None:
            now = self.rpc.fetch_header(block)
            if now is None or now["hash"] != checkpoint.hash:
                # The chain reorganised under the audit (its eth_call read the new fork): the
                # sync's reorg handling takes it from here, not a refetch.
                log.info("audit at block %d skipped: the block is no longer on the node's chain",
                         block)
                return
        self.mismatches += 1
        good = self.good if self.good is not None else Header(-1, None, None, "")
        detail = "; ".join(f"{f.token} {f.what} indexed {f.indexed}, chain {f.chain}"
                           for f in findings[:3])
        if good.number >= 0 and self._differs_at(conn, findings, good.number):
            # The loss is older than the last audit that passed (an address it did not sample):
            # fetching the stretch since then again cannot mend it.
            raise IndexerError(
                f"audit: at block {block} {detail}, and already at block {good.number}, which an "
                "audit had passed: a log before it is missing from the database. Run `indexer "
                f"verify --repair{_addresses(findings)}` to find and mend it, then sync again")
        key = (good.number, block)
        self._refetches[key] = self._refetches.get(key, 0) + 1
        if self._refetches[key] > MAX_REFETCHES:
            raise IndexerError(
                f"audit: blocks {good.number + 1}-{block} still differ from the chain after "
                f"{MAX_REFETCHES} refetches ({detail}): the RPC endpoint keeps answering "
                "eth_getLogs with logs missing. Use another endpoint (rpc.url, "
                f"rpc.fallback_urls), then run `indexer verify --repair{_addresses(findings)}`")
        raise AuditMismatch(good, block, detail)

    def _differs_at(self, conn, findings: list[Finding], block: int) -> bool:
        """Whether any of `findings` already differs at `block`."""
        reads: dict[str, list[str]] = {}
        for f in findings:
            reads.setdefault(f.token, [])
            if f.what != "totalSupply":
                reads[f.token].append(f.what)
        try:
            chain = self._read_chain({self.tokens[t].address: h for t, h in reads.items()}, block)
        except MissingState:
            return False  # cannot tell: fetch the stretch again, as for a recent loss
        return bool(self._compare(conn, reads, chain, block))

    def _compare(self, conn, reads: dict[str, list[str]], chain: dict[str, tuple[int, list[int]]],
                 block: int) -> list[Finding]:
        """Where the chain's supply and balances at `block` (`chain`, by token address) differ
        from the indexed ones."""
        findings = []
        for symbol, holders in reads.items():
            supply, balances = chain[self.tokens[symbol].address]
            indexed = store.indexed_supply(conn, self.chain_id, symbol, block)
            if indexed != supply:
                findings.append(Finding(symbol, "totalSupply", indexed, supply))
            if holders:
                mine = store.indexed_balances(conn, self.chain_id, symbol, block, holders)
                findings += [Finding(symbol, h, mine[h], b) for h, b in zip(holders, balances)
                             if mine[h] != b]
        return findings

    def _read_chain(self, reads: dict[str, list[str]], block: int) -> dict[str, tuple[int, list[int]]]:
        """totalSupply and the balances at `block`, every token's in one batch. A token with no
        code at that block yet (its contract came later than its start block) has none of either."""
        try:
            return self.contracts.supplies_and_balances(reads, block)
        except UndecodableAnswer:
            pass
        out = {}
        for token, holders in reads.items():
            try:
                out.update(self.contracts.supplies_and_balances({token: holders}, block))
            except UndecodableAnswer:
                out[token] = (0, [0] * len(holders))
        return out

"""`indexer verify --repair`: find the blocks whose stored logs depart from the chain, refetch
them and replace them, derived tables included, until verify agrees.

A difference verify finds at block B (a balance, or the total supply) started in some block:
one whose stored logs account for another change than balanceOf shows there. Balances change
only in blocks with Transfer logs, but a dropped log is exactly a block the database may know
nothing of, so the search bisects over block numbers, not over stored blocks: eth_call at a
past block (one request for the token's differing checks) against the same figures summed from
the stored logs at that block, about log2 of the token's history in steps (24 for PAXG on
mainnet). It ends on a block b that differs right above one that agrees: b's logs are wrong,
and b alone is refetched (one eth_getLogs), decoded as the sync decodes it (with the fee
recipient and fee legs as of b - 1), and swapped into the database in one transaction with the
derived tables, the way a reorg rollback replaces the top of the history
(store.replace_block). Then verify runs again, and the next difference is looked for, until
every check agrees.

The node that dropped logs once may drop them again: an answer that lacks a stored log of b,
or whose logs still leave a check differing at b, is asked for again (the transaction rolls
back), at most REFETCH_ATTEMPTS times. Past blocks' state needs an archive node: without one
the first eth_call says so (MissingState) and the repair stops, with nothing changed.

It sees what verify sees: a dropped log that moves no balance of a checked address nor the
supply (a zero fee leg, a FeeRateSet, a freeze, a transfer between addresses outside --top,
--sample and --address) is only mended when it shares its block with one that does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Sequence

import psycopg

from indexer import proxies, store
from indexer.config import Config
from indexer.contracts import Contracts
from indexer.decode import (AMOUNT, BLOCK, EVENT, FROM, IS_FEE, LOG_COLUMNS, LOG_INDEX, TO,
                            TOKEN, DecodeState)
from indexer.errors import IndexerError, RpcError, SyncLocked
from indexer.rpc import MissingState, RangeTooLarge, RpcClient
from indexer.sync.derive import DERIVE_LOGS
from indexer.sync.ranges import HashMismatch, build_batch, fetch_range
from indexer.tokens import FIXED_SLOTS, Token, all_addresses, all_topics
from indexer.verify import Check, verify_token

# Answers asked for one block before the repair gives up on it: a provider that drops logs
# from some answers (issue 12 saw 30%) gives a whole one within a few.
REFETCH_ATTEMPTS = 5
# Events whose logs change how the later logs of their token are decoded (fee legs).
STATE_EVENTS = ("FeeRecipientSet", "Upgraded")
_BLOCK_TIME = LOG_COLUMNS.index("block_time")
_BLOCK_HASH = LOG_COLUMNS.index("block_hash")
_TX_HASH = LOG_COLUMNS.index("tx_hash")
_ARGS = LOG_COLUMNS.index("args")


class CannotRepair(IndexerError):
    """The repair stopped; the message says why, what was changed before, and what to do."""


class _StillDiffers(Exception):
    """The refetched logs of a block still leave a check differing there: roll back."""


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where a token's differing checks start: `block` differs, `block` - 1 agrees."""

    token: str
    block: int
    whats: tuple[str, ...]  # the checks looked at: those differing at the verify's block
    checks: tuple[Check, ...]  # those of them that differ at `block`, indexed beside on chain
    requests: int  # eth_call requests the bisection sent (cached answers are not asked again)


@dataclass(frozen=True, slots=True)
class Replacement:
    """What a block's refetch changed: logs added, removed, and stored ones decoded otherwise
    (a fee leg or a Redeem's burner, paired anew with its neighbours); each as a line."""

    block: int
    stored: int
    fetched: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    redecoded: tuple[str, ...]
    attempts: int
    requests: int  # eth_call requests of the bisection that found it
    state_events: tuple[str, ...] = ()  # 'PAXG FeeRecipientSet' added or removed


@dataclass
class Outcome:
    checks: list[Check]  # the last verify's
    replaced: list[Replacement] = field(default_factory=list)
    dry_run: bool = False


def bisect(good: int, bad: int, is_bad: Callable[[int], bool]) -> int:
    """The block b in (good, bad] where is_bad(b) and not is_bad(b - 1), given that `good` is
    not bad and `bad` is (neither is asked): ceil(log2(bad - good)) questions."""
    while bad - good > 1:
        mid = (good + bad) // 2
        if is_bad(mid):
            bad = mid
        else:
            good = mid
    return bad


def _logs(n: int) -> str:
    return f"{n} log{'s' if n != 1 else ''}"


def _describe(row: Sequence) -> str:
    """A log row as one line: 'PAXG Transfer #3 0xfrom -> 0xto 1000 (fee)'."""
    parts = [str(row[TOKEN]), str(row[EVENT]), f"#{row[LOG_INDEX]}"]
    if row[FROM] is not None or row[TO] is not None:
        parts.append(f"{row[FROM] or '-'} -> {row[TO] or '-'}")
    if row[AMOUNT] is not None:
        parts.append(str(int(row[AMOUNT])))
    if row[IS_FEE]:
        parts.append("(fee)")
    return " ".join(parts)


def _decoded(row: Sequence) -> tuple:
    """What decoding made of a log, comparable between a stored row and a fresh one."""
    args = row[_ARGS]
    return (row[TOKEN], row[_TX_HASH], row[EVENT], row[FROM], row[TO],
            None if row[AMOUNT] is None else int(row[AMOUNT]), row[IS_FEE],
            json.loads(args) if isinstance(args, str) else args, row[_BLOCK_HASH])


def take_writer_lock(conn: psycopg.Connection, chain_id: int) -> None:
    """A repair writes: it takes the sync's writer lock (held until `conn` closes), or refuses
    while a sync holds it."""
    try:
        store.acquire_writer_lock(conn, chain_id)
    except SyncLocked:
        raise CannotRepair("an indexer sync is writing to this database: stop it, then run "
                           "verify --repair again; nothing was changed") from None


class Repairer:
    """One repair on `conn` (holding the writer lock) through `rpc`, checking at block `at`
    the way `indexer verify --top --sample --address` does. `say` prints a line of what it
    finds."""

    def __init__(self, conn: psycopg.Connection, rpc: RpcClient, config: Config, at: int,
                 tokens: Sequence[Token], *, top: int, sample: int,
                 say: Callable[[str], None], also: Sequence[str] = ()):
        self.conn, self.rpc, self.config, self.at = conn, rpc, config, at
        self.chain_id = config.chain.id
        self.tokens = list(tokens)
        self.top, self.sample, self.also, self.say = top, sample, tuple(also), say
        self.contracts = Contracts(rpc)
        # Chain figures never change at a past block: asked once, by (token, block) and check.
        self._chain: dict[tuple[str, int], dict[str, int]] = {}
        self._implementations: dict[str, bool] = {}  # DecodeState.implementation_fee_legs
        self._first_implementation: dict[str, str | None] = {}
        self._visits: dict[int, int] = {}  # refetches per block, over all rounds
        self.replaced: list[Replacement] = []

    # -- the loop ----------------------------------------------------------------------------

    def run(self, checks: list[Check], *, dry_run: bool = False) -> Outcome:
        """Repair until every check agrees (the caller holds the writer lock: take_writer_lock).
        With `dry_run` everything happens inside one transaction that is rolled back at the
        end: the same lines, nothing changed."""
        self._check_checkpoints()
        for c in checks:
            self._chain.setdefault((c.token, self.at), {})[c.what] = c.chain
        if not dry_run:
            return Outcome(self._mend(checks), list(self.replaced))
        with self.conn.transaction() as tx:
            checks = self._mend(checks)
            raise psycopg.Rollback(tx)
        return Outcome(checks, list(self.replaced), dry_run=True)

    def _mend(self, checks: list[Check]) -> list[Check]:
        while not all(c.ok for c in checks):
            token = next(t for t in self.tokens
                         if any(c.token == t.symbol and not c.ok for c in checks))
            differing = [c for c in checks if c.token == token.symbol and not c.ok]
            self.replaced.append(self.replace(self.find_divergence(token, differing)))
            checks = self.verify()
            self.say(f"repair: verify at block {self.at}: {sum(c.ok for c in checks)} of "
                     f"{len(checks)} checks agree")
        return checks

    def verify(self) -> list[Check]:
        checks: list[Check] = []
        for token in self.tokens:
            checks += verify_token(self.conn, self.rpc, self.chain_id, token, self.at,
                                   top=self.top, sample=self.sample, also=self.also)
        for c in checks:
            self._chain.setdefault((c.token, self.at), {})[c.what] = c.chain
        return checks

    def _changed_so_far(self) -> str:
        if not self.replaced:
            return "nothing was changed"
        blocks = ", ".join(str(r.block) for r in self.replaced)
        return f"block{'s' if len(self.replaced) > 1 else ''} {blocks} had been repaired before"

    def _check_checkpoints(self) -> None:
        """The stored history must still be the node's chain: each checkpoint block's hash
        (a block hash commits to every block below it). Else a sync rolls it back first."""
        checkpoints = store.load_checkpoints(self.conn, self.chain_id)
        blocks = {checkpoints[t.symbol].block_number: checkpoints[t.symbol].block_hash
                  for t in self.tokens}
        node = self.rpc.fetch_headers(sorted(blocks), chunk=self.config.sync.header_batch)
        for number, stored in sorted(blocks.items()):
            if node[number]["hash"] != stored:
                raise CannotRepair(
                    f"block {number} is no longer on the node's chain (stored {stored}, the node "
                    f"has {node[number]['hash']}): the chain reorganised since the last sync; run "
                    "`indexer sync --once`, then verify --repair again; nothing was changed")

    # -- where it starts ---------------------------------------------------------------------

    def _chain_figures(self, token: Token, block: int, whats: Sequence[str]) -> dict[str, int]:
        """totalSupply and balances at `block` by eth_call (one request for what is not known
        yet)."""
        known = self._chain.setdefault((token.symbol, block), {})
        missing = [w for w in whats if w not in known]
        if missing:
            holders = [w for w in missing if w != "totalSupply"]
            try:
                supply, balances = self.contracts.supply_and_balances(
                    token.address, holders, block, supply="totalSupply" in missing)
            except MissingState as exc:
                raise CannotRepair(
                    f"the node has no state for block {block} ({exc}): finding where "
                    f"{token.symbol} departs from the chain needs an archive node (an RPC URL "
                    f"that serves past blocks' state); {self._changed_so_far()}") from None
            except RpcError as exc:
                raise CannotRepair(f"cannot read {token.symbol} at block {block}: {exc}; "
                                   f"{self._changed_so_far()}") from None
            if supply is not None:
                known["totalSupply"] = supply
            known.update(zip(holders, balances))
        return {w: known[w] for w in whats}

    def _indexed_figures(self, conn: psycopg.Connection, token: Token, block: int,
                         whats: Sequence[str]) -> dict[str, int]:
        holders = [w for w in whats if w != "totalSupply"]
        out = store.indexed_balances(conn, self.chain_id, token.symbol, block, holders) \
            if holders else {}
        if "totalSupply" in whats:
            out["totalSupply"] = store.indexed_supply(conn, self.chain_id, token.symbol, block)
        return out

    def _checks_at(self, conn: psycopg.Connection, token: Token, block: int,
                   whats: Sequence[str]) -> list[Check]:
        chain = self._chain_figures(token, block, whats)
        indexed = self._indexed_figures(conn, token, block, whats)
        return [Check(token.symbol, w, indexed[w], chain[w]) for w in whats]

    def find_divergence(self, token: Token, differing: Sequence[Check]) -> Divergence:
        """The block where the stored logs of `token` start to depart from the chain for
        `differing` (checks at self.at): bisected from the block before the token's first."""
        whats = [c.what for c in differing]
        good = token.start_block - 1  # nothing yet, on either side
        self.say(f"repair: {token.symbol}: {len(whats)} check{'s' if len(whats) > 1 else ''} "
                 f"differ at block {self.at}; bisecting blocks {good + 1}-{self.at} by eth_call")
        before = self.rpc.stats.requests_by_method.get("eth_call", 0)

        def differs(block: int) -> bool:
            return any(not c.ok for c in self._checks_at(self.conn, token, block, whats))

        block = bisect(good, self.at, differs)
        requests = self.rpc.stats.requests_by_method.get("eth_call", 0) - before
        checks = tuple(c for c in self._checks_at(self.conn, token, block, whats) if not c.ok)
        found = Divergence(token.symbol, block, tuple(whats), checks, requests)
        agrees = f"block {block - 1} agrees" if block - 1 > good else "the token's first block"
        self.say(f"repair: {token.symbol}: first differs at block {block} ({agrees}; "
                 f"{requests} eth_call request{'s' if requests != 1 else ''}):")
        for c in checks:
            self.say(f"  {c.what:<42}  indexed {c.indexed}, on chain {c.chain}")
        return found

    # -- the block's logs, again -------------------------------------------------------------

    def _decode_state(self, block: int, tokens: Sequence[Token]) -> DecodeState:
        """What decoding carries into `block`: the fee recipient and whether fee legs are
        emitted, as of the stored logs below it (the sync's Syncer._load_positions, at a
        block in the middle of the history)."""
        upgrades = store.load_implementations(self.conn, self.chain_id, before=block)
        fee_legs = {}
        for t in tokens:
            if not t.fee_legs:
                continue
            implementation = upgrades.get(t.symbol)
            if implementation is None:
                if t.symbol not in self._first_implementation:
                    self._first_implementation[t.symbol] = proxies.implementation_at_start(
                        self.rpc, t)
                implementation = self._first_implementation[t.symbol]
            fee_legs[t.symbol] = proxies.fee_legs_live(self.rpc, implementation,
                                                       self._implementations)
        return DecodeState(
            fee_recipient=dict(store.load_fee_recipients(self.conn, self.chain_id, before=block)),
            fee_legs=fee_legs, implementation_fee_legs=self._implementations)

    def replace(self, found: Divergence) -> Replacement:
        """Refetch block `found.block` and replace its stored logs (store.replace_block), once
        an answer holds every stored log of it and its logs make the differing checks agree."""
        number = found.block
        token = next(t for t in self.tokens if t.symbol == found.token)
        whats = found.whats
        tokens = [t for t in self.tokens if t.start_block <= number]
        symbols = [t.symbol for t in tokens]
        stored = store.load_block_logs(self.conn, self.chain_id, number, symbols)
        stored_block = store.load_block(self.conn, self.chain_id, number)
        cfg = self.config

        def check(conn: psycopg.Connection) -> None:
            still = [c for c in self._checks_at(conn, token, number, whats) if not c.ok]
            if still:
                raise _StillDiffers("; ".join(f"{c.what} at {c.indexed}, balanceOf says {c.chain}"
                                              if c.what != "totalSupply" else
                                              f"totalSupply at {c.indexed}, the chain says {c.chain}"
                                              for c in still))

        problem = ""
        answers: set[str] = set()  # the answers' logs, to tell a flaky node from a steady one
        while True:
            attempt = self._visits[number] = self._visits.get(number, 0) + 1
            if attempt > REFETCH_ATTEMPTS:
                same = (" (the same logs each time: the node lacks them, or the difference does "
                        "not come from this block's logs)" if len(answers) == 1 else "")
                raise CannotRepair(
                    f"block {number}: {problem or 'it differs again after its logs were replaced'}"
                    f" after {REFETCH_ATTEMPTS} answers{same}; try another RPC endpoint "
                    f"(--rpc-url); {self._changed_so_far()}")
            if problem:
                self.say(f"repair: block {number}: {problem}; asking again "
                         f"({attempt}/{REFETCH_ATTEMPTS})")
            try:
                answer = fetch_range(
                    self.rpc, number, number, addresses=all_addresses(tokens),
                    topics=all_topics(tokens), window_from=number + 1, finalized=None,
                    header_batch=cfg.sync.header_batch, slots=FIXED_SLOTS.get(self.chain_id))
                batch = build_batch(answer, self.rpc, chain_id=self.chain_id, tokens=tokens,
                                    next_block={s: number for s in symbols},
                                    state=self._decode_state(number, tokens), prev_hash=None,
                                    window_from=number + 1)
            except HashMismatch as exc:
                problem = f"the node's answer disagrees with itself ({exc})"
                continue
            except RangeTooLarge as exc:
                raise CannotRepair(f"block {number}: the provider refuses eth_getLogs for it "
                                   f"({exc}); {self._changed_so_far()}") from None
            answers.add(repr(sorted((e["logIndex"], e["transactionHash"]) for e in answer.logs)))
            rows = batch.rows
            header = next((h for h in batch.headers if h.number == number), None)
            fetched_hash = header.hash if header is not None else None
            if stored_block is not None and fetched_hash not in (None, stored_block.hash):
                raise CannotRepair(
                    f"block {number} has hash {fetched_hash} on the node, {stored_block.hash} "
                    "here: the chain reorganised since the last sync; run `indexer sync --once`, "
                    f"then verify --repair again; {self._changed_so_far()}")
            fresh = {row[LOG_INDEX]: row for row in rows}
            lacking = [row for row in stored if row[LOG_INDEX] not in fresh]
            if lacking:
                problem = (f"the node's answer lacks {len(lacking)} of the {len(stored)} stored "
                           "logs")
                continue
            if stored_block is not None:
                # The block keeps the time already stored (its UTC day is exact either way),
                # so its rows and its `blocks` row never disagree.
                for row in rows:
                    row[_BLOCK_TIME] = stored_block.block_time
                header = stored_block
            try:
                deleted = store.replace_block(
                    self.conn, self.chain_id, number, symbols, rows, header,
                    bool(batch.estimated) and stored_block is None, check, DERIVE_LOGS)
            except _StillDiffers as exc:
                problem = f"its logs as the node gives them still leave {exc}"
                continue
            break
        old = {row[LOG_INDEX]: row for row in stored}
        fee_legs = {t.symbol for t in tokens if t.fee_legs}
        moved = [r for i, r in fresh.items() if i not in old] + \
            [r for i, r in old.items() if i not in fresh]
        replacement = Replacement(
            block=number, stored=deleted, fetched=len(rows),
            added=tuple(_describe(r) for i, r in sorted(fresh.items()) if i not in old),
            removed=tuple(_describe(r) for i, r in sorted(old.items()) if i not in fresh),
            redecoded=tuple(f"{_describe(old[i])} now {_describe(r)}"
                            for i, r in sorted(fresh.items())
                            if i in old and _decoded(old[i]) != _decoded(r)),
            attempts=attempt, requests=found.requests,
            state_events=tuple(sorted({f"{r[TOKEN]} {r[EVENT]}" for r in moved
                                       if r[EVENT] in STATE_EVENTS and r[TOKEN] in fee_legs})))
        self._say_replacement(replacement)
        return replacement

    def _say_replacement(self, r: Replacement) -> None:
        self.say(f"repair: block {r.block}: refetched {_logs(r.fetched)} ({r.stored} stored): "
                 f"{len(r.added)} added, {len(r.removed)} removed, {len(r.redecoded)} decoded "
                 "anew")
        for line in r.added:
            self.say(f"  + {line}")
        for line in r.removed:
            self.say(f"  - {line}")
        for line in r.redecoded:
            self.say(f"  ~ {line}")
        for what in r.state_events:
            token, event = what.split(" ")
            self.say(f"repair: block {r.block}: its {event} log changes how the later {token} "
                     "logs are decoded (fee legs); they keep their flags: a fresh sync decodes "
                     "them anew")
        self.say(f"repair: block {r.block} replaced; the derived tables were rebuilt from it")


def repair(conn: psycopg.Connection, rpc: RpcClient, config: Config, at: int,
           tokens: Sequence[Token], checks: list[Check], *, top: int, sample: int,
           dry_run: bool, say: Callable[[str], None], also: Sequence[str] = ()) -> Outcome:
    """Mend what `checks` (verify at block `at`) found; see the module's docstring."""
    return Repairer(conn, rpc, config, at, tokens, top=top, sample=sample, say=say,
                    also=also).run(checks, dry_run=dry_run)

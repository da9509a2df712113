"""Pure: does a range's decoded answer hold every log of the transactions it shows? No I/O.

A provider that leaves logs out of an eth_getLogs answer (a node of its fleet that has not
finished indexing a block, a truncated shard) returns 200 OK and nothing says so. Most of our
tokens' operations emit several logs in one call, in a fixed order (FACTS.md, "How each
operation shows up in the logs"), so a lost log usually leaves its partner standing alone in
the answer: a principal PAXG Transfer without its fee leg (emitted even at fee 0, so a lost
zero fee leg moves no balance and no audit of supply or balances can see it), a fee leg of
more than 0 without its FeeCollected, a SupplyIncreased without its Transfer from 0x0, an
XAUT Mint or Redeem without its Transfer. `gaps` finds such orphans at no request's cost,
while the range is still in hand and can be asked for again.

What it cannot see: a transaction lost whole (a plain XAUT transfer is one log; so are
FeeRateSet, a freeze, a price round). Those are left to the audit (supply and balances) and to
`sync.cross_check` (a second endpoint).

The PAXG rules hold while its implementation emits fee legs (V1, decode.DecodeState): a V2
implementation's sequences are not known well enough to check, so nothing of PAXG is checked
after an `Upgraded` to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import orjson

from indexer.decode import AMOUNT, BLOCK, EVENT, FROM, IS_FEE, LOG_INDEX, TO, TOKEN, TX_HASH
from indexer.tokens import ZERO_ADDRESS, Token

ARGS = 13


@dataclass(frozen=True, slots=True)
class Gap:
    """One orphan: `rule` names what is missing (the key a caller can switch a rule off by),
    the rest where."""

    rule: str
    token: str
    block: int
    log_index: int
    tx_hash: str

    def __str__(self) -> str:
        return (f"{self.token} block {self.block} log {self.log_index} "
                f"(tx {self.tx_hash}): {self.rule}")


_FIELDS = {"frm": FROM, "to": TO, "amount": AMOUNT, "fee": IS_FEE}
_UNDECODED = '{"undecoded": true}'


def _is(row: list | None, event: str, **fields) -> bool:
    """Whether `row` is a decoded log of `event` whose named fields hold the given values (an
    undecoded log of the event, args {"undecoded": true}, matches any)."""
    if row is None or row[EVENT] != event:
        return False
    if row[ARGS] == _UNDECODED:
        return True
    for k, v in fields.items():  # a plain loop: this runs a few times per log
        if row[_FIELDS[k]] != v:
            return False
    return True

# Each rule: (name, the event it starts from, whether it can apply to a token at all given the
# names of its events and whether its live implementation emits fee legs, whether it applies
# to a row of that token, its check given the rows just before and after it in the same
# transaction). The first test runs once per token and implementation, the others per row.
Rule = tuple[str, str, Callable[[frozenset, bool], bool], Callable[[list, Token], bool],
             Callable[[list, list | None, list | None], bool]]


def _fee_leg_of_principal(row: list, before: list | None) -> bool:
    return row[IS_FEE] is True and _is(before, "Transfer", fee=False, frm=row[FROM])


def _service_fee(row: list) -> int:
    return int(orjson.loads(row[ARGS])["service_fee"]) if row[ARGS] else 0


def _v1(names: frozenset, fee_legs: bool) -> bool:
    return fee_legs


def _always(*_) -> bool:
    return True


RULES: tuple[Rule, ...] = (
    # reclaimPAXG sends from the token's own address with one Transfer and no fee leg.
    ("fee leg missing after a principal Transfer", "Transfer", _v1,
     lambda r, t: r[IS_FEE] is False and r[FROM] != ZERO_ADDRESS and r[TO] != ZERO_ADDRESS
     and r[FROM] != t.address,
     lambda r, b, a: _is(a, "Transfer", fee=True, frm=r[FROM])),
    ("FeeCollected missing after a fee leg", "Transfer", _v1,
     lambda r, t: r[IS_FEE] is True and (r[AMOUNT] or 0) > 0,
     lambda r, b, a: not _fee_leg_of_principal(r, b) or _is(a, "FeeCollected", amount=r[AMOUNT])),
    ("fee leg missing before FeeCollected", "FeeCollected", _v1, _always,
     lambda r, b, a: _is(b, "Transfer", fee=True, amount=r[AMOUNT])),
    ("Transfer from 0x0 missing after SupplyIncreased", "SupplyIncreased", _v1, _always,
     lambda r, b, a: _is(a, "Transfer", frm=ZERO_ADDRESS, amount=r[AMOUNT])),
    ("Transfer to 0x0 missing after SupplyDecreased", "SupplyDecreased", _v1, _always,
     lambda r, b, a: _is(a, "Transfer", to=ZERO_ADDRESS, amount=r[AMOUNT])),
    ("SupplyDecreased missing after FrozenAddressWiped", "FrozenAddressWiped", _v1, _always,
     lambda r, b, a: _is(a, "SupplyDecreased", frm=r[FROM])),
    ("mint's other log missing beside its Transfer from 0x0", "Transfer",
     lambda names, fee_legs: fee_legs or "Mint" in names,
     lambda r, t: r[FROM] == ZERO_ADDRESS,
     lambda r, b, a: _is(b, "SupplyIncreased", amount=r[AMOUNT]) or _is(a, "Mint", amount=r[AMOUNT])),
    ("burn's other log missing beside its Transfer to 0x0", "Transfer", _v1,
     lambda r, t: r[TO] == ZERO_ADDRESS,
     lambda r, b, a: _is(b, "SupplyDecreased", amount=r[AMOUNT])),
    ("Redeem or DestroyedBlockedFunds missing after a Transfer to 0x0", "Transfer",
     lambda names, fee_legs: "Redeem" in names,
     lambda r, t: r[TO] == ZERO_ADDRESS,
     lambda r, b, a: _is(a, "Redeem", amount=r[AMOUNT])
     or _is(a, "DestroyedBlockedFunds", frm=r[FROM], amount=r[AMOUNT])),
    ("Transfer from 0x0 missing before Mint", "Mint", _always, _always,
     lambda r, b, a: _is(b, "Transfer", frm=ZERO_ADDRESS, to=r[TO], amount=r[AMOUNT])),
    ("Transfer to 0x0 missing before Redeem", "Redeem", _always, _always,
     lambda r, b, a: _is(b, "Transfer", to=ZERO_ADDRESS, amount=r[AMOUNT])),
    ("Transfer to 0x0 missing before DestroyedBlockedFunds", "DestroyedBlockedFunds", _always,
     _always,
     lambda r, b, a: _is(b, "Transfer", frm=r[FROM], to=ZERO_ADDRESS, amount=r[AMOUNT])),
    ("Transfer missing before BetaDelegatedTransfer", "BetaDelegatedTransfer", _v1, _always,
     lambda r, b, a: _is(b, "Transfer", fee=True, frm=r[FROM], amount=_service_fee(r))
     if _service_fee(r) else _is(b, "Transfer", frm=r[FROM]) or _is(b, "FeeCollected", frm=r[FROM])),
)

# A token's checks: by event, the (name, applies, holds) of each rule that can apply to it.
Checks = dict[str, list[tuple[str, Callable, Callable]]]


def _checks(token: Token, fee_legs: bool, off: frozenset[str]) -> Checks:
    names = frozenset(spec.name for spec in token.events)
    checks: Checks = {}
    for name, starts, can_apply, applies, holds in RULES:
        if name not in off and can_apply(names, fee_legs):
            checks.setdefault(starts, []).append((name, applies, holds))
    return checks


def _ordered(rows: list[list]) -> bool:
    """Whether the rows are in the node's order, (block, log index) rising."""
    last = (-1, -1)
    for row in rows:
        key = (row[BLOCK], row[LOG_INDEX])
        if key <= last:
            return False
        last = key
    return True


def _row_at(rows: list[list], i: int, key: tuple[str, int, int]) -> list | None:
    """rows[i] if it is the log `key` (token, block, log index), else None."""
    if 0 <= i < len(rows):
        row = rows[i]
        if row[LOG_INDEX] == key[2] and row[BLOCK] == key[1] and row[TOKEN] == key[0]:
            return row
    return None


def gaps(rows: list[list], tokens: dict[str, Token], fee_legs: dict[str, bool],
         implementation_fee_legs: dict[str, bool], off: frozenset[str] = frozenset()) -> list[Gap]:
    """The orphans of a range's decoded rows (decode.decode_logs' output, in the node's order).

    `fee_legs[symbol]` is whether the token's implementation emits fee legs at the range's
    first block (absent: it does, as decode assumes); an `Upgraded` row switches it per
    `implementation_fee_legs`, as in decoding. `off` holds rule names not to check (rules the
    chain itself was found to break)."""
    plans = {symbol: _checks(token, fee_legs.get(symbol, True) and token.fee_legs, off)
             for symbol, token in tokens.items()}
    # A row's neighbours are the rows next to it in the list when the rows are in the node's
    # order (they are, from decode_logs); otherwise looked up by key.
    at = None if _ordered(rows) else {(r[TOKEN], r[BLOCK], r[LOG_INDEX]): r for r in rows}
    found: list[Gap] = []
    for i, row in enumerate(rows):
        symbol, event = row[TOKEN], row[EVENT]
        plan = plans.get(symbol)
        if plan is None:
            continue
        token = tokens[symbol]
        if event == "Upgraded":
            if token.fee_legs and row[ARGS]:
                implementation = orjson.loads(row[ARGS]).get("implementation")
                if implementation in implementation_fee_legs:
                    plans[symbol] = _checks(token, implementation_fee_legs[implementation], off)
            continue
        checks = plan.get(event)
        if checks is None or row[ARGS] == _UNDECODED:
            continue
        neighbours = None
        for name, applies, holds in checks:
            if not applies(row, token):
                continue
            if neighbours is None:
                block, index, tx = row[BLOCK], row[LOG_INDEX], row[TX_HASH]
                keys = ((symbol, block, index - 1), (symbol, block, index + 1))
                if at is not None:
                    before, after = at.get(keys[0]), at.get(keys[1])
                else:
                    before, after = _row_at(rows, i - 1, keys[0]), _row_at(rows, i + 1, keys[1])
                neighbours = (before if before is not None and before[TX_HASH] == tx else None,
                              after if after is not None and after[TX_HASH] == tx else None)
            if not holds(row, *neighbours):
                found.append(Gap(name, symbol, row[BLOCK], row[LOG_INDEX], row[TX_HASH]))
    return found

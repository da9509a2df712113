"""Pure decoding: raw JSON-RPC logs → rows of the `logs` table. No I/O.

Every event the scanner asks for has a fixed layout (static words only), so decoding is string
slicing and `int(x, 16)`: an address is the last 40 hex digits of a 32-byte topic or word.
Rows are plain lists in `LOG_COLUMNS` order, with no per-row objects beyond them, because this
runs once per log on the backfill's hot path.

Besides decoding, two facts need context from neighbouring logs of the same transaction:
- PAXG V1 emits a fee leg `Transfer(from, feeRecipient, fee)` right after every principal
  Transfer, even at fee 0 (its verified source). It is flagged `is_fee`, as is
  `betaDelegatedTransfer`'s service-fee leg to the relayer. Only while the live implementation
  emits fee legs: an `Upgraded` log switches that per the implementation it names (PAXG V2
  emits one Transfer per transfer, and two adjacent ones from one sender are two transfers).
- XAUT's `Redeem(amount)` names no account: it burns from the `from` of the Transfer to 0x0
  just before it, which we copy into the Redeem row.
A token's OFT contract (XAUt0's bridge) has its own events, OFTSent and OFTReceived, stored as
the token's rows: from_address the sender (OFTSent) or to_address the receiver (OFTReceived),
amount the amount sent or received, args the guid and the other chain's endpoint id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

import orjson

from indexer.feeds import ANSWER_UPDATED, Aggregator, round_id
from indexer.tokens import UPGRADED, ZERO_ADDRESS, Token

LOG_COLUMNS = (
    "chain_id", "block_number", "log_index", "token", "block_hash", "block_time", "tx_hash",
    "tx_index", "event", "from_address", "to_address", "amount", "is_fee", "args", "topics", "data",
)
PRICE_COLUMNS = (
    "chain_id", "block_number", "log_index", "feed", "phase_id", "round_id", "answer", "updated_at",
    "block_time", "block_hash", "tx_hash",
)
# Positions in a row, for the few places that read rows back.
BLOCK, LOG_INDEX, TOKEN, TX_HASH, EVENT, FROM, TO, AMOUNT, IS_FEE = 1, 2, 3, 6, 8, 9, 10, 11, 12


class BadLog(Exception):
    """A log that cannot be what the node says it is (removed, missing fields)."""


@dataclass
class DecodeState:
    """What decoding carries from one batch to the next, by token symbol.

    `fee_recipient`: PAXG's fee recipient; None means not known yet (no FeeRecipientSet seen),
    and fee legs are then recognised by shape alone: next log index, same transaction, same
    sender as the principal. `fee_legs`: whether the token's live implementation emits fee
    legs (absent: it does, as PAXG V1). `implementation_fee_legs`: whether an implementation
    does, by its address; every implementation an `Upgraded` log of the range names must be in
    it (the caller asks the chain: upgraded_implementations, indexer/proxies.py).
    `chain_gaps`: see indexer/completeness.py.
    """

    fee_recipient: dict[str, str | None] = field(default_factory=dict)
    fee_legs: dict[str, bool] = field(default_factory=dict)
    implementation_fee_legs: dict[str, bool] = field(default_factory=dict)
    # Rules of indexer.completeness the chain itself was seen breaking (the same gap in every
    # answer asked for), with how many times; a rule seen often enough is no longer checked.
    chain_gaps: dict[str, int] = field(default_factory=dict)


def _addr(word: str) -> str:
    return "0x" + word[-40:]


def _word(data: str, i: int) -> int:
    start = 2 + 64 * i
    return int(data[start:start + 64], 16)


def _hexint(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def format_time(timestamp: int) -> str:
    """A block timestamp as a PostgreSQL timestamptz literal in UTC."""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S+00")


# Per event: what each topic after topic0 and each 32-byte data word holds; both the layout
# check below and raw_fields read it.
_RAW_SHAPE = {
    "Transfer": (("from", "to"), ("amount",)),
    "FeeCollected": (("from", "to"), ("amount",)),
    "SupplyIncreased": (("to",), ("amount",)),
    "Mint": (("to",), ("amount",)),
    "SupplyDecreased": (("from",), ("amount",)),
    "DestroyedBlockedFunds": (("from",), ("amount",)),
    "Redeem": ((), ("amount",)),
    "FeeRecipientSet": (("from", "to"), ()),
    "SupplyControllerSet": (("from", "to"), ()),
    "FeeRateSet": (("old_fee_rate", "new_fee_rate"), ()),
    "BetaDelegatedTransfer": (("from", "to"), ("amount", "seq", "service_fee")),
    **{name: (("from",), ()) for name in (
        "FrozenAddressWiped", "AddressFrozen", "AddressUnfrozen", "FreezeAddress",
        "UnfreezeAddress", "BlockPlaced", "BlockReleased")},
}

# (topics, 32-byte data words) each event must have; anything else is stored undecoded.
_LAYOUT = {event: (1 + len(topics), len(words)) for event, (topics, words) in _RAW_SHAPE.items()}
_LAYOUT.update({"OFTSent": (3, 3), "OFTReceived": (3, 2)})
# Stored with their raw topics and data besides the decoded columns.
_KEEP_RAW = frozenset({"Upgraded", "OFTSent", "OFTReceived"})


def _fields(event: str, topics: list[str], data: str) -> tuple[str | None, str | None, int | None, str | None]:
    """(from_address, to_address, amount, args-json) of one log, by event name."""
    layout = ((2, 0), (1, 1)) if event == "Upgraded" else (_LAYOUT.get(event),)
    if (len(topics), (len(data) - 2) // 64) not in layout or (len(data) - 2) % 64:
        raise BadLog(f"{event} with {len(topics)} topics and {len(data) - 2} hex digits of data")
    if event == "Transfer" or event == "FeeCollected":
        return _addr(topics[1]), _addr(topics[2]), _word(data, 0), None
    if event == "SupplyIncreased" or event == "Mint":
        return None, _addr(topics[1]), _word(data, 0), None
    if event == "SupplyDecreased" or event == "DestroyedBlockedFunds":
        return _addr(topics[1]), None, _word(data, 0), None
    if event == "Redeem":
        return None, None, _word(data, 0), None
    if event in ("FrozenAddressWiped", "AddressFrozen", "AddressUnfrozen", "FreezeAddress",
                 "UnfreezeAddress", "BlockPlaced", "BlockReleased"):
        return _addr(topics[1]), None, None, None
    if event in ("FeeRecipientSet", "SupplyControllerSet"):
        return _addr(topics[1]), _addr(topics[2]), None, None
    if event == "FeeRateSet":
        # Written by hand: orjson refuses integers above 64 bits, and a uint256 can be one.
        args = f'{{"old_fee_rate":{int(topics[1], 16)},"new_fee_rate":{int(topics[2], 16)}}}'
        return None, None, None, args
    if event == "BetaDelegatedTransfer":
        args = {"seq": str(_word(data, 1)), "service_fee": str(_word(data, 2))}
        return _addr(topics[1]), _addr(topics[2]), _word(data, 0), orjson.dumps(args).decode()
    if event == "OFTSent":  # guid, fromAddress | dstEid, amountSentLD, amountReceivedLD
        args = {"guid": topics[1], "dst_eid": _word(data, 0),
                "amount_received": str(_word(data, 2))}
        return _addr(topics[2]), None, _word(data, 1), orjson.dumps(args).decode()
    if event == "OFTReceived":  # guid, toAddress | srcEid, amountReceivedLD
        args = {"guid": topics[1], "src_eid": _word(data, 0)}
        return None, _addr(topics[2]), _word(data, 1), orjson.dumps(args).decode()
    if event == "Upgraded":
        # Indexed on EIP-1967 proxies (XAUT), in data on PAXG's ZeppelinOS proxy.
        impl = _addr(topics[1]) if len(topics) > 1 else _addr(data[2:66])
        return None, None, None, orjson.dumps({"implementation": impl}).decode()
    raise BadLog(f"no decoder for {event}")




def upgraded_implementations(raw_logs: Iterable[dict[str, Any]],
                             tokens_by_address: dict[str, Token]) -> set[str]:
    """The implementations named by the `Upgraded` logs of tokens that may have fee legs:
    decode_logs needs to know of each whether it emits them."""
    found = set()
    upgraded = UPGRADED.topic0
    for log in raw_logs:
        topics = log["topics"]
        if not topics or topics[0] != upgraded:  # nearly every log: test the topic first
            continue
        token = tokens_by_address.get(log["address"].lower())
        if token is None or not token.fee_legs:
            continue
        try:
            found.add(orjson.loads(_fields("Upgraded", topics, log["data"])[3])["implementation"])
        except (IndexError, ValueError, BadLog):
            pass  # stored undecoded; it names no implementation we could ask about
    return found


def raw_fields(token: Token, event: str, frm: str | None, to: str | None, amount: int | None,
               args: dict | None) -> tuple[list[str], str]:
    """The raw (topics, data) of a decoded log, rebuilt from its columns: the rows that
    decode_logs stores without them lose nothing."""
    topic0 = next(t for t, spec in token.topics.items() if spec.name == event)
    values = {"from": frm, "to": to, "amount": amount, **(args or {})}

    def word(name: str) -> str:
        v = values[name]
        return "0" * 24 + v[2:] if name in ("from", "to") else f"{int(v):064x}"

    in_topics, in_data = _RAW_SHAPE[event]
    return [topic0, *("0x" + word(n) for n in in_topics)], "0x" + "".join(word(n) for n in in_data)


def decode_logs(
    raw_logs: Iterable[dict[str, Any]],
    *,
    chain_id: int,
    tokens_by_address: dict[str, Token],
    first_block: dict[str, int],
    block_times: dict[int, str],
    state: DecodeState,
) -> list[list]:
    """Decode one range's logs, in the node's order (block, log index), into `logs` rows.

    `first_block[symbol]` drops a token's logs below its own next block (tokens can be at
    different checkpoints). `block_times` maps block number → timestamptz literal.
    Logs of unknown addresses or topics are skipped: the filter asked only for ours.
    """
    rows: list[list] = []
    # Last row per token symbol within the current transaction, for fee-leg and Redeem pairing.
    prev: dict[str, list] = {}
    specs = {address: token.topics_at(address) for address, token in tokens_by_address.items()}
    hexints: dict[Any, int] = {}  # block numbers and tx indexes repeat: parse each once
    lowered: dict[str, str] = {}  # the few addresses repeat too: lowercase each once
    for log in raw_logs:
        if log.get("removed"):
            raise BadLog("node returned a removed log in eth_getLogs")
        address = lowered.get(raw_address := log["address"])
        if address is None:
            address = lowered[raw_address] = raw_address.lower()
        token = tokens_by_address.get(address)
        if token is None:
            continue
        topics = log["topics"]
        spec = specs[address].get(topics[0]) if topics else None
        if spec is None:
            continue
        block = hexints.get(raw_block := log["blockNumber"])
        if block is None:
            block = hexints[raw_block] = _hexint(raw_block)
        symbol = token.symbol
        if block < first_block[symbol]:
            continue
        data = log["data"]
        event = spec.name
        try:
            if event == "Transfer" and len(topics) == 3 and len(data) == 66:  # most logs
                frm, to, amount, args = "0x" + topics[1][-40:], "0x" + topics[2][-40:], int(data, 16), None
            else:
                frm, to, amount, args = _fields(event, topics, data)
            # Upgraded: its address sits in a topic or in data; the OFT events' guid and
            # endpoint ids are kept as the node gave them.
            keep_raw = event in _KEEP_RAW
        except (IndexError, ValueError, BadLog):
            # A log of our topic0 with another layout: keep it raw and undecoded, never guess.
            frm, to, amount, args = None, None, None, '{"undecoded": true}'
            keep_raw = True
        log_index = _hexint(log["logIndex"])
        tx_hash = log["transactionHash"]
        tx_index = hexints.get(raw_tx_index := log["transactionIndex"])
        if tx_index is None:
            tx_index = hexints[raw_tx_index] = _hexint(raw_tx_index)
        row = [
            chain_id, block, log_index, symbol, log["blockHash"], block_times[block], tx_hash,
            tx_index, event, frm, to, amount, None, args,
            "{" + ",".join(topics) + "}" if keep_raw else None, data if keep_raw else None,
        ]
        last = prev.get(symbol)
        same_tx = last is not None and last[TX_HASH] == tx_hash and last[BLOCK] == block
        adjacent = same_tx and last[LOG_INDEX] + 1 == log_index
        if event == "Transfer":
            row[IS_FEE] = False
            if token.fee_legs and state.fee_legs.get(symbol, True) and adjacent \
                    and last[EVENT] == "Transfer" \
                    and last[IS_FEE] is False and last[FROM] == frm and frm != ZERO_ADDRESS \
                    and last[TO] != ZERO_ADDRESS:
                recipient = state.fee_recipient.get(symbol)
                if recipient is None or to == recipient:
                    row[IS_FEE] = True
        elif event == "FeeRecipientSet" and to is not None:
            state.fee_recipient[symbol] = to
        elif event == "Upgraded" and token.fee_legs:
            implementation = orjson.loads(args).get("implementation")
            if implementation is not None:  # None: a layout we could not decode
                if implementation not in state.implementation_fee_legs:
                    raise LookupError(f"{symbol} upgraded to {implementation}: whether it emits "
                                      "fee legs is unknown (see upgraded_implementations)")
                state.fee_legs[symbol] = state.implementation_fee_legs[implementation]
        elif event == "BetaDelegatedTransfer" and adjacent and last[EVENT] == "Transfer" \
                and not last[IS_FEE] and args is not None:
            service_fee = int(orjson.loads(args)["service_fee"])
            if service_fee > 0 and last[FROM] == frm and last[AMOUNT] == service_fee:
                last[IS_FEE] = True
        elif event == "Redeem" and adjacent and last[EVENT] == "Transfer" \
                and last[TO] == ZERO_ADDRESS and last[AMOUNT] == amount:
            row[FROM] = last[FROM]
        prev[symbol] = row
        rows.append(row)
    return rows


def decode_prices(
    raw_logs: Iterable[dict[str, Any]],
    *,
    chain_id: int,
    aggregators_by_address: dict[str, Aggregator],
    first_block: dict[str, int],
    block_times: dict[int, str],
) -> list[list]:
    """The AnswerUpdated logs of price feed aggregators → rows of the `prices` table
    (PRICE_COLUMNS order). The answer is an int256 (two's complement in its topic); the round
    id stored is the proxy's. Logs of other addresses, and an aggregator's logs below its own
    next block, are skipped."""
    rows: list[list] = []
    for log in raw_logs:
        aggregator = aggregators_by_address.get(log["address"].lower())
        if aggregator is None:
            continue
        if log.get("removed"):
            raise BadLog("node returned a removed log in eth_getLogs")
        topics, data = log["topics"], log["data"]
        if not topics or topics[0] != ANSWER_UPDATED.topic0:
            continue
        if len(topics) != 3 or len(data) != 66:
            raise BadLog(f"AnswerUpdated of {aggregator.address} with {len(topics)} topics and "
                         f"{len(data) - 2} hex digits of data")
        block = _hexint(log["blockNumber"])
        if block < first_block[aggregator.symbol]:
            continue
        answer = int(topics[1], 16)
        if answer >= 1 << 255:
            answer -= 1 << 256
        rows.append([
            chain_id, block, _hexint(log["logIndex"]), aggregator.feed, aggregator.phase,
            round_id(aggregator.phase, int(topics[2], 16)), answer, format_time(int(data, 16)),
            block_times[block], log["blockHash"], log["transactionHash"],
        ])
    return rows

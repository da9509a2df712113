"""JSON-RPC methods over the synthetic history: what an archive node answers, with no limits.

eth_chainId (0x1), net_version, eth_blockNumber (the head), eth_getBlockByNumber (by number
or by the tags latest/pending, safe = head - 32, finalized = head - 64, earliest; with or
without full transactions), eth_getLogs (fromBlock/toBlock/address/topics, in the shape
anvil returns, optionally with blockTimestamp), eth_call (totalSupply, balanceOf, decimals,
symbol, name, and PAXG's feeRecipient/feeRate at any block, from the ledger; the Chainlink
proxies' phaseId, phaseAggregators, aggregator, decimals, description, latestRoundData,
getRoundData, latestAnswer, latestTimestamp, latestRound, and the same on each aggregator with
its own round ids, at any block, from the rounds). Everything else is "the method … does not
exist/is not available", as geth says.

eth_getLogs is split in two so that a provider profile can refuse a query from its size
before any log is rendered: `plan_logs` resolves the filter to a slice of the sorted log
arrays and a per-kind mask, `count_logs`/`end_within` size it, `render_logs` builds the JSON.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import orjson
from eth_abi import encode
from eth_utils import keccak

from benchmarks.synthnet import events as ev
from benchmarks.synthnet.blocks import FINALIZED_DEPTH, SAFE_DEPTH, Blocks
from benchmarks.synthnet.history import History

_PAD = "0x" + "0" * 24
CLIENT_VERSION = "synthnet/1.0 (gold-indexer benchmark node)"


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


TOTAL_SUPPLY = _selector("totalSupply()")   # 0x18160ddd
BALANCE_OF = _selector("balanceOf(address)")  # 0x70a08231
DECIMALS = _selector("decimals()")
SYMBOL = _selector("symbol()")
NAME = _selector("name()")
FEE_RECIPIENT = _selector("feeRecipient()")
FEE_RATE = _selector("feeRate()")
NAMES = ("Paxos Gold", "Tether Gold")
# Chainlink's AggregatorProxy and its aggregators (AggregatorV2V3Interface).
PHASE_ID = _selector("phaseId()")  # 0x58303b10
PHASE_AGGREGATORS = _selector("phaseAggregators(uint16)")  # 0xc1597304
AGGREGATOR = _selector("aggregator()")
DESCRIPTION = _selector("description()")
LATEST_ROUND_DATA = _selector("latestRoundData()")  # 0xfeaf968c
GET_ROUND_DATA = _selector("getRoundData(uint80)")  # 0x9a6fc8f5
LATEST_ANSWER = _selector("latestAnswer()")
LATEST_TIMESTAMP = _selector("latestTimestamp()")
LATEST_ROUND = _selector("latestRound()")
_M64 = (1 << 64) - 1
_FEED_OF_PROXY = {f.proxy: i for i, f in enumerate(ev.FEEDS)}
_AGGREGATOR_OF_ADDRESS = {a.address: j for j, a in enumerate(ev.AGGREGATORS)}
_PHASE_BLOCKS = [[p.block for p in f.phases] for f in ev.FEEDS]


class RpcFailure(Exception):
    """A JSON-RPC error answer."""

    def __init__(self, code: int, message: str, data=None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def as_error(self) -> dict:
        err = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


@dataclass(slots=True)
class LogQuery:
    from_block: int
    to_block: int
    i0: int
    i1: int
    table: bytes  # 256 entries: 1 where a log kind matches address and topic0
    topic_rest: tuple  # constraints on topics 1..3 (None or a set of lowercase topics)

    @property
    def span(self) -> int:
        return self.to_block - self.from_block + 1


class Node:
    def __init__(self, history: History, blocks: Blocks):
        self.history = history
        self.blocks = blocks
        self.head = blocks.head
        self.topic_of = [_PAD + a[2:] for a in history.addresses]
        self._implementations: set[str] | None = None
        self._kind_info = {k.code: (ev.SOURCE_ADDRESSES[k.source], k.topic0, k.layout, k.source)
                           for k in ev.KINDS.values()}

    # -- parameters --------------------------------------------------------------------------

    def block_number(self, tag, default: str = "latest") -> int:
        if tag is None:
            tag = default
        if isinstance(tag, int):
            return tag
        if not isinstance(tag, str):
            raise RpcFailure(-32602, f"invalid argument: block number {tag!r}")
        t = tag.lower()
        if t in ("latest", "pending"):
            return self.head
        if t == "safe":
            return self.head - SAFE_DEPTH
        if t == "finalized":
            return self.head - FINALIZED_DEPTH
        if t == "earliest":
            return 0
        try:
            return int(t, 16)
        except ValueError:
            raise RpcFailure(-32602, f"invalid argument 0: hex string without 0x prefix: {tag!r}") from None

    # -- dispatch ----------------------------------------------------------------------------

    def call(self, method: str, params, *, timestamps: bool) -> object:
        """One JSON-RPC call's result (eth_getLogs without any provider cap)."""
        if not isinstance(params, list):
            params = [] if params is None else [params]
        if method == "eth_getLogs":
            return orjson.Fragment(self.render_logs_json(self.plan_logs(params), timestamps)[0])
        if method == "eth_getBlockByNumber":
            return self.get_block(params)
        if method == "eth_blockNumber":
            return hex(self.head)
        if method == "eth_chainId":
            return "0x1"
        if method == "net_version":
            return "1"
        if method == "eth_call":
            return self.eth_call(params)
        if method == "eth_syncing":
            return False
        if method == "web3_clientVersion":
            return CLIENT_VERSION
        if method == "eth_gasPrice":
            return hex(2_000_000_000)
        raise RpcFailure(-32601, f"the method {method} does not exist/is not available")

    # -- blocks ------------------------------------------------------------------------------

    def token_txs(self, n: int) -> list[tuple[int, str]]:
        """(transactionIndex, hash) of the token transactions in block n, in order."""
        block = self.history.block
        i0 = bisect.bisect_left(block, n)
        i1 = bisect.bisect_right(block, n, i0)
        out, last = [], -1
        txi = self.history.txi
        for i in range(i0, i1):
            t = txi[i]
            if t != last:
                out.append((t, self.blocks.tx_hash(n, t)))
                last = t
        return out

    def get_block(self, params: list) -> dict | None:
        if not params:
            raise RpcFailure(-32602, "missing value for required argument 0")
        n = self.block_number(params[0])
        full = bool(params[1]) if len(params) > 1 else False
        if n < 0 or n > self.head:
            return None
        return self.blocks.header(n, self.token_txs(n), full=full)

    # -- logs --------------------------------------------------------------------------------

    def plan_logs(self, params: list) -> LogQuery:
        flt = params[0] if params else {}
        if not isinstance(flt, dict):
            raise RpcFailure(-32602, "invalid argument 0: expected a filter object")
        if flt.get("blockHash") is not None:
            raise RpcFailure(-32602, "blockHash filters are not supported by the synthetic node")
        frm = self.block_number(flt.get("fromBlock"), "latest")
        to = self.block_number(flt.get("toBlock"), "latest")
        if frm > to:
            raise RpcFailure(-32602, "invalid block range params")
        if to > self.head:
            raise RpcFailure(-32000, "block range extends beyond current head block")
        addresses = flt.get("address")
        if isinstance(addresses, str):
            addresses = [addresses]
        sources = set(range(len(ev.SOURCE_ADDRESSES))) if not addresses else {
            i for i, a in enumerate(ev.SOURCE_ADDRESSES) if a in {x.lower() for x in addresses}}
        topics = flt.get("topics") or []
        wanted0 = None
        rest: list = []
        for pos, t in enumerate(topics[:4]):
            allowed = None if t is None else {x.lower() for x in ([t] if isinstance(t, str) else t)}
            if pos == 0:
                wanted0 = allowed
            else:
                rest.append(allowed)
        table = bytearray(256)
        for code, kind in ev.KINDS.items():
            if kind.source in sources and (wanted0 is None or ev.TOPIC0[code] in wanted0):
                table[code] = 1
        block = self.history.block
        i0 = bisect.bisect_left(block, frm)
        i1 = bisect.bisect_right(block, to, i0)
        rest_t = tuple(rest) if any(r is not None for r in rest) else ()
        return LogQuery(frm, to, i0, i1, bytes(table), rest_t)

    def count_logs(self, q: LogQuery) -> int:
        if q.topic_rest:
            return len(self.render_logs(q, False))
        return self.history.kind[q.i0:q.i1].translate(q.table).count(1)

    def end_within(self, q: LogQuery, cap: int) -> int:
        """The last block b >= from_block such that [from_block, b] holds at most `cap` logs
        of the query (from_block itself if that one block holds more)."""
        if q.topic_rest:
            logs = self.render_logs(q, False)
            if len(logs) <= cap:
                return q.to_block
            return max(q.from_block, int(logs[cap]["blockNumber"], 16) - 1)
        marks = self.history.kind[q.i0:q.i1].translate(q.table)
        pos = -1
        for _ in range(cap + 1):
            pos = marks.find(1, pos + 1)
            if pos == -1:
                return q.to_block
        return max(q.from_block, self.history.block[q.i0 + pos] - 1)

    def render_logs(self, q: LogQuery, timestamps: bool) -> list[dict]:
        """The query's logs as dicts (tests, and filters on topics 1-3)."""
        return orjson.loads(self.render_logs_json(q, timestamps)[0])

    def render_logs_json(self, q: LogQuery, timestamps: bool) -> tuple[bytes, int]:
        """The query's logs as the JSON array eth_getLogs returns, in anvil's key order, and
        how many there are.

        Formatted as text rather than built as dicts for orjson: this runs once per log the
        scanner receives, and the node must stay well below the scanner's own cost per log."""
        h, blocks = self.history, self.blocks
        block, txi, logi, kinds = h.block, h.txi, h.logi, h.kind
        a_ids, b_ids, amt_hi, amt_lo = h.a, h.b, h.amt_hi, h.amt_lo
        topic_of, info, table, rest = self.topic_of, self._kind_info, q.table, q.topic_rest
        parts = []
        last_n = last_t = -1
        where = tx = ""
        for i in range(q.i0, q.i1):
            k = kinds[i]
            if not table[k]:
                continue
            n = block[i]
            if n != last_n:
                last_n, last_t = n, -1
                where = f'"blockHash":"{blocks.block_hash(n)}","blockNumber":"{hex(n)}",'
                if timestamps:
                    where += f'"blockTimestamp":"{hex(blocks.timestamp(n))}",'
            t = txi[i]
            if t != last_t:
                last_t = t
                tx = f'"transactionHash":"{blocks.tx_hash(n, t)}","transactionIndex":"{hex(t)}",'
            address, t0, layout, _ = info[k]
            if layout == ev.AB_AMOUNT:
                topics = (t0, topic_of[a_ids[i]], topic_of[b_ids[i]])
                data = "0x" + format(amt_hi[i] << 64 | amt_lo[i], "064x")
            elif layout == ev.A_AMOUNT:
                topics = (t0, topic_of[a_ids[i]])
                data = "0x" + format(amt_hi[i] << 64 | amt_lo[i], "064x")
            elif layout == ev.AMOUNT:
                topics = (t0,)
                data = "0x" + format(amt_hi[i] << 64 | amt_lo[i], "064x")
            elif layout == ev.A:
                topics = (t0, topic_of[a_ids[i]])
                data = "0x"
            elif layout == ev.AB:
                topics = (t0, topic_of[a_ids[i]], topic_of[b_ids[i]])
                data = "0x"
            elif layout == ev.NUMBERS:
                topics = (t0, "0x" + format(a_ids[i], "064x"), "0x" + format(b_ids[i], "064x"))
                data = "0x"
            elif layout == ev.DATA_A:
                topics = (t0,)
                data = topic_of[a_ids[i]]
            elif layout == ev.DATA_AB:
                topics = (t0,)
                data = topic_of[a_ids[i]] + topic_of[b_ids[i]][2:]
            elif layout == ev.ANSWER:  # AnswerUpdated(int256 indexed current, uint256 indexed roundId, ...)
                answer = (amt_hi[i] << 64 | amt_lo[i]) % (1 << 256)
                topics = (t0, "0x" + format(answer, "064x"), "0x" + format(a_ids[i], "064x"))
                data = "0x" + format(b_ids[i], "064x")
            elif layout == ev.NEW_ROUND:  # NewRound(uint256 indexed roundId, address indexed startedBy, ...)
                topics = (t0, "0x" + format(a_ids[i], "064x"), topic_of[b_ids[i]])
                data = "0x" + format(amt_hi[i] << 64 | amt_lo[i], "064x")
            else:  # BETA: value after fee, seq, service fee
                seq, service_fee = h.extra[i]
                topics = (t0, topic_of[a_ids[i]], topic_of[b_ids[i]])
                data = "0x" + format(amt_hi[i] << 64 | amt_lo[i], "064x") + format(seq, "064x") \
                    + format(service_fee, "064x")
            if rest and not all(allowed is None or (p + 1 < len(topics) and topics[p + 1] in allowed)
                                for p, allowed in enumerate(rest)):
                continue
            joined = '","'.join(topics)
            parts.append(f'{{"address":"{address}","topics":["{joined}"],"data":"{data}",'
                         f'{where}{tx}"logIndex":"{hex(logi[i])}","removed":false}}')
        return ("[" + ",".join(parts) + "]").encode(), len(parts)

    # -- eth_call ----------------------------------------------------------------------------

    def paxg_implementations(self) -> set[str]:
        """The implementations PAXG's Upgraded logs name: V1 contracts, which answer feeRate()
        (the indexer asks each one whether it has fees)."""
        if self._implementations is None:
            h = self.history
            upgraded = next(k.code for k in ev.KINDS.values() if k.source == 0 and k.name == "Upgraded")
            self._implementations = {h.addresses[h.a[i]] for i, k in enumerate(h.kind)
                                     if k == upgraded}
        return self._implementations

    def eth_call(self, params: list) -> str:
        if not params or not isinstance(params[0], dict):
            raise RpcFailure(-32602, "missing value for required argument 0")
        tx = params[0]
        n = self.block_number(params[1] if len(params) > 1 else "latest")
        if n > self.head:
            raise RpcFailure(-32000, "header not found")
        to = str(tx.get("to") or "").lower()
        data = str(tx.get("data") or tx.get("input") or "0x").lower()
        if to in _FEED_OF_PROXY:
            return self.proxy_call(_FEED_OF_PROXY[to], data, n)
        if to in _AGGREGATOR_OF_ADDRESS:
            return self.aggregator_call(_AGGREGATOR_OF_ADDRESS[to], data, n)
        if to not in ev.TOKEN_ADDRESSES:
            if data[:10] == FEE_RATE and to in self.paxg_implementations():
                return "0x" + "0" * 64  # a PAXG V1 implementation: its own storage's fee rate
            return "0x"
        token = ev.TOKEN_ADDRESSES.index(to)
        if n < (ev.PAXG_START, ev.XAUT_START)[token]:
            return "0x"  # no code there yet
        selector = data[:10]
        if selector == TOTAL_SUPPLY:
            return "0x" + format(self.history.total_supply(token, n), "064x")
        if selector == BALANCE_OF and len(data) >= 74:
            holder = "0x" + data[-40:]
            return "0x" + format(self.history.balance_of(token, holder, n), "064x")
        if selector == DECIMALS:
            return "0x" + format(ev.DECIMALS[token], "064x")
        if selector == SYMBOL:
            return "0x" + encode(["string"], [ev.TOKENS[token]]).hex()
        if selector == NAME:
            return "0x" + encode(["string"], [NAMES[token]]).hex()
        if token == 0 and selector == FEE_RECIPIENT:
            return _PAD + self.history.addresses[ev.FEE_RECIPIENT][2:]
        if token == 0 and selector == FEE_RATE:
            return "0x" + format(ev.PAXG_FEE_RATE if n < ev.FEE_ZERO_BLOCK else 0, "064x")
        raise RpcFailure(-32000, "execution reverted")

    # -- the price feeds ---------------------------------------------------------------------

    def proxy_call(self, feed: int, data: str, n: int) -> str:
        """An AggregatorProxy at block n: phases that have begun by then, the current phase's
        latest round, a round by the proxy's id (phase << 64 | the aggregator's id)."""
        f = ev.FEEDS[feed]
        phase = bisect.bisect_right(_PHASE_BLOCKS[feed], n)
        if phase == 0:
            return "0x"  # no code before the first aggregator
        selector = data[:10]
        if selector == PHASE_ID:
            return _word(phase)
        if selector == PHASE_AGGREGATORS and len(data) >= 74:
            asked = int(data[10:74], 16)
            return _PAD + f.phases[asked - 1].aggregator[2:] if 1 <= asked <= phase else _word(0)
        if selector == AGGREGATOR:
            return _PAD + f.phases[phase - 1].aggregator[2:]
        if selector == DECIMALS:
            return _word(f.decimals)
        if selector == DESCRIPTION:
            return "0x" + encode(["string"], [f.description]).hex()
        if selector == GET_ROUND_DATA and len(data) >= 74:
            proxy_round = int(data[10:74], 16)
            asked_phase = proxy_round >> 64
            if not 1 <= asked_phase <= phase:
                raise RpcFailure(-32000, "execution reverted")
            return self._round_answer(self._aggregator_index(feed, asked_phase),
                                      proxy_round & _M64, n, asked_phase)
        latest = self._latest(self._aggregator_index(feed, phase), n)
        return self._latest_answer(selector, latest, phase)

    def aggregator_call(self, aggregator: int, data: str, n: int) -> str:
        """One phase's aggregator at block n: its own round ids (from 1)."""
        a = ev.AGGREGATORS[aggregator]
        if n < a.block:
            return "0x"
        selector = data[:10]
        if selector == DECIMALS:
            return _word(ev.FEEDS[a.feed].decimals)
        if selector == DESCRIPTION:
            return "0x" + encode(["string"], [ev.FEEDS[a.feed].description]).hex()
        if selector == GET_ROUND_DATA and len(data) >= 74:
            return self._round_answer(aggregator, int(data[10:74], 16), n, 0)
        return self._latest_answer(selector, self._latest(aggregator, n), 0)

    @staticmethod
    def _aggregator_index(feed: int, phase: int) -> int:
        return next(j for j, a in enumerate(ev.AGGREGATORS) if a.feed == feed and a.phase == phase)

    def _latest(self, aggregator: int, n: int) -> int | None:
        """The position of the aggregator's latest round in a block up to n, if any."""
        blocks, positions = self.history.feed_rounds(aggregator)
        k = bisect.bisect_right(blocks, n)
        return positions[k - 1] if k else None

    def _round_words(self, i: int, phase: int) -> str:
        """(roundId, answer, startedAt, updatedAt, answeredInRound) of the round at position i."""
        h = self.history
        round_id = phase << 64 | h.a[i]
        answer = (h.amt_hi[i] << 64 | h.amt_lo[i]) % (1 << 256)
        return "0x" + "".join(format(x, "064x") for x in (round_id, answer, h.b[i], h.b[i], round_id))

    def _latest_answer(self, selector: str, i: int | None, phase: int) -> str:
        h = self.history
        if selector == LATEST_ROUND_DATA:
            if i is None:
                raise RpcFailure(-32000, "execution reverted: No data present")
            return self._round_words(i, phase)
        if selector == LATEST_ANSWER:
            return _word(0 if i is None else h.amt_hi[i] << 64 | h.amt_lo[i])
        if selector == LATEST_TIMESTAMP:
            return _word(0 if i is None else h.b[i])
        if selector == LATEST_ROUND:
            return _word(0 if i is None else phase << 64 | h.a[i])
        raise RpcFailure(-32000, "execution reverted")

    def _round_answer(self, aggregator: int, round_id: int, n: int, phase: int) -> str:
        blocks, positions = self.history.feed_rounds(aggregator)
        if not 1 <= round_id <= len(positions) or blocks[round_id - 1] > n:
            raise RpcFailure(-32000, "execution reverted: No data present")
        return self._round_words(positions[round_id - 1], phase)


def _word(x: int) -> str:
    return "0x" + format(x, "064x")

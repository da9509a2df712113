"""Price feeds as log sources: which aggregators each configured Chainlink proxy has had.

The proxy lists its phases (`phaseId()`, `phaseAggregators(i)`); they are read at the head,
which any node can answer (no archive state), when the sync starts and then every
prices.phase_check_minutes. Each aggregator becomes a log source of the walk with its own
checkpoint. One found on the first reading is read from the tokens' first block (its logs
begin where it was deployed, and ride in the tokens' eth_getLogs at no extra request); one
that appears later is read from the block after the previous reading, where the proxy still
answered from the phase before: its rounds before then were not the proxy's answer.
"""

from __future__ import annotations

import logging

from indexer import store
from indexer.contracts import Contracts
from indexer.errors import IndexerError
from indexer.feeds import Aggregator
from indexer.rpc import RpcClient

log = logging.getLogger(__name__)


def check_feeds(db, rpc: RpcClient, chain_id: int, feeds: dict[str, str], head: int,
                first_block: int) -> tuple[Aggregator, ...]:
    """Read each feed's phases at `head`, record new aggregators (`db(store_fn, *args)` runs
    a store call), and return every aggregator of the configured feeds. A feed whose proxy
    does not answer is left out of this run with a warning; the others go on."""
    stored = db(store.load_price_feeds, chain_id)
    contracts = Contracts(rpc)
    found: list[Aggregator] = []
    for name, proxy in feeds.items():
        known = stored.get(name)
        if known is not None and known.proxy != proxy:
            raise IndexerError(
                f"prices: this database reads {name} from proxy {known.proxy}, the config now names "
                f"{proxy}; set prices.{name.split('/')[0].lower()}_usd back, or use a fresh database")
        try:
            phases = contracts.feed_phases(proxy, head)[1]
            decimals = known.decimals if known is not None else contracts.feed_decimals(proxy)
        except IndexerError as exc:
            log.warning("prices: %s proxy %s does not answer as a Chainlink proxy (%s); its prices "
                        "are not read in this run", name, proxy, str(exc).strip()[:200])
            if known is not None:
                found.extend(known.aggregators)
            continue
        have = {a.phase: a for a in (known.aggregators if known is not None else ())}
        start = first_block if known is None or known.checked_block is None \
            else known.checked_block + 1
        new = [Aggregator(name, phase, address, start) for phase, address in sorted(phases.items())
               if phase not in have]
        for a in new:
            if known is not None:
                log.info("prices: %s has a new phase %d (aggregator %s), read from block %d",
                         name, a.phase, a.address, a.start_block)
        db(store.save_price_feed, chain_id, name, proxy, decimals, head, new)
        found.extend(sorted([*have.values(), *new], key=lambda a: a.phase))
    return tuple(found)


"""Typed contract reads (indexer.contracts) against real contracts on anvil, and the Chainlink
feed test doubles they are for: MockFeedProxy in front of one MockAggregator per phase. Every
read is counted as the node sees it, through the fault proxy."""

from __future__ import annotations

import pytest
from web3 import Web3

from indexer.contracts import Contracts
from indexer.errors import RpcError
from indexer.rpc import RpcClient
from tests.faultproxy import FaultProxy
from tests.integration.test_sync import run_cli, sync_once

pytestmark = pytest.mark.integration

NEW_ROUND = Web3.keccak(text="NewRound(uint256,address,uint256)").to_0x_hex()
ANSWER_UPDATED = Web3.keccak(text="AnswerUpdated(int256,uint256,uint256)").to_0x_hex()
MONDAY = 1_767_571_200  # 2026-01-05 00:00 UTC
DAY = 86_400


def lower(contract) -> str:
    return contract.address.lower()


def word(value: int) -> str:
    return "0x" + format(value % 2**256, "064x")


def test_a_posted_round_is_logged_by_the_aggregator_alone(chain, feed):
    feed.post(2_650_12345678, MONDAY)
    receipt = feed.post(-1, MONDAY + DAY)  # int256 answers: a negative one is two's complement
    logs = [(lg["address"].lower(), [t.to_0x_hex() for t in lg["topics"]], lg["data"].to_0x_hex())
            for lg in receipt["logs"]]
    assert logs == [
        (lower(feed.aggregator), [NEW_ROUND, word(2), word(0)], word(MONDAY + DAY)),
        (lower(feed.aggregator), [ANSWER_UPDATED, word(-1), word(2)], word(MONDAY + DAY)),
    ]
    feed.change_phase()
    feed.post(2_650_00000000, MONDAY + 2 * DAY)
    everything = chain.w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest",
                                        "address": feed.proxy.address})
    assert everything == []  # as on mainnet: the proxy logs nothing, not even a phase change


def test_the_proxy_numbers_rounds_by_phase_and_reads_old_phases(feed):
    proxy = feed.proxy.functions
    feed.post(2_650_00000000, MONDAY)
    feed.post(2_660_00000000, MONDAY + DAY)
    assert proxy.latestRoundData().call() == [
        feed.round_id(2), 2_660_00000000, MONDAY + DAY, MONDAY + DAY, feed.round_id(2)]
    feed.change_phase()
    feed.post(2_670_00000000, MONDAY + 2 * DAY)
    assert feed.round_id(1) == (2 << 64) | 1
    assert proxy.latestRoundData().call() == [
        feed.round_id(1), 2_670_00000000, MONDAY + 2 * DAY, MONDAY + 2 * DAY, feed.round_id(1)]
    old = feed.round_id(2, phase=1)
    assert proxy.getRoundData(old).call() == [old, 2_660_00000000, MONDAY + DAY, MONDAY + DAY, old]
    assert (proxy.decimals().call(), proxy.description().call()) == (8, "XAU / USD")


def test_feed_phases_follow_a_phase_change_in_two_requests_each(chain, feed):
    rpc = RpcClient(chain.anvil.url)
    contracts = Contracts(rpc)
    feed.post(2_650_00000000, MONDAY)
    assert contracts.feed_phases(lower(feed.proxy)) == (1, {1: lower(feed.aggregators[0])})
    before = chain.w3.eth.block_number
    feed.change_phase()
    feed.change_phase()
    assert contracts.feed_phases(lower(feed.proxy)) == (3, {
        1: lower(feed.aggregators[0]), 2: lower(feed.aggregators[1]),
        3: lower(feed.aggregators[2])})
    # At a block before the change, the proxy had one phase.
    assert contracts.feed_phases(lower(feed.proxy), before) == (1, {1: lower(feed.aggregators[0])})
    assert contracts.feed_decimals(lower(feed.proxy)) == 8
    # Each feed_phases is two requests, phaseId then all phases at once (one batch of 3 for
    # 3 phases); feed_decimals is one.
    assert rpc.stats.requests == 2 + 2 + 2 + 1
    assert rpc.stats.calls == (1 + 1) + (1 + 3) + (1 + 1) + 1
    assert rpc.stats.requests_by_method == {"eth_call": 7}


def test_reads_through_web3_are_retried_by_the_client(chain, feed):
    feed.change_phase()
    with FaultProxy(chain.anvil.url, seed=1, rate=1.0, faults=("http_500",),
                    max_faults=1) as proxy:
        rpc = RpcClient(proxy.url, backoff=0.01)
        assert Contracts(rpc).feed_phases(lower(feed.proxy)) == (2, {
            1: lower(feed.aggregators[0]), 2: lower(feed.aggregators[1])})
    assert proxy.decisions == ["http_500", "forwarded", "forwarded"]
    assert proxy.calls == {"eth_call": 1 + 1 + 2} and rpc.stats.retries == 1


def test_reverts_and_missing_code_on_anvil(chain, feed):
    rpc = RpcClient(chain.anvil.url)
    contracts = Contracts(rpc)
    with pytest.raises(RpcError, match="revert"):  # an aggregator has no totalSupply()
        contracts.total_supply(lower(feed.aggregator))
    v1 = lower(chain._deploy("PaxgLike"))
    v2 = lower(chain._deploy("PaxgV2Like"))
    assert contracts.has_fee_rate(v1) is True
    assert contracts.has_fee_rate(v2) is False  # reverts: no feeRate()
    assert contracts.has_fee_rate("0x" + "0e" * 20) is False  # no code there
    assert rpc.stats.requests_by_method == {"eth_call": 4}


def test_verify_sends_one_call_and_one_batch_per_token(chain, devnet_config):
    chain.script_history()
    sync_once(devnet_config)
    with FaultProxy(chain.anvil.url, seed=0) as proxy:
        result = run_cli("--config", str(devnet_config), "--rpc-url", proxy.url,
                         "verify", "--top", "5", "--sample", "3")
    assert result.exit_code == 0, result.output
    checks = [line for line in result.output.splitlines() if line.endswith(" ok")]
    holders = len(checks) - 2  # a totalSupply check per token
    # eth_chainId once (the client checks the endpoint), then per token totalSupply and one
    # batch of balanceOf.
    assert len(proxy.decisions) == 1 + 2 * 2
    assert proxy.calls == {"eth_chainId": 1, "eth_call": 2 + holders}

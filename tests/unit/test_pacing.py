"""Pacing arithmetic with injected clocks, no real sleep: the token bucket, AIMD on a rate
refusal, batch sizes from the budget and the batch cap, quota pauses, price lists, usage."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from indexer.rpc import PRESETS, Pacer, RpcStopped, make_pricing
from indexer.rpc.pacing import (BURST_SECONDS, DECREASE, FLOOR, HEADROOM, INCREASE_PER_SECOND,
                                LEARNED_CUT_SECONDS, LEARNED_PLATEAU, LEARNED_PROBE_PER_SECOND,
                                QUOTA_RESET_MARGIN_SECONDS, Aimd, TokenBucket, next_utc_midnight)
from indexer.rpc.endpoint import Usage


class Clock:
    """A monotonic and a wall clock that move only when told to (or when `sleep` is called)."""

    def __init__(self, wall: float = 1_764_504_000.0):  # 2025-11-30 12:00:00 UTC
        self.now = 1000.0
        self.wall_now = wall
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall_now += seconds


def pacer(clock: Clock, pricing: str = "infura", budget: float = 0.0, **kw) -> Pacer:
    return Pacer(PRESETS[pricing], budget or PRESETS[pricing].budget, clock=clock,
                 wall=clock.wall, **kw)


# -- token bucket -------------------------------------------------------------------------------

def test_bucket_admits_a_full_burst_then_spaces_by_cost():
    b = TokenBucket(rate=100, capacity=100, now=0)
    assert b.reserve(60, 0) == 0
    assert b.reserve(40, 0) == 0
    assert b.reserve(50, 0) == pytest.approx(0.5)  # 50 units at 100/s
    assert b.reserve(50, 0) == pytest.approx(1.0)  # queued behind the first


def test_bucket_refills_at_its_rate_up_to_its_capacity():
    b = TokenBucket(rate=100, capacity=100, now=0)
    b.reserve(100, 0)
    assert b.reserve(30, 0.3) == pytest.approx(0.0)
    b = TokenBucket(rate=100, capacity=100, now=0)
    assert b.reserve(100, 60) == 0  # a minute idle still holds only one second of budget
    assert b.reserve(100, 60) == pytest.approx(1.0)


def test_request_larger_than_the_bucket_waits_for_a_full_bucket_and_leaves_debt():
    b = TokenBucket(rate=500, capacity=500, now=0)
    assert b.reserve(20_000, 0) == 0  # full bucket: goes at once, never refused forever
    # ... and the next request waits until the debt (19,500) is paid and its cost is there.
    assert b.reserve(80, 0) == pytest.approx((19_500 + 80) / 500)
    b = TokenBucket(rate=500, capacity=500, now=0)
    b.reserve(100, 0)
    assert b.reserve(20_000, 0) == pytest.approx(100 / 500)  # waits only for a full bucket


def test_bucket_hold_starts_empty_after_it():
    b = TokenBucket(rate=100, capacity=100, now=0)
    b.hold(2.0, 0)
    assert b.reserve(50, 0) == pytest.approx(2.0 + 0.5)
    assert b.reserve(50, 0) == pytest.approx(2.0 + 1.0)  # spaced after the hold, not bunched


# -- AIMD ---------------------------------------------------------------------------------------

def test_aimd_cuts_once_per_round_and_grows_back_linearly_to_the_ceiling():
    a = Aimd(450.0)
    assert a.rate(0) == 450
    assert a.cut(sent_at=9.9, now=10.0, observed=0)
    assert a.rate(10.0) == pytest.approx(450 * DECREASE)
    # A request sent before that cut was answered by it: no second cut.
    assert not a.cut(sent_at=9.95, now=10.1, observed=0)
    assert a.rate(10.1) == pytest.approx(450 * DECREASE + 450 * INCREASE_PER_SECOND * 0.1)
    seconds_back = (1 - DECREASE) / INCREASE_PER_SECOND
    assert a.rate(10.0 + seconds_back / 2) == pytest.approx(450 * (1 + DECREASE) / 2)
    assert a.rate(10.0 + seconds_back + 100) == 450  # never above the ceiling


def test_aimd_never_cuts_below_its_floor():
    a = Aimd(1000.0)
    for _ in range(50):
        a.cut(sent_at=5.0, now=5.0, observed=0)
    assert a.cuts == 50 and a.rate(5.0) == pytest.approx(1000 * FLOOR)


def test_aimd_without_budget_learns_one_from_the_rate_spent():
    a = Aimd(None)
    assert a.rate(0) is None
    assert a.cut(sent_at=1.0, now=1.0, observed=200.0)
    assert a.rate(1.0) == pytest.approx(200 * DECREASE)
    # Back towards the rate refused, then probing beyond it, slowly and without a ceiling.
    assert a.rate(3.0) == pytest.approx(200 * DECREASE + 200 * INCREASE_PER_SECOND * 2)
    back = (LEARNED_PLATEAU - DECREASE) / INCREASE_PER_SECOND
    assert a.rate(1.0 + back) == pytest.approx(200 * LEARNED_PLATEAU)
    assert a.rate(1.0 + back + 10) == pytest.approx(200 * (LEARNED_PLATEAU
                                                           + 10 * LEARNED_PROBE_PER_SECOND))
    # Refusals closer together than LEARNED_CUT_SECONDS cut once: hiccups keep it off the floor.
    assert not a.cut(sent_at=2.0, now=2.0, observed=200.0)
    later = 1.0 + LEARNED_CUT_SECONDS
    assert a.cut(sent_at=later, now=later, observed=0)
    assert a.rate(later) == pytest.approx(
        (200 * DECREASE + 200 * INCREASE_PER_SECOND * LEARNED_CUT_SECONDS) * DECREASE)


# -- the pacer ------------------------------------------------------------------------------------

def test_infura_paces_below_500_credits_per_second():
    clock = Clock()
    p = pacer(clock)
    rate = 500 * HEADROOM
    # A 20,000-credit batch of 250 headers: through at once from a full bucket ...
    p.acquire(250 * 80, clock.sleep)
    assert clock.slept == []
    # ... then everything waits for its debt to be paid at the paced rate.
    p.acquire(255, clock.sleep)
    assert clock.slept == [pytest.approx((250 * 80 - rate * BURST_SECONDS + 255) / rate)]
    # Over a long run, credits per second stay at the paced rate.
    start, spent = clock.now, 0
    for _ in range(200):
        p.acquire(255, clock.sleep)
        spent += 255
    assert spent / (clock.now - start) == pytest.approx(rate, rel=0.02)


def test_requests_per_second_are_spaced_evenly():
    clock = Clock()
    p = Pacer(PRESETS["none"], 0, 4, clock=clock, wall=clock.wall)
    for _ in range(5):
        p.acquire(p.cost(["eth_getLogs"]), clock.sleep)
    assert clock.slept == [pytest.approx(0.25)] * 4


def test_rate_refusal_holds_every_thread_for_its_backoff_and_cuts_the_budget():
    clock = Clock()
    p = pacer(clock)
    sent = clock()
    clock.advance(0.1)  # the answer's round trip
    assert p.on_rate_limited(sent, retry_after=1.5)
    assert p.rate() == pytest.approx(500 * HEADROOM * DECREASE)
    assert p.hold_remaining() == pytest.approx(1.5)
    p.acquire(80, clock.sleep)
    cut = 500 * HEADROOM * DECREASE
    assert clock.slept == [pytest.approx(1.5 + 80 / cut, rel=1e-3)]
    assert not p.on_rate_limited(sent, retry_after=None)  # the same round: no second cut


def test_pacer_without_budget_is_unlimited_until_refused():
    clock = Clock()
    p = Pacer(PRESETS["none"], clock=clock, wall=clock.wall)
    for _ in range(100):
        p.acquire(1, clock.sleep)
    assert clock.slept == [] and p.rate() is None
    clock.advance(1.0)
    for _ in range(50):
        p.acquire(1, clock.sleep)
    assert p.on_rate_limited(clock(), None)
    learned = p.rate()
    assert learned == pytest.approx(DECREASE * 150 / 1, rel=0.05)  # 150 calls since the start, 1 s
    p.acquire(learned, clock.sleep)
    assert clock.slept == [pytest.approx(1.0, rel=1e-3)]  # born empty: a second's worth waits 1 s


def test_learned_budget_comes_from_the_last_two_seconds():
    clock = Clock()
    p = Pacer(PRESETS["none"], clock=clock, wall=clock.wall)
    for _ in range(20):  # 10 calls a second for 20 s
        for _ in range(10):
            p.acquire(1, clock.sleep)
        clock.advance(1.0)
    p.on_rate_limited(clock() - 0.1, None)
    assert p.rate() == pytest.approx(DECREASE * 10, rel=0.1)


def test_learned_budget_starts_after_the_refusals_hold():
    clock = Clock()
    p = Pacer(PRESETS["none"], clock=clock, wall=clock.wall)
    for _ in range(40):
        p.acquire(1, clock.sleep)
    clock.advance(0.1)
    p.on_rate_limited(clock() - 0.05, retry_after=2.0)
    rate = p.rate()
    waits = [p.reserve(1) for _ in range(3)]
    assert waits == [pytest.approx(2.0 + (i + 1) / rate) for i in range(3)]  # spaced, not bunched


@pytest.mark.parametrize("preset,budget,fits", [
    ("infura", 0, 5),          # 450 paced credits per second / 80 per header
    ("alchemy", 0, 22),        # 450 / 20
    ("alchemy", 10_000, 250),  # pay-as-you-go: 9,000 / 20 = 450, but header_batch says 250
    ("quicknode", 0, 45),      # 45 requests per second, one per call
    ("none", 0, 250),          # no budget: header_batch decides
])
def test_header_batches_cost_about_one_second_of_the_budget(preset, budget, fits):
    p = pacer(Clock(), preset, budget)
    header = p.pricing.cost("eth_getBlockByNumber")
    assert p.fit([header] * 250, 250) == fits


def test_batch_size_follows_the_cut_budget_and_never_drops_below_one():
    clock = Clock()
    p = pacer(clock, "infura")
    p.on_rate_limited(clock(), None)
    assert p.fit([80] * 250, 250) == int(500 * HEADROOM * DECREASE // 80)
    tiny = pacer(clock, "infura", budget=10)
    assert tiny.fit([255], 1) == 1  # costs more than a second of budget: still one call


def test_batch_cap_from_the_refusal_or_halved():
    p = pacer(Clock(), "none")
    assert p.limit_batch(250, cap=10) == (10, True)
    assert p.fit([1] * 250, 250) == 10
    assert p.limit_batch(10, cap=None) == (5, False)  # no number given: halve
    p = pacer(Clock(), "none")
    assert p.limit_batch(3, None) == (1, True)
    assert p.limit_batch(1, None) == (1, False)  # down to single calls, never zero
    assert p.fit([1] * 250, 250) == 1


def test_quota_pause_on_infura_lasts_until_midnight_utc():
    clock = Clock(wall=datetime(2026, 11, 30, 15, 20, tzinfo=timezone.utc).timestamp())
    heard = []
    p = pacer(clock, "infura")
    p.listeners.append(lambda until, reason: heard.append((until, reason)))
    until, state = p.pause("HTTP 402: Payment Required")
    midnight = datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp()
    assert (until, state) == (midnight + QUOTA_RESET_MARGIN_SECONDS, "started")
    assert p.pause("again, from another thread") == (until, None)
    assert heard == [(datetime.fromtimestamp(until, timezone.utc), "HTTP 402: Payment Required")]
    p.acquire(80, clock.sleep)  # waits out the pause in slices, then goes
    assert sum(clock.slept) == pytest.approx(until - datetime(2026, 11, 30, 15, 20,
                                                              tzinfo=timezone.utc).timestamp())
    assert max(clock.slept) <= 30
    assert p.resume() and heard[-1] == (None, None)
    assert not p.resume()


def test_quota_pause_elsewhere_retries_every_n_minutes():
    clock = Clock()
    p = pacer(clock, "alchemy", quota_retry_seconds=120)
    until, state = p.pause("quota")
    assert (until - clock.wall(), state) == (120, "started")
    clock.advance(121)
    until2, state = p.pause("quota")  # the try after it was refused again
    assert (until2 - clock.wall(), state) == (120, "renewed")


def test_quota_pause_on_an_infura_url_without_pricing_waits_for_midnight():
    clock = Clock()
    p = Pacer(PRESETS["none"], daily_reset_utc=True, clock=clock, wall=clock.wall)
    until, _ = p.pause("quota")
    assert until == next_utc_midnight(clock.wall()) + QUOTA_RESET_MARGIN_SECONDS


def test_a_stopped_wait_raises_rpc_stopped():
    clock = Clock()
    p = pacer(clock, "alchemy")
    p.pause("quota")

    def stopped(seconds):
        raise RpcStopped("stopped")

    with pytest.raises(RpcStopped):
        p.acquire(20, stopped)


# -- pricing and usage ----------------------------------------------------------------------------

def test_presets_carry_the_price_lists_of_facts_md():
    infura, alchemy, quicknode = PRESETS["infura"], PRESETS["alchemy"], PRESETS["quicknode"]
    assert [infura.cost(m) for m in ("eth_getLogs", "eth_getBlockByNumber", "eth_call",
                                     "eth_blockNumber")] == [255, 80, 80, 80]
    assert [alchemy.cost(m) for m in ("eth_getLogs", "eth_getBlockByNumber", "eth_call",
                                      "eth_blockNumber")] == [60, 20, 26, 10]
    assert quicknode.cost("eth_getLogs") == quicknode.cost("eth_chainId") == 1
    assert (infura.budget, alchemy.budget, quicknode.budget) == (500, 500, 50)
    assert infura.daily_reset_utc and not alchemy.daily_reset_utc


def test_method_costs_replace_the_presets_prices():
    p = make_pricing("infura", {"eth_getLogs": 100, "default": 5})
    assert (p.cost("eth_getLogs"), p.cost("eth_call"), p.cost("eth_chainId")) == (100, 80, 5)
    assert make_pricing(None).cost("anything") == 1


def test_usage_counts_requests_calls_credits_and_refusals():
    u = Usage()
    u.add(["eth_getBlockByNumber"] * 3, [80, 80, 80], [None, None, None])
    u.add(["eth_getLogs"], [0], ["rate"])
    u.add(["eth_getLogs"], [255], ["range"])
    assert u.snapshot() == {
        "requests": {"eth_getBlockByNumber": 1, "eth_getLogs": 2},
        "calls": {"eth_getBlockByNumber": 3, "eth_getLogs": 2},
        "credits": {"eth_getBlockByNumber": 240, "eth_getLogs": 255},
        "refused": {"rate": 1, "range": 1},
    }


def test_an_answer_to_a_request_sent_before_the_pause_does_not_end_it():
    """Ranges in flight: a request that left before another thread's 402 may still be answered;
    that answer says nothing of the quota now, so the pause (said once) goes on."""
    clock = Clock()
    p = pacer(clock, "none", quota_retry_seconds=600)
    sent_before = clock()
    clock.sleep(1)
    p.pause("HTTP 402: Payment Required")
    assert not p.resume(sent_before) and p.paused
    clock.sleep(1)
    assert p.resume(clock()) and not p.paused

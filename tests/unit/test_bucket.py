"""Bucket arithmetic: the real Lua script on fakeredis, with a fixed clock where it matters."""

from __future__ import annotations

import asyncio

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.ratelimit.bucket import (
    Priority,
    TokenBucket,
    bucket_key,
    fill_ratio,
    read_state,
    split_name,
)
from worker.ratelimit.restarts import MARK_KEY, MARK_SECONDS, ServerMemory
from worker.spapi.client import usable_burst
from worker.spapi.errors import QuotaWaitTooLong

KEY = bucket_key("A1SELLER", "na", "getOrders")
HASH = "rl:{A1SELLER:NA}"  # every bucket of the seller in the region: one field each
INC, BF = Priority.INCREMENTAL, Priority.BACKFILL


@pytest.fixture
def bucket():
    return TokenBucket(fakeredis.FakeAsyncRedis())


def test_key_uses_a_cluster_hash_tag_per_seller_and_region():
    assert KEY == "rl:{A1SELLER:NA}:getOrders"


async def test_burst_is_free_then_reservations_queue_in_arrival_order(bucket):
    for _ in range(5):
        res = await bucket.reserve(KEY, 1.0, 5, 100, now=1000.0)
        assert res.reserved and res.wait == 0
    waits = [(await bucket.reserve(KEY, 1.0, 5, 100, now=1000.0)).wait for _ in range(3)]
    assert waits == pytest.approx([1.0, 2.0, 3.0])  # FIFO: one token per second, in order


async def test_refill_is_continuous_and_capped_at_burst(bucket):
    await bucket.reserve(KEY, 2.0, 4, 100, now=0.0)  # 3 left
    assert (await bucket.reserve(KEY, 2.0, 4, 100, now=0.25)).tokens == pytest.approx(2.5)
    assert (await bucket.reserve(KEY, 2.0, 4, 100, now=100.0)).tokens == pytest.approx(3.0)


async def test_too_long_a_wait_reserves_nothing(bucket):
    await bucket.reserve(KEY, 0.5, 1, 0, now=10.0)
    res = await bucket.reserve(KEY, 0.5, 1, 0.5, now=10.0)
    assert not res.reserved and res.reason == "wait" and res.wait == pytest.approx(2.0)
    assert (await bucket.state(KEY))["tokens"] == pytest.approx(0.0)  # unchanged
    live = bucket_key("A1SELLER", "NA", "live")  # Redis TIME from here on
    await bucket.acquire(live, 0.5, 1, 0.5)
    with pytest.raises(QuotaWaitTooLong) as exc:
        await bucket.acquire(live, 0.5, 1, 0.5)
    assert exc.value.wait == pytest.approx(2.0, abs=0.05)


async def test_server_rate_overrides_the_table(bucket):
    await bucket.reserve(KEY, 0.0167, 1, 1000, now=0.0)
    await bucket.set_rate(KEY, 10.0)
    res = await bucket.reserve(KEY, 0.0167, 1, 1000, now=0.0)
    assert res.wait == pytest.approx(0.1)  # 1/10 s, not 1/0.0167 s


async def test_a_rate_learned_for_an_expired_hash_does_not_keep_it_for_ever(bucket):
    await bucket.set_rate(KEY, 10.0)  # no bucket of the seller is left: the hash is new
    assert (await bucket.state(KEY)) == {}  # a rate alone is no bucket
    assert 3590 <= await bucket._redis.ttl(HASH) <= 3600
    await bucket.reserve(KEY, 0.0167, 1, 1000, now=0.0)  # ...which the rate then paces
    assert (await bucket.reserve(KEY, 0.0167, 1, 1000, now=0.0)).wait == pytest.approx(0.1)


async def test_drain_after_a_429_empties_the_bucket(bucket):
    await bucket.reserve(KEY, 1.0, 10, 10)
    await bucket.drain(KEY)
    res = await bucket.reserve(KEY, 1.0, 10, 10)
    assert res.wait == pytest.approx(1.0, abs=0.05)


async def test_a_drain_at_an_unknown_rate_keeps_the_queue_and_credits_no_refill(bucket):
    for _ in range(3):  # the burst of 1, then two callers queued
        await bucket.reserve(KEY, 2.0, 1, 10)
    await bucket.drain(KEY)  # no rate given, none learned
    assert (await bucket.state(KEY))["tokens"] == pytest.approx(-2.0, abs=0.05)  # not 0
    assert 3590 <= await bucket._redis.ttl(HASH) <= 3660  # unknown refill: kept an hour


async def test_idle_bucket_key_expires(bucket):
    await bucket.reserve(KEY, 2.0, 10, 10, priority=BF)
    assert 60 <= await bucket._redis.ttl(HASH) <= 62  # refills in 0.5 s, then worthless


async def test_a_sellers_hash_lives_as_long_as_its_longest_lived_bucket(bucket):
    slow = bucket_key("A1SELLER", "NA", "searchOrders")
    await bucket.reserve(slow, 0.0056, 20, 10, priority=BF)  # 1 token: 179 s to refill
    await bucket.reserve(KEY, 2.0, 10, 10, priority=BF)  # 0.5 s: would expire in 61 s
    assert 238 <= await bucket._redis.ttl(HASH) <= 240
    assert set(await bucket._redis.hkeys(HASH)) == {b"searchOrders", b"getOrders"}


def test_a_bucket_name_is_its_sellers_hash_and_the_operations_field():
    assert split_name(KEY) == ("rl:{A1SELLER:NA}", "getOrders")
    assert split_name("rl:{web:[::1]:443}:signup") == ("rl:{web:[::1]:443}", "signup")
    for bad in ("rl:{A1SELLER:NA}", "getOrders", "rl:{A1:NA}:"):
        with pytest.raises(ValueError, match="not a bucket name"):
            split_name(bad)


async def test_buckets_of_different_sellers_are_independent(bucket):
    other = bucket_key("A2OTHER", "NA", "getOrders")
    await bucket.reserve(KEY, 1.0, 1, 10, now=0.0)
    assert (await bucket.reserve(other, 1.0, 1, 10, now=0.0)).wait == 0


async def test_backfill_alone_gets_the_whole_quota(bucket):
    grants = [await bucket.reserve(KEY, 1.0, 1, 1000, BF, now=0.0) for _ in range(10)]
    assert all(g.reserved for g in grants)
    assert grants[-1].wait == pytest.approx(9.0)  # 10 calls in 9 s: full rate


@pytest.mark.parametrize("share", [0.25, 0.5])
async def test_backfill_gets_at_most_its_share_while_incremental_is_active(share):
    """One incremental and three backfill callers, each asking again once its token is
    spent, contend for 200 s at 1 token/s. Unchecked, FIFO would give backfill 3/4."""
    bucket = TokenBucket(fakeredis.FakeAsyncRedis(), share=share)
    rate, horizon = 1.0, 200.0
    callers = [INC, BF, BF, BF]
    next_at = [0.0] * len(callers)
    granted = {INC: 0, BF: 0}
    while min(next_at) < horizon:
        i = min(range(len(callers)), key=lambda k: (next_at[k], k))
        t = next_at[i]
        res = await bucket.reserve(KEY, rate, 2, 1000.0, callers[i], now=t)
        if res.reserved:
            granted[callers[i]] += 1
            next_at[i] = t + res.wait + 1e-3  # uses the token, then asks again
        else:
            next_at[i] = t + res.wait  # held back for its share: ask again then
    assert granted[BF] <= share * rate * horizon + 3
    assert granted[BF] >= 0.8 * share * rate * horizon  # a share, not starvation
    assert granted[INC] + granted[BF] >= rate * horizon - 2  # the split wastes nothing


async def test_backfill_share_hint_is_when_its_side_bucket_refills(bucket):
    await bucket.reserve(KEY, 1.0, 10, 100, INC, now=0.0)  # incremental active
    assert (await bucket.reserve(KEY, 1.0, 10, 100, BF, now=0.0)).reserved  # first is free
    held = await bucket.reserve(KEY, 1.0, 10, 100, BF, now=0.5)
    assert not held.reserved and held.reason == "share"
    assert held.wait == pytest.approx(1.5)  # side bucket refills at 0.5 token/s


async def test_acquire_sleeps_out_a_share_hold(bucket):
    fast = 50.0  # tokens/s so the test takes ~0.04 s
    await bucket.acquire(KEY, fast, 5, 1.0, INC)
    await bucket.acquire(KEY, fast, 5, 1.0, BF)
    res = await bucket.acquire(KEY, fast, 5, 1.0, BF)
    assert res.reserved and res.wait > 0


# --- a bucket missing after a Redis restart (fakeredis has no INFO: ``server`` stands in) ---


def _after(first: str) -> TokenBucket:
    """A bucket of a process whose first Redis server was ``first``."""
    return TokenBucket(fakeredis.FakeAsyncRedis(), memory=ServerMemory(first=first))


async def test_a_missing_bucket_on_the_first_server_expired_full():
    res = await _after("r1").reserve(KEY, 0.5, 10, 100, now=0.0, server=("r1", 4))
    assert res.tokens == pytest.approx(9.0)


@pytest.mark.parametrize(("uptime", "tokens_left"), [
    (4, 0.0),  # 4 s x 0.5/s refilled since the restart: 2 tokens, one spent, one owed
    (0, -1.0),  # just started: still one call now, to learn the real rate from its answer
    (19, 7.5),  # 9.5 of the burst of 10 could have refilled
    (20, 9.0),  # burst/rate seconds old: Amazon's bucket is full again, whatever we did
])
async def test_a_missing_bucket_on_a_young_restarted_server_has_what_could_refill(
        uptime, tokens_left):
    """...less the token Amazon holds beyond our usable burst, which calls we no longer
    know about (reserved on the lost server) or this first call may have spent."""
    res = await _after("r1").reserve(KEY, 0.5, 10, 100, now=0.0, server=("r2", uptime))
    assert res.reserved and res.wait == 0 and res.tokens == pytest.approx(tokens_left)


async def test_a_bucket_without_a_spare_token_at_amazon_gets_no_free_call_after_a_restart():
    """getCompetitiveSummary: burst 1, so no token in reserve. A free call on a young
    restarted server could be Amazon's second within its 30 s (the chaos suite's one 429)."""
    res = await _after("r1").reserve(KEY, 0.033, 1, 100, spare=False, now=0.0,
                                     server=("r2", 4))
    assert res.reserved and res.wait == pytest.approx((1 - 4 * 0.033) / 0.033)
    old = await _after("r1").reserve(bucket_key("A2", "NA", "x"), 0.033, 1, 100, now=0.0,
                                     server=("r2", 4))
    assert old.wait == 0  # with a spare token at Amazon, one call at once, owed after


async def test_restarts_in_a_row_never_let_calls_through_faster_than_the_rate():
    """One caller, paced at 1 token/s (its usable burst of 1 spent), through a restart every
    0.7 s: before the debt, each new server's free call came on top of the last one."""
    memory, rate, calls, t = ServerMemory(first="r0"), 1.0, [], 0.0
    for server in range(1, 8):
        bucket = TokenBucket(fakeredis.FakeAsyncRedis(), memory=memory)  # empty, restarted
        started = t
        while t < started + 0.7:
            res = await bucket.reserve(KEY, rate, 1, 100, now=t, server=(f"r{server}", 0))
            t += res.wait
            calls.append(t)
            t += 0.01  # the answer comes back, the next page is asked for
    # Amazon's bucket: burst 2 (ours + the reserve), 1 token/s, full at the first call
    assert all(j - i + 1 <= 2 + rate * (calls[j] - calls[i]) + 1e-6
               for i in range(len(calls)) for j in range(i, len(calls)))


async def test_an_existing_bucket_on_a_restarted_server_is_left_as_it_is():
    bucket = _after("r1")
    await bucket.reserve(KEY, 0.5, 10, 100, now=0.0, server=("r1", 4))  # 9 left
    res = await bucket.reserve(KEY, 0.5, 10, 100, now=0.0, server=("r2", 4))
    assert res.tokens == pytest.approx(8.0)


async def test_a_process_that_never_learned_its_server_creates_full_buckets():
    res = await _after("").reserve(KEY, 0.5, 10, 100, now=0.0, server=("r2", 0))
    assert res.tokens == pytest.approx(9.0)  # INFO refused (as on fakeredis): as before


async def test_the_first_bucket_on_a_restarted_server_marks_it_for_later_processes():
    bucket = _after("r1")
    await bucket.reserve(KEY, 0.5, 10, 100, now=0.0, server=("r2", 4))
    assert await bucket._redis.get(MARK_KEY) == b"r2"
    assert MARK_SECONDS - 2 <= await bucket._redis.ttl(MARK_KEY) <= MARK_SECONDS


def test_a_process_that_starts_on_a_marked_server_treats_it_as_restarted():
    memory = ServerMemory()
    memory.learned({"run_id": "r2"}, b"r2")
    assert memory.first != "r2"  # so a young r2's missing buckets start possibly emptied
    fresh = ServerMemory()
    fresh.learned({"run_id": "r3"}, b"r2")  # an older restart's mark: r3 is its first
    assert fresh.first == "r3"


def test_a_restart_is_marked_once_per_process():
    memory = ServerMemory(first="r1")
    assert [memory.restart_to_mark(r) for r in ("r1", "", "r2", "r2", "r3")] == [
        False, False, True, False, True]


def test_client_keeps_one_token_of_burst_in_reserve():
    assert [usable_burst(b) for b in (30, 2, 1)] == [29, 1, 1]


schedules = st.lists(
    st.tuples(st.floats(min_value=0, max_value=3, allow_nan=False),
              st.sampled_from([INC, BF])),
    min_size=1, max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=schedules, rate=st.sampled_from([0.5, 1.0, 4.0]),
       burst=st.integers(min_value=1, max_value=6))
def test_grants_never_exceed_burst_plus_rate_times_interval(schedule, rate, burst):
    """Whatever the arrival pattern, tokens used in any interval <= burst + rate x interval."""

    async def run() -> list[float]:
        b = TokenBucket(fakeredis.FakeAsyncRedis())
        t, used_at = 0.0, []
        for gap, prio in schedule:
            t += gap
            res = await b.reserve(KEY, rate, burst, 5.0, prio, now=t)
            if res.reserved:
                used_at.append(t + res.wait)  # the moment the token is really spent
        return sorted(used_at)

    used = asyncio.run(run())
    for i in range(len(used)):
        for j in range(i, len(used)):
            assert j - i + 1 <= burst + rate * (used[j] - used[i]) + 1e-6


# --- fill_ratio: the share of a bucket in use, as `status` shows it ---


def test_fill_of_a_missing_or_fresh_bucket_is_zero():
    assert fill_ratio({}, now=100.0, default_rate=1.0, burst=10) == 0.0
    assert fill_ratio({"rate": "2"}, now=100.0, default_rate=1.0, burst=10) == 0.0  # no tokens


@pytest.mark.parametrize(("tokens", "ts", "now", "rate", "expected"), [
    (10, 0, 0, 1.0, 0.0),  # full
    (5, 0, 0, 1.0, 0.5),  # half the burst in use
    (0, 0, 0, 1.0, 1.0),  # empty
    (0, 0, 4, 1.0, 0.6),  # refilled 4 of 10 since ts
    (2, 0, 100, 1.0, 0.0),  # refill is capped at burst, never below 0 %
    (-5, 0, 0, 1.0, 1.5),  # 5 callers queued: half a burst beyond empty
    (-5, 0, 2.5, 2.0, 1.0),  # their reservations paid off at 2 tokens/s
    (5, 10, 9, 1.0, 0.5),  # a clock behind ts refills nothing
])
def test_fill_is_one_minus_refilled_tokens_over_burst(tokens, ts, now, rate, expected):
    state = {"tokens": str(tokens), "ts": str(ts), "rate": str(rate)}
    assert fill_ratio(state, now=now, default_rate=99.0, burst=10) == pytest.approx(expected)


def test_fill_uses_the_default_rate_unless_the_bucket_learned_one():
    state = {"tokens": "0", "ts": "0"}
    assert fill_ratio(state, now=1, default_rate=2.0, burst=4) == pytest.approx(0.5)
    learned = {b"tokens": b"0", b"ts": b"0", b"rate": b"1"}  # HGETALL speaks bytes
    assert fill_ratio(learned, now=1, default_rate=2.0, burst=4) == pytest.approx(0.75)


def test_fill_rejects_a_burst_that_is_not_positive():
    with pytest.raises(ValueError, match="burst"):
        fill_ratio({}, now=0, default_rate=1.0, burst=0)


async def test_fill_reads_what_the_lua_script_writes(bucket):
    for _ in range(3):
        res = await bucket.reserve(KEY, 0.5, 4, 100, now=50.0)
    assert res.tokens == pytest.approx(1.0)
    state = read_state(*await bucket._redis.hmget(HASH, "getOrders", "getOrders:rate"))
    assert fill_ratio(state, now=50.0, default_rate=0.5, burst=4) == pytest.approx(0.75)
    assert fill_ratio(state, now=52.0, default_rate=0.5, burst=4) == pytest.approx(0.5)
    for _ in range(3):  # 2 tokens at t=52, so the third caller waits for quota
        await bucket.reserve(KEY, 0.5, 4, 100, now=52.0)
    state = await bucket.state(KEY)
    assert fill_ratio(state, now=52.0, default_rate=0.5, burst=4) == pytest.approx(1.25)
    await bucket.set_rate(KEY, 0.25)  # a learned rate is read beside the bucket
    state = await bucket.state(KEY)
    assert fill_ratio(state, now=54.0, default_rate=0.5, burst=4) == pytest.approx(1.125)


def test_a_stored_bucket_reads_back_as_numbers_and_garbage_as_missing():
    assert read_state(b"-1.5 1000.25 2.000", b"0.5") == {
        "tokens": -1.5, "ts": 1000.25, "inc_until": 1002.25, "rate": 0.5}
    assert read_state("3 10 0 0.25 -1.500") == {
        "tokens": 3.0, "ts": 10.0, "inc_until": 10.0, "bf_tokens": 0.25, "bf_ts": 8.5}
    for garbage in (None, b"", b"1 2", b"x 2 3", "1 2 three"):
        assert read_state(garbage) == {}


@given(tokens=st.floats(min_value=-50, max_value=10), elapsed=st.floats(0, 1000),
       later=st.floats(0, 1000), rate=st.floats(0.001, 10))
def test_fill_is_never_negative_and_only_falls_as_time_passes(tokens, elapsed, later, rate):
    state = {"tokens": repr(tokens), "ts": "0", "rate": repr(rate)}
    now = fill_ratio(state, now=elapsed, default_rate=1.0, burst=10)
    assert 0.0 <= now <= 6.0
    assert fill_ratio(state, now=elapsed + later, default_rate=1.0, burst=10) <= now + 1e-12

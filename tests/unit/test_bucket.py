from __future__ import annotations

import fakeredis
import pytest

from worker.ratelimit.bucket import QuotaWaitTooLong, TokenBucket, bucket_key

KEY = bucket_key("A1SELLER", "na", "getOrders")


@pytest.fixture
def bucket():
    return TokenBucket(fakeredis.FakeAsyncRedis())


def test_key_uses_a_cluster_hash_tag_per_seller_and_region():
    assert KEY == "rl:{A1SELLER:NA}:getOrders"


async def test_burst_is_free_then_reservations_queue_in_arrival_order(bucket):
    for _ in range(5):
        res = await bucket.reserve(KEY, rate=1.0, burst=5, max_wait=100)
        assert res.reserved and res.wait == pytest.approx(0, abs=0.01)
    waits = [(await bucket.reserve(KEY, rate=1.0, burst=5, max_wait=100)).wait for _ in range(3)]
    assert waits == pytest.approx([1.0, 2.0, 3.0], abs=0.05)  # FIFO, one token per second


async def test_too_long_a_wait_reserves_nothing(bucket):
    await bucket.reserve(KEY, rate=0.5, burst=1, max_wait=0)
    res = await bucket.reserve(KEY, rate=0.5, burst=1, max_wait=0.5)
    assert not res.reserved and res.wait == pytest.approx(2.0, abs=0.05)
    state = await bucket.state(KEY)
    assert state["tokens"] == pytest.approx(0.0, abs=0.05)  # unchanged by the refusal
    with pytest.raises(QuotaWaitTooLong) as exc:
        await bucket.acquire(KEY, rate=0.5, burst=1, max_wait=0.5)
    assert exc.value.wait == pytest.approx(2.0, abs=0.05)


async def test_server_rate_overrides_the_table(bucket):
    await bucket.reserve(KEY, rate=0.0167, burst=1, max_wait=1000)
    await bucket.set_rate(KEY, 10.0)
    res = await bucket.reserve(KEY, rate=0.0167, burst=1, max_wait=1000)
    assert res.wait == pytest.approx(0.1, abs=0.02)  # 1/10 s, not 1/0.0167 s


async def test_drain_after_a_429_empties_the_bucket(bucket):
    await bucket.reserve(KEY, rate=1.0, burst=10, max_wait=10)
    await bucket.drain(KEY)
    res = await bucket.reserve(KEY, rate=1.0, burst=10, max_wait=10)
    assert res.wait == pytest.approx(1.0, abs=0.05)


async def test_idle_bucket_key_expires(bucket):
    await bucket.reserve(KEY, rate=2.0, burst=10, max_wait=10)
    ttl = await bucket._redis.ttl(KEY)
    assert 60 <= ttl <= 62  # refills in 0.5 s, then the key is worthless


async def test_buckets_of_different_sellers_are_independent(bucket):
    other = bucket_key("A2OTHER", "NA", "getOrders")
    await bucket.reserve(KEY, rate=1.0, burst=1, max_wait=10)
    assert (await bucket.reserve(other, rate=1.0, burst=1, max_wait=10)).wait == 0


def test_client_keeps_one_token_of_burst_in_reserve():
    from worker.spapi.client import usable_burst

    assert [usable_burst(b) for b in (30, 2, 1)] == [29, 1, 1]

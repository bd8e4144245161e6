"""Regressions for what the chaos suites (``tests/chaos``) found, one test per finding.

Each test names its finding; ``docs/reliability.md`` tells the story (symptom, cause, fix).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis

from worker.ratelimit.bucket import TokenBucket
from worker.spapi.auth import LwaApp, LwaTokenProvider
from worker.spapi.client import SellerAuth, SpApiClient
from worker.sync.runner import StreamRun
from worker.sync.service import run_stream

from .helpers import KEYRING, mirror, register, table, truth

pytestmark = pytest.mark.integration


def _sync(rt, seller_id):
    return asyncio.run(run_stream(rt, seller_id, "orders"))


def _run(rt):
    (run,) = table(rt, "SELECT status, retries, api_calls, pages FROM sync_runs")
    return run


# -- finding: retries Amazon caused were missing from sync_runs.retries


def test_a_call_retried_after_an_expired_access_token_counts_as_a_retry(start_sim,
                                                                        runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=30, time_scale=1000, seed=41)
    rt = runtime_for(sim)
    (seller_id,) = register(rt, sim).values()
    sim.client.fault("searchOrders", "expired_token")
    assert _sync(rt, seller_id).status == "succeeded"
    run = _run(rt)
    assert (run.status, run.retries) == ("succeeded", 1)


def test_a_window_restarted_for_a_refused_page_token_counts_as_a_retry(start_sim,
                                                                       runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=60, time_scale=1000, seed=42)
    rt = runtime_for(sim, orders_page_size=20, orders_max_window_hours=24 * 90)
    (spid, seller_id), = register(rt, sim).items()
    sim.client.fault("searchOrders", "token_rejected")  # page 2 of the one window
    assert _sync(rt, seller_id).status == "succeeded"
    run = _run(rt)
    assert run.retries == 1
    assert run.api_calls == run.pages + 1  # page 2 refused, the window read again
    assert mirror(rt, seller_id) == truth(sim, spid)


# -- finding: a refused page token in a later window failed the whole run


def test_each_window_may_restart_once_for_a_refused_page_token(start_sim, runtime_for,
                                                               monkeypatch):
    sim = start_sim(sellers=1, orders_per_seller=120, time_scale=1000, seed=43,
                    history_days=20)
    # windows of 12 days over 22: the first sync reads two windows of several pages each
    rt = runtime_for(sim, orders_page_size=10, orders_max_window_hours=24 * 12)
    (spid, seller_id), = register(rt, sim).items()
    original = StreamRun._store_page
    windows_done: list[int] = []

    async def store(self, body, cp):
        after = await original(self, body, cp)
        if after.window_start is None and not windows_done:  # window 1 done: refuse in 2
            windows_done.append(1)
            sim.client.fault("searchOrders", "token_rejected")
        return after

    monkeypatch.setattr(StreamRun, "_store_page", store)
    sim.client.fault("searchOrders", "token_rejected")  # page 2 of window 1
    outcome = _sync(rt, seller_id)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.totals.windows >= 2 and _run(rt).retries == 2
    assert {f["fault"]: f["fired"] for f in sim.client.faults_fired()} == {"token_rejected": 2}
    assert mirror(rt, seller_id) == truth(sim, spid)


def test_a_window_refusing_its_page_token_twice_still_fails_the_run(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=60, time_scale=1000, seed=44)
    rt = runtime_for(sim, orders_page_size=20, orders_max_window_hours=24 * 90)
    (seller_id,) = register(rt, sim).values()
    sim.client.fault("searchOrders", "token_rejected", count=2)
    outcome = _sync(rt, seller_id)
    assert outcome.status == "failed" and "expired" in (outcome.error or "")
    assert table(rt, "SELECT error_type FROM sync_runs") == [("InputError",)]


# -- finding: callers waiting for an LWA refresh burst past the quota once it arrives


class SlowTokens:
    """A token provider whose every caller waits until ``ready`` is set (a slow LWA)."""

    def __init__(self, inner: LwaTokenProvider, ready: asyncio.Event) -> None:
        self.inner, self.ready = inner, ready

    async def access_token(self, seller: str, refresh_token: str) -> str:
        await self.ready.wait()
        return await self.inner.access_token(seller, refresh_token)

    async def invalidate(self, seller: str, token: str) -> None:
        await self.inner.invalidate(seller, token)


def _first_seller(sim: Any) -> tuple[SellerAuth, str, LwaApp]:
    """The simulator's first seller, one of its order ids, and the demo LWA application."""
    world = sim.world()
    seller, app = world["sellers"][0], world["application"]
    auth = SellerAuth(seller["selling_partner_id"], seller["region"], seller["refresh_token"])
    order_id = sim.client.truth(auth.selling_partner_id)["orders"][0]["AmazonOrderId"]
    return auth, order_id, LwaApp(app["client_id"], app["client_secret"],
                                  sim.url + "/auth/o2/token")


def test_callers_waiting_for_a_token_do_not_burst_past_amazons_bucket(start_sim, clean):
    # getOrder: 0.5/s x 20 = 10 calls/s, burst 30: 40 callers need 1 s beyond the burst
    sim = start_sim(sellers=1, orders_per_seller=3, time_scale=20)
    auth, order_id, lwa = _first_seller(sim)

    async def storm() -> list[Any]:
        ready = asyncio.Event()
        async with aiohttp.ClientSession() as session:
            r = aredis.Redis.from_url(clean.redis_url)
            try:
                await TokenBucket(r).set_rate(  # what the first answer would have taught
                    f"rl:{{{auth.selling_partner_id}:{auth.region}}}:getOrder", 10.0)
                clients = [SpApiClient(session, SlowTokens(  # type: ignore[arg-type]
                                           LwaTokenProvider(session, r, lwa, keyring=KEYRING),
                                           ready),
                                       TokenBucket(r), base_url=sim.url, max_inline_wait=30)
                           for _ in range(40)]
                calls = [asyncio.create_task(c.call(auth, "getOrder",
                                                    path_params={"orderId": order_id}))
                         for c in clients]
                await asyncio.sleep(1.5)  # LWA answers late: longer than the queue lasts
                ready.set()
                return await asyncio.gather(*calls)
            finally:
                await r.aclose()

    started = time.monotonic()
    results = asyncio.run(storm())
    assert all(r.status == 200 for r in results)
    (bucket,) = sim.client.stats()["buckets"]
    assert bucket["throttled"] == 0  # before the fix: 10 (every call beyond the burst)
    assert time.monotonic() - started >= 1.5 + 0.9  # the last 10 still paced after the token


def test_a_call_made_while_redis_is_down_waits_for_it_also_for_its_token(start_sim,
                                                                         tmp_path):
    """The token is now fetched before the quota: Redis being down there must be waited
    out as the bucket waits it out."""
    from tests.e2e.procs import OwnRedis, free_port

    sim = start_sim(sellers=1, orders_per_seller=3, time_scale=1000)
    auth, order_id, lwa = _first_seller(sim)
    server = OwnRedis(free_port(), tmp_path)

    async def scenario() -> int:
        r = aredis.Redis.from_url(server.url)
        async with aiohttp.ClientSession() as session:
            bucket = TokenBucket(r)
            tokens = LwaTokenProvider(session, r, lwa, keyring=KEYRING)
            client = SpApiClient(session, tokens, bucket, base_url=sim.url)
            call = asyncio.create_task(client.call(auth, "getOrder",
                                                   path_params={"orderId": order_id}))
            await asyncio.sleep(1.0)  # the call finds Redis down for its token: it waits
            server.start()
            response = await call
            await r.aclose()
            return response.status

    try:
        assert asyncio.run(scenario()) == 200
    finally:
        server.stop()


# -- finding: a 429's drain did not drain: it forgot the callers already queued, gave back
#    what had refilled since the last reservation, and could expire and come back full


def test_a_drain_keeps_queued_reservations(clean):
    async def scenario() -> float:
        r = aredis.Redis.from_url(clean.redis_url)
        try:
            bucket, key = TokenBucket(r), "rl:{A1:NA}:getOrder"
            for _ in range(3):  # one from the burst of 1, then two queued: 0.5 s and 1.0 s
                await bucket.reserve(key, 2.0, 1, 10.0)
            await bucket.drain(key, 1, 2.0)  # a 429 for the first: the queue stays as it was
            return (await bucket.reserve(key, 2.0, 1, 10.0)).wait
        finally:
            await r.aclose()

    assert asyncio.run(scenario()) == pytest.approx(1.5, abs=0.1)  # before the fix: 0.5


def test_a_drain_after_a_queued_call_leaves_no_token(clean):
    async def scenario() -> float:
        r = aredis.Redis.from_url(clean.redis_url)
        try:
            bucket, key = TokenBucket(r), "rl:{A1:NA}:getOrder"
            await bucket.reserve(key, 2.0, 1, 10.0)  # the burst
            queued = await bucket.reserve(key, 2.0, 1, 10.0)  # its turn comes in 0.5 s
            await asyncio.sleep(queued.wait + 0.5)  # sent on time; a 429 comes back late
            await bucket.drain(key, 1, 2.0)  # Amazon's bucket is empty now: so is ours
            return (await bucket.reserve(key, 2.0, 1, 10.0)).wait
        finally:
            await r.aclose()

    assert asyncio.run(scenario()) == pytest.approx(0.5, abs=0.1)  # before the fix: 0


def test_a_drained_bucket_lives_until_it_has_refilled(clean):
    async def scenario() -> tuple[int, float]:
        r = aredis.Redis.from_url(clean.redis_url)
        try:
            bucket, key = TokenBucket(r), "rl:{A1:NA}:searchOrders"
            await bucket.reserve(key, 0.0056, 19, 5.0)  # a full bucket: kept ~4 minutes
            await bucket.drain(key, 19, 0.0056)  # empty: a full refill takes 19 / 0.0056 s
            return (int(await r.ttl("rl:{A1:NA}")),  # the seller's hash holds the bucket
                    (await bucket.reserve(key, 0.0056, 19, 500.0)).wait)
        finally:
            await r.aclose()

    ttl, wait = asyncio.run(scenario())
    assert ttl >= 19 / 0.0056  # before the fix: ~240 s, then the bucket came back full
    assert wait == pytest.approx(1 / 0.0056, rel=0.01)

"""LWA token sharing across callers, against real Redis and the simulator's LWA endpoint."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import redis as sync_redis

from tests.integration.helpers import KEYRING, lwa_attempts_bound
from worker.crypto import new_key_spec, parse_keys
from worker.redis_clients import async_client, sync_client
from worker.spapi.auth import LwaApp, LwaTokenProvider, cache_keys
from worker.spapi.errors import InvalidGrantError, ServerError

pytestmark = pytest.mark.integration


def _app(sim) -> LwaApp:
    world = sim.world()["application"]
    return LwaApp(world["client_id"], world["client_secret"], sim.url + "/auth/o2/token")


async def _gather_tokens(sim, redis_url, spid, refresh, *, n, clock=time.time):
    async with aiohttp.ClientSession() as session:
        r = async_client(redis_url)
        try:
            # one provider per caller: like 50 processes, they share nothing but Redis
            providers = [LwaTokenProvider(session, r, _app(sim), keyring=KEYRING,
                                          clock=clock) for _ in range(n)]
            return await asyncio.gather(*(p.access_token(spid, refresh) for p in providers),
                                        return_exceptions=True)
        finally:
            await r.aclose()


@pytest.fixture(params=["redis", "cluster"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """The test once on one Redis and once on a Redis Cluster of its own."""
    if request.param == "cluster":
        return str(request.getfixturevalue("redis_cluster").url)
    return str(request.getfixturevalue("clean").redis_url)


def test_fifty_concurrent_callers_cause_exactly_one_refresh(start_sim, redis_url):
    sim = start_sim(sellers=1, orders_per_seller=1)
    seller = sim.world()["sellers"][0]
    tokens = asyncio.run(_gather_tokens(sim, redis_url, seller["selling_partner_id"],
                                        seller["refresh_token"], n=50))
    assert len(set(tokens)) == 1 and tokens[0].startswith("Atza|")
    assert sim.client.stats()["lwa"]["refresh_grants"] == 1
    with sync_client(redis_url) as r:  # shared as ciphertext
        cached = r.get(cache_keys(seller["selling_partner_id"])[0])
    assert cached and tokens[0].encode() not in cached

    # 56 minutes later the shared token is inside the 5-minute margin: again one refresh
    later = lambda: time.time() + 56 * 60  # noqa: E731
    again = asyncio.run(_gather_tokens(sim, redis_url, seller["selling_partner_id"],
                                       seller["refresh_token"], n=50, clock=later))
    assert len(set(again)) == 1 and again[0] != tokens[0]
    assert sim.client.stats()["lwa"]["refresh_grants"] == 2


def test_invalid_grant_reaches_every_waiting_caller_without_more_refreshes(start_sim, clean):
    sim = start_sim(sellers=1, orders_per_seller=1)
    seller = sim.world()["sellers"][0]
    sim.client.revoke(seller["selling_partner_id"])
    results = asyncio.run(_gather_tokens(sim, clean.redis_url, seller["selling_partner_id"],
                                         seller["refresh_token"], n=20))
    assert all(isinstance(r, InvalidGrantError) for r in results)
    assert all("Atzr|" not in str(r) for r in results)
    assert sim.client.stats()["lwa"]["errors"] == 1


# -- the cached access token is encrypted with the token keys (SPSYNC_TOKEN_KEYS)

async def _one_token(sim, redis_url, seller, keyring) -> str:
    async with aiohttp.ClientSession() as session:
        r = async_client(redis_url)
        try:
            provider = LwaTokenProvider(session, r, _app(sim), keyring=keyring)
            return await provider.access_token(seller["selling_partner_id"],
                                               seller["refresh_token"])
        finally:
            await r.aclose()


def _cached_value(redis_url: str, spid: str) -> bytes:
    value = sync_redis.Redis.from_url(redis_url).get(f"lwa:tok:{spid}")
    assert value, "the token is cached"
    return value


def test_the_cached_token_is_ciphertext_that_processes_with_the_key_share(start_sim, clean):
    sim = start_sim(sellers=1, orders_per_seller=1)
    seller = sim.world()["sellers"][0]
    old = new_key_spec("old")
    token = asyncio.run(_one_token(sim, clean.redis_url, seller, parse_keys(old)))
    stored = _cached_value(clean.redis_url, seller["selling_partner_id"])
    assert token.encode() not in stored and b"Atza|" not in stored
    assert stored.startswith(b"old:")  # the key id travels with the value

    # a process listing a newer key first and the old one still reads it: no refresh
    rotated = parse_keys(f"{new_key_spec('new')},{old}")
    assert asyncio.run(_one_token(sim, clean.redis_url, seller, rotated)) == token
    assert sim.client.stats()["lwa"]["refresh_grants"] == 1


def test_a_token_this_process_cannot_open_is_a_cache_miss(start_sim, clean):
    sim = start_sim(sellers=1, orders_per_seller=1)
    seller = sim.world()["sellers"][0]
    spid = seller["selling_partner_id"]
    r = sync_redis.Redis.from_url(clean.redis_url)
    first = asyncio.run(_one_token(sim, clean.redis_url, seller, parse_keys(new_key_spec("a"))))

    # encrypted under a key this process does not list (e.g. the old key left the config)
    other = parse_keys(new_key_spec("b"))
    second = asyncio.run(_one_token(sim, clean.redis_url, seller, other))
    assert second != first and sim.client.stats()["lwa"]["refresh_grants"] == 2
    assert _cached_value(clean.redis_url, spid).startswith(b"b:")  # replaced, now readable

    # tampered with (one bit of the ciphertext), or a plaintext entry from an older version
    value = bytearray(_cached_value(clean.redis_url, spid))
    value[-1] ^= 1
    for planted in (bytes(value), b'{"access_token": "Atza|planted", "expires_at": 9e9}'):
        r.set(f"lwa:tok:{spid}", planted, ex=3600)
        got = asyncio.run(_one_token(sim, clean.redis_url, seller, other))
        assert got not in (second, "Atza|planted")  # never trusted: refreshed instead
    assert sim.client.stats()["lwa"]["refresh_grants"] == 4


# -- an LWA outage: one shared cool-down per seller, not one retry loop per caller

COOL_FIRST, COOL_MAX = 0.2, 1.0  # seconds: the provider's cool-down knobs in these tests
OUTAGE = 3.0


def _outage_attempts(sim) -> int:
    return sum(f["fired"] for f in sim.client.faults_fired() if f["fault"] == "lwa_outage")


async def _callers_through_an_outage(sim, redis_url, seller, *, n, clock=time.time):
    """``n`` callers, each with its own provider (like ``n`` processes), each retrying a
    failed token request after 20 ms, as a client's backoff would, for up to 20 s."""
    async with aiohttp.ClientSession() as session:
        r = async_client(redis_url)

        async def caller() -> str:
            provider = LwaTokenProvider(session, r, _app(sim), keyring=KEYRING, clock=clock,
                                        cooldown_first=COOL_FIRST, cooldown_max=COOL_MAX)
            deadline = time.monotonic() + 20
            while True:
                try:
                    return await provider.access_token(seller["selling_partner_id"],
                                                       seller["refresh_token"])
                except ServerError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.02)

        try:
            return await asyncio.gather(*(caller() for _ in range(n)))
        finally:
            await r.aclose()


def test_an_lwa_outage_costs_a_few_attempts_per_seller_not_one_per_caller(start_sim, clean):
    sim = start_sim(sellers=1, orders_per_seller=1)
    seller = sim.world()["sellers"][0]
    sim.client.fault(None, "lwa_outage", duration=OUTAGE)

    tokens = asyncio.run(_callers_through_an_outage(sim, clean.redis_url, seller, n=20))

    attempts = _outage_attempts(sim)
    print(f"\nLWA attempts during a {OUTAGE:g} s outage, 20 callers: {attempts}")
    assert len(set(tokens)) == 1  # every caller got the one token refreshed after the outage
    assert sim.client.stats()["lwa"]["refresh_grants"] == 1
    assert 2 <= attempts <= lwa_attempts_bound(OUTAGE, COOL_FIRST, COOL_MAX)  # 5; before: 700+


def test_while_lwa_cools_down_a_token_with_time_left_is_still_used(start_sim, clean):
    sim = start_sim(sellers=1, orders_per_seller=1)
    seller = sim.world()["sellers"][0]
    (first,) = asyncio.run(_callers_through_an_outage(sim, clean.redis_url, seller, n=1))
    sim.client.fault(None, "lwa_outage", duration=10)

    # 56 minutes later the token is due for its early refresh (4 minutes before it expires),
    # which fails: every caller keeps the token it has instead of waiting for LWA
    later = lambda: time.time() + 56 * 60  # noqa: E731
    tokens = asyncio.run(_callers_through_an_outage(sim, clean.redis_url, seller, n=20,
                                                    clock=later))

    assert set(tokens) == {first}
    assert 1 <= _outage_attempts(sim) <= lwa_attempts_bound(1.0, COOL_FIRST, COOL_MAX)

"""LWA token sharing across callers, against real Redis and the simulator's LWA endpoint."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import redis as sync_redis
import redis.asyncio as aredis

from tests.integration.helpers import KEYRING
from worker.crypto import new_key_spec, parse_keys
from worker.spapi.auth import LwaApp, LwaTokenProvider
from worker.spapi.errors import InvalidGrantError

pytestmark = pytest.mark.integration


def _app(sim) -> LwaApp:
    world = sim.world()["application"]
    return LwaApp(world["client_id"], world["client_secret"], sim.url + "/auth/o2/token")


async def _gather_tokens(sim, redis_url, spid, refresh, *, n, clock=time.time):
    async with aiohttp.ClientSession() as session:
        r = aredis.Redis.from_url(redis_url)
        try:
            # one provider per caller: like 50 processes, they share nothing but Redis
            providers = [LwaTokenProvider(session, r, _app(sim), keyring=KEYRING,
                                          clock=clock) for _ in range(n)]
            return await asyncio.gather(*(p.access_token(spid, refresh) for p in providers),
                                        return_exceptions=True)
        finally:
            await r.aclose()


def test_fifty_concurrent_callers_cause_exactly_one_refresh(start_sim, clean):
    sim = start_sim(sellers=1, orders_per_seller=1)
    seller = sim.world()["sellers"][0]
    tokens = asyncio.run(_gather_tokens(sim, clean.redis_url, seller["selling_partner_id"],
                                        seller["refresh_token"], n=50))
    assert len(set(tokens)) == 1 and tokens[0].startswith("Atza|")
    assert sim.client.stats()["lwa"]["refresh_grants"] == 1

    # 56 minutes later the shared token is inside the 5-minute margin: again one refresh
    later = lambda: time.time() + 56 * 60  # noqa: E731
    again = asyncio.run(_gather_tokens(sim, clean.redis_url, seller["selling_partner_id"],
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
        r = aredis.Redis.from_url(redis_url)
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

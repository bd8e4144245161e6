"""LWA token sharing across callers, against real Redis and the simulator's LWA endpoint."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import redis.asyncio as aredis

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
            providers = [LwaTokenProvider(session, r, _app(sim), clock=clock) for _ in range(n)]
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

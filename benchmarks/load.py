"""Our side of the quota load: getOrders for sellers as fast as their shared buckets allow.

Used by ``benchmarks/quota.py`` and the quota integration tests (importable by spawn).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import redis.asyncio as aredis

from worker.ratelimit.backoff import Backoff
from worker.ratelimit.bucket import TokenBucket
from worker.spapi.auth import LwaApp, LwaTokenProvider
from worker.spapi.client import SellerAuth, SpApiClient


def query(marketplace_ids: list[str]) -> dict[str, Any]:
    after = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"MarketplaceIds": marketplace_ids, "LastUpdatedAfter": after,
            "MaxResultsPerPage": 100}


async def pull_sellers(sim_url: str, redis_url: str, app: dict[str, str],
                       sellers: list[dict[str, Any]], seconds: float, *,
                       max_retries: int = 5) -> dict[str, int]:
    """One process's load: a task per seller, all sharing one client, for ``seconds``."""
    async with aiohttp.ClientSession() as session:
        r = aredis.Redis.from_url(redis_url)
        lwa = LwaApp(app["client_id"], app["client_secret"], sim_url + "/auth/o2/token")
        client = SpApiClient(session, LwaTokenProvider(session, r, lwa), TokenBucket(r),
                             base_url=sim_url, max_inline_wait=60,
                             backoff=Backoff(0.05, 1.0, max_retries))
        deadline = time.monotonic() + seconds

        async def loop(seller: dict[str, Any]) -> None:
            auth = SellerAuth(seller["selling_partner_id"], seller["region"],
                              seller["refresh_token"])
            while time.monotonic() < deadline:
                await client.call(auth, "getOrders", query=query(seller["marketplace_ids"]))

        try:
            await asyncio.gather(*(loop(s) for s in sellers))
        finally:
            await r.aclose()
    return {"calls": client.stats.calls, "throttled": client.stats.throttled}


async def pull(sim_url: str, redis_url: str, app: dict[str, str], seller: dict[str, Any],
               seconds: float, *, max_retries: int = 5) -> dict[str, int]:
    return await pull_sellers(sim_url, redis_url, app, [seller], seconds,
                              max_retries=max_retries)


def pull_in_process(
    args: tuple[str, str, dict[str, str], list[dict[str, Any]], float],
) -> dict[str, int]:
    return asyncio.run(pull_sellers(*args))

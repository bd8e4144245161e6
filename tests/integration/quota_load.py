"""A load generator run in separate processes by the quota tests (importable by spawn)."""

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


async def pull(sim_url: str, redis_url: str, app: dict[str, str], seller: dict[str, Any],
               seconds: float, *, max_retries: int = 5) -> dict[str, int]:
    """Call getOrders for ``seller`` as fast as its shared bucket allows, for ``seconds``."""
    async with aiohttp.ClientSession() as session:
        r = aredis.Redis.from_url(redis_url)
        lwa = LwaApp(app["client_id"], app["client_secret"], sim_url + "/auth/o2/token")
        client = SpApiClient(session, LwaTokenProvider(session, r, lwa), TokenBucket(r),
                             base_url=sim_url, max_inline_wait=60,
                             backoff=Backoff(0.05, 1.0, max_retries))
        auth = SellerAuth(seller["selling_partner_id"], seller["region"],
                          seller["refresh_token"])
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                await client.call(auth, "getOrders", query=query(seller["marketplace_ids"]))
        finally:
            await r.aclose()
    return {"calls": client.stats.calls, "throttled": client.stats.throttled}


def pull_in_process(args: tuple[str, str, dict[str, str], dict[str, Any], float]) -> dict[str, int]:
    return asyncio.run(pull(*args))

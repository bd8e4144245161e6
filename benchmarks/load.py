"""Our side of the quota load: getOrders for sellers as fast as their shared buckets allow.

Used by ``benchmarks/quota.py`` and the quota integration tests (importable by spawn).
One process = one ``SpApiClient`` (one aiohttp session, one Redis connection pool) and one
asyncio task per seller, each calling getOrders back to back until the deadline. Every
process shares each seller's bucket in Redis, so the bucket alone keeps them in the quota.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from worker.crypto import Keyring, parse_keys
from worker.ratelimit.backoff import Backoff
from worker.ratelimit.bucket import TokenBucket
from worker.redis_clients import async_client
from worker.spapi.auth import LwaApp, LwaTokenProvider
from worker.spapi.client import SellerAuth, SpApiClient
from worker.spapi.errors import SpApiError

# (sim_url, redis_url, application, sellers); the deadline comes from benchmarks.phases
Job = tuple[str, str, dict[str, str], list[dict[str, Any]]]


def query(marketplace_ids: list[str]) -> dict[str, Any]:
    after = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"MarketplaceIds": marketplace_ids, "LastUpdatedAfter": after,
            "MaxResultsPerPage": 100}


def shared_keyring(app: dict[str, str]) -> Keyring:
    """One token key for every load process (derived from the simulated application's
    secret), so each reads the access tokens the others cached."""
    digest = hashlib.sha256(b"spsync-load:" + app["client_secret"].encode()).digest()
    return parse_keys(f"load:{base64.b64encode(digest).decode()}")


def _client(session: aiohttp.ClientSession, r: Any, sim_url: str, app: dict[str, str],
            max_retries: int, max_inline_wait: float) -> SpApiClient:
    lwa = LwaApp(app["client_id"], app["client_secret"], sim_url + "/auth/o2/token")
    tokens = LwaTokenProvider(session, r, lwa, keyring=shared_keyring(app))
    return SpApiClient(session, tokens, TokenBucket(r),
                       base_url=sim_url, max_inline_wait=max_inline_wait,
                       backoff=Backoff(0.05, 1.0, max_retries))


def _auth(seller: dict[str, Any]) -> SellerAuth:
    return SellerAuth(seller["selling_partner_id"], seller["region"], seller["refresh_token"])


async def pull_sellers(sim_url: str, redis_url: str, app: dict[str, str],
                       sellers: list[dict[str, Any]], seconds: float, *,
                       max_retries: int = 5) -> dict[str, int]:
    """One process's load: a task per seller, all sharing one client, for ``seconds`` (each
    seller's first call is made however short that is, so a busy machine cannot skip it).

    Errors propagate (the tests want to see them); the benchmark uses :func:`pull_until`.
    """
    async with aiohttp.ClientSession() as session:
        r = async_client(redis_url)  # one Redis or a cluster
        client = _client(session, r, sim_url, app, max_retries, 60.0)
        deadline = time.monotonic() + seconds

        async def loop(seller: dict[str, Any]) -> None:
            auth = _auth(seller)
            while True:
                await client.call(auth, "getOrders", query=query(seller["marketplace_ids"]))
                if time.monotonic() >= deadline:
                    break

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


async def pull_until(job: Job, deadline: float, *, max_inline_wait: float = 30.0,
                     max_retries: int = 5) -> dict[str, int]:
    """Like :func:`pull_sellers` until a ``time.monotonic()`` deadline; an error that
    escapes the client is counted (by type) and the seller's loop goes on."""
    sim_url, redis_url, app, sellers = job
    errors: dict[str, int] = {}
    async with aiohttp.ClientSession() as session:
        r = async_client(redis_url)  # one Redis or a cluster
        client = _client(session, r, sim_url, app, max_retries, max_inline_wait)

        async def loop(seller: dict[str, Any]) -> None:
            auth = _auth(seller)
            while time.monotonic() < deadline:
                try:
                    await client.call(auth, "getOrders",
                                      query=query(seller["marketplace_ids"]))
                except SpApiError as exc:  # QuotaWaitTooLong included
                    name = f"errors_{type(exc).__name__}"
                    errors[name] = errors.get(name, 0) + 1

        try:
            await asyncio.gather(*(loop(s) for s in sellers))
        finally:
            await r.aclose()
    stats = client.stats
    return {"calls": stats.calls, "throttled": stats.throttled, "retries": stats.retries,
            "waited_ms": round(stats.waited_seconds * 1000), **errors}


def pull_until_in_process(job: Job, deadline: float) -> dict[str, int]:
    """Entry point for :func:`benchmarks.phases.run_phase` (a spawned process)."""
    return asyncio.run(pull_until(job, deadline))

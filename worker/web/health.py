"""``/healthz``: can this deployment work right now? Database, Redis, broker, clock.

Each check has its own short timeout, so a hung service makes the probe fail, not hang.
The clock check reads what every process recorded from LWA / SP-API ``Date`` headers
(``worker.spapi.clock``); a process that never called Amazon reports nothing, which is fine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis
from sqlalchemy import Engine, text

from worker.redis_clients import async_cluster_state, client_is_cluster
from worker.spapi.clock import MAX_SKEW_SECONDS, REDIS_KEY, worst_recent

CHECK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


async def run_checks(engine: Engine, redis: Any, broker_url: str,
                     redis_url: str) -> dict[str, Check]:
    """Every check, concurrently; the names are the ``check`` label of the health metric."""
    names = ("database", "redis", "broker", "clock")
    probes: list[Callable[[], Awaitable[str]]] = [
        lambda: asyncio.to_thread(_database, engine),
        lambda: _redis(redis),
        lambda: _broker(broker_url, redis_url, redis),
        lambda: _clock(redis),
    ]
    results = await asyncio.gather(*(_timed(p) for p in probes))
    return dict(zip(names, results, strict=True))


async def _timed(probe: Callable[[], Awaitable[str]]) -> Check:
    try:
        return Check(True, await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS))
    except TimeoutError:
        return Check(False, f"no answer within {CHECK_TIMEOUT_SECONDS:.0f}s")
    except Exception as exc:  # any failure is the answer; its type says enough, no secrets
        return Check(False, f"{type(exc).__name__}: {_first_line(exc)}")


def _first_line(exc: Exception) -> str:
    text_ = str(exc).splitlines()[0] if str(exc) else ""
    return text_[:200]


def _database(engine: Engine) -> str:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return "reachable"


async def _redis(redis: Any) -> str:
    await redis.ping()
    if client_is_cluster(redis):  # "cluster ok: 3 masters, 3 replicas, 16384/16384 slots ok"
        return "cluster " + await async_cluster_state(redis)
    return "reachable"


async def _broker(broker_url: str, redis_url: str, redis: Any) -> str:
    if broker_url == redis_url:
        await redis.ping()
        return "reachable (same Redis)"
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        client = aredis.Redis.from_url(broker_url)
        try:
            await client.ping()
        finally:
            await client.aclose()
        return "reachable"
    return await asyncio.to_thread(_kombu_ping, broker_url)


def _kombu_ping(url: str) -> str:
    from kombu.connection import Connection

    with Connection(url, connect_timeout=CHECK_TIMEOUT_SECONDS) as conn:  # type: ignore[no-untyped-call]
        conn.ensure_connection(max_retries=1)
    return "reachable"


async def _clock(redis: Any) -> str:
    worst = worst_recent(await redis.hgetall(REDIS_KEY), time.time())
    if worst is None:
        return "no recent measurement"
    skew, who = worst
    if abs(skew) > MAX_SKEW_SECONDS:
        raise ClockSkewError(f"{who} is {skew:+.0f}s off Amazon's clock "
                             f"(limit {MAX_SKEW_SECONDS:.0f}s)")
    return f"worst skew {skew:+.1f}s ({who})"


class ClockSkewError(Exception):
    pass

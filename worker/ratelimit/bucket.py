"""Distributed token bucket shared by every spsync process (one Lua script in Redis).

Keys are ``rl:{<seller>:<region>}:<operation>``; the ``{...}`` hash tag keeps all of a seller's
buckets on one Redis Cluster shard. Time comes from Redis ``TIME``, never from a caller's clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from importlib import resources
from typing import Any

_SCRIPT = resources.files("worker.ratelimit").joinpath("bucket.lua").read_text(encoding="utf-8")


def bucket_key(seller: str, region: str, operation: str) -> str:
    return f"rl:{{{seller}:{region.upper()}}}:{operation}"


@dataclass(frozen=True)
class Reservation:
    reserved: bool
    wait: float  # seconds until the reserved token is ours (or would be, if not reserved)


class QuotaWaitTooLong(Exception):
    """Taking a token now would block longer than the caller allows; retry after ``wait``."""

    def __init__(self, key: str, wait: float) -> None:
        super().__init__(f"quota for {key} frees up in {wait:.1f}s")
        self.key = key
        self.wait = wait


class TokenBucket:
    """Reserve tokens from Redis; ``redis`` is a ``redis.asyncio.Redis``."""

    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._script = redis.register_script(_SCRIPT)

    async def reserve(self, key: str, rate: float, burst: int, max_wait: float) -> Reservation:
        reserved, wait = await self._script(keys=[key], args=[rate, burst, max_wait])
        return Reservation(bool(int(reserved)), float(wait))

    async def acquire(self, key: str, rate: float, burst: int, max_wait: float) -> float:
        """Take a token, sleeping at most ``max_wait``; return the time slept.

        Raises :class:`QuotaWaitTooLong` (reserving nothing) when the wait would be longer.
        """
        res = await self.reserve(key, rate, burst, max_wait)
        if not res.reserved:
            raise QuotaWaitTooLong(key, res.wait)
        if res.wait > 0:
            await asyncio.sleep(res.wait)
        return res.wait

    async def set_rate(self, key: str, rate: float) -> None:
        """Adopt the server's ``x-amzn-RateLimit-Limit`` for this bucket."""
        if rate > 0:
            await self._redis.hset(key, "rate", repr(rate))

    async def drain(self, key: str) -> None:
        """A 429 despite the bucket: the server's bucket is empty, so ours must be too."""
        await self._redis.hset(key, mapping={"tokens": "0"})

    async def state(self, key: str) -> dict[str, float]:
        raw = await self._redis.hgetall(key)
        return {k.decode() if isinstance(k, bytes) else k: float(v) for k, v in raw.items()}

"""Requests per client address on the web app's open doors (``/oauth/*``, the SNS endpoint).

The same Redis token bucket as the SP-API quotas (``worker/ratelimit/bucket.py``), keyed
``rl:{web:<address>}:<door>``, so every web replica shares one count. Only what is free
right now is taken (no waiting): a caller over its rate gets 429 with ``Retry-After``. If
Redis is unreachable the request goes through (logged): a limiter must not turn a Redis
outage into an onboarding outage, and the routes behind it need Redis anyway.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from redis.exceptions import RedisError

from worker.ratelimit.bucket import TokenBucket

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Door:
    name: str  # in the bucket key and the log line
    prefix: str  # the paths it guards
    per_minute: float

    @property
    def burst(self) -> int:
        # A short burst of a tenth of a minute's allowance (at least 5): a seller's browser
        # may retry a page or two; a script trying thousands may not.
        return max(5, math.ceil(self.per_minute / 10))


def limit_key(door: str, address: str) -> str:
    return f"rl:{{web:{address}}}:{door}"


async def admit(bucket: TokenBucket, door: Door, address: str) -> float | None:
    """None when the request may go on; else seconds until it may."""
    try:
        res = await bucket.reserve(limit_key(door.name, address), door.per_minute / 60.0,
                                   door.burst, 0.0)
    except (RedisError, OSError) as exc:  # Redis is down: let the request through
        log.warning("web.rate_limit_unavailable", door=door.name, error=type(exc).__name__)
        return None
    return None if res.reserved else max(res.wait, 0.001)


_LOGGED: dict[tuple[str, str], float] = {}


def _first_in_a_while(door: str, address: str, every: float = 60.0) -> bool:
    """One log line per door and address a minute: a flood must not become a log flood."""
    now = time.monotonic()
    if now - _LOGGED.get((door, address), -every) < every:
        return False
    if len(_LOGGED) >= 4096:
        _LOGGED.clear()
    _LOGGED[(door, address)] = now
    return True


class ClientErrorLog(logging.Filter):
    """aiohttp logs every malformed request (a 5,000-character URL, a broken head) at error
    level with a traceback: any client could fill the logs. Those are the client's fault
    (``HttpProcessingError`` with a 4xx code): one warning line, at most one a minute per
    address. Everything else aiohttp logs passes untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError) or not 400 <= (exc.code or 0) < 500:
            return True
        address = str(record.args[0]) if isinstance(record.args, tuple) and record.args \
            else "unknown"
        if not _first_in_a_while("bad_request", address):
            return False
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.msg, record.args = "web.bad_request from %s: %s %s", (
            address, exc.code, type(exc).__name__)
        record.exc_info = record.exc_text = None
        return True


def middleware(doors: list[Door], bucket_of: Callable[[web.Request], Any]) -> Any:
    """An aiohttp middleware applying the first door whose prefix matches the path."""

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        door = next((d for d in doors if request.path.startswith(d.prefix)), None)
        bucket = bucket_of(request) if door else None
        if door is None or bucket is None:
            return await handler(request)
        address = request.remote or "unknown"
        wait = await admit(bucket, door, address)
        if wait is None:
            return await handler(request)
        if _first_in_a_while(door.name, address):
            log.warning("web.rate_limited", door=door.name, address=address)
        return web.Response(status=429, text="Too many requests; try again later.\n",
                            headers={"Retry-After": str(math.ceil(wait))})

    return rate_limit

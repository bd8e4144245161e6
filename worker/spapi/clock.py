"""Clock check: compare this host's clock with the ``Date`` header of LWA / SP-API responses.

SigV4 signatures and token expiry both assume a right clock; a host that drifted by more
than a few minutes sees rejected calls or tokens refreshed too late. Every response carries
a ``Date`` header (1 s resolution), so each process measures its skew for free. Beyond
:data:`MAX_SKEW_SECONDS` it logs ``clock.skew`` (at most once a minute) and records the figure
in Redis (hash :data:`REDIS_KEY`, one field per process), where ``/healthz`` reads it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import structlog

from worker.metrics import CLOCK_SKEW

log = structlog.get_logger(__name__)

MAX_SKEW_SECONDS = 300.0
REDIS_KEY = "spsync:clock_skew"
REPORT_EVERY_SECONDS = 60.0  # how often a process refreshes its entry in Redis
STALE_AFTER_SECONDS = 900.0  # /healthz ignores entries older than this (process gone)


def skew_of(date_header: str | None, now: float) -> float | None:
    """``now`` minus the time in an HTTP ``Date`` header; None when absent or unparsable."""
    if not date_header:
        return None
    try:
        server = parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError):
        return None
    if server.tzinfo is None:
        return None
    return now - server.timestamp()


def too_far(skew: float) -> bool:
    return abs(skew) > MAX_SKEW_SECONDS


class ClockWatch:
    """Per-process skew tracker; ``redis`` is a ``redis.asyncio.Redis`` (or None: no report)."""

    def __init__(self, redis: Any = None, *, clock: Callable[[], float] = time.time,
                 who: str | None = None) -> None:
        self._redis = redis
        self._clock = clock
        self._who = who or f"{socket.gethostname()}:{os.getpid()}"
        self._reported_at = -1e18
        self._warned_at = -1e18
        self.skew: float | None = None

    async def observe(self, date_header: str | None, source: str) -> None:
        now = self._clock()
        skew = skew_of(date_header, now)
        if skew is None:
            return
        self.skew = skew
        CLOCK_SKEW.set(skew)
        bad = too_far(skew)
        if bad and now - self._warned_at >= REPORT_EVERY_SECONDS:
            self._warned_at = now
            log.warning("clock.skew", skew_s=round(skew, 1), source=source,
                        limit_s=MAX_SKEW_SECONDS)
        if self._redis is not None and (bad or now - self._reported_at >= REPORT_EVERY_SECONDS):
            self._reported_at = now
            entry = json.dumps({"skew": round(skew, 3), "at": now, "source": source})
            try:
                await self._redis.hset(REDIS_KEY, self._who, entry)
            except Exception as exc:  # health reporting must never fail a call
                log.debug("clock.report_failed", error=type(exc).__name__)


def worst_recent(entries: dict[Any, Any], now: float) -> tuple[float, str] | None:
    """The largest recent skew among the processes' Redis entries, with who measured it."""
    worst: tuple[float, str] | None = None
    for who, raw in entries.items():
        try:
            entry = json.loads(raw)
            skew, at = float(entry["skew"]), float(entry["at"])
        except (ValueError, KeyError, TypeError):
            continue
        if now - at > STALE_AFTER_SECONDS:
            continue
        name = who.decode() if isinstance(who, bytes) else str(who)
        if worst is None or abs(skew) > abs(worst[0]):
            worst = (skew, name)
    return worst

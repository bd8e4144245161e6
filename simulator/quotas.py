"""Per (seller, operation) token buckets with the models' rate and burst.

A bucket starts full, refills continuously at ``rate x time_scale`` tokens per second
and holds at most ``burst``. It also keeps the numbers ``/_sim/stats`` reports, so a
benchmark can check a client never asked for more than Amazon would have allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .clock import Clock
from .spec import Operation


@dataclass
class Bucket:
    rate: float
    burst: int
    tokens: float
    updated: float
    first_call: float
    calls: int = 0
    throttled: int = 0

    def _refill(self, now: float) -> None:
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def acquire(self, now: float) -> bool:
        """Count a call; take a token if there is one."""
        self._refill(now)
        self.calls += 1
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.throttled += 1
        return False

    def record_forced(self, throttled: bool) -> None:
        """Count an injected fault's call without touching the tokens."""
        self.calls += 1
        self.throttled += int(throttled)


def scaled_rate(op: Operation, time_scale: float) -> Decimal:
    return op.rate * Decimal(str(time_scale))


def rate_header(op: Operation, time_scale: float) -> str:
    """``x-amzn-RateLimit-Limit`` value: a plain decimal, never exponent notation."""
    return format(scaled_rate(op, time_scale).normalize(), "f")


class QuotaBook:
    def __init__(self, clock: Clock, time_scale: float) -> None:
        self._clock = clock
        self._time_scale = time_scale
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def bucket(self, seller_id: str, op: Operation) -> Bucket:
        key = (seller_id, op.operation_id)
        if key not in self._buckets:
            now = self._clock.now()
            rate = float(scaled_rate(op, self._time_scale))
            self._buckets[key] = Bucket(rate, op.burst, float(op.burst), now, now)
        return self._buckets[key]

    def set_rate(self, seller_id: str, op: Operation, rate: float) -> None:
        """A seller's usage plan changed (Amazon lowers or raises limits per seller)."""
        bucket = self.bucket(seller_id, op)
        bucket._refill(self._clock.now())
        bucket.rate = rate

    def header(self, seller_id: str, op: Operation) -> str | None:
        """This seller's ``x-amzn-RateLimit-Limit`` once its bucket exists."""
        bucket = self._buckets.get((seller_id, op.operation_id))
        return format(Decimal(repr(bucket.rate)).normalize(), "f") if bucket else None

    def acquire(self, seller_id: str, op: Operation) -> bool:
        return self.bucket(seller_id, op).acquire(self._clock.now())

    def stats(self) -> list[dict[str, Any]]:
        now = self._clock.now()
        return [
            {
                "seller_id": seller_id,
                "operation": operation,
                "calls": b.calls,
                "throttled": b.throttled,
                "rate": b.rate,
                "burst": b.burst,
                "max_allowed": b.burst + b.rate * (now - b.first_call),
            }
            for (seller_id, operation), b in self._buckets.items()
        ]

"""Retry policy: capped exponential backoff with full jitter, honouring ``Retry-After``."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    base: float = 1.0
    cap: float = 60.0
    max_retries: int = 5
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based).

        Full jitter (uniform in [0, min(cap, base * 2**attempt)]) spreads retries of many
        callers; a server's ``Retry-After`` is a floor that neither jitter nor cap shortens.
        """
        ceiling = min(self.cap, self.base * (2**attempt))
        jittered = self.rng.uniform(0, ceiling)
        if retry_after is not None and retry_after > 0:
            return max(retry_after, jittered)
        return jittered

    def should_retry(self, attempt: int) -> bool:
        return attempt < self.max_retries


def _number(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form); None when absent/unparseable."""
    seconds = _number(value)
    return seconds if seconds is not None and seconds >= 0 else None


def parse_rate_limit(value: str | None) -> float | None:
    """Requests/second from ``x-amzn-RateLimit-Limit``; None when absent or not positive."""
    rate = _number(value)
    return rate if rate is not None and rate > 0 else None

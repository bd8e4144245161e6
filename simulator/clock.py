"""Simulated "now" and Amazon's timestamp format.

The clock is anchored once to the wall clock and then driven by ``time.monotonic()``:
a host clock jump can never make a LastUpdateDate go backwards. Tests push it forward
with :meth:`Clock.advance` instead of sleeping (token expiry, quota refill).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

_SPACE_OFFSET = re.compile(r" (\d{2}:?\d{2})$")


class Clock:
    """UTC epoch seconds as a float; ``start`` pins the anchor (deterministic tests)."""

    def __init__(self, start: float | None = None) -> None:
        self._anchor = time.time() if start is None else start
        self._t0 = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        return self._anchor + (time.monotonic() - self._t0) + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds


def iso(epoch: float) -> str:
    """Amazon's shape: second precision, UTC, ``Z`` suffix (``2026-11-20T10:00:05Z``)."""
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """ISO 8601 → epoch seconds; a naive value is UTC. Raises ``ValueError``.

    A ``+hh:mm`` offset sent unescaped in a query string arrives as a space, so that
    one case is repaired rather than rejected.
    """
    repaired = _SPACE_OFFSET.sub(r"+\1", text.strip())
    parsed = datetime.fromisoformat(repaired)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()

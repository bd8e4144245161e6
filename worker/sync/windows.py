"""Cursor and window arithmetic for incremental, last-updated-based streams (pure functions).

A window is ``[start, end]`` on Amazon's last-update time. ``end`` is never later than
``now - lag`` (Amazon rejects ``LastUpdatedBefore`` closer than 2 minutes to now, and recent
updates may still be settling); consecutive windows overlap by ``overlap`` so an update
stamped on a boundary is never missed. Upserts are idempotent, so the overlap costs only a
re-read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class WindowPolicy:
    lag: timedelta
    overlap: timedelta
    max_span: timedelta
    initial: timedelta
    period: str | None = None  # a kind read in whole reporting periods (worker/sync/periods.py)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Bounds:
    """How an operation is asked for a window: the query parameters of its two ends.

    ``before`` None: the operation takes no end (it reads up to now). ``lookback``: a window
    at least this long asks without ``after`` at all, which lists everything (a first sync;
    Amazon also refuses a start further back than it keeps, e.g. 18 months for inventory).
    """

    after: str
    before: str | None = None
    lookback: timedelta | None = None

    def query(self, w: Window) -> dict[str, str]:
        q = {} if self.before is None else {self.before: iso(w.end)}
        if self.lookback is None or w.end - w.start < self.lookback:
            q[self.after] = iso(w.start)
        return q


def next_window(cursor: datetime | None, now: datetime, policy: WindowPolicy) -> Window | None:
    """The next window to fetch after ``cursor`` (None: first sync), or None if caught up."""
    ceiling = now - policy.lag
    start = ceiling - policy.initial if cursor is None else cursor - policy.overlap
    end = min(ceiling, start + policy.max_span)
    if end <= start or (cursor is not None and end <= cursor):
        return None
    return Window(start, end)


def utc_now() -> datetime:
    """The real clock; what a run's windows are cut against unless a test gives its own."""
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """Amazon's ISO 8601 form: UTC, ``Z``, whole seconds (rounded down, so never in the future)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

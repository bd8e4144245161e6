from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from worker.sync.windows import Window, WindowPolicy, iso, next_window

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
POLICY = WindowPolicy(lag=timedelta(minutes=2), overlap=timedelta(seconds=60),
                      max_span=timedelta(days=7), initial=timedelta(days=30))


def test_first_window_starts_initial_days_back_and_is_capped_by_max_span():
    w = next_window(None, NOW, POLICY)
    assert w == Window(NOW - timedelta(minutes=2) - timedelta(days=30),
                       NOW - timedelta(minutes=2) - timedelta(days=23))


def test_window_end_never_closer_than_lag_to_now():
    cursor = NOW - timedelta(hours=1)
    w = next_window(cursor, NOW, POLICY)
    assert w is not None
    assert w.end == NOW - POLICY.lag
    assert w.start == cursor - POLICY.overlap  # windows overlap


def test_caught_up_returns_none():
    assert next_window(NOW - POLICY.lag, NOW, POLICY) is None
    assert next_window(NOW, NOW, POLICY) is None  # cursor ahead of the ceiling (clock skew)


def test_windows_chain_without_gaps_until_caught_up():
    cursor = None
    windows = []
    while (w := next_window(cursor, NOW, POLICY)) is not None:
        windows.append(w)
        cursor = w.end
    assert len(windows) == 5  # 30 days in 7-day spans
    for a, b in itertools.pairwise(windows):
        assert b.start <= a.end  # no gap
    assert windows[-1].end == NOW - POLICY.lag


def test_iso_is_utc_z_whole_seconds_rounded_down():
    ts = datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC)
    assert iso(ts) == "2026-01-02T03:04:05Z"
    other = ts.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert iso(other) == "2026-01-02T03:04:05Z"

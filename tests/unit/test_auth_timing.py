from __future__ import annotations

from worker.spapi.auth import cooldown_seconds, needs_refresh


def test_token_is_refreshed_five_minutes_before_expiry():
    expires_at = 10_000.0
    assert not needs_refresh(expires_at, now=expires_at - 301, margin=300)
    assert needs_refresh(expires_at, now=expires_at - 300, margin=300)
    assert needs_refresh(expires_at, now=expires_at + 1, margin=300)


def test_the_refresh_cool_down_doubles_per_consecutive_failure_up_to_its_cap():
    pauses = [cooldown_seconds(n, first=1.0, cap=30.0) for n in range(1, 9)]
    assert pauses == [1, 2, 4, 8, 16, 30, 30, 30]
    assert cooldown_seconds(0, first=1.0, cap=30.0) == 1  # a lost count starts over

from __future__ import annotations

from worker.spapi.auth import needs_refresh


def test_token_is_refreshed_five_minutes_before_expiry():
    expires_at = 10_000.0
    assert not needs_refresh(expires_at, now=expires_at - 301, margin=300)
    assert needs_refresh(expires_at, now=expires_at - 300, margin=300)
    assert needs_refresh(expires_at, now=expires_at + 1, margin=300)

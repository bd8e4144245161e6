from __future__ import annotations

import random

import pytest

from worker.ratelimit.backoff import Backoff, parse_rate_limit, parse_retry_after


def test_full_jitter_stays_within_the_capped_exponential_ceiling():
    b = Backoff(base=1.0, cap=10.0, rng=random.Random(7))
    for attempt in range(10):
        ceiling = min(10.0, 2.0**attempt)
        delays = [b.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # jitter really spreads over the range


def test_retry_after_is_a_floor_that_the_cap_does_not_shorten():
    b = Backoff(base=1.0, cap=30.0, rng=random.Random(1))
    assert all(b.delay(0, retry_after=5.0) >= 5.0 for _ in range(50))
    assert b.delay(0, retry_after=120.0) == 120.0


def test_should_retry_counts_attempts():
    b = Backoff(max_retries=2)
    assert [b.should_retry(a) for a in range(4)] == [True, True, False, False]


@pytest.mark.parametrize(("raw", "want"), [("3", 3.0), ("0.5", 0.5), (None, None), ("", None),
                                           ("soon", None), ("-1", None)])
def test_parse_retry_after(raw, want):
    assert parse_retry_after(raw) == want


@pytest.mark.parametrize(("raw", "want"), [("0.0167", 0.0167), ("2", 2.0), ("0", None),
                                           (None, None), ("x", None)])
def test_parse_rate_limit(raw, want):
    assert parse_rate_limit(raw) == want

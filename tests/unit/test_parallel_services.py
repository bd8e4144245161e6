"""Parallel test workers get a Redis database each (tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.conftest import redis_for_worker


@pytest.mark.parametrize(("url", "worker", "expected"), [
    ("redis://127.0.0.1:6379/15", 0, "redis://127.0.0.1:6379/15"),
    ("redis://127.0.0.1:6379/15", 1, "redis://127.0.0.1:6379/0"),
    ("redis://127.0.0.1:6379/3", 2, "redis://127.0.0.1:6379/5"),
    ("redis://127.0.0.1:6379", 1, "redis://127.0.0.1:6379/1"),
    ("unix:///tmp/x/redis.sock", 2, "unix:///tmp/x/redis.sock?db=2"),
    ("unix:///tmp/x/redis.sock?db=4", 1, "unix:///tmp/x/redis.sock?db=5"),
])
def test_each_worker_flushes_its_own_database(url, worker, expected):
    assert redis_for_worker(url, worker) == expected

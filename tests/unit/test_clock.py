"""Clock skew from ``Date`` headers: the arithmetic, the warning and the Redis report."""

from __future__ import annotations

import io
import json
from email.utils import formatdate

import fakeredis

from worker.config import Settings
from worker.logging import configure_logging
from worker.spapi.clock import REDIS_KEY, ClockWatch, skew_of, too_far, worst_recent

NOW = 1_800_000_000.0


def test_skew_is_local_minus_server_time():
    assert skew_of(formatdate(NOW - 42, usegmt=True), NOW) == 42.0
    assert skew_of(formatdate(NOW + 7, usegmt=True), NOW) == -7.0


def test_missing_or_garbled_dates_measure_nothing():
    for header in (None, "", "yesterday", "Tue, 99 Foo 2026 25:61:00 GMT"):
        assert skew_of(header, NOW) is None


def test_the_limit_is_five_minutes_either_way():
    assert not too_far(300.0) and not too_far(-300.0)
    assert too_far(300.5) and too_far(-301.0)


async def test_a_skewed_clock_warns_once_a_minute_and_reports_to_redis():
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=stream)
    redis = fakeredis.FakeAsyncRedis()
    t = [NOW]
    watch = ClockWatch(redis, clock=lambda: t[0], who="host:1")
    for _ in range(3):  # the host runs 10 minutes ahead of Amazon
        await watch.observe(formatdate(t[0] - 600, usegmt=True), "searchOrders")
    t[0] += 61
    await watch.observe(formatdate(t[0] - 600, usegmt=True), "searchOrders")

    warnings = [json.loads(x) for x in stream.getvalue().splitlines() if "clock.skew" in x]
    assert len(warnings) == 2 and warnings[0]["skew_s"] == 600.0
    entry = json.loads(await redis.hget(REDIS_KEY, "host:1"))
    assert entry["skew"] == 600.0 and entry["at"] == t[0]
    assert watch.skew == 600.0


async def test_a_right_clock_reports_at_most_once_a_minute_and_never_warns():
    redis = fakeredis.FakeAsyncRedis()
    t = [NOW]
    watch = ClockWatch(redis, clock=lambda: t[0], who="host:2")
    await watch.observe(formatdate(t[0], usegmt=True), "getReport")
    await redis.delete(REDIS_KEY)
    t[0] += 30
    await watch.observe(formatdate(t[0], usegmt=True), "getReport")
    assert await redis.hget(REDIS_KEY, "host:2") is None  # not yet a minute
    t[0] += 31
    await watch.observe(formatdate(t[0], usegmt=True), "getReport")
    assert json.loads(await redis.hget(REDIS_KEY, "host:2"))["skew"] == 0.0


def test_the_worst_recent_entry_wins_and_stale_entries_are_ignored():
    entries = {
        b"a:1": json.dumps({"skew": 12.0, "at": NOW - 10}),
        b"b:2": json.dumps({"skew": -400.0, "at": NOW - 60}),
        b"gone:3": json.dumps({"skew": 9999.0, "at": NOW - 3600}),  # process long gone
        b"junk": b"not json",
    }
    assert worst_recent(entries, NOW) == (-400.0, "b:2")
    assert worst_recent({}, NOW) is None

"""``benchmarks/backfill.py`` end to end at a tiny size: behaviour, never timings."""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from benchmarks import backfill

pytestmark = pytest.mark.integration

KEYS = {"orders", "time_scale", "report_seconds", "api_seconds", "speedup", "report_calls",
        "api_calls", "equal"}


def test_both_paths_mirror_the_same_orders_and_one_json_line_says_so(clean, capsys,
                                                                      monkeypatch):
    # quiet() would leave this process's logging pointed at pytest's captured stderr;
    # capture_logs keeps the library's log lines off stdout instead, and restores after
    monkeypatch.setattr(backfill, "quiet", lambda: None)
    with capture_logs():
        out = backfill.main(["--orders", "300"], redis_url=clean.redis_url)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and json.loads(lines[0]) == out
    assert set(out) == KEYS
    assert out["orders"] == 300 and out["equal"] is True
    assert out["report_calls"] > 0 and out["api_calls"] > 0

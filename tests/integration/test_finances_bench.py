"""``benchmarks/finances.py`` end to end at a small size: behaviour, never timings."""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from benchmarks import finances

pytestmark = pytest.mark.integration


def test_a_history_of_transactions_lands_whole_at_the_fewest_calls(clean, capsys,
                                                                   monkeypatch):
    # quiet() would leave this process's logging pointed at pytest's captured stderr
    monkeypatch.setattr(finances, "quiet", lambda: None)
    with capture_logs():
        out = finances.main(["--orders", "2500", "--days", "200", "--via", "sync"],
                            database_url=clean.database_url, redis_url=clean.redis_url)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and json.loads(lines[0]) == out
    assert out["status"] == "succeeded" and out["equal"] is True and out["transactions"] > 0
    # two windows (200 days > 179): the second re-reads only the 30-day look-back
    assert out["floor_calls"] <= out["calls"] <= out["floor_calls"] * 1.3 + 2


def test_a_backfill_reads_the_history_at_the_floor_plus_a_page_per_window(clean, capsys,
                                                                          monkeypatch):
    monkeypatch.setattr(finances, "quiet", lambda: None)
    with capture_logs():
        out = finances.main(["--orders", "2500", "--days", "200"],
                            database_url=clean.database_url, redis_url=clean.redis_url)
    assert json.loads(capsys.readouterr().out.splitlines()[0]) == out
    assert out["via"] == "backfill" and out["status"] == "succeeded" and out["equal"] is True
    # 30-day windows end to end: at most one more call per window than 179-day windows
    assert out["floor_calls"] <= out["calls"] <= out["floor_calls"] + 7

"""``benchmarks/order_to_wms.py`` end to end at a small size and a fast clock: both paths
deliver every order exactly once and one JSON line says so (its timings are read by people,
benchmarks/README.md, never asserted)."""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from benchmarks import order_to_wms

pytestmark = pytest.mark.e2e


def test_both_paths_hand_every_order_to_the_wms_once(clean, capsys, monkeypatch):
    # quiet() would leave this process's logging pointed at pytest's captured stderr
    monkeypatch.setattr(order_to_wms, "quiet", lambda: None)
    with capture_logs():
        out = order_to_wms.main(["--sellers", "4", "--minutes", "0.2", "--rate", "2",
                                 "--time-scale", "60", "--concurrency", "2"],
                                database_url=clean.database_url, redis_url=clean.redis_url)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and json.loads(lines[0]) == out
    assert out["notify_orders"] > 0 and out["poll_orders"] > 0
    assert out["notify_orders"] + out["poll_orders"] == out["orders"] == 24
    assert (out["missed"], out["duplicates"]) == (0, 0)
    for key in ("notify_p50_s", "notify_p95_s", "poll_p50_s", "poll_p95_s"):
        assert isinstance(out[key], float), key

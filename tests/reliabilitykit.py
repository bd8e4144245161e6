"""What the reliability report's tests share (devtools/reliability.py, ``celery -A worker
chaos``): tests/unit/test_reliability.py renders and judges records in-process, and
tests/e2e/test_chaos_report.py runs the report on a stand-in checkout (a pytest process and a
benchmark process)."""

from __future__ import annotations

# A scale benchmark's JSON line with every figure inside its targets.
SCALE = {"sellers": 10000, "sync_state_rows": 50000, "tick_p50_s": 0.4, "tick_max_s": 0.6,
         "enqueued_per_tick": 390, "redis_bytes_per_seller": 1500, "steady_due_per_tick": 390,
         "due_last_tick": 400,
         "postgres_sync_state_bytes": 9_000_000}

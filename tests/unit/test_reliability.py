"""docs/reliability.md is rendered from the chaos run's records and pytest's JUnit XML.

``celery -A worker chaos --report`` itself, which runs a pytest process and the
benchmarks, is tests/e2e/test_chaos_report.py's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devtools.reliability import read_junit, read_records, render, scale_record, soak_record
from tests.reliabilitykit import SCALE

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.chaos.test_crashes" name="test_kills" time="41.5"/>
<testcase classname="tests.chaos.test_fuzz" name="test_orders" time="3.25">
<failure message="boom">trace</failure></testcase>
<testcase classname="tests.chaos.test_soak" name="test_x" time="0"><skipped/></testcase>
</testsuite></testsuites>"""


def test_the_page_lists_each_scenario_and_each_test_verdict(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text(JUNIT)
    records = tmp_path / "r.jsonl"
    records.write_text(json.dumps({"scenario": "Crashes", "injected": "20 SIGKILLs | beat",
                                   "checked": "mirror = truth", "result": "pass",
                                   "figures": {"kills": 20, "pages_twice": 3}}) + "\n")
    page = render(read_records(records), read_junit(tmp_path / "junit.xml"), rounds=20,
                  when="2026-11-27 07:00 UTC", seconds=95.2, command="celery -A worker chaos")
    assert "| Crashes | 20 SIGKILLs \\| beat | mirror = truth | pass | kills 20, pages_twice 3 |" \
        in page
    assert "| `test_crashes::test_kills` | passed | 41.5 |" in page
    assert "| `test_fuzz::test_orders` | failed | 3.2 |" in page or \
        "| `test_fuzz::test_orders` | failed | 3.3 |" in page
    assert "| `test_soak::test_x` | skipped | 0.0 |" in page
    assert "1/3 tests passed" in page and "20 rounds" in page
    assert "## What it does not promise" in page  # the guarantees travel with the table
    assert "## What changed since the previous run" in page


def test_nothing_recorded_says_so(tmp_path: Path) -> None:
    page = render(read_records(tmp_path / "missing"), read_junit(tmp_path / "missing.xml"),
                  rounds=2, when="now", seconds=1, command="c")
    assert "(no scenario completed)" in page and "0/0 tests passed" in page


def test_scale_passes_only_inside_both_targets() -> None:
    assert scale_record(SCALE)["result"] == "pass"
    assert scale_record(SCALE | {"tick_max_s": 1.2})["result"] == "FAIL"
    assert scale_record(SCALE | {"redis_bytes_per_seller": 2049})["result"] == "FAIL"
    # fast ticks that leave a growing backlog behind (one batch a tick) do not pass
    assert scale_record(SCALE | {"due_last_tick": 45696})["result"] == "FAIL"
    assert "10,000 sellers" in scale_record(SCALE)["injected"]


def _role(per_hour: float, late: float | None = None, sd: float = 0.1,
          fds_per_hour: float = 0.0, fds_late: float | None = None) -> dict[str, Any]:
    return {"rss_mb_start": 100.0, "rss_mb_end": 100.0 + per_hour / 2,
            "rss_mb_per_hour": per_hour, "rss_mb_per_hour_late": per_hour if late is None
            else late, "rss_mb_resid_sd": sd, "fds_start": 20, "fds_end": 20,
            "fds_per_hour": fds_per_hour,
            "fds_per_hour_late": fds_per_hour if fds_late is None else fds_late}


def _soak(**roles: dict[str, Any]) -> dict[str, Any]:
    base = {role: _role(0.1) for role in ("worker", "pool", "beat")}
    return {"minutes": 30, "sellers": 4, "sync_runs": {"succeeded": 900}, "api_calls": 4000,
            "throttled": 0, **base, **roles}


def test_soak_fails_on_memory_or_file_growth_beyond_noise() -> None:
    assert soak_record(_soak())["result"] == "pass"
    # a leak: 10 MB/h to the end is 5 MB over half an hour, past 1% of ~100 MB
    assert soak_record(_soak(pool=_role(10.0)))["result"] == "FAIL"
    # a cache filling up: fast at first, flat in the second half
    assert soak_record(_soak(pool=_role(10.0, late=0.5)))["result"] == "pass"
    # samples so noisy that 5 MB is inside three residual SDs
    assert soak_record(_soak(pool=_role(10.0, sd=2.0)))["result"] == "pass"
    # a descriptor leaked every 10 minutes
    assert soak_record(_soak(beat=_role(0.0, fds_per_hour=6.0)))["result"] == "FAIL"
    # four opened at once early in the run (a pool child's first connections), then flat
    assert soak_record(_soak(pool=_role(0.1, fds_per_hour=5.6, fds_late=0.0)))["result"] == \
        "pass"
    # the same slope still climbing in the second half is a leak
    assert soak_record(_soak(pool=_role(0.1, fds_per_hour=5.6, fds_late=5.6)))["result"] == \
        "FAIL"
    assert soak_record(_soak() | {"sync_runs": {"succeeded": 9, "failed": 1}})["result"] == \
        "FAIL"

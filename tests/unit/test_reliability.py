"""docs/reliability.md is rendered from the chaos run's records and pytest's JUnit XML."""

from __future__ import annotations

import json
from pathlib import Path

from worker.reliability import read_junit, read_records, render

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


def test_nothing_recorded_says_so(tmp_path: Path) -> None:
    page = render(read_records(tmp_path / "missing"), read_junit(tmp_path / "missing.xml"),
                  rounds=2, when="now", seconds=1, command="c")
    assert "(no scenario completed)" in page and "0/0 tests passed" in page

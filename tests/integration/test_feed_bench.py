"""The change-feed benchmark runs end to end at a small size (its figures are read by people,
benchmarks/README.md, never asserted), and its plan check sees the index at every size."""

from __future__ import annotations

import json

import pytest

from benchmarks import feed as bench

pytestmark = pytest.mark.integration


def test_the_feed_benchmark_prints_one_line_and_reads_by_the_index(clean, capsys, monkeypatch):
    # quiet() would leave this process's logging pointed at pytest's captured stderr
    monkeypatch.setattr(bench, "quiet", lambda: None)
    out = bench.main(["--rows", "20000", "--sizes", "2000,20000", "--batch", "100",
                      "--write-rows", "500"], database_url=clean.database_url)
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and json.loads(printed[0]) == out
    assert set(out["upsert_rows_per_s_with_triggers"]) == {"insert", "update"}
    assert [r["rows"] for r in out["reads"]] == [2000, 20000]
    for read in out["reads"]:
        assert read["plan_node"] == "Index Scan using changes_pkey on changes c"
        assert not read["plan_has_sort"] and not read["plan_has_seq_scan"]

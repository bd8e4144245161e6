"""``benchmarks/report_stream.py`` end to end at a tiny size, two reports at once included:
behaviour and how its figures relate, never timings."""

from __future__ import annotations

import json
import os

import pytest
from structlog.testing import capture_logs

from benchmarks import report_stream

pytestmark = pytest.mark.integration

MB = 1.0


def test_every_line_is_read_and_each_figure_beside_its_reference(clean, capsys, monkeypatch):
    # quiet() would leave this process's logging pointed at pytest's captured stderr, and
    # gc.freeze() would keep whatever earlier tests left uncollected for this process's life
    monkeypatch.setattr(report_stream, "quiet", lambda: None)
    monkeypatch.setattr(report_stream.gc, "freeze", lambda: None)
    with capture_logs():
        out = report_stream.main(["--mb", str(MB), "--parallel", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and json.loads(lines[0]) == out

    rows = int(MB * 1_000_000 / report_stream.ROW_BYTES)
    assert out["rows"] == rows and out["parallel"] == 2 and out["parallel_rows"] == 2 * rows
    assert out["ratio"] == round(out["rows_per_s"] / out["ceiling_rows_per_s"], 3)
    assert abs(out["parallel_speedup"] - out["parallel_rows_per_s"] / out["rows_per_s"]) <= 0.01
    # Postgres runs on this machine here: the backends' CPU is read, and so are the bounds
    assert out["backend_cpu_seconds"] > 0 and out["ceiling_backend_cpu_seconds"] > 0
    assert out["cores_busy"] > 0 and out["parallel_cores_busy"] > 0
    assert out["parallel_bound"] == round(len(os.sched_getaffinity(0)) / out["cores_busy"], 2)

"""`celery -A worker backfill` is SIGKILLed while Amazon is still processing its reports.

Run again, it polls the reports it had asked for instead of creating new ones, and the
mirror ends equal to the truth.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import settings_for
from tests.e2e.procs import env_for, wait
from tests.integration.helpers import register, table
from worker.runtime import Runtime

pytestmark = pytest.mark.e2e


def _backfill(env: dict[str, str], seller: str, since: str, until: str,
              **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "worker", "backfill", "--seller", seller,
         "--stream", "orders", "--since", since, "--until", until],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True, **popen)  # type: ignore[call-overload]


def test_killed_backfill_resumes_its_reports_without_creating_them_again(start_sim, clean):
    # reports take 20 s at Amazon here (2,000 s / time-scale 100): the kill lands mid-way
    sim = start_sim(sellers=1, orders_per_seller=80, time_scale=100, seed=9, history_days=70,
                    report_delay_seconds=2000)
    settings = settings_for(clean, sim)
    rt = Runtime(settings)
    ((spid, seller_id),) = register(rt, sim).items()
    env = env_for(settings) | {"SPSYNC_REPORT_POLL_SECONDS": "0.2",
                            "SPSYNC_REPORT_POLL_MAX_SECONDS": "0.5"}
    until = datetime.now(UTC) - timedelta(minutes=5)
    since = until - timedelta(days=75)
    args = (since.strftime("%Y-%m-%dT%H:%M:%S"), until.strftime("%Y-%m-%dT%H:%M:%S"))

    first = _backfill(env, spid, *args)
    try:
        wait(lambda: len(table(rt, "SELECT 1 FROM reports")) == 3, 60, "3 reports created")
        assert table(rt, "SELECT count(*) FROM reports WHERE ingest_status = 'ingested'") == [(0,)]
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    created = {r[0] for r in table(rt, "SELECT report_id FROM reports")}

    started = time.monotonic()
    second = _backfill(env, spid, *args)
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out[-2000:]
    assert "done: " in out and "3/3 reports" in out
    assert {r[0] for r in table(rt, "SELECT report_id FROM reports")} == created
    assert table(rt, "SELECT DISTINCT ingest_status FROM reports") == [("ingested",)]
    stats = sim.client.stats()["buckets"]
    assert sum(b["calls"] for b in stats if b["operation"] == "createReport") == 3
    assert time.monotonic() - started < 60

    want = Counter()
    for o in sim.client.truth(spid)["orders"]:
        lud = datetime.fromisoformat(o["LastUpdateDate"].replace("Z", "+00:00"))
        if since <= lud <= until:
            want[o["AmazonOrderId"]] = len(o["OrderItems"])
    got = Counter({oid: n for oid, n in table(
        rt, "SELECT amazon_order_id, count(*) FROM order_items WHERE seller_id = :s "
            "GROUP BY 1", s=seller_id)})
    assert got == want

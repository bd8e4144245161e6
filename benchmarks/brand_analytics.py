"""Ingest one big Brand Analytics search terms report through the real path: rows/s and
peak memory, which stays flat whatever the document's size.

Usage::

    python -m benchmarks.brand_analytics --mb 20
    python -m benchmarks.brand_analytics --mb 200

What runs: a simulator subprocess generates a DONE ``GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT``
of ``--mb`` megabytes uncompressed (``/_sim/reports/generate``, ~190 bytes an entry), on one
line with its ``reportSpecification`` after the data, as a large Amazon document may be;
GZIP on the wire, compressed before the clock starts (``prerender``). This process records the
report in ``reports`` (a WEEK request, as the stream asks) and runs
:func:`worker.sync.reports.ingest`: the presigned download, inflate and ``ijson`` parse while
it arrives (``worker/sync/json_stream.py``), mapping, and batched newer-wins upserts into
``search_terms`` (one transaction per 1,000 entries).

Prints one JSON line: ``rows``, ``seconds``, ``rows_per_s``, ``peak_rss_mb`` (this process's
``ru_maxrss``: everything it ever held, imports included), ``baseline_rss_mb`` (the same
reading just before the ingest) and ``load_average`` (1, 5, 15 minutes, at the end: the
machine is shared). The simulator and Postgres run in their own processes and are not
counted. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from benchmarks.services import (
    bench_redis,
    log,
    quiet,
    register_sim_sellers,
    scratch_databases,
    sim_runtime,
    simulator,
)
from simulator.remote import SimulatorClient
from worker.db import reports as reports_db
from worker.db.reports import ReportRequest
from worker.db.sellers import get_seller
from worker.runtime import Runtime
from worker.sync.brand_analytics import SEARCH_TERMS
from worker.sync.periods import period_of
from worker.sync.reports import PollPolicy, ReportJob, ingest, wait_processed

ENTRY_BYTES = 190  # the generator's typical entry (simulator.brand_analytics.BIG_ENTRY_BYTES)
WEEK = period_of("WEEK", datetime(2026, 11, 1, tzinfo=UTC).date())  # the generated period


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def run(rt: Runtime, seller_id: int, report_id: str) -> int:
    async with rt.spapi() as client:
        with rt.engine.connect() as conn:
            with conn.begin():
                seller = get_seller(conn, seller_id, rt.keyring)
                req = ReportRequest(SEARCH_TERMS, (seller.marketplace_ids[0],), WEEK.start,
                                    WEEK.end, (("reportPeriod", "WEEK"),), purpose="benchmark")
                report = reports_db.record_request(conn, seller_id, req, report_id)
            job = ReportJob(client, conn, seller, poll=PollPolicy.of(rt.settings))
            report = await wait_processed(job, report)
            return (await ingest(job, report)).rows_read


def measure(mb: float) -> dict[str, Any]:
    rows = max(1, int(mb * 1_000_000 / ENTRY_BYTES))
    with bench_redis() as (redis_url, _), scratch_databases(1) as (db_url,), \
            simulator(sellers=1, time_scale=1000, orders_per_seller=1) as sim_url:
        rt = sim_runtime(db_url, redis_url, sim_url)
        ((spid, seller_id),) = register_sim_sellers(rt, sim_url).items()
        log(f"generating a search terms report of {rows:,} entries ({mb:g} MB)...")
        generated = SimulatorClient(sim_url, timeout=3600).generate_report(
            spid, rows, report_type=SEARCH_TERMS, prerender=True)
        log("generated; ingesting...")
        baseline = rss_mb()
        started = time.monotonic()
        read = asyncio.run(run(rt, seller_id, generated["reportId"]))
        seconds = time.monotonic() - started
    return {
        "rows": read, "mb": mb, "seconds": round(seconds, 2),
        "rows_per_s": round(read / seconds), "peak_rss_mb": round(rss_mb(), 1),
        "baseline_rss_mb": round(baseline, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mb", type=float, default=200.0,
                        help="uncompressed size of the generated report (default 200)")
    opts = parser.parse_args(argv)
    quiet()
    figures = measure(opts.mb)
    print(json.dumps(figures), flush=True)
    return figures


if __name__ == "__main__":
    main()

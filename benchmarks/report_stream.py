"""Ingest one big orders report through the real path; rows/s and peak memory.

Usage::

    python -m benchmarks.report_stream --mb 1000               # ~4 M rows, a few minutes
    python -m benchmarks.report_stream --mb 1000 --parse-only  # no database writes
    python -m benchmarks.report_stream --mb 20                 # quick check

What runs: a simulator subprocess generates a DONE ``GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_
UPDATE_GENERAL`` report of ``--mb`` megabytes uncompressed (``/_sim/reports/generate``,
~250 bytes a row, GZIP on the wire). The document is compressed into a temporary file before
the clock starts (``prerender``), so the simulator serves it at I/O speed and the figures are
this process's: its download, inflate, parse, map and write. It records the report
in ``reports`` and runs :func:`worker.sync.reports.ingest` on it: ``getReportDocument``,
the presigned download, inflate + TSV parse + mapping while it arrives, and batched
newer-wins upserts of orders and items (one transaction per batch). ``--parse-only`` is the
same download, inflate and TSV parse, without mapping rows or writing them.

Figures: ``rows`` read, ``seconds``, ``rows_per_s``, ``mb_per_s`` (uncompressed), and
``peak_rss_mb`` = this process's peak resident set (``ru_maxrss``) - everything it ever held,
imports included; ``baseline_rss_mb`` is the same reading just before the ingest starts. The
simulator and Postgres run in their own processes and are not counted. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from collections.abc import Sequence
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
from worker.sync import report_types
from worker.sync.report_parse import lines, table_rows
from worker.sync.reports import PollPolicy, ReportJob, ingest, wait_processed

ROW_BYTES = 250  # the generator's typical row


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(rt: Runtime, seller_id: int, report_id: str, parse_only: bool) -> int:
    async with rt.spapi() as client:
        with rt.engine.connect() as conn:
            with conn.begin():
                seller = get_seller(conn, seller_id, rt.keyring)
                req = ReportRequest(report_types.ORDERS_BY_UPDATE,
                                    tuple(seller.marketplace_ids), purpose="benchmark")
                report = reports_db.record_request(conn, seller_id, req, report_id)
            job = ReportJob(client, conn, seller, poll=PollPolicy.of(rt.settings))
            report = await wait_processed(job, report)
            if not parse_only:
                return (await ingest(job, report)).rows_read
            body = await job.call("getReportDocument",
                                  path_params={"reportDocumentId": report.document_id or ""})
            read = 0
            async for _ in table_rows(lines(client.download(body["url"]),
                                          gzip=body.get("compressionAlgorithm") == "GZIP")):
                read += 1
            return read


def measure(mb: float, parse_only: bool) -> dict[str, Any]:
    rows = max(1, int(mb * 1_000_000 / ROW_BYTES))
    with bench_redis() as (redis_url, _), scratch_databases(1) as (db_url,), \
            simulator(sellers=1, time_scale=1000, orders_per_seller=1) as sim_url:
        rt = sim_runtime(db_url, redis_url, sim_url)
        ((spid, seller_id),) = register_sim_sellers(rt, sim_url).items()
        log(f"generating a report of {rows:,} rows ({mb:g} MB uncompressed)...")
        generated = SimulatorClient(sim_url, timeout=3600).generate_report(spid, rows,
                                                                         prerender=True)
        log("generated; ingesting...")
        baseline, cpu = rss_mb(), cpu_seconds()
        started = time.monotonic()
        read = asyncio.run(run(rt, seller_id, generated["reportId"], parse_only))
        seconds, cpu = time.monotonic() - started, cpu_seconds() - cpu
    return {
        "rows": read, "mb": mb, "upsert": not parse_only, "seconds": round(seconds, 2),
        "rows_per_s": round(read / seconds), "mb_per_s": round(read * ROW_BYTES / 1e6 / seconds, 1),
        "cpu_seconds": round(cpu, 2), "rows_per_cpu_s": round(read / cpu),
        "peak_rss_mb": round(rss_mb(), 1), "baseline_rss_mb": round(baseline, 1),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mb", type=float, default=1000.0,
                        help="uncompressed size of the generated report (default 1000)")
    parser.add_argument("--parse-only", action="store_true",
                        help="download + inflate + TSV parse only (no mapping, no writes)")
    opts = parser.parse_args(argv)
    quiet()
    figures = measure(opts.mb, opts.parse_only)
    print(json.dumps(figures), flush=True)
    return figures


if __name__ == "__main__":
    main()

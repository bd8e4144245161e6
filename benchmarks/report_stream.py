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

Then, in the same run, the ceiling (issue 19): the same document is read again, its lines
grouped and mapped the same way, and each batch ``COPY``-ed straight into the emptied
``orders`` and ``order_items`` (their keys, foreign keys and indexes; ``jsonb`` encoded as
the write path encodes it) in one transaction a batch, as many rows a batch as the sink
writes. Only the COPY transactions are timed: ``ceiling_rows_per_s`` = lines / those
seconds, what one writer can put into these tables at all; ``ratio`` = ``rows_per_s`` /
that. The rest of that pass (download, inflate, parse, map) is timed apart:
``read_map_rows_per_s``, and ``turns_ratio`` = COPY seconds / (COPY seconds + those), the
ratio a process reaches when its reading side and its writes take turns at those speeds.
``--parallel N`` then ingests N other sellers' reports of the same size at once, one process
each (as N workers would): ``parallel_rows_per_s`` (all lines / wall time) and
``parallel_speedup`` (that / one report's ``rows_per_s``); the wall time runs from the first
ingest's start to the last one's end, the processes' start-up left out.

Figures: ``rows`` read, ``seconds``, ``rows_per_s``, ``mb_per_s`` (uncompressed), and
``peak_rss_mb`` = this process's peak resident set (``ru_maxrss``) - everything it ever held,
imports included, read before the ceiling pass; ``baseline_rss_mb`` is the same reading just
before the ingest starts. The simulator and Postgres run in their own processes and are not
counted there; where Postgres runs on this machine, ``backend_cpu_seconds`` is what the
ingest's backend spent (``/proc``), and ``cores_busy`` = (``cpu_seconds`` + that) /
``seconds``: how much of the machine one ingest keeps busy (``parallel_cores_busy`` the
same for the ``--parallel`` ingests together). ``ceiling_backend_cpu_seconds`` is what the
backend spent in the ceiling pass: the server's cost of these rows in this schema, which no
write path can go below. ``parallel_bound`` = this machine's cores / ``cores_busy``: the
most any number of reports at once can reach beside one report, if a line costs them the
CPU it costs one report alone (``parallel_speedup`` is judged against it, not against the
number of processes). ``loadavg_1m`` before the ingest. Asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import resource
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from benchmarks.services import (
    bench_redis,
    log,
    quiet,
    register_sim_sellers,
    scratch_databases,
    sim_runtime,
    simulator,
)
from benchmarks.upsert import copy_rows
from simulator.remote import SimulatorClient
from worker.db import reports as reports_db
from worker.db.models import Order, OrderItem
from worker.db.reports import ReportRecord, ReportRequest
from worker.db.rows import with_seller
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


def backend_cpu(conn: Connection) -> float | None:
    """CPU seconds (user + system) so far of ``conn``'s Postgres backend, read from
    ``/proc`` when Postgres runs on this machine (the machine's or the embedded one); None
    where it does not."""
    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    conn.rollback()
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
            return None  # another machine's process numbers (a container, say)
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spent(before: float | None, after: float | None) -> float | None:
    """The backend's CPU seconds between two :func:`backend_cpu` readings (None: unknown)."""
    return None if before is None or after is None else after - before


async def run(rt: Runtime, seller_id: int, report_id: str, parse_only: bool,
              ceiling: bool = False) -> dict[str, Any]:
    """Ingest (or only parse) the report; with ``ceiling``, then the COPY ceiling pass."""
    async with rt.spapi() as client:
        with rt.engine.connect() as conn:
            with conn.begin():
                seller = get_seller(conn, seller_id, rt.keyring)
                req = ReportRequest(report_types.ORDERS_BY_UPDATE,
                                    tuple(seller.marketplace_ids), purpose="benchmark")
                report = reports_db.record_request(conn, seller_id, req, report_id)
            job = ReportJob(client, conn, seller, poll=PollPolicy.of(rt.settings))
            report = await wait_processed(job, report)
            backend, cpu = backend_cpu(conn), cpu_seconds()
            started = time.monotonic()
            if not parse_only:
                read = (await ingest(job, report)).rows_read
            else:
                read = 0
                async for _ in table_rows(await _document(job, report)):
                    read += 1
            out: dict[str, Any] = {"read": read, "seconds": time.monotonic() - started,
                                   "peak_rss_mb": rss_mb(), "cpu_seconds": cpu_seconds() - cpu}
            after = backend_cpu(conn)
            out["backend_cpu_seconds"] = _spent(backend, after)
            if ceiling:
                (out["ceiling_lines"], out["ceiling_seconds"],
                 out["read_map_seconds"]) = await copy_ceiling(job, report)
                out["ceiling_backend_cpu_seconds"] = _spent(after, backend_cpu(conn))
            return out


async def _document(job: ReportJob, report: ReportRecord) -> Any:
    body = await job.call("getReportDocument",
                          path_params={"reportDocumentId": report.document_id or ""})
    return lines(job.client.download(body["url"]),
                 gzip=body.get("compressionAlgorithm") == "GZIP")


async def copy_ceiling(job: ReportJob, report: ReportRecord) -> tuple[int, float, float]:
    """The report's lines again, grouped and mapped by the orders sink, each batch COPY-ed
    straight into the emptied tables: (lines, seconds spent in the COPY transactions,
    seconds spent on the rest: download, inflate, parse, map)."""
    with job.conn.begin():
        job.conn.execute(text("TRUNCATE orders, order_items"))
    started = time.perf_counter()
    sink = report_types.OrdersSink(report, report_types.BATCH_ROWS)
    read, seconds, version = 0, 0.0, [1]
    async for row in table_rows(await _document(job, report)):
        read += 1
        sink.accept(row)
        if sink.ready():
            seconds += _copy_batch(job.conn, report.seller_id, sink.orders, version)
            sink.orders = []
    sink._close_group()  # the document's last order
    seconds += _copy_batch(job.conn, report.seller_id, sink.orders, version)
    return read, seconds, time.perf_counter() - started - seconds


def _copy_batch(conn: Connection, seller_id: int, orders: list[Any], version: list[int]
                ) -> float:
    started = time.perf_counter()
    orders_rows = [with_seller(order, seller_id) for order, _ in orders]
    items = [with_seller(item, seller_id) for _, its in orders for item in its]
    with conn.begin(), conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        version[0] = copy_rows(cur, Order.__tablename__, orders_rows, version[0])
        version[0] = copy_rows(cur, OrderItem.__tablename__, items, version[0])
    return time.perf_counter() - started


def _ingest_child(db_url: str, redis_url: str, sim_url: str, token_keys: str, seller_id: int,
                  report_id: str) -> tuple[int, float, float, float | None]:
    """One seller's report ingested in a process of its own (``--parallel``): lines read,
    when its ingest started and ended (wall clock; process start-up excluded), and the CPU
    seconds it and its backend spent on it (None: the backend's are not known here)."""
    quiet()
    rt = sim_runtime(db_url, redis_url, sim_url, token_keys=token_keys)
    gc.freeze()  # as a worker's pool child does at its start (worker/app.py)
    started = time.time()
    ran = asyncio.run(run(rt, seller_id, report_id, parse_only=False))
    backend = ran["backend_cpu_seconds"]
    return (int(ran["read"]), started, time.time(),
            None if backend is None else ran["cpu_seconds"] + backend)


def measure(mb: float, parse_only: bool, parallel: int = 1) -> dict[str, Any]:
    rows = max(1, int(mb * 1_000_000 / ROW_BYTES))
    with bench_redis() as (redis_url, _), scratch_databases(1) as (db_url,), \
            simulator(sellers=1 + (parallel if parallel > 1 else 0), time_scale=1000,
                      orders_per_seller=1) as sim_url:
        rt = sim_runtime(db_url, redis_url, sim_url)
        sellers = list(register_sim_sellers(rt, sim_url).items())
        spid, seller_id = sellers[0]
        log(f"generating a report of {rows:,} rows ({mb:g} MB uncompressed)...")
        sim = SimulatorClient(sim_url, timeout=3600)
        generated = sim.generate_report(spid, rows, prerender=True)
        log("generated; ingesting...")
        load = os.getloadavg()[0]
        gc.freeze()  # as a worker's pool child does at its start (worker/app.py)
        baseline = rss_mb()
        ran = asyncio.run(run(rt, seller_id, generated["reportId"], parse_only,
                              ceiling=not parse_only))
        read, seconds, cpu = ran["read"], ran["seconds"], ran["cpu_seconds"]
        out: dict[str, Any] = {
            "rows": read, "mb": mb, "upsert": not parse_only, "seconds": round(seconds, 2),
            "rows_per_s": round(read / seconds),
            "mb_per_s": round(read * ROW_BYTES / 1e6 / seconds, 1),
            "cpu_seconds": round(cpu, 2), "rows_per_cpu_s": round(read / cpu),
            "peak_rss_mb": round(ran["peak_rss_mb"], 1), "baseline_rss_mb": round(baseline, 1),
            "loadavg_1m": round(load, 2),
        }
        if ran["backend_cpu_seconds"] is not None:  # how much of the machine it kept busy
            out["backend_cpu_seconds"] = round(ran["backend_cpu_seconds"], 2)
            out["cores_busy"] = round((cpu + ran["backend_cpu_seconds"]) / seconds, 2)
        if "ceiling_seconds" in ran:
            out["ceiling_rows_per_s"] = round(ran["ceiling_lines"] / ran["ceiling_seconds"])
            out["ratio"] = round(out["rows_per_s"] / out["ceiling_rows_per_s"], 3)
            if ran["ceiling_backend_cpu_seconds"] is not None:
                out["ceiling_backend_cpu_seconds"] = round(ran["ceiling_backend_cpu_seconds"], 2)
            out["read_map_rows_per_s"] = round(ran["ceiling_lines"] / ran["read_map_seconds"])
            # the best ratio one process reaches when the reading side and the writes take
            # turns (each at its measured speed): COPY time / (COPY time + reading time)
            out["turns_ratio"] = round(ran["ceiling_seconds"] / (
                ran["ceiling_seconds"] + ran["read_map_seconds"]), 3)
        if parallel > 1 and not parse_only:
            out |= _parallel(rt, sim_url, sellers[1:], rows, out["rows_per_s"])
            if "cores_busy" in out:  # the most that reports at once can reach here
                out["parallel_bound"] = round(len(os.sched_getaffinity(0)) / out["cores_busy"], 2)
    return out


def _parallel(rt: Runtime, sim_url: str, sellers: list[tuple[str, int]], rows: int,
              one: float) -> dict[str, Any]:
    """Each seller's report (``rows`` rows) ingested at the same time, a process each."""
    log(f"--parallel: generating {len(sellers)} more reports...")
    sim = SimulatorClient(sim_url, timeout=3600)
    reports = [(seller_id, sim.generate_report(spid, rows, prerender=True)["reportId"])
               for spid, seller_id in sellers]
    keys = rt.settings.token_keys.get_secret_value()  # type: ignore[union-attr]
    s = rt.services
    log("--parallel: ingesting them at once...")
    with ProcessPoolExecutor(len(reports), mp_context=multiprocessing.get_context("spawn")) as pool:
        ran = list(pool.map(_ingest_child, *zip(*[
            (s.database_url, s.redis_url, sim_url, keys, seller_id, rid)
            for seller_id, rid in reports], strict=True)))
    read = sum(r for r, _, _, _ in ran)
    seconds = max(end for _, _, end, _ in ran) - min(start for _, start, _, _ in ran)
    rate = read / seconds
    out = {"parallel": len(reports), "parallel_rows": read,
           "parallel_rows_per_s": round(rate), "parallel_speedup": round(rate / one, 2)}
    busy = [cpu for _, _, _, cpu in ran if cpu is not None]
    if len(busy) == len(ran):
        out["parallel_cores_busy"] = round(sum(busy) / seconds, 2)
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mb", type=float, default=1000.0,
                        help="uncompressed size of the generated report (default 1000)")
    parser.add_argument("--parse-only", action="store_true",
                        help="download + inflate + TSV parse only (no mapping, no writes)")
    parser.add_argument("--parallel", type=int, default=1,
                        help="then N other sellers' reports of the same size at once")
    opts = parser.parse_args(argv)
    if opts.mb <= 0 or not 1 <= opts.parallel <= 8:
        parser.error("--mb must be > 0 and --parallel between 1 and 8")
    quiet()
    figures = measure(opts.mb, opts.parse_only, opts.parallel)
    print(json.dumps(figures), flush=True)
    return figures


if __name__ == "__main__":
    main()

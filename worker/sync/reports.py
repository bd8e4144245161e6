"""The Reports API lifecycle: create, poll, fetch the document, stream it into the mirror.

``createReport`` -> the id is committed to ``reports`` at once (a restarted worker polls the
same report instead of creating a second) -> ``getReport`` with growing pauses until
``DONE`` / ``CANCELLED`` / ``FATAL`` -> ``getReportDocument`` -> download the presigned URL,
inflate and parse while it arrives (:mod:`report_parse`), write in batches through the
report type's sink (:mod:`report_types`). Memory stays flat however large the report.

- ``CANCELLED`` (Amazon had no data) is a normal outcome: ``ingest_status = 'no_data'``.
- ``FATAL``: the error document's text is stored in ``reports.error``.
- An expired document URL (403) is fetched again with a new ``getReportDocument``. Every
  download starts from the first line: writes are newer-wins upserts and ``report_rows``
  are keyed by line, so a second pass rewrites nothing.
- A document that ends early (truncated GZIP) or breaks off is downloaded again; if it
  keeps failing the report is marked ``failed`` and a re-run asks for a new one. Orders are
  written only once all their rows were read, so no order is ever half-written.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Generator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import structlog
from sqlalchemy import Connection
from sqlalchemy import text as sql

from worker.config import Settings
from worker.db import reports as reports_db
from worker.db.reports import ReportRecord, ReportRequest
from worker.db.sellers import SellerRecord
from worker.db.upsert import run
from worker.ratelimit.bucket import Priority
from worker.spapi.client import SellerAuth, SpApiClient
from worker.spapi.documents import DocumentUrlExpiredError
from worker.spapi.errors import MalformedResponseError, RetriableError, ServerError, SpApiError
from worker.sync import brand_analytics, json_stream
from worker.sync.fields import parse_time
from worker.sync.report_parse import TruncatedDocumentError, lines, table_rows
from worker.sync.report_types import (
    BATCH_ROWS,
    JSON_TYPES,
    SALES_AND_TRAFFIC,
    Counts,
    json_rows,
    sink_for,
)
from worker.sync.sales_traffic import write_document
from worker.sync.windows import iso

log = structlog.get_logger(__name__)

PROCESSING = ("IN_QUEUE", "IN_PROGRESS")
MAX_DOWNLOADS = 3
ERROR_TEXT_LIMIT = 4000
MAX_JSON_BYTES = 512 * 1024 * 1024
ANALYZE_AFTER = 10  # batches (of 1,000 rows): a longer ingest ends by refreshing statistics
# A batch being written is advanced every STEP_ROWS lines read (it pauses twice: while its
# new orders, then their items, are being stored), so the server stores one batch while the
# next is read and mapped.
STEP_ROWS = BATCH_ROWS // 2


class ReportFailedError(SpApiError):
    """A report ended FATAL, or its document could not be read: the report row says why
    (``fatal``: a FATAL report's error document, as text)."""

    fatal: str | None = None


class ReportRefusedError(SpApiError):
    """Amazon refused the seller a report type through a FATAL report whose error says the
    seller is not entitled to it (a kind's ``ReportStream.refusal``): the stream is disabled
    as for a 403 ``Unauthorized`` (:func:`worker.sync.service.refused`)."""


class ReportStillProcessingError(RetriableError):
    """Amazon had not finished the report ``give_up_after`` seconds after it was asked for: the
    report is marked ``failed`` and the next run asks for a new one."""


class ReportPending(Exception):
    """Amazon is still preparing the report and the run has waited as long as it may
    (``PollPolicy.hold``): the run lets its worker go and comes back in ``again_in`` seconds
    (or when ``REPORT_PROCESSING_FINISHED`` says the report is done); the report's row keeps
    its id, so that run polls the same report."""

    def __init__(self, report: ReportRecord, again_in: float) -> None:
        super().__init__(f"report {report.report_id} is {report.processing_status}")
        self.again_in = again_in


@dataclass(frozen=True)
class PollPolicy:
    first: float = 5.0  # seconds before the first getReport
    factor: float = 1.5
    longest: float = 60.0
    give_up_after: float = 3600.0  # after the request: then a new report is asked for
    hold: float | None = None  # a run waits at most this long, then lets go (None: until done)

    @classmethod
    def of(cls, settings: Settings, *, hold: bool = False) -> PollPolicy:
        """The configured policy; ``hold``: a stream run's (it lets its worker go after
        ``report_hold_seconds``), else a backfill's (it waits until the report is done)."""
        return cls(first=settings.report_poll_seconds, longest=settings.report_poll_max_seconds,
                   give_up_after=settings.report_wait_max_seconds,
                   hold=settings.report_hold_seconds if hold else None)

    def pause(self, age: float) -> float:
        """The pause before the next getReport of a report asked for ``age`` seconds ago:
        pauses grow by ``factor`` from ``first`` up to ``longest``, wherever a run starts."""
        return min(max(age * (self.factor - 1), self.first), self.longest)


@dataclass
class ReportJob:
    """What every step needs: who, with which client and connection, at which priority."""

    client: SpApiClient
    conn: Connection
    seller: SellerRecord
    priority: Priority = Priority.INCREMENTAL
    poll: PollPolicy = PollPolicy()
    on_batch: Callable[[Counts], None] | None = None  # progress, after each committed batch
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @property
    def auth(self) -> SellerAuth:
        return SellerAuth(self.seller.selling_partner_id, self.seller.region,
                          self.seller.refresh_token or "")

    async def call(self, operation: str, **kw: Any) -> Any:
        response = await self.client.call(self.auth, operation, priority=self.priority, **kw)
        return response.body


async def run_report(job: ReportJob, req: ReportRequest) -> ReportRecord:
    """The whole lifecycle for one request; a finished request is not asked again."""
    report = await obtain(job, req)
    if report.finished:
        return report
    report = await wait_processed(job, report)
    return await ingest(job, report)


async def obtain(job: ReportJob, req: ReportRequest) -> ReportRecord:
    """The report for ``req``: the one already asked for (done or in progress), or a new one."""
    with job.conn.begin():
        known = reports_db.reusable(job.conn, job.seller.id, req)
    if known is not None:
        if not known.finished:
            log.info("report.resume", report_type=req.report_type, report_id=known.report_id,
                     status=known.processing_status)
        return known
    body: dict[str, Any] = {"reportType": req.report_type,
                            "marketplaceIds": list(req.marketplace_ids)}
    if req.start is not None:
        body["dataStartTime"] = iso(req.start)
    if req.end is not None:
        body["dataEndTime"] = iso(req.end)
    if req.options:
        body["reportOptions"] = dict(req.options)
    created = await job.call("createReport", body=body)
    report_id = created.get("reportId") if isinstance(created, dict) else None
    if not isinstance(report_id, str) or not report_id:
        raise MalformedResponseError("createReport response has no reportId",
                                     operation="createReport")
    with job.conn.begin():
        report = reports_db.record_request(job.conn, job.seller.id, req, report_id)
    log.info("report.created", report_type=req.report_type, report_id=report_id)
    return report


async def wait_processed(job: ReportJob, report: ReportRecord) -> ReportRecord:
    """Poll ``getReport`` with growing pauses until Amazon is done with it.

    A report polled before (a run that let go, or a killed one) is polled at once. With
    ``job.poll.hold``, a run that would wait past it raises :class:`ReportPending` instead;
    a report still processing ``give_up_after`` seconds after it was asked for is marked
    ``failed``, so the next run asks for a new one (Amazon can leave a report IN_QUEUE for
    hours)."""
    if report.processing_status not in PROCESSING:
        return report
    pause, waited = (job.poll.first if report.polls == 0 else 0.0), 0.0
    while True:
        if pause:
            await job.sleep(pause)
            waited += pause
        body = await job.call("getReport", path_params={"reportId": report.report_id})
        status, document_id, ended = _processing(body)
        with job.conn.begin():
            reports_db.record_status(job.conn, report.id, status, document_id, ended)
            report = reports_db.get(job.conn, report.id)
        if status not in PROCESSING:
            log.info("report.processed", report_id=report.report_id, status=status)
            return report
        age = report.age()
        if age >= job.poll.give_up_after:
            if status == "IN_QUEUE":  # Amazon never started it: take it out of its queue
                await _cancel(job, report)
            _finish(job, report, "failed", f"still {status} {age:.0f}s after it was asked for")
            raise ReportStillProcessingError(
                f"report still {status} {age:.0f}s after it was asked for; the next run asks "
                "for a new one", operation="getReport")
        pause = job.poll.pause(age)
        if job.poll.hold is not None and waited + pause > job.poll.hold:
            log.info("report.pending", report_id=report.report_id, status=status,
                     again_in=round(pause, 1))
            raise ReportPending(report, pause)


async def _cancel(job: ReportJob, report: ReportRecord) -> None:
    """``cancelReport`` (only an IN_QUEUE report can be cancelled); best effort: a refusal
    or a failure leaves the report to Amazon, and the run gives it up all the same."""
    try:
        await job.call("cancelReport", path_params={"reportId": report.report_id})
    except SpApiError as exc:
        log.warning("report.cancel_failed", report_id=report.report_id,
                    error_type=type(exc).__name__)
        return
    log.info("report.cancelled", report_id=report.report_id)


def _processing(body: Any) -> tuple[str, str | None, datetime | None]:
    if not isinstance(body, dict) or not isinstance(body.get("processingStatus"), str):
        raise MalformedResponseError("getReport response has no processingStatus",
                                     operation="getReport")
    status: str = body["processingStatus"]
    document_id = body.get("reportDocumentId")
    if document_id is not None and not isinstance(document_id, str):
        raise MalformedResponseError("getReport reportDocumentId is not a string",
                                     operation="getReport")
    ended = body.get("processingEndTime")
    return status, document_id, (parse_time(ended, "processingEndTime") if ended else None)


async def ingest(job: ReportJob, report: ReportRecord) -> ReportRecord:
    """Bring a processed report into the mirror (or record why there is nothing to bring)."""
    status = report.processing_status
    if status == "CANCELLED":
        return _finish(job, report, "no_data")
    if status == "FATAL":
        text = await _error_text(job, report) if report.document_id else "no error document"
        _finish(job, report, "failed", f"FATAL: {text}")
        failed = ReportFailedError(f"report {report.report_id} ended FATAL",
                                   operation="getReport")
        failed.fatal = text
        raise failed
    if status != "DONE" or not report.document_id:
        raise MalformedResponseError(f"report is {status} without a document",
                                     operation="getReport")
    last: SpApiError | None = None
    for attempt in range(1, MAX_DOWNLOADS + 1):
        url, gzip = await _document(job, report.document_id)
        with job.conn.begin():
            reports_db.start_download(job.conn, report.id)
        try:
            await _load(job, report, url, gzip)
        except (DocumentUrlExpiredError, TruncatedDocumentError, ServerError) as exc:
            last = exc
            log.warning("report.download_retry", report_id=report.report_id, attempt=attempt,
                        error_type=type(exc).__name__)
            continue
        done = _finish(job, report, "ingested")
        log.info("report.ingested", report_id=report.report_id, rows=done.rows_read,
                 written=done.rows_written, rejected=done.rows_rejected)
        return done
    _finish(job, report, "failed", f"{type(last).__name__}: {last.detail if last else ''}")
    raise ReportFailedError(f"report {report.report_id} document could not be read "
                            f"in {MAX_DOWNLOADS} downloads", operation="getReportDocument")


def _finish(job: ReportJob, report: ReportRecord, status: str,
            error: str | None = None) -> ReportRecord:
    with job.conn.begin():
        reports_db.finish(job.conn, report.id, status, error)
        return reports_db.get(job.conn, report.id)


async def _document(job: ReportJob, document_id: str) -> tuple[str, bool]:
    body = await job.call("getReportDocument", path_params={"reportDocumentId": document_id})
    url = body.get("url") if isinstance(body, dict) else None
    if not isinstance(url, str) or not url:
        raise MalformedResponseError("getReportDocument response has no url",
                                     operation="getReportDocument")
    return url, body.get("compressionAlgorithm") == "GZIP"


async def _load(job: ReportJob, report: ReportRecord, url: str, gzip: bool) -> None:
    if report.report_type in brand_analytics.TYPES:  # hundreds of MB: streamed, not joined
        await _load_streamed(job, report, job.client.download(url), gzip)
        return
    document = lines(job.client.download(url), gzip=gzip)
    first = await anext(document, None)
    if first is None:
        raise MalformedResponseError("report document is empty")
    source = _again(first, document)
    if report.report_type in JSON_TYPES or first.lstrip().startswith(("{", "[")):
        await _load_json(job, report, source)
        return
    sink = sink_for(report)
    batches = since = 0
    pending: Generator[None, None, None] | None = None  # the batch being written, paused
    try:
        async for row in table_rows(source):
            sink.accept(row)
            since += 1
            if pending is not None and since % STEP_ROWS == 0:
                pending = _step(pending)
            if sink.ready():
                done, pending = pending, None
                if done is not None:
                    run(done)
                batch = _batch_steps(job, report, partial(sink.write_steps, final=False))
                pending, since = _step(batch), 0
                batches += 1
    finally:  # whatever stopped the reading, a batch sent whole is kept
        if pending is not None:
            run(pending)
    run(_batch_steps(job, report, partial(sink.write_steps, final=True)))
    if batches >= ANALYZE_AFTER:
        _analyze(job.conn, sink.tables)


def _batch_steps(job: ReportJob, report: ReportRecord,
                 write: Callable[[Connection], Generator[None, None, Counts]],
                 ) -> Generator[None, None, None]:
    """One batch written by ``write`` (a sink's :meth:`Sink.write_steps`) and committed with
    the report's counters, as steps: it pauses while the server stores rows it sent, and
    the caller reads the next batch meanwhile, so reading and writing overlap instead of
    taking turns. The transaction stays open until the last step; nothing else runs on the
    connection before then."""
    with job.conn.begin():
        counts = yield from write(job.conn)
        reports_db.add_counts(job.conn, report.id, read=counts.read, written=counts.written,
                              rejected=counts.rejected)
    if job.on_batch:
        job.on_batch(counts)


def _step(steps: Generator[None, None, None]) -> Generator[None, None, None] | None:
    """``steps`` advanced to its next pause; None once it has ended."""
    try:
        next(steps)
    except StopIteration:
        return None
    return steps


def _analyze(conn: Connection, tables: tuple[str, ...]) -> None:
    """Refresh the planner's statistics of the tables a long ingest grew, once it is done,
    where autovacuum will not (off for the server or the table): the readers' queries need
    them. Where it runs, autovacuum analyzes a table that grew by a tenth within a minute,
    in a process of its own, so the ingest does not pay for it (12 % of the backend's time
    on an 80,000-line report, issue 19).

    The ingest itself does not need them: every lookup it makes goes by primary key (the
    newer-wins filter, ``ON CONFLICT``, the vanished items' delete). Before, a query for a
    batch's existing items turned into a whole-table scan as the table grew without
    statistics (2,000 orders/s instead of 8,000 on a 4 M-row report), and the ingest
    analyzed every 100 batches (issue 19, ``benchmarks/README.md``).
    """
    with conn.begin():
        found = conn.execute(sql(
            "SELECT c.relname, current_setting('autovacuum'), current_setting('track_counts'), "
            "c.reloptions FROM pg_class c WHERE c.relname = ANY(:tables) "
            "AND c.relkind IN ('r', 'p') AND pg_catalog.pg_table_is_visible(c.oid)"),
            {"tables": list(tables)}).all()
        unattended = sorted(name for name, server, counts, options in found
                            if not autovacuumed(server, counts, options))
        if unattended:
            conn.execute(sql(f"ANALYZE {', '.join(unattended)}"))


_OFF = frozenset({"off", "false", "no", "0", "f", "n", "of"})


def autovacuumed(autovacuum: str, track_counts: str, reloptions: list[str] | None) -> bool:
    """Whether autovacuum analyzes a table, from the server's ``autovacuum`` and
    ``track_counts`` settings and the table's ``reloptions`` (``autovacuum_enabled``). Pure."""
    if autovacuum.lower() in _OFF or track_counts.lower() in _OFF:
        return False
    for option in reloptions or ():
        name, _, value = option.partition("=")
        if name.strip().lower() == "autovacuum_enabled" and value.strip().lower() in _OFF:
            return False
    return True


async def _load_json(job: ReportJob, report: ReportRecord, source: AsyncIterable[str]) -> None:
    """JSON reports (sales and traffic, a few others) are aggregates: parsed whole."""
    parts, size = [], 0
    async for text in source:
        size += len(text)
        if size > MAX_JSON_BYTES:
            raise MalformedResponseError("JSON report document is larger than 512 MB")
        parts.append(text)
    try:
        doc = json.loads("\n".join(parts))
    except json.JSONDecodeError:
        raise MalformedResponseError("JSON report document does not parse") from None
    if report.report_type == SALES_AND_TRAFFIC:  # typed tables (worker/sync/sales_traffic.py)
        _commit(job, report, lambda conn: write_document(conn, report, doc))
        return
    rows = json_rows(doc)

    def write(conn: Connection) -> Counts:
        rejected = sum(1 for r in rows if r["error"])
        return Counts(read=len(rows), written=reports_db.add_rows(conn, report, rows),
                      rejected=rejected)

    _commit(job, report, write)


async def _load_streamed(job: ReportJob, report: ReportRecord, chunks: AsyncIterable[bytes],
                         gzip: bool) -> None:
    """A large JSON report parsed as it arrives (:mod:`json_stream`), its entries written in
    batches by its sink: memory stays flat whatever the document's size."""
    sink = brand_analytics.BrandAnalyticsSink(report)
    parser = json_stream.JsonEntries(sink.section)
    batches, line = 0, 0
    async with aclosing(json_stream.entries(chunks, gzip=gzip, parser=parser)) as entries:
        async for entry in entries:
            line += 1
            sink.accept_entry(line, entry)
            if sink.ready():
                _commit(job, report, lambda conn: sink.flush(conn, final=False))
                batches += 1
    _commit(job, report, lambda conn: sink.flush(conn, final=True))
    sink.check(parser.specification)
    if batches >= ANALYZE_AFTER:
        _analyze(job.conn, sink.tables)


def _commit(job: ReportJob, report: ReportRecord, write: Callable[[Connection], Counts]) -> None:
    """One batch written by ``write`` at once and committed (:func:`_batch_steps`, no
    pause)."""
    def steps(conn: Connection) -> Generator[None, None, Counts]:
        yield from ()
        return write(conn)

    run(_batch_steps(job, report, steps))


async def _again(first: str, rest: AsyncIterable[str]) -> AsyncIterator[str]:
    yield first
    async for text in rest:
        yield text


async def _error_text(job: ReportJob, report: ReportRecord) -> str:
    """A FATAL report's error document, as text (capped)."""
    url, gzip = await _document(job, report.document_id or "")
    parts, size = [], 0
    async with aclosing(lines(job.client.download(url), gzip=gzip)) as source:
        async for text in source:
            parts.append(text)
            size += len(text)
            if size > ERROR_TEXT_LIMIT:
                break  # aclosing ends the download now
    return "\n".join(parts)[:ERROR_TEXT_LIMIT]

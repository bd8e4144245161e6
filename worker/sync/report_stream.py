"""One run of a report stream: a kind read by asking Amazon for a report on every run
(:class:`~worker.sync.declaration.ReportStream`; returns, reimbursements, fees, ledger, any
report type configured in ``SPSYNC_REPORT_STREAMS``).

Amazon back-dates the rows of these reports (a return is recorded days after it happened), so
each run asks from the cursor minus the kind's ``overlap`` (its look-back) up to the run's
start minus its ``lag``, in windows of at most its ``max_span``, as the paged streams do
(:func:`~worker.sync.windows.next_window`). The window is committed to ``sync_state`` before
the report is asked for, and the report's id to ``reports`` as soon as Amazon returns it: a
worker killed while Amazon works on the report (or while it is being read) leaves a run that
resumes the same report, never asks for a second. Each finished window moves the cursor, in
the same transaction as the run's counters. A window that would move the cursor less than
:data:`MIN_STEP` is not asked for: reports are slow and their quota small. A ``daily`` kind
(sales and traffic) asks one report per UTC day of the window (:func:`requests_for`). A
kind with ``periods`` (Brand Analytics) asks for whole reporting periods instead, once each
has been published (:meth:`ReportStreamRun._run_periods`), and may ask several reports of a
period (``batches``: search query performance's ASIN lists).

A run does not hold its worker process while Amazon prepares a report: after
``SPSYNC_REPORT_HOLD_SECONDS`` it ends (``Totals.pending``; the service re-arms the stream for
the next poll) and the next run polls the same report, made due early by Amazon's
``REPORT_PROCESSING_FINISHED`` (:func:`stream_of`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Connection

from worker.db import state
from worker.db.reports import ReportRecord, ReportRequest
from worker.db.sellers import SellerRecord
from worker.db.state import Checkpoint
from worker.spapi.client import SpApiClient
from worker.sync import registry
from worker.sync.declaration import ReportStream, StreamKind, UnknownStreamError
from worker.sync.periods import Period, due
from worker.sync.reports import (
    PollPolicy,
    ReportFailedError,
    ReportJob,
    ReportPending,
    ReportRefusedError,
    run_report,
)
from worker.sync.runner import Totals
from worker.sync.windows import Window, WindowPolicy, iso, next_window

log = structlog.get_logger(__name__)

# A report is asked for only when it moves the cursor at least this far: a run that comes due
# again minutes later (a retry, a notification) asks Amazon for nothing.
MIN_STEP = timedelta(minutes=10)


def purpose(kind: StreamKind, window_end: datetime | None = None) -> str:
    """A stream's reports' ``reports.purpose``: ``stream:<kind>``, and ``@<window end>`` for a
    daily kind's (:func:`requests_for`)."""
    return f"stream:{kind.name}" + (f"@{iso(window_end)}" if window_end is not None else "")


def stream_of(report_purpose: str, marketplace_ids: list[str]) -> str | None:
    """The ``sync_state.stream`` whose run asked for a report, from its row (None: not a
    stream's, or a kind no longer synced here)."""
    if not report_purpose.startswith("stream:"):
        return None
    try:
        kind = registry.kind(report_purpose.removeprefix("stream:").partition("@")[0])
    except UnknownStreamError:
        return None
    if kind.report is None or not kind.synced:
        return None
    if not kind.per_marketplace:
        return kind.stream()
    return kind.stream(marketplace_ids[0]) if len(marketplace_ids) == 1 else None


def request_for(kind: StreamKind, report: ReportStream, marketplace_ids: tuple[str, ...],
                window: Window) -> ReportRequest:
    """What createReport is asked for one window (a snapshot kind: no dates)."""
    start, end = (window.start, window.end) if report.windowed else (None, None)
    return ReportRequest(report.report_type, marketplace_ids, start, end, report.options,
                         purpose=purpose(kind))


def requests_for(kind: StreamKind, report: ReportStream, marketplace_ids: tuple[str, ...],
                 window: Window) -> list[ReportRequest]:
    """The reports of one window: one, or one per UTC day it touches for a ``daily`` kind.

    A whole day inside two runs' windows would be the same request both times, and a
    finished request is not asked again (:func:`worker.db.reports.reusable`): the purpose
    names the window's end, so each run asks again for the days of its look-back while a
    resumed run finds the reports it already asked for."""
    if not report.daily:
        return [request_for(kind, report, marketplace_ids, window)]
    return [ReportRequest(report.report_type, marketplace_ids, d.start, d.end, report.options,
                          purpose=purpose(kind, window.end)) for d in days(window)]


def days(window: Window) -> list[Window]:
    """The UTC days ``window`` touches, each clipped to it (a day ends a second before the
    next midnight: Amazon reads dataEndTime's date, time ignored)."""
    out, start = [], window.start
    while start < window.end:
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        out.append(Window(start, min(window.end, midnight - timedelta(seconds=1))))
        start = midnight
    return out


@dataclass
class ReportStreamRun:
    """One run of a report kind's stream for one seller, on a connection holding its lock."""

    kind: StreamKind
    stream: str
    conn: Connection
    client: SpApiClient
    seller: SellerRecord
    run_id: int
    policy: WindowPolicy
    now: Callable[[], datetime]
    poll: PollPolicy = field(default_factory=PollPolicy)
    totals: Totals = field(default_factory=Totals)

    async def run(self) -> Totals:
        try:
            return await self._run()
        except ReportPending as pending:  # the window and the report's id are committed
            self.totals.pending = timedelta(seconds=pending.again_in)
            return self.totals

    async def _run(self) -> Totals:
        report = self.kind.report
        if report is None:
            raise ValueError(f"stream kind {self.kind.name!r} is not read through reports")
        market = self.kind.marketplace_of(self.stream)
        markets = (market,) if market else tuple(self.seller.marketplace_ids)
        job = ReportJob(self.client, self.conn, self.seller, poll=self.poll)
        if report.periods:
            return await self._run_periods(job, report, markets)
        started = self.now()  # the cursor never passes the run's start: every run ends
        with self.conn.begin():
            cp = state.load_checkpoint(self.conn, self.seller.id, self.stream)
        while True:
            if cp.window_start is None or cp.window_end is None:
                w = next_window(cp.cursor, started, self.policy)
                if w is None or (cp.cursor is not None and w.end - cp.cursor < MIN_STEP):
                    return self.totals
                cp = Checkpoint(cp.cursor, w.start, w.end, None)
                with self.conn.begin():  # the window first: a resumed run asks for the same
                    state.save_checkpoint(self.conn, self.seller.id, self.stream, cp)
                self.totals.windows += 1
            window = Window(cp.window_start, cp.window_end)  # type: ignore[arg-type]
            requests = requests_for(self.kind, report, markets, window)
            for n, req in enumerate(requests, start=1):
                done = await run_report(job, req)
                with self.conn.begin():
                    if n == len(requests):  # the window's last report moves the cursor
                        cp = Checkpoint(window.end, None, None, None)
                        state.save_checkpoint(self.conn, self.seller.id, self.stream, cp)
                    state.add_to_run(self.conn, self.run_id, pages=1,
                                     rows_written=done.rows_written)
                self._count(done)

    def _count(self, done: ReportRecord) -> None:
        self.totals.pages += 1
        self.totals.rows += done.rows_written
        log.info("sync.report", report_id=done.report_id, rows=done.rows_read,
                 written=done.rows_written, rejected=done.rows_rejected,
                 status=done.ingest_status)

    async def _run_periods(self, job: ReportJob, report: ReportStream,
                           markets: tuple[str, ...]) -> Totals:
        """Whole periods (Brand Analytics): each published period after the cursor, its
        reports (one per batch of options), then the cursor at the period's end. The period
        is committed as the window first, so a killed run resumes the same reports; a
        finished period is never asked again (the cursor, and ``reports.reusable``)."""
        name = self.policy.period or report.periods[0]
        with self.conn.begin():
            cp = state.load_checkpoint(self.conn, self.seller.id, self.stream)
        # A killed run's period is the first after the cursor again: its requests are the
        # same, so reports.reusable finds the reports it asked for.
        for period in due(name, cp.cursor, self.now(), self.policy.lag, report.first_reach):
            requests = self._period_requests(report, markets, period)
            if not requests:  # nothing to ask yet (no ASINs listed): the cursor stays
                return self.totals
            with self.conn.begin():
                state.save_checkpoint(self.conn, self.seller.id, self.stream,
                                      Checkpoint(cp.cursor, period.start, period.after, None))
            self.totals.windows += 1
            for n, req in enumerate(requests, start=1):
                done = await self._one(job, report, req)
                if done is None:  # not published yet: the next run asks again
                    return self.totals
                with self.conn.begin():
                    if n == len(requests):
                        cp = Checkpoint(period.after, None, None, None)
                        state.save_checkpoint(self.conn, self.seller.id, self.stream, cp)
                    state.add_to_run(self.conn, self.run_id, pages=1,
                                     rows_written=done.rows_written)
                self._count(done)
        return self.totals

    def _period_requests(self, report: ReportStream, markets: tuple[str, ...],
                         period: Period) -> list[ReportRequest]:
        options = (*report.options, ("reportPeriod", period.name))
        if report.batches is None:
            batches: list[tuple[tuple[str, str], ...]] = [()]
        else:
            with self.conn.begin():
                batches = report.batches(self.conn, self.seller.id, markets[0])
        return [ReportRequest(report.report_type, markets, period.start, period.end,
                              (*options, *extra), purpose=purpose(self.kind))
                for extra in batches]

    async def _one(self, job: ReportJob, report: ReportStream,
                   req: ReportRequest) -> ReportRecord | None:
        """The report of ``req`` ingested; None when Amazon has not published its period yet
        (a FATAL matching ``unpublished``); a refusal raises :class:`ReportRefusedError`."""
        try:
            return await run_report(job, req)
        except ReportFailedError as exc:
            if report.unpublished and exc.fatal and re.search(report.unpublished, exc.fatal,
                                                              re.IGNORECASE):
                log.info("sync.report_unpublished", report_type=req.report_type,
                         start=iso(req.start) if req.start else None)
                return None
            if report.refusal and exc.fatal and re.search(report.refusal, exc.fatal,
                                                          re.IGNORECASE):
                raise ReportRefusedError(
                    f"Amazon refused {req.report_type}: {exc.fatal.strip()[:300]}",
                    operation="createReport", code="FATAL") from exc
            raise

"""Backfill history through the Reports API: one report holds what thousands of pages would.

Which report fills which stream, and how, is declared with the stream's kind
(:class:`~worker.sync.declaration.Backfill` in :mod:`worker.sync.registry`). History
(``orders``, ``sales-traffic``) is split into windows of at most 30 days (what the orders
flat file accepts), reaching back no further than Amazon keeps the data (:func:`earliest`:
two years), aligned on ``--since`` so a re-run asks for the same windows: a window whose
report was already ingested is skipped, one still in progress is resumed (never asked
twice), a failed one is asked again. Snapshots (``listings``, ``inventory``) are one report
per marketplace. Reports are created ahead of the one being ingested (Amazon works on them
meanwhile), at backfill priority, so the incremental syncs of the same seller keep their
share of the quota.

When a backfill of a kind that ``hands_over`` (orders) reaches ``until`` without a failure,
the kind's stream cursor is moved up to it (when the stream has not yet gone further and is
between windows), so API paging only fills the hours the reports do not cover.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from worker.db import reports as reports_db
from worker.db import state
from worker.db.reports import ReportRecord, ReportRequest
from worker.db.sellers import SellerRecord
from worker.ratelimit.bucket import Priority
from worker.runtime import Runtime
from worker.spapi.errors import QuotaWaitTooLong, SpApiError
from worker.sync import registry
from worker.sync.declaration import Backfill, StreamKind, UnknownStreamError
from worker.sync.periods import within
from worker.sync.report_types import Counts
from worker.sync.reports import PollPolicy, ReportJob, ingest, obtain, wait_processed

log = structlog.get_logger(__name__)

LOOKAHEAD = 4  # reports created ahead of the one being ingested
# marketplace -> the extra reportOptions of each of its reports a period (Backfill.batches)
Batches = Callable[[str], list[tuple[tuple[str, str], ...]]]


class BackfillError(ValueError):
    """Bad backfill arguments (stream, dates)."""


def streams() -> list[str]:
    """What ``--stream`` takes: every kind a report can fill."""
    return [k.name for k in registry.backfilled()]


def plan_requests(seller: SellerRecord, stream: str, since: datetime | None,
                  until: datetime, now: datetime | None = None,
                  batches: Batches | None = None) -> list[ReportRequest]:
    """The report requests that cover ``stream`` for ``seller`` from ``since`` to ``until``
    (``now``: the clock Amazon's history is measured from; ``batches``: a kind with
    ``Backfill.batches``, the extra options of each report per marketplace, see
    :func:`batches_of`)."""
    fill = _backfill_of(stream)
    extras = batches or (lambda market: [()])
    purpose = f"backfill:{stream}"
    markets = tuple(seller.marketplace_ids)
    groups = [(m,) for m in markets] if fill.per_marketplace else [markets]
    if fill.window is None:
        return [ReportRequest(fill.report_type, g, purpose=purpose) for g in groups]
    if since is None:
        raise BackfillError(f"--since is required for --stream {stream}")
    if since >= until:
        raise BackfillError("--since must be before --until")
    first = earliest(fill, markets, now or datetime.now(UTC))
    if since < first:  # refused, not clamped: windows are aligned on --since, and a
        # clamp that moves with the clock would never ask for the same windows twice
        raise BackfillError(f"--since {since.date().isoformat()} is older than Amazon "
                            f"keeps {stream} data for these marketplaces: use --since "
                            f"{first.date().isoformat()} or later")
    if fill.period is not None:
        return [ReportRequest(fill.report_type, g, p.start, p.end,
                              (*fill.options, ("reportPeriod", p.name), *extra), purpose)
                for g in groups for p in within(fill.period, since, until - fill.published)
                for extra in extras(g[0])]
    return [ReportRequest(fill.report_type, g, start, end, fill.options, purpose)
            for g in groups for start, end in windows(since, until, fill.window)]


def batches_of(rt: Runtime, seller: SellerRecord, stream: str) -> Batches | None:
    """The per-marketplace report options of a kind whose backfill asks several reports a
    period (``Backfill.batches``, read from the mirror now), else None. A seller with none
    (search query performance: no ASIN listed yet) cannot be backfilled yet: said in one line."""
    fill = _backfill_of(stream)
    if fill.batches is None:
        return None
    with rt.engine.begin() as conn:
        found = {m: fill.batches(conn, seller.id, m) for m in seller.marketplace_ids}
    if not any(found.values()):
        raise BackfillError(f"{stream} asks its reports per listed ASIN and seller "
                            f"{seller.selling_partner_id} has none mirrored yet: let its "
                            "listings sync first")
    return lambda market: found.get(market, [])


def _backfill_of(stream: str) -> Backfill:
    try:
        fill = registry.kind(stream).backfill
    except UnknownStreamError:
        fill = None
    if fill is None:
        raise BackfillError(f"unknown stream {stream!r} (choose from {', '.join(streams())})")
    return fill


def earliest(fill: Backfill, marketplace_ids: tuple[str, ...], now: datetime) -> datetime:
    """The first whole UTC day of the data Amazon still has (see :class:`Backfill`)."""
    if fill.older_start and marketplace_ids and set(marketplace_ids) <= fill.older_markets:
        return fill.older_start
    start = (now - fill.history).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=1)


def windows(since: datetime, until: datetime,
            span: timedelta) -> list[tuple[datetime, datetime]]:
    """``[since, until]`` in consecutive windows of at most ``span``, aligned on ``since``."""
    out, start = [], since
    while start < until:
        end = min(start + span, until)
        out.append((start, end))
        start = end
    return out


@dataclass
class Progress:
    """How far one seller's backfill is; what the CLI prints after every batch and window."""

    seller: str
    stream: str
    total: int
    done: int = 0
    skipped: int = 0  # already ingested by an earlier run
    rows: int = 0
    written: int = 0
    rejected: int = 0
    failures: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def eta_seconds(self) -> float | None:
        worked = self.done - self.skipped
        if worked <= 0:
            return None
        return (time.monotonic() - self.started) / worked * (self.total - self.done)

    def add(self, counts: Counts) -> None:
        self.rows += counts.read
        self.written += counts.written
        self.rejected += counts.rejected


Listener = Callable[[Progress], None]


def describe(p: Progress) -> str:
    """One progress line: ``A1B2 orders: 3/25 windows, 12,345 rows (0 rejected), ETA 4m10s``."""
    eta = p.eta_seconds()
    tail = "" if eta is None or p.done == p.total else f", ETA {duration(eta)}"
    skipped = f", {p.skipped} already done" if p.skipped else ""
    failed = f", {len(p.failures)} failed" if p.failures else ""
    return (f"{p.seller} {p.stream}: {p.done}/{p.total} reports{skipped}{failed}, "
            f"{p.rows:,} rows ({p.written:,} written, {p.rejected:,} rejected){tail}")


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


async def backfill_seller(rt: Runtime, seller: SellerRecord, stream: str,
                          since: datetime | None, until: datetime,
                          on_progress: Listener | None = None) -> Progress:
    """Run ``stream``'s backfill for one seller; failures are listed, not raised."""
    requests = plan_requests(seller, stream, since, until,
                             batches=batches_of(rt, seller, stream))
    progress = Progress(seller.selling_partner_id, stream, len(requests))
    notify = on_progress or (lambda p: None)
    poll = PollPolicy.of(rt.settings)
    queue: asyncio.Queue[ReportRecord | BaseException | None] = asyncio.Queue(LOOKAHEAD)
    async with rt.spapi() as client:
        with rt.engine.connect() as ahead, rt.engine.connect() as behind:
            creator = ReportJob(client, ahead, seller, Priority.BACKFILL, poll)

            def on_batch(counts: Counts) -> None:
                progress.add(counts)
                notify(progress)

            loader = ReportJob(client, behind, seller, Priority.BACKFILL, poll, on_batch)

            async def create_ahead() -> None:
                try:
                    for req in requests:
                        await queue.put(await obtain(creator, req))
                    await queue.put(None)
                except BaseException as exc:  # handed over, so the loader never waits forever
                    await queue.put(exc)
                    raise

            producer = asyncio.create_task(create_ahead())
            try:
                while (item := await queue.get()) is not None:
                    if isinstance(item, BaseException):
                        raise item
                    await _finish_one(loader, item, progress)
                    notify(progress)
            finally:
                producer.cancel()
                await asyncio.gather(producer, return_exceptions=True)
    kind = registry.kind(stream)
    if kind.backfill and kind.backfill.hands_over and not progress.failures \
            and since is not None:
        _hand_over_to_api(rt, seller, kind, since, until)
    return progress


async def _finish_one(job: ReportJob, report: ReportRecord, progress: Progress) -> None:
    if report.finished:
        progress.skipped += 1
    else:
        try:
            report = await ingest(job, await wait_processed(job, report))
        except QuotaWaitTooLong:
            raise  # not this report's failure: the backfill stops; a re-run resumes it
        except SpApiError as exc:
            progress.failures.append(f"report {report.report_id}: {exc.detail}")
            log.error("backfill.window_failed", report_id=report.report_id,
                      error_type=type(exc).__name__)
    progress.done += 1


def _hand_over_to_api(rt: Runtime, seller: SellerRecord, kind: StreamKind, since: datetime,
                      until: datetime) -> None:
    """Move the kind's cursor up to ``until`` when the reports made the gap pointless."""
    stream = kind.stream()
    with rt.engine.connect() as conn:
        if not state.try_lock(conn, seller.id, stream, "backfill"):
            log.info("backfill.cursor_unchanged", reason=f"{stream} sync running")
            return
        try:
            with conn.begin():
                cp = state.load_checkpoint(conn, seller.id, stream)
                if cp.window_start is None and (cp.cursor is None or since <= cp.cursor < until):
                    state.save_checkpoint(conn, seller.id, stream,
                                          state.Checkpoint(until, None, None, None))
                    log.info("backfill.cursor_moved", cursor=until.isoformat())
        finally:
            state.unlock(conn, seller.id, stream)


def dry_run(rt: Runtime, seller: SellerRecord, stream: str, since: datetime | None,
            until: datetime) -> list[tuple[ReportRequest, str]]:
    """What a backfill would do, per request: ``skip`` (ingested), ``resume`` or ``create``."""
    out = []
    with rt.engine.begin() as conn:
        for req in plan_requests(seller, stream, since, until,
                                 batches=batches_of(rt, seller, stream)):
            known = reports_db.reusable(conn, seller.id, req)
            out.append((req, "create" if known is None else
                        "skip" if known.finished else "resume"))
    return out

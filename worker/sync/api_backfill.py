"""Backfill through a stream's own API, for kinds Amazon keeps no history report for
(finances, payouts, settlements, order metrics; declared with
:class:`~worker.sync.declaration.ApiBackfill`).

It is the kind's incremental sync (:class:`~worker.sync.runner.StreamRun`, the same
endpoint, mapper and newer-wins writes), run over ``[--since, --until]`` instead of up to
now, at backfill priority (the incremental syncs of the same seller keep their share of the
quota), with its checkpoint in ``api_backfills`` (:mod:`worker.db.api_backfills`) instead of
``sync_state``: interrupt it and the same command resumes from its last page; run it again
when it is done and nothing is read; give a later ``--until`` and only the new part is read.

While it runs it holds the stream's (seller, stream) lock, so the stream's incremental sync
waits for it (``status`` shows ``locked_by`` ``backfill@...``): two writers of one stream
would break newer-wins for rows without an update time (transactions). A backfill that
finds the sync running waits for it (at most :data:`LOCK_WAIT`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Connection

from worker.db import api_backfills as jobs
from worker.db import state
from worker.db.sellers import SellerRecord
from worker.db.state import Checkpoint
from worker.ratelimit.bucket import Priority
from worker.runtime import Runtime
from worker.spapi.errors import SpApiError
from worker.sync import registry
from worker.sync.backfill import BackfillError, duration
from worker.sync.declaration import ApiBackfill, StreamKind, UnknownStreamError
from worker.sync.runner import StreamRun, Totals
from worker.sync.service import close_run, open_run, worker_name
from worker.sync.windows import WindowPolicy, utc_now

log = structlog.get_logger(__name__)

LOCK_WAIT = timedelta(minutes=10)  # how long a backfill waits for the stream's running sync
LOCK_POLL = 1.0


def kinds() -> list[StreamKind]:
    """The kinds ``backfill`` fills through their own API."""
    return [k for k in registry.KINDS if k.api_backfill is not None]


def streams_of(kind_name: str, seller: SellerRecord) -> list[str]:
    """The streams ``backfill --stream <kind_name>`` fills for ``seller``: the kind's one, or
    one per marketplace of the seller (order metrics)."""
    kind, _ = _fill_of(kind_name)
    return kind.streams(list(seller.marketplace_ids))


def _fill_of(stream: str) -> tuple[StreamKind, ApiBackfill]:
    """The kind of ``stream``: a kind's name, or one of its streams (``kind:<marketplace>``)."""
    try:
        k = registry.kind(stream.partition(":")[0])
    except UnknownStreamError:
        k = None
    if k is None or k.api_backfill is None:
        raise BackfillError(f"stream {stream!r} has no API backfill (choose from "
                            f"{', '.join(k.name for k in kinds())})")
    return k, k.api_backfill


def plan_window(rt: Runtime, stream: str, since: datetime | None, until: datetime,
                now: datetime) -> tuple[datetime, datetime]:
    """``[since, until]`` as the backfill will read it: ``until`` no later than the kind's
    lag before ``now`` (Amazon refuses a window end closer to now); errors name the fix."""
    kind, fill = _fill_of(stream)
    if since is None:
        raise BackfillError(f"--since is required for --stream {stream}")
    until = min(until, now - kind.tuned(rt.settings).lag)
    if since >= until:
        raise BackfillError("--since must be before --until (and before now)")
    if fill.history is not None and since < now - fill.history:
        first = (now - fill.history + timedelta(days=1)).date()
        raise BackfillError(f"--since {since.date().isoformat()} is older than Amazon keeps "
                            f"{stream} data ({fill.history.days} days): use --since "
                            f"{first.isoformat()} or later")
    return since, until


@dataclass
class ApiProgress:
    """How far one seller's API backfill is; what the CLI prints after each page."""

    seller: str
    stream: str
    since: datetime
    until: datetime
    position: datetime
    pages: int = 0
    rows: int = 0
    already_done: bool = False
    failures: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _first: datetime | None = None  # where this run started (its rate gives the ETA)

    @property
    def fraction(self) -> float:
        span = (self.until - self.since).total_seconds()
        return min(1.0, max(0.0, (self.position - self.since).total_seconds() / span))

    def eta_seconds(self) -> float | None:
        first = self._first or self.since
        covered = (self.position - first).total_seconds()
        if covered <= 0:
            return None
        return (time.monotonic() - self.started) / covered * (
            self.until - self.position).total_seconds()

    def at(self, cp: Checkpoint, totals: Totals) -> None:
        if self._first is None:
            self._first = self.position
        self.position = cp.cursor if cp.window_start is None else cp.window_start  # type: ignore[assignment]
        self.pages, self.rows = totals.pages, totals.rows


def describe(p: ApiProgress) -> str:
    """``A1B2 finances 2025-01-01..2026-12-04: at 2025-06-30 (35%), 12 pages, 4,321 rows``."""
    head = f"{p.seller} {p.stream} {p.since:%Y-%m-%d}..{p.until:%Y-%m-%d}"
    if p.already_done:
        return f"{head}: already done"
    eta = p.eta_seconds()
    tail = "" if eta is None or p.fraction >= 1 else f", ETA {duration(eta)}"
    failed = f", failed: {p.failures[-1]}" if p.failures else ""
    return (f"{head}: at {p.position:%Y-%m-%d %H:%M} ({p.fraction:.0%}), {p.pages:,} pages, "
            f"{p.rows:,} rows{tail}{failed}")


async def backfill_api(rt: Runtime, seller: SellerRecord, stream: str, since: datetime | None,
                       until: datetime, on_progress: Callable[[ApiProgress], None] | None = None,
                       *, now: Callable[[], datetime] = utc_now,
                       lock_wait: timedelta = LOCK_WAIT) -> ApiProgress:
    """Backfill ``stream`` (a ``sync_state.stream`` of the seller: ``finances``,
    ``order-metrics:<marketplace>``) for one seller; a failure is listed in the result, not
    raised."""
    start, end = plan_window(rt, stream, since, until, now())
    kind, fill = _fill_of(stream)
    if not kind.owns(stream) or stream not in kind.streams(list(seller.marketplace_ids)):
        raise BackfillError(f"{stream!r} is not a stream of seller "
                            f"{seller.selling_partner_id} (its streams of {kind.name}: "
                            f"{', '.join(streams_of(kind.name, seller))})")
    notify = on_progress or (lambda p: None)
    progress = ApiProgress(seller.selling_partner_id, stream, start, end, start)
    worker = f"backfill@{worker_name()}"
    with rt.engine.connect() as conn:
        if not await _lock(conn, seller.id, stream, worker, lock_wait):
            progress.failures.append(f"the {stream} sync held the stream for "
                                     f"{lock_wait.total_seconds():g} s; try again")
            return progress
        try:
            with conn.begin():
                job = jobs.open_job(conn, seller.id, stream, start, end)
            progress.until = job.until
            progress.position = job.cursor or start
            if job.done:
                progress.already_done = True
                return progress
            await _run(rt, conn, seller, kind, fill, job, worker, progress, notify)
        finally:
            state.unlock(conn, seller.id, stream)
    return progress


async def _lock(conn: Connection, seller_id: int, stream: str, worker: str,
                wait: timedelta) -> bool:
    deadline = time.monotonic() + wait.total_seconds()
    while not state.try_lock(conn, seller_id, stream, worker):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(LOCK_POLL)
    return True


async def _run(rt: Runtime, conn: Connection, seller: SellerRecord, kind: StreamKind,
               fill: ApiBackfill, job: jobs.Job, worker: str, progress: ApiProgress,
               notify: Callable[[ApiProgress], None]) -> None:
    tuning = kind.tuned(rt.settings)
    policy = WindowPolicy(lag=timedelta(0), overlap=fill.overlap,
                          max_span=min(tuning.max_span, fill.window or tuning.max_span),
                          initial=job.until - job.since)
    run_id = open_run(rt, conn, seller.id, job.stream, worker)

    def on_page(cp: Checkpoint, totals: Totals) -> None:
        progress.at(cp, totals)
        notify(progress)

    async with rt.spapi(run_id=run_id) as client:
        run = StreamRun(kind.spec(job.stream, kind.version_of(seller)), conn, client, seller,
                        run_id, policy, tuning.page_size, now=lambda: job.until,
                        checkpoints=jobs.JobCheckpoints(seller.id, job.stream, job.since),
                        priority=Priority.BACKFILL, on_page=on_page)
        try:
            await run.run()
        except SpApiError as exc:  # QuotaWaitTooLong too: the same command resumes it
            close_run(rt, conn, run_id, kind.name, client, "failed", exc)
            with conn.begin():
                jobs.finish(conn, seller.id, job.stream, job.since, error=str(exc)[:2000])
            progress.failures.append(str(exc))  # names operation, status, code: no secret
            log.error("backfill.api_failed", stream=job.stream, error_type=type(exc).__name__)
            return
        except BaseException as exc:
            close_run(rt, conn, run_id, kind.name, client, "failed", exc)
            raise
        close_run(rt, conn, run_id, kind.name, client, "succeeded", None)
        with conn.begin():
            jobs.finish(conn, seller.id, job.stream, job.since, error=None)
    progress.position = job.until
    notify(progress)

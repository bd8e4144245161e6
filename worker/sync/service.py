"""Run one sync of one (seller, stream): lock, run the stream, record the outcome.

This is what the ``spsync.sync_stream`` task calls. It is plain Python so tests call it
directly; the task only adds Celery's retry on top.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection

from worker.db import sellers, state
from worker.metrics import SYNC_RUNS
from worker.runtime import Runtime
from worker.spapi.client import SpApiClient
from worker.spapi.errors import (
    AuthError,
    InvalidGrantError,
    QuotaWaitTooLong,
    RetriableError,
    SpApiError,
)
from worker.sync import calls
from worker.sync.catalog import Plan, plan
from worker.sync.refresh_run import RefreshRun
from worker.sync.report_stream import ReportStreamRun
from worker.sync.reports import PollPolicy, ReportRefusedError
from worker.sync.runner import StreamRun, Totals
from worker.sync.windows import utc_now

log = structlog.get_logger(__name__)


FELL_BACK = "fell-back"
# A refresh kind waiting for its keys' streams' first sync (Refresh.after) looks again after
# this long (or its interval, if shorter): a couple of queries, no call to Amazon.
WAIT_FOR_SOURCES = timedelta(minutes=1)


@dataclass(frozen=True)
class Outcome:
    status: str  # succeeded | failed | skipped | deferred (| fell-back, within run_stream)
    totals: Totals
    error: str | None = None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_stream(rt: Runtime, seller_id: int, stream: str,
                     now: Callable[[], datetime] = utc_now) -> Outcome:
    """Sync ``stream`` for ``seller_id`` until caught up. Never runs twice at once.

    ``now`` is the clock the run's windows are cut against (tests move it forward instead
    of waiting out Amazon's lag or a token's lifetime)."""
    with rt.engine.connect() as conn:
        with conn.begin():
            seller = sellers.get_seller(conn, seller_id, rt.keyring)
        stream_plan = plan(rt.settings, seller, stream)  # unknown stream: fail before locking
        structlog.contextvars.bind_contextvars(seller=seller.selling_partner_id, stream=stream)
        try:
            if not seller.enabled:
                return Outcome("skipped", Totals(), "seller disabled")
            if not state.try_lock(conn, seller_id, stream, worker_name()):
                log.info("sync.busy")  # another worker holds it; it will finish the job
                with conn.begin():
                    state.rearm(conn, seller_id, stream, stream_plan.interval)
                return Outcome("skipped", Totals(), "already running")
            try:
                outcome = await _locked_run(rt, conn, seller, stream_plan, now)
                if outcome.status == FELL_BACK:  # the same run, on the version it moved to
                    with conn.begin():
                        seller = sellers.get_seller(conn, seller_id, rt.keyring)
                    stream_plan = plan(rt.settings, seller, stream)
                    outcome = await _locked_run(rt, conn, seller, stream_plan, now)
                return outcome
            finally:
                state.unlock(conn, seller_id, stream)
        finally:
            structlog.contextvars.unbind_contextvars("seller", "stream")


def open_run(rt: Runtime, conn: Connection, seller_id: int, stream: str, worker: str) -> int:
    """A new ``sync_runs`` row for a run that holds the (seller, stream) lock; runs a dead
    worker left ``running`` are closed first, with the calls they sent after their last page."""
    with conn.begin():
        lost = state.reap_lost_runs(conn, seller_id, stream)
    if lost:
        log.warning("sync.resuming_after_lost_worker")
        with rt.redis() as r:
            calls.settle(conn, r, lost)  # what the dead worker sent after its last page
    with conn.begin():
        return state.start_run(conn, seller_id, stream, worker)


async def _locked_run(
    rt: Runtime, conn: Connection, seller: sellers.SellerRecord, stream_plan: Plan,
    now: Callable[[], datetime],
) -> Outcome:
    stream, interval = stream_plan.stream, stream_plan.interval
    label = stream_plan.kind.name  # metrics count runs by kind: bounded label values
    run_id = open_run(rt, conn, seller.id, stream, worker_name())
    async with rt.spapi(run_id=run_id) as client:
        job: StreamRun[Any] | ReportStreamRun | RefreshRun
        if stream_plan.kind.report is not None:
            job = ReportStreamRun(stream_plan.kind, stream, conn, client, seller, run_id,
                                  stream_plan.policy, now, PollPolicy.of(rt.settings, hold=True))
        elif stream_plan.spec is None:  # a refresh kind: its overlap is its maximum age
            job = RefreshRun(stream_plan.kind, stream, conn, client, seller, run_id,
                             stream_plan.policy.overlap, now)
        else:
            job = StreamRun(stream_plan.spec, conn, client, seller, run_id, stream_plan.policy,
                            stream_plan.page_size, now=now)
        try:
            totals = await job.run()
        except QuotaWaitTooLong as exc:
            close_run(rt, conn, run_id, label, client, "deferred", exc)
            raise
        except InvalidGrantError as exc:
            close_run(rt, conn, run_id, label, client, "failed", exc)
            with conn.begin():
                sellers.disable_seller(conn, seller.id, f"invalid_grant: {exc.detail}")
                state.finish_sync(conn, seller.id, stream, next_due_in=interval, error=str(exc))
            log.error("sync.seller_disabled", reason="invalid_grant")
            return Outcome("failed", job.totals, str(exc))
        except SpApiError as exc:
            close_run(rt, conn, run_id, label, client, "failed", exc)
            fallback = _fallback(stream_plan, seller, exc)
            if fallback is not None:
                with conn.begin():
                    sellers.set_api_version(conn, seller.id, stream_plan.kind.version_setting,
                                            fallback)
                    state.forget_token(conn, seller.id, stream)  # another API's token
                log.warning("sync.api_fallback", operation=exc.operation, code=exc.code,
                            to=fallback)
                return Outcome(FELL_BACK, job.totals, str(exc))
            with conn.begin():
                state.finish_sync(conn, seller.id, stream, next_due_in=interval, error=str(exc))
                if refused(exc):  # this stream only: the seller's others go on
                    state.disable_stream(conn, seller.id, stream, refusal(exc))
                    log.error("sync.stream_disabled", operation=exc.operation)
            log.error("sync.failed", error_type=type(exc).__name__, error=str(exc))
            if isinstance(exc, RetriableError):
                raise
            return Outcome("failed", job.totals, str(exc))
        except Exception as exc:  # a bug or a database outage: record it, then let it surface
            close_run(rt, conn, run_id, label, client, "failed", exc)
            raise
        if totals.pending is not None:  # Amazon is preparing its report: back at the next poll
            close_run(rt, conn, run_id, label, client, "deferred", None)
            with conn.begin():
                state.rearm(conn, seller.id, stream, min(interval, totals.pending))
            log.info("sync.report_pending", again_in=totals.pending.total_seconds())
            return Outcome("deferred", totals, "waiting for Amazon to prepare the report")
        close_run(rt, conn, run_id, label, client, "succeeded", None)
        if totals.waiting_for:  # a refresh before its keys' streams synced: again soon
            with conn.begin():
                state.rearm(conn, seller.id, stream, min(interval, WAIT_FOR_SOURCES))
            log.info("sync.waiting", waiting_for=totals.waiting_for)
            return Outcome("skipped", totals, f"waiting for {', '.join(totals.waiting_for)}")
        with conn.begin():
            state.finish_sync(conn, seller.id, stream, next_due_in=interval, error=None)
    log.info("sync.done", pages=totals.pages, rows=totals.rows, children=totals.children,
             api_calls=client.stats.calls, throttled=client.stats.throttled)
    return Outcome("succeeded", totals)


def refused(exc: SpApiError) -> bool:
    """Amazon refuses the seller this operation for good: 403 ``Unauthorized`` after a fresh
    access token (the client retried once with one), i.e. a role, a registration (brand
    registry) or an API the seller's authorization lacks."""
    if isinstance(exc, ReportRefusedError):  # a FATAL report saying so (ReportStream.refusal)
        return True
    return (isinstance(exc, AuthError) and not isinstance(exc, InvalidGrantError)
            and exc.code == "Unauthorized")


def refusal(exc: SpApiError) -> str:
    """What ``status`` shows for a stream disabled by :func:`refused`."""
    if isinstance(exc, ReportRefusedError):
        return (f"{exc.detail}; `sellers enable` or a new authorization tries again")
    return (f"Amazon refused {exc.operation or 'the call'} ({exc.status} {exc.code}): the "
            "seller's authorization lacks a role or access it needs; `sellers enable` or a "
            "new authorization tries again")


def _fallback(stream_plan: Plan, seller: sellers.SellerRecord, exc: SpApiError) -> str | None:
    """The API version to move ``seller`` to when Amazon refused it the stream's operation
    (403 ``Unauthorized`` after a fresh access token: the seller may not use that API), if
    the kind declares one and the seller is not on it yet; else None."""
    kind = stream_plan.kind
    if (not refused(exc) or kind.fallback is None or exc.operation != stream_plan.operation
            or kind.version_of(seller) == kind.fallback):
        return None
    return kind.fallback


def close_run(
    rt: Runtime, conn: Connection, run_id: int, label: str, client: SpApiClient, status: str,
    error: BaseException | None,
) -> None:
    if conn.in_transaction():
        conn.rollback()  # a page that failed half-way never reaches the mirror
    SYNC_RUNS.labels(label, status).inc()
    with conn.begin():
        state.finish_run(conn, run_id, status, error=error, api_calls=client.stats.calls,
                         throttled=client.stats.throttled, retries=client.stats.retries)
    with rt.redis() as r:
        calls.forget(r, run_id)  # the row has the final count

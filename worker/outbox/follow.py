"""After the send: reconciling ``sending`` rows whose answer is missing, and polling
``polling`` rows until Amazon's asynchronous operation ends.

Both claim a due row (SKIP LOCKED) by moving its ``next_attempt_at`` one lease ahead and
committing, then only *read* from Amazon. A reader that dies leaves a row that is simply
due again later, and two readers of the same row would do no harm.

A ``sending`` row is due once its answer is known to be lost (``Timing.settle`` after
that) or once its lease has run out (its sender died). What happens next:

- the effect is visible -> ``accepted``, with ``response.reconciled`` and the evidence;
- Amazon certainly did not apply it (the order does not exist) -> ``failed``;
- not visible (yet) -> look again after ``Timing.settle``, until
  ``Timing.reconcile_window`` after ``sent_at``; then ``unknown``, for an operator;
- no way to read it (createInboundPlan) -> ``unknown`` at once.

A ``polling`` row (createInboundPlan) asks getInboundOperationStatus. SUCCESS gives
``accepted``, FAILED gives ``rejected`` (the ``operationProblems`` stay in
``response.operationStatus``). IN_PROGRESS polls again after a pause that grows with the
operation's age, and after ``Timing.poll_timeout`` the row becomes ``unknown``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from worker.db import state
from worker.outbox import store
from worker.outbox.commands import COMMANDS
from worker.outbox.context import Context, entered, log
from worker.outbox.reconcile import READERS, Finding
from worker.spapi.errors import InputError, NotFoundError, SpApiError

UNKNOWN_ADVICE = ("check it in Seller Central, then set status to 'pending' to send it again "
                  "or to 'failed'")


async def reconcile_next(ctx: Context) -> bool:
    """Reconcile the oldest due ``sending`` row; False when none is due."""
    row = _claim(ctx, "sending")
    if row is None:
        return False
    if row.problem is not None:
        _unreadable(ctx, row)
        return True
    reader = READERS.get(row.command)
    if reader is None:
        _settle(ctx, row, "unknown", error=f"{row.error or 'the sending worker stopped'}; a "
                f"{row.command} cannot be matched to Amazon's state: {UNKNOWN_ADVICE}")
        return True
    try:
        finding = await reader(ctx.client, ctx.auth(row.seller_id), row.params)
    except SpApiError as exc:  # could not look now (quota included): look again later
        _later(ctx, row, ctx.timing.settle)
        log.warning("outbox.reconcile_deferred", outbox_id=row.id, command=row.command,
                    error_type=type(exc).__name__)
        return True
    _conclude(ctx, row, finding)
    return True


def _conclude(ctx: Context, row: store.Row, finding: Finding) -> None:
    response = {"reconciled": True, "checkedWith": finding.checked_with,
                "evidence": finding.evidence}
    lost = row.error or "the sending worker stopped before recording Amazon's answer"
    if finding.applied:
        _settle(ctx, row, "accepted", response=response)
    elif finding.applied is False:
        _settle(ctx, row, "failed", response=response,
                error=f"{lost}; Amazon's state shows it was not applied")
    elif _age(ctx, row) >= ctx.timing.reconcile_window:
        _settle(ctx, row, "unknown", response={**response, "reconciled": False},
                error=f"{lost}; the effect is not visible {_age(ctx, row).total_seconds():.0f}s"
                      f" after sending: {UNKNOWN_ADVICE}")
    else:
        _later(ctx, row, ctx.timing.settle)


async def poll_next(ctx: Context) -> bool:
    """Poll the operation of the oldest due ``polling`` row; False when none is due."""
    row = _claim(ctx, "polling")
    if row is None:
        return False
    if row.problem is not None:
        _unreadable(ctx, row)
        return True
    try:
        resp = await ctx.client.call(ctx.auth(row.seller_id), "getInboundOperationStatus",
                                     path_params={"operationId": str(row.operation_id)})
    except (NotFoundError, InputError) as exc:
        _settle(ctx, row, "unknown", expect="polling",
                error=f"getInboundOperationStatus failed ({type(exc).__name__}: {exc}): "
                      f"{UNKNOWN_ADVICE}")
        return True
    except SpApiError:  # transient (quota included): poll again later
        _later(ctx, row, timedelta(seconds=ctx.timing.poll_delay(_age(ctx, row))))
        return True
    status = resp.body.get("operationStatus") if isinstance(resp.body, dict) else None
    response = {**(row.response or {}), "operationStatus": resp.body}
    if status == "SUCCESS":
        _settle(ctx, row, "accepted", expect="polling", response=response)
    elif status == "FAILED":
        _settle(ctx, row, "rejected", expect="polling", response=response,
                error="the operation FAILED: see response.operationStatus.operationProblems")
    elif _age(ctx, row) >= ctx.timing.poll_timeout:
        _settle(ctx, row, "unknown", expect="polling", response=response,
                error=f"the operation is still {status} after "
                      f"{_age(ctx, row).total_seconds():.0f}s: {UNKNOWN_ADVICE}")
    else:
        _later(ctx, row, timedelta(seconds=ctx.timing.poll_delay(_age(ctx, row))))
    return True


def _claim(ctx: Context, status: str) -> store.Row | None:
    now = ctx.now()
    with ctx.conn.begin():
        row = store.claim_due(ctx.conn, status, now, ctx.timing.lease, ctx.visited)
        if row is not None:
            ctx.visited.add(row.id)
            ctx.seller(row.seller_id)
    return row


def _unreadable(ctx: Context, row: store.Row) -> None:
    """A row sent already whose stored params or response were since made unreadable (by
    an UPDATE): it may have been applied, and nothing can be matched against it."""
    _settle(ctx, row, "unknown", expect=row.status,
            error=f"cannot be followed, {row.problem}: {UNKNOWN_ADVICE}")


def _age(ctx: Context, row: store.Row) -> timedelta:
    return ctx.now() - row.sent_at if row.sent_at else timedelta(0)


def _later(ctx: Context, row: store.Row, pause: timedelta) -> None:
    with ctx.conn.begin():
        store.postpone(ctx.conn, row.id, ctx.now() + pause)


def _settle(ctx: Context, row: store.Row, status: str, *, expect: str = "sending",
            response: dict[str, Any] | None = None, error: str | None = None) -> None:
    with ctx.conn.begin():
        moved = store.record(ctx.conn, row.id, status, now=ctx.now(), expect=(expect,),
                             response=response, error=error)
        streams = COMMANDS[row.command].streams(row.params) if status == "accepted" else []
        for stream in streams if moved else []:
            state.make_stream_due(ctx.conn, row.seller_id, stream)  # the mirror catches up
    if moved:
        entered(row.command, status, row.id, ctx.seller(row.seller_id).selling_partner_id,
                error=error)

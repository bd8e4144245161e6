"""Sending one ``pending`` command, at most once.

1. Claim (one transaction, committed before anything leaves). Claim the oldest due
   ``pending`` row (:func:`worker.outbox.store.claim_due`: SKIP LOCKED, its lease pushed
   ahead) and check its ``params``. Bad params, or params that
   cannot even be read (too deep, too large: :mod:`worker.db.jsonlimits`), make the row
   ``rejected`` with the reason, and nothing is sent. Otherwise the row becomes
   ``sending`` with ``attempts + 1``, ``sent_at``, ``claimed_by``, and
   ``next_attempt_at = now + lease`` (the time after which it may be reconciled).
2. Send through ``SpApiClient.call(idempotent=False)``, which shares the sync's buckets
   and tokens. The client retries only what Amazon certainly did not apply. The whole
   send is cut at ``Timing.send_deadline``.
3. Record the outcome in one transaction, only under this attempt's claim:

   - a 2xx Amazon can read -> ``accepted`` (the mirror's streams it changes are made due),
     ``rejected`` (a listings submission Amazon found INVALID; its issues stay in
     ``response``), or ``polling`` (createInboundPlan: its operation is followed);
   - certainly not applied and worth another try (429 after the client's retries, quota
     too far out, no connection, an LWA hiccup) -> back to ``pending`` later, or
     ``failed`` after ``Timing.max_attempts`` attempts;
   - certainly not applied and final (Amazon's 4xx, the seller's authorization gone) ->
     ``failed``, with Amazon's error in ``response``;
   - anything else (5xx, timeout, reset, an unreadable 2xx: the write may have been
     applied) -> the answer is lost. The row stays ``sending`` with its ``error`` set and
     is reconciled after ``Timing.settle`` (:mod:`worker.outbox.follow`). It is never
     sent again.

A worker that dies anywhere after step 1 leaves a ``sending`` row, which is reconciled
once its lease has run out. It is not resent either.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from worker.db import state
from worker.db.workqueue import Lease
from worker.outbox import store
from worker.outbox.commands import ACCEPTED, COMMANDS, POLLING, Command
from worker.outbox.context import Context, entered, log
from worker.outbox.params import InvalidParams, check
from worker.outbox.reconcile import READERS
from worker.spapi.client import Response, never_applied
from worker.spapi.errors import (
    MalformedResponseError,
    QuotaWaitTooLong,
    RetriableError,
    ServerError,
    SpApiError,
)

ANSWERED = ("sending", "unknown")  # an answer beats a reconciler's 'unknown' guess


async def send_next(ctx: Context) -> bool:
    """Claim the oldest due ``pending`` command and send it; False when none is due."""
    now = ctx.now()
    problem: str | None = None
    with ctx.conn.begin():
        row = store.claim_due(ctx.conn, "pending", now, ctx.timing.lease, ctx.visited)
        if row is None:
            return False
        ctx.visited.add(row.id)
        seller = ctx.seller(row.seller_id)
        try:
            if row.problem is not None:  # e.g. nested too deep to be read at all
                raise InvalidParams(row.problem)
            check(row.command, row.params, seller.marketplace_ids)
        except InvalidParams as exc:
            problem = str(exc)
            store.record(ctx.conn, row.id, "rejected", now=now, expect=("pending",),
                         error=f"invalid params, not sent: {problem}")
        else:
            claim = store.mark_sending(ctx.conn, row, ctx.worker, now, now + ctx.timing.lease)
    if problem is not None:
        entered(row.command, "rejected", row.id, seller.selling_partner_id, error=problem)
        return True
    entered(row.command, "sending", row.id, seller.selling_partner_id, attempt=claim.attempts)
    await _deliver(ctx, row, claim, COMMANDS[row.command])
    return True


async def _deliver(ctx: Context, row: store.Row, claim: Lease, command: Command) -> None:
    request = command.request(ctx.seller(row.seller_id), row.params)
    try:
        resp = await asyncio.wait_for(ctx.client.call(
            ctx.auth(row.seller_id), command.operation, path_params=request.path_params,
            query=request.query, body=request.body, idempotent=False),
            ctx.timing.send_deadline)
    except QuotaWaitTooLong as exc:  # before the request left, or after a 429: not applied
        _retry_later(ctx, row, claim, f"quota frees up in {exc.wait:.0f}s", exc.wait)
        return
    except TimeoutError:
        _lost(ctx, row, claim, f"no answer within {ctx.timing.send_deadline:.0f}s")
        return
    except SpApiError as exc:
        _refused(ctx, row, claim, command, exc)
        return
    verdict = command.verdict(resp.body) if 200 <= resp.status < 300 else None
    if verdict is None:
        _lost(ctx, row, claim, f"unreadable answer (HTTP {resp.status})")
        return
    _answered(ctx, row, claim, command, resp, verdict)


def _refused(ctx: Context, row: store.Row, claim: Lease, command: Command,
             exc: SpApiError) -> None:
    reason = f"{type(exc).__name__}: {exc}"
    if never_applied(exc, command.operation):
        if isinstance(exc, RetriableError):
            _retry_later(ctx, row, claim, reason, exc.retry_after or 0.0)
        else:  # e.g. the seller's refresh token was revoked: retrying cannot help
            _finish(ctx, row, claim, "failed", error=f"not sent: {reason}")
    elif isinstance(exc, ServerError | MalformedResponseError):
        _lost(ctx, row, claim, reason)
    else:  # Amazon answered 4xx: it did not apply the request
        _finish(ctx, row, claim, "failed", error=f"Amazon refused it: {reason}",
                response=error_response(exc))


def error_response(exc: SpApiError) -> dict[str, Any]:
    return {"httpStatus": exc.status, "requestId": exc.request_id,
            "errors": [{"code": exc.code, "message": exc.detail}]}


def _retry_later(ctx: Context, row: store.Row, claim: Lease, reason: str,
                 wait: float) -> None:
    """Amazon certainly did not apply it: try again later, a bounded number of times."""
    retries = ctx.timing.retries
    if retries.exhausted(claim.attempts):
        _finish(ctx, row, claim, "failed",
                error=f"not applied after {claim.attempts} attempts; last: {reason}")
        return
    now = ctx.now()
    delay = max(wait, retries.delay(claim.attempts))
    with ctx.conn.begin():
        moved = store.record(ctx.conn, row.id, "pending", now=now, claim=claim,
                             error=f"not applied, retrying: {reason}",
                             next_attempt_at=now + timedelta(seconds=delay))
    if moved:
        entered(row.command, "pending", row.id, ctx.seller(row.seller_id).selling_partner_id,
                retry_in_s=round(delay, 1), reason=reason)


def _lost(ctx: Context, row: store.Row, claim: Lease, reason: str) -> None:
    """The write may have been applied: never resend; reconcile (or ask a human)."""
    if row.command not in READERS:
        _finish(ctx, row, claim, "unknown", error=f"answer lost ({reason}); a {row.command} "
                "cannot be matched to Amazon's state: check it in Seller Central")
        return
    now = ctx.now()
    with ctx.conn.begin():
        store.record(ctx.conn, row.id, "sending", now=now, claim=claim,
                     error=f"answer lost: {reason}", next_attempt_at=now + ctx.timing.settle)
    log.warning("outbox.answer_lost", outbox_id=row.id, command=row.command, reason=reason,
                seller=ctx.seller(row.seller_id).selling_partner_id)


def _answered(ctx: Context, row: store.Row, claim: Lease, command: Command,
              resp: Response, verdict: str) -> None:
    response = {"httpStatus": resp.status, "requestId": resp.request_id, "body": resp.body}
    if verdict == POLLING:
        now = ctx.now()
        with ctx.conn.begin():
            moved = store.record(
                ctx.conn, row.id, POLLING, now=now, claim=claim, expect=ANSWERED,
                response=response, operation_id=str(resp.body["operationId"]),
                next_attempt_at=now + timedelta(seconds=ctx.timing.poll_first))
        if moved:
            entered(row.command, POLLING, row.id, ctx.seller(row.seller_id).selling_partner_id,
                    request_id=resp.request_id)
        return
    error = None if verdict == ACCEPTED else "Amazon found it INVALID: see response.body.issues"
    _finish(ctx, row, claim, verdict, error=error, response=response,
            streams=command.streams(row.params) if verdict == ACCEPTED else [])


def _finish(ctx: Context, row: store.Row, claim: Lease, status: str, *,
            error: str | None = None, response: dict[str, Any] | None = None,
            streams: list[str] | None = None) -> None:
    with ctx.conn.begin():
        moved = store.record(ctx.conn, row.id, status, now=ctx.now(), claim=claim,
                             expect=ANSWERED, response=response, error=error)
        for stream in (streams or []) if moved else []:
            state.make_stream_due(ctx.conn, row.seller_id, stream)  # the mirror catches up
    seller = ctx.seller(row.seller_id).selling_partner_id
    if moved:
        entered(row.command, status, row.id, seller, error=error)
    else:
        log.warning("outbox.outcome_dropped", outbox_id=row.id, command=row.command,
                    status=status, seller=seller, reason="the row was taken over meanwhile")

"""The ``outbox`` table's reads and writes. Callers own the transactions.

The table is a :class:`~worker.db.workqueue.WorkQueue` on ``next_attempt_at``: rows are
claimed one at a time (:func:`claim_due`: ``FOR UPDATE SKIP LOCKED``, the lease pushed
ahead), so any number of workers can sweep the table without ever holding the same row.
The state a claim writes (the lease; ``sending`` with its attempt counted) is committed
before any request is made. An outcome is recorded only under the claim that produced it
(a :class:`~worker.db.workqueue.Lease`: holder and attempt): a sender whose row was taken
over meanwhile changes nothing.

Reading a row never raises because of what a downstream system put in it. The row is
locked by id first; then its ``params`` are checked in SQL (:mod:`worker.db.jsonlimits`)
and read as text, decoded only when they pass. A row that cannot be read comes back with
``problem`` set (and ``params`` None), for the caller to settle once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, Text, case, cast, select, update
from sqlalchemy.dialects.postgresql import insert

from worker.db.jsonlimits import OUTBOX_PARAMS, decode, sql_problem
from worker.db.models import OutboxCommand, Seller
from worker.db.workqueue import Lease, WorkQueue

TERMINAL = frozenset({"accepted", "rejected", "failed", "unknown"})
QUEUE = WorkQueue(OutboxCommand, OutboxCommand.next_attempt_at, OutboxCommand.attempts,
                  OutboxCommand.claimed_by)


@dataclass(frozen=True)
class Row:
    id: int
    seller_id: int
    command: str
    params: Any  # a dict when the row is sound; None when ``problem`` says why not
    status: str
    attempts: int
    claimed_by: str | None
    sent_at: datetime | None
    operation_id: str | None
    response: dict[str, Any] | None
    error: str | None
    problem: str | None = None  # why the stored params cannot be used, in words


_PROBLEM = sql_problem(OutboxCommand.params, OUTBOX_PARAMS)
# jsonb columns come as text, so that the driver never decodes what the check refused
_COLUMNS = (OutboxCommand.id, OutboxCommand.seller_id, OutboxCommand.command,
            _PROBLEM.label("params_problem"),
            case((_PROBLEM.is_(None), cast(OutboxCommand.params, Text))).label("params_text"),
            OutboxCommand.status, OutboxCommand.attempts,
            OutboxCommand.claimed_by, OutboxCommand.sent_at, OutboxCommand.operation_id,
            cast(OutboxCommand.response, Text).label("response_text"), OutboxCommand.error)


def insert_command(conn: Connection, seller_id: int, command: str, params: dict[str, Any],
                   idempotency_key: str | None) -> int | None:
    """The new row's id; None when ``idempotency_key`` is already taken."""
    stmt = insert(OutboxCommand).values(seller_id=seller_id, command=command, params=params,
                                        idempotency_key=idempotency_key)
    if idempotency_key is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=[OutboxCommand.idempotency_key])
    found = conn.execute(stmt.returning(OutboxCommand.id)).scalar_one_or_none()
    return None if found is None else int(found)


def by_key(conn: Connection, idempotency_key: str) -> Row | None:
    return _read(conn, select(*_COLUMNS).where(OutboxCommand.idempotency_key == idempotency_key))


def get(conn: Connection, outbox_id: int) -> Row | None:
    return _read(conn, select(*_COLUMNS).where(OutboxCommand.id == outbox_id))


def claim_due(conn: Connection, status: str, now: datetime, lease: timedelta,
              skip: Collection[int] = ()) -> Row | None:
    """Claim the oldest due row in ``status`` of an enabled seller: nobody else takes it
    before ``now + lease`` (and, until the transaction ends, at all). ``skip``: ids not to
    take (those a sweep already handled)."""
    claim = QUEUE.claim(
        now, lease=lease, limit=1,
        where=[OutboxCommand.status == status, Seller.enabled.is_(True),
               OutboxCommand.id.not_in(list(skip))],
        join=(Seller, Seller.id == OutboxCommand.seller_id),
        order_by=[OutboxCommand.next_attempt_at, OutboxCommand.id])
    found = conn.execute(claim).first()
    return None if found is None else get(conn, found.id)


def mark_sending(conn: Connection, row: Row, worker: str, now: datetime,
                 reconcile_at: datetime) -> Lease:
    """``pending`` -> ``sending`` with the attempt counted: the one state change that must
    commit before the request."""
    conn.execute(update(OutboxCommand).where(OutboxCommand.id == row.id).values({
        **QUEUE.attempt(), OutboxCommand.status: "sending", OutboxCommand.sent_at: now,
        OutboxCommand.claimed_by: worker, OutboxCommand.next_attempt_at: reconcile_at,
        OutboxCommand.error: None}))
    return Lease(row.attempts + 1, worker)


def postpone(conn: Connection, outbox_id: int, until: datetime) -> None:
    """Hold a claimed ``sending``/``polling`` row: nobody else takes it before ``until``."""
    conn.execute(update(OutboxCommand).where(OutboxCommand.id == outbox_id)
                 .values(next_attempt_at=until))


def record(
    conn: Connection, outbox_id: int, status: str, *, now: datetime,
    claim: Lease | None = None, expect: tuple[str, ...] = ("sending",),
    response: dict[str, Any] | None = None, error: str | None = None,
    operation_id: str | None = None, next_attempt_at: datetime | None = None,
) -> bool:
    """Move a row to ``status`` if it is still in ``expect`` (and, with ``claim``, still
    that attempt's). Whether it moved."""
    values: dict[str, Any] = {"status": status, "error": error}
    if response is not None:
        values["response"] = response
    if operation_id is not None:
        values["operation_id"] = operation_id
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    if status in TERMINAL:
        values["finished_at"] = now
    stmt = update(OutboxCommand).where(OutboxCommand.id == outbox_id,
                                       OutboxCommand.status.in_(expect))
    if claim is not None:
        stmt = stmt.where(*QUEUE.held(claim))
    return bool(conn.execute(stmt.values(**values)).rowcount)


def _read(conn: Connection, query: Select[Any]) -> Row | None:
    row = conn.execute(query).one_or_none()
    if row is None:
        return None
    params, problem = decode(row.params_text, row.params_problem)
    response, unreadable = decode(row.response_text, None) if row.response_text else (None, None)
    return Row(
        id=int(row.id), seller_id=int(row.seller_id), command=str(row.command), params=params,
        status=str(row.status), attempts=int(row.attempts), claimed_by=row.claimed_by,
        sent_at=row.sent_at, operation_id=row.operation_id,
        response=response if isinstance(response, dict) else None, error=row.error,
        problem=f"params: {problem}" if problem else (
            f"response: {unreadable}" if unreadable else None),
    )

"""``notifications_inbox``: every notification once, whatever path brought it (SQS or SNS).

:func:`record` is the one writer of new rows: an insert deduplicated on ``notification_id``.
The caller commits, and only then acknowledges the message at its source (deletes it from
SQS, answers SNS 200), so a crash in between means a redelivery, which :func:`record` absorbs.

Working a row off is the :class:`~worker.db.workqueue.WorkQueue` on ``next_attempt_at``:
:func:`claim` takes one pending row no other worker holds, counts the attempt and pushes
its lease ahead; the caller commits that before refreshing, and records the outcome under
the lease (:func:`done`, :func:`failed`). A failed notification is due again at once (the
next sweep retries it) and parked after :data:`MAX_ATTEMPTS` attempts.

Reading a row never raises because of its payload: :func:`due` lists ids only, and
:func:`claim` checks the payload in SQL (:mod:`worker.db.jsonlimits`) before decoding it,
so one payload too deep for any JSON decoder cannot poison the rows around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Text, case, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert

from worker.db.jsonlimits import INBOX_PAYLOAD, decode, sql_problem
from worker.db.models import Notification, Seller
from worker.db.workqueue import Lease, Retries, WorkQueue
from worker.notifications.envelope import Envelope

MAX_ATTEMPTS = 5  # then the notification is parked: kept with its error, skipped
QUEUE = WorkQueue(Notification, Notification.next_attempt_at, Notification.attempts)
RETRIES = Retries(MAX_ATTEMPTS)  # no pause: the next sweep tries a failed one again


@dataclass(frozen=True)
class Claimed:
    """A notification claimed for one attempt (``lease``): what it says, or why it cannot
    be read (``problem``; then ``payload`` is empty)."""

    id: int
    notification_type: str
    seller_id: int | None
    selling_partner_id: str | None
    payload: dict[str, Any]
    lease: Lease
    problem: str | None = None

    @property
    def attempt(self) -> int:
        return self.lease.attempts


def record(conn: Connection, envelope: Envelope, source: str) -> int | None:
    """Insert ``envelope``; its inbox id, or None when this NotificationId was seen before."""
    seller_id = None
    if envelope.selling_partner_id:
        seller_id = conn.execute(select(Seller.id).where(
            Seller.selling_partner_id == envelope.selling_partner_id)).scalar_one_or_none()
    stmt = insert(Notification).values(
        notification_id=envelope.notification_id,
        notification_type=envelope.notification_type,
        seller_id=seller_id, selling_partner_id=envelope.selling_partner_id,
        event_time=envelope.event_time, source=source, payload=envelope.message,
    ).on_conflict_do_nothing(index_elements=[Notification.notification_id])
    new_id = conn.execute(stmt.returning(Notification.id)).scalar_one_or_none()
    return int(new_id) if new_id is not None else None


def park_invalid(conn: Connection, message_id: str, raw: str, error: str, source: str) -> bool:
    """Keep a message that is not a valid notification, parked at once (once per message)."""
    stmt = insert(Notification).values(
        notification_id=f"invalid:{source}:{message_id}", notification_type="INVALID",
        source=source, payload={"raw": raw[:RAW_CHARS]}, status="parked", attempts=1,
        error=error[:1000],
    ).on_conflict_do_nothing(index_elements=[Notification.notification_id])
    return conn.execute(stmt.returning(Notification.id)).scalar_one_or_none() is not None


# ``message`` in :func:`park_invalid` is cut to this, which stays within INBOX_PAYLOAD even
# when every character is escaped (\u0001: 6 bytes)
RAW_CHARS = 100_000
_PROBLEM = sql_problem(Notification.payload, INBOX_PAYLOAD)


def due(conn: Connection, limit: int = 50) -> list[int]:
    """Ids of pending notifications no worker holds, oldest first."""
    return [int(i) for i in conn.execute(
        select(Notification.id)
        .where(Notification.status == "pending", Notification.next_attempt_at <= func.now())
        .order_by(Notification.received_at, Notification.id).limit(limit)).scalars()]


def claim(conn: Connection, inbox_id: int, lease: timedelta) -> Claimed | None:
    """Claim notification ``inbox_id`` for one attempt, counted, until ``lease`` from now;
    None when it is not pending or another worker holds it. Commit before the refresh."""
    found = conn.execute(QUEUE.claim(
        func.now(), lease=lease, limit=1, count=True,
        where=[Notification.id == inbox_id, Notification.status == "pending"],
        returning=[Notification.attempts])).first()
    return None if found is None else _read(conn, inbox_id, Lease(int(found.attempts)))


def status(conn: Connection, inbox_id: int) -> str | None:
    return conn.execute(select(Notification.status)
                        .where(Notification.id == inbox_id)).scalar_one_or_none()


def done(conn: Connection, note: Claimed) -> bool:
    """The attempt succeeded; False when its lease was lost to another worker meanwhile."""
    return _settle(conn, note, {Notification.status: "done",
                                Notification.processed_at: func.clock_timestamp(),
                                Notification.error: None})


def failed(conn: Connection, note: Claimed, error: str, final: bool = False) -> str | None:
    """Record a failed attempt: the notification is due again at once, or parked after
    :data:`MAX_ATTEMPTS` attempts, or at once when it is ``final`` (retrying cannot help:
    the stored notification is invalid). Its status; None when the lease was lost."""
    parked = final or RETRIES.exhausted(note.attempt)
    values: dict[Any, Any] = {Notification.status: "parked" if parked else "pending",
                              Notification.error: error[:1000],
                              Notification.processed_at: func.now() if parked else None}
    if not parked:
        values |= QUEUE.due_in(timedelta(seconds=RETRIES.delay(note.attempt)))
    return str(values[Notification.status]) if _settle(conn, note, values) else None


def _settle(conn: Connection, note: Claimed, values: dict[Any, Any]) -> bool:
    held = (Notification.id == note.id, Notification.status == "pending",
            *QUEUE.held(note.lease))
    return bool(conn.execute(update(Notification).where(*held).values(values)).rowcount)


def _read(conn: Connection, inbox_id: int, lease: Lease) -> Claimed:
    row = conn.execute(
        select(Notification.notification_type, Notification.seller_id,
               Notification.selling_partner_id, _PROBLEM.label("problem"),
               case((_PROBLEM.is_(None), cast(Notification.payload, Text))).label("text"))
        .where(Notification.id == inbox_id)).one()
    payload, problem = decode(row.text, row.problem)
    if problem is None and not isinstance(payload, dict):
        problem = "not a JSON object"
    return Claimed(inbox_id, row.notification_type, row.seller_id, row.selling_partner_id,
                   payload if problem is None else {}, lease,
                   None if problem is None else f"payload: {problem}")


def received_at(conn: Connection, inbox_id: int) -> datetime:
    return conn.execute(select(Notification.received_at)
                        .where(Notification.id == inbox_id)).scalar_one()

"""``notifications_inbox``: every notification once, whatever path brought it (SQS or SNS).

:func:`record` is the one writer: an insert deduplicated on ``notification_id``. The caller
commits, and only then acknowledges the message at its source (deletes it from SQS, answers
SNS 200), so a crash in between means a redelivery, which :func:`record` absorbs.

Reading a row never raises because of its payload: :func:`claim` takes ids only, and
:func:`lock` checks the payload in SQL (:mod:`worker.db.jsonlimits`) before decoding it,
so one payload too deep for any JSON decoder cannot poison the rows around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Text, case, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert

from worker.db.jsonlimits import INBOX_PAYLOAD, decode, sql_problem
from worker.db.models import Notification, Seller
from worker.notifications.envelope import Envelope

MAX_ATTEMPTS = 5  # then the notification is parked: kept with its error, skipped


@dataclass(frozen=True)
class Pending:
    id: int
    notification_type: str
    seller_id: int | None
    selling_partner_id: str | None
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Locked:
    """A row locked for processing: its status, and the notification, or why it cannot be
    read (``problem``; then ``note.payload`` is empty)."""

    status: str
    note: Pending
    problem: str | None


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


def claim(conn: Connection, limit: int = 50) -> list[int]:
    """Ids of pending notifications, oldest first, that no other transaction holds."""
    return [int(i) for i in conn.execute(
        select(Notification.id).where(Notification.status == "pending")
        .order_by(Notification.received_at, Notification.id).limit(limit)
        .with_for_update(skip_locked=True)).scalars()]


def lock(conn: Connection, inbox_id: int) -> Locked | None:
    """Notification ``inbox_id`` locked for this transaction; None when another holds it
    (SKIP LOCKED) or it does not exist."""
    row = conn.execute(
        select(Notification.notification_type, Notification.seller_id,
               Notification.selling_partner_id, Notification.attempts, Notification.status,
               _PROBLEM.label("problem"),
               case((_PROBLEM.is_(None), cast(Notification.payload, Text))).label("text"))
        .where(Notification.id == inbox_id)
        .with_for_update(skip_locked=True)).one_or_none()
    if row is None:
        return None
    payload, problem = decode(row.text, row.problem)
    if problem is None and not isinstance(payload, dict):
        problem = "not a JSON object"
    note = Pending(inbox_id, row.notification_type, row.seller_id, row.selling_partner_id,
                   payload if problem is None else {}, row.attempts)
    return Locked(str(row.status), note, None if problem is None else f"payload: {problem}")


def done(conn: Connection, inbox_id: int) -> None:
    conn.execute(update(Notification).where(Notification.id == inbox_id).values(
        status="done", processed_at=func.clock_timestamp(), attempts=Notification.attempts + 1,
        error=None))


def failed(conn: Connection, inbox_id: int, error: str, attempts: int,
           final: bool = False) -> str:
    """Record a failed attempt; parks the notification after :data:`MAX_ATTEMPTS`, or at
    once when it is ``final`` (retrying cannot help: the stored notification is invalid)."""
    status = "parked" if final or attempts + 1 >= MAX_ATTEMPTS else "pending"
    conn.execute(update(Notification).where(Notification.id == inbox_id).values(
        status=status, attempts=attempts + 1, error=error[:1000],
        processed_at=func.now() if status == "parked" else None))
    return status


def received_at(conn: Connection, inbox_id: int) -> datetime:
    return conn.execute(select(Notification.received_at)
                        .where(Notification.id == inbox_id)).scalar_one()

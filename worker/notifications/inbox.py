"""``notifications_inbox``: every notification once, whatever path brought it (SQS or SNS).

:func:`record` is the one writer: an insert deduplicated on ``notification_id``. The caller
commits, and only then acknowledges the message at its source (deletes it from SQS, answers
SNS 200), so a crash in between means a redelivery, which :func:`record` absorbs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert

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
        source=source, payload={"raw": raw[:100_000]}, status="parked", attempts=1,
        error=error[:1000],
    ).on_conflict_do_nothing(index_elements=[Notification.notification_id])
    return conn.execute(stmt.returning(Notification.id)).scalar_one_or_none() is not None


def claim(conn: Connection, limit: int = 50) -> list[Pending]:
    """Pending notifications, oldest first, locked for this transaction (SKIP LOCKED)."""
    rows = conn.execute(
        select(Notification.id, Notification.notification_type, Notification.seller_id,
               Notification.selling_partner_id, Notification.payload, Notification.attempts)
        .where(Notification.status == "pending")
        .order_by(Notification.received_at, Notification.id).limit(limit)
        .with_for_update(skip_locked=True)).all()
    return [Pending(r.id, r.notification_type, r.seller_id, r.selling_partner_id,
                    dict(r.payload), r.attempts) for r in rows]


def done(conn: Connection, inbox_id: int) -> None:
    conn.execute(update(Notification).where(Notification.id == inbox_id).values(
        status="done", processed_at=func.clock_timestamp(), attempts=Notification.attempts + 1,
        error=None))


def failed(conn: Connection, inbox_id: int, error: str, attempts: int) -> str:
    """Record a failed attempt; parks the notification after :data:`MAX_ATTEMPTS`."""
    status = "parked" if attempts + 1 >= MAX_ATTEMPTS else "pending"
    conn.execute(update(Notification).where(Notification.id == inbox_id).values(
        status=status, attempts=attempts + 1, error=error[:1000],
        processed_at=func.now() if status == "parked" else None))
    return status


def received_at(conn: Connection, inbox_id: int) -> datetime:
    return conn.execute(select(Notification.received_at)
                        .where(Notification.id == inbox_id)).scalar_one()

"""Working off the inbox: each notification becomes the targeted refresh it asks for.

A notification is locked (``FOR UPDATE SKIP LOCKED``, on its own connection) while its
refresh runs, so the task the consumer enqueued and the periodic sweep never work on the same
one twice at once; a worker that dies leaves it ``pending`` and the sweep retries it (the
refresh is idempotent). A failing notification is retried up to ``inbox.MAX_ATTEMPTS`` times,
then parked with its error: it never blocks the ones behind it. One that can never succeed
(its stored payload too deep or too large to read, not a valid notification of the type its
row names) is parked at once, with the reason, on its first attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Connection, update

from worker.db.models import Report
from worker.db.sellers import UnknownSellerError, find_seller, get_seller
from worker.metrics import NOTIFICATIONS
from worker.notifications import inbox
from worker.notifications.envelope import InvalidNotification, parse
from worker.notifications.refresh import refresh_inventory, refresh_listing, refresh_order
from worker.runtime import Runtime
from worker.spapi.client import SpApiClient

log = structlog.get_logger(__name__)


async def process_one(rt: Runtime, inbox_id: int) -> str:
    """Process notification ``inbox_id`` if it is still pending; its status afterwards."""
    with rt.engine.connect() as lock_conn, lock_conn.begin():
        row = inbox.lock(lock_conn, inbox_id)
        if row is None or row.status != "pending":
            return "skipped" if row is None else row.status
        if row.problem is not None:
            return _park(lock_conn, row.note, row.problem)
        return await _run(rt, lock_conn, row.note)


async def process_pending(rt: Runtime, limit: int = 50) -> int:
    """The sweep: every pending notification no other worker holds; how many were handled."""
    with rt.engine.connect() as conn, conn.begin():
        ids = inbox.claim(conn, limit)
    for inbox_id in ids:
        await process_one(rt, inbox_id)
    return len(ids)


async def _run(rt: Runtime, lock_conn: Connection, note: inbox.Pending) -> str:
    started = datetime.now(UTC)
    try:
        with rt.engine.connect() as conn:
            summary = await _handle(rt, conn, note)
    except InvalidNotification as exc:  # as stored: no retry can make it valid
        return _park(lock_conn, note, str(exc))
    except Exception as exc:  # recorded, retried by the sweep, parked after MAX_ATTEMPTS
        status = inbox.failed(lock_conn, note.id, f"{type(exc).__name__}: {exc}",
                              note.attempts)
        NOTIFICATIONS.labels(note.notification_type, status).inc()
        log.warning("notification.failed", notification_type=note.notification_type,
                    seller=note.selling_partner_id, error_type=type(exc).__name__,
                    status=status, attempt=note.attempts + 1)
        return status
    inbox.done(lock_conn, note.id)
    NOTIFICATIONS.labels(note.notification_type, "done").inc()
    log.info("notification.done", notification_type=note.notification_type,
             seller=note.selling_partner_id, result=summary,
             duration_ms=round((datetime.now(UTC) - started).total_seconds() * 1000, 1))
    return "done"


def _park(lock_conn: Connection, note: inbox.Pending, reason: str) -> str:
    status = inbox.failed(lock_conn, note.id, f"invalid, not processed: {reason}",
                          note.attempts, final=True)
    NOTIFICATIONS.labels(note.notification_type, status).inc()
    log.warning("notification.invalid", notification_type=note.notification_type,
                seller=note.selling_partner_id, inbox_id=note.id, error=reason[:300],
                status=status)
    return status


async def _handle(rt: Runtime, conn: Connection, note: inbox.Pending) -> str:
    envelope = parse(note.payload)
    if envelope.notification_type != note.notification_type:
        raise InvalidNotification(f"the row says {note.notification_type[:60]!r}, its "
                                  f"payload is a {envelope.notification_type}")
    payload = envelope.payload
    if note.notification_type == "REPORT_PROCESSING_FINISHED":
        return _report_finished(conn, payload.get("reportProcessingFinishedNotification") or {})
    with conn.begin():
        try:
            ref = str(note.seller_id) if note.seller_id else (note.selling_partner_id or "")
            seller = get_seller(conn, find_seller(conn, ref).id, rt.keyring)
        except UnknownSellerError:
            return "seller not registered here: ignored"
    if not seller.enabled:
        return "seller disabled: ignored"
    async with rt.spapi() as client:
        return await _refresh(client, conn, seller, note.notification_type, payload)


async def _refresh(client: SpApiClient, conn: Connection, seller: Any, kind: str,
                   payload: Mapping[str, Any]) -> str:
    if kind == "ORDER_CHANGE":
        order_id = str(payload["OrderChangeNotification"]["AmazonOrderId"])
        return f"order rows written: {await refresh_order(client, conn, seller, order_id)}"
    if kind == "FBA_INVENTORY_AVAILABILITY_CHANGES":
        mids = [str(m["MarketplaceId"]) for m in payload.get("FulfillmentInventoryByMarketplace")
                or [] if isinstance(m, Mapping) and m.get("MarketplaceId")]
        written = await refresh_inventory(client, conn, seller, str(payload["SKU"]),
                                          mids or seller.marketplace_ids)
        return f"inventory rows written: {written}"
    if kind == "LISTINGS_ITEM_STATUS_CHANGE":
        mids = [str(payload["MarketplaceId"])] if payload.get("MarketplaceId") \
            else seller.marketplace_ids
        written = 0
        for mid in mids:
            if mid in seller.marketplace_ids:
                written += await refresh_listing(client, conn, seller, str(payload["Sku"]), mid)
        return f"listing rows written: {written}"
    raise ValueError(f"no handler for {kind}")


def _report_finished(conn: Connection, body: Mapping[str, Any]) -> str:
    """Record Amazon's verdict on a report spsync asked for; a running backfill's next poll
    finds it done (reports from other tools are ignored)."""
    report_id = str(body.get("reportId", ""))
    with conn.begin():
        found = conn.execute(
            update(Report).where(Report.report_id == report_id,
                                 Report.ingest_status.in_(("pending", "ingesting")))
            .values(processing_status=str(body.get("processingStatus", "DONE")),
                    document_id=body.get("reportDocumentId"))
            .returning(Report.id)).scalar_one_or_none()
    return f"report {report_id}: {'recorded' if found else 'not one of ours: ignored'}"

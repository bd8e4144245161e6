"""Working off the inbox: each notification becomes the targeted refresh it asks for.

One attempt, three steps, and no transaction open across the HTTP calls:

1. Claim (one committed transaction): :func:`inbox.claim` takes the notification if it is
   pending and no other worker holds it, counts the attempt and leases it for
   ``SPSYNC_DISPATCH_CLAIM_SECONDS`` (a notification's refresh is a small sync, claimed
   like one). So the task the consumer enqueued and the periodic sweep never work on the
   same one at once.
2. Refresh: call Amazon and write what it answers, each write in its own transaction.
3. Record the outcome under the lease (:func:`inbox.done` / :func:`inbox.failed`); a worker
   whose lease ran out and was taken over meanwhile records nothing.

A worker that dies leaves the notification pending; the sweep retries it once its lease has
run out (the refresh is idempotent). A failing notification is retried up to
``inbox.MAX_ATTEMPTS`` times, then parked with its error: it never blocks the ones behind
it. One that can never succeed (its stored payload too deep or too large to read, not a
valid notification of the type its row names) is parked at once, with the reason, on its
first attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, update

from worker.db.models import Report
from worker.db.sellers import UnknownSellerError, find_seller, get_seller
from worker.db.state import make_stream_due
from worker.metrics import NOTIFICATIONS
from worker.notifications import inbox
from worker.notifications.envelope import InvalidNotification, parse
from worker.notifications.refresh import refresh_inventory, refresh_listing, refresh_order
from worker.runtime import Runtime
from worker.spapi.client import SpApiClient
from worker.sync.registry import FINANCES, SETTLEMENTS
from worker.sync.report_stream import stream_of
from worker.sync.report_types import SETTLEMENT_V2

log = structlog.get_logger(__name__)


async def process_one(rt: Runtime, inbox_id: int) -> str:
    """Process notification ``inbox_id`` if it is still pending; its status afterwards
    (``skipped`` when another worker holds it or it does not exist)."""
    lease = timedelta(seconds=rt.settings.dispatch_claim_seconds)
    with rt.engine.connect() as conn:
        with conn.begin():
            note = inbox.claim(conn, inbox_id, lease)
            if note is None:
                found = inbox.status(conn, inbox_id)
                return "skipped" if found in (None, "pending") else str(found)
        if note.problem is not None:
            return _park(conn, note, note.problem)
        return await _run(rt, conn, note)


async def process_pending(rt: Runtime, limit: int = 50) -> int:
    """The sweep: every pending notification no other worker holds; how many were handled."""
    with rt.engine.connect() as conn, conn.begin():
        ids = inbox.due(conn, limit)
    for inbox_id in ids:
        await process_one(rt, inbox_id)
    return len(ids)


async def _run(rt: Runtime, conn: Connection, note: inbox.Claimed) -> str:
    started = datetime.now(UTC)
    try:
        summary = await _handle(rt, conn, note)
    except InvalidNotification as exc:  # as stored: no retry can make it valid
        return _park(conn, note, str(exc))
    except Exception as exc:  # recorded, retried by the sweep, parked after MAX_ATTEMPTS
        if conn.in_transaction():
            conn.rollback()  # a write that failed half-way
        with conn.begin():
            status = inbox.failed(conn, note, f"{type(exc).__name__}: {exc}")
        return _counted(note, status, "notification.failed", error_type=type(exc).__name__,
                        attempt=note.attempt)
    with conn.begin():
        moved = inbox.done(conn, note)
    return _counted(note, "done" if moved else None, "notification.done", result=summary,
                    duration_ms=round((datetime.now(UTC) - started).total_seconds() * 1000, 1))


def _park(conn: Connection, note: inbox.Claimed, reason: str) -> str:
    with conn.begin():
        status = inbox.failed(conn, note, f"invalid, not processed: {reason}", final=True)
    return _counted(note, status, "notification.invalid", inbox_id=note.id,
                    error=reason[:300])


def _counted(note: inbox.Claimed, status: str | None, event: str, **fields: Any) -> str:
    """Count and log the outcome just recorded (``None``: the lease was lost, nothing was)."""
    if status is None:
        log.warning("notification.outcome_dropped", notification_type=note.notification_type,
                    seller=note.selling_partner_id, inbox_id=note.id,
                    reason="its lease ran out and another worker took it")
        return "skipped"
    NOTIFICATIONS.labels(note.notification_type, status).inc()
    level = log.info if status == "done" else log.warning
    level(event, notification_type=note.notification_type, seller=note.selling_partner_id,
          status=status, **fields)
    return status


async def _handle(rt: Runtime, conn: Connection, note: inbox.Claimed) -> str:
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
    if kind == "TRANSACTION_UPDATE":
        # Money changed: the finances stream runs at the next tick and re-reads its whole
        # look-back window (a transaction has no single-record read to refresh it by).
        with conn.begin():
            make_stream_due(conn, seller.id, FINANCES.stream())
        return "finances stream made due"
    raise ValueError(f"no handler for {kind}")


def _report_finished(conn: Connection, body: Mapping[str, Any]) -> str:
    """Record Amazon's verdict on a report spsync asked for: a running backfill's next poll
    finds it done, and a stream's report makes that stream due (its run let go of its worker
    while Amazon worked, :mod:`worker.sync.report_stream`). A settlement report Amazon made
    on its own makes the seller's settlements stream due; other tools' reports are
    ignored."""
    report_id = str(body.get("reportId", ""))
    with conn.begin():
        found = conn.execute(
            update(Report).where(Report.report_id == report_id,
                                 Report.ingest_status.in_(("pending", "ingesting")))
            .values(processing_status=str(body.get("processingStatus", "DONE")),
                    document_id=body.get("reportDocumentId"))
            .returning(Report.seller_id, Report.purpose, Report.marketplace_ids)).first()
        if not found and body.get("reportType") == SETTLEMENT_V2 \
                and body.get("processingStatus", "DONE") == "DONE":
            return _settlement_ready(conn, str(body.get("sellerId", "")), report_id)
        if not found:
            return f"report {report_id}: not one of ours: ignored"
        stream = stream_of(found.purpose, list(found.marketplace_ids))
        if stream is None:  # a backfill's: its next poll finds it done
            return f"report {report_id}: recorded"
        # A stream run that let its worker go while Amazon worked on it: its next run now.
        make_stream_due(conn, found.seller_id, stream)
    return f"report {report_id}: recorded, {stream} made due"


def _settlement_ready(conn: Connection, selling_partner_id: str, report_id: str) -> str:
    """Amazon made a settlement report: the seller's settlements stream lists and downloads
    it at the next tick (once, however it was found). In the caller's transaction."""
    try:
        seller = find_seller(conn, selling_partner_id)
    except UnknownSellerError:
        return f"settlement report {report_id}: seller not registered here: ignored"
    make_stream_due(conn, seller.id, SETTLEMENTS.stream())
    return f"settlement report {report_id}: settlements stream made due"

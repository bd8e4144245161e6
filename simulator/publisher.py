"""Notifications: the application's destinations, each seller's subscriptions, and delivery.

State for the Notifications API (:mod:`notifications_api` serves it) and the publisher:
whenever the world changes — an order is created or moves on, FBA stock moves, a listing's
status flips, a report reaches DONE, FATAL or CANCELLED — every seller subscribed to the
matching type gets ONE message, shaped by Amazon's JSON schema for that type
(``worker/spapi_models/*Notification.json``), with a fresh ``NotificationId``, the
simulator application's ``ApplicationId`` and the subscription's ``SubscriptionId``.

Delivery is SQS only (the simulator serves EventBridge destinations but delivers nothing
to them; such messages count as failed): the queue is looked up by the name in the
destination's arn (``get_queue_url``) at ``SimConfig.sqs_endpoint_url`` — moto's server in
tests — never at real AWS. Messages are queued in memory and sent in batches of up to ten
by a background task, from a worker thread (boto3 blocks), so a change never waits on SQS
and SQS being down never fails the API request that made the change: the message is
counted as failed and dropped. ``/_sim/stats`` reports the counts.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from worker.spapi_models import load

from .catalog import RESERVED_PARTS, Listing, Stock
from .clock import Clock, iso
from .config import SimConfig
from .finances import SHIPMENT, order_entries, posts_sale
from .finances import total as entry_total
from .reports import FINISHED, Report, ReportBook
from .world import Order, Seller

ORDER_CHANGE = "ORDER_CHANGE"
FBA_INVENTORY = "FBA_INVENTORY_AVAILABILITY_CHANGES"
LISTINGS_STATUS = "LISTINGS_ITEM_STATUS_CHANGE"
REPORT_FINISHED = "REPORT_PROCESSING_FINISHED"
TRANSACTION_UPDATE = "TRANSACTION_UPDATE"
SCHEMAS = {
    ORDER_CHANGE: "OrderChangeNotification",
    FBA_INVENTORY: "FBAInventoryAvailabilityChangeNotification",
    LISTINGS_STATUS: "ListingsItemStatusChangeNotification",
    REPORT_FINISHED: "ReportProcessingFinishedNotification",
    TRANSACTION_UPDATE: "TransactionUpdateNotification",
}
TYPES = tuple(SCHEMAS)
CAMEL_CASE = frozenset({REPORT_FINISHED})  # its schema's keys are camelCase
ORDER_STATUS_CHANGE = "OrderStatusChange"
PENDING_ORDER, TRANSSHIPMENT, FC_PROCESSING = RESERVED_PARTS
BATCH = 10  # SendMessageBatch's limit
MAX_PENDING = 100_000  # messages waiting to be sent; beyond this they are dropped (failed)
WATCH_SECONDS = 0.25  # how often finished reports are looked for
POSTAL_CODE = "00000"  # every simulated order's (fake) delivery address has this one


@cache
def _schema(kind: str) -> dict[str, Any]:
    return load(SCHEMAS[kind])


def _property(kind: str, name: str) -> dict[str, Any]:
    props: dict[str, Any] = _schema(kind)["properties"]
    found: dict[str, Any] = props.get(name) or props[name[0].lower() + name[1:]]
    return found


def payload_versions(kind: str) -> tuple[str, ...]:
    """The payloadVersions createSubscription accepts for ``kind``: the one its schema's
    examples carry (``2020-09-04`` for reports) and, leniently, ``1.0`` for every type."""
    return tuple(dict.fromkeys((*_property(kind, "PayloadVersion").get("examples", ()), "1.0")))


def _notification_version(kind: str) -> str:
    return str(_property(kind, "NotificationVersion").get("examples", ["1.0"])[0])


def _sent_type(kind: str) -> str:
    """``NotificationType`` as the schema spells it: its enum, where it has one (the listings
    schema says LISTINGS_ITEM_STATUS_CHANGED for the LISTINGS_ITEM_STATUS_CHANGE type)."""
    enum = _property(kind, "NotificationType").get("enum")
    return str(enum[0]) if enum else kind


@dataclass(frozen=True)
class Destination:
    destination_id: str
    name: str
    resource: dict[str, Any]  # {"sqs": {"arn"}} or {"eventBridge": {"name", "region", ...}}

    @property
    def arn(self) -> str | None:
        sqs = self.resource.get("sqs")
        return str(sqs["arn"]) if sqs else None

    def render(self) -> dict[str, Any]:
        return {"destinationId": self.destination_id, "name": self.name,
                "resource": self.resource}


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    seller_id: str
    notification_type: str
    payload_version: str
    destination_id: str
    processing_directive: dict[str, Any] | None = None

    def render(self) -> dict[str, Any]:
        body: dict[str, Any] = {"subscriptionId": self.subscription_id,
                                "payloadVersion": self.payload_version,
                                "destinationId": self.destination_id}
        if self.processing_directive is not None:
            body["processingDirective"] = self.processing_directive
        return body

    def wants_order(self, order: Order) -> bool:
        """The ORDER_CHANGE event filter: marketplaces and order change types, if given."""
        event_filter = (self.processing_directive or {}).get("eventFilter") or {}
        markets = event_filter.get("marketplaceIds")
        kinds = event_filter.get("orderChangeTypes")
        return ((not markets or order.marketplace.marketplace_id in markets)
                and (not kinds or ORDER_STATUS_CHANGE in kinds))


@dataclass(frozen=True)
class Outgoing:
    kind: str
    arn: str
    body: str


@dataclass
class NotificationStats:
    sent: int = 0
    failed: int = 0
    last_error: str | None = None
    sent_by_type: Counter[str] = field(default_factory=Counter)
    failed_by_type: Counter[str] = field(default_factory=Counter)

    def record(self, kind: str, error: str | None) -> None:
        if error is None:
            self.sent += 1
            self.sent_by_type[kind] += 1
        else:
            self.failed += 1
            self.failed_by_type[kind] += 1
            self.last_error = error

    def render(self, pending: int) -> dict[str, Any]:
        kinds = sorted(set(self.sent_by_type) | set(self.failed_by_type))
        return {
            "sent": self.sent,
            "failed": self.failed,
            "pending": pending,
            "last_error": self.last_error,
            "by_type": {k: {"sent": self.sent_by_type[k], "failed": self.failed_by_type[k]}
                        for k in kinds},
        }


class SqsSender:
    """A bounded in-memory queue drained in batches by :meth:`run`, sending from a thread."""

    def __init__(self, config: SimConfig) -> None:
        self._config = config
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue(MAX_PENDING)
        self._client: Any = None
        self._urls: dict[str, str] = {}  # queue name → URL
        self.in_flight = 0

    @property
    def pending(self) -> int:
        return self._queue.qsize() + self.in_flight

    def put(self, item: Outgoing) -> bool:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        return True

    async def run(self, record: Callable[[str, str | None], None]) -> None:
        """Send until cancelled; ``record(type, error or None)`` per message, on the loop.

        One batch at a time: against moto, concurrent batches were measured no faster."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self.in_flight = len(batch)
            try:
                results = await asyncio.to_thread(self._send, batch)
            finally:
                self.in_flight = 0
            for item, error in results:
                record(item.kind, error)

    def _send(self, batch: list[Outgoing]) -> list[tuple[Outgoing, str | None]]:
        """In a worker thread: one SendMessageBatch per queue; (message, error or None)."""
        if self._config.sqs_endpoint_url is None:
            return [(item, "no sqs_endpoint_url configured") for item in batch]
        by_arn: dict[str, list[Outgoing]] = {}
        for item in batch:
            by_arn.setdefault(item.arn, []).append(item)
        results: list[tuple[Outgoing, str | None]] = []
        for arn, items in by_arn.items():
            name = arn.split(":", 5)[5]
            try:
                reply = self._sqs().send_message_batch(QueueUrl=self._url(name), Entries=[
                    {"Id": str(i), "MessageBody": item.body} for i, item in enumerate(items)])
            except Exception as exc:  # any SQS or network failure: counted as failed
                self._urls.pop(name, None)
                results += [(item, f"{type(exc).__name__}: {exc}"[:300]) for item in items]
                continue
            failed = {f["Id"]: str(f.get("Code", "failed")) for f in reply.get("Failed", [])}
            results += [(item, failed.get(str(i))) for i, item in enumerate(items)]
        return results

    def _url(self, name: str) -> str:
        if name not in self._urls:
            self._urls[name] = str(self._sqs().get_queue_url(QueueName=name)["QueueUrl"])
        return self._urls[name]

    def _sqs(self) -> Any:
        if self._client is None:
            import boto3  # only once something is sent: the simulator imports without it
            from botocore.config import Config

            c = self._config
            self._client = boto3.client(
                "sqs", endpoint_url=c.sqs_endpoint_url, region_name=c.sqs_region,
                aws_access_key_id=c.sqs_access_key_id,
                aws_secret_access_key=c.sqs_secret_access_key,
                config=Config(connect_timeout=2, read_timeout=5,
                              retries={"max_attempts": 2, "mode": "standard"}))
        return self._client


class Notifications:
    """Destinations, subscriptions, and publishing (implements ``ChangeListener``)."""

    def __init__(self, config: SimConfig, clock: Clock, application_id: str,
                 reports: ReportBook) -> None:
        self.clock = clock
        self.seed = config.seed
        self.application_id = application_id
        self.reports = reports
        self.destinations: dict[str, Destination] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self._by_seller: dict[tuple[str, str], str] = {}  # (seller, type) → subscription id
        self.stats = NotificationStats()
        self.sender = SqsSender(config)
        self._bursts: set[asyncio.Task[None]] = set()
        self.watch_passes = 0  # of the finished-report watch, as ChangeLoop.ticks

    # --- destinations and subscriptions -------------------------------------------------

    def add_destination(self, name: str, resource: dict[str, Any]) -> Destination:
        destination = Destination(str(uuid.uuid4()), name, resource)
        self.destinations[destination.destination_id] = destination
        return destination

    def destination_like(self, resource: dict[str, Any]) -> Destination | None:
        """The destination already created for this SQS arn / EventBridge account+region."""
        for destination in self.destinations.values():
            if _same_target(destination.resource, resource):
                return destination
        return None

    def remove_destination(self, destination_id: str) -> None:
        del self.destinations[destination_id]

    def subscribed_to(self, destination_id: str) -> list[Subscription]:
        return [s for s in self.subscriptions.values() if s.destination_id == destination_id]

    def add_subscription(self, seller_id: str, kind: str, payload_version: str,
                         destination_id: str, directive: dict[str, Any] | None) -> Subscription:
        sub = Subscription(str(uuid.uuid4()), seller_id, kind, payload_version, destination_id,
                           directive)
        self.subscriptions[sub.subscription_id] = sub
        self._by_seller[(seller_id, kind)] = sub.subscription_id
        return sub

    def subscription(self, seller_id: str, kind: str) -> Subscription | None:
        sub_id = self._by_seller.get((seller_id, kind))
        return self.subscriptions[sub_id] if sub_id else None

    def remove_subscription(self, subscription_id: str) -> None:
        sub = self.subscriptions.pop(subscription_id)
        self._by_seller.pop((sub.seller_id, sub.notification_type), None)

    # --- ChangeListener: what the world tells us ----------------------------------------

    def order_changed(self, order: Order, created: bool) -> None:
        sub = self.subscription(order.seller_id, ORDER_CHANGE)
        if sub is not None and sub.wants_order(order):
            self._publish(sub, order.last_update, order_change(order, created))
        money = self.subscription(order.seller_id, TRANSACTION_UPDATE)
        if money is not None:  # a shipped order posts its sale (simulator/finances.py)
            for entry in order_entries(order, self.seed):
                if entry.kind == SHIPMENT and entry.posted == order.last_update:
                    self._publish(money, entry.posted, transaction_update(
                        order, entry.kind, entry.posted, str(entry_total(entry))))

    def stock_changed(self, seller: Seller, stock: Stock) -> None:
        sub = self.subscription(seller.seller_id, FBA_INVENTORY)
        if sub is not None:
            self._publish(sub, stock.last_updated, inventory_change(seller, stock.sku))

    def listing_changed(self, seller: Seller, listing: Listing) -> None:
        sub = self.subscription(seller.seller_id, LISTINGS_STATUS)
        if sub is not None:
            for marketplace_id in seller.marketplace_ids:
                self._publish(sub, listing.last_updated,
                              listing_status_change(seller, listing, marketplace_id))

    def report_finished(self, report: Report) -> None:
        sub = self.subscription(report.seller_id, REPORT_FINISHED)
        if sub is not None:
            when = self.clock.now() if report.cancelled else report.finished
            self._publish(sub, when, report_finished(report, self.clock.now()))

    # --- publishing ---------------------------------------------------------------------

    def _publish(self, sub: Subscription, event_time: float, payload: dict[str, Any]) -> None:
        kind = sub.notification_type
        message = {
            "NotificationVersion": _notification_version(kind),
            "NotificationType": _sent_type(kind),
            "PayloadVersion": sub.payload_version,
            "EventTime": iso(event_time),
            "Payload": payload,
            "NotificationMetadata": {
                "ApplicationId": self.application_id,
                "SubscriptionId": sub.subscription_id,
                "PublishTime": iso(self.clock.now()),
                "NotificationId": str(uuid.uuid4()),
            },
        }
        if kind in CAMEL_CASE:
            message = _camel(message)
        destination = self.destinations.get(sub.destination_id)
        arn = destination.arn if destination else None
        if arn is None:
            self.stats.record(kind, "the destination is not an SQS queue")
        elif not self.sender.put(Outgoing(kind, arn, json.dumps(message))):
            self.stats.record(kind, "too many messages waiting to be sent")

    def publish_now(self, seller: Seller, kind: str, subject: str | None, count: int) -> int:
        """``/_sim/notify``: ``count`` messages of ``kind`` about ``subject`` (an order id,
        SKU or report id) or, without one, about the seller's things in turn. ValueError
        when the seller has no such subscription or no such thing."""
        sub = self.subscription(seller.seller_id, kind)
        if sub is None:
            raise ValueError(f"seller {seller.seller_id} has no {kind} subscription")
        subjects = _subjects(seller, kind, self.reports, subject, self.clock.now())
        for n in range(count):
            self._publish_about(sub, seller, subjects[n % len(subjects)])
        return count

    def publish_paced(self, seller: Seller, kind: str, subject: str | None, count: int,
                      rate: float) -> None:
        """Like :meth:`publish_now`, but ``rate`` messages a second, in the background
        (stopping early if the subscription is deleted meanwhile)."""
        if self.subscription(seller.seller_id, kind) is None:
            raise ValueError(f"seller {seller.seller_id} has no {kind} subscription")
        subjects = _subjects(seller, kind, self.reports, subject, self.clock.now())

        async def pace() -> None:
            start = time.monotonic()
            for n in range(count):
                await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
                sub = self.subscription(seller.seller_id, kind)
                if sub is None:
                    return
                self._publish_about(sub, seller, subjects[n % len(subjects)])

        task = asyncio.get_running_loop().create_task(pace())
        self._bursts.add(task)
        task.add_done_callback(self._bursts.discard)

    def _publish_about(self, sub: Subscription, seller: Seller, thing: Any) -> None:
        now = self.clock.now()
        if sub.notification_type == TRANSACTION_UPDATE:
            sale = order_entries(thing, self.seed)[0]  # a shipped order's first: its sale
            self._publish(sub, now, transaction_update(thing, sale.kind, sale.posted,
                                                       str(entry_total(sale))))
        elif isinstance(thing, Order):
            self._publish(sub, now, order_change(thing, False))
        elif isinstance(thing, Listing):
            self._publish(sub, now, listing_status_change(seller, thing,
                                                          seller.marketplace_ids[0]))
        elif isinstance(thing, Report):
            self._publish(sub, now, report_finished(thing, now))
        else:
            self._publish(sub, now, inventory_change(seller, str(thing)))

    def render_stats(self) -> dict[str, Any]:
        return {**self.stats.render(self.sender.pending),
                "destinations": len(self.destinations),
                "subscriptions": len(self.subscriptions)}

    async def run(self) -> None:
        """The sender and the finished-report watch; runs for the app's lifetime."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.sender.run(self.stats.record))
                group.create_task(self._watch_reports())
        finally:
            for task in list(self._bursts):
                task.cancel()

    async def _watch_reports(self) -> None:
        while True:
            for report in self.reports.newly_finished(self.clock.now()):
                self.report_finished(report)
            self.watch_passes += 1
            await asyncio.sleep(WATCH_SECONDS)


def _same_target(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if "sqs" in a and "sqs" in b:
        return bool(a["sqs"]["arn"] == b["sqs"]["arn"])
    if "eventBridge" in a and "eventBridge" in b:
        keys = ("accountId", "region")
        return all(a["eventBridge"][k] == b["eventBridge"][k] for k in keys)
    return False


def _subjects(seller: Seller, kind: str, reports: ReportBook, subject: str | None,
              now: float) -> list[Any]:
    """What ``/_sim/notify`` can publish about: orders (latest change first; the shipped ones
    for transactions), FBA SKUs, listings, finished reports; only ``subject`` when it names
    one."""
    things: dict[str, Any]
    if kind == ORDER_CHANGE:
        ordered = sorted(seller.orders.values(), key=lambda o: -o.last_update)
        things = {o.order_id: o for o in ordered}
    elif kind == TRANSACTION_UPDATE:  # the shipped orders, whose sale is posted
        ordered = sorted(seller.orders.values(), key=lambda o: -o.last_update)
        things = {o.order_id: o for o in ordered if posts_sale(o)}
    elif kind == FBA_INVENTORY:
        things = {sku: sku for _, sku in sorted(seller.stock)}
    elif kind == LISTINGS_STATUS:
        things = dict(sorted(seller.listings.items()))
    else:
        things = {r.report_id: r for r in reports.of(seller.seller_id)
                  if r.status(now) in FINISHED}
    if subject is not None:
        if subject not in things:
            raise ValueError(f"seller {seller.seller_id} has no {subject!r} to notify "
                             f"{kind} about")
        return [things[subject]]
    if not things:
        raise ValueError(f"seller {seller.seller_id} has nothing to notify {kind} about")
    return list(things.values())


def _camel(message: dict[str, Any]) -> dict[str, Any]:
    out = {k[0].lower() + k[1:]: v for k, v in message.items()}
    meta = out["notificationMetadata"]
    out["notificationMetadata"] = {k[0].lower() + k[1:]: v for k, v in meta.items()}
    return out


# --- payloads, one per type, as the schemas shape them ---------------------------------

def order_change(order: Order, created: bool) -> dict[str, Any]:
    shipped = sum(i.quantity_shipped for i in order.items)
    ordered = sum(i.quantity_ordered for i in order.items)
    summary: dict[str, Any] = {
        "MarketplaceId": order.marketplace.marketplace_id,
        "OrderStatus": order.status.v0,
        "PurchaseDate": iso(order.purchase_date),
        "DestinationPostalCode": POSTAL_CODE,
        "FulfillmentType": order.fulfillment_channel,
        "OrderType": "StandardOrder",
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": ordered - shipped,
        "OrderItems": [
            {
                "OrderItemId": item.order_item_id,
                "SellerSKU": item.product.sku,
                "SupplySourceId": None,
                "OrderItemStatus": "Shipped" if item.quantity_shipped else "Unshipped",
                "Quantity": item.quantity_ordered,
                "QuantityShipped": item.quantity_shipped,
            }
            for item in order.items
        ],
    }
    if order.is_prime:
        summary["OrderPrograms"] = ["Prime"]
    return {"OrderChangeNotification": {
        "NotificationLevel": "OrderLevel",
        "SellerId": order.seller_id,
        "AmazonOrderId": order.order_id,
        "OrderChangeType": ORDER_STATUS_CHANGE,
        "OrderChangeTrigger": {"TimeOfOrderChange": iso(order.last_update),
                               "ChangeReason": "NewOrder" if created else "StatusUpdate"},
        "Summary": summary,
    }}


def transaction_update(order: Order, kind: str, posted: float, amount: str) -> dict[str, Any]:
    """TransactionUpdateNotification: a transaction of ``order`` was posted (the schema's
    example names the order identifier ``OrderId``)."""
    return {"TransactionUpdateNotification": {
        "SellingPartnerMetadata": {"SellingPartnerId": order.seller_id,
                                   "MarketplaceId": order.marketplace.marketplace_id,
                                   "AccountType": "PAYABLE"},
        "RelatedIdentifiers": [{"RelatedIdentifierName": "OrderId",
                                "RelatedIdentifierValue": order.order_id}],
        "TransactionType": kind,
        "PostedDate": iso(posted),
        "TotalAmount": {"CurrencyAmount": float(amount),
                        "CurrencyCode": order.marketplace.currency},
    }}


def inventory_change(seller: Seller, sku: str) -> dict[str, Any]:
    """One SKU, with its stock in every marketplace it has some in."""
    entry = seller.skus[sku]
    markets = []
    for (marketplace_id, stock_sku), stock in sorted(seller.stock.items()):
        if stock_sku != sku:
            continue
        markets.append({
            "MarketplaceId": marketplace_id,
            "ItemName": entry.title,
            "FulfillmentInventory": {
                "InboundQuantityBreakdown": {"Working": stock.inbound_working,
                                             "Shipped": stock.inbound_shipped,
                                             "Receiving": stock.inbound_receiving},
                "Fulfillable": stock.fulfillable,
                "Unfulfillable": stock.unfulfillable_total,
                "Researching": stock.researching_total,
                "ReservedQuantityBreakdown": {
                    "WarehouseProcessing": stock.reserved[FC_PROCESSING],
                    "WarehouseTransfer": stock.reserved[TRANSSHIPMENT],
                    "PendingCustomerOrder": stock.reserved[PENDING_ORDER],
                },
                "FutureSupplyBuyable": 0,
                "PendingCustomerOrderInTransit": 0,
            },
        })
    return {"SellerId": seller.seller_id, "FNSKU": entry.fnsku, "ASIN": entry.asin, "SKU": sku,
            "FulfillmentInventoryByMarketplace": markets}


def listing_status_change(seller: Seller, listing: Listing, marketplace_id: str
                          ) -> dict[str, Any]:
    entry = seller.skus[listing.sku]
    return {"SellerId": seller.seller_id, "MarketplaceId": marketplace_id, "Asin": entry.asin,
            "Sku": listing.sku, "CreatedDate": iso(listing.created), "Status": listing.status}


def report_finished(report: Report, now: float) -> dict[str, Any]:
    inner: dict[str, Any] = {
        "sellerId": report.seller_id,
        "accountId": f"amzn1.merchant.o.{report.seller_id}",
        "reportId": report.report_id,
        "reportType": report.report_type,
        "processingStatus": report.status(now),
    }
    if not report.cancelled and report.document_id:
        inner["reportDocumentId"] = report.document_id
    return {"reportProcessingFinishedNotification": inner}

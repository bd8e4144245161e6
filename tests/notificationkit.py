"""Schema-valid SP-API notifications for tests, built from the examples in Amazon's own JSON
schemas (``worker/spapi_models/*Notification.json``) with the ids a test needs."""

from __future__ import annotations

import copy
import json
import uuid
from importlib import resources
from typing import Any


def _schema(name: str) -> dict[str, Any]:
    text = resources.files("worker.spapi_models").joinpath(f"{name}.json").read_text("utf-8")
    return dict(json.loads(text))


def _example(name: str) -> dict[str, Any]:
    return copy.deepcopy(_schema(name)["examples"][0])


def _new_id() -> str:
    return str(uuid.uuid4())


def order_change(seller: str, order_id: str, *, notification_id: str | None = None,
                 status: str = "Unshipped") -> dict[str, Any]:
    msg = _example("OrderChangeNotification")
    inner = msg["Payload"]["OrderChangeNotification"]
    inner["SellerId"], inner["AmazonOrderId"] = seller, order_id
    inner["Summary"]["OrderStatus"] = status
    msg["NotificationMetadata"]["NotificationId"] = notification_id or _new_id()
    return msg


def listing_change(seller: str, sku: str, marketplace_id: str, *,
                   notification_id: str | None = None) -> dict[str, Any]:
    msg = _example("ListingsItemStatusChangeNotification")
    msg["Payload"].update(SellerId=seller, Sku=sku, MarketplaceId=marketplace_id)
    msg["NotificationMetadata"]["NotificationId"] = notification_id or _new_id()
    return msg


def report_finished(seller: str, report_id: str, document_id: str, *,
                    notification_id: str | None = None) -> dict[str, Any]:
    msg = _example("ReportProcessingFinishedNotification")
    inner = msg["payload"]["reportProcessingFinishedNotification"]
    inner.update(sellerId=seller, reportId=report_id, reportDocumentId=document_id,
                 processingStatus="DONE")
    msg["notificationMetadata"]["notificationId"] = notification_id or _new_id()
    return msg


def inventory_change(seller: str, sku: str, marketplace_id: str, *,
                     notification_id: str | None = None) -> dict[str, Any]:
    """The FBA schema has no top-level example: assembled from its per-field examples."""
    props = _schema("FBAInventoryAvailabilityChangeNotification")["properties"]
    market = props["Payload"]["properties"]["FulfillmentInventoryByMarketplace"]["items"]
    inventory = copy.deepcopy(market["properties"]["FulfillmentInventory"]["examples"][0])
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "FBA_INVENTORY_AVAILABILITY_CHANGES",
        "PayloadVersion": "1.0",
        "EventTime": "2026-11-27T10:00:00.000Z",
        "Payload": {
            "SellerId": seller, "FNSKU": "X00TEST001", "ASIN": "B00TEST001", "SKU": sku,
            "FulfillmentInventoryByMarketplace": [{
                "MarketplaceId": marketplace_id, "ItemName": "test item",
                "FulfillmentInventory": inventory,
            }],
        },
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sellerapps.app.test", "SubscriptionId": _new_id(),
            "PublishTime": "2026-11-27T10:00:00.000Z",
            "NotificationId": notification_id or _new_id(),
        },
    }


def transaction_update(seller: str, order_id: str, *,
                       notification_id: str | None = None) -> dict[str, Any]:
    msg = _example("TransactionUpdateNotification")
    inner = msg["Payload"]["TransactionUpdateNotification"]
    inner["SellingPartnerMetadata"]["SellingPartnerId"] = seller
    inner["RelatedIdentifiers"] = [{"RelatedIdentifierName": "OrderId",
                                    "RelatedIdentifierValue": order_id}]
    msg["NotificationMetadata"]["NotificationId"] = notification_id or _new_id()
    return msg

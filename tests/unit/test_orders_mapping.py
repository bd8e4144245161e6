from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from worker.spapi.errors import MalformedResponseError
from worker.sync.orders_mapping import (
    map_item_2026,
    map_item_v0,
    map_order_2026,
    map_order_v0,
    normalise_status,
)

ORDER_2026 = {
    "orderId": "123-4567890-1234567",
    "createdTime": "2026-11-01T10:30:00Z",
    "lastUpdatedTime": "2026-11-02T14:45:00Z",
    "salesChannel": {"channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER"},
    "fulfillment": {"fulfillmentStatus": "SHIPPED", "fulfilledBy": "MERCHANT"},
    "proceeds": {"grandTotal": {"amount": "59.97", "currencyCode": "USD"}},
    "orderItems": [
        {
            "orderItemId": "11111111111111",
            "quantityOrdered": 3,
            "product": {"asin": "B000000001", "sellerSku": "SKU-1", "title": "Widget",
                        "price": {"unitPrice": {"amount": "19.99", "currencyCode": "USD"}}},
            "fulfillment": {"quantityFulfilled": 3, "quantityUnfulfilled": 0},
        }
    ],
}

ORDER_V0 = {
    "AmazonOrderId": "902-3159896-1390916",
    "PurchaseDate": "2026-11-01T10:30:00Z",
    "LastUpdateDate": "2026-11-02T14:45:00+01:00",
    "OrderStatus": "Canceled",
    "FulfillmentChannel": "AFN",
    "MarketplaceId": "A1PA6795UKMFR9",
    "OrderTotal": {"CurrencyCode": "EUR", "Amount": "10.00"},
}


def test_2026_order_maps_typed_columns_and_embedded_items():
    order, items = map_order_2026(ORDER_2026)
    assert order.amazon_order_id == "123-4567890-1234567"
    assert order.order_status == "SHIPPED"
    assert order.purchase_date == datetime(2026, 11, 1, 10, 30, tzinfo=UTC)
    assert order.order_total == Decimal("59.97") and order.currency == "USD"
    assert order.fulfillment_channel == "MFN"
    assert order.marketplace_id == "ATVPDKIKX0DER"
    assert order.raw is ORDER_2026
    (item,) = items
    assert item.amazon_order_id == order.amazon_order_id
    assert (item.order_item_id, item.seller_sku, item.asin) == ("11111111111111", "SKU-1",
                                                                "B000000001")
    assert item.quantity_ordered == 3 and item.quantity_shipped == 3
    assert item.item_price == Decimal("19.99") * 3  # the mirror stores line totals


def test_2026_optional_blocks_may_be_missing():
    doc = copy.deepcopy(ORDER_2026)
    del doc["proceeds"]
    del doc["orderItems"][0]["fulfillment"]
    del doc["orderItems"][0]["product"]["price"]
    del doc["salesChannel"]["marketplaceId"]
    order, (item,) = map_order_2026(doc)
    assert order.order_total is None and order.currency is None and order.marketplace_id is None
    assert item.item_price is None and item.quantity_shipped is None


def test_unknown_status_is_kept_not_fatal():
    doc = copy.deepcopy(ORDER_2026)
    doc["fulfillment"]["fulfillmentStatus"] = "AWAITING_PICKUP"
    assert map_order_2026(doc)[0].order_status == "AWAITING_PICKUP"
    v0 = dict(ORDER_V0, OrderStatus="PendingPickup")
    assert map_order_v0(v0).order_status == "PENDING_PICKUP"


@pytest.mark.parametrize(
    ("v0", "canonical"),
    [("Pending", "PENDING"), ("Unshipped", "UNSHIPPED"), ("PartiallyShipped", "PARTIALLY_SHIPPED"),
     ("Shipped", "SHIPPED"), ("Canceled", "CANCELLED"), ("Unfulfillable", "UNFULFILLABLE"),
     ("PendingAvailability", "PENDING_AVAILABILITY"),
     ("InvoiceUnconfirmed", "INVOICE_UNCONFIRMED")],
)
def test_v0_statuses_use_the_2026_vocabulary(v0, canonical):
    assert normalise_status(v0) == canonical


def test_v0_order_and_item():
    order = map_order_v0(ORDER_V0)
    assert order.order_status == "CANCELLED"
    assert order.last_update_date == datetime(2026, 11, 2, 13, 45, tzinfo=UTC)
    assert order.order_total == Decimal("10.00") and order.fulfillment_channel == "AFN"
    item = map_item_v0(order.amazon_order_id, {
        "ASIN": "B0000000X1", "OrderItemId": "68828574383266", "QuantityOrdered": 2,
        "QuantityShipped": 1, "SellerSKU": "S-9",
        "ItemPrice": {"CurrencyCode": "EUR", "Amount": "25.00"},
    })
    assert (item.quantity_ordered, item.quantity_shipped) == (2, 1)
    assert item.item_price == Decimal("25.00") and item.currency == "EUR"


def test_v0_pending_order_without_total_or_item_price():
    doc = {k: v for k, v in ORDER_V0.items() if k != "OrderTotal"}
    assert map_order_v0(doc).order_total is None
    item = map_item_v0("x", {"ASIN": "B1", "OrderItemId": "1", "QuantityOrdered": 1})
    assert item.item_price is None and item.quantity_shipped is None and item.seller_sku is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("orderId"),
        lambda d: d.update(lastUpdatedTime="yesterday"),
        lambda d: d.update(createdTime="2026-11-01T10:30:00"),  # no timezone
        lambda d: d["proceeds"]["grandTotal"].update(amount="ten"),
        lambda d: d["proceeds"]["grandTotal"].update(amount="NaN"),
        lambda d: d.update(orderItems=None),
        lambda d: d["orderItems"][0].update(quantityOrdered="3"),
        lambda d: d["orderItems"][0].update(quantityOrdered=-1),
        lambda d: d["orderItems"][0].pop("product"),
        lambda d: d.pop("fulfillment"),
        lambda d: d.update(salesChannel="AMAZON"),
    ],
)
def test_2026_malformed_payloads_raise_the_typed_error(mutate):
    doc = copy.deepcopy(ORDER_2026)
    mutate(doc)
    with pytest.raises(MalformedResponseError):
        map_order_2026(doc)


@pytest.mark.parametrize("doc", [None, [], "order", 7])
def test_non_objects_are_rejected(doc):
    with pytest.raises(MalformedResponseError):
        map_order_2026(doc)
    with pytest.raises(MalformedResponseError):
        map_order_v0(doc)
    with pytest.raises(MalformedResponseError):
        map_item_2026("o", doc)


def test_error_message_names_the_field_but_not_the_value():
    doc = copy.deepcopy(ORDER_V0)
    doc["OrderTotal"]["Amount"] = "secret-ish"
    with pytest.raises(MalformedResponseError) as err:
        map_order_v0(doc)
    assert "OrderTotal.Amount" in str(err.value)
    assert "secret-ish" not in str(err.value)

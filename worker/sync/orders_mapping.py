"""Pure mapping of Orders API payloads (v0 and 2026-01-01) to mirror rows.

Every input either maps or raises :class:`MalformedResponseError` naming the field; nothing
else escapes, so a bad page is rejected whole before anything is written. What maps also fits
the mirror's columns (see :mod:`worker.sync.fields`), so the write cannot fail on a value.

``order_status`` uses the 2026-01-01 ``FulfillmentStatus`` vocabulary for both API versions
(v0 ``Canceled`` -> ``CANCELLED`` ...). A value Amazon adds later is kept (upper snake case)
rather than failing the sync: the raw JSON is stored beside it anyway.
"""

from __future__ import annotations

import re
from typing import Any

from worker.db.rows import ItemRow, OrderRow
from worker.sync.fields import (
    bad,
    fits_money,
    int_field,
    money,
    obj,
    opt_obj,
    opt_str,
    parse_time,
    req_str,
    storable,
)

V0_STATUS = {
    "PendingAvailability": "PENDING_AVAILABILITY",
    "Pending": "PENDING",
    "Unshipped": "UNSHIPPED",
    "PartiallyShipped": "PARTIALLY_SHIPPED",
    "Shipped": "SHIPPED",
    "Canceled": "CANCELLED",
    "Unfulfillable": "UNFULFILLABLE",
    "InvoiceUnconfirmed": "INVOICE_UNCONFIRMED",
}
STATUSES_2026 = frozenset(
    {"PENDING_AVAILABILITY", "PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED",
     "CANCELLED", "UNFULFILLABLE"}
)
FULFILLED_BY = {"AMAZON": "AFN", "MERCHANT": "MFN", "AFN": "AFN", "MFN": "MFN"}


def normalise_status(value: str) -> str:
    if value in STATUSES_2026:
        return value
    if value in V0_STATUS:
        return V0_STATUS[value]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", value).upper()  # tolerate new enum values


# ---------------------------------------------------------------- 2026-01-01


def map_order_2026(doc: Any) -> tuple[OrderRow, list[ItemRow]]:
    """An ``Order`` from searchOrders/getOrder (with FULFILLMENT and PROCEEDS data)."""
    order = obj(doc, "order")
    storable(order, "order")
    order_id = req_str(order, "orderId", "order")
    what = f"order {order_id}"
    fulfillment = opt_obj(order, "fulfillment", what)
    status = fulfillment.get("fulfillmentStatus")
    if not isinstance(status, str) or not status:
        raise bad(f"{what}.fulfillment.fulfillmentStatus is missing (request FULFILLMENT data)")
    channel = obj(order.get("salesChannel"), f"{what}.salesChannel")
    total, currency = None, None
    grand = opt_obj(order, "proceeds", what).get("grandTotal")
    if grand is not None:
        total, currency = money(grand, f"{what}.proceeds.grandTotal",
                                amount_key="amount", currency_key="currencyCode")
    items_raw = order.get("orderItems")
    if not isinstance(items_raw, list):
        raise bad(f"{what}.orderItems is missing or not a list")
    row = OrderRow(
        amazon_order_id=order_id,
        order_status=normalise_status(status),
        purchase_date=parse_time(order.get("createdTime"), f"{what}.createdTime"),
        last_update_date=parse_time(order.get("lastUpdatedTime"), f"{what}.lastUpdatedTime"),
        order_total=total,
        currency=currency,
        marketplace_id=opt_str(channel, "marketplaceId", f"{what}.salesChannel"),
        fulfillment_channel=FULFILLED_BY.get(str(fulfillment.get("fulfilledBy", "")).upper()),
        api_version="2026-01-01",
        raw=order,
    )
    return row, [_item_2026(order_id, item) for item in items_raw]


def map_item_2026(order_id: str, doc: Any) -> ItemRow:
    """An ``OrderItem`` of a 2026-01-01 ``Order`` (which :func:`map_order_2026` maps too)."""
    storable(doc, f"order {order_id} item")
    return _item_2026(order_id, doc)


def _item_2026(order_id: str, doc: Any) -> ItemRow:
    item = obj(doc, f"order {order_id} item")
    item_id = req_str(item, "orderItemId", f"order {order_id} item")
    what = f"order {order_id} item {item_id}"
    quantity = int_field(item, "quantityOrdered", what, required=True) or 0
    product = obj(item.get("product"), f"{what}.product")
    price, currency = None, None
    unit = opt_obj(product, "price", f"{what}.product").get("unitPrice")
    if unit is not None:
        unit_amount, currency = money(unit, f"{what}.product.price.unitPrice",
                                      amount_key="amount", currency_key="currencyCode")
        price = fits_money(unit_amount * quantity, f"{what} line total")
    fulfillment = opt_obj(item, "fulfillment", what)
    shipped = int_field(fulfillment, "quantityFulfilled", what, required=False)
    return ItemRow(
        amazon_order_id=order_id,
        order_item_id=item_id,
        seller_sku=opt_str(product, "sellerSku", f"{what}.product"),
        asin=opt_str(product, "asin", f"{what}.product"),
        title=opt_str(product, "title", f"{what}.product"),
        quantity_ordered=quantity,
        quantity_shipped=shipped,
        item_price=price,
        currency=currency,
        raw=item,
    )


# ---------------------------------------------------------------- v0 (deprecated)


def map_order_v0(doc: Any) -> OrderRow:
    """An ``Order`` from v0 getOrders (PascalCase)."""
    order = obj(doc, "order")
    storable(order, "order")
    order_id = req_str(order, "AmazonOrderId", "order")
    what = f"order {order_id}"
    total, currency = None, None
    if order.get("OrderTotal") is not None:
        total, currency = money(order["OrderTotal"], f"{what}.OrderTotal",
                                amount_key="Amount", currency_key="CurrencyCode")
    return OrderRow(
        amazon_order_id=order_id,
        order_status=normalise_status(req_str(order, "OrderStatus", what)),
        purchase_date=parse_time(order.get("PurchaseDate"), f"{what}.PurchaseDate"),
        last_update_date=parse_time(order.get("LastUpdateDate"), f"{what}.LastUpdateDate"),
        order_total=total,
        currency=currency,
        marketplace_id=opt_str(order, "MarketplaceId", what),
        fulfillment_channel=FULFILLED_BY.get(str(order.get("FulfillmentChannel", "")).upper()),
        api_version="v0",
        raw=order,
    )


def map_item_v0(order_id: str, doc: Any) -> ItemRow:
    item = obj(doc, f"order {order_id} item")
    storable(item, f"order {order_id} item")
    item_id = req_str(item, "OrderItemId", f"order {order_id} item")
    what = f"order {order_id} item {item_id}"
    price, currency = None, None
    if item.get("ItemPrice") is not None:  # absent while the order is Pending
        price, currency = money(item["ItemPrice"], f"{what}.ItemPrice",
                                amount_key="Amount", currency_key="CurrencyCode")
    return ItemRow(
        amazon_order_id=order_id,
        order_item_id=item_id,
        seller_sku=opt_str(item, "SellerSKU", what),
        asin=opt_str(item, "ASIN", what),
        title=opt_str(item, "Title", what),
        quantity_ordered=int_field(item, "QuantityOrdered", what, required=True) or 0,
        quantity_shipped=int_field(item, "QuantityShipped", what, required=False),
        item_price=price,
        currency=currency,
        raw=item,
    )

"""Orders API v0: ``getOrders`` and ``getOrderItems`` in v0's PascalCase shapes.

Faithful to the model's note on getOrderItems: while an order is Pending, Amazon
returns no pricing, so ``ItemPrice``/``ItemTax``/``PromotionDiscount`` (and the
order's ``OrderTotal``) are absent until payment is authorized. No PII fields are
rendered (they need a Restricted Data Token on the real API).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .clock import iso
from .errors import invalid_input, not_found
from .gateway import Call
from .spec import V0, definition_enum
from .windows import Names, OrderQuery, page, statuses_from_v0, window
from .world import Item, Order, Status

NAMES = Names("CreatedAfter", "CreatedBefore", "LastUpdatedAfter", "LastUpdatedBefore")
ZERO = Decimal("0.00")


def money(currency: str, amount: Decimal) -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": f"{amount:.2f}"}


def get_orders(call: Call) -> dict[str, Any]:
    size: int = call.params["MaxResultsPerPage"]
    if "NextToken" in call.params:
        # v0: "NextToken doesn't affect any filters" — they, and the page size, come
        # from the token, so a client may send just MarketplaceIds + NextToken.
        state = call.sim.tokens.decode(
            call.params["NextToken"], call.seller.seller_id, "getOrders", "NextToken"
        )
        query, after_key, size = OrderQuery.from_json(state["q"]), _key(state["k"]), state["n"]
    else:
        query, after_key = _query(call), None
    result = page(call.seller, query, after_key, size)
    payload: dict[str, Any] = {"Orders": [order_v0(o) for o in result.orders]}
    if result.more:
        state = {"q": query.to_json(), "k": result.last_key, "n": size}
        payload["NextToken"] = call.sim.tokens.encode(call.seller.seller_id, "getOrders", state)
    payload["CreatedBefore" if query.mode == "created" else "LastUpdatedBefore"] = iso(query.bound)
    return {"payload": payload}


def _key(raw: list[Any] | None) -> tuple[int, str] | None:
    return (int(raw[0]), str(raw[1])) if raw else None


def _query(call: Call) -> OrderQuery:
    p = call.params
    mode, after, bound = window(p, NAMES, call.now, call.sim.config.lag_seconds)
    _check_enum(p, "OrderStatuses", "OrderStatus")
    _check_enum(p, "FulfillmentChannels", "FulfillmentChannel")
    return OrderQuery(
        mode=mode,
        after=after,
        bound=bound,
        marketplaces=tuple(p["MarketplaceIds"]),
        statuses=statuses_from_v0(p["OrderStatuses"]) if "OrderStatuses" in p else None,
        channels=tuple(p["FulfillmentChannels"]) if "FulfillmentChannels" in p else None,
        order_ids=tuple(p["AmazonOrderIds"]) if "AmazonOrderIds" in p else None,
    )


def _check_enum(params: dict[str, Any], name: str, prop: str) -> None:
    # The parameter declares plain strings; the allowed values are the Order enum's.
    allowed = definition_enum(V0, "Order", prop)
    for value in params.get(name, ()):
        if value not in allowed:
            raise invalid_input(
                f"'{name}' has an invalid value '{value}'. Allowed values: {', '.join(allowed)}."
            )


def order_v0(order: Order) -> dict[str, Any]:
    shipped = sum(i.quantity_shipped for i in order.items)
    open_units = (
        0
        if order.status is Status.CANCELED
        else sum(i.quantity_ordered for i in order.items) - shipped
    )
    body: dict[str, Any] = {
        "AmazonOrderId": order.order_id,
        "SellerOrderId": order.order_id,
        "PurchaseDate": iso(order.purchase_date),
        "LastUpdateDate": iso(order.last_update),
        "OrderStatus": order.status.v0,
        "FulfillmentChannel": order.fulfillment_channel,
        "SalesChannel": order.marketplace.name,
        "ShipServiceLevel": "Std Domestic",
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": open_units,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": order.marketplace.marketplace_id,
        "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "EarliestShipDate": iso(order.purchase_date + 86_400),
        "LatestShipDate": iso(order.purchase_date + 3 * 86_400),
        "IsBusinessOrder": False,
        "IsPrime": order.is_prime,
        "IsPremiumOrder": False,
        "IsGlobalExpressEnabled": False,
        "IsReplacementOrder": False,
        "IsSoldByAB": False,
        "IsISPU": False,
        "IsAccessPointOrder": False,
        "HasRegulatedItems": False,
    }
    if order.status is not Status.PENDING:
        body["OrderTotal"] = money(order.marketplace.currency, order.total)
    return body


def get_order_items(call: Call) -> dict[str, Any]:
    order_id: str = call.params["orderId"]
    order = call.sim.world.find_order(call.seller.seller_id, order_id)
    if order is None:
        raise not_found(f"Order '{order_id}' was not found for this seller.")
    start = 0
    if "NextToken" in call.params:
        state = call.sim.tokens.decode(
            call.params["NextToken"], call.seller.seller_id, "getOrderItems", "NextToken"
        )
        if state.get("order") != order_id:
            raise invalid_input("'NextToken' was issued for a different order.")
        start = int(state["next"])
    size = call.sim.config.items_page_size
    chunk = order.items[start : start + size]
    payload: dict[str, Any] = {
        "OrderItems": [item_v0(i, order) for i in chunk],
        "AmazonOrderId": order_id,
    }
    if start + size < len(order.items):
        state = {"order": order_id, "next": start + size}
        payload["NextToken"] = call.sim.tokens.encode(call.seller.seller_id, "getOrderItems", state)
    return {"payload": payload}


def item_v0(item: Item, order: Order) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ASIN": item.product.asin,
        "SellerSKU": item.product.sku,
        "OrderItemId": item.order_item_id,
        "Title": item.product.title,
        "QuantityOrdered": item.quantity_ordered,
        "QuantityShipped": item.quantity_shipped,
        "ProductInfo": {"NumberOfItems": "1"},
    }
    if order.status is not Status.PENDING:
        currency = order.marketplace.currency
        body["ItemPrice"] = money(currency, item.line_total)
        body["ItemTax"] = money(currency, ZERO)
        body["PromotionDiscount"] = money(currency, ZERO)
    body.update(
        {
            "IsGift": "false",
            "ConditionId": "New",
            "ConditionSubtypeId": "New",
            "IsTransparency": False,
        }
    )
    body["SerialNumberRequired"] = False
    return body

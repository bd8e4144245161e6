"""Orders API 2026-01-01: ``searchOrders`` and ``getOrder`` in its camelCase shapes.

Items are embedded in every order. Optional blocks appear only when ``includedData``
asks for them (FULFILLMENT, PROCEEDS, BUYER, RECIPIENT); the other datasets are
accepted and yield nothing. BUYER/RECIPIENT data is obviously fake.
A ``paginationToken`` must come with the same parameters as the request that produced
it, except ``maxResultsPerPage`` and ``includedData`` (model: ``Pagination``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .clock import iso
from .errors import invalid_input, not_found
from .gateway import Call
from .validation import Params
from .windows import Names, OrderQuery, page, statuses_from_v2026, window
from .world import Item, Order, Status

NAMES = Names("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore")
FREE_BETWEEN_PAGES = frozenset({"maxResultsPerPage", "includedData", "paginationToken"})
CHANNEL_BY_FULFILLER = {"AMAZON": "AFN", "MERCHANT": "MFN"}
FULFILLER_BY_CHANNEL = {v: k for k, v in CHANNEL_BY_FULFILLER.items()}


def money(currency: str, amount: Decimal) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "currencyCode": currency}


def search_orders(call: Call) -> dict[str, Any]:
    signature = _signature(call.params)
    if "paginationToken" in call.params:
        query, after_key = _resume(call, signature)
    else:
        query, after_key = _query(call), None
    result = page(call.seller, query, after_key, call.params["maxResultsPerPage"])
    included = frozenset(call.params.get("includedData", ()))
    body: dict[str, Any] = {"orders": [order_2026(o, included) for o in result.orders]}
    if result.more:
        state = {"q": query.to_json(), "k": result.last_key, "r": signature}
        body["pagination"] = {
            "nextToken": call.sim.tokens.encode(call.seller.seller_id, "searchOrders", state)
        }
    body["createdBefore" if query.mode == "created" else "lastUpdatedBefore"] = iso(query.bound)
    return body


def _signature(params: Params) -> dict[str, Any]:
    """The parameters that must not change between pages, order-insensitive for arrays."""
    return {
        k: sorted(v) if isinstance(v, list) else v
        for k, v in params.items()
        if k not in FREE_BETWEEN_PAGES
    }


def _resume(call: Call, signature: dict[str, Any]) -> tuple[OrderQuery, tuple[int, str]]:
    token = call.params["paginationToken"]
    state = call.sim.tokens.decode(token, call.seller.seller_id, "searchOrders", "paginationToken")
    if state["r"] != signature:
        raise invalid_input(
            "'paginationToken' must be sent with the same parameters as the request that "
            "returned it (only maxResultsPerPage and includedData may change)."
        )
    return OrderQuery.from_json(state["q"]), (int(state["k"][0]), str(state["k"][1]))


def _query(call: Call) -> OrderQuery:
    p = call.params
    mode, after, bound = window(p, NAMES, call.now, call.sim.config.lag_seconds)
    return OrderQuery(
        mode=mode,
        after=after,
        bound=bound,
        marketplaces=tuple(p["marketplaceIds"]) if "marketplaceIds" in p else None,
        statuses=statuses_from_v2026(p["fulfillmentStatuses"])
        if "fulfillmentStatuses" in p
        else None,
        channels=tuple(CHANNEL_BY_FULFILLER[v] for v in p["fulfilledBy"])
        if "fulfilledBy" in p
        else None,
    )


def get_order(call: Call) -> dict[str, Any]:
    order_id: str = call.params["orderId"]
    order = call.sim.world.find_order(call.seller.seller_id, order_id)
    if order is None:
        raise not_found(f"Order '{order_id}' was not found for this seller.")
    return {"order": order_2026(order, frozenset(call.params.get("includedData", ())))}


def order_2026(order: Order, included: frozenset[str]) -> dict[str, Any]:
    """An ``Order`` with its blocks in the model's property order."""
    currency = order.marketplace.currency
    body: dict[str, Any] = {
        "orderId": order.order_id,
        "createdTime": iso(order.purchase_date),
        "lastUpdatedTime": iso(order.last_update),
    }
    if order.is_prime:
        body["programs"] = ["PRIME"]
    body["salesChannel"] = {
        "channelName": "AMAZON",
        "marketplaceId": order.marketplace.marketplace_id,
        "marketplaceName": order.marketplace.name,
    }
    if "BUYER" in included:
        body["buyer"] = _fake_buyer(order)
    if "RECIPIENT" in included:
        body["recipient"] = _fake_recipient(order)
    if "PROCEEDS" in included:
        body["proceeds"] = {"grandTotal": money(currency, order.total)}
    if "FULFILLMENT" in included:
        body["fulfillment"] = {
            "fulfillmentStatus": order.status.v2026,
            "fulfilledBy": FULFILLER_BY_CHANNEL[order.fulfillment_channel],
        }
    body["orderItems"] = [item_2026(item, order, included) for item in order.items]
    return body


def item_2026(item: Item, order: Order, included: frozenset[str]) -> dict[str, Any]:
    currency = order.marketplace.currency
    body: dict[str, Any] = {
        "orderItemId": item.order_item_id,
        "quantityOrdered": item.quantity_ordered,
        "product": {
            "asin": item.product.asin,
            "title": item.product.title,
            "sellerSku": item.product.sku,
            "condition": {"conditionType": "NEW"},
            "price": {"unitPrice": money(currency, item.unit_price)},
        },
    }
    if "PROCEEDS" in included:
        body["proceeds"] = {"proceedsTotal": money(currency, item.line_total)}
    if "FULFILLMENT" in included:
        # A cancelled order has nothing left to ship.
        remaining = (
            0 if order.status is Status.CANCELED else item.quantity_ordered - item.quantity_shipped
        )
        body["fulfillment"] = {
            "quantityFulfilled": item.quantity_shipped,
            "quantityUnfulfilled": remaining,
        }
    return body


def _fake_buyer(order: Order) -> dict[str, str]:
    buyer = {"buyerName": "Sandbox Buyer (fake)"}
    if order.fulfillment_channel == "MFN":  # model: buyerEmail is FBM-only
        buyer["buyerEmail"] = f"fake-buyer-{order.order_id}@sandbox.invalid"
    return buyer


def _fake_recipient(order: Order) -> dict[str, Any]:
    address = {
        "name": "Sandbox Recipient (fake)",
        "addressLine1": "1 Nowhere Street",
        "city": "Sandbox City",
        "postalCode": "00000",
        "countryCode": order.marketplace.country,
        "addressType": "RESIDENTIAL",
    }
    return {"deliveryAddress": address}

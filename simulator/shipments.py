"""Orders API v0 ``confirmShipment``: the merchant tells Amazon that a package has left.

The body is checked against ``ConfirmShipmentRequest`` (:mod:`bodies`), then the way
Amazon checks it. The order must exist (404). It must be fulfilled by the merchant
(``MFN``), be Unshipped or PartiallyShipped (not Pending, Canceled, Shipped, ...), and
belong to the body's ``marketplaceId``. ``packageReferenceId`` must be a positive number.
``carrierName`` is required when ``carrierCode`` is ``Other``. ``codCollectionMethod`` is
allowed in Japan only. ``shipDate`` must not be before the purchase. Each ``orderItemId``
must be one of the order's and appear once, with a positive ``quantity`` no larger than
what is still unshipped.

Any other request gets a 400 ``InvalidInput`` and changes nothing. A valid one ships the
items: their shipped quantities grow, the order becomes PartiallyShipped or Shipped, its
LastUpdateDate moves, and the package is kept on the order. The answer is 204 with no body.
"""

from __future__ import annotations

import re
from typing import Any

from . import bodies
from .clock import parse_iso
from .errors import invalid_input, not_found
from .gateway import Call
from .spec import V0
from .world import Item, Order, Status

OPERATION = "confirmShipment"
OPEN = (Status.UNSHIPPED, Status.PARTIALLY_SHIPPED)
POSITIVE_NUMBER = re.compile(r"^[1-9][0-9]*$")
COD_COUNTRY = "JP"


def confirm_shipment(call: Call) -> dict[str, Any]:
    order_id: str = call.params["orderId"]
    call.sim.writes.receive(OPERATION, order_id)
    body = bodies.parse(V0, call.op.body or "", call.body)
    order = call.sim.world.find_order(call.seller.seller_id, order_id)
    if order is None:
        raise not_found(f"Order '{order_id}' was not found for this seller.")
    _check_order(order, body)
    package: dict[str, Any] = body["packageDetail"]
    _check_package(order, package)
    for item, quantity in _shipping(order, package["orderItems"]):
        item.quantity_shipped += quantity
    done = all(i.quantity_shipped == i.quantity_ordered for i in order.items)
    order.status = Status.SHIPPED if done else Status.PARTIALLY_SHIPPED
    order.touch(call.now)
    order.packages.append(package)
    call.sim.writes.apply(OPERATION, order_id)
    return {}


def _check_order(order: Order, body: dict[str, Any]) -> None:
    if order.fulfillment_channel != "MFN":
        raise invalid_input(f"Order '{order.order_id}' is fulfilled by Amazon; only "
                            "merchant-fulfilled orders can be confirmed.")
    if order.status not in OPEN:
        raise invalid_input(f"Order '{order.order_id}' is {order.status.v0}; only Unshipped "
                            "or PartiallyShipped orders can be confirmed.")
    if body["marketplaceId"] != order.marketplace.marketplace_id:
        raise invalid_input(f"Order '{order.order_id}' does not belong to marketplace "
                            f"'{body['marketplaceId']}'.")
    if "codCollectionMethod" in body and order.marketplace.country != COD_COUNTRY:
        raise invalid_input("'codCollectionMethod' is only supported in the JP marketplace.")


def _check_package(order: Order, package: dict[str, Any]) -> None:
    if not POSITIVE_NUMBER.match(package["packageReferenceId"]):
        raise invalid_input("'packageDetail.packageReferenceId' must be a positive number.")
    if package["carrierCode"] == "Other" and not package.get("carrierName"):
        raise invalid_input("'packageDetail.carrierName' is required when 'carrierCode' is "
                            "'Other'.")
    if not package["trackingNumber"].strip():
        raise invalid_input("'packageDetail.trackingNumber' must not be empty.")
    if parse_iso(package["shipDate"]) < order.purchase_date:
        raise invalid_input("'packageDetail.shipDate' is before the order's PurchaseDate.")
    if not package["orderItems"]:
        raise invalid_input("'packageDetail.orderItems' must name at least one item.")


def _shipping(order: Order, lines: list[dict[str, Any]]) -> list[tuple[Item, int]]:
    """(item, units) per line, after checking every line (so a bad line changes nothing)."""
    items = {item.order_item_id: item for item in order.items}
    seen: set[str] = set()
    out = []
    for line in lines:
        item_id, quantity = line["orderItemId"], line["quantity"]
        item = items.get(item_id)
        if item is None:
            raise invalid_input(f"'{item_id}' is not an OrderItemId of order "
                                f"'{order.order_id}'.")
        if item_id in seen:
            raise invalid_input(f"OrderItemId '{item_id}' is listed more than once.")
        seen.add(item_id)
        unshipped = item.quantity_ordered - item.quantity_shipped
        if quantity < 1 or quantity > unshipped:
            raise invalid_input(f"'quantity' for OrderItemId '{item_id}' must be between 1 "
                                f"and the {unshipped} unit(s) not shipped yet; got {quantity}.")
        out.append((item, quantity))
    return out

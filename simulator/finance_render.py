"""Finances rendered as the models spell them: 2024-06-19 ``Transaction`` (camelCase), v0
``FinancialEventGroup`` and v0 financial events (PascalCase).

Both models declare ``currencyAmount`` / ``CurrencyAmount`` a ``BigDecimal`` of JSON type
*number*, so amounts go out as numbers (two decimals at most), not as strings. Breakdowns
nest: ``ProductCharges`` (Principal, Tax, Shipping) and ``AmazonFees`` (ReferralFee,
FBAPerUnitFulfillmentFee) at the transaction level and per item; every level's amount is
the sum of the level below, and ``totalAmount`` the sum of the top level.

v0 financial events (``listFinancialEvents``) hold the same money as the 2024-06-19
transaction of the same entry, component by component, so the sum of an event's components
is that transaction's ``totalAmount``:

- a Shipment is a ``ShipmentEvent`` in ``ShipmentEventList`` (``AmazonOrderId``,
  ``MarketplaceName``, ``PostedDate``, ``ShipmentItemList``), one ``ShipmentItem`` per order
  item (``SellerSKU``, ``OrderItemId``, ``QuantityShipped``, ``ItemChargeList``,
  ``ItemFeeList``). Charges: ``Principal``, ``Tax`` 0 and ``ShippingCharge`` 0 when the item
  has a principal (as the 2024 ``ProductCharges`` node: Principal, Tax, Shipping); fees:
  ``Commission`` (the 2024 ``ReferralFee``) and ``FBAPerUnitFulfillmentFee``, each only
  when the item has it (non-zero), as the 2024 ``AmazonFees`` node does. Both lists are
  always there, possibly empty;
- a Refund is a ``ShipmentEvent`` in ``RefundEventList`` with ``ShipmentItemAdjustmentList``
  instead: items with ``OrderAdjustmentItemId`` (``<OrderItemId>-R``, the 2024 item's
  ``ORDER_ADJUSTMENT_ITEM_ID``) and ``ItemChargeAdjustmentList`` / ``ItemFeeAdjustmentList``
  (the principal negative, the referral fee given back positive as ``Commission``);
- an Adjustment (an FBA fee re-measurement) is a ``ServiceFeeEvent`` in
  ``ServiceFeeEventList``: ``AmazonOrderId``, ``FeeReason`` (the 2024 description, "FBA
  Weight/Dimension Change"), ``FeeList`` = one ``FBAPerUnitFulfillmentFee`` of the whole
  fee, ``SellerSKU`` and ``ASIN`` of the order's first item. The model's ``ServiceFeeEvent``
  has no ``PostedDate``: the event is still listed by its entry's posted time (the
  ``PostedAfter`` / ``PostedBefore`` window and the paging order), it just does not say it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .clock import iso
from .finances import (
    ADJUSTMENT,
    DAY,
    REFUND,
    SHIPMENT,
    Entry,
    Group,
    Line,
    group_of,
    lines,
    opaque_id,
)
from .world import Seller

# The v0 event lists every listFinancialEvents page carries (possibly empty), and where each
# kind of entry goes.
V0_LISTS = ("ShipmentEventList", "RefundEventList", "ServiceFeeEventList")
V0_LIST_OF = dict(zip((SHIPMENT, REFUND, ADJUSTMENT), V0_LISTS, strict=True))

ACCOUNT_TYPE = "Standard Orders"
DEFERRAL_REASON = "DD7"  # the model's example of a delivery-date deferral policy
DESCRIPTIONS = {
    SHIPMENT: "Order Payment",
    REFUND: "Refund Order",
    ADJUSTMENT: "FBA Weight/Dimension Change",
}
ZERO = Decimal("0.00")


def money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"currencyAmount": float(amount), "currencyCode": currency}


def transaction_id(seed: int, seller: Seller, entry: Entry) -> str:
    return opaque_id(seed, "transaction", seller.seller_id, entry.order.order_id, entry.kind)


def group_id(seed: int, seller: Seller, group: Group) -> str:
    return opaque_id(seed, "group", seller.seller_id, group.currency, group.start)


def transaction(seed: int, seller: Seller, entry: Entry, now: float) -> dict[str, Any]:
    """One ``Transaction``, in the model's property order."""
    market, currency = entry.marketplace, entry.marketplace.currency
    money_lines = lines(entry)
    body: dict[str, Any] = {
        "sellingPartnerMetadata": {
            "sellingPartnerId": seller.seller_id,
            "accountType": ACCOUNT_TYPE,
            "marketplaceId": market.marketplace_id,
        },
        "relatedIdentifiers": [
            {"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": entry.order.order_id},
            {"relatedIdentifierName": "FINANCIAL_EVENT_GROUP_ID",
             "relatedIdentifierValue": group_id(seed, seller, group_of(entry))},
        ],
        "transactionType": entry.kind,
        "transactionId": transaction_id(seed, seller, entry),
        "transactionStatus": entry.status(now),
        "description": DESCRIPTIONS[entry.kind],
        "postedDate": iso(entry.posted),
        "totalAmount": money(sum((line.total for line in money_lines), ZERO), currency),
        "marketplaceDetails": {"marketplaceId": market.marketplace_id,
                               "marketplaceName": market.name},
        "items": [_item(entry, index, line) for index, line in enumerate(money_lines)],
    }
    if entry.matures is not None:
        body["contexts"] = [{"contextType": "DeferredContext", "deferralReason": DEFERRAL_REASON,
                             "maturityDate": iso(entry.matures)}]
    body["breakdowns"] = breakdowns(money_lines, currency)
    return body


def _item(entry: Entry, index: int, line: Line) -> dict[str, Any]:
    item, currency = entry.order.items[index], entry.marketplace.currency
    body: dict[str, Any] = {"description": item.product.title}
    if entry.kind == REFUND:
        body["relatedIdentifiers"] = [{
            "itemRelatedIdentifierName": "ORDER_ADJUSTMENT_ITEM_ID",
            "itemRelatedIdentifierValue": f"{item.order_item_id}-R",
        }]
    body["totalAmount"] = money(line.total, currency)
    body["breakdowns"] = breakdowns((line,), currency)
    body["contexts"] = [{
        "contextType": "ProductContext",
        "asin": item.product.asin,
        "sku": item.product.sku,
        "quantityShipped": item.quantity_ordered,
        "fulfillmentNetwork": entry.order.fulfillment_channel,
    }]
    return body


def breakdowns(lines: tuple[Line, ...], currency: str) -> list[dict[str, Any]]:
    """ProductCharges when there is a principal, AmazonFees when there is a fee."""
    principal = sum((line.principal for line in lines), ZERO)
    referral = sum((line.referral for line in lines), ZERO)
    fba = sum((line.fba for line in lines), ZERO)
    found = []
    if any(line.principal for line in lines):
        found.append(_node("ProductCharges", currency, [
            ("Principal", principal), ("Tax", ZERO), ("Shipping", ZERO)]))
    fees = [(name, amount) for name, amount, present in (
        ("ReferralFee", referral, any(line.referral for line in lines)),
        ("FBAPerUnitFulfillmentFee", fba, any(line.fba for line in lines))) if present]
    if fees:
        found.append(_node("AmazonFees", currency, fees))
    return found


def _node(name: str, currency: str, children: list[tuple[str, Decimal]]) -> dict[str, Any]:
    total = sum((amount for _, amount in children), ZERO)
    return {
        "breakdownType": name,
        "breakdownAmount": money(total, currency),
        "breakdowns": [
            {"breakdownType": child, "breakdownAmount": money(amount, currency),
             "breakdowns": []}
            for child, amount in children
        ],
    }


def event_group(seed: int, seller: Seller, group: Group, total: Decimal,
                now: float) -> dict[str, Any]:
    """One v0 ``FinancialEventGroup`` holding ``total``: Open until its end, then Closed and
    transferred (``Processing`` for a day, then ``Succeeded``)."""
    closed = now >= group.end
    body: dict[str, Any] = {
        "FinancialEventGroupId": group_id(seed, seller, group),
        "ProcessingStatus": "Closed" if closed else "Open",
        "FundTransferStatus": _transfer_status(group, now),
        "OriginalTotal": {"CurrencyCode": group.currency, "CurrencyAmount": float(total)},
    }
    if closed:
        body["FundTransferDate"] = iso(group.end)
    body["BeginningBalance"] = {"CurrencyCode": group.currency, "CurrencyAmount": 0.0}
    body["FinancialEventGroupStart"] = iso(group.start)
    if closed:
        body["FinancialEventGroupEnd"] = iso(group.end)
    return body


def _transfer_status(group: Group, now: float) -> str:
    if now < group.end:
        return "Unknown"
    return "Processing" if now < group.end + DAY else "Succeeded"


# --- v0 financial events -----------------------------------------------------------------------


def v0_money(amount: Decimal, currency: str) -> dict[str, Any]:
    """A v0 ``Currency``: ``CurrencyAmount`` a JSON number, as the model's BigDecimal."""
    return {"CurrencyCode": currency, "CurrencyAmount": float(amount)}


def financial_event(entry: Entry) -> tuple[str, dict[str, Any]]:
    """The entry as a v0 financial event: (the ``FinancialEvents`` list it goes in, event)."""
    if entry.kind == ADJUSTMENT:
        return V0_LIST_OF[ADJUSTMENT], _service_fee_event(entry)
    refund = entry.kind == REFUND
    body: dict[str, Any] = {
        "AmazonOrderId": entry.order.order_id,
        "MarketplaceName": entry.marketplace.name,
        "PostedDate": iso(entry.posted),
    }
    items = [_shipment_item(entry, index, line, refund)
             for index, line in enumerate(lines(entry))]
    body["ShipmentItemAdjustmentList" if refund else "ShipmentItemList"] = items
    return V0_LIST_OF[entry.kind], body


def _shipment_item(entry: Entry, index: int, line: Line, refund: bool) -> dict[str, Any]:
    item, currency = entry.order.items[index], entry.marketplace.currency
    body: dict[str, Any] = {"SellerSKU": item.product.sku, "OrderItemId": item.order_item_id}
    if refund:
        body["OrderAdjustmentItemId"] = f"{item.order_item_id}-R"
    body["QuantityShipped"] = item.quantity_ordered
    charges = [("Principal", line.principal), ("Tax", ZERO), ("ShippingCharge", ZERO)] \
        if line.principal else []
    fees = [(name, amount) for name, amount in (
        ("Commission", line.referral), ("FBAPerUnitFulfillmentFee", line.fba)) if amount]
    adjustment = "Adjustment" if refund else ""
    body[f"ItemCharge{adjustment}List"] = [
        {"ChargeType": name, "ChargeAmount": v0_money(amount, currency)}
        for name, amount in charges]
    body[f"ItemFee{adjustment}List"] = [
        {"FeeType": name, "FeeAmount": v0_money(amount, currency)} for name, amount in fees]
    return body


def _service_fee_event(entry: Entry) -> dict[str, Any]:
    first = entry.order.items[0].product
    fee = sum((line.fba for line in lines(entry)), ZERO)
    return {
        "AmazonOrderId": entry.order.order_id,
        "FeeReason": DESCRIPTIONS[ADJUSTMENT],
        "FeeList": [{"FeeType": "FBAPerUnitFulfillmentFee",
                     "FeeAmount": v0_money(fee, entry.marketplace.currency)}],
        "SellerSKU": first.sku,
        "ASIN": first.asin,
    }

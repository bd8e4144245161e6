"""The finances stream for sellers on whom Amazon refuses Finances 2024-06-19: v0
``listFinancialEvents`` (``financesV0.json``), into the same ``financial_transactions`` and
breakdowns.

A v0 page is one object of event lists (``ShipmentEventList``, ``RefundEventList``, ...), not
an array; :func:`events` flattens it into ``(list name, event)`` records. Each event becomes
one transaction, read through the 2024-06-19 mapper (:func:`worker.sync.finances.map_transaction`)
after :func:`as_transaction` has put its money in that shape, so ``order_profit`` and every
reader see one layout:

- ``transactionType``: the list's name without ``EventList`` (``Shipment``, ``Refund``,
  ``ServiceFee``, ``Adjustment``...), as 2024-06-19 names the same kinds;
- ``transactionStatus``: ``RELEASED``. The model: "in ListFinancialEvents, deferred events
  don't show up in responses until they are released";
- breakdowns: charges (``ChargeComponent``) under ``ProductCharges/<ChargeType>``, fees
  (``FeeComponent``) under ``AmazonFees/<FeeType>``, promotions under
  ``Promotions/<PromotionType>``, direct payments under ``DirectPayments/<type>``, taxes
  withheld (``ItemTaxWithheldList``) under ``TaxWithheld/<ChargeType>``; per item for the
  ``ShipmentItemList``/``ShipmentItemAdjustmentList`` of an event, summed at the
  transaction level. An event with none of these (e.g. ``AdjustmentEvent``) is summed from
  its own top-level amounts (``AdjustmentAmount``...) under ``Other/<field>``;
- ``transactionId``: v0 has none. It is ``v0-`` and a hash of the list's name and the event's
  canonical JSON, so a re-read event lands on its row; two identical events of one page are
  told apart by their order in it (two identical events on different pages are one row:
  nothing in v0 tells them apart). ``raw`` is Amazon's event, with its list's name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from worker.db.rows import BreakdownRow, TransactionRow
from worker.spapi.regions import SALES_CHANNELS
from worker.sync.endpoint import Scope
from worker.sync.fields import bad, money, obj, opt_str, storable
from worker.sync.finances import TransactionPage, array, map_transaction
from worker.sync.paging import Query

STATUS = "RELEASED"
PAGE_SIZE = 100  # MaxResultsPerPage: at most 100 (model)
ITEM_LISTS = ("ShipmentItemList", "ShipmentItemAdjustmentList")
# component object -> (its type key, its amount key, the breakdown group it belongs to)
COMPONENTS = (("ChargeType", "ChargeAmount", "ProductCharges"),
              ("FeeType", "FeeAmount", "AmazonFees"),
              ("PromotionType", "PromotionAmount", "Promotions"),
              ("DirectPaymentType", "DirectPaymentAmount", "DirectPayments"))
TAX_WITHHELD = "ItemTaxWithheldList"
MAX_NODES = 10_000  # components in one event; more is refused as malformed
Component = tuple[str, str, Decimal, str]  # (group, type, amount, currency)


def events(body: Any) -> list[tuple[str, dict[str, Any]]]:
    """A page's events: ``payload.FinancialEvents``, each list flattened in order."""
    payload = body.get("payload") if isinstance(body, dict) else None
    found = payload.get("FinancialEvents") if isinstance(payload, dict) else None
    if not isinstance(found, dict):
        raise bad("listFinancialEvents response has no payload.FinancialEvents object")
    out: list[tuple[str, dict[str, Any]]] = []
    for name, entries in found.items():
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise bad(f"FinancialEvents.{name} is not an array")
        out += [(name, obj(e, f"FinancialEvents.{name}[]")) for e in entries]
    return out


def transaction_id(list_name: str, event: dict[str, Any], occurrence: int) -> str:
    canonical = json.dumps([list_name, event, occurrence or None], sort_keys=True,
                           separators=(",", ":"), default=str)
    return "v0-" + hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def _components(doc: Any, what: str) -> Iterator[Component]:
    """The money components anywhere under ``doc`` (not descending into item lists)."""
    stack: list[tuple[Any, bool]] = [(doc, False)]
    seen = 0
    while stack:
        node, withheld = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise bad(f"{what} holds more than {MAX_NODES} values")
        if isinstance(node, list):
            stack.extend((n, withheld) for n in reversed(node))
            continue
        if not isinstance(node, dict):
            continue
        for type_key, amount_key, group in COMPONENTS:
            if type_key in node and amount_key in node:
                kind = opt_str(node, type_key, what) or ""
                amount, currency = money(node[amount_key], f"{what}.{amount_key}",
                                         amount_key="CurrencyAmount", currency_key="CurrencyCode")
                yield ("TaxWithheld" if withheld else group), kind, amount, currency
                break
        else:
            for key, value in reversed(list(node.items())):
                if key not in ITEM_LISTS and isinstance(value, list | dict):
                    stack.append((value, withheld or key == TAX_WITHHELD))


def _top_amounts(event: dict[str, Any], what: str) -> list[Component]:
    """An event without components: its own top-level amounts (``AdjustmentAmount``)."""
    found = []
    for key, value in event.items():
        if isinstance(value, dict) and set(value) == {"CurrencyCode", "CurrencyAmount"}:
            amount, currency = money(value, f"{what}.{key}", amount_key="CurrencyAmount",
                                     currency_key="CurrencyCode")
            found.append(("Other", key, amount, currency))
    return found


def _tree(parts: list[Component], what: str) -> tuple[list[dict[str, Any]], Decimal, str | None]:
    """2024-06-19 breakdowns of ``parts``: one node per group, a child per type (summed)."""
    currencies = {c for *_, c in parts}
    if len(currencies) > 1:
        raise bad(f"{what} mixes currencies")
    currency = next(iter(currencies), None)
    groups: dict[str, dict[str, Decimal]] = {}
    for group, kind, amount, _ in parts:
        children = groups.setdefault(group, {})
        children[kind] = children.get(kind, Decimal(0)) + amount

    def amount_of(value: Decimal) -> dict[str, Any]:
        return {"currencyAmount": value, "currencyCode": currency}

    nodes = [{"breakdownType": group, "breakdownAmount": amount_of(sum(children.values(),
                                                                       Decimal(0))),
              "breakdowns": [{"breakdownType": kind, "breakdownAmount": amount_of(value)}
                             for kind, value in children.items()]}
             for group, children in groups.items()]
    return nodes, sum((a for _, _, a, _ in parts), Decimal(0)), currency


def as_transaction(list_name: str, event: dict[str, Any], tid: str) -> dict[str, Any]:
    """The event in the 2024-06-19 ``Transaction`` shape (amounts as Decimals)."""
    what = f"{list_name} event"
    kind = list_name.removesuffix("EventList") or list_name
    items_docs = [obj(i, f"{what}.{name}[]") for name in ITEM_LISTS
                  for i in (array(event, name, what))]
    own = list(_components(event, what))
    per_item = [list(_components(i, f"{what} item")) for i in items_docs]
    everything = own + [c for parts in per_item for c in parts]
    if not everything:
        everything = _top_amounts(event, what)
    breakdowns, total, currency = _tree(everything, what)
    doc: dict[str, Any] = {"transactionId": tid, "transactionType": kind,
                           "transactionStatus": STATUS, "breakdowns": breakdowns}
    description = opt_str(event, "FeeReason", what) or opt_str(event, "AdjustmentType", what)
    if description is not None:
        doc["description"] = description
    if event.get("PostedDate") is not None:
        doc["postedDate"] = event["PostedDate"]
    if currency is not None:
        doc["totalAmount"] = {"currencyAmount": total, "currencyCode": currency}
    order_id = opt_str(event, "AmazonOrderId", what)
    if order_id:
        doc["relatedIdentifiers"] = [{"relatedIdentifierName": "ORDER_ID",
                                      "relatedIdentifierValue": order_id}]
    market = SALES_CHANNELS.get(opt_str(event, "MarketplaceName", what) or "")
    if market is not None:
        doc["marketplaceDetails"] = {"marketplaceId": market}
    doc["items"] = [_item(i, parts, what) for i, parts in zip(items_docs, per_item, strict=True)]
    return doc


def _item(item: dict[str, Any], parts: list[Component], what: str) -> dict[str, Any]:
    breakdowns, total, currency = _tree(parts, f"{what} item")
    body: dict[str, Any] = {"breakdowns": breakdowns}
    if currency is not None:
        body["totalAmount"] = {"currencyAmount": total, "currencyCode": currency}
    context: dict[str, Any] = {"contextType": "ProductContext"}
    for source, target in (("SellerSKU", "sku"), ("ASIN", "asin"),
                           ("QuantityShipped", "quantityShipped")):
        if item.get(source) is not None:
            context[target] = item[source]
    body["contexts"] = [context]
    return body


def map_event(list_name: str, event: dict[str, Any],
              occurrence: int = 0) -> tuple[TransactionRow, list[BreakdownRow]]:
    """One v0 event -> its transaction row and breakdown rows. Pure."""
    storable(event, f"{list_name} event")
    tid = transaction_id(list_name, event, occurrence)
    row, breakdowns = map_transaction(as_transaction(list_name, event, tid))
    return dataclasses.replace(row, raw={"list": list_name, "event": event}), breakdowns


async def event_rows(scope: Scope, records: list[Any]) -> TransactionPage:
    page, seen = TransactionPage(), dict[str, int]()
    for list_name, event in records:
        first = transaction_id(list_name, event, 0)
        occurrence = seen.get(first, 0)
        seen[first] = occurrence + 1
        row, breakdowns = map_event(list_name, event, occurrence)
        page.transactions.append(row)
        page.breakdowns += breakdowns
    return page


def events_query(seller: Any, marketplace_id: str | None, size: int) -> Query:
    """Every request: the largest page the model allows (the stream's page size is
    Amazon's for 2024-06-19, which takes none)."""
    return {"MaxResultsPerPage": PAGE_SIZE}

"""The V2 settlement flat file (``GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2``): its layout
and its rows, worked out from one closed payout group of the ledger (:mod:`finances`).

Layout, from Amazon's attribute list for this report type:
https://developer-docs.amazon.com/sp-api/docs/settlement-reports-attributes
(also https://developer-docs.amazon.com/sp-api/docs/report-type-values-settlement: a
tab-delimited flat file, "automatically scheduled by Amazon", found with getReports; price
columns condensed into ``amount-type`` / ``amount-description`` / ``amount``).
The date format is the one Amazon's Seller Central help gives for the settlement dates:
ISO 8601 with an explicit offset, 25 characters (``2003-10-03T16:00:00-07:00``):
https://sellercentral.amazon.in/gp/help/external/help.html?itemID=791&language=en_IN

The file: a header row of :data:`COLUMNS`; a first data row carrying the settlement summary
(``settlement-id`` to ``currency``, the rest empty); then one row per amount, each with
the ``settlement-id`` and the summary columns empty. The simulator's amounts, per item of a
ledger transaction (a zero amount has no row; the amounts of a settlement sum to its
``total-amount``, which equals its payout group's total):

==========================  ============  ============  ============================
ledger transaction          transaction-  amount-type   amount-description
                            type
==========================  ============  ============  ============================
Shipment: principal         Order         ItemPrice     Principal
Shipment: referral fee      Order         ItemFees      Commission
Shipment: FBA fee (AFN)     Order         ItemFees      FBAPerUnitFulfillmentFee
Refund: principal back      Refund        ItemPrice     Principal
Refund: referral fee back   Refund        ItemFees      Commission
Adjustment: FBA re-measure  Adjustment    ItemFees      FBAPerUnitFulfillmentFee
re-issue correction         other-        other-        BalanceAdjustment
                            transaction   transaction
==========================  ============  ============  ============================

What the sources leave open, and what the simulator does:

- Amazon's list has 23 columns and ends at ``quantity-purchased``; some third-party
  descriptions add a ``promotion-id`` column, which the simulator leaves out (the world's
  orders carry no promotions).
- ``posted-date``'s format is not given: the date alone (``2026-11-20``), since
  ``posted-date-time`` beside it carries the instant (25-character ISO 8601, as above).
- Amounts: the file's plain decimals with a dot (``-12.34``), whatever the marketplace;
  some marketplaces' files are said to use a decimal comma, which the simulator never does.
- ``deposit-date``: a day after the period ends (the group's transfer succeeds then).
- ``merchant-order-id``, ``merchant-order-item-id``, ``merchant-adjustment-item-id``: empty
  (the world's orders have no merchant ids); ``quantity-purchased``: on Order rows only;
  ``shipment-id`` on Order rows, ``adjustment-id`` on Refund and Adjustment rows, both
  derived from the seed and the order.
- The settlement-id is numeric (the help: 1 to 20 digits); here 11, from the seed, seller,
  currency and period, so a re-issue keeps it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from .finances import ADJUSTMENT, DAY, REFUND, SHIPMENT, Entry, Group, lines
from .generate import ALNUM

SETTLEMENT_REPORT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
COLUMNS = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date",
    "total-amount", "currency", "transaction-type", "order-id", "merchant-order-id",
    "adjustment-id", "shipment-id", "marketplace-name", "amount-type", "amount-description",
    "amount", "fulfillment-id", "posted-date", "posted-date-time", "order-item-code",
    "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
)
SUMMARY_COLUMNS = COLUMNS[:6]
TRANSACTION_TYPES = {SHIPMENT: "Order", REFUND: "Refund", ADJUSTMENT: "Adjustment"}
OTHER = "other-transaction"
CORRECTION = "BalanceAdjustment"
ZERO = Decimal("0.00")

Row = tuple[str, ...]


def file_date(epoch: float) -> str:
    """``2026-11-20T10:00:05+00:00``: the 25-character ISO 8601 of the settlement file."""
    return datetime.fromtimestamp(int(epoch), tz=UTC).isoformat()


def day(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%d")


def number(seed: int, *parts: object, digits: int = 11) -> str:
    """A ``digits``-digit number (no leading zero) from the seed and ``parts``."""
    key = ":".join(map(str, (seed, *parts))).encode()
    value = int.from_bytes(hashlib.blake2b(key, digest_size=16).digest(), "big")
    return str(10 ** (digits - 1) + value % (9 * 10 ** (digits - 1)))


def settlement_id(seed: int, seller_id: str, group: Group) -> str:
    return number(seed, "settlement", seller_id, group.currency, group.start)


def deposit_date(group: Group) -> int:
    return group.end + DAY


def summary_row(settlement: str, group: Group, total: Decimal) -> Row:
    head = (settlement, file_date(group.start), file_date(group.end),
            file_date(deposit_date(group)), f"{total:.2f}", group.currency)
    return head + ("",) * (len(COLUMNS) - len(head))


def line_rows(seed: int, settlement: str, entries: Iterable[Entry]) -> list[Row]:
    """One row per non-zero amount of each item of each transaction, in ledger order."""
    return [row for entry in entries for row in _entry_rows(seed, settlement, entry)]


def _entry_rows(seed: int, settlement: str, entry: Entry) -> list[Row]:
    order, kind = entry.order, entry.kind
    sale = kind == SHIPMENT
    shipment = "D" + _code(seed, "shipment", order.order_id) if sale else ""
    adjustment = "" if sale else number(seed, "adjustment", order.order_id, kind, digits=14)
    rows = []
    for item, line in zip(order.items, lines(entry), strict=True):
        amounts = (("ItemPrice", "Principal", line.principal),
                   ("ItemFees", "Commission", line.referral),
                   ("ItemFees", "FBAPerUnitFulfillmentFee", line.fba))
        for amount_type, description, amount in amounts:
            if amount == ZERO:
                continue
            rows.append(_row(settlement, {
                "transaction-type": TRANSACTION_TYPES[kind], "order-id": order.order_id,
                "adjustment-id": adjustment, "shipment-id": shipment,
                "marketplace-name": order.marketplace.name, "amount-type": amount_type,
                "amount-description": description, "amount": f"{amount:.2f}",
                "fulfillment-id": order.fulfillment_channel, "posted-date": day(entry.posted),
                "posted-date-time": file_date(entry.posted),
                "order-item-code": item.order_item_id, "sku": item.product.sku,
                "quantity-purchased": str(item.quantity_ordered) if sale else "",
            }))
    return rows


def correction_row(settlement: str, amount: Decimal, posted: int) -> Row:
    """A re-issue's extra line: a balance correction outside any order."""
    return _row(settlement, {
        "transaction-type": OTHER, "amount-type": OTHER, "amount-description": CORRECTION,
        "amount": f"{amount:.2f}", "posted-date": day(posted),
        "posted-date-time": file_date(posted),
    })


def _row(settlement: str, values: dict[str, str]) -> Row:
    return tuple(settlement if c == "settlement-id" else values.get(c, "") for c in COLUMNS)


def _code(seed: int, *parts: object) -> str:
    digest = hashlib.blake2b(":".join(map(str, (seed, *parts))).encode(), digest_size=9).digest()
    return "".join(ALNUM[b % len(ALNUM)] for b in digest)

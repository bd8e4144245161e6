"""Returns and reimbursements, derived from the refunds of :mod:`finances`, so that money and
returns agree: a returned order is one the ledger refunds.

Report types and their layouts (Amazon's attribute lists, cited next to each column list):

- ``GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA``: every refunded AFN order's items, one line
  per item (its own license plate number), dated (``return-date``) by the refund's posting:
  the unit was processed at the fulfillment center then. The line reaches the report 1-10
  days later (seeded per item): a back-dated line a later report's look-back picks up.
- ``GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE``: every refunded MFN order's items, one line
  per item, dated by the buyer's return request 1-2 days before the refund (seeded); the
  line reaches the report with the refund, so it too is back-dated.
- ``GET_FBA_REIMBURSEMENTS_DATA``: :data:`DAMAGED_SHARE` of FBA return lines (seeded) are
  units Amazon damaged (disposition ``DAMAGED``): each gets a cash reimbursement, approved
  1-6 days after the return and recorded 1-4 days after its approval.

A report holds the lines of its marketplaces dated inside its window and recorded by the time
it is made. Every value is a function of the seed, the order and the item, so the same world
gives the same lines whenever they are read. ``GET /_sim/truth/returns`` is every line
recorded by now: what a perfect mirror holds.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from aiohttp import web

from .finances import DAY, REFERRAL_RATE, REFUND, Entry
from .marketplaces import CENT, Marketplace
from .report_content import iso_offset
from .state import Simulator
from .world import Item, Order, Seller

FBA_RETURNS = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
MFN_RETURNS = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
REIMBURSEMENTS = "GET_FBA_REIMBURSEMENTS_DATA"

# https://developer-docs.amazon.com/sp-api/docs/fba-customer-concessions-reports-attributes
FBA_RETURN_COLUMNS = (
    "return-date", "order-id", "sku", "asin", "fnsku", "product-name", "quantity",
    "fulfillment-center-id", "detailed-disposition", "reason", "status",
    "license-plate-number", "customer-comments",
)
# https://developer-docs.amazon.com/sp-api/docs/returns-reports-attributes
MFN_RETURN_COLUMNS = (
    "Order ID", "Order date", "Return request date", "Return request status",
    "Amazon RMA ID", "Merchant RMA ID", "Label type", "Label cost", "Currency code",
    "Return carrier", "Tracking ID", "Label to be paid by", "A-to-Z Claim", "Is prime",
    "ASIN", "Merchant SKU", "Item Name", "Return quantity", "Return Reason", "In policy",
    "Return type", "Resolution", "Invoice number", "Return delivery date", "Order Amount",
    "Order quantity", "SafeT Action reason", "SafeT claim id", "SafeT claim state",
    "SafeT claim creation time", "SafeT claim reimbursement amount", "Refunded Amount",
)
# https://developer-docs.amazon.com/sp-api/docs/fba-payments-reports-attributes
REIMBURSEMENT_COLUMNS = (
    "approval-date", "reimbursement-id", "case-id", "amazon-order-id", "reason", "sku",
    "fnsku", "asin", "product-name", "condition", "currency-unit", "amount-per-unit",
    "amount-total", "quantity-reimbursed-cash", "quantity-reimbursed-inventory",
    "quantity-reimbursed-total", "original-reimbursement-id", "original-reimbursement-type",
)
COLUMNS = {FBA_RETURNS: FBA_RETURN_COLUMNS, MFN_RETURNS: MFN_RETURN_COLUMNS,
           REIMBURSEMENTS: REIMBURSEMENT_COLUMNS}
TRUTH_NAMES = {FBA_RETURNS: "returns", MFN_RETURNS: "returns_mfn",
               REIMBURSEMENTS: "reimbursements"}

DAMAGED_SHARE = 20  # percent of FBA return lines: damaged by Amazon, reimbursed
# (disposition, share in percent) for the others, in draw order
_DISPOSITIONS = (("SELLABLE", 55), ("CUSTOMER_DAMAGED", 15), ("DEFECTIVE", 10))
_REASONS = ("UNWANTED_ITEM", "NOT_AS_DESCRIBED", "DEFECTIVE", "ORDERED_WRONG_ITEM",
            "NO_REASON_GIVEN")
_CENTERS = {"NA": ("PHX7", "SDF8", "ONT8", "YYZ4"), "EU": ("LEJ1", "DTM2", "MUC3", "ORY1"),
            "FE": ("NRT5", "KIX2", "HND3")}
_COMMENT = "Did not need it any more"  # a canned comment; spsync never stores the column
REIMBURSED_SHARE = Decimal(1) - REFERRAL_RATE  # a damaged unit: its price less the fee


@dataclass(frozen=True, slots=True)
class Line:
    """One line of one report type: the date it is dated by, and from when it is shown."""

    report_type: str
    marketplace_id: str
    event: int
    recorded: int
    cells: tuple[str, ...]

    def render(self) -> dict[str, Any]:
        return {"marketplaceId": self.marketplace_id, "event": iso_offset(self.event),
                "recorded": iso_offset(self.recorded),
                "row": dict(zip(COLUMNS[self.report_type], self.cells, strict=True))}


def _draw(seed: int, order: Order, item: Item) -> int:
    digest = hashlib.blake2b(f"{seed}:returns:{order.order_id}:{item.order_item_id}".encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _code(prefix: str, length: int, *parts: object) -> str:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=16).digest()
    return prefix + base64.b32encode(digest).decode()[:length]


def _money(amount: Decimal, market: Marketplace) -> Decimal:
    step = Decimal(1) if market.whole_units else CENT
    return amount.quantize(step, rounding=ROUND_HALF_UP).quantize(CENT)


def order_lines(seed: int, seller: Seller, refund: Entry) -> list[Line]:
    """The return (and reimbursement) lines of a refunded order, one return line per item."""
    order = refund.order
    out: list[Line] = []
    for item in order.items:
        draw = _draw(seed, order, item)
        if order.fulfillment_channel == "AFN":
            out.extend(_fba_lines(seed, seller, order, item, refund.posted, draw))
        else:
            out.append(_mfn_line(seed, order, item, refund.posted, draw))
    return out


def _fba_lines(seed: int, seller: Seller, order: Order, item: Item, returned: int,
               draw: int) -> list[Line]:
    market, product = order.marketplace, item.product
    fnsku = seller.skus[product.sku].fnsku if product.sku in seller.skus else ""
    roll = (draw >> 16) % 100
    disposition = "DAMAGED"
    if roll >= DAMAGED_SHARE:
        left = roll - DAMAGED_SHARE
        for name, share in _DISPOSITIONS:
            disposition = name
            if left < share:
                break
            left -= share
    damaged = disposition == "DAMAGED"
    centers = _CENTERS.get(seller.region, _CENTERS["NA"])
    cells = (
        iso_offset(returned), order.order_id, product.sku, product.asin, fnsku, product.title,
        str(item.quantity_ordered), centers[(draw >> 24) % len(centers)], disposition,
        _REASONS[(draw >> 32) % len(_REASONS)],
        "Reimbursed" if damaged else "Unit returned to inventory",
        _code("LPN", 10, seed, "lpn", order.order_id, item.order_item_id),
        _COMMENT if (draw >> 40) % 3 == 0 else "",
    )
    recorded = returned + (1 + (draw >> 8) % 10) * DAY
    lines = [Line(FBA_RETURNS, market.marketplace_id, returned, recorded, cells)]
    if damaged:
        approved = returned + (1 + (draw >> 44) % 6) * DAY + (draw >> 52) % 3600
        per_unit = _money(item.unit_price * REIMBURSED_SHARE, market)
        quantity = str(item.quantity_ordered)
        rid = str(1_000_000_000 + int(_code("", 12, seed, "rid", order.order_id,
                                            item.order_item_id), 36) % 9_000_000_000)
        lines.append(Line(REIMBURSEMENTS, market.marketplace_id, approved,
                          approved + (1 + (draw >> 48) % 4) * DAY, (
            iso_offset(approved), rid, "", order.order_id, "Damaged_Warehouse",
            product.sku, fnsku, product.asin, product.title, "New", market.currency,
            f"{per_unit:.2f}", f"{per_unit * item.quantity_ordered:.2f}", quantity, "0",
            quantity, "", "")))
    return lines


def _mfn_line(seed: int, order: Order, item: Item, refunded: int, draw: int) -> Line:
    market, product = order.marketplace, item.product
    requested = refunded - DAY - (draw >> 8) % DAY  # 1-2 days before the refund
    reason = _REASONS[(draw >> 32) % len(_REASONS)]
    cells = (
        order.order_id, iso_offset(order.purchase_date), iso_offset(requested), "Approved",
        _code("D", 9, seed, "rma", order.order_id, item.order_item_id), "",
        "AmazonPrePaidLabel", f"{market.price(Decimal('4.99')):.2f}", market.currency, "UPS",
        _code("1Z", 16, seed, "tracking", order.order_id, item.order_item_id),
        "Customer" if reason == "UNWANTED_ITEM" else "Seller", "N",
        "Y" if order.is_prime else "N", product.asin, product.sku, product.title,
        str(item.quantity_ordered), f"CR-{reason}", "Y", "C-Returns", "StandardRefund", "",
        iso_offset(refunded - 3600), f"{order.total:.2f}",
        str(sum(i.quantity_ordered for i in order.items)), "", "", "", "", "",
        f"{item.line_total:.2f}",
    )
    return Line(MFN_RETURNS, market.marketplace_id, requested, refunded, cells)


def lines(sim: Simulator, seller: Seller) -> list[Line]:
    """Every return and reimbursement line of the seller, recorded or still to come."""
    seed = sim.config.seed
    refunds = (e for e in sim.finances.ledger(seller).entries if e.kind == REFUND)
    out = [line for refund in refunds for line in order_lines(seed, seller, refund)]
    return sorted(out, key=lambda line: (line.event, line.cells))


def report_rows(sim: Simulator, seller: Seller, report_type: str, markets: list[str],
                start: float, end: float, now: float) -> tuple[tuple[str, ...], list[list[str]]]:
    """A report's header and rows: its type's lines of ``markets`` dated in [start, end] and
    recorded by ``now``."""
    chosen = [list(line.cells) for line in lines(sim, seller)
              if line.report_type == report_type and line.marketplace_id in markets
              and start <= line.event <= end and line.recorded <= now]
    return COLUMNS[report_type], chosen


def truth(sim: Simulator, seller: Seller) -> dict[str, list[dict[str, Any]]]:
    """``{"returns": [...], "returns_mfn": [...], "reimbursements": [...]}``: every line
    recorded by now, each ``{"marketplaceId", "event", "recorded", "row": {column: cell}}``."""
    now = sim.clock.now()
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in TRUTH_NAMES.values()}
    for line in lines(sim, seller):
        if line.recorded <= now:
            out[TRUTH_NAMES[line.report_type]].append(line.render())
    return out


def add_routes(app: web.Application, sim: Simulator) -> None:
    async def route(request: web.Request) -> web.Response:
        seller = sim.world.sellers.get(request.query.get("seller_id", ""))
        if seller is None:
            return web.json_response(
                {"error": f"unknown seller_id {request.query.get('seller_id')!r}"}, status=400)
        return web.json_response(truth(sim, seller))

    app.router.add_get("/_sim/truth/returns", route)

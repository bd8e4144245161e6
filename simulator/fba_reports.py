"""FBA fee and inventory ledger reports, derived from the world (deterministic from the seed):

- ``GET_FBA_ESTIMATED_FBA_FEES_TXT_DATA``: one row per FBA SKU stocked in the marketplace, a
  snapshot (the dates asked for select nothing). Its fees are the ones :mod:`finances`
  charges on a sale: a referral fee of :data:`finances.REFERRAL_RATE` of the price and the
  fulfilment fee :data:`finances.FBA_FEE_USD` a unit, in the marketplace's currency, so money
  and estimates agree. Sizes are seeded per SKU (:func:`size`).
- ``GET_FBA_STORAGE_FEE_CHARGES_DATA``: one row per FBA SKU stocked in the marketplace and
  month, from :data:`HISTORY_DAYS` before the world's start: a seeded daily average on hand
  times the unit's volume times the month's rate (:data:`RATE_USD`, higher in October to
  December). A month is charged after it ends: its rows appear in reports only from midnight
  UTC of a seeded day between the 7th and the 14th of the next month (:func:`published`).
  A report holds every published month overlapping its dates.
- ``GET_LEDGER_DETAIL_VIEW_DATA``: inventory ledger events of the marketplace whose date (a
  UTC day) is between the days of the report's start and end, among those recorded by now:
  ``Shipments`` (each shipped AFN order's items, negative, recorded when shipped);
  ``CustomerReturns`` (the orders :mod:`finances` refunds, dated the refund's posting and
  recorded 2-6 days later, at midnight: back-dated); ``Receipts`` (a seeded inbound every 30
  days per SKU, recorded the next midnight) and ``Adjustments`` (seeded damaged / misplaced
  units, some weeks, recorded 1-6 days after at midnight: back-dated; sometimes the same line
  twice, as two identical units).
- ``GET_LEDGER_SUMMARY_VIEW_DATA``: those events summed per day, FNSKU, disposition and
  fulfillment center (``aggregateByLocation=FC``, daily), with balances from a seeded opening
  stock: a back-dated event changes its day's row and later days' balances once recorded.

Layouts: Amazon's attribute lists (cited in ``worker/sync/fba_reports.py``). ``/_sim/truth/fees``
and ``/_sim/truth/ledger`` serve what a perfect mirror holds now.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from aiohttp import web

from . import finances
from .catalog import AFN, CatalogEntry
from .marketplaces import Marketplace
from .world import Seller, World

FEE_ESTIMATES = "GET_FBA_ESTIMATED_FBA_FEES_TXT_DATA"
STORAGE_FEES = "GET_FBA_STORAGE_FEE_CHARGES_DATA"
LEDGER_DETAIL = "GET_LEDGER_DETAIL_VIEW_DATA"
LEDGER_SUMMARY = "GET_LEDGER_SUMMARY_VIEW_DATA"
TYPES = (FEE_ESTIMATES, STORAGE_FEES, LEDGER_DETAIL, LEDGER_SUMMARY)

FEE_COLUMNS = (
    "sku", "fnsku", "asin", "product-name", "product-group", "brand", "fulfilled-by",
    "has-local-inventory", "your-price", "sales-price", "longest-side", "median-side",
    "shortest-side", "length-and-girth", "unit-of-dimension", "item-package-weight",
    "unit-of-weight", "product-size-weight-band", "currency", "estimated-fee-total",
    "estimated-referral-fee-per-unit", "estimated-variable-closing-fee",
    "expected-domestic-fulfilment-fee-per-unit",
)
STORAGE_COLUMNS = (
    "asin", "fnsku", "product-name", "fulfillment-center", "country-code", "longest-side",
    "median-side", "shortest-side", "measurement-units", "weight", "weight-units",
    "item-volume", "volume-units", "average-quantity-on-hand",
    "average-quantity-pending-removal", "estimated-total-item-volume", "month-of-charge",
    "storage-rate", "currency", "estimated-monthly-storage-fee",
)
LEDGER_COLUMNS = (
    "Date", "FNSKU", "ASIN", "MSKU", "Title", "EventType", "ReferenceID", "Quantity",
    "FulfillmentCenter", "Disposition", "Reason", "Country", "ReconciledQuantity",
    "UnreconciledQuantity",
)

SUMMARY_COLUMNS = (
    "Date", "FNSKU", "ASIN", "MSKU", "Title", "Disposition", "StartingWarehouseBalance",
    "InTransitBetweenWarehouses", "Receipts", "CustomerShipments", "CustomerReturns",
    "VendorReturns", "WarehouseTransferIn/Out", "Found", "Lost", "Damaged", "Disposed",
    "OtherEvents", "EndingWarehouseBalance", "UnknownEvents", "Location",
)
# A ledger event's summary column (an adjustment's by its reason).
SUMMARY_OF = {"Receipts": "Receipts", "Shipments": "CustomerShipments",
              "CustomerReturns": "CustomerReturns", "M": "Lost", "E": "Damaged"}

DAY = 86_400
HISTORY_DAYS = 180  # storage months, receipts and adjustments from this long before the start
RATE_USD = {False: Decimal("0.78"), True: Decimal("2.40")}  # per cubic foot; True: Oct-Dec
CENTERS = {"NA": ("PHX7", "ONT8", "BFI4"), "EU": ("LTN1", "MUC3", "BCN1"),
           "FE": ("NRT1", "KIX2", "HND3")}
Rows = list[list[str]]


def _draw(seed: int, *parts: object) -> int:
    digest = hashlib.blake2b(":".join(map(str, (seed, "fba", *parts))).encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class Size:
    longest: int  # inches
    median: int
    shortest: int
    weight: Decimal  # pounds

    @property
    def volume(self) -> Decimal:  # cubic feet
        return (Decimal(self.longest * self.median * self.shortest) / 1728).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP)


def size(seed: int, sku: str) -> Size:
    d = _draw(seed, "size", sku)
    longest = 6 + d % 12
    median = min(longest, 3 + (d >> 8) % 6)
    return Size(longest, median, min(median, 1 + (d >> 16) % 4),
                Decimal(2 + (d >> 24) % 40) / 10)


def fnsku_of(entry: CatalogEntry) -> str:
    return entry.fnsku or "X0" + hashlib.blake2b(entry.sku.encode(), digest_size=4).hexdigest(
    ).upper()


def center(seller: Seller, seed: int, sku: str) -> str:
    choices = CENTERS[seller.region]
    return choices[_draw(seed, "fc", seller.seller_id, sku) % len(choices)]


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _day(epoch: float) -> date:
    return datetime.fromtimestamp(int(epoch), tz=UTC).date()


def _midnight(day: date) -> int:
    return calendar.timegm(day.timetuple())


def fba_skus(seller: Seller, market: Marketplace) -> list[CatalogEntry]:
    """The FBA SKUs stocked in ``market``, in SKU order."""
    return [seller.skus[sku] for (m, sku) in sorted(seller.stock)
            if m == market.marketplace_id and seller.skus[sku].channel == AFN]


# ---------------------------------------------------------------- fee estimates


def fee_row(seed: int, entry: CatalogEntry, market: Marketplace) -> list[str]:
    price = entry.price(market)
    referral = finances._round(price * finances.REFERRAL_RATE, market)
    fulfilment = market.price(finances.FBA_FEE_USD)
    s = size(seed, entry.sku)
    return [
        entry.sku, fnsku_of(entry), entry.asin, entry.title, entry.product_type, "", "Amazon",
        "Y", _money(price), _money(price),
        f"{s.longest:.2f}", f"{s.median:.2f}", f"{s.shortest:.2f}",
        f"{s.longest + 2 * (s.median + s.shortest):.2f}", "inches", f"{s.weight:.2f}",
        "pounds", "Standard-Size", market.currency, _money(referral + fulfilment),
        _money(referral), "0.00", _money(fulfilment),
    ]


def fee_rows(seller: Seller, market: Marketplace, seed: int) -> Rows:
    return [fee_row(seed, e, market) for e in fba_skus(seller, market)]


# ---------------------------------------------------------------- storage fees


def _months(first: date, last: date) -> Iterator[date]:
    month = first.replace(day=1)
    while month <= last:
        yield month
        month = (month + timedelta(days=32)).replace(day=1)


def _month_end(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)  # the next month's first day


def published(seed: int, seller: Seller, month: date) -> int:
    """When a month's storage fees appear: midnight of the 7th to 14th of the next month."""
    return _midnight(_month_end(month) + timedelta(days=6 + _draw(seed, "published",
                                                                   seller.seller_id,
                                                                   month) % 8))


def storage_row(seed: int, seller: Seller, entry: CatalogEntry, market: Marketplace,
                month: date) -> list[str]:
    s = size(seed, entry.sku)
    d = _draw(seed, "storage", seller.seller_id, market.marketplace_id, entry.sku, month)
    on_hand = Decimal(d % 6000) / 100
    pending = Decimal((d >> 16) % 200) / 100 if (d >> 32) % 5 == 0 else Decimal(0)
    pending = min(pending, on_hand)
    volume = ((on_hand - pending) * s.volume).quantize(Decimal("0.0001"),
                                                        rounding=ROUND_HALF_UP)
    rate = market.price(RATE_USD[month.month >= 10])
    fee = (volume * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return [
        entry.asin, fnsku_of(entry), entry.title, center(seller, seed, entry.sku),
        market.country, f"{s.longest:.2f}", f"{s.median:.2f}", f"{s.shortest:.2f}", "inches",
        f"{s.weight:.2f}", "pounds", f"{s.volume:.4f}", "cubic feet", f"{on_hand:.2f}",
        f"{pending:.2f}", f"{volume:.4f}", month.strftime("%Y-%m"), _money(rate),
        market.currency, _money(fee),
    ]


def storage_rows(world: World, seller: Seller, market: Marketplace, seed: int, start: float,
                 end: float, now: float) -> Rows:
    """Every published month overlapping ``[start, end]``, per FBA SKU."""
    first = max(_day(start), _day(world.start - HISTORY_DAYS * DAY))
    months = [m for m in _months(first, _day(end)) if published(seed, seller, m) <= now]
    return [storage_row(seed, seller, e, market, m) for m in months
            for e in fba_skus(seller, market)]


# ---------------------------------------------------------------- inventory ledger


@dataclass(frozen=True)
class Event:
    day: date
    recorded: int
    row: tuple[str, ...]  # LEDGER_COLUMNS' cells


def _event(day: date, recorded: int, entry: CatalogEntry, kind: str, reference: str,
           quantity: int, fc: str, disposition: str, reason: str,
           market: Marketplace) -> Event:
    return Event(day, recorded, (day.isoformat(), fnsku_of(entry), entry.asin, entry.sku,
                                 entry.title, kind, reference, str(quantity), fc, disposition,
                                 reason, market.country, "", ""))


def ledger_events(world: World, seller: Seller, market: Marketplace, seed: int) -> list[Event]:
    """Every event of the marketplace, recorded or still to be, in ledger order."""
    events: list[Event] = []
    for order in seller.orders.values():
        if order.marketplace.marketplace_id != market.marketplace_id or \
                order.fulfillment_channel != AFN or not finances.posts_sale(order):
            continue
        shipment = "D" + hashlib.blake2b(order.order_id.encode(), digest_size=5).hexdigest()
        refunds = [e for e in finances.order_entries(order, seed) if e.kind == finances.REFUND]
        for item in order.items:
            entry = seller.skus[item.product.sku]
            fc = center(seller, seed, entry.sku)
            events.append(_event(_day(order.last_update), order.last_update, entry,
                                 "Shipments", shipment, -item.quantity_shipped, fc,
                                 "SELLABLE", "", market))
            for refund in refunds:
                d = _draw(seed, "return", order.order_id, entry.sku)
                day = _day(refund.posted)
                events.append(_event(
                    day, _midnight(day + timedelta(days=2 + d % 5)), entry, "CustomerReturns",
                    order.order_id, item.quantity_shipped, fc,
                    "CUSTOMER_DAMAGED" if d % 4 == 0 else "SELLABLE", "", market))
    first = _day(world.start - HISTORY_DAYS * DAY)
    for entry in fba_skus(seller, market):
        fc = center(seller, seed, entry.sku)
        for week in range(0, (HISTORY_DAYS + 400) // 7):
            d = _draw(seed, "ledger", seller.seller_id, market.marketplace_id, entry.sku, week)
            day = first + timedelta(days=week * 7 + d % 7)
            if week % 4 == 0:
                events.append(_event(day, _midnight(day + timedelta(days=1)), entry, "Receipts",
                                     "FBA" + f"{d % 10**9:09d}", 10 + (d >> 8) % 40, fc,
                                     "SELLABLE", "", market))
            if (d >> 16) % 3 == 0:
                reason, disposition = (("E", "DEFECTIVE") if (d >> 20) % 2 else
                                       ("M", "SELLABLE"))
                line = _event(day, _midnight(day + timedelta(days=1 + (d >> 24) % 6)), entry,
                              "Adjustments", f"{(d >> 28) % 10**10:010d}", -1, fc,
                              disposition, reason, market)
                events.extend([line, line] if (d >> 40) % 3 == 0 else [line])
    events.sort(key=lambda e: (e.day, e.row[1:]))
    return events


def ledger_rows(world: World, seller: Seller, market: Marketplace, seed: int, start: float,
                end: float, now: float) -> Rows:
    """The events of the days from ``start``'s to ``end``'s recorded by ``now``."""
    low, high = _day(start), _day(end)
    return [list(e.row) for e in ledger_events(world, seller, market, seed)
            if low <= e.day <= high and e.recorded <= now]


def summary_rows(world: World, seller: Seller, market: Marketplace, seed: int, start: float,
                 end: float, now: float) -> Rows:
    """The daily ledger summary by fulfillment center of the days from ``start``'s to
    ``end``'s, from the events recorded by ``now``: a row per day, FNSKU, disposition and
    location with an event that day; balances from a seeded opening stock at the history's
    start (sellable units only) plus every recorded event before."""
    low, high = _day(start), _day(end)
    balance: dict[tuple[str, str, str], int] = {}
    days: dict[tuple[date, str, str, str], tuple[tuple[str, ...], dict[str, int]]] = {}
    for e in ledger_events(world, seller, market, seed):
        if e.recorded > now or e.day > high:
            continue
        fnsku, kind, quantity, fc, disposition, reason = (e.row[1], e.row[5], int(e.row[7]),
                                                          e.row[8], e.row[9], e.row[10])
        key = (fnsku, disposition, fc)
        if key not in balance:
            opening = 100 + _draw(seed, "opening", seller.seller_id, fnsku, fc) % 100
            balance[key] = opening if disposition == "SELLABLE" else 0
        if e.day >= low:
            _, sums = days.setdefault((e.day, *key), (e.row[2:5], {"start": balance[key]}))
            column = SUMMARY_OF[reason or kind]
            sums[column] = sums.get(column, 0) + quantity
        balance[key] += quantity
    rows = []
    for (day, fnsku, disposition, fc), (names, sums) in sorted(days.items()):
        moved = [sums.get(c, 0) for c in SUMMARY_COLUMNS[7:18]]
        rows.append([day.isoformat(), fnsku, *names, disposition, str(sums["start"]),
                     *map(str, moved), str(sums["start"] + sum(moved)), "0", fc])
    return rows


# ---------------------------------------------------------------- reports and truth


def rows_for(world: World, seller: Seller, report_type: str, market: Marketplace, seed: int,
             start: float, end: float, now: float) -> tuple[tuple[str, ...], Rows]:
    """A report's header and rows (``report_type`` one of :data:`TYPES`)."""
    if report_type == FEE_ESTIMATES:
        return FEE_COLUMNS, fee_rows(seller, market, seed)
    if report_type == STORAGE_FEES:
        return STORAGE_COLUMNS, storage_rows(world, seller, market, seed, start, end, now)
    if report_type == LEDGER_SUMMARY:
        return SUMMARY_COLUMNS, summary_rows(world, seller, market, seed, start, end, now)
    return LEDGER_COLUMNS, ledger_rows(world, seller, market, seed, start, end, now)


def fees_truth(world: World, seller: Seller, seed: int, now: float) -> dict[str, Any]:
    """``{"estimates": [...], "storage": [...]}``: every marketplace's fee estimates and every
    storage fee row published by ``now``, as ``{column: cell}`` plus ``marketplaceId``."""
    estimates, storage = [], []
    for market in seller.marketplaces:
        estimates += [{"marketplaceId": market.marketplace_id, **dict(zip(FEE_COLUMNS, r,
                                                                           strict=True))}
                      for r in fee_rows(seller, market, seed)]
        rows = storage_rows(world, seller, market, seed, world.start - HISTORY_DAYS * DAY, now,
                            now)
        storage += [{"marketplaceId": market.marketplace_id,
                     **dict(zip(STORAGE_COLUMNS, r, strict=True))} for r in rows]
    return {"estimates": estimates, "storage": storage}


def ledger_truth(world: World, seller: Seller, seed: int, now: float) -> dict[str, Any]:
    """``{"ledger": [...], "summary": [...]}``: every event recorded by ``now``
    (``{column: cell}`` plus ``marketplaceId`` and ``recorded``, epoch seconds), in ledger
    order, and the daily summary of every day by ``now`` (plus ``marketplaceId``)."""
    first = world.start - HISTORY_DAYS * DAY
    return {"ledger": [
        {"marketplaceId": market.marketplace_id, "recorded": e.recorded,
         **dict(zip(LEDGER_COLUMNS, e.row, strict=True))}
        for market in seller.marketplaces
        for e in ledger_events(world, seller, market, seed) if e.recorded <= now],
        "summary": [
        {"marketplaceId": market.marketplace_id, **dict(zip(SUMMARY_COLUMNS, r, strict=True))}
        for market in seller.marketplaces
        for r in summary_rows(world, seller, market, seed, first, now, now)]}


def add_routes(app: web.Application, sim: Any) -> None:
    def route(build: Any) -> Any:
        async def handler(request: web.Request) -> web.Response:
            seller = sim.world.sellers.get(request.query.get("seller_id", ""))
            if seller is None:
                return web.json_response(
                    {"error": f"unknown seller_id {request.query.get('seller_id')!r}"},
                    status=400)
            return web.json_response(build(sim.world, seller, sim.config.seed,
                                           sim.clock.now()))
        return handler

    app.router.add_get("/_sim/truth/fees", route(fees_truth))
    app.router.add_get("/_sim/truth/ledger", route(ledger_truth))

"""Flat-file report rows taken from the world, so a mirror built from reports equals the
truth the APIs serve. Headers are Amazon's documented column names.

- ``GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL`` (and ``..._BY_ORDER_DATE_...``,
  windowed on PurchaseDate): one row per order item; ``order-status`` in the v0
  vocabulary; dates ISO 8601 with offset; no ship-to data (PII); prices empty while an
  order is Pending, as getOrderItems omits them.
- ``GET_MERCHANT_LISTINGS_ALL_DATA``: one row per listing in the first marketplace.
- ``GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA``: one row per FBA SKU in the first marketplace.
- anything else shaped like a report type: a small SKU list.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import UTC, datetime

from .catalog import BUYABLE, CatalogEntry, Listing, Stock
from .marketplaces import Marketplace
from .world import Item, Order, Seller, Status

ORDERS_BY_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
ORDERS_BY_DATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
LISTINGS_ALL = "GET_MERCHANT_LISTINGS_ALL_DATA"
FBA_MYI = "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA"

ORDER_COLUMNS = (
    "amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date",
    "order-status", "fulfillment-channel", "sales-channel", "order-channel",
    "ship-service-level", "product-name", "sku", "asin", "item-status", "quantity",
    "currency", "item-price", "item-tax", "shipping-price", "shipping-tax", "gift-wrap-price",
    "gift-wrap-tax", "item-promotion-discount", "ship-promotion-discount", "ship-city",
    "ship-state", "ship-postal-code", "ship-country", "promotion-ids", "is-business-order",
    "purchase-order-number", "price-designation",
)
LISTING_COLUMNS = (
    "item-name", "item-description", "listing-id", "seller-sku", "price", "quantity",
    "open-date", "image-url", "item-is-marketplace", "product-id-type", "zshop-shipping-fee",
    "item-note", "item-condition", "zshop-category1", "zshop-browse-path",
    "zshop-storefront-feature", "asin1", "asin2", "asin3", "will-ship-internationally",
    "expedited-shipping", "zshop-boldface", "product-id", "bid-for-featured-placement",
    "add-delete", "pending-quantity", "fulfillment-channel", "merchant-shipping-group", "status",
)
MYI_COLUMNS = (
    "sku", "fnsku", "asin", "product-name", "condition", "your-price", "mfn-listing-exists",
    "mfn-fulfillable-quantity", "afn-listing-exists", "afn-warehouse-quantity",
    "afn-fulfillable-quantity", "afn-unsellable-quantity", "afn-reserved-quantity",
    "afn-total-quantity", "per-unit-volume", "afn-inbound-working-quantity",
    "afn-inbound-shipped-quantity", "afn-inbound-receiving-quantity",
    "afn-researching-quantity", "afn-reserved-future-supply", "afn-future-supply-buyable",
)
GENERIC_COLUMNS = ("seller-sku", "asin", "product-name", "marketplace-id")

_CHANNEL_NAMES = {"AFN": "Amazon", "MFN": "Merchant"}
_AFN_CODES = {"NA": "AMAZON_NA", "EU": "AMAZON_EU", "FE": "AMAZON_JP"}
ZERO = "0.00"

Rows = list[list[str]]


def iso_offset(epoch: float) -> str:
    """``2026-11-20T10:00:05+00:00``: the flat files' ISO 8601 with an explicit offset."""
    return datetime.fromtimestamp(int(epoch), tz=UTC).isoformat()


def order_rows(seller: Seller, by_update: bool, start: float, end: float,
               marketplace_ids: list[str]) -> Rows:
    """Items of orders whose LastUpdateDate (or PurchaseDate) is in [start, end]."""
    def stamp(order: Order) -> int:
        return order.last_update if by_update else order.purchase_date

    chosen = sorted(
        (o for o in seller.orders.values()
         if start <= stamp(o) <= end and o.marketplace.marketplace_id in marketplace_ids),
        key=lambda o: (stamp(o), o.order_id),
    )
    return [order_row(order, item) for order in chosen for item in order.items]


def order_row(order: Order, item: Item) -> list[str]:
    priced = order.status is not Status.PENDING
    money = f"{item.line_total:.2f}" if priced else ""
    zero = ZERO if priced else ""
    return [
        order.order_id, order.order_id, iso_offset(order.purchase_date),
        iso_offset(order.last_update), order.status.v0,
        _CHANNEL_NAMES[order.fulfillment_channel], order.marketplace.name, "", "Standard",
        item.product.title, item.product.sku, item.product.asin, _item_status(order, item),
        str(item.quantity_ordered), order.marketplace.currency if priced else "", money,
        zero, zero, zero, zero, zero, zero, zero, "", "", "", "", "", "false", "", "",
    ]


def _item_status(order: Order, item: Item) -> str:
    if order.status is Status.CANCELED:
        return Status.CANCELED.v0
    if item.quantity_shipped == item.quantity_ordered:
        return Status.SHIPPED.v0
    return Status.UNSHIPPED.v0


def listing_rows(seller: Seller, marketplace: Marketplace) -> Rows:
    return [
        listing_row(seller, seller.skus[sku], seller.listings[sku], marketplace)
        for sku in sorted(seller.listings)
    ]


def listing_row(seller: Seller, entry: CatalogEntry, listing: Listing,
                marketplace: Marketplace) -> list[str]:
    afn = entry.channel == "AFN"
    opened = datetime.fromtimestamp(entry.created, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return [
        entry.title, "", entry.listing_id, entry.sku, f"{entry.price(marketplace):.2f}",
        "" if afn else str(listing.quantity(marketplace.marketplace_id)), opened, "", "y", "1",
        "", "", "11", "", "",
        "", entry.asin, "", "", "", "", "", entry.asin, "", "", "0",
        _AFN_CODES[seller.region] if afn else "DEFAULT", "" if afn else "Migrated Template",
        "Active" if BUYABLE in listing.status else "Inactive",
    ]


def myi_rows(seller: Seller, marketplace: Marketplace) -> Rows:
    keys = sorted(k for k in seller.stock if k[0] == marketplace.marketplace_id)
    return [myi_row(seller.skus[k[1]], seller.stock[k], marketplace) for k in keys]


def myi_row(entry: CatalogEntry, stock: Stock, marketplace: Marketplace) -> list[str]:
    # Deterministic per SKU, 0.01-0.99 cubic feet.
    volume = (zlib.crc32(entry.sku.encode()) % 99 + 1) / 100
    return [
        entry.sku, entry.fnsku, entry.asin, entry.title, "New",
        f"{entry.price(marketplace):.2f}", "No", "", "Yes", str(stock.warehouse),
        str(stock.fulfillable), str(stock.unfulfillable_total), str(stock.reserved_total),
        str(stock.warehouse + stock.inbound_total), f"{volume:.2f}",
        str(stock.inbound_working), str(stock.inbound_shipped), str(stock.inbound_receiving),
        str(stock.researching_total), "0", "0",
    ]


def generic_rows(seller: Seller, marketplace: Marketplace) -> Rows:
    entries = [seller.skus[sku] for sku in sorted(seller.skus)[:10]]
    return [[e.sku, e.asin, e.title, marketplace.marketplace_id] for e in entries]


RowBuilder = Callable[[Seller, Marketplace], Rows]
SNAPSHOTS: dict[str, tuple[tuple[str, ...], RowBuilder]] = {
    LISTINGS_ALL: (LISTING_COLUMNS, listing_rows),
    FBA_MYI: (MYI_COLUMNS, myi_rows),
}

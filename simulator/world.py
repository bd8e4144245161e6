"""The in-memory world: sellers, their orders, SKUs, stock and listings, and statuses.

Timestamps are integer epoch seconds (Amazon's precision); money is ``Decimal``. The
world is plain data — generation lives in :mod:`generate`, change in :mod:`mutations`,
and each API renders it in its own casing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from .catalog import CatalogEntry, Listing, Stock
from .marketplaces import Marketplace


class Status(Enum):
    """Canonical order status; ``.v0`` and ``.v2026`` are the two APIs' enum values."""

    PENDING_AVAILABILITY = ("PendingAvailability", "PENDING_AVAILABILITY")
    PENDING = ("Pending", "PENDING")
    UNSHIPPED = ("Unshipped", "UNSHIPPED")
    PARTIALLY_SHIPPED = ("PartiallyShipped", "PARTIALLY_SHIPPED")
    SHIPPED = ("Shipped", "SHIPPED")
    # 2026-01-01 has no InvoiceUnconfirmed: per v0's text every item has shipped.
    INVOICE_UNCONFIRMED = ("InvoiceUnconfirmed", "SHIPPED")
    CANCELED = ("Canceled", "CANCELLED")
    UNFULFILLABLE = ("Unfulfillable", "UNFULFILLABLE")

    @property
    def v0(self) -> str:
        return self.value[0]

    @property
    def v2026(self) -> str:
        return self.value[1]

    @classmethod
    def from_v0(cls, name: str) -> Status:
        return next(s for s in cls if s.v0 == name)

    @classmethod
    def from_v2026(cls, name: str) -> tuple[Status, ...]:
        return tuple(s for s in cls if s.v2026 == name)


@dataclass(frozen=True)
class Product:
    sku: str
    asin: str
    title: str
    usd_price: Decimal


@dataclass
class Item:
    order_item_id: str
    product: Product
    unit_price: Decimal
    quantity_ordered: int
    quantity_shipped: int = 0

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity_ordered


@dataclass
class Order:
    order_id: str
    seller_id: str
    marketplace: Marketplace
    status: Status
    purchase_date: int
    last_update: int
    fulfillment_channel: str  # v0 enum: "MFN" | "AFN"
    is_prime: bool
    items: list[Item]
    packages: list[dict[str, Any]] = field(default_factory=list)  # confirmShipment's, in order

    @property
    def total(self) -> Decimal:
        return sum((item.line_total for item in self.items), Decimal("0.00"))

    def touch(self, now: float) -> None:
        """Stamp a change. Strictly later than before, so "newer wins" downstream works
        even when two changes land in the same second."""
        self.last_update = max(int(now), self.last_update + 1)

    def set_status(self, status: Status, now: float) -> None:
        self.status = status
        shipped = status in (Status.SHIPPED, Status.INVOICE_UNCONFIRMED)
        for item in self.items:
            item.quantity_shipped = item.quantity_ordered if shipped else 0
        self.touch(now)


@dataclass
class Seller:
    index: int
    seller_id: str
    region: str
    marketplaces: tuple[Marketplace, ...]
    catalog: tuple[Product, ...]  # what orders are drawn from; all of it is in ``skus``
    orders: dict[str, Order] = field(default_factory=dict)
    skus: dict[str, CatalogEntry] = field(default_factory=dict)
    listings: dict[str, Listing] = field(default_factory=dict)  # by SKU
    stock: dict[tuple[str, str], Stock] = field(default_factory=dict)  # (marketplace, SKU)
    # patchListingsItem's attribute values by (SKU, marketplace), then name; None = deleted
    patched: dict[tuple[str, str], dict[str, list[dict[str, Any]] | None]] = field(
        default_factory=dict)
    delisted: set[tuple[str, str]] = field(default_factory=set)  # (SKU, marketplace) deleted
    # Brand Registry: registered | refused (403 on Brand Analytics reports) | refused-fatal
    brand_registry: str = "registered"

    @property
    def marketplace_ids(self) -> list[str]:
        return [m.marketplace_id for m in self.marketplaces]


@dataclass
class World:
    start: int
    sellers: dict[str, Seller] = field(default_factory=dict)
    taken_ids: set[str] = field(default_factory=set)  # order and order-item ids, world-wide

    def add_seller(self, seller: Seller) -> None:
        self.sellers[seller.seller_id] = seller

    def add_order(self, order: Order) -> None:
        self.sellers[order.seller_id].orders[order.order_id] = order

    def find_order(self, seller_id: str, order_id: str) -> Order | None:
        seller = self.sellers.get(seller_id)
        return seller.orders.get(order_id) if seller else None

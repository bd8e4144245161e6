"""A seller's catalog beyond its orders: SKUs, FBA stock and listings, as plain data.

Generation lives in :mod:`catalog_gen`, change in :mod:`catalog_changes`; the APIs
(:mod:`inventory`, :mod:`listings`, the reports) render it. The inventory breakdowns are
keyed by the property names of fbaInventoryV1's ``ReservedQuantity`` /
``UnfulfillableQuantity`` definitions and the ``ResearchingQuantityEntry.name`` enum, read
from the model, so no field name is typed in by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .marketplaces import Marketplace
from .spec import FBA_INVENTORY, LISTINGS, definition

AFN = "AFN"  # fulfilled by Amazon (FBA): has stock per marketplace
MFN = "MFN"  # fulfilled by the merchant: has a merchant quantity on the listing

RESERVED_TOTAL = "totalReservedQuantity"
UNFULFILLABLE_TOTAL = "totalUnfulfillableQuantity"
RESERVED_PARTS: tuple[str, ...] = tuple(
    k for k in definition(FBA_INVENTORY, "ReservedQuantity")["properties"] if k != RESERVED_TOTAL
)
UNFULFILLABLE_PARTS: tuple[str, ...] = tuple(
    k
    for k in definition(FBA_INVENTORY, "UnfulfillableQuantity")["properties"]
    if k != UNFULFILLABLE_TOTAL
)
RESEARCHING_TERMS: tuple[str, ...] = tuple(
    definition(FBA_INVENTORY, "ResearchingQuantityEntry")["properties"]["name"]["enum"]
)
BUYABLE, DISCOVERABLE = tuple(
    definition(LISTINGS, "ItemSummaryByMarketplace")["properties"]["status"]["items"]["enum"]
)


@dataclass(frozen=True)
class CatalogEntry:
    """One SKU. The first ones are the products orders are drawn from (same SKU/ASIN)."""

    sku: str
    asin: str
    fnsku: str
    title: str
    usd_price: Decimal
    channel: str  # AFN | MFN
    product_type: str
    listing_id: str
    created: int

    def price(self, marketplace: Marketplace) -> Decimal:
        """The offer price; the same conversion order items use, so they agree."""
        return marketplace.price(self.usd_price)


@dataclass
class Stock:
    """FBA inventory for one (marketplace, SKU)."""

    sku: str
    marketplace_id: str
    fulfillable: int
    inbound_working: int
    inbound_shipped: int
    inbound_receiving: int
    reserved: dict[str, int]  # RESERVED_PARTS → units
    unfulfillable: dict[str, int]  # UNFULFILLABLE_PARTS → units
    researching: dict[str, int]  # RESEARCHING_TERMS → units
    last_updated: int

    @property
    def reserved_total(self) -> int:
        return sum(self.reserved.values())

    @property
    def unfulfillable_total(self) -> int:
        return sum(self.unfulfillable.values())

    @property
    def researching_total(self) -> int:
        return sum(self.researching.values())

    @property
    def inbound_total(self) -> int:
        return self.inbound_working + self.inbound_shipped + self.inbound_receiving

    @property
    def warehouse(self) -> int:
        """Units physically in Amazon's fulfillment centers."""
        return self.fulfillable + self.reserved_total + self.unfulfillable_total

    @property
    def total(self) -> int:
        """``totalQuantity``: "in an inbound shipment or in Amazon fulfillment centers"."""
        return self.warehouse + self.researching_total + self.inbound_total

    def touch(self, now: float) -> None:
        """Strictly later than before, so "newer wins" downstream always sees the change."""
        self.last_updated = max(int(now), self.last_updated + 1)


@dataclass(frozen=True)
class Issue:
    code: str
    message: str
    severity: str  # Issue.severity enum: ERROR | WARNING | INFO
    categories: tuple[str, ...]
    attribute_names: tuple[str, ...] = ()

    @property
    def suppresses(self) -> bool:
        """An ERROR takes the offer down (enforcement LISTING_SUPPRESSED)."""
        return self.severity == "ERROR"


@dataclass
class Listing:
    """A listings item: one per SKU, offered in every marketplace of its seller.

    A merchant-fulfilled (MFN) listing has a quantity offered per marketplace
    (``offered``), which ``patchListingsItem`` sets and each sale there lowers, and the
    merchant's own stock (``on_hand``: never served by SP-API, truth only), which every
    MFN sale lowers. Units sold beyond ``on_hand`` are counted in ``oversold``, per
    marketplace: :mod:`merchant_stock` admits a sale only when its marketplace offers the
    units, so a marketplace oversells only when the offers add up to more than the stock.
    """

    sku: str
    created: int
    last_updated: int
    on_hand: int  # MFN only: the merchant's unsold stock; 0 for FBA
    issues: list[Issue] = field(default_factory=list)
    offered: dict[str, int] = field(default_factory=dict)  # MFN: marketplace → quantity
    oversold: dict[str, int] = field(default_factory=dict)  # MFN: marketplace → units

    def quantity(self, marketplace_id: str) -> int:
        """The quantity offered in ``marketplace_id`` (MFN)."""
        return self.offered.get(marketplace_id, 0)

    @property
    def status(self) -> list[str]:
        if any(issue.suppresses for issue in self.issues):
            return [DISCOVERABLE]
        return [BUYABLE, DISCOVERABLE]

    def touch(self, now: float) -> None:
        self.last_updated = max(int(now), self.last_updated + 1)

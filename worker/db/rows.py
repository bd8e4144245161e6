"""Typed rows the sync layer hands to the repository (one dataclass per mirrored table)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class OrderRow:
    amazon_order_id: str
    order_status: str
    purchase_date: datetime
    last_update_date: datetime
    order_total: Decimal | None
    currency: str | None
    marketplace_id: str | None
    fulfillment_channel: str | None
    api_version: str
    raw: dict[str, Any]
    source: str = "api"  # or "report": a flat file's row (see worker/db/upsert.py)


@dataclass(frozen=True)
class ItemRow:
    amazon_order_id: str
    order_item_id: str
    seller_sku: str | None
    asin: str | None
    title: str | None
    quantity_ordered: int
    quantity_shipped: int | None
    item_price: Decimal | None
    currency: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class InventoryRow:
    marketplace_id: str
    seller_sku: str
    fn_sku: str | None
    asin: str | None
    condition: str | None
    product_name: str | None
    total_quantity: int | None
    fulfillable_quantity: int | None
    inbound_working_quantity: int | None
    inbound_shipped_quantity: int | None
    inbound_receiving_quantity: int | None
    reserved_quantity: int | None
    unfulfillable_quantity: int | None
    researching_quantity: int | None
    last_updated_time: datetime | None
    raw: dict[str, Any]
    source: str = "api"


@dataclass(frozen=True)
class ListingRow:
    """One listings item in one marketplace (``listings_items``)."""

    marketplace_id: str
    seller_sku: str
    asin: str | None
    product_type: str | None
    item_name: str | None
    condition_type: str | None
    status: list[str]
    fn_sku: str | None
    price: Decimal | None
    currency: str | None
    quantity: int | None
    issues: list[dict[str, Any]]
    issue_count: int
    error_count: int
    created_date: datetime | None
    last_updated_date: datetime | None
    raw: dict[str, Any]
    source: str = "api"  # or "report": a listings report's row (see worker/db/upsert.py)


def with_seller(row: Any, seller_id: int) -> dict[str, Any]:
    """A typed row as the column dict a write takes. Shallow on purpose: ``asdict`` would
    deep-copy every ``raw`` document, which costs more than the whole database write."""
    return {**vars(row), "seller_id": seller_id}

"""Typed rows the sync layer hands to the repository (one dataclass per mirrored table)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
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


@dataclass(frozen=True)
class TransactionRow:
    transaction_id: str
    transaction_type: str | None
    transaction_status: str | None
    description: str | None
    posted_date: datetime | None
    total_amount: Decimal | None
    currency: str | None
    marketplace_id: str | None
    order_id: str | None
    shipment_id: str | None
    financial_event_group_id: str | None
    settlement_id: str | None
    refund_id: str | None
    related: dict[str, list[str]]
    raw: dict[str, Any]


@dataclass(frozen=True)
class BreakdownRow:
    transaction_id: str
    item: int  # 0: the transaction's own breakdowns; n: its n-th item's
    n: int  # depth-first place within the item's trees
    path: str
    breakdown_type: str | None
    depth: int
    leaf: bool
    amount: Decimal | None
    currency: str | None
    sku: str | None
    asin: str | None
    quantity: int | None


@dataclass(frozen=True)
class EventGroupRow:
    financial_event_group_id: str
    processing_status: str | None
    fund_transfer_status: str | None
    original_total: Decimal | None
    original_currency: str | None
    converted_total: Decimal | None
    converted_currency: str | None
    beginning_balance: Decimal | None
    beginning_currency: str | None
    group_start: datetime | None
    group_end: datetime | None
    fund_transfer_date: datetime | None
    trace_id: str | None
    account_tail: str | None
    raw: dict[str, Any]


def with_seller(row: Any, seller_id: int) -> dict[str, Any]:
    """A typed row as the column dict a write takes. Shallow on purpose: ``asdict`` would
    deep-copy every ``raw`` document, which costs more than the whole database write."""
    return {**vars(row), "seller_id": seller_id}


@dataclass(frozen=True)
class CatalogItemRow:
    marketplace_id: str
    asin: str
    found: bool  # False: Amazon's catalog has no such ASIN in this marketplace
    item_name: str | None
    brand: str | None
    manufacturer: str | None
    product_type: str | None
    browse_classification: str | None
    sales_rank: int | None  # the first classification rank Amazon lists
    sales_rank_title: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class PriceSnapshotRow:
    marketplace_id: str
    asin: str
    status_code: int
    featured_seller_id: str | None
    featured_is_mine: bool | None
    featured_price_amount: Decimal | None
    featured_price_currency: str | None
    lowest_price_amount: Decimal | None
    lowest_price_currency: str | None
    lowest_offers: int | None
    competitive_price_amount: Decimal | None
    competitive_price_currency: str | None
    error: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class InboundPlanRow:
    inbound_plan_id: str
    status: str
    name: str
    marketplace_ids: list[str]
    source_city: str | None  # the ship-from address without its personal part
    source_country_code: str | None
    source_postal_code: str | None
    created_at: datetime
    last_updated_at: datetime
    raw: dict[str, Any]  # sourceAddress reduced to city, country and postal code


@dataclass(frozen=True)
class InboundShipmentRow:
    shipment_id: str
    inbound_plan_id: str
    status: str | None
    name: str | None
    destination_type: str | None
    warehouse_id: str | None
    destination_address: dict[str, Any] | None  # an Amazon warehouse's: no personal data
    placement_option_id: str
    amazon_reference_id: str | None
    shipment_confirmation_id: str | None
    ready_to_ship_start: datetime | None
    ready_to_ship_end: datetime | None
    delivery_window_start: datetime | None
    delivery_window_end: datetime | None
    plan_last_updated_at: datetime  # newer wins by the plan's lastUpdatedAt
    raw: dict[str, Any]  # without contactInformation; source address reduced


@dataclass(frozen=True)
class InboundItemRow:
    shipment_id: str
    msku: str
    inbound_plan_id: str
    fnsku: str
    asin: str
    quantity: int
    label_owner: str
    prep_owner: str | None  # the prep instructions' owner(s), comma-separated
    expiration: date | None
    manufacturing_lot_code: str | None
    raw: dict[str, Any]

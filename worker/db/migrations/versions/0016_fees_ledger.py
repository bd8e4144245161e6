"""FBA fees and the inventory ledger: ``fba_fee_estimates``, ``fba_storage_fees``,
``inventory_ledger`` and ``inventory_ledger_summary``, filled by the report streams
``fee-estimates``, ``storage-fees``, ``ledger`` and ``ledger-summary``
(``worker/sync/fba_reports.py``)

Revision ID: 0016
Revises: 0015

Each row keeps the report's line as read (``raw``) beside its typed columns, and a
``sync_version`` from ``sync_version_seq``; the three tables get the change feed's triggers
(``0009_change_feed``). The ledger has no unique column: its key is the line's cells plus
``occurrence``, the number of an identical line within its report.
"""

from __future__ import annotations

import importlib
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_feed = importlib.import_module("worker.db.migrations.versions.0009_change_feed")
_JSONB = postgresql.JSONB(astext_type=sa.Text())
FED = {
    "fba_fee_estimates": ("marketplace_id", "sku"),
    "fba_storage_fees": ("marketplace_id", "month_of_charge", "fnsku", "fulfillment_center"),
    "inventory_ledger": ("marketplace_id", "event_date", "fnsku", "event_type", "reference_id",
                         "fulfillment_center", "disposition", "reason", "quantity",
                         "occurrence"),
    "inventory_ledger_summary": ("marketplace_id", "summary_date", "fnsku", "disposition",
                                 "location"),
}
SUMMARY_COUNTS = ("starting_warehouse_balance", "in_transit_between_warehouses", "receipts",
                  "customer_shipments", "customer_returns", "vendor_returns",
                  "warehouse_transfer_in_out", "found", "lost", "damaged", "disposed",
                  "other_events", "ending_warehouse_balance", "unknown_events")


def _money(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Numeric(18, 4), nullable=True)


def _text(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Text(), nullable=True)


def _key(name: str, kind: Any = None) -> sa.Column[object]:
    return sa.Column(name, kind if kind is not None else sa.Text(), nullable=False)


def _mirrored() -> list[Any]:
    return [
        sa.Column("raw", _JSONB, nullable=False),
        sa.Column("sync_version", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True),
                  server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
    ]


def upgrade() -> None:
    op.create_table(
        "fba_fee_estimates",
        _key("seller_id", sa.BigInteger()), _key("marketplace_id"), _key("sku"),
        _text("fnsku"), _text("asin"), _text("product_group"), _text("brand"),
        _text("fulfilled_by"), _text("has_local_inventory"), _money("your_price"),
        _money("sales_price"), _money("longest_side"), _money("median_side"),
        _money("shortest_side"), _money("length_and_girth"), _text("unit_of_dimension"),
        _money("item_package_weight"), _text("unit_of_weight"),
        _text("product_size_weight_band"), _text("currency"), _money("estimated_fee_total"),
        _money("estimated_referral_fee_per_unit"), _money("estimated_variable_closing_fee"),
        _money("expected_fulfillment_fee_per_unit"),
        *_mirrored(),
        sa.PrimaryKeyConstraint("seller_id", "marketplace_id", "sku"),
    )
    op.create_index("fba_fee_estimates_seller_asin_idx", "fba_fee_estimates",
                    ["seller_id", "asin"])
    op.create_table(
        "fba_storage_fees",
        _key("seller_id", sa.BigInteger()), _key("marketplace_id"),
        _key("month_of_charge", sa.Date()), _key("fnsku"), _key("fulfillment_center"),
        _text("asin"), _text("country_code"), _money("longest_side"), _money("median_side"),
        _money("shortest_side"), _text("measurement_units"), _money("weight"),
        _text("weight_units"), _money("item_volume"), _text("volume_units"),
        _text("product_size_tier"), _money("average_quantity_on_hand"),
        _money("average_quantity_pending_removal"), _money("estimated_total_item_volume"),
        _money("storage_rate"), _text("currency"), _money("estimated_monthly_storage_fee"),
        *_mirrored(),
        sa.PrimaryKeyConstraint("seller_id", "marketplace_id", "month_of_charge", "fnsku",
                                "fulfillment_center"),
    )
    op.create_index("fba_storage_fees_seller_month_idx", "fba_storage_fees",
                    ["seller_id", "month_of_charge"])
    op.create_table(
        "inventory_ledger",
        _key("seller_id", sa.BigInteger()), _key("marketplace_id"),
        _key("event_date", sa.Date()), _key("fnsku"), _key("event_type"), _key("reference_id"),
        _key("fulfillment_center"), _key("disposition"), _key("reason"),
        _key("quantity", sa.Integer()), _key("occurrence", sa.Integer()),
        _text("asin"), _text("msku"), _text("country"),
        sa.Column("reconciled_quantity", sa.Integer(), nullable=True),
        sa.Column("unreconciled_quantity", sa.Integer(), nullable=True),
        *_mirrored(),
        sa.PrimaryKeyConstraint(*("seller_id", *FED["inventory_ledger"])),
    )
    op.create_index("inventory_ledger_seller_date_idx", "inventory_ledger",
                    ["seller_id", "event_date"])
    op.create_index("inventory_ledger_seller_fnsku_idx", "inventory_ledger",
                    ["seller_id", "fnsku"])
    op.create_table(
        "inventory_ledger_summary",
        _key("seller_id", sa.BigInteger()), _key("marketplace_id"),
        _key("summary_date", sa.Date()), _key("fnsku"), _key("disposition"), _key("location"),
        _text("asin"), _text("msku"),
        *(sa.Column(name, sa.Integer(), nullable=True) for name in SUMMARY_COUNTS),
        *_mirrored(),
        sa.PrimaryKeyConstraint(*("seller_id", *FED["inventory_ledger_summary"])),
    )
    op.create_index("inventory_ledger_summary_seller_date_idx", "inventory_ledger_summary",
                    ["seller_id", "summary_date"])
    for table, keys in FED.items():
        op.create_index(f"{table}_sync_version_idx", table, ["sync_version"])
        op.execute(_feed._record_function(table, keys))
        for trigger in _feed._triggers(table):
            op.execute(trigger)


def downgrade() -> None:
    for table in reversed(FED):
        for event in _feed.EVENTS:
            op.execute(f"DROP TRIGGER spsync_feed_{table}_{event} ON {table}")
        op.execute(f"DROP FUNCTION spsync_feed_{table}()")
        op.drop_table(table)

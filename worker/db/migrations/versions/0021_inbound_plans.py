"""inbound: ``inbound_plans``, ``inbound_shipments``, ``inbound_shipment_items`` (Fulfillment
Inbound 2024-03-20 getInboundPlan, getShipment, listShipmentItems; the ``inbound`` stream)

Revision ID: 0021
Revises: 0020

No personal data: a plan keeps its ship-from city, country and postal code only (the
address's name, phone and email stay out, in ``raw`` too). All three tables are in the
change feed; a shipment's items are replaced with it (a vanished item is a ``delete``).
"""

from __future__ import annotations

import importlib
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_feed = importlib.import_module("worker.db.migrations.versions.0009_change_feed")

TABLES = {"inbound_plans": ("inbound_plan_id",),
          "inbound_shipments": ("shipment_id",),
          "inbound_shipment_items": ("shipment_id", "msku")}


def _text(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _ts(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _seller() -> sa.Column[Any]:
    return sa.Column("seller_id", sa.BigInteger(), nullable=False)


def _tail() -> list[Any]:
    return [sa.Column("raw", postgresql.JSONB(), nullable=False),
            sa.Column("sync_version", sa.BigInteger(), nullable=False),
            sa.Column("synced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                      nullable=False),
            sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE")]


def upgrade() -> None:
    op.create_table(
        "inbound_plans", _seller(), _text("inbound_plan_id", False), _text("status", False),
        _text("name", False),
        sa.Column("marketplace_ids", postgresql.ARRAY(sa.Text()), nullable=False),
        _text("source_city"), _text("source_country_code"), _text("source_postal_code"),
        _ts("created_at", False), _ts("last_updated_at", False), *_tail(),
        sa.PrimaryKeyConstraint("seller_id", "inbound_plan_id"),
    )
    op.create_table(
        "inbound_shipments", _seller(), _text("shipment_id", False),
        _text("inbound_plan_id", False), _text("status"), _text("name"),
        _text("destination_type"), _text("warehouse_id"),
        sa.Column("destination_address", postgresql.JSONB(), nullable=True),
        _text("placement_option_id", False), _text("amazon_reference_id"),
        _text("shipment_confirmation_id"), _ts("ready_to_ship_start"),
        _ts("ready_to_ship_end"), _ts("delivery_window_start"), _ts("delivery_window_end"),
        _ts("plan_last_updated_at", False), *_tail(),
        sa.PrimaryKeyConstraint("seller_id", "shipment_id"),
    )
    op.create_table(
        "inbound_shipment_items", _seller(), _text("shipment_id", False), _text("msku", False),
        _text("inbound_plan_id", False), _text("fnsku", False), _text("asin", False),
        sa.Column("quantity", sa.Integer(), nullable=False), _text("label_owner", False),
        _text("prep_owner"), sa.Column("expiration", sa.Date(), nullable=True),
        _text("manufacturing_lot_code"), *_tail(),
        sa.PrimaryKeyConstraint("seller_id", "shipment_id", "msku"),
    )
    op.create_index("inbound_plans_seller_updated_idx", "inbound_plans",
                    ["seller_id", "last_updated_at"])
    op.create_index("inbound_shipments_seller_plan_idx", "inbound_shipments",
                    ["seller_id", "inbound_plan_id"])
    for table, keys in TABLES.items():
        op.create_index(f"{table}_sync_version_idx", table, ["sync_version"])
        op.execute(_feed._record_function(table, keys))
        for trigger in _feed._triggers(table):
            op.execute(trigger)


def downgrade() -> None:
    for table in reversed(TABLES):
        for event in _feed.EVENTS:
            op.execute(f"DROP TRIGGER spsync_feed_{table}_{event} ON {table}")
        op.execute(f"DROP FUNCTION spsync_feed_{table}()")
        op.drop_table(table)

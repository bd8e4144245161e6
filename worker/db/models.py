"""SQLAlchemy 2 models: the mirror's tables. Downstream systems read these (docs/schema.md).

Change them only together with an Alembic migration in ``worker/db/migrations/versions``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    Sequence,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


# One counter for every mirrored row: "everything changed since N" for downstream readers.
SYNC_VERSION = Sequence("sync_version_seq", metadata=Base.metadata)


def _ts(**kw: Any) -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), **kw)


class Seller(Base):
    __tablename__ = "sellers"
    __table_args__ = (
        CheckConstraint("region IN ('NA', 'EU', 'FE')", name="sellers_region_check"),
        CheckConstraint(
            "orders_api_version IN ('2026-01-01', 'v0')", name="sellers_orders_api_version_check"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    selling_partner_id: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    region: Mapped[str] = mapped_column(Text)
    marketplace_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    orders_api_version: Mapped[str] = mapped_column(Text, server_default="2026-01-01")
    refresh_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_kid: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts(server_default=func.now())
    updated_at: Mapped[datetime] = _ts(server_default=func.now())


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("orders_seller_last_update_idx", "seller_id", "last_update_date"),
        Index("orders_sync_version_idx", "sync_version"),
        Index("orders_seller_sync_version_idx", "seller_id", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True
    )
    amazon_order_id: Mapped[str] = mapped_column(Text, primary_key=True)
    order_status: Mapped[str] = mapped_column(Text)
    purchase_date: Mapped[datetime] = _ts()
    last_update_date: Mapped[datetime] = _ts()
    order_total: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    currency: Mapped[str | None] = mapped_column(Text)
    marketplace_id: Mapped[str | None] = mapped_column(Text)
    fulfillment_channel: Mapped[str | None] = mapped_column(Text)
    api_version: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = mapped_column(BigInteger)
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (
        ForeignKeyConstraint(
            ["seller_id", "amazon_order_id"],
            ["orders.seller_id", "orders.amazon_order_id"],
            ondelete="CASCADE",
        ),
        Index("order_items_sync_version_idx", "sync_version"),
        Index("order_items_seller_sync_version_idx", "seller_id", "sync_version"),
        Index("order_items_seller_sku_idx", "seller_id", "seller_sku"),
    )

    seller_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    amazon_order_id: Mapped[str] = mapped_column(Text, primary_key=True)
    order_item_id: Mapped[str] = mapped_column(Text, primary_key=True)
    seller_sku: Mapped[str | None] = mapped_column(Text)
    asin: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    quantity_ordered: Mapped[int] = mapped_column(Integer)
    quantity_shipped: Mapped[int | None] = mapped_column(Integer)
    item_price: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    currency: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = mapped_column(BigInteger)


class SyncState(Base):
    __tablename__ = "sync_state"
    __table_args__ = (Index("sync_state_due_idx", "due_at"),)

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True
    )
    stream: Mapped[str] = mapped_column(Text, primary_key=True)
    cursor: Mapped[datetime | None] = _ts()
    window_start: Mapped[datetime | None] = _ts()
    window_end: Mapped[datetime | None] = _ts()
    next_token: Mapped[str | None] = mapped_column(Text)
    pages_in_window: Mapped[int] = mapped_column(Integer, server_default="0")
    locked_by: Mapped[str | None] = mapped_column(Text)
    locked_at: Mapped[datetime | None] = _ts()
    due_at: Mapped[datetime] = _ts(server_default=func.now())
    last_success_at: Mapped[datetime | None] = _ts()
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = _ts()
    updated_at: Mapped[datetime] = _ts(server_default=func.now())


class SyncRun(Base):
    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("sync_runs_seller_stream_idx", "seller_id", "stream", "started_at"),
        CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'skipped', 'deferred')",
            name="sync_runs_status_check",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE")
    )
    stream: Mapped[str] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="running")
    started_at: Mapped[datetime] = _ts(server_default=func.now())
    finished_at: Mapped[datetime | None] = _ts()
    pages: Mapped[int] = mapped_column(Integer, server_default="0")
    rows_written: Mapped[int] = mapped_column(Integer, server_default="0")
    child_rows_written: Mapped[int] = mapped_column(Integer, server_default="0")
    api_calls: Mapped[int] = mapped_column(Integer, server_default="0")
    throttled: Mapped[int] = mapped_column(Integer, server_default="0")
    retries: Mapped[int] = mapped_column(Integer, server_default="0")
    error_type: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class InventorySummary(Base):
    """FBA inventory per seller, marketplace and seller SKU (getInventorySummaries)."""

    __tablename__ = "inventory_summaries"
    __table_args__ = (
        Index("inventory_summaries_sync_version_idx", "sync_version"),
        Index("inventory_summaries_seller_sync_version_idx", "seller_id", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True
    )
    marketplace_id: Mapped[str] = mapped_column(Text, primary_key=True)
    seller_sku: Mapped[str] = mapped_column(Text, primary_key=True)
    fn_sku: Mapped[str | None] = mapped_column(Text)
    asin: Mapped[str | None] = mapped_column(Text)
    condition: Mapped[str | None] = mapped_column(Text)
    product_name: Mapped[str | None] = mapped_column(Text)
    total_quantity: Mapped[int | None] = mapped_column(Integer)
    fulfillable_quantity: Mapped[int | None] = mapped_column(Integer)
    inbound_working_quantity: Mapped[int | None] = mapped_column(Integer)
    inbound_shipped_quantity: Mapped[int | None] = mapped_column(Integer)
    inbound_receiving_quantity: Mapped[int | None] = mapped_column(Integer)
    reserved_quantity: Mapped[int | None] = mapped_column(Integer)
    unfulfillable_quantity: Mapped[int | None] = mapped_column(Integer)
    researching_quantity: Mapped[int | None] = mapped_column(Integer)
    last_updated_time: Mapped[datetime | None] = _ts()
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = mapped_column(BigInteger)
    synced_at: Mapped[datetime] = _ts(server_default=func.now())

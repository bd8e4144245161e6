"""SQLAlchemy 2 models: the mirror's tables. Downstream systems read these (docs/schema.md).

Change them only together with an Alembic migration in ``worker/db/migrations/versions``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    Sequence,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from worker.db import brand_analytics_fields as ba_fields
from worker.db import sales_traffic_fields as st_fields


class Base(DeclarativeBase):
    pass


# One counter for every mirrored row: "everything changed since N" for downstream readers.
SYNC_VERSION = Sequence("sync_version_seq", metadata=Base.metadata)


def _version() -> Mapped[int]:
    """``sync_version``: numbered by the default (migration 0024) in every row the write path
    inserts or updates, whether ``COPY``-ed straight in or merged."""
    return mapped_column(BigInteger, server_default=SYNC_VERSION.next_value())


def _ts(**kw: Any) -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), **kw)


class Seller(Base):
    __tablename__ = "sellers"
    __table_args__ = (
        CheckConstraint("region IN ('NA', 'EU', 'FE')", name="sellers_region_check"),
        CheckConstraint(
            "orders_api_version IN ('2026-01-01', 'v0')", name="sellers_orders_api_version_check"
        ),
        CheckConstraint("finances_api_version IN ('2024-06-19', 'v0')",
                        name="sellers_finances_api_version_check"),
        # worker/spapi/identifiers.py; NOT VALID in the migration (older rows stay readable)
        CheckConstraint("selling_partner_id ~ '^[A-Z][A-Z0-9]{1,31}$'",
                        name="sellers_selling_partner_id_check"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    selling_partner_id: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    region: Mapped[str] = mapped_column(Text)
    marketplace_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    orders_api_version: Mapped[str] = mapped_column(Text, server_default="2026-01-01")
    # v0: Amazon refused listTransactions for the seller (the finances stream fell back)
    finances_api_version: Mapped[str] = mapped_column(Text, server_default="2024-06-19")
    refresh_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_kid: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts(server_default=func.now())
    updated_at: Mapped[datetime] = _ts(server_default=func.now())


class OnboardingInvitation(Base):
    """A link an operator hands to a seller (``sellers invite`` / ``sellers reauth``).

    Only the SHA-256 of its secret is stored. With ``seller_id`` it re-authorizes that seller
    only; without, it connects one seller not yet known. Used once (``used_at``), by the
    callback that stored the seller, in the same transaction.
    """

    __tablename__ = "onboarding_invitations"
    __table_args__ = (
        CheckConstraint("region IS NULL OR region IN ('NA', 'EU', 'FE')",
                        name="onboarding_invitations_region_check"),
        CheckConstraint("name IS NULL OR length(name) <= 200",
                        name="onboarding_invitations_name_check"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token_sha256: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    seller_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"))
    region: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts(server_default=func.now())
    expires_at: Mapped[datetime] = _ts()
    used_at: Mapped[datetime | None] = _ts()
    used_by: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = _ts()


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("orders_seller_last_update_idx", "seller_id", "last_update_date"),
        Index("orders_seller_sync_version_idx", "seller_id", "sync_version"),
        # the daily views' day (migration 0025): a seller-month is an index range
        Index("orders_seller_day_idx", "seller_id",
              text("((purchase_date AT TIME ZONE 'UTC')::date)")),
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
    source: Mapped[str] = mapped_column(Text, server_default="api")
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (
        ForeignKeyConstraint(
            ["seller_id", "amazon_order_id"],
            ["orders.seller_id", "orders.amazon_order_id"],
            ondelete="CASCADE",
        ),
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
    sync_version: Mapped[int] = _version()


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
    # Amazon refused the seller this stream (403 Unauthorized): not scheduled until cleared
    # (``sellers enable``, or the seller authorizing again)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = _ts()


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


class ApiBackfill(Base):
    """A ``backfill`` through a stream's own API (finances, payouts, settlements, order
    metrics): its checkpoint, as ``sync_state`` holds the incremental sync's. One per
    (seller, stream, ``--since``), so the same command resumes it and a later ``--until``
    extends it."""

    __tablename__ = "api_backfills"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'done', 'failed')",
                        name="api_backfills_status_check"),
        CheckConstraint("since < until", name="api_backfills_window_check"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True
    )
    stream: Mapped[str] = mapped_column(Text, primary_key=True)
    since: Mapped[datetime] = _ts(primary_key=True)
    until: Mapped[datetime] = _ts()
    cursor: Mapped[datetime | None] = _ts()
    window_start: Mapped[datetime | None] = _ts()
    window_end: Mapped[datetime | None] = _ts()
    next_token: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="running")
    pages: Mapped[int] = mapped_column(Integer, server_default="0")
    rows_written: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = _ts(server_default=func.now())
    updated_at: Mapped[datetime] = _ts(server_default=func.now())
    finished_at: Mapped[datetime | None] = _ts()


class CatalogItem(Base):
    """Amazon's catalog entry of an ASIN the seller lists or sold, per marketplace
    (``searchCatalogItems``, the ``catalog`` stream)."""

    __tablename__ = "catalog_items"
    __table_args__ = (
        Index("catalog_items_seller_refreshed_idx", "seller_id", "marketplace_id",
              "refreshed_at"),
        Index("catalog_items_sync_version_idx", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True
    )
    marketplace_id: Mapped[str] = mapped_column(Text, primary_key=True)
    asin: Mapped[str] = mapped_column(Text, primary_key=True)
    found: Mapped[bool] = mapped_column(Boolean)
    item_name: Mapped[str | None] = mapped_column(Text)
    brand: Mapped[str | None] = mapped_column(Text)
    manufacturer: Mapped[str | None] = mapped_column(Text)
    product_type: Mapped[str | None] = mapped_column(Text)
    browse_classification: Mapped[str | None] = mapped_column(Text)
    sales_rank: Mapped[int | None] = mapped_column(Integer)
    sales_rank_title: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    refreshed_at: Mapped[datetime] = _ts(server_default=func.now())
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class PriceSnapshot(Base):
    """The competitive summary of an ASIN the seller lists, each time it was read
    (``getCompetitiveSummary``, the ``prices`` stream): a history."""

    __tablename__ = "price_snapshots"
    __table_args__ = (Index("price_snapshots_sync_version_idx", "sync_version"),)

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True
    )
    marketplace_id: Mapped[str] = mapped_column(Text, primary_key=True)
    asin: Mapped[str] = mapped_column(Text, primary_key=True)
    taken_at: Mapped[datetime] = _ts(primary_key=True)
    status_code: Mapped[int] = mapped_column(Integer)
    featured_seller_id: Mapped[str | None] = mapped_column(Text)
    featured_is_mine: Mapped[bool | None] = mapped_column(Boolean)
    featured_price_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    featured_price_currency: Mapped[str | None] = mapped_column(Text)
    lowest_price_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    lowest_price_currency: Mapped[str | None] = mapped_column(Text)
    lowest_offers: Mapped[int | None] = mapped_column(Integer)
    competitive_price_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    competitive_price_currency: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()


class InventorySummary(Base):
    """FBA inventory per seller, marketplace and seller SKU (getInventorySummaries)."""

    __tablename__ = "inventory_summaries"
    __table_args__ = (
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
    source: Mapped[str] = mapped_column(Text, server_default="api")
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class ListingsItem(Base):
    """A seller's listing per marketplace and SKU (Listings Items API, or a listings report)."""

    __tablename__ = "listings_items"
    __table_args__ = (
        Index("listings_items_seller_sync_version_idx", "seller_id", "sync_version"),
        Index("listings_items_asin_idx", "seller_id", "asin"),
        Index("listings_items_issues_idx", "issues", postgresql_using="gin"),
        Index("listings_items_with_errors_idx", "seller_id", "marketplace_id",
              postgresql_where="error_count > 0"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True
    )
    marketplace_id: Mapped[str] = mapped_column(Text, primary_key=True)
    seller_sku: Mapped[str] = mapped_column(Text, primary_key=True)
    asin: Mapped[str | None] = mapped_column(Text)
    product_type: Mapped[str | None] = mapped_column(Text)
    item_name: Mapped[str | None] = mapped_column(Text)
    condition_type: Mapped[str | None] = mapped_column(Text)
    status: Mapped[list[str]] = mapped_column(ARRAY(Text))
    fn_sku: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    currency: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[int | None] = mapped_column(Integer)
    issues: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    issue_count: Mapped[int] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer)
    created_date: Mapped[datetime | None] = _ts()
    last_updated_date: Mapped[datetime | None] = _ts()
    source: Mapped[str] = mapped_column(Text, server_default="api")
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class Report(Base):
    """One report requested from the Reports API, and how far its ingest got.

    The row is written as soon as Amazon returns the report id, so a restarted worker polls
    the same report again instead of creating a second one.
    """

    __tablename__ = "reports"
    __table_args__ = (
        Index("reports_seller_type_window_idx", "seller_id", "report_type", "data_start_time",
              "data_end_time"),
        CheckConstraint(
            "ingest_status IN ('pending', 'ingesting', 'ingested', 'no_data', 'failed')",
            name="reports_ingest_status_check",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE")
    )
    report_type: Mapped[str] = mapped_column(Text)
    marketplace_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    data_start_time: Mapped[datetime | None] = _ts()
    data_end_time: Mapped[datetime | None] = _ts()
    report_options: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    purpose: Mapped[str] = mapped_column(Text)  # e.g. backfill:orders
    report_id: Mapped[str] = mapped_column(Text, unique=True)
    processing_status: Mapped[str] = mapped_column(Text, server_default="IN_QUEUE")
    document_id: Mapped[str | None] = mapped_column(Text)
    ingest_status: Mapped[str] = mapped_column(Text, server_default="pending")
    rows_read: Mapped[int] = mapped_column(BigInteger, server_default="0")
    rows_written: Mapped[int] = mapped_column(BigInteger, server_default="0")
    rows_rejected: Mapped[int] = mapped_column(BigInteger, server_default="0")
    polls: Mapped[int] = mapped_column(Integer, server_default="0")
    downloads: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = _ts(server_default=func.now())
    processing_end_time: Mapped[datetime | None] = _ts()
    ingested_at: Mapped[datetime | None] = _ts()


class ReportRow(Base):
    """A report row kept as data: analytics types, unknown types, and every rejected row."""

    __tablename__ = "report_rows"
    __table_args__ = (
        Index("report_rows_seller_type_key_idx", "seller_id", "report_type", "record_key"),
        Index("report_rows_rejected_idx", "report_id", postgresql_where="error IS NOT NULL"),
    )

    report_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE")
    )
    report_type: Mapped[str] = mapped_column(Text)
    record_key: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    sync_version: Mapped[int] = _version()


class Notification(Base):
    """One SP-API notification as received (SQS, or SNS over HTTPS), deduplicated on Amazon's
    ``NotificationId``. ``status``: ``pending`` until its targeted refresh ran, ``done``,
    or ``parked`` after it failed ``attempts`` times (kept with its error, never blocking).
    A worker claims a pending one until ``next_attempt_at`` (its lease)."""

    __tablename__ = "notifications_inbox"
    __table_args__ = (
        Index("notifications_inbox_pending_idx", "status", "received_at",
              postgresql_where="status = 'pending'"),
        Index("notifications_inbox_seller_idx", "seller_id", "received_at"),
        CheckConstraint("status IN ('pending', 'done', 'parked')",
                        name="notifications_inbox_status_check"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    notification_id: Mapped[str] = mapped_column(Text, unique=True)
    notification_type: Mapped[str] = mapped_column(Text)
    seller_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="SET NULL"))
    selling_partner_id: Mapped[str | None] = mapped_column(Text)
    event_time: Mapped[datetime | None] = _ts()
    source: Mapped[str] = mapped_column(Text)  # sqs | sns
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = _ts(server_default=func.now())
    processed_at: Mapped[datetime | None] = _ts()
    next_attempt_at: Mapped[datetime] = _ts(server_default=func.now())


class OutboxCommand(Base):
    """A write-back command for Amazon, inserted by downstream systems (or the CLI).

    ``status``: ``pending`` -> ``sending`` (committed BEFORE the request leaves) ->
    ``accepted`` | ``rejected`` (Amazon's issues in ``response``) | ``failed`` (Amazon
    refused it with an error, or it certainly never reached Amazon and retries ran out) |
    ``unknown`` (sent, answer lost, not provable from Amazon's state; see docs/schema.md) |
    ``polling`` (accepted, an asynchronous operation is being followed).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("outbox_due_idx", "status", "next_attempt_at",
              postgresql_where="status IN ('pending', 'sending', 'polling')"),
        Index("outbox_seller_idx", "seller_id", "created_at"),
        CheckConstraint(
            "command IN ('confirmShipment', 'patchListingsItem', 'deleteListingsItem', "
            "'createInboundPlan')", name="outbox_command_check"),
        CheckConstraint(
            "status IN ('pending', 'sending', 'polling', 'accepted', 'rejected', 'failed', "
            "'unknown')", name="outbox_status_check"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"))
    command: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(Text, unique=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = _ts(server_default=func.now())
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    operation_id: Mapped[str | None] = mapped_column(Text)  # e.g. an inbound plan operation
    error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts(server_default=func.now())
    sent_at: Mapped[datetime | None] = _ts()
    finished_at: Mapped[datetime | None] = _ts()


class Change(Base):
    """One change to a mirrored row, written by the triggers of migration 0008 (never by
    Python). Read through ``spsync_changes()`` (docs/schema.md, "The change feed"): ordered by
    ``(txid, id)``, a position being ``txid * 10^19 + id``."""

    __tablename__ = "changes"
    __table_args__ = (
        CheckConstraint("operation IN ('insert', 'update', 'delete')",
                        name="changes_operation_check"),
    )

    txid: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # pg_current_xact_id()
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    entity: Mapped[str] = mapped_column(Text)  # the table's name
    seller_id: Mapped[int] = mapped_column(BigInteger)  # no FK: a removed seller's tombstones stay
    key: Mapped[dict[str, Any]] = mapped_column(JSONB)  # the primary key besides seller_id
    operation: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = _ts(server_default=func.now())


class FeedConsumer(Base):
    """A reader of the change feed and its committed position (``worker.feed``)."""

    __tablename__ = "feed_consumers"
    __table_args__ = (
        CheckConstraint("position >= 0", name="feed_consumers_position_check"),
    )

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    position: Mapped[Decimal] = mapped_column(Numeric(38, 0), server_default="0")
    created_at: Mapped[datetime] = _ts(server_default=func.now())
    updated_at: Mapped[datetime] = _ts(server_default=func.now())


def _money() -> Mapped[Decimal | None]:
    return mapped_column(Numeric(18, 4))


class FinancialTransaction(Base):
    """A financial transaction (Finances 2024-06-19 ``listTransactions``): a sale, refund,
    fee or adjustment, with its related identifiers as columns (all of them in ``related``)."""

    __tablename__ = "financial_transactions"
    __table_args__ = (
        Index("financial_transactions_seller_posted_idx", "seller_id", "posted_date"),
        Index("financial_transactions_seller_order_idx", "seller_id", "order_id"),
        Index("financial_transactions_seller_group_idx", "seller_id",
              "financial_event_group_id"),
        Index("financial_transactions_seller_sync_version_idx", "seller_id", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    transaction_id: Mapped[str] = mapped_column(Text, primary_key=True)
    transaction_type: Mapped[str | None] = mapped_column(Text)
    transaction_status: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    posted_date: Mapped[datetime | None] = _ts()
    total_amount: Mapped[Decimal | None] = _money()
    currency: Mapped[str | None] = mapped_column(Text)
    marketplace_id: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[str | None] = mapped_column(Text)
    shipment_id: Mapped[str | None] = mapped_column(Text)
    financial_event_group_id: Mapped[str | None] = mapped_column(Text)
    settlement_id: Mapped[str | None] = mapped_column(Text)
    refund_id: Mapped[str | None] = mapped_column(Text)
    related: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class FinancialBreakdown(Base):
    """One node of a transaction's breakdown trees: ``item`` 0 is the transaction's own
    tree, ``item`` n its n-th item's; ``n`` the node's place in a depth-first walk; ``path``
    the ``breakdownType``s from the root, joined by ``/``."""

    __tablename__ = "financial_transaction_breakdowns"
    __table_args__ = (
        ForeignKeyConstraint(
            ["seller_id", "transaction_id"],
            ["financial_transactions.seller_id", "financial_transactions.transaction_id"],
            ondelete="CASCADE"),
    )

    seller_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    transaction_id: Mapped[str] = mapped_column(Text, primary_key=True)
    item: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    breakdown_type: Mapped[str | None] = mapped_column(Text)
    depth: Mapped[int] = mapped_column(Integer)
    leaf: Mapped[bool] = mapped_column(Boolean)
    amount: Mapped[Decimal | None] = _money()
    currency: Mapped[str | None] = mapped_column(Text)
    sku: Mapped[str | None] = mapped_column(Text)
    asin: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[int | None] = mapped_column(Integer)


class FinancialEventGroup(Base):
    """A payout period (Finances v0 ``listFinancialEventGroups``): open while it collects
    transactions, closed when its balance is transferred."""

    __tablename__ = "financial_event_groups"
    __table_args__ = (
        Index("financial_event_groups_seller_start_idx", "seller_id", "group_start"),
        Index("financial_event_groups_sync_version_idx", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    financial_event_group_id: Mapped[str] = mapped_column(Text, primary_key=True)
    processing_status: Mapped[str | None] = mapped_column(Text)
    fund_transfer_status: Mapped[str | None] = mapped_column(Text)
    original_total: Mapped[Decimal | None] = _money()
    original_currency: Mapped[str | None] = mapped_column(Text)
    converted_total: Mapped[Decimal | None] = _money()
    converted_currency: Mapped[str | None] = mapped_column(Text)
    beginning_balance: Mapped[Decimal | None] = _money()
    beginning_currency: Mapped[str | None] = mapped_column(Text)
    group_start: Mapped[datetime | None] = _ts()
    group_end: Mapped[datetime | None] = _ts()
    fund_transfer_date: Mapped[datetime | None] = _ts()
    trace_id: Mapped[str | None] = mapped_column(Text)
    account_tail: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class Settlement(Base):
    """One settlement (a V2 settlement report's summary row): the latest issue of it."""

    __tablename__ = "settlements"
    __table_args__ = (
        Index("settlements_seller_end_idx", "seller_id", "end_date"),
        Index("settlements_sync_version_idx", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    settlement_id: Mapped[str] = mapped_column(Text, primary_key=True)
    start_date: Mapped[datetime | None] = _ts()
    end_date: Mapped[datetime | None] = _ts()
    deposit_date: Mapped[datetime | None] = _ts()
    total_amount: Mapped[Decimal | None] = _money()
    currency: Mapped[str | None] = mapped_column(Text)
    report_id: Mapped[str] = mapped_column(Text)  # the issue stored
    issued_at: Mapped[datetime | None] = _ts()  # that report's processingEndTime
    lines: Mapped[int] = mapped_column(Integer)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class SettlementLine(Base):
    """One amount row of a settlement's flat file, typed."""

    __tablename__ = "settlement_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["seller_id", "settlement_id"],
            ["settlements.seller_id", "settlements.settlement_id"], ondelete="CASCADE"),
        Index("settlement_lines_seller_order_idx", "seller_id", "order_id"),
    )

    seller_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    settlement_id: Mapped[str] = mapped_column(Text, primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_type: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[str | None] = mapped_column(Text)
    merchant_order_id: Mapped[str | None] = mapped_column(Text)
    adjustment_id: Mapped[str | None] = mapped_column(Text)
    shipment_id: Mapped[str | None] = mapped_column(Text)
    marketplace_name: Mapped[str | None] = mapped_column(Text)
    amount_type: Mapped[str | None] = mapped_column(Text)
    amount_description: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal | None] = _money()
    fulfillment_id: Mapped[str | None] = mapped_column(Text)
    posted_date: Mapped[date | None] = mapped_column(Date)
    posted_date_time: Mapped[datetime | None] = _ts()
    order_item_code: Mapped[str | None] = mapped_column(Text)
    merchant_order_item_id: Mapped[str | None] = mapped_column(Text)
    merchant_adjustment_item_id: Mapped[str | None] = mapped_column(Text)
    sku: Mapped[str | None] = mapped_column(Text)
    quantity_purchased: Mapped[int | None] = mapped_column(Integer)


# Returns and reimbursements (worker/sync/returns.py): one row per line of Amazon's flat
# files, keyed by what identifies a line in each layout. A key cell the file leaves empty is
# stored as '' (a primary key takes no NULL).


class FbaReturn(Base):
    """One FBA customer return (``GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA``): a returned
    unit (its license plate) processed at a fulfillment center."""

    __tablename__ = "fba_returns"
    __table_args__ = (
        Index("fba_returns_seller_return_date_idx", "seller_id", "return_date"),
        Index("fba_returns_seller_order_idx", "seller_id", "order_id"),
        Index("fba_returns_sync_version_idx", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(Text, primary_key=True)
    order_id: Mapped[str] = mapped_column(Text, primary_key=True)
    sku: Mapped[str] = mapped_column(Text, primary_key=True)
    return_date: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    license_plate_number: Mapped[str] = mapped_column(Text, primary_key=True)
    asin: Mapped[str | None] = mapped_column(Text)
    fnsku: Mapped[str | None] = mapped_column(Text)
    product_name: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[int | None] = mapped_column(Integer)
    fulfillment_center_id: Mapped[str | None] = mapped_column(Text)
    detailed_disposition: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class MfnReturn(Base):
    """One merchant-fulfilled return request line (``GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_
    DATE``): an order's item the buyer asked to return, and what became of it."""

    __tablename__ = "mfn_returns"
    __table_args__ = (
        Index("mfn_returns_seller_request_date_idx", "seller_id", "return_request_date"),
        Index("mfn_returns_seller_order_idx", "seller_id", "order_id"),
        Index("mfn_returns_sync_version_idx", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(Text, primary_key=True)
    order_id: Mapped[str] = mapped_column(Text, primary_key=True)
    asin: Mapped[str] = mapped_column(Text, primary_key=True)
    merchant_sku: Mapped[str] = mapped_column(Text, primary_key=True)
    return_request_date: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                          primary_key=True)
    order_date: Mapped[datetime | None] = _ts()
    return_request_status: Mapped[str | None] = mapped_column(Text)
    amazon_rma_id: Mapped[str | None] = mapped_column(Text)
    merchant_rma_id: Mapped[str | None] = mapped_column(Text)
    label_type: Mapped[str | None] = mapped_column(Text)
    label_cost: Mapped[Decimal | None] = _money()
    currency: Mapped[str | None] = mapped_column(Text)
    return_carrier: Mapped[str | None] = mapped_column(Text)
    tracking_id: Mapped[str | None] = mapped_column(Text)
    label_to_be_paid_by: Mapped[str | None] = mapped_column(Text)
    a_to_z_claim: Mapped[bool | None] = mapped_column(Boolean)
    is_prime: Mapped[bool | None] = mapped_column(Boolean)
    item_name: Mapped[str | None] = mapped_column(Text)
    return_quantity: Mapped[int | None] = mapped_column(Integer)
    return_reason: Mapped[str | None] = mapped_column(Text)
    in_policy: Mapped[bool | None] = mapped_column(Boolean)
    return_type: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    invoice_number: Mapped[str | None] = mapped_column(Text)
    return_delivery_date: Mapped[datetime | None] = _ts()
    order_amount: Mapped[Decimal | None] = _money()
    order_quantity: Mapped[int | None] = mapped_column(Integer)
    refunded_amount: Mapped[Decimal | None] = _money()
    safet_action_reason: Mapped[str | None] = mapped_column(Text)
    safet_claim_id: Mapped[str | None] = mapped_column(Text)
    safet_claim_state: Mapped[str | None] = mapped_column(Text)
    safet_claim_creation_time: Mapped[datetime | None] = _ts()
    safet_claim_reimbursement_amount: Mapped[Decimal | None] = _money()
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class FbaReimbursement(Base):
    """One line of an FBA reimbursement (``GET_FBA_REIMBURSEMENTS_DATA``): what Amazon paid
    (cash) or put back (inventory) for one SKU of one reimbursement."""

    __tablename__ = "fba_reimbursements"
    __table_args__ = (
        Index("fba_reimbursements_seller_approval_date_idx", "seller_id", "approval_date"),
        Index("fba_reimbursements_seller_order_idx", "seller_id", "amazon_order_id"),
        Index("fba_reimbursements_sync_version_idx", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(Text, primary_key=True)
    reimbursement_id: Mapped[str] = mapped_column(Text, primary_key=True)
    sku: Mapped[str] = mapped_column(Text, primary_key=True)
    fnsku: Mapped[str] = mapped_column(Text, primary_key=True)
    approval_date: Mapped[datetime | None] = _ts()
    case_id: Mapped[str | None] = mapped_column(Text)
    amazon_order_id: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    asin: Mapped[str | None] = mapped_column(Text)
    product_name: Mapped[str | None] = mapped_column(Text)
    condition: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str | None] = mapped_column(Text)
    amount_per_unit: Mapped[Decimal | None] = _money()
    amount_total: Mapped[Decimal | None] = _money()
    quantity_reimbursed_cash: Mapped[int | None] = mapped_column(Integer)
    quantity_reimbursed_inventory: Mapped[int | None] = mapped_column(Integer)
    quantity_reimbursed_total: Mapped[int | None] = mapped_column(Integer)
    original_reimbursement_id: Mapped[str | None] = mapped_column(Text)
    original_reimbursement_type: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


def _txt() -> Mapped[str | None]:
    return mapped_column(Text)


class FbaFeeEstimate(Base):
    """One SKU's estimated FBA fees in one marketplace (``GET_FBA_ESTIMATED_FBA_FEES_TXT_DATA``,
    a snapshot: the latest report's row)."""

    __tablename__ = "fba_fee_estimates"
    __table_args__ = (
        Index("fba_fee_estimates_seller_asin_idx", "seller_id", "asin"),
        Index("fba_fee_estimates_sync_version_idx", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(Text, primary_key=True)
    sku: Mapped[str] = mapped_column(Text, primary_key=True)
    fnsku: Mapped[str | None] = _txt()
    asin: Mapped[str | None] = _txt()
    product_group: Mapped[str | None] = _txt()
    brand: Mapped[str | None] = _txt()
    fulfilled_by: Mapped[str | None] = _txt()
    has_local_inventory: Mapped[str | None] = _txt()
    your_price: Mapped[Decimal | None] = _money()
    sales_price: Mapped[Decimal | None] = _money()
    longest_side: Mapped[Decimal | None] = _money()
    median_side: Mapped[Decimal | None] = _money()
    shortest_side: Mapped[Decimal | None] = _money()
    length_and_girth: Mapped[Decimal | None] = _money()
    unit_of_dimension: Mapped[str | None] = _txt()
    item_package_weight: Mapped[Decimal | None] = _money()
    unit_of_weight: Mapped[str | None] = _txt()
    product_size_weight_band: Mapped[str | None] = _txt()
    currency: Mapped[str | None] = _txt()
    estimated_fee_total: Mapped[Decimal | None] = _money()
    estimated_referral_fee_per_unit: Mapped[Decimal | None] = _money()
    estimated_variable_closing_fee: Mapped[Decimal | None] = _money()
    expected_fulfillment_fee_per_unit: Mapped[Decimal | None] = _money()
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class FbaStorageFee(Base):
    """One FNSKU's monthly storage fee in one fulfillment center and month of charge
    (``GET_FBA_STORAGE_FEE_CHARGES_DATA``)."""

    __tablename__ = "fba_storage_fees"
    __table_args__ = (
        Index("fba_storage_fees_seller_month_idx", "seller_id", "month_of_charge"),
        Index("fba_storage_fees_sync_version_idx", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(Text, primary_key=True)
    month_of_charge: Mapped[date] = mapped_column(Date, primary_key=True)
    fnsku: Mapped[str] = mapped_column(Text, primary_key=True)
    fulfillment_center: Mapped[str] = mapped_column(Text, primary_key=True)
    asin: Mapped[str | None] = _txt()
    country_code: Mapped[str | None] = _txt()
    longest_side: Mapped[Decimal | None] = _money()
    median_side: Mapped[Decimal | None] = _money()
    shortest_side: Mapped[Decimal | None] = _money()
    measurement_units: Mapped[str | None] = _txt()
    weight: Mapped[Decimal | None] = _money()
    weight_units: Mapped[str | None] = _txt()
    item_volume: Mapped[Decimal | None] = _money()
    volume_units: Mapped[str | None] = _txt()
    product_size_tier: Mapped[str | None] = _txt()
    average_quantity_on_hand: Mapped[Decimal | None] = _money()
    average_quantity_pending_removal: Mapped[Decimal | None] = _money()
    estimated_total_item_volume: Mapped[Decimal | None] = _money()
    storage_rate: Mapped[Decimal | None] = _money()
    currency: Mapped[str | None] = _txt()
    estimated_monthly_storage_fee: Mapped[Decimal | None] = _money()
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class InventoryLedger(Base):
    """One inventory ledger event (``GET_LEDGER_DETAIL_VIEW_DATA``). The ledger has no unique
    column: identical lines of one day are told apart by ``occurrence`` (1, 2, ...); key
    cells Amazon leaves empty are ``''``."""

    __tablename__ = "inventory_ledger"
    __table_args__ = (
        Index("inventory_ledger_seller_date_idx", "seller_id", "event_date"),
        Index("inventory_ledger_seller_fnsku_idx", "seller_id", "fnsku"),
        Index("inventory_ledger_sync_version_idx", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(Text, primary_key=True)
    event_date: Mapped[date] = mapped_column(Date, primary_key=True)
    fnsku: Mapped[str] = mapped_column(Text, primary_key=True)
    event_type: Mapped[str] = mapped_column(Text, primary_key=True)
    reference_id: Mapped[str] = mapped_column(Text, primary_key=True)
    fulfillment_center: Mapped[str] = mapped_column(Text, primary_key=True)
    disposition: Mapped[str] = mapped_column(Text, primary_key=True)
    reason: Mapped[str] = mapped_column(Text, primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurrence: Mapped[int] = mapped_column(Integer, primary_key=True)
    asin: Mapped[str | None] = _txt()
    msku: Mapped[str | None] = _txt()
    country: Mapped[str | None] = _txt()
    reconciled_quantity: Mapped[int | None] = mapped_column(Integer)
    unreconciled_quantity: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class InventoryLedgerSummary(Base):
    """One day of one FNSKU's inventory in one disposition and location
    (``GET_LEDGER_SUMMARY_VIEW_DATA``, daily, by fulfillment center): the latest report's row."""

    __tablename__ = "inventory_ledger_summary"
    __table_args__ = (
        Index("inventory_ledger_summary_seller_date_idx", "seller_id", "summary_date"),
        Index("inventory_ledger_summary_sync_version_idx", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(Text, primary_key=True)
    summary_date: Mapped[date] = mapped_column(Date, primary_key=True)
    fnsku: Mapped[str] = mapped_column(Text, primary_key=True)
    disposition: Mapped[str] = mapped_column(Text, primary_key=True)
    location: Mapped[str] = mapped_column(Text, primary_key=True)
    asin: Mapped[str | None] = _txt()
    msku: Mapped[str | None] = _txt()
    starting_warehouse_balance: Mapped[int | None] = mapped_column(Integer)
    in_transit_between_warehouses: Mapped[int | None] = mapped_column(Integer)
    receipts: Mapped[int | None] = mapped_column(Integer)
    customer_shipments: Mapped[int | None] = mapped_column(Integer)
    customer_returns: Mapped[int | None] = mapped_column(Integer)
    vendor_returns: Mapped[int | None] = mapped_column(Integer)
    warehouse_transfer_in_out: Mapped[int | None] = mapped_column(Integer)
    found: Mapped[int | None] = mapped_column(Integer)
    lost: Mapped[int | None] = mapped_column(Integer)
    damaged: Mapped[int | None] = mapped_column(Integer)
    disposed: Mapped[int | None] = mapped_column(Integer)
    other_events: Mapped[int | None] = mapped_column(Integer)
    ending_warehouse_balance: Mapped[int | None] = mapped_column(Integer)
    unknown_events: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


# Sales & traffic (GET_SALES_AND_TRAFFIC_REPORT): typed columns from
# worker/db/sales_traffic_fields.py, one per field of Amazon's schema.
_ST_TYPES: dict[str, Any] = {"amount": lambda: Numeric(18, 4), "currency": Text,
                             "count": Integer, "rate": lambda: Numeric(12, 4)}


def _st_columns(sections: Any) -> list[Column[Any]]:
    return [Column(name, _ST_TYPES[kind]()) for name, kind in st_fields.columns(sections)]


def _st_tail() -> list[Column[Any]]:
    return [Column("report_id", BigInteger, nullable=False),  # reports.id: the newer wins
            Column("raw", JSONB, nullable=False),
            Column("sync_version", BigInteger, nullable=False),
            Column("synced_at", DateTime(timezone=True), server_default=func.now(),
                   nullable=False)]


class SalesTrafficByDate(Base):
    """One day of a marketplace's sales and traffic (the report's ``salesAndTrafficByDate``)."""

    __table__ = Table(
        "sales_traffic_by_date", Base.metadata,
        Column("seller_id", BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"),
               primary_key=True),
        Column("marketplace_id", Text, primary_key=True),
        Column("date", Date, primary_key=True),
        *_st_columns(st_fields.BY_DATE), *_st_tail(),
        Index("sales_traffic_by_date_seller_date_idx", "seller_id", "date"),
        Index("sales_traffic_by_date_sync_version_idx", "sync_version"),
    )


class SalesTrafficByAsin(Base):
    """One ASIN's (SKU's) sales and traffic of one day (a one-day report's
    ``salesAndTrafficByAsin``); ``child_asin`` and ``sku`` are '' when the report has none."""

    __table__ = Table(
        "sales_traffic_by_asin", Base.metadata,
        Column("seller_id", BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"),
               primary_key=True),
        Column("marketplace_id", Text, primary_key=True),
        Column("date", Date, primary_key=True),
        Column("parent_asin", Text, primary_key=True),
        Column("child_asin", Text, primary_key=True),
        Column("sku", Text, primary_key=True),
        *_st_columns(st_fields.BY_ASIN), *_st_tail(),
        Index("sales_traffic_by_asin_seller_date_idx", "seller_id", "date"),
        Index("sales_traffic_by_asin_sync_version_idx", "sync_version"),
    )


class OrderMetric(Base):
    """One interval of ``getOrderMetrics`` (Sales API v1) for a marketplace: order counts and
    sales, all buyers, all fulfillment networks."""

    __tablename__ = "order_metrics"
    __table_args__ = (
        Index("order_metrics_seller_start_idx", "seller_id", "interval_start"),
        Index("order_metrics_sync_version_idx", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(Text, primary_key=True)
    granularity: Mapped[str] = mapped_column(Text, primary_key=True)
    interval_start: Mapped[datetime] = _ts(primary_key=True)
    interval_end: Mapped[datetime] = _ts()
    unit_count: Mapped[int] = mapped_column(Integer)
    order_item_count: Mapped[int] = mapped_column(Integer)
    order_count: Mapped[int] = mapped_column(Integer)
    average_unit_price: Mapped[Decimal | None] = _money()
    average_unit_price_currency: Mapped[str | None] = mapped_column(Text)
    total_sales: Mapped[Decimal | None] = _money()
    total_sales_currency: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class InboundPlan(Base):
    """An FBA inbound plan (Fulfillment Inbound 2024-03-20 ``getInboundPlan``, the ``inbound``
    stream); its ship-from address without the personal part (city, country, postal code)."""

    __tablename__ = "inbound_plans"
    __table_args__ = (
        Index("inbound_plans_seller_updated_idx", "seller_id", "last_updated_at"),
        Index("inbound_plans_sync_version_idx", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    inbound_plan_id: Mapped[str] = mapped_column(Text, primary_key=True)
    status: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    marketplace_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    source_city: Mapped[str | None] = mapped_column(Text)
    source_country_code: Mapped[str | None] = mapped_column(Text)
    source_postal_code: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts()
    last_updated_at: Mapped[datetime] = _ts()
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class InboundShipment(Base):
    """A shipment of an inbound plan (``getShipment``), as of the plan's ``lastUpdatedAt``."""

    __tablename__ = "inbound_shipments"
    __table_args__ = (
        Index("inbound_shipments_seller_plan_idx", "seller_id", "inbound_plan_id"),
        Index("inbound_shipments_sync_version_idx", "sync_version"),
    )

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    shipment_id: Mapped[str] = mapped_column(Text, primary_key=True)
    inbound_plan_id: Mapped[str] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    destination_type: Mapped[str | None] = mapped_column(Text)
    warehouse_id: Mapped[str | None] = mapped_column(Text)
    destination_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    placement_option_id: Mapped[str] = mapped_column(Text)
    amazon_reference_id: Mapped[str | None] = mapped_column(Text)
    shipment_confirmation_id: Mapped[str | None] = mapped_column(Text)
    ready_to_ship_start: Mapped[datetime | None] = _ts()
    ready_to_ship_end: Mapped[datetime | None] = _ts()
    delivery_window_start: Mapped[datetime | None] = _ts()
    delivery_window_end: Mapped[datetime | None] = _ts()
    plan_last_updated_at: Mapped[datetime] = _ts()
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())


class InboundShipmentItem(Base):
    """An MSKU of an inbound shipment (``listShipmentItems``); replaced with its shipment."""

    __tablename__ = "inbound_shipment_items"
    __table_args__ = (Index("inbound_shipment_items_sync_version_idx", "sync_version"),)

    seller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    shipment_id: Mapped[str] = mapped_column(Text, primary_key=True)
    msku: Mapped[str] = mapped_column(Text, primary_key=True)
    inbound_plan_id: Mapped[str] = mapped_column(Text)
    fnsku: Mapped[str] = mapped_column(Text)
    asin: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer)
    label_owner: Mapped[str] = mapped_column(Text)
    prep_owner: Mapped[str | None] = mapped_column(Text)
    expiration: Mapped[date | None] = mapped_column(Date)
    manufacturing_lot_code: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sync_version: Mapped[int] = _version()
    synced_at: Mapped[datetime] = _ts(server_default=func.now())
# Brand Analytics (migration 0020): shares and rates keep six decimals (Amazon's are fractions
# such as 0.0771; a rate per search can pass 1).
_BA_TYPES: dict[str, Any] = {"amount": lambda: Numeric(18, 4), "currency": Text,
                             "count": Integer, "rate": lambda: Numeric(14, 6)}


def _ba_head() -> list[Column[Any]]:
    return [Column("seller_id", BigInteger, ForeignKey("sellers.id", ondelete="CASCADE"),
                   primary_key=True),
            Column("marketplace_id", Text, primary_key=True),
            Column("report_period", Text, primary_key=True),  # WEEK, MONTH...
            Column("start_date", Date, primary_key=True),  # the period's first day
            Column("end_date", Date, nullable=False)]


class SearchTerm(Base):
    """One of the top-3 clicked ASINs of a search term in a department and period (the
    ``GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT``'s ``dataByDepartmentAndSearchTerm``)."""

    __table__ = Table(
        "search_terms", Base.metadata,
        *_ba_head(),
        Column("department_name", Text, primary_key=True),
        Column("search_term", Text, primary_key=True),
        Column("click_share_rank", Integer, primary_key=True),
        Column("search_frequency_rank", Integer, nullable=False),
        Column("clicked_asin", Text, nullable=False),
        Column("click_share", Numeric(14, 6), nullable=False),
        Column("conversion_share", Numeric(14, 6), nullable=False),
        *_st_tail(),
        Index("search_terms_seller_start_idx", "seller_id", "start_date"),
        Index("search_terms_clicked_asin_idx", "clicked_asin"),
        Index("search_terms_sync_version_idx", "sync_version"),
    )


class SearchQueryPerformance(Base):
    """One search query of one of the seller's ASINs in a period (the
    ``GET_BRAND_ANALYTICS_SEARCH_QUERY_PERFORMANCE_REPORT``'s ``dataByAsin``), every nested
    field a column (:mod:`worker.db.brand_analytics_fields`)."""

    __table__ = Table(
        "search_query_performance", Base.metadata,
        *_ba_head(),
        Column("asin", Text, primary_key=True),
        Column("search_query", Text, primary_key=True),
        *[Column(name, _BA_TYPES[kind]()) for name, kind in ba_fields.columns()],
        *_st_tail(),
        Index("search_query_performance_seller_start_idx", "seller_id", "start_date"),
        Index("search_query_performance_sync_version_idx", "sync_version"),
    )

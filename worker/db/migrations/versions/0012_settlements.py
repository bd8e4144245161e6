"""settlements: ``settlements`` (one per settlement id) and ``settlement_lines`` (the typed
rows of its V2 flat file)

Revision ID: 0012
Revises: 0011

Amazon produces ``GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2`` itself, once per settlement
period; spsync finds the reports (``getReports``, ``REPORT_PROCESSING_FINISHED``) and lands
each settlement here. A settlement Amazon re-issues (same settlement id, a new report)
replaces its lines in one transaction. ``settlements`` gets the change feed's triggers;
its lines change only with it.
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_feed = importlib.import_module("worker.db.migrations.versions.0009_change_feed")


def _text(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=True)


def upgrade() -> None:
    op.create_table(
        "settlements",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("settlement_id", sa.Text(), nullable=False),
        sa.Column("start_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deposit_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total_amount", sa.Numeric(18, 4), nullable=True),
        _text("currency"),
        sa.Column("report_id", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("sync_version", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", "settlement_id"),
    )
    op.create_index("settlements_seller_end_idx", "settlements", ["seller_id", "end_date"])
    op.create_index("settlements_sync_version_idx", "settlements", ["sync_version"])
    op.create_table(
        "settlement_lines",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("settlement_id", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        _text("transaction_type"), _text("order_id"), _text("merchant_order_id"),
        _text("adjustment_id"), _text("shipment_id"), _text("marketplace_name"),
        _text("amount_type"), _text("amount_description"),
        sa.Column("amount", sa.Numeric(18, 4), nullable=True),
        _text("fulfillment_id"),
        sa.Column("posted_date", sa.Date(), nullable=True),
        sa.Column("posted_date_time", sa.DateTime(timezone=True), nullable=True),
        _text("order_item_code"), _text("merchant_order_item_id"),
        _text("merchant_adjustment_item_id"), _text("sku"),
        sa.Column("quantity_purchased", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["seller_id", "settlement_id"],
                                ["settlements.seller_id", "settlements.settlement_id"],
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", "settlement_id", "line"),
    )
    op.create_index("settlement_lines_seller_order_idx", "settlement_lines",
                    ["seller_id", "order_id"])
    op.execute(_feed._record_function("settlements", ("settlement_id",)))
    for trigger in _feed._triggers("settlements"):
        op.execute(trigger)


def downgrade() -> None:
    for event in _feed.EVENTS:
        op.execute(f"DROP TRIGGER spsync_feed_settlements_{event} ON settlements")
    op.execute("DROP FUNCTION spsync_feed_settlements()")
    op.drop_table("settlement_lines")
    op.drop_table("settlements")

"""listings_items, reports, report_rows; a source column on mirrored rows

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_JSONB = postgresql.JSONB(astext_type=sa.Text())


def _ts(name: str, **kw: object) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    for table in ("orders", "inventory_summaries"):
        op.add_column(table, sa.Column("source", sa.Text(), server_default="api",
                                       nullable=False))
    op.create_table(
        "listings_items",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("marketplace_id", sa.Text(), nullable=False),
        sa.Column("seller_sku", sa.Text(), nullable=False),
        sa.Column("asin", sa.Text(), nullable=True),
        sa.Column("product_type", sa.Text(), nullable=True),
        sa.Column("item_name", sa.Text(), nullable=True),
        sa.Column("condition_type", sa.Text(), nullable=True),
        sa.Column("status", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("fn_sku", sa.Text(), nullable=True),
        sa.Column("price", sa.Numeric(18, 4), nullable=True),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("issues", _JSONB, nullable=False),
        sa.Column("issue_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        _ts("created_date", nullable=True),
        _ts("last_updated_date", nullable=True),
        sa.Column("source", sa.Text(), server_default="api", nullable=False),
        sa.Column("raw", _JSONB, nullable=False),
        sa.Column("sync_version", sa.BigInteger(), nullable=False),
        _ts("synced_at", server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", "marketplace_id", "seller_sku"),
    )
    op.create_index("listings_items_sync_version_idx", "listings_items", ["sync_version"])
    op.create_index("listings_items_seller_sync_version_idx", "listings_items",
                    ["seller_id", "sync_version"])
    op.create_index("listings_items_asin_idx", "listings_items", ["seller_id", "asin"])
    op.create_index("listings_items_issues_idx", "listings_items", ["issues"],
                    postgresql_using="gin")
    op.create_index("listings_items_with_errors_idx", "listings_items",
                    ["seller_id", "marketplace_id"], postgresql_where=sa.text("error_count > 0"))

    op.create_table(
        "reports",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("report_type", sa.Text(), nullable=False),
        sa.Column("marketplace_ids", postgresql.ARRAY(sa.Text()), nullable=False),
        _ts("data_start_time", nullable=True),
        _ts("data_end_time", nullable=True),
        sa.Column("report_options", _JSONB, server_default="{}", nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("report_id", sa.Text(), nullable=False),
        sa.Column("processing_status", sa.Text(), server_default="IN_QUEUE", nullable=False),
        sa.Column("document_id", sa.Text(), nullable=True),
        sa.Column("ingest_status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("rows_read", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rows_written", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rows_rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("polls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("downloads", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("requested_at", server_default=sa.text("now()"), nullable=False),
        _ts("processing_end_time", nullable=True),
        _ts("ingested_at", nullable=True),
        sa.CheckConstraint(
            "ingest_status IN ('pending', 'ingesting', 'ingested', 'no_data', 'failed')",
            name="reports_ingest_status_check"),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id"),
    )
    op.create_index("reports_seller_type_window_idx", "reports",
                    ["seller_id", "report_type", "data_start_time", "data_end_time"])

    op.create_table(
        "report_rows",
        sa.Column("report_id", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("report_type", sa.Text(), nullable=False),
        sa.Column("record_key", sa.Text(), nullable=True),
        sa.Column("data", _JSONB, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sync_version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id", "line"),
    )
    op.create_index("report_rows_seller_type_key_idx", "report_rows",
                    ["seller_id", "report_type", "record_key"])
    op.create_index("report_rows_rejected_idx", "report_rows", ["report_id"],
                    postgresql_where=sa.text("error IS NOT NULL"))


def downgrade() -> None:
    op.drop_table("report_rows")
    op.drop_table("reports")
    op.drop_table("listings_items")
    for table in ("inventory_summaries", "orders"):
        op.drop_column(table, "source")

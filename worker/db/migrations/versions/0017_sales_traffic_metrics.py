"""sales & traffic and order metrics: ``sales_traffic_by_date``, ``sales_traffic_by_asin``
(the typed rows of ``GET_SALES_AND_TRAFFIC_REPORT``), ``order_metrics`` (Sales API
``getOrderMetrics``), and ``analytics_daily_sales_traffic`` reading the typed table

Revision ID: 0017
Revises: 0016

One column per field of Amazon's ``salesByDate``/``trafficByDate`` and
``salesByAsin``/``trafficByAsin`` (``worker/db/sales_traffic_fields.py`` lists them; spelled
out here so the revision stays what it was): amounts ``numeric(18,4)`` beside their
currency, counts ``integer``, rates and percentages ``numeric(12,4)``. Each row keeps
``report_id`` (``reports.id``): a later report of the same day replaces it (newer wins).
The view keeps its columns (dropped and created: some types gain a precision); it reads the typed table instead of ``report_rows``.
"""

from __future__ import annotations

import importlib
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_feed = importlib.import_module("worker.db.migrations.versions.0009_change_feed")
_views = importlib.import_module("worker.db.migrations.versions.0008_analytics_views")

TABLES = {"sales_traffic_by_date": ("marketplace_id", "date"),
          "sales_traffic_by_asin": ("marketplace_id", "date", "parent_asin", "child_asin",
                                    "sku"),
          "order_metrics": ("marketplace_id", "granularity", "interval_start")}


def _text(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Text(), nullable=True)


def _amount(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Numeric(18, 4), nullable=True)


def _count(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer(), nullable=True)


def _rate(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Numeric(12, 4), nullable=True)


def _head(*keys: str) -> list[sa.Column[Any]]:
    return [sa.Column("seller_id", sa.BigInteger(), nullable=False),
            sa.Column("marketplace_id", sa.Text(), nullable=False),
            sa.Column("date", sa.Date(), nullable=False),
            *(sa.Column(k, sa.Text(), nullable=False) for k in keys)]


def _tail() -> list[sa.Column[Any]]:
    return [sa.Column("report_id", sa.BigInteger(), nullable=False),
            sa.Column("raw", postgresql.JSONB(), nullable=False),
            sa.Column("sync_version", sa.BigInteger(), nullable=False),
            sa.Column("synced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                      nullable=False)]


_SALES_TRAFFIC = """
CREATE VIEW analytics_daily_sales_traffic AS
SELECT t.seller_id,
       s.selling_partner_id,
       t.marketplace_id,
       t.date AS day,
       t.ordered_product_sales_currency AS currency,
       t.ordered_product_sales,
       t.units_ordered::bigint AS units_ordered,
       t.total_order_items::bigint AS total_order_items,
       t.shipped_product_sales,
       t.units_shipped::bigint AS units_shipped,
       t.units_refunded::bigint AS units_refunded,
       t.sessions::bigint AS sessions,
       t.page_views::bigint AS page_views,
       t.buy_box_percentage,
       t.unit_session_percentage,
       t.report_id
FROM sales_traffic_by_date t
JOIN sellers s ON s.id = t.seller_id
"""


def upgrade() -> None:
    op.create_table(
        "sales_traffic_by_date",
        *_head(),
        _amount("ordered_product_sales"), _text("ordered_product_sales_currency"),
        _amount("ordered_product_sales_b2b"), _text("ordered_product_sales_b2b_currency"),
        _count("units_ordered"), _count("units_ordered_b2b"), _count("total_order_items"),
        _count("total_order_items_b2b"), _amount("average_sales_per_order_item"),
        _text("average_sales_per_order_item_currency"),
        _amount("average_sales_per_order_item_b2b"),
        _text("average_sales_per_order_item_b2b_currency"),
        _rate("average_units_per_order_item"), _rate("average_units_per_order_item_b2b"),
        _amount("average_selling_price"), _text("average_selling_price_currency"),
        _amount("average_selling_price_b2b"), _text("average_selling_price_b2b_currency"),
        _count("units_refunded"), _rate("refund_rate"), _count("claims_granted"),
        _amount("claims_amount"), _text("claims_amount_currency"),
        _amount("shipped_product_sales"), _text("shipped_product_sales_currency"),
        _count("units_shipped"), _count("orders_shipped"), _count("browser_page_views"),
        _count("browser_page_views_b2b"), _count("mobile_app_page_views"),
        _count("mobile_app_page_views_b2b"), _count("page_views"), _count("page_views_b2b"),
        _count("browser_sessions"), _count("browser_sessions_b2b"),
        _count("mobile_app_sessions"), _count("mobile_app_sessions_b2b"), _count("sessions"),
        _count("sessions_b2b"), _rate("buy_box_percentage"), _rate("buy_box_percentage_b2b"),
        _rate("order_item_session_percentage"), _rate("order_item_session_percentage_b2b"),
        _rate("unit_session_percentage"), _rate("unit_session_percentage_b2b"),
        _count("average_offer_count"), _count("average_parent_items"),
        _count("feedback_received"), _count("negative_feedback_received"),
        _rate("received_negative_feedback_rate"),
        *_tail(),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", "marketplace_id", "date"),
    )
    op.create_table(
        "sales_traffic_by_asin",
        *_head("parent_asin", "child_asin", "sku"),
        _count("units_ordered"), _count("units_ordered_b2b"), _amount("ordered_product_sales"),
        _text("ordered_product_sales_currency"), _amount("ordered_product_sales_b2b"),
        _text("ordered_product_sales_b2b_currency"), _count("total_order_items"),
        _count("total_order_items_b2b"), _count("browser_sessions"),
        _count("browser_sessions_b2b"), _count("mobile_app_sessions"),
        _count("mobile_app_sessions_b2b"), _count("sessions"), _count("sessions_b2b"),
        _rate("browser_session_percentage"), _rate("browser_session_percentage_b2b"),
        _rate("mobile_app_session_percentage"), _rate("mobile_app_session_percentage_b2b"),
        _rate("session_percentage"), _rate("session_percentage_b2b"),
        _count("browser_page_views"), _count("browser_page_views_b2b"),
        _count("mobile_app_page_views"), _count("mobile_app_page_views_b2b"),
        _count("page_views"), _count("page_views_b2b"), _rate("browser_page_views_percentage"),
        _rate("browser_page_views_percentage_b2b"), _rate("mobile_app_page_views_percentage"),
        _rate("mobile_app_page_views_percentage_b2b"), _rate("page_views_percentage"),
        _rate("page_views_percentage_b2b"), _rate("buy_box_percentage"),
        _rate("buy_box_percentage_b2b"), _rate("unit_session_percentage"),
        _rate("unit_session_percentage_b2b"),
        *_tail(),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", "marketplace_id", "date", "parent_asin",
                                "child_asin", "sku"),
    )
    op.create_table(
        "order_metrics",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("marketplace_id", sa.Text(), nullable=False),
        sa.Column("granularity", sa.Text(), nullable=False),
        sa.Column("interval_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unit_count", sa.Integer(), nullable=False),
        sa.Column("order_item_count", sa.Integer(), nullable=False),
        sa.Column("order_count", sa.Integer(), nullable=False),
        _amount("average_unit_price"), _text("average_unit_price_currency"),
        _amount("total_sales"), _text("total_sales_currency"),
        *_tail()[1:],
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", "marketplace_id", "granularity", "interval_start"),
    )
    op.create_index("sales_traffic_by_date_seller_date_idx", "sales_traffic_by_date",
                    ["seller_id", "date"])
    op.create_index("sales_traffic_by_asin_seller_date_idx", "sales_traffic_by_asin",
                    ["seller_id", "date"])
    op.create_index("order_metrics_seller_start_idx", "order_metrics",
                    ["seller_id", "interval_start"])
    for table, keys in TABLES.items():
        op.create_index(f"{table}_sync_version_idx", table, ["sync_version"])
        op.execute(_feed._record_function(table, keys))
        for trigger in _feed._triggers(table):
            op.execute(trigger)
    op.execute("DROP VIEW analytics_daily_sales_traffic")  # its column types change
    op.execute(_SALES_TRAFFIC)


def downgrade() -> None:
    op.execute("DROP VIEW analytics_daily_sales_traffic")
    op.execute(_views._SALES_TRAFFIC)
    for table in reversed(TABLES):
        for event in _feed.EVENTS:
            op.execute(f"DROP TRIGGER spsync_feed_{table}_{event} ON {table}")
        op.execute(f"DROP FUNCTION spsync_feed_{table}()")
        op.drop_table(table)

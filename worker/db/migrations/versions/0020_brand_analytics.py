"""brand analytics: ``search_terms`` (``GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT``: the top-3
clicked ASINs per search term and department) and ``search_query_performance``
(``GET_BRAND_ANALYTICS_SEARCH_QUERY_PERFORMANCE_REPORT``: each of the seller's ASINs per
search query), one row per marketplace and reporting period

Revision ID: 0020
Revises: 0019

Every field of Amazon's schemas is a column (``worker/db/brand_analytics_fields.py`` lists the
search query performance ones; spelled out here so the revision stays what it was): counts
``integer``, shares and rates ``numeric(14,6)``, amounts ``numeric(18,4)`` beside their
currency. Each row keeps ``report_id`` (``reports.id``): a later report of the same period
replaces it (newer wins). Both tables are in the change feed.
"""

from __future__ import annotations

import importlib
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_feed = importlib.import_module("worker.db.migrations.versions.0009_change_feed")

TABLES = {
    "search_terms": ("marketplace_id", "report_period", "start_date", "department_name",
                     "search_term", "click_share_rank"),
    "search_query_performance": ("marketplace_id", "report_period", "start_date", "asin",
                                 "search_query"),
}


def _text(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Text(), nullable=True)


def _amount(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Numeric(18, 4), nullable=True)


def _count(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer(), nullable=True)


def _rate(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Numeric(14, 6), nullable=True)


def _head(*keys: str) -> list[sa.Column[Any]]:
    return [sa.Column("seller_id", sa.BigInteger(), nullable=False),
            sa.Column("marketplace_id", sa.Text(), nullable=False),
            sa.Column("report_period", sa.Text(), nullable=False),
            sa.Column("start_date", sa.Date(), nullable=False),
            sa.Column("end_date", sa.Date(), nullable=False),
            *(sa.Column(k, sa.Text(), nullable=False) for k in keys)]


def _tail() -> list[sa.Column[Any]]:
    return [sa.Column("report_id", sa.BigInteger(), nullable=False),
            sa.Column("raw", postgresql.JSONB(), nullable=False),
            sa.Column("sync_version", sa.BigInteger(), nullable=False),
            sa.Column("synced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                      nullable=False)]


def upgrade() -> None:
    op.create_table(
        "search_terms",
        *_head("department_name", "search_term"),
        sa.Column("click_share_rank", sa.Integer(), nullable=False),
        sa.Column("search_frequency_rank", sa.Integer(), nullable=False),
        sa.Column("clicked_asin", sa.Text(), nullable=False),
        sa.Column("click_share", sa.Numeric(14, 6), nullable=False),
        sa.Column("conversion_share", sa.Numeric(14, 6), nullable=False),
        *_tail(),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", *TABLES["search_terms"]),
    )
    op.create_table(
        "search_query_performance",
        *_head("asin", "search_query"),
        _count("search_query_score"), _count("search_query_volume"),
        _count("total_query_impression_count"), _count("asin_impression_count"),
        _rate("asin_impression_share"),
        _count("total_click_count"), _rate("total_click_rate"), _count("asin_click_count"),
        _rate("asin_click_share"),
        _amount("total_median_click_price"), _text("total_median_click_price_currency"),
        _amount("asin_median_click_price"), _text("asin_median_click_price_currency"),
        _count("total_same_day_shipping_click_count"),
        _count("total_one_day_shipping_click_count"),
        _count("total_two_day_shipping_click_count"),
        _count("total_cart_add_count"), _rate("total_cart_add_rate"),
        _count("asin_cart_add_count"), _rate("asin_cart_add_share"),
        _amount("total_median_cart_add_price"), _text("total_median_cart_add_price_currency"),
        _amount("asin_median_cart_add_price"), _text("asin_median_cart_add_price_currency"),
        _count("total_same_day_shipping_cart_add_count"),
        _count("total_one_day_shipping_cart_add_count"),
        _count("total_two_day_shipping_cart_add_count"),
        _count("total_purchase_count"), _rate("total_purchase_rate"),
        _count("asin_purchase_count"), _rate("asin_purchase_share"),
        _amount("total_median_purchase_price"), _text("total_median_purchase_price_currency"),
        _amount("asin_median_purchase_price"), _text("asin_median_purchase_price_currency"),
        _count("total_same_day_shipping_purchase_count"),
        _count("total_one_day_shipping_purchase_count"),
        _count("total_two_day_shipping_purchase_count"),
        *_tail(),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", *TABLES["search_query_performance"]),
    )
    op.create_index("search_terms_seller_start_idx", "search_terms", ["seller_id", "start_date"])
    op.create_index("search_terms_clicked_asin_idx", "search_terms", ["clicked_asin"])
    op.create_index("search_query_performance_seller_start_idx", "search_query_performance",
                    ["seller_id", "start_date"])
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

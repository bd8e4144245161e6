"""Amazon's documents (``raw``, ``report_rows.data``) are left out of the planner's statistics

Revision ID: 0026
Revises: 0025

Issue 19: ``ANALYZE`` of a table whose every row carries a ~1 KB JSON document spent half its
time on that column (0.5 of 1.0 s after an 80,000-order report, ``benchmarks/report_stream.py``)
for statistics no query can use: every document is different, the wide ones (over 1 KB) are
left out of the samples anyway, and a reader's ``raw->>'x'`` condition is estimated from
defaults whatever the column's statistics say. ``SET STATISTICS 0`` skips the column; the
other columns' statistics are unchanged. It takes a lock that does not block reads or writes.
"""

from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# every table holding Amazon's whole document of a row, and that column
DOCUMENTS = {
    **{table: "raw" for table in (
        "orders", "order_items", "order_metrics", "inventory_summaries", "listings_items",
        "catalog_items", "price_snapshots", "financial_event_groups", "financial_transactions",
        "fba_returns", "mfn_returns", "fba_reimbursements", "fba_fee_estimates",
        "fba_storage_fees", "inventory_ledger", "inventory_ledger_summary",
        "sales_traffic_by_date", "sales_traffic_by_asin", "search_terms",
        "search_query_performance", "inbound_plans", "inbound_shipments",
        "inbound_shipment_items")},
    "report_rows": "data",
}


def _set(target: int) -> None:
    for table, column in DOCUMENTS.items():
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET STATISTICS {target}')


def upgrade() -> None:
    _set(0)


def downgrade() -> None:
    _set(-1)  # the server's default_statistics_target again

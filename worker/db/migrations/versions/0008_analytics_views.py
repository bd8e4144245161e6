"""analytics views: daily sales, sales & traffic by day, inventory position, listing issues,
sync health (docs/schema.md, "Analytics views")

Revision ID: 0008
Revises: 0007

Plain views, not materialized: they read indexed tables a downstream system or the
analytics dashboard queries a few times a minute at most, and a materialized view would
need a refresh schedule and would show stale figures between refreshes. Every statement
is here (no import from the package), so the revision stays what it was when the views
change later: a later revision replaces them with ``CREATE OR REPLACE VIEW`` or drops
and creates them.

Choices every view shares:

- A day is a UTC day (``purchase_date AT TIME ZONE 'UTC'``): every timestamp is stored in
  UTC, a seller's marketplaces span time zones, and the sales & traffic rows the simulator
  makes are UTC days too. A reader who wants a marketplace's local day groups
  ``orders.purchase_date AT TIME ZONE '<zone>'`` itself.
- Money stays ``numeric`` beside its currency; a currency code is part of every grouping
  that sums money, so no row adds two currencies.
- Orders with ``order_status = 'CANCELLED'`` count in ``cancelled_*`` columns only, never
  in units or sales (Amazon's sales & traffic report leaves them out too).
- A JSON value that is not a number reads as NULL instead of failing the whole view.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_NUMBER = r"'^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$'"
_INTEGER = r"'^-?[0-9]{1,18}$'"


def _num(path: str, cast: str = "numeric") -> str:
    """``r.data #>> path`` as ``cast``, NULL when it is not a number."""
    value = f"(r.data #>> '{{{path}}}')"
    pattern = _INTEGER if cast == "bigint" else _NUMBER
    return f"CASE WHEN {value} ~ {pattern} THEN {value}::{cast} END"


_DAILY_SALES = """
CREATE VIEW analytics_daily_sales AS
SELECT o.seller_id,
       s.selling_partner_id,
       o.marketplace_id,
       (o.purchase_date AT TIME ZONE 'UTC')::date AS day,
       i.seller_sku,
       i.currency,
       count(DISTINCT o.amazon_order_id) FILTER (WHERE o.order_status <> 'CANCELLED')
           AS orders,
       coalesce(sum(i.quantity_ordered) FILTER (WHERE o.order_status <> 'CANCELLED'), 0)
           AS units_ordered,
       coalesce(sum(i.quantity_shipped) FILTER (WHERE o.order_status <> 'CANCELLED'), 0)
           AS units_shipped,
       CASE WHEN i.currency IS NOT NULL THEN coalesce(
           sum(i.item_price) FILTER (WHERE o.order_status <> 'CANCELLED'), 0) END AS sales,
       count(DISTINCT o.amazon_order_id) FILTER (WHERE o.order_status = 'CANCELLED')
           AS cancelled_orders,
       coalesce(sum(i.quantity_ordered) FILTER (WHERE o.order_status = 'CANCELLED'), 0)
           AS cancelled_units
FROM orders o
JOIN order_items i ON i.seller_id = o.seller_id AND i.amazon_order_id = o.amazon_order_id
JOIN sellers s ON s.id = o.seller_id
GROUP BY o.seller_id, s.selling_partner_id, o.marketplace_id,
         (o.purchase_date AT TIME ZONE 'UTC')::date, i.seller_sku, i.currency
"""

# The newest report's row wins per (seller, marketplace, day): backfill windows overlap
# when re-run, and a later report has the later, more complete figures.
_SALES_TRAFFIC = f"""
CREATE VIEW analytics_daily_sales_traffic AS
SELECT DISTINCT ON (r.seller_id, p.marketplace_ids[1], r.record_key)
       r.seller_id,
       s.selling_partner_id,
       p.marketplace_ids[1] AS marketplace_id,
       substr(r.record_key, 6)::date AS day,
       r.data #>> '{{salesByDate,orderedProductSales,currencyCode}}' AS currency,
       {_num('salesByDate,orderedProductSales,amount')} AS ordered_product_sales,
       {_num('salesByDate,unitsOrdered', 'bigint')} AS units_ordered,
       {_num('salesByDate,totalOrderItems', 'bigint')} AS total_order_items,
       {_num('salesByDate,shippedProductSales,amount')} AS shipped_product_sales,
       {_num('salesByDate,unitsShipped', 'bigint')} AS units_shipped,
       {_num('salesByDate,unitsRefunded', 'bigint')} AS units_refunded,
       {_num('trafficByDate,sessions', 'bigint')} AS sessions,
       {_num('trafficByDate,pageViews', 'bigint')} AS page_views,
       {_num('trafficByDate,buyBoxPercentage')} AS buy_box_percentage,
       {_num('trafficByDate,unitSessionPercentage')} AS unit_session_percentage,
       r.report_id
FROM report_rows r
JOIN reports p ON p.id = r.report_id
JOIN sellers s ON s.id = r.seller_id
WHERE r.report_type = 'GET_SALES_AND_TRAFFIC_REPORT'
  AND r.error IS NULL
  AND r.record_key ~ '^date:[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$'
  AND coalesce(p.report_options ->> 'dateGranularity', 'DAY') = 'DAY'
ORDER BY r.seller_id, p.marketplace_ids[1], r.record_key, r.report_id DESC
"""  # noqa: S608 - every part is a literal of this file

_INVENTORY_POSITION = """
CREATE VIEW analytics_inventory_position AS
WITH sold AS (
    SELECT i.seller_id, o.marketplace_id, i.seller_sku, sum(i.quantity_ordered) AS units
    FROM order_items i
    JOIN orders o ON o.seller_id = i.seller_id AND o.amazon_order_id = i.amazon_order_id
    WHERE o.order_status <> 'CANCELLED' AND o.purchase_date >= now() - interval '30 days'
    GROUP BY i.seller_id, o.marketplace_id, i.seller_sku
)
SELECT v.seller_id,
       s.selling_partner_id,
       v.marketplace_id,
       v.seller_sku,
       v.asin,
       v.fn_sku,
       v.product_name,
       v.fulfillable_quantity AS fulfillable,
       coalesce(v.inbound_working_quantity, 0) + coalesce(v.inbound_shipped_quantity, 0)
           + coalesce(v.inbound_receiving_quantity, 0) AS inbound,
       v.inbound_working_quantity AS inbound_working,
       v.inbound_shipped_quantity AS inbound_shipped,
       v.inbound_receiving_quantity AS inbound_receiving,
       v.reserved_quantity AS reserved,
       v.unfulfillable_quantity AS unfulfillable,
       v.total_quantity AS total,
       coalesce(sold.units, 0) AS units_sold_30d,
       CASE WHEN sold.units > 0
            THEN round(v.fulfillable_quantity * 30.0 / sold.units, 1) END AS days_of_cover,
       v.last_updated_time,
       v.source
FROM inventory_summaries v
JOIN sellers s ON s.id = v.seller_id
LEFT JOIN sold ON sold.seller_id = v.seller_id AND sold.marketplace_id = v.marketplace_id
              AND sold.seller_sku = v.seller_sku
"""

_LISTING_ISSUES = """
CREATE VIEW analytics_listing_issues AS
SELECT l.seller_id,
       s.selling_partner_id,
       l.marketplace_id,
       l.seller_sku,
       l.asin,
       l.item_name,
       l.status AS listing_status,
       e.issue ->> 'severity' AS severity,
       e.issue ->> 'code' AS code,
       e.issue ->> 'message' AS message,
       e.issue -> 'categories' AS categories,
       e.issue -> 'attributeNames' AS attribute_names,
       e.issue -> 'enforcements' AS enforcements,
       l.last_updated_date,
       l.source
FROM listings_items l
JOIN sellers s ON s.id = l.seller_id
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(l.issues) = 'array' THEN l.issues ELSE '[]'::jsonb END) AS e(issue)
"""

_SYNC_HEALTH = """
CREATE VIEW analytics_sync_health AS
SELECT st.seller_id,
       s.selling_partner_id,
       s.enabled AS seller_enabled,
       s.disabled_reason,
       st.stream,
       st.cursor,
       now() - st.cursor AS lag,
       extract(epoch FROM now() - st.cursor)::double precision AS lag_seconds,
       st.last_success_at,
       st.last_error,
       st.last_error_at,
       st.due_at,
       last.status AS last_run_status,
       last.started_at AS last_run_started_at,
       last.finished_at AS last_run_finished_at,
       last.error_type AS last_run_error_type,
       last.error AS last_run_error,
       coalesce(day.runs, 0) AS runs_24h,
       coalesce(day.failed_runs, 0) AS failed_runs_24h,
       coalesce(day.api_calls, 0) AS api_calls_24h,
       coalesce(day.throttled, 0) AS throttled_24h,
       coalesce(day.retries, 0) AS retries_24h
FROM sync_state st
JOIN sellers s ON s.id = st.seller_id
LEFT JOIN LATERAL (
    SELECT r.status, r.started_at, r.finished_at, r.error_type, r.error
    FROM sync_runs r
    WHERE r.seller_id = st.seller_id AND r.stream = st.stream
    ORDER BY r.started_at DESC, r.id DESC
    LIMIT 1
) last ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS runs,
           count(*) FILTER (WHERE r.status = 'failed') AS failed_runs,
           sum(r.api_calls) AS api_calls,
           sum(r.throttled) AS throttled,
           sum(r.retries) AS retries
    FROM sync_runs r
    WHERE r.seller_id = st.seller_id AND r.stream = st.stream
      AND r.started_at >= now() - interval '24 hours'
) day ON true
"""

VIEWS = {
    "analytics_daily_sales": _DAILY_SALES,
    "analytics_daily_sales_traffic": _SALES_TRAFFIC,
    "analytics_inventory_position": _INVENTORY_POSITION,
    "analytics_listing_issues": _LISTING_ISSUES,
    "analytics_sync_health": _SYNC_HEALTH,
}


def upgrade() -> None:
    for sql in VIEWS.values():
        op.execute(sql)


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW {name}")

-- Where a sales & traffic report exists: its units per day beside the orders mirror's, and
-- the report's sessions (traffic that the orders API does not have). Both count UTC days
-- and leave cancelled orders out, so complete days agree.
WITH mirror AS (
    SELECT seller_id, marketplace_id, day, sum(units_ordered) AS units
    FROM analytics_daily_sales
    GROUP BY 1, 2, 3
)
SELECT t.selling_partner_id AS seller, t.marketplace_id, t.day,
       t.units_ordered AS report_units, coalesce(m.units, 0) AS mirror_units,
       t.ordered_product_sales, t.currency, t.sessions, t.unit_session_percentage
FROM analytics_daily_sales_traffic t
LEFT JOIN mirror m USING (seller_id, marketplace_id, day)
WHERE t.day < (now() AT TIME ZONE 'UTC')::date
ORDER BY t.day DESC, seller, t.marketplace_id
LIMIT 7;

-- Sales of the last 30 UTC days per seller, marketplace and currency (never summed across
-- currencies). Cancelled orders are counted apart, never in units or sales; the lines of
-- orders Amazon has not priced yet (v0 Pending) have currency NULL.
SELECT selling_partner_id AS seller, marketplace_id, currency,
       sum(orders) AS orders, sum(units_ordered) AS units, sum(sales) AS sales,
       sum(cancelled_units) AS cancelled_units
FROM analytics_daily_sales
WHERE day >= (now() AT TIME ZONE 'UTC')::date - 30
GROUP BY 1, 2, 3
ORDER BY seller, marketplace_id, currency NULLS LAST;

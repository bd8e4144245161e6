-- The ten best-selling SKUs of the last 30 days across all sellers, by units.
SELECT selling_partner_id AS seller, marketplace_id, seller_sku, currency,
       sum(units_ordered) AS units, sum(sales) AS sales
FROM analytics_daily_sales
WHERE day >= (now() AT TIME ZONE 'UTC')::date - 30
GROUP BY 1, 2, 3, 4
ORDER BY units DESC, seller, seller_sku
LIMIT 10;

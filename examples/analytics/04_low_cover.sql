-- FBA SKUs that run out within 14 days at the last 30 days' pace, and stock that did not
-- sell at all (days_of_cover NULL) per seller and marketplace.
SELECT selling_partner_id AS seller, marketplace_id,
       count(*) FILTER (WHERE days_of_cover < 14) AS skus_under_14_days,
       min(days_of_cover) AS lowest_cover_days,
       count(*) FILTER (WHERE units_sold_30d = 0 AND fulfillable > 0) AS unsold_skus_in_stock,
       sum(fulfillable) AS fulfillable, sum(inbound) AS inbound, sum(reserved) AS reserved
FROM analytics_inventory_position
GROUP BY 1, 2
ORDER BY seller, marketplace_id;

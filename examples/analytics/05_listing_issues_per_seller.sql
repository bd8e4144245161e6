-- Open listing issues per seller and severity, with the most frequent issue code.
SELECT selling_partner_id AS seller, severity, count(*) AS issues,
       count(DISTINCT (marketplace_id, seller_sku)) AS listings,
       mode() WITHIN GROUP (ORDER BY code) AS most_common_code
FROM analytics_listing_issues
GROUP BY 1, 2
ORDER BY seller, severity;

-- Each seller's streams: how far behind Amazon, the last run, the last 24 hours' failures
-- and 429s. Streams with failures first.
SELECT selling_partner_id AS seller, stream,
       round(lag_seconds) AS lag_s, last_run_status, runs_24h, failed_runs_24h,
       throttled_24h, api_calls_24h, left(last_error, 60) AS last_error
FROM analytics_sync_health
ORDER BY failed_runs_24h DESC, lag_seconds DESC NULLS FIRST, seller, stream;

"""Prometheus metrics (prometheus-client). Labels never carry a token, secret or PII.

Selling partner ids are Amazon account ids, not personal data, and are what an operator
needs to find the seller whose quota is short.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SPAPI_CALLS = Counter(
    "spsync_spapi_calls_total", "SP-API calls by operation and HTTP status",
    ["operation", "status"],
)
QUOTA_WAIT = Histogram(
    "spsync_quota_wait_seconds", "Time a call waited for its seller's token bucket",
    ["operation", "priority"], buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60),
)
BUCKET_FILL = Gauge(
    "spsync_bucket_fill_ratio",
    "Tokens left / burst after the last reservation (negative: callers queued)",
    ["seller", "operation"],
)
BUCKET_LAST_WAIT = Gauge(
    "spsync_bucket_last_wait_seconds", "Wait of the last reservation", ["seller", "operation"],
)

"""Prometheus metrics (prometheus-client). Labels never carry a token, secret or PII.

Selling partner ids are Amazon account ids, not personal data, and are what an operator
needs to find the seller whose quota is short.

A Celery worker is several processes (prefork). With ``PROMETHEUS_MULTIPROC_DIR`` set in the
environment (before start: prometheus-client reads it at import), every process writes its
samples there and the worker's main process serves them all on ``SPSYNC_METRICS_PORT``.
"""

from __future__ import annotations

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)

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
    "Share of the seller's bucket in use after the last reservation (1 = empty bucket, "
    "above 1: callers queued)",
    ["seller", "operation"], multiprocess_mode="mostrecent",
)
BUCKET_LAST_WAIT = Gauge(
    "spsync_bucket_last_wait_seconds", "Wait of the last reservation", ["seller", "operation"],
    multiprocess_mode="mostrecent",
)

THROTTLED = Counter(
    "spsync_spapi_throttled_total", "SP-API calls answered 429 (QuotaExceeded)", ["operation"],
)
RETRIES = Counter(
    "spsync_spapi_retries_total", "SP-API calls retried by the client, by reason",
    ["operation", "reason"],
)
ROWS_UPSERTED = Counter(
    "spsync_rows_upserted_total", "Mirror rows inserted or changed (unchanged rows not counted)",
    ["table"],
)
SYNC_RUNS = Counter(
    "spsync_sync_runs_total", "Finished sync runs by stream kind and status "
    "(succeeded, failed, deferred)", ["stream_kind", "status"],
)
TASK_FAILURES = Counter(
    "spsync_task_failures_total", "Celery tasks that raised (retries included)", ["task"],
)
TOKEN_REFRESH_FAILURES = Counter(
    "spsync_token_refresh_failures_total", "LWA refresh-token grants that failed",
    ["seller", "error"],
)
NOTIFICATIONS = Counter(
    "spsync_notifications_total", "Inbox notifications processed, by type and outcome "
    "(done, pending = will retry, parked)", ["notification_type", "outcome"],
)
SNS_MESSAGES = Counter(
    "spsync_sns_messages_total", "SNS messages posted to /notifications/sns, by Type and "
    "outcome (recorded, duplicate, parked, confirmed, unsubscribed, replayed, rejected, failed)",
    ["type", "outcome"],
)
NOTIFICATION_LAG = Histogram(
    "spsync_notification_receive_seconds",
    "From a notification's PublishTime (or EventTime) to its inbox commit",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
OUTBOX_COMMANDS = Counter(
    "spsync_outbox_commands_total", "Outbox commands entering a status (sending, polling, "
    "accepted, rejected, failed, unknown, pending = will be retried)", ["command", "status"],
)
CLOCK_SKEW = Gauge(
    "spsync_clock_skew_seconds",
    "This host's clock minus the Date header of the last LWA / SP-API response",
    multiprocess_mode="mostrecent",
)


def process_registry() -> CollectorRegistry:
    """This process's samples; every process's of this host when in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def serve(port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from outside
    """Serve ``/metrics`` from this process (all worker processes' samples when multiproc)."""
    start_http_server(port, addr=host, registry=process_registry())


def process_exited(pid: int) -> None:
    """Drop a dead worker process's live gauges (multiprocess mode only)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]

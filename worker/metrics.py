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
    "Tokens left / burst after the last reservation (negative: callers queued)",
    ["seller", "operation"], multiprocess_mode="mostrecent",
)
BUCKET_LAST_WAIT = Gauge(
    "spsync_bucket_last_wait_seconds", "Wait of the last reservation", ["seller", "operation"],
    multiprocess_mode="mostrecent",
)


def serve(port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from outside
    """Serve ``/metrics`` from this process (all worker processes' samples when multiproc)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        start_http_server(port, addr=host, registry=registry)
    else:
        start_http_server(port, addr=host)


def process_exited(pid: int) -> None:
    """Drop a dead worker process's live gauges (multiprocess mode only)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]

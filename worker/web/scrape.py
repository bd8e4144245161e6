"""``/metrics`` of the web app: this process's counters plus gauges read at scrape time.

Lag, last success and queue depth come from Postgres and Redis when Prometheus asks, not from
the workers: a stream whose workers all died still shows its lag growing, which is the
moment an alert matters. Worker processes serve their own counters (``worker.metrics``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text

from worker.config import Settings
from worker.metrics import process_registry
from worker.status import backlog, queue_depth
from worker.sync.catalog import UnknownStreamError, interval_of
from worker.web.health import Check

QUEUES = ("spsync",)

_STREAMS_SQL = text("""
SELECT s.selling_partner_id AS seller, st.stream, st.cursor, st.last_success_at,
       st.disabled_reason IS NOT NULL AS disabled
FROM sync_state st JOIN sellers s ON s.id = st.seller_id
WHERE s.enabled
ORDER BY s.id, st.stream
""")
_SELLERS_SQL = text("SELECT enabled, count(*) FROM sellers GROUP BY enabled")


class MirrorCollector(Collector):
    """Gauges computed from the database, Redis and the health checks at collect time."""

    def __init__(self, engine: Engine, settings: Settings, broker_url: str,
                 checks: dict[str, Check], now: datetime | None = None) -> None:
        self._engine = engine
        self._settings = settings
        self._broker_url = broker_url
        self._checks = checks
        self._now = now

    def collect(self) -> Iterator[Metric]:
        now = self._now or datetime.now(UTC)
        lag = GaugeMetricFamily("spsync_sync_lag_seconds",
                                "Now minus the stream's cursor (how old the newest data may be)",
                                labels=["seller", "stream"])
        interval = GaugeMetricFamily("spsync_sync_interval_seconds",
                                     "How often the stream is scheduled",
                                     labels=["seller", "stream"])
        success = GaugeMetricFamily("spsync_sync_last_success_timestamp_seconds",
                                    "Unix time of the stream's last successful sync",
                                    labels=["seller", "stream"])
        disabled = GaugeMetricFamily("spsync_stream_disabled",
                                     "1 when Amazon refused the seller this stream (403): it is "
                                     "not scheduled until `sellers enable`",
                                     labels=["seller", "stream"])
        sellers = GaugeMetricFamily("spsync_sellers", "Registered sellers", labels=["state"])
        with self._engine.connect() as conn:
            for row in conn.execute(_STREAMS_SQL):
                labels = [row.seller, row.stream]
                with suppress(UnknownStreamError):  # a kind this version no longer has
                    interval.add_metric(labels, interval_of(self._settings, row.stream)
                                        .total_seconds())
                if row.cursor is not None:
                    lag.add_metric(labels, (now - row.cursor).total_seconds())
                if row.last_success_at is not None:
                    success.add_metric(labels, row.last_success_at.timestamp())
                disabled.add_metric(labels, 1.0 if row.disabled else 0.0)
            counts = {bool(enabled): int(n) for enabled, n in conn.execute(_SELLERS_SQL)}
            open_rows = backlog(conn)
        sellers.add_metric(["enabled"], counts.get(True, 0))
        sellers.add_metric(["disabled"], counts.get(False, 0))
        yield from (lag, interval, success, disabled, sellers)
        for name, table, what in (("spsync_inbox_open", "inbox", "Notifications"),
                                  ("spsync_outbox_open", "outbox", "Write-back commands")):
            gauge = GaugeMetricFamily(name, f"{what} still open, by status", labels=["status"])
            for status, n in open_rows[table].items():
                gauge.add_metric([status], n)
            yield gauge
        yield self._queue_depth()
        health = GaugeMetricFamily("spsync_health_check", "1 when the /healthz check passes",
                                   labels=["check"])
        for name, check in self._checks.items():
            health.add_metric([name], 1.0 if check.ok else 0.0)
        yield health

    def _queue_depth(self) -> Metric:
        depth = GaugeMetricFamily("spsync_queue_depth", "Tasks waiting in the Celery queue",
                                  labels=["queue"])
        for queue in QUEUES:
            waiting = queue_depth(self._broker_url, queue)
            if waiting is not None:  # None: no such queue yet, or the broker is unreachable
                depth.add_metric([queue], float(waiting))
        return depth


def render(engine: Engine, settings: Settings, broker_url: str,
           checks: dict[str, Check]) -> bytes:
    """The whole ``/metrics`` body (blocking: call it in a thread)."""
    mirror = CollectorRegistry()
    mirror.register(MirrorCollector(engine, settings, broker_url, checks))
    return generate_latest(process_registry()) + generate_latest(mirror)

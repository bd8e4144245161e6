"""The Celery app (``celery -A worker``): queues, routes and reliability settings.

Reliability: a task is acknowledged only after it finished (``acks_late``) and is re-queued if
its worker process dies (``task_reject_on_worker_lost``); each worker takes one message at a
time (prefetch 1) so a dead worker strands at most one. Re-running a sync is harmless: it
resumes from the committed checkpoint and upserts are idempotent. A worker outlives its broker:
it reconnects for as long as Redis is down (``worker/broker.py``: two library bugs on the way).
"""

from __future__ import annotations

import gc
from typing import Any

from celery import Celery, signals

from worker import broker
from worker.config import ConfigError, get_settings
from worker.logging import configure_logging


def _broker_url(redis_url: str) -> str:
    # kombu spells a Redis unix socket redis+socket://; redis-py spells it unix://
    return "redis+socket://" + redis_url[len("unix://"):] if redis_url.startswith("unix://") \
        else redis_url


def _make_app() -> Celery:
    broker.install()  # a worker whose Redis dies mid-task must reconnect, not exit
    celery = Celery("spsync", include=["tasks.sync", "tasks.notifications", "tasks.outbox",
                                       "tasks.dispatch"])
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue="spsync",
        task_routes={"spsync.*": {"queue": "spsync"}},
        broker_connection_retry_on_startup=True,
        # A Redis outage is waited out however long it lasts: with Celery's default (100
        # attempts, 2 s apart growing to 30 s) a worker gave up and exited after ~47 minutes.
        broker_connection_max_retries=None,
        # A task running when the broker goes away goes on (the bucket waits Redis out) and
        # commits its pages; Celery 6 would cancel it by default. Said here, not inherited.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_transport_options={"visibility_timeout": 3600},
        worker_hijack_root_logger=False,
        timezone="UTC",
        enable_utc=True,
    )
    return celery


app = _make_app()


@app.on_after_configure.connect
def _configure_broker(sender: Celery, **_: Any) -> None:
    from worker.runtime import get_runtime

    settings = get_settings()
    try:
        sender.conf.broker_url = _broker_url(get_runtime().broker_url)
    except ConfigError as exc:  # e.g. no REDIS_URL and no demo extra for an embedded Redis
        # Celery logs and skips a receiver's exception, and would then connect to its default
        # broker (amqp://localhost): stop with the one line instead.
        raise SystemExit(f"spsync: {exc}") from None
    sender.conf.worker_concurrency = settings.worker_concurrency
    if broker.is_amqp(sender.conf.broker_url):
        _on_rabbitmq(sender)
    from schedules.beat import beat_schedule

    sender.conf.beat_schedule = beat_schedule(settings)


def _on_rabbitmq(celery: Celery) -> None:
    """RabbitMQ: the queue is a quorum queue (``broker.amqp_queues``); Celery sees it and
    leaves out the global prefetch a quorum queue refuses (each consumer still takes one
    message at a time). Every task goes at the high priority, the bulk syncs at the normal
    one (``worker/enqueue.py``). No publisher confirms: a publish lost with the broker is
    sent again by what made it (a sync's claim expires and the dispatcher re-sends it; the
    inbox and outbox sweeps re-send notifications and write-back)."""
    from worker.enqueue import AMQP_URGENT

    celery.conf.task_queues = broker.amqp_queues("spsync")
    celery.conf.task_default_priority = AMQP_URGENT
    celery.conf.broker_transport_options = {}  # Redis's visibility timeout means nothing here


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    configure_logging(get_settings())


@signals.worker_init.connect
def _check_config(**_: Any) -> None:
    """Refuse to start a worker that could not call SP-API (one clear line, exit 1)."""
    try:
        get_settings().require_lwa()
    except ConfigError as exc:
        raise SystemExit(f"spsync: {exc}") from None
    port = get_settings().metrics_port
    if port:
        from worker import metrics

        metrics.serve(port)


@signals.worker_init.connect
def _learn_quota_server(**_: Any) -> None:
    """Before the pool forks: a child forked after a Redis restart inherits the server its
    worker started with, so it knows its buckets may be gone (``worker/ratelimit/restarts.py``)."""
    from worker.ratelimit import restarts
    from worker.runtime import get_runtime

    with get_runtime().redis(socket_connect_timeout=2, socket_timeout=2) as client:
        restarts.learn(client)


@signals.worker_process_init.connect
def _open_publisher(**_: Any) -> None:
    """Each pool child holds its broker connection from its start (``worker/broker.py``)."""
    broker.open_publisher(app)


@signals.worker_process_init.connect
def _freeze_what_the_child_starts_with(**_: Any) -> None:
    """What a pool child holds at its start (every module, the app) goes into the
    collector's permanent generation: its full collections no longer walk it. A report
    ingest allocates a dozen objects a line, and those collections were ~10 % of its CPU
    (issue 19, ``benchmarks/report_stream.py``)."""
    gc.freeze()


@signals.worker_process_shutdown.connect
def _forget_process_metrics(pid: int | None = None, **_: Any) -> None:
    from worker import metrics

    if pid:
        metrics.process_exited(pid)

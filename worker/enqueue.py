"""Sending a task by its name: how the web app, the notifications consumer and the dispatcher
enqueue work without importing ``tasks`` or ``schedules``, which sit above them (the
import-linter contracts in ``pyproject.toml``).

``app.send_task`` builds the same message as ``<task>.delay``: the route comes from the task's
name (``task_routes``), and every option the worker acts on (``acks_late``, retries) is the
task's own, read by the worker that runs it. ``tests/unit/test_boundaries.py`` checks that each
name here is a registered task.
"""

from __future__ import annotations

from collections.abc import Iterable

from worker.app import app
from worker.broker import is_amqp

SYNC_STREAM = "spsync.sync_stream"  # tasks/sync.py
PROCESS_NOTIFICATION = "spsync.process_notification"  # tasks/notifications.py

# Message priorities on the Redis broker: lower goes first. kombu keeps one list per priority
# step (``broker.PRIORITY_STEPS``) and a worker's BRPOP asks the step-0 lists first, so a
# worker takes every URGENT message before any BULK one, whatever ``-Q spsync`` says.
URGENT = 0  # what a message without a priority gets: notifications, write-back, order path
BULK = 6  # reports, money, catalog, analytics: minutes late harms nobody

# On RabbitMQ higher goes first, and a quorum queue (RabbitMQ 4.0+) has two levels: above 4
# is high, the rest normal (3.x quorum queues ignore priorities: one FIFO). Every task is
# sent high by default there (``task_default_priority``, worker/app.py), the bulk syncs normal.
AMQP_URGENT = 5
AMQP_BULK = 0


def priority(urgent: bool) -> int:
    """The priority of an urgent (order path) or bulk sync on this app's broker."""
    if is_amqp(app.conf.broker_url):
        return AMQP_URGENT if urgent else AMQP_BULK
    return URGENT if urgent else BULK


def send(task: str, *args: object, priority: int | None = None) -> None:
    """Enqueue ``task`` with positional ``args``, as ``<task>.delay(*args)`` would."""
    app.send_task(task, args=args, priority=priority)


def send_many(task: str, calls: Iterable[tuple[tuple[object, ...], int | None]]) -> None:
    """Enqueue ``task`` once per ``(args, priority)``, as :func:`send` would, through one
    producer and kombu's publish batch: on Redis one pipeline of pushes instead of a round
    trip per message (``benchmarks/README.md``, dispatcher publishing); on RabbitMQ, whose
    publishes wait for no reply, one publish after another on the same channel. Published
    when the batch ends; a failure publishes none of what was still buffered (the claims
    behind them expire and are dispatched again)."""
    with app.producer_or_acquire() as producer, producer.batch(max_size=PUBLISH_BATCH):
        declare: dict[str, list[object]] = {}  # the first publish declares the queue
        for args, priority in calls:
            app.send_task(task, args=args, priority=priority, producer=producer, **declare)
            # The queue exists now: the rest skip kombu's per-message declare check, which
            # cost a fifth of the dispatcher's tick at 30,000 sellers (binding a copy of the
            # queue to the channel each time, even when it is cached as declared).
            declare = {"declare": []}


PUBLISH_BATCH = 1000  # Redis commands buffered before a flush

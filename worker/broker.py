"""A worker that loses its Redis broker reconnects; it never exits (two library workarounds).
And each pool child opens its publishing connection when it starts (:func:`open_publisher`),
:func:`queue_keys` names the Redis lists a queue's messages wait in, and :func:`is_amqp` /
:func:`amqp_queues` set Celery up on RabbitMQ (``docs/architecture.md``, "Brokers").

With kombu 5.7.0, celery 5.7.0 and redis-py 8.2.0, a worker whose Redis died could stop for
good with an ``Unrecoverable error`` in two ways; :func:`install` turns each into what the
surrounding code already handles. No released version fixes either: drop a workaround once
one does (``tests/integration/test_broker_outage.py`` shows when).

1. ``AttributeError("'NoneType' object has no attribute 'hostname'")``, when Redis dies while
   tasks run. On a lost connection Celery's consumer first *collects* it and then *closes*
   it, ignoring connection errors. In ``collect``, closing the task channel fails early: it
   reads the reply of the ``BRPOP`` in flight from the dead socket and raises
   ``ConnectionError`` before it marks itself closed; closing the remote-control channel
   fails too (its auto-delete mailbox cannot be deleted), which ends the loop over the
   channels before the task channel is tried again; then ``collect`` detaches the transport
   from its connection (``transport.client = None``). ``close`` closes the task channel
   again, this time as far as restoring its unacknowledged messages (the running tasks,
   ``acks_late``), which builds a Redis pool from ``transport.client.hostname``. The
   workaround raises the ``ConnectionError`` the restore would have met a step earlier
   (Redis is down either way). The messages are not lost by it: a Redis that kept its data
   restores them after the visibility timeout, and the dispatcher re-sends a sync whose
   claim expired. Upstream: celery/kombu#582 (the same error from a channel closed after its
   transport), celery/kombu#970.
2. ``ValueError('file descriptor is None')``, when a pool child died (SIGKILL, OOM) shortly
   before the consumer reconnects: the pool registers its children with the new event loop,
   and a child already untracked but not yet replaced has no fd. Celery's
   ``iterate_file_descriptors_safely`` skips a stale fd on ``OSError`` or ``AttributeError``
   (celery/celery#9250), while kombu's ``fileno`` now raises ``ValueError`` for a missing
   one. The workaround hands the helper that ``ValueError`` as an ``OSError``: logged, skipped,
   and the child is replaced by the pool's next maintenance.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Celery
from celery.concurrency import asynpool
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

_MARK = "_spsync_patched"
log = structlog.get_logger(__name__)


def install() -> None:
    """Apply both workarounds, once per process."""
    if getattr(kombu_redis.Channel, _MARK, False):
        return
    _closed_transport_is_a_connection_error(kombu_redis.Channel)
    _missing_fd_is_a_stale_fd(asynpool)
    setattr(kombu_redis.Channel, _MARK, True)


def _closed_transport_is_a_connection_error(channel: Any) -> None:
    """kombu's Redis channel (also its Sentinel subclass): no pool without a transport."""
    connparams = channel._connparams

    def _connparams(self: Any, asynchronous: bool = False) -> Any:
        if self.connection.client is None:  # the transport was closed under this channel
            raise RedisConnectionError("the broker connection is closed")
        return connparams(self, asynchronous)

    channel._connparams = _connparams


def _missing_fd_is_a_stale_fd(module: Any) -> None:
    """celery's prefork pool: a child without an fd is skipped like a closed one."""
    iterate = module.iterate_file_descriptors_safely

    def iterate_file_descriptors_safely(fds_iter: Any, source_data: Any, hub_method: Any,
                                        *args: Any, **kwargs: Any) -> Any:
        def method(fd: Any, *margs: Any, **mkwargs: Any) -> Any:
            try:
                return hub_method(fd, *margs, **mkwargs)
            except ValueError as exc:  # kombu's fileno(None)
                raise OSError(str(exc)) from exc

        return iterate(fds_iter, source_data, method, *args, **kwargs)

    module.iterate_file_descriptors_safely = iterate_file_descriptors_safely


def open_publisher(app: Celery) -> None:
    """Open the broker connection this process publishes through, now rather than on its
    first publish; a failure is logged and left to that first publish, as before.

    Pool children publish (the dispatcher's syncs, the inbox sweep's retries), each through
    the producer pool Celery empties at fork. Opened lazily, a child that first publishes an
    hour into its life adds its broker sockets and pollers then (four descriptors with the
    Redis transport: its poller's two epoll instances, the channel's socket and the socket of
    the client that pushes), a step an open-files alert cannot tell from a leak. On Redis the
    push goes through the channel's own client pool, not the connection's: one PING through
    it opens that socket too.
    """
    try:
        with app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=1, interval_start=0, timeout=2)
            channel = producer.channel
            if hasattr(channel, "conn_or_acquire"):  # kombu's Redis channel
                with channel.conn_or_acquire() as client:
                    client.ping()
    except Exception as exc:  # the first publish connects (and reports) instead
        log.warning("broker.publisher_not_opened", error_type=type(exc).__name__)


# kombu's Redis transport keeps a queue's messages in one list per priority step (its
# defaults, which spsync keeps): ``spsync`` for step 0, ``spsync\x06\x163`` and so on.
PRIORITY_STEPS: tuple[int, ...] = tuple(kombu_redis.PRIORITY_STEPS)


def queue_keys(queue: str) -> list[str]:
    """The Redis lists holding ``queue``'s messages, one per priority step."""
    sep = kombu_redis.Channel.sep
    return [queue if step == 0 else f"{queue}{sep}{step}" for step in PRIORITY_STEPS]


def is_amqp(url: str | None) -> bool:
    """Whether ``url`` names a RabbitMQ (AMQP 0-9-1) broker rather than Redis."""
    return bool(url) and str(url).startswith(("amqp://", "amqps://", "pyamqp://"))


def amqp_queues(queue: str) -> tuple[Any, ...]:
    """Celery's queues on RabbitMQ: ``queue`` as a quorum queue (replicated by RabbitMQ, a
    message kept until its consumer acknowledges it: with ``acks_late``, after the task
    ended). A quorum queue cannot become a classic one or back: a vhost that already holds
    a classic ``queue`` refuses the worker (PRECONDITION_FAILED) until it is deleted."""
    from kombu.entity import Exchange, Queue

    return (Queue(queue, Exchange(queue, type="topic"), routing_key=queue,  # type: ignore[no-untyped-call]
                  queue_arguments={"x-queue-type": "quorum"}),)

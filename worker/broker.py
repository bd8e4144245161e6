"""A worker that loses its Redis broker reconnects; it never exits (kombu's Redis transport).

With kombu 5.7.0 (celery 5.7.0, redis-py 8.2.0) a worker whose Redis dies while it runs a task
could stop for good with ``Unrecoverable error: AttributeError("'NoneType' object has no
attribute 'hostname'")``. On a lost connection Celery's consumer first *collects* it
(``Connection.collect``) and then *closes* it, ignoring connection errors:

1. In ``collect``, closing the task channel fails early: it reads the reply of the ``BRPOP``
   in flight from the dead socket and raises ``ConnectionError`` before it marks itself
   closed. Closing the remote-control channel raises too (its auto-delete mailbox cannot be
   deleted), which ends the loop over the channels before the task channel is tried again.
   ``collect`` then drops the transport's link to its connection (``transport.client =
   None``).
2. ``close`` closes the task channel again. This time it gets as far as restoring its
   unacknowledged messages (the running tasks: ``acks_late``), which needs a new Redis
   connection pool, whose parameters come from ``transport.client.hostname``: an
   ``AttributeError``, which neither kombu nor Celery treat as a connection error.

:func:`install` makes step 2 what it would have been one step earlier, a connection error:
the restore fails as it does when ``collect`` gets to it (Redis is down either way), and the
consumer reconnects. The messages are not lost by this: a Redis that kept its data restores
them after the visibility timeout, and spsync's dispatcher re-sends a sync whose claim
expired (``docs/architecture-notes.md``). Related upstream reports: celery/kombu#582 (the
same ``hostname`` error from a channel closed after its transport) and celery/kombu#970.
No released kombu fixes it; drop this module once one does (``tests/integration/
test_broker_outage.py`` shows when).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

_MARK = "_spsync_closed_transport_is_a_connection_error"


def install() -> None:
    """Patch kombu's Redis channel (also its Sentinel subclass), once per process."""
    channel: Any = kombu_redis.Channel
    if getattr(channel, _MARK, False):
        return
    connparams = channel._connparams

    def _connparams(self: Any, asynchronous: bool = False) -> Any:
        if self.connection.client is None:  # the transport was closed under this channel
            raise RedisConnectionError("the broker connection is closed")
        return connparams(self, asynchronous)

    channel._connparams = _connparams
    setattr(channel, _MARK, True)

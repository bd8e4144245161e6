"""What a process knows about the Redis server its quota buckets live in, for its whole life.

A Redis without persistence comes back from a crash empty: every bucket is gone while
Amazon's may be as empty as we left them. A bucket that is missing on a server that is not
the one this process first used, and that started less than burst/rate ago, is therefore
created with only what could have refilled since the server started (``bucket.lua``); on the
server the process started with, a missing bucket is one that expired full.

The memory is per process and per server address, not per task (each task builds its own
:class:`~worker.ratelimit.bucket.TokenBucket`). Who knows about a restart:

- a process that used the previous server: the server's ``run_id`` differs from the one it
  learned first, whether or not it saw the outage happen (an idle one sees nothing);
- a pool child forked after the restart: it inherits the memory of its Celery main process,
  which learns the server before it forks any (:func:`learn`, ``worker/app.py``);
- a process started after the restart: it reads the mark (``MARK_KEY`` = the restarted
  server's ``run_id``) that the first process to notice the restart left in Redis.

Not covered: a restart that no surviving process notices before a new one starts (every
process restarted with Redis): Redis alone cannot tell a restarted server from a new one, and
treating every young Redis as restarted would slow every fresh install and CI run. Then the
first 429 drains the bucket (``bucket.lua``'s drain): at most one burst of 429s per bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
import structlog
from redis.exceptions import ResponseError

from worker.redis_clients import client_is_cluster

log = structlog.get_logger(__name__)

MARK_KEY = "rl:restarted"
# The mark must outlive the longest burst/rate of any bucket (searchOrders: 20/0.0056 s, ~1 h).
MARK_SECONDS = 2 * 3600
_UNKNOWN = ""  # no run_id (INFO refused): a missing bucket is full, as before this module


@dataclass
class ServerMemory:
    """One process's memory of the Redis server at one address."""

    first: str | None = None  # run_id of the first server used; "after:<id>" if a restart
    marked: str | None = None  # the restarted server whose mark this process has written

    def knows(self) -> bool:
        return self.first is not None

    def learned(self, info: dict[str, Any], mark: Any) -> str:
        """Remember the server from its ``INFO server`` and the mark read beside it."""
        run_id = str(info.get("run_id") or _UNKNOWN)
        mark = mark.decode() if isinstance(mark, bytes) else mark
        # a server somebody saw replace another one: every earlier server counts as first
        self.first = f"after:{run_id}" if run_id and mark == run_id else run_id
        return self.first

    async def learn(self, client: Any) -> str:
        """The first server (async client), learned once; ``""`` if INFO is refused."""
        if self.first is None:
            try:
                info = await client.info("server")
            except ResponseError:  # a managed Redis may forbid INFO: no guard, as before
                info = {}
            self.learned(info, await client.get(MARK_KEY) if info else None)
        return str(self.first)

    def restart_to_mark(self, run_id: str) -> bool:
        """Whether ``run_id`` (the server a bucket was just created on) is a restart this
        process should mark for the processes that start after it."""
        if not run_id or run_id == self.marked or run_id == self.first:
            return False
        self.marked = run_id
        return True


_memories: dict[str, ServerMemory] = {}


def address(client: Any) -> str:
    """The server a redis-py client (sync or async) talks to: host:port or socket path."""
    kwargs = client.connection_pool.connection_kwargs
    return str(kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}")


def memory_for(client: Any) -> ServerMemory:
    """This process's memory of the server behind ``client`` (shared by every task).

    On a Redis Cluster the check is off (a missing bucket is full): each key lives on one of
    several masters with a ``run_id`` of its own, and a master that dies is replaced by its
    replica, which holds the buckets. A master restarted empty with no replica left is the
    case it does not cover; then the first 429 drains a bucket (one burst at most)."""
    if client_is_cluster(client):
        return _memories.setdefault("cluster", ServerMemory(first=_UNKNOWN))
    return _memories.setdefault(address(client), ServerMemory())


def learn(client: Any) -> None:
    """Learn the server now (sync), so that processes forked later inherit it. Best effort:
    if Redis cannot be reached, each process learns it on its first reservation."""
    memory = memory_for(client)
    if memory.knows():
        return
    try:
        info = client.info("server")
        memory.learned(info, client.get(MARK_KEY))
    except ResponseError:
        memory.learned({}, None)
    except redis.RedisError as exc:
        log.warning("quota.redis_unknown", error=type(exc).__name__)
